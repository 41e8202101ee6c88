//! A target's request budget: a configured rate kept exactly (`ratelimit`) or none, paced
//! adaptively (`pace`); and the parsing of `Retry-After`.

use crate::scim::pace::{self, Pacer};
use crate::scim::ratelimit::RateLimiter;
use tokio::time::Instant;

/// How long one request may be throttled before it fails, unless `rate:` says otherwise.
pub const DEFAULT_THROTTLE_BUDGET_SECS: f64 = 300.0;

/// One budget of a target: a configured rate kept exactly (`RateLimiter`), or none, paced
/// adaptively (`Pacer`).
#[derive(Debug)]
pub(super) enum Budget {
    Fixed(Box<RateLimiter>),
    Paced(Box<Pacer>),
}

impl Budget {
    pub(super) fn new(per_second: Option<f64>) -> Budget {
        match per_second.filter(|r| r.is_finite() && *r > 0.0) {
            Some(r) => Budget::Fixed(Box::new(RateLimiter::new(Some(r)))),
            None => Budget::Paced(Box::default()),
        }
    }

    pub(super) fn is_fixed(&self) -> bool {
        matches!(self, Budget::Fixed(_))
    }

    pub(super) fn rate(&self) -> Option<f64> {
        match self {
            Budget::Fixed(l) => l.effective_rate(),
            Budget::Paced(p) => p.rate(),
        }
    }

    pub(super) async fn acquire(&self, units: u32) {
        match self {
            Budget::Fixed(l) => l.acquire(units).await,
            Budget::Paced(p) => p.acquire().await,
        }
    }

    pub(super) fn on_success(&self, sent: Instant, published: pace::Published) {
        match self {
            Budget::Fixed(l) => l.on_success(sent),
            Budget::Paced(p) => p.on_success(sent, published),
        }
    }

    pub(super) fn on_throttled(&self, sent: Instant, published: pace::Published) {
        match self {
            Budget::Fixed(l) => l.on_throttled(sent),
            Budget::Paced(p) => p.on_throttled(sent, published),
        }
    }

    pub(super) fn on_other(&self) {
        if let Budget::Paced(p) = self {
            p.on_other();
        }
    }
}
