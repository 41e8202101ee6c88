//! The HTTP client roster speaks SCIM with. Everything that touches the network goes through
//! one function, `ScimClient::send`, so that the rules that keep a target safe hold everywhere:
//! a read-only client refuses any method but GET before anything is sent; requests wait for
//! their budget (reads, writes, membership operations) and for a slot among `parallelism`;
//! 5xx and transport failures are retried with jittered exponential backoff, other 4xx never;
//! and every text that goes into an error is scrubbed of the credentials.
//!
//! Throttling is not failure: a 429 is retried, honouring `Retry-After`, until the request has
//! been throttled for the run's throttle budget (`rate.throttle_budget_seconds`), whatever the
//! number of attempts. A budget with a configured rate keeps to it (`ratelimit`); one without
//! is paced adaptively (`pace`), from the server's 429s and its published rate-limit headers.
//!
//! A create (POST) is not retried after a 5xx or a timeout, because it may have taken effect:
//! `apply` looks the object up by its match keys first (docs/contract.md#concurrency-and-retries). It is retried on 429 and when
//! the connection could not be opened, when the server cannot have seen it.

mod budget;
mod read;
mod write;

pub use budget::DEFAULT_THROTTLE_BUDGET_SECS;
pub use read::ReadOnlyClient;

use crate::scim::auth::{redact, Credentials};
use crate::scim::dialect::Dialect;
use crate::scim::dialect::{self, Capabilities, ResourceKind};
use crate::scim::error::{ScimClientError, TargetKind};
use crate::scim::pace;
use crate::scim::paging::{encode_query_value, ListLimits};
use crate::scim::resource::ScimError;
use budget::Budget;
use rand::Rng;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

const SCIM_JSON: &str = "application/scim+json";
/// What roster accepts back: some servers answer plain JSON.
const ACCEPT_JSON: &str = "application/scim+json, application/json;q=0.9";
/// A `Retry-After` longer than this is said on the log while roster waits.
const LONG_WAIT: Duration = Duration::from_secs(5);
/// How much of a non-JSON error body is shown.
const MAX_DETAIL: usize = 500;
/// Default of `read.max_response_mib`: a page of 100 users is well under 1 MiB, so 32 MiB
/// leaves room for servers with large objects and none for a runaway answer.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 << 20;

/// Request budgets per second; `None` means no fixed rate (adapt to 429).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimits {
    pub reads_per_second: Option<f64>,
    pub writes_per_second: Option<f64>,
    pub member_operations_per_second: Option<f64>,
}

/// How to reach and treat one target.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The SCIM base URL, e.g. `https://scim.us-east-1.amazonaws.com/TENANT/scim/v2`.
    pub base_url: String,
    pub credentials: Credentials,
    pub dialect: Dialect,
    /// Requests in flight at most (`--parallelism`, default 8).
    pub parallelism: usize,
    /// Budgets per second; `None` = adaptive only.
    pub rate: RateLimits,
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// An extra PEM root certificate (`--ca-cert`).
    pub ca_cert: Option<PathBuf>,
    /// Allow plain http:// to a host that is not loopback (`--insecure-http`).
    pub insecure_http: bool,
    /// Sends of one request at most, the first included (429s excepted: see `throttle_budget`).
    pub max_attempts: u32,
    /// How long one request may be answered 429 before it fails; `None` = 300 s.
    pub throttle_budget: Option<Duration>,
    /// First backoff step; doubles each attempt, with full jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is cut to it (a server asking for an hour is not waited
    /// for by a CI job).
    pub max_retry_after: Duration,
    /// Items per page; default from the dialect.
    pub page_size: Option<u32>,
    /// Refuse every method but GET at the single place requests are sent.
    pub read_only: bool,
    /// The largest answer read, in bytes (`read.max_response_mib`): a larger `Content-Length`
    /// is refused before reading, a larger streamed body as soon as it passes this.
    pub max_response_bytes: u64,
    /// Pages and objects one list may hold (`read.max_pages`, `read.max_objects`).
    pub list_limits: ListLimits,
}

