//! Request budgets. AWS throttles each Identity Store at fixed rates (40 reads/s and 25 writes/s
//! per API, and a separate budget for membership operations where every member in a create or
//! patch counts); a generic server has no known rate but answers 429 when pushed. One limiter per
//! budget spaces requests evenly (GCRA, the virtual-scheduling form of a token bucket with a
//! burst of one) and slows down on 429: it halves its rate (for an unlimited budget: half the
//! rate it was observed sending at), and creeps back up after a run of successes.
//!
//! It uses tokio's clock (so it follows `tokio::time::pause`); the core functions take the
//! instant as a parameter so that tests check the spacing exactly, without waiting.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Successes after which an adapted rate is raised by 10%.
const RECOVERY_STEP: u32 = 20;
/// An adapted rate never goes below this fraction of the configured one, nor below 0.5/s.
const MIN_FRACTION: f64 = 1.0 / 16.0;
const MIN_RATE: f64 = 0.5;
/// An unlimited budget that recovered past this rate is unlimited again.
const UNLIMITED_AGAIN: f64 = 1000.0;

#[derive(Debug)]
struct State {
    configured: Option<f64>,
    effective: Option<f64>,
    /// Theoretical arrival time of the next unit.
    tat: Instant,
    successes: u32,
    last_slowdown: Option<Instant>,
    /// Units acquired since `window_start`, to estimate the rate of an unlimited budget.
    window_start: Instant,
    window_units: f64,
}

/// One budget of units per second.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
}

impl RateLimiter {
    /// `None` = no fixed rate (adaptive only). Non-positive or non-finite rates are unlimited.
    pub fn new(per_second: Option<f64>) -> RateLimiter {
        let rate = per_second.filter(|r| r.is_finite() && *r > 0.0);
        let now = Instant::now();
        RateLimiter {
            state: Mutex::new(State {
                configured: rate,
                effective: rate,
                tat: now,
                successes: 0,
                last_slowdown: None,
                window_start: now,
                window_units: 0.0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent (plain numbers).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate in force now; `None` = unlimited.
    pub fn effective_rate(&self) -> Option<f64> {
        self.lock().effective
    }

    /// How long `units` must wait, reserving them. Several units (a create with 100 members)
    /// go out at once and push later requests back, so the average rate holds.
    pub fn reserve(&self, units: u32) -> Duration {
        self.reserve_at(Instant::now(), units)
    }

    /// `reserve` at a given instant (the clock is a parameter so tests need no waiting).
    pub fn reserve_at(&self, now: Instant, units: u32) -> Duration {
        let mut s = self.lock();
        if now.duration_since(s.window_start) > Duration::from_secs(2) {
            s.window_start = now;
            s.window_units = 0.0;
        }
        s.window_units += f64::from(units);
        let Some(rate) = s.effective else {
            return Duration::ZERO;
        };
        let start = s.tat.max(now);
        s.tat = start + Duration::from_secs_f64(f64::from(units.max(1)) / rate);
        start - now
    }

    /// Waits until `units` may be spent.
    pub async fn acquire(&self, units: u32) {
        let wait = self.reserve(units);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The server answered 429: slow down (at most once per second, so a burst of 429s from
    /// requests already in flight counts once).
    pub fn on_throttled(&self) {
        self.on_throttled_at(Instant::now());
    }

    /// `on_throttled` at a given instant.
    pub fn on_throttled_at(&self, now: Instant) {
        let mut s = self.lock();
        if s.last_slowdown
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        s.last_slowdown = Some(now);
        s.successes = 0;
        let floor = s
            .configured
            .map_or(MIN_RATE, |c| (c * MIN_FRACTION).max(MIN_RATE));
        let current = match s.effective {
            Some(r) => r,
            None => {
                let secs = now.duration_since(s.window_start).as_secs_f64().max(0.25);
                s.window_units / secs
            }
        };
        s.effective = Some((current / 2.0).max(floor));
        // Nothing goes out before the server had a breath.
        s.tat = s.tat.max(now);
    }

    /// A request in this budget succeeded: recover towards the configured rate.
    pub fn on_success(&self) {
        let mut s = self.lock();
        if s.effective == s.configured {
            return;
        }
        s.successes += 1;
        if s.successes < RECOVERY_STEP {
            return;
        }
        s.successes = 0;
        let Some(r) = s.effective else { return };
        let raised = r * 1.1;
        s.effective = match s.configured {
            Some(c) => Some(raised.min(c)),
            None if raised > UNLIMITED_AGAIN => None,
            None => Some(raised),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays `n` acquisitions of `units` each at the instants the limiter allows; returns the
    /// send instants as seconds after the first.
    fn replay(l: &RateLimiter, t0: Instant, n: usize, units: u32) -> Vec<f64> {
        let mut now = t0;
        (0..n)
            .map(|_| {
                now += l.reserve_at(now, units);
                (now - t0).as_secs_f64()
            })
            .collect()
    }

    #[test]
    fn spaces_requests_at_the_rate() {
        let l = RateLimiter::new(Some(25.0));
        let times = replay(&l, Instant::now(), 50, 1);
        // 50 units at 25/s: the first at once, then one every 40 ms.
        assert!(times[0].abs() < 1e-9);
        for w in times.windows(2) {
            assert!((w[1] - w[0] - 0.04).abs() < 1e-6, "{w:?}");
        }
        assert!((times[49] - 49.0 / 25.0).abs() < 1e-6);
    }

    #[test]
    fn many_units_push_later_requests_back() {
        let l = RateLimiter::new(Some(25.0));
        let t0 = Instant::now();
        // A group create with 100 members goes at once...
        assert_eq!(l.reserve_at(t0, 100), Duration::ZERO);
        // ...and the next membership operation waits for the 4 s it cost.
        let wait = l.reserve_at(t0, 1).as_secs_f64();
        assert!((wait - 4.0).abs() < 1e-6, "{wait}");
    }

    #[test]
    fn unlimited_never_waits_until_throttled() {
        let l = RateLimiter::new(None);
        let t0 = Instant::now();
        assert!(replay(&l, t0, 1000, 1).iter().all(|t| *t == 0.0));
        l.on_throttled_at(t0 + Duration::from_millis(500));
        let r = l.effective_rate().expect("adapted");
        assert!(r > 0.0 && r <= 1000.0, "{r}");
        // Now it spaces requests at the adapted rate.
        let later = t0 + Duration::from_secs(1);
        let times = replay(&l, later, 3, 1);
        assert!((times[2] - 2.0 / r).abs() < 1e-6);
        // Recovers back to unlimited after enough successes.
        for _ in 0..(RECOVERY_STEP * 200) {
            l.on_success();
        }
        assert_eq!(l.effective_rate(), None);
    }

    #[test]
    fn throttle_halves_once_per_second_and_recovers() {
        let l = RateLimiter::new(Some(40.0));
        let t0 = Instant::now();
        l.on_throttled_at(t0);
        l.on_throttled_at(t0 + Duration::from_millis(100));
        assert_eq!(l.effective_rate(), Some(20.0));
        l.on_throttled_at(t0 + Duration::from_secs(2));
        assert_eq!(l.effective_rate(), Some(10.0));
        for _ in 0..(RECOVERY_STEP * 100) {
            l.on_success();
        }
        assert_eq!(l.effective_rate(), Some(40.0));
    }
}
