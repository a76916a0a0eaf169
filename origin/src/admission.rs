//! Admission control for transforms: a bounded number run at once (the worker pool),
//! a bounded number wait (the queue), and the decoded pixels in flight stay within a
//! memory budget. Beyond the queue, or after waiting too long, work is shed (503 with
//! `Retry-After`) instead of piling up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AdmissionError {
    #[error("transform queue is full")]
    QueueFull,
    #[error("waited too long for a transform worker")]
    QueueTimeout,
    #[error("transform exceeded its time limit")]
    TimedOut,
    #[error("transform worker failed: {0}")]
    Crashed(String),
}

pub struct Admission {
    workers: Arc<Semaphore>,
    pixels: Arc<Semaphore>,
    pixel_budget: u32,
    queue_limit: usize,
    waiting: AtomicUsize,
    queue_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// Held while a transform runs; released when the work really ends (even after its
/// request timed out), so the budgets always describe what is running.
pub struct Permit {
    _worker: OwnedSemaphorePermit,
    _pixels: OwnedSemaphorePermit,
    pixels: i64,
    metrics: Arc<Metrics>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.metrics.pixels_in_flight.sub(self.pixels);
    }
}

impl Admission {
    pub fn new(
        workers: usize,
        queue_limit: usize,
        pixel_budget: u64,
        queue_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Admission {
        let pixel_budget = pixel_budget.min(u64::from(u32::MAX)).min(Semaphore::MAX_PERMITS as u64) as u32;
        Admission {
            workers: Arc::new(Semaphore::new(workers.max(1))),
            pixels: Arc::new(Semaphore::new(pixel_budget as usize)),
            pixel_budget,
            queue_limit,
            waiting: AtomicUsize::new(0),
            queue_timeout,
            metrics,
        }
    }

    /// Admits a transform that decodes `pixels` source pixels: at once when a worker
    /// and the budget are free, else after waiting in the bounded queue.
    pub async fn admit(&self, pixels: u64) -> Result<Permit, AdmissionError> {
        // One source larger than the whole budget runs alone rather than never.
        let need = pixels.clamp(1, u64::from(self.pixel_budget)) as u32;
        if let (Ok(p), Ok(w)) =
            (self.pixels.clone().try_acquire_many_owned(need), self.workers.clone().try_acquire_owned())
        {
            // Every admission is a sample of the wait, so its quantiles are not only the
            // waiters'.
            self.metrics.queue_wait.observe(0.0);
            return Ok(self.permit(w, p, need));
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue_limit {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            self.metrics.load_shed.inc();
            self.metrics.rejected.with_label_values(&["queue_full"]).inc();
            return Err(AdmissionError::QueueFull);
        }
        self.metrics.queue_depth.inc();
        let start = Instant::now();
        let acquired = tokio::time::timeout(self.queue_timeout, async {
            let p = self.pixels.clone().acquire_many_owned(need).await;
            let w = self.workers.clone().acquire_owned().await;
            (p, w)
        })
        .await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.metrics.queue_depth.dec();
        self.metrics.queue_wait.observe(start.elapsed().as_secs_f64());
        match acquired {
            Ok((Ok(p), Ok(w))) => Ok(self.permit(w, p, need)),
            Ok(_) => Err(AdmissionError::Crashed("admission closed".into())),
            Err(_) => {
                self.metrics.load_shed.inc();
                self.metrics.rejected.with_label_values(&["queue_timeout"]).inc();
                Err(AdmissionError::QueueTimeout)
            }
        }
    }

    fn permit(&self, worker: OwnedSemaphorePermit, pixels: OwnedSemaphorePermit, n: u32) -> Permit {
        self.metrics.pixels_in_flight.add(i64::from(n));
        Permit { _worker: worker, _pixels: pixels, pixels: i64::from(n), metrics: self.metrics.clone() }
    }

    /// Runs `work` on the blocking pool under `permit`, bounded by `timeout`.
    pub async fn run<T: Send + 'static>(
        &self,
        permit: Permit,
        timeout: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AdmissionError> {
        // The blocking pool knows nothing of the caller's span: carry it over, so that
        // the pipeline's spans stay in the request's trace.
        let span = tracing::Span::current();
        let handle = tokio::task::spawn_blocking(move || {
            let out = span.in_scope(work);
            drop(permit);
            out
        });
        match tokio::time::timeout(timeout, handle).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(AdmissionError::Crashed(e.to_string())),
            Err(_) => Err(AdmissionError::TimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(workers: usize, queue: usize, budget: u64) -> Arc<Admission> {
        Arc::new(Admission::new(workers, queue, budget, Duration::from_millis(200), Arc::new(Metrics::new())))
    }

    #[tokio::test]
    async fn sheds_beyond_the_queue_instead_of_piling_up() {
        let a = admission(1, 1, 1_000);
        let running = a.admit(10).await.unwrap();
        let queued = {
            let a = a.clone();
            tokio::spawn(async move { a.admit(10).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(matches!(a.admit(10).await, Err(AdmissionError::QueueFull)));
        drop(running);
        queued.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_pixel_budget_holds_back_work_and_times_out() {
        let a = admission(4, 4, 1_000);
        let big = a.admit(900).await.unwrap();
        assert!(matches!(a.admit(200).await, Err(AdmissionError::QueueTimeout)));
        assert!(a.admit(100).await.is_ok(), "what fits in the budget is admitted");
        drop(big);
        // Larger than the whole budget: admitted alone.
        assert!(a.admit(5_000).await.is_ok());
    }

    #[tokio::test]
    async fn a_slow_transform_times_out_but_keeps_its_worker_until_done() {
        let a = admission(1, 0, 1_000);
        let p = a.admit(1).await.unwrap();
        let r = a.run(p, Duration::from_millis(20), || std::thread::sleep(Duration::from_millis(150))).await;
        assert!(matches!(r, Err(AdmissionError::TimedOut)));
        assert!(matches!(a.admit(1).await, Err(AdmissionError::QueueFull)), "the worker is still busy");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(a.admit(1).await.is_ok());
    }
}
