//! Injected faults and the load limits the emulator imposes, kept apart from the handlers so
//! that tests and benchmarks can describe a misbehaving or throttling server in one place.
//!
//! A limit has one of the shapes real services use: a token bucket (refilled continuously,
//! holding `burst`), a fixed one-second window (a counter reset on the second) or a sliding
//! one-second window (a log of the last second's admissions). Each may publish its state in
//! `RateLimit-*` (IETF draft) or `X-RateLimit-*` (GitHub-style, reset as a Unix time) headers,
//! so that a client's use of them can be tested against a server that keeps its word.
//!
//! The hostile-read faults play servers that never stop or answer too much: cursor chains that
//! never end ([`EndlessCursor`]), an index-paged list claiming a billion objects, a first page
//! padded to many MB (streamed, so that neither side holds it), and answers whose
//! `Content-Length` lies. They are built here so that the handlers only ask which applies.

use axum::body::{Body, Bytes};
use serde_json::{json, Value};
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
    /// AWS cursor chains never end: every page carries a new `nextCursor`.
    pub endless_cursor: Option<EndlessCursor>,
    /// Index-paged lists claim [`ENDLESS_TOTAL`] objects and answer every `startIndex` with
    /// fresh ones.
    pub endless_index: bool,
    /// The first page of every list is padded to this many MiB of valid JSON, sent chunked
    /// (no `Content-Length`), so only a cap on the streamed body stops it.
    pub giant_page_mib: Option<u32>,
    /// List answers declare a `Content-Length` of this many MiB, then end after the real body.
    pub claim_length_mib: Option<u32>,
}

/// What an endless cursor chain sends on each page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndlessCursor {
    /// `count` fresh objects, never seen before, and a fresh cursor.
    Fresh,
    /// No objects, and a fresh cursor.
    Empty,
    /// The same cursor on every page (a loop), with the store's first page.
    Repeat,
}

/// The `totalResults` an endless index-paged list claims.
pub const ENDLESS_TOTAL: u64 = 1_000_000_000;

/// How an answer's body is framed on the wire, for the size faults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Framing {
    /// As axum sends it: the JSON with its true `Content-Length`.
    #[default]
    Plain,
    /// Padded to this many bytes and streamed without `Content-Length`.
    Padded(u64),
    /// The true body under a `Content-Length` of this many bytes.
    Claimed(u64),
}

/// A synthetic object for the endless faults: valid in both dialects, never stored.
pub(super) fn endless_object(group: bool, n: u64) -> Value {
    if group {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": format!("endless-g{n}"),
            "displayName": format!("endless-group-{n}"),
            "members": [],
        })
    } else {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": format!("endless-u{n}"),
            "userName": format!("endless-{n}@example.invalid"),
            "displayName": format!("Endless {n}"),
            "name": {"givenName": "Endless", "familyName": format!("{n}")},
            "active": true,
        })
    }
}

/// Chunks of padding streamed for a giant page.
const PAD_CHUNK: usize = 64 << 10;

/// The body of an answer framed as `framing` says, and the `Content-Length` to declare.
pub(super) fn framed_body(json: String, framing: Framing) -> (Body, Option<u64>) {
    match framing {
        Framing::Plain => (Body::from(json), None),
        Framing::Claimed(len) => {
            use futures_util::StreamExt;
            let body = futures_util::stream::iter([Ok(Bytes::from(json))]);
            // The head and the real body go out at once; the connection then stays open a
            // moment before the server gives up on the length it claimed, as a broken proxy
            // would. (A body that ended at once would abort the answer before its head.)
            let give_up = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Err(std::io::Error::other(
                    "the claimed Content-Length was a lie",
                ))
            });
            (Body::from_stream(body.chain(give_up)), Some(len))
        }
        Framing::Padded(total) => {
            // `{...}` becomes `{..., "x-padding": "    ...    "}`: still one valid object.
            let open = json.strip_suffix('}').unwrap_or(&json);
            let head = format!("{open},\"x-padding\":\"");
            let tail = "\"}";
            let fill = total.saturating_sub((head.len() + tail.len()) as u64);
            let full = fill / PAD_CHUNK as u64;
            let rest = (fill % PAD_CHUNK as u64) as usize;
            let pad = Bytes::from(vec![b' '; PAD_CHUNK]);
            // Lazy: one 64 KiB buffer shared by every chunk, however large the page.
            let chunks = std::iter::once(Bytes::from(head))
                .chain((0..full).map(move |_| pad.clone()))
                .chain(std::iter::once(Bytes::from(vec![b' '; rest])))
                .chain(std::iter::once(Bytes::from_static(tail.as_bytes())))
                .map(Ok::<_, std::io::Error>);
            (Body::from_stream(futures_util::stream::iter(chunks)), None)
        }
    }
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

    #[tokio::test]
    async fn a_padded_page_is_valid_json_of_the_asked_size() {
        let (body, len) = framed_body(r#"{"a":1}"#.to_string(), Framing::Padded(200_000));
        assert_eq!(len, None);
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        assert_eq!(bytes.len(), 200_000);
        let v: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(v["a"], 1);
    }

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
