//! Injected faults and the load limits the emulator imposes, kept apart from the handlers so
//! that tests and benchmarks can describe a misbehaving or throttling server in one place.
//!
//! A limit has one of the shapes real services use: a token bucket (refilled continuously,
//! holding `burst`), a fixed one-second window (a counter reset on the second) or a sliding
//! one-second window (a log of the last second's admissions). Each may publish its state in
//! `RateLimit-*` (IETF draft) or `X-RateLimit-*` (GitHub-style, reset as a Unix time) headers,
//! so that a client's use of them can be tested against a server that keeps its word.

use std::collections::VecDeque;
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
    /// How the rate limits count.
    pub limit_shape: LimitShape,
    /// A token bucket's capacity; default one second's worth.
    pub limit_burst: Option<u32>,
    /// Which rate-limit headers the limited endpoints send.
    pub limit_headers: LimitHeaders,
    /// Seed of the fault RNG, for repeatable runs.
    pub seed: u64,
    /// After this many successful writes, further writes wait for `POST /_emulator/release`.
    pub hold_writes_after: Option<u64>,
    /// Index-paged lists claim `totalResults` equal to the page's length, as some servers do:
    /// a client that trusts the total stops after the first page.
    pub lying_totals: bool,
    /// AWS cursor chains end after this many pages: the next page comes empty and without
    /// `nextCursor`, as if the list were complete.
    pub short_cursor_after: Option<u32>,
}

/// How a rate limit counts requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LimitShape {
    /// A token bucket refilled continuously, holding `limit_burst` (default one second's worth).
    #[default]
    Bucket,
    /// At most `rate` requests in each whole second since the emulator started.
    Fixed,
    /// At most `rate` requests in any one second.
    Sliding,
}

/// Which rate-limit headers to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LimitHeaders {
    #[default]
    None,
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds).
    Ietf,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix time).
    X,
}

/// What a limit decided about one request.
pub(super) struct Verdict {
    pub admitted: bool,
    /// Seconds the refused request should wait.
    pub retry_after: u64,
    /// The headers to publish, if any.
    pub headers: Vec<(&'static str, String)>,
}

enum Count {
    Bucket { tokens: f64, last: Instant },
    Fixed { window: u64, used: u32 },
    Sliding { log: VecDeque<Instant> },
}

/// One rate limit (reads or writes).
pub(super) struct Limit {
    rate: u32,
    burst: f64,
    origin: Instant,
    headers: LimitHeaders,
    count: Count,
}

impl Limit {
    pub(super) fn new(rate: u32, f: &Faults) -> Limit {
        let now = Instant::now();
        let burst = f64::from(f.limit_burst.unwrap_or(rate).max(1));
        let count = match f.limit_shape {
            LimitShape::Bucket => Count::Bucket {
                tokens: burst,
                last: now,
            },
            LimitShape::Fixed => Count::Fixed { window: 0, used: 0 },
            LimitShape::Sliding => Count::Sliding {
                log: VecDeque::new(),
            },
        };
        Limit {
            rate: rate.max(1),
            burst,
            origin: now,
            headers: f.limit_headers,
            count,
        }
    }

    /// Admits or refuses one request arriving now.
    pub(super) fn check(&mut self) -> Verdict {
        self.check_at(Instant::now())
    }