impl ClientOptions {
    /// Defaults for a target: 8 in flight, 30 s timeout, 6 attempts, the dialect's page size.
    pub fn new(base_url: impl Into<String>, credentials: Credentials, dialect: Dialect) -> Self {
        ClientOptions {
            base_url: base_url.into(),
            credentials,
            dialect,
            parallelism: 8,
            rate: RateLimits::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            ca_cert: None,
            insecure_http: false,
            max_attempts: 6,
            throttle_budget: None,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            page_size: None,
            read_only: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            list_limits: ListLimits::default(),
        }
    }
}

/// Requests sent so far, by kind (retries included), for benchmarks and plan estimates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RequestCounts {
    pub get: u64,
    pub post: u64,
    pub put: u64,
    pub patch: u64,
    pub delete: u64,
    /// Sends that were repeats of an earlier attempt.
    pub retries: u64,
    /// Answers with status 429.
    pub throttled: u64,
    /// Member operations sent in group creates and patches.
    pub member_ops: u64,
    /// Requests refused by the read-only guard (never sent).
    pub refused: u64,
}

impl RequestCounts {
    pub fn reads(&self) -> u64 {
        self.get
    }
    pub fn writes(&self) -> u64 {
        self.post + self.put + self.patch + self.delete
    }
    pub fn total(&self) -> u64 {
        self.reads() + self.writes()
    }
}

#[derive(Debug, Default)]
struct Counters {
    get: AtomicU64,
    post: AtomicU64,
    put: AtomicU64,
    patch: AtomicU64,
    delete: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    member_ops: AtomicU64,
    refused: AtomicU64,
    /// Requests waiting out a 429 now.
    waiting: AtomicU64,
}

/// An answer with a 2xx status.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// `None` for an empty body (204, or a PATCH answered without content).
    pub body: Option<Value>,
}

/// The strings `redact` scrubs; its `Debug` shows none of them.
struct Secrets(Vec<String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} redacted]", self.0.len())
    }
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: String,
    host: String,
    credentials: Credentials,
    secrets: Secrets,
    dialect: Dialect,
    caps: Capabilities,
    page_size: u32,
    slots: Semaphore,
    reads: Budget,
    writes: Budget,
    members: Budget,
    /// How long one request may be throttled (429) before it fails.
    throttle_budget: Duration,
    counters: Counters,
    /// Set by a 429 with `Retry-After`: nothing is sent before then.
    paused_until: Mutex<Option<Instant>>,
    opts: ClientOptions,
}

/// A SCIM client for one target. Cheap to clone; clones share budgets, slots and counters.
#[derive(Debug, Clone)]
pub struct ScimClient {
    inner: Arc<Inner>,
    read_only: bool,
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl ScimClient {
    /// Builds a client; checks the URL (https unless loopback or `insecure_http`), the CA
    /// certificate and the credentials' header form. Sends nothing.
    pub fn new(opts: ClientOptions) -> Result<ScimClient, ScimClientError> {
        let url = url::Url::parse(opts.base_url.trim()).map_err(|e| {
            ScimClientError::Setup(format!(
                "the target URL {:?} is not a URL: {e}",
                opts.base_url
            ))
        })?;
        let host = url
            .host()
            .ok_or_else(|| ScimClientError::Setup(format!("the target URL {url} has no host")))?;
        let host_text = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) || opts.insecure_http => {}
            "http" => {
                return Err(ScimClientError::InsecureUrl {
                    host: host.to_string(),
                })
            }
            s => {
                return Err(ScimClientError::Setup(format!(
                    "the target URL must be https:// (got {s}://)"
                )))
            }
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ScimClientError::Setup(format!(
                "the target URL {url} must not have a query or fragment"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .pool_max_idle_per_host(opts.parallelism.max(1))
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")));
        // HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured (reqwest's default), except for a
        // loopback target (the emulator, a local test server), which no proxy can reach.
        if is_loopback(&host) {
            builder = builder.no_proxy();
        }
        if let Some(path) = &opts.ca_cert {
            let pem = fs_err::read(path).map_err(|e| {
                ScimClientError::Setup(format!("cannot read the CA certificate: {e}"))
            })?;
            // A bundle may hold several roots; a file with none is a mistake, not "no extra
            // root" (reqwest would accept it silently).
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    ScimClientError::Setup(format!("{} holds no PEM certificate", path.display()))
                })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ScimClientError::Setup(format!("cannot set up HTTP: {e}")))?;
        // Validate the credentials' header form now, so the first request cannot fail on it.
        opts.credentials.header()?;
        let caps = dialect::capabilities(opts.dialect);
        let page_size = opts.page_size.unwrap_or(caps.page_size).max(1);
        let read_only = opts.read_only;
        let inner = Inner {
            http,
            base: url.as_str().trim_end_matches('/').to_string(),
            host: host_text,
            secrets: Secrets(opts.credentials.secrets()),
            credentials: opts.credentials.clone(),
            dialect: opts.dialect,
            caps,
            page_size,
            slots: Semaphore::new(opts.parallelism.max(1)),
            reads: Budget::new(opts.rate.reads_per_second),
            writes: Budget::new(opts.rate.writes_per_second),
            members: Budget::new(opts.rate.member_operations_per_second),
            throttle_budget: opts
                .throttle_budget
                .unwrap_or(Duration::from_secs_f64(DEFAULT_THROTTLE_BUDGET_SECS)),
            counters: Counters::default(),
            paused_until: Mutex::new(None),
            opts,
        };
        Ok(ScimClient {
            inner: Arc::new(inner),
            read_only,
        })
    }

