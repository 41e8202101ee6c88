//! Injected faults and the load limits the emulator imposes, kept apart from the handlers so
//! that tests and benchmarks can describe a misbehaving or throttling server in one place.

use std::time::{Duration, Instant};

/// Injected faults and load limits.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every SCIM response.
    pub latency: Duration,
    /// Probability (0..1) that a request is answered 429.
    pub fail_429: f64,
    /// Probability (0..1) that a request is answered 500.
    pub fail_5xx: f64,
    /// Reads per second before 429s.
    pub rate_limit_read: Option<u32>,
    /// Writes per second before 429s.
    pub rate_limit_write: Option<u32>,
    /// Seed of the fault RNG, for repeatable runs.
    pub seed: u64,
    /// After this many successful writes, further writes wait for `POST /_emulator/release`.
    pub hold_writes_after: Option<u64>,
}

/// A token bucket refilled continuously at `rate` per second, holding at most one second's worth.
pub(super) struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(super) fn new(rate: u32) -> Bucket {
        Bucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }
    pub(super) fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