    fn check_at(&mut self, now: Instant) -> Verdict {
        let rate = f64::from(self.rate);
        // (admitted, remaining after this request, seconds until the budget is whole again,
        // seconds until one more request may go)
        let (admitted, remaining, reset, retry) = match &mut self.count {
            Count::Bucket { tokens, last } => {
                *tokens =
                    (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(self.burst);
                *last = now;
                let admitted = *tokens >= 1.0;
                if admitted {
                    *tokens -= 1.0;
                }
                let full = (self.burst - *tokens) / rate;
                let next = ((1.0 - *tokens) / rate).max(0.0);
                (admitted, tokens.floor(), full, next)
            }
            Count::Fixed { window, used } => {
                let since = now.duration_since(self.origin).as_secs_f64();
                let w = since.floor() as u64;
                if w != *window {
                    *window = w;
                    *used = 0;
                }
                let admitted = *used < self.rate;
                if admitted {
                    *used += 1;
                }
                let left = (w + 1) as f64 - since;
                (admitted, f64::from(self.rate - *used), left, left)
            }
            Count::Sliding { log } => {
                while log
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                {
                    log.pop_front();
                }
                let admitted = log.len() < self.rate as usize;
                if admitted {
                    log.push_back(now);
                }
                let age = |t: Option<&Instant>| {
                    t.map_or(0.0, |t| 1.0 - now.duration_since(*t).as_secs_f64())
                };
                // The whole budget is back when the newest admission leaves the window.
                let whole = age(log.back());
                let one = age(log.front());
                (admitted, (rate - log.len() as f64).max(0.0), whole, one)
            }
        };
        // Whole seconds, rounded up: a client waiting that long is never early.
        let reset = reset.max(0.0).ceil() as u64;
        let headers = match self.headers {
            LimitHeaders::None => Vec::new(),
            LimitHeaders::Ietf => vec![
                ("ratelimit-limit", self.rate.to_string()),
                ("ratelimit-remaining", (remaining as u64).to_string()),
                ("ratelimit-reset", reset.to_string()),
            ],
            LimitHeaders::X => {
                let unix = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                vec![
                    ("x-ratelimit-limit", self.rate.to_string()),
                    ("x-ratelimit-remaining", (remaining as u64).to_string()),
                    ("x-ratelimit-reset", (unix + reset + 1).to_string()),
                ]
            }
        };
        Verdict {
            admitted,
            retry_after: retry.max(0.0).ceil().max(1.0) as u64,
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(shape: LimitShape, burst: Option<u32>) -> Faults {
        Faults {
            limit_shape: shape,
            limit_burst: burst,
            limit_headers: LimitHeaders::Ietf,
            ..Faults::default()
        }
    }

    /// Requests admitted when `n` arrive every `step` from `t0`.
    fn admitted(l: &mut Limit, t0: Instant, n: u32, step: Duration) -> u32 {
        (0..n)
            .filter(|i| l.check_at(t0 + step * *i).admitted)
            .count() as u32
    }

    #[test]
    fn each_shape_admits_its_rate() {
        for shape in [LimitShape::Bucket, LimitShape::Fixed, LimitShape::Sliding] {
            let mut l = Limit::new(10, &faults(shape, None));
            let t0 = l.origin;
            // 100 requests over 2 s: 20 at the rate, plus at most one window's worth of burst.
            let n = admitted(&mut l, t0, 100, Duration::from_millis(20));
            assert!((20..=31).contains(&n), "{shape:?}: {n}");
        }
    }

    #[test]
    fn a_small_burst_refuses_a_quick_succession() {
        let mut l = Limit::new(25, &faults(LimitShape::Bucket, Some(5)));
        let t0 = l.origin;
        assert_eq!(admitted(&mut l, t0, 10, Duration::ZERO), 5);
    }

    #[test]
    fn headers_tell_the_remaining_budget_and_a_reset_that_is_never_early() {
        let mut l = Limit::new(3, &faults(LimitShape::Fixed, None));
        let t0 = l.origin + Duration::from_millis(300);
        let v = l.check_at(t0);
        assert!(v.admitted);
        assert_eq!(
            v.headers,
            vec![
                ("ratelimit-limit", "3".to_string()),
                ("ratelimit-remaining", "2".to_string()),
                ("ratelimit-reset", "1".to_string()),
            ]
        );
        l.check_at(t0);
        l.check_at(t0);
        let v = l.check_at(t0);
        assert!(!v.admitted);
        assert_eq!(v.retry_after, 1);
    }
}