    /// A read-only view sharing this client's budgets and counters.
    pub fn reader(&self) -> ReadOnlyClient {
        ReadOnlyClient(ScimClient {
            inner: Arc::clone(&self.inner),
            read_only: true,
        })
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.caps
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// Requests in flight at most.
    pub fn parallelism(&self) -> usize {
        self.inner.opts.parallelism.max(1)
    }

    /// The read budget's current rate (after any slowdown); `None` = unlimited.
    pub fn read_rate(&self) -> Option<f64> {
        self.inner.reads.rate()
    }

    /// The write budget's current rate (after any slowdown); `None` = unlimited.
    pub fn write_rate(&self) -> Option<f64> {
        self.inner.writes.rate()
    }

    /// Whether a request is waiting out a 429 right now (for progress output).
    pub fn is_throttled(&self) -> bool {
        self.inner.counters.waiting.load(Ordering::Relaxed) > 0
    }

    /// Requests sent so far (shared by clones and readers).
    pub fn counts(&self) -> RequestCounts {
        let c = &self.inner.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestCounts {
            get: l(&c.get),
            post: l(&c.post),
            put: l(&c.put),
            patch: l(&c.patch),
            delete: l(&c.delete),
            retries: l(&c.retries),
            throttled: l(&c.throttled),
            member_ops: l(&c.member_ops),
            refused: l(&c.refused),
        }
    }

    /// Scrubs the credentials out of a text that might echo them.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.inner.secrets.0)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let o = &self.inner.opts;
        let exp = o
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(o.backoff_max);
        // Full jitter: concurrent clients that failed together do not retry together.
        let ms = cap.as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
    }

