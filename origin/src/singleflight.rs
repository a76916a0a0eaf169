//! Single-flight: concurrent requests for one key share one computation. The first
//! caller computes; the others wait for its result. If the computing caller goes away
//! (its request was cancelled), a waiting caller takes over, so nobody waits forever.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This caller ran the computation.
    Leader,
    /// This caller received another caller's result.
    Follower,
}

pub struct SingleFlight<T> {
    flights: Mutex<HashMap<String, Arc<OnceCell<T>>>>,
}

impl<T: Clone> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight { flights: Mutex::new(HashMap::new()) }
    }
}

impl<T: Clone> SingleFlight<T> {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OnceCell<T>>>> {
        self.flights.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn run<F, Fut>(&self, key: &str, compute: F) -> (T, Role)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let cell = self.lock().entry(key.to_owned()).or_insert_with(|| Arc::new(OnceCell::new())).clone();
        let mut ran = false;
        let value = cell
            .get_or_init(|| {
                ran = true;
                compute()
            })
            .await
            .clone();
        // The flight is over: later callers start a new one (and normally find the
        // result in a cache by then). Only this flight's entry is removed.
        {
            let mut map = self.lock();
            if map.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                map.remove(key);
            }
        }
        (value, if ran { Role::Leader } else { Role::Follower })
    }

    /// Flights in progress (tests, metrics).
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn fifty_concurrent_callers_share_one_computation() {
        let sf = Arc::new(SingleFlight::<u32>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (sf, runs) = (sf.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                sf.run("k", || async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    7
                })
                .await
            }));
        }
        let mut leaders = 0;
        for t in tasks {
            let (v, role) = t.await.unwrap();
            assert_eq!(v, 7);
            leaders += usize::from(role == Role::Leader);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(leaders, 1);
        assert_eq!(sf.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_over_to_a_waiter() {
        let sf = Arc::new(SingleFlight::<u32>::new());
        let leader = {
            let sf = sf.clone();
            tokio::spawn(async move {
                sf.run("k", || async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    1
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let follower = {
            let sf = sf.clone();
            tokio::spawn(async move { sf.run("k", || async { 2 }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        let (v, role) = tokio::time::timeout(Duration::from_secs(5), follower).await.unwrap().unwrap();
        assert_eq!((v, role), (2, Role::Leader));
    }
}
