//! A circuit breaker for an optional dependency (Redis): after `threshold` consecutive
//! failures, calls are skipped for `cooldown`; then one probe is let through, and its
//! outcome closes the circuit or opens it again. Time is passed in, so tests need no
//! sleeps.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    Opened,
    Closed,
}

pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker { threshold: threshold.max(1), cooldown, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a call be made now?
    pub fn allow(&self, now: Instant) -> bool {
        let mut s = self.lock();
        match s.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if s.probing => false,
            Some(_) => {
                s.probing = true;
                true
            }
        }
    }

    pub fn success(&self) -> Transition {
        let mut s = self.lock();
        let was_open = s.open_until.is_some();
        *s = State::default();
        if was_open {
            Transition::Closed
        } else {
            Transition::None
        }
    }

    pub fn failure(&self, now: Instant) -> Transition {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        let reopen = s.probing || (s.open_until.is_none() && s.failures >= self.threshold);
        if !reopen {
            return Transition::None;
        }
        let was_open = s.open_until.is_some();
        s.open_until = Some(now + self.cooldown);
        s.probing = false;
        if was_open {
            Transition::None
        } else {
            Transition::Opened
        }
    }

    pub fn is_open(&self) -> bool {
        self.lock().open_until.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_skips_until_the_cooldown_ends() {
        let b = Breaker::new(3, Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(b.failure(t0), Transition::None);
        assert_eq!(b.failure(t0), Transition::None);
        assert!(b.allow(t0));
        assert_eq!(b.failure(t0), Transition::Opened);
        assert!(!b.allow(t0 + Duration::from_secs(4)));
        // One probe after the cooldown, not two.
        assert!(b.allow(t0 + Duration::from_secs(6)));
        assert!(!b.allow(t0 + Duration::from_secs(6)));
        // A failed probe opens it again for a whole cooldown.
        b.failure(t0 + Duration::from_secs(6));
        assert!(!b.allow(t0 + Duration::from_secs(10)));
        assert!(b.allow(t0 + Duration::from_secs(12)));
        assert_eq!(b.success(), Transition::Closed);
        assert!(b.allow(t0 + Duration::from_secs(12)));
        assert!(!b.is_open());
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let b = Breaker::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        b.failure(t0);
        b.success();
        assert_eq!(b.failure(t0), Transition::None);
        assert!(b.allow(t0));
    }
}