    async fn wait_for_pause(&self) {
        loop {
            let until = *self
                .inner
                .paused_until
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// Holds every request to this target until `t`; whether that lengthened the pause by more
    /// than a second (so that concurrent 429s asking for the same pause are told once).
    fn pause_until(&self, t: Instant) -> bool {
        let mut p = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let longer = p.is_none_or(|old| old + Duration::from_secs(1) < t);
        if p.is_none_or(|old| old < t) {
            *p = Some(t);
        }
        longer
    }

    /// A wait the server asked for that is long enough to look like a hang is said, once per
    /// pause, on the log (stderr, above any progress bar; `-q` hides it).
    fn tell_long_wait(&self, wait: Duration, left: Duration) {
        if wait > LONG_WAIT {
            tracing::warn!(
                "{} asked roster to wait {:.0} s (Retry-After): waiting on the server's limit ({:.0} s of the {:.0} s throttle budget left)",
                self.inner.host,
                wait.as_secs_f64(),
                left.as_secs_f64(),
                self.inner.throttle_budget.as_secs_f64()
            );
        }
    }

    /// Sends one request and returns a 2xx answer; the single place requests leave roster.
    /// `path` is relative to the base URL and starts with `/` (it may carry a query);
    /// `member_ops` is how many membership operations it carries (for that budget).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        member_ops: u32,
    ) -> Result<RawResponse, ScimClientError> {
        self.send_if_match(method, path, body, member_ops, None)
            .await
    }

    /// `send` with an `If-Match` precondition (a `meta.version` read earlier). It is dropped for
    /// a dialect without ETags (AWS), where preconditions are checked by digest instead; a stale
    /// version comes back as a 412 error.
    pub async fn send_if_match(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        member_ops: u32,
        if_match: Option<&str>,
    ) -> Result<RawResponse, ScimClientError> {
        let inner = &self.inner;
        let if_match = if_match.filter(|_| inner.caps.etags);
        let url = format!("{}{}", inner.base, path);
        let m = method.as_str().to_string();
        if self.read_only && method != Method::GET {
            inner.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ScimClientError::ReadOnly { method: m, url });
        }
        let is_post = method == Method::POST;
        let max_attempts = inner.opts.max_attempts.max(1);
        let mut attempt = 0u32;
        // When this request was first answered 429: the throttle budget runs from there.
        let mut throttled_since: Option<Instant> = None;
        // Time this request spent waiting on a 5xx's `Retry-After`.
        let mut waited_on_server = Duration::ZERO;
        loop {
            attempt += 1;
            self.wait_for_pause().await;
            let budget = if method == Method::GET {
                &inner.reads
            } else {
                &inner.writes
            };
            budget.acquire(1).await;
            if member_ops > 0 {
                inner.members.acquire(member_ops).await;
            }
            let permit = inner
                .slots
                .acquire()
                .await
                .map_err(|_| ScimClientError::Setup("the client was shut down".into()))?;
            self.count(&method, attempt, member_ops);
            // The limiter tells answers to requests sent before its last slowdown apart.
            let sent = Instant::now();

            let mut req = inner
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, ACCEPT_JSON);
            if let Some((name, value)) = inner.credentials.header()? {
                req = req.header(name, value);
            }
            if let Some(v) = if_match {
                req = req.header(reqwest::header::IF_MATCH, v);
            }
            if let Some(b) = body {
                let bytes = serde_json::to_vec(b).map_err(|e| {
                    ScimClientError::Setup(format!("cannot encode the request body: {e}"))
                })?;
                req = req.header(CONTENT_TYPE, SCIM_JSON).body(bytes);
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match read_capped(resp, inner.opts.max_response_bytes).await {
                        Ok(b) => Ok((status, headers, b)),
                        Err(BodyError::Transport(e)) => Err(e),
                        Err(BodyError::TooLarge { declared }) => {
                            // Not retried: the same request would get the same answer.
                            tracing::debug!(
                                "{m} {path} -> {status}, answer over the size cap, in {} ms",
                                sent.elapsed().as_millis()
                            );
                            budget.on_other();
                            if member_ops > 0 {
                                inner.members.on_other();
                            }
                            return Err(ScimClientError::ResponseTooLarge {
                                method: m,
                                url: shown_url(&url),
                                host: inner.host.clone(),
                                limit: inner.opts.max_response_bytes,
                                declared,
                            });
                        }
                    }
                }
                Err(e) => Err(e),
            };
            drop(permit);
            // The request log (`-vv`): what went where and how it went; never headers or bodies,
            // where tokens and personal data travel. The path is the one the caller gave, which
            // carries no credentials (they travel in headers).
            match &result {
                Ok((status, _, _)) => tracing::debug!(
                    "{m} {path} -> {status} in {} ms",
                    sent.elapsed().as_millis()
                ),
                Err(e) => tracing::debug!(
                    "{m} {path} -> {} after {} ms",
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "no answer"
                    },
                    sent.elapsed().as_millis()
                ),
            }

            let (status, headers, bytes) = match result {
                Ok(r) => r,
                Err(e) => {
                    budget.on_other();
                    if member_ops > 0 {
                        inner.members.on_other();
                    }
                    // Connection never opened: the server cannot have acted, so even a POST may
                    // go again. Otherwise only requests that are safe to repeat do.
                    let retryable = e.is_connect() || !is_post;
                    if retryable && attempt < max_attempts {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        continue;
                    }
                    return Err(if e.is_timeout() {
                        ScimClientError::Timeout {
                            method: m,
                            url,
                            host: inner.host.clone(),
                            attempts: attempt,
                        }
                    } else {
                        ScimClientError::Network {
                            method: m,
                            url,
                            host: inner.host.clone(),
                            reason: self.redact(&error_chain(&e)),
                            attempts: attempt,
                        }
                    });
                }
            };

            let published = pace::published(&headers, unix_now());
            if (200..300).contains(&status) {
                budget.on_success(sent, published);
                if member_ops > 0 {
                    inner.members.on_success(sent, Default::default());
                }
                let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                    None
                } else {
                    Some(
                        serde_json::from_slice(&bytes).map_err(|e| ScimClientError::Decode {
                            method: m.clone(),
                            url: url.clone(),
                            host: inner.host.clone(),
                            reason: e.to_string(),
                        })?,
                    )
                };
                return Ok(RawResponse {
                    status,
                    headers,
                    body,
                });
            }

            // What the server asked for, uncut: a wait longer than the throttle budget has left
            // fails at once (it would only end in failure, silently, minutes later).
            let asked = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let retry_after = asked.map(|d| d.min(inner.opts.max_retry_after));
            let too_long = |left: Duration, attempt: u32| {
                asked
                    .filter(|d| *d > left)
                    .map(|d| ScimClientError::RetryAfterTooLong {
                        method: m.clone(),
                        url: url.clone(),
                        host: inner.host.clone(),
                        status,
                        retry_after: d.as_secs_f64(),
                        left: left.as_secs_f64(),
                        budget: inner.throttle_budget.as_secs_f64(),
                        attempts: attempt,
                    })
            };
            if status == 429 {
                inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                budget.on_throttled(sent, published);
                if member_ops > 0 {
                    inner.members.on_throttled(sent, Default::default());
                }
                let since = *throttled_since.get_or_insert(sent);
                let left =
                    (since + inner.throttle_budget).saturating_duration_since(Instant::now());
                if let Some(e) = too_long(left, attempt) {
                    return Err(e);
                }
                let wait = match retry_after {
                    Some(d) => {
                        // A paced budget takes a short `Retry-After` for this request only (the
                        // pacer's cut slows everyone); a long one, or any on a fixed rate, is a
                        // pause the server asked of every request.
                        if (budget.is_fixed() || d >= Duration::from_secs(2))
                            && self.pause_until(Instant::now() + d)
                        {
                            self.tell_long_wait(d, left);
                        }
                        d
                    }
                    None if budget.is_fixed() => self.backoff(attempt),
                    // The pacer spaces the retry; a little jitter keeps retries apart.
                    None => self.backoff(attempt.min(2)),
                };
                if Instant::now() + wait > since + inner.throttle_budget {
                    return Err(ScimClientError::Throttled {
                        method: m,
                        url,
                        host: inner.host.clone(),
                        seconds: inner.throttle_budget.as_secs_f64(),
                        rate: budget.rate(),
                        attempts: attempt,
                    });
                }
                inner.counters.waiting.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                inner.counters.waiting.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            budget.on_other();
            if member_ops > 0 {
                inner.members.on_other();
            }
            // 501 Not Implemented says the server will never do this: asking again cannot help.
            let retryable = status >= 500 && status != 501 && !is_post;
            if retryable && attempt < max_attempts {
                // A 503's `Retry-After` is bounded by the same budget: the total this request
                // waits on what the server asked.
                let left = inner.throttle_budget.saturating_sub(waited_on_server);
                if let Some(e) = too_long(left, attempt) {
                    return Err(e);
                }
                let wait = match retry_after {
                    Some(d) => {
                        waited_on_server += d;
                        if d > LONG_WAIT {
                            self.tell_long_wait(d, left);
                        }
                        d
                    }
                    None => self.backoff(attempt),
                };
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            let err: ScimError = serde_json::from_str(&text).unwrap_or_else(|_| ScimError {
                detail: (!text.trim().is_empty()).then(|| truncate(text.trim(), MAX_DETAIL)),
                ..ScimError::default()
            });
            return Err(ScimClientError::Http {
                method: m,
                url,
                status,
                scim_type: err.scim_type.map(|t| self.redact(&t)),
                detail: err.detail.map(|d| self.redact(&d)),
                attempts: attempt,
                target: TargetKind {
                    aws: inner.dialect == Dialect::AwsIdentityCenter,
                    auth: inner.credentials.kind(),
                },
            });
        }
    }

    fn count(&self, method: &Method, attempt: u32, member_ops: u32) {
        let c = &self.inner.counters;
        let counter = match *method {
            Method::GET => &c.get,
            Method::POST => &c.post,
            Method::PUT => &c.put,
            Method::PATCH => &c.patch,
            Method::DELETE => &c.delete,
            // roster sends no other method; anything else is a read-like probe.
            _ => &c.get,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if attempt > 1 {
            c.retries.fetch_add(1, Ordering::Relaxed);
        }
        c.member_ops
            .fetch_add(u64::from(member_ops), Ordering::Relaxed);
    }
}

/// Why an answer's body was not read whole.
enum BodyError {
    Transport(reqwest::Error),
    /// Over the cap; `declared` is the `Content-Length` when that alone gave it away.
    TooLarge {
        declared: Option<u64>,
    },
}

/// Reads a body in the chunks it arrives in, never holding more than `cap` bytes: a
/// `Content-Length` over the cap is refused before a byte is read, and a body without one (or
/// with a false one) is refused at the first chunk that would pass the cap. A declared length
/// is allocated once; an undeclared one is gathered in blocks and joined at the end, so that a
/// body refused at the cap never held more than the cap (a growing buffer would also hold the
/// halves it grew out of).
async fn read_capped(mut resp: reqwest::Response, cap: u64) -> Result<Vec<u8>, BodyError> {
    const BLOCK: usize = 1 << 20;
    let declared = resp.content_length();
    if let Some(len) = declared.filter(|len| *len > cap) {
        return Err(BodyError::TooLarge {
            declared: Some(len),
        });
    }
    let first = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
    let mut full: Vec<Vec<u8>> = Vec::new();
    let mut block: Vec<u8> = Vec::with_capacity(first.max(64 << 10));
    let mut total: u64 = 0;
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        total = total.saturating_add(chunk.len() as u64);
        if total > cap {
            return Err(BodyError::TooLarge { declared: None });
        }
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if block.len() == block.capacity() {
                full.push(std::mem::replace(&mut block, Vec::with_capacity(BLOCK)));
            }
            let n = rest.len().min(block.capacity() - block.len());
            block.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }
    if full.is_empty() {
        return Ok(block);
    }
    full.push(block);
    Ok(full.concat())
}

/// A URL as errors show it: without userinfo, which a URL must not carry but a hostile
/// configuration might.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            // Cannot fail on an http(s) URL with a host, the only kind the client builds.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// The collection a kind of resource lives in.
pub fn collection_path(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "/Users",
        ResourceKind::Group => "/Groups",
    }
}

/// The URL path of one resource, its id percent-encoded.
pub fn object_path(kind: ResourceKind, id: &str) -> String {
    format!("{}/{}", collection_path(kind), encode_query_value(id))
}

/// Seconds since the Unix epoch (an `X-RateLimit-Reset` may be one).
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = parse_http_date(v)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers send, as Unix seconds.
fn parse_http_date(v: &str) -> Option<u64> {
    let rest = v.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    if parts.len() != 5 || parts[4] != "GMT" {
        return None;
    }
    let day: u64 = parts[0].parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == parts[1])? as u64 + 1;
    let year: i64 = parts[2].parse().ok()?;
    let hms: Vec<u64> = parts[3]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m as i64 + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + (hms[0] * 3600 + hms[1] * 60 + hms[2]) as i64;
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests;
