//! The HTTP side of the emulator: routing (at `/` and `/scim/v2/`), bearer authentication,
//! the hold-writes gate, dialect-shaped errors, and the `/_emulator/stats` and
//! `/_emulator/release` observation endpoints (never faulted or limited).
//!
//! The rooms behind it: `faults` (injected failures and the load limits a server imposes),
//! `handlers` (one function per SCIM endpoint), `projection` (how a stored resource is shown:
//! dialect shape, `attributes`/`excludedAttributes`) and `seed` (loading a seed file).

// Request helpers return `Result<_, Reply>` so that `?`-style early answers stay readable; a
// Reply is built once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod faults;
mod handlers;
mod projection;
mod quirks;
mod seed;

pub use faults::{EndlessCursor, Faults, LimitHeaders, LimitShape};
pub use quirks::Quirks;

use crate::emulator::persist::Persist;
use crate::emulator::schema::{self, Kind};
use crate::emulator::store::{IdStyle, Store, StoreError};
use crate::emulator::{Dialect, EmulatorError};
use crate::scim::resource::ERROR_SCHEMA;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use faults::Limit;
use handlers::{
    create, delete, find_static, get_one, list, list_static, parse_query, patch, put, search,
    search_all,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use seed::load_seed;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct Options {
    pub dialect: Dialect,
    /// Bearer token required on SCIM endpoints; `None` leaves them open (loopback only).
    pub token: Option<SecretString>,
    /// State file; `None` keeps everything in memory.
    pub state: Option<PathBuf>,
    /// Seed file loaded at start when the state is empty.
    pub seed: Option<PathBuf>,
    pub faults: Faults,
    /// Habits of a server that keeps less than it is sent (all off by default).
    pub quirks: Quirks,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dialect: Dialect::Generic,
            token: None,
            state: None,
            seed: None,
            faults: Faults::default(),
            quirks: Quirks::default(),
        }
    }
}

#[derive(Default)]
struct Stats {
    reads: u64,
    writes: u64,
    by_method: BTreeMap<String, u64>,
    /// Requests the rate limits refused (sent past the budget), by kind.
    limited_reads: u64,
    limited_writes: u64,
    /// Requests answered 429 by `fail_429` (noise, not the limit).
    injected_429: u64,
}

struct Inner {
    store: Store,
    persist: Option<Persist>,
}

struct App {
    aws: bool,
    token: Option<SecretString>,
    faults: Faults,
    quirks: quirks::QuirkState,
    inner: Mutex<Inner>,
    stats: Mutex<Stats>,
    rng: Mutex<StdRng>,
    read_limit: Option<Mutex<Limit>>,
    write_limit: Option<Mutex<Limit>>,
    /// Writes let through the hold gate (successful or in flight).
    admitted: AtomicU64,
    released: AtomicBool,
    gate: Notify,
    /// Pages served of the current user and group cursor chains (the short-chain fault).
    cursor_pages: [AtomicU64; 2],
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random 32-hex-digit token.
pub fn random_token() -> String {
    let b: [u8; 16] = rand::rng().random();
    hex::encode(b)
}

/// A running emulator.
pub struct Server {
    addr: SocketAddr,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Load state, bind `listen` (loopback only) and serve in a background task.
    pub async fn start(listen: SocketAddr, options: Options) -> Result<Server, EmulatorError> {
        if !listen.ip().is_loopback() {
            return Err(EmulatorError::NotLoopback(listen));
        }
        let app = Arc::new(App::new(options)?);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: listen,
                source,
            })?;
        let router = axum::Router::new().fallback(handle).with_state(app.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Server {
            addr,
            app,
            stop: Some(tx),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, let held writes go, finish in-flight requests, write the state file.
    pub async fn shutdown(mut self) -> Result<(), EmulatorError> {
        self.app.released.store(true, Ordering::SeqCst);
        self.app.gate.notify_waiters();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        // Connections kept alive by clients would hold graceful shutdown open; give them a
        // moment, then stop regardless (the state is written below either way).
        match tokio::time::timeout(Duration::from_secs(5), &mut self.task).await {
            Ok(Ok(Err(e))) => return Err(EmulatorError::Serve(e)),
            Ok(_) => {}
            Err(_) => self.task.abort(),
        }
        self.app.flush()
    }
}

impl App {
    fn new(options: Options) -> Result<App, EmulatorError> {
        let aws = options.dialect == Dialect::AwsIdentityCenter;
        let mut store = Store::new(aws);
        let persist =
            match &options.state {
                Some(path) => Some(Persist::open(path, &mut store).map_err(|source| {
                    EmulatorError::State {
                        path: path.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        let mut inner = Inner { store, persist };
        if let Some(seed) = &options.seed {
            load_seed(&mut inner, seed, aws)?;
        }
        let f = &options.faults;
        Ok(App {
            aws,
            token: options.token.clone(),
            read_limit: f.rate_limit_read.map(|r| Mutex::new(Limit::new(r, f))),
            write_limit: f.rate_limit_write.map(|r| Mutex::new(Limit::new(r, f))),
            rng: Mutex::new(StdRng::seed_from_u64(f.seed)),
            faults: options.faults,
            quirks: quirks::QuirkState::new(options.quirks),
            inner: Mutex::new(inner),
            stats: Mutex::new(Stats::default()),
            admitted: AtomicU64::new(0),
            released: AtomicBool::new(false),
            gate: Notify::new(),
            cursor_pages: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }

    fn flush(&self) -> Result<(), EmulatorError> {
        let mut inner = lock(&self.inner);
        let Inner { store, persist } = &mut *inner;
        if let Some(p) = persist {
            p.compact(store).map_err(|source| EmulatorError::State {
                path: PathBuf::from("(state)"),
                source,
            })?;
        }
        Ok(())
    }

    fn id_style(&self) -> IdStyle {
        if self.aws {
            IdStyle::Aws
        } else {
            IdStyle::Uuid
        }
    }

    /// Wait at the hold gate until this write may proceed.
    async fn admit_write(&self) {
        let Some(limit) = self.faults.hold_writes_after else {
            return;
        };
        loop {
            let notified = self.gate.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let cur = self.admitted.load(Ordering::SeqCst);
            if self.released.load(Ordering::SeqCst) || cur < limit {
                if self
                    .admitted
                    .compare_exchange(cur, cur + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            notified.await;
        }
    }

    /// A write that was admitted but not served gives its slot back.
    fn unadmit_write(&self) {
        if self.faults.hold_writes_after.is_some() {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            self.gate.notify_waiters();
        }
    }
}

/// One answer, before dialect and header decoration.
struct Reply {
    status: StatusCode,
    body: Option<Value>,
    etag: Option<String>,
    location: Option<String>,
    retry_after: Option<u64>,
    /// Rate-limit headers of the limit that counted this request.
    limit_headers: Vec<(&'static str, String)>,
    /// How the body goes on the wire (the size faults).
    framing: faults::Framing,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            etag: None,
            location: None,
            retry_after: None,
            limit_headers: Vec::new(),
            framing: faults::Framing::Plain,
        }
    }
    fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            body: None,
            etag: None,
            location: None,
            retry_after: None,
            limit_headers: Vec::new(),
            framing: faults::Framing::Plain,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut resp = match (self.body, self.framing) {
            (Some(b), faults::Framing::Plain) => (self.status, b.to_string()).into_response(),
            (Some(b), framing) => {
                let (body, declared) = faults::framed_body(b.to_string(), framing);
                let mut r = (self.status, body).into_response();
                if let Some(len) = declared {
                    r.headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                }
                r
            }
            (None, _) => self.status.into_response(),
        };
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        );
        let mut put = |name: header::HeaderName, v: Option<String>| {
            if let Some(v) = v.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        };
        put(header::ETAG, self.etag);
        put(header::LOCATION, self.location);
        put(header::RETRY_AFTER, self.retry_after.map(|s| s.to_string()));
        for (name, v) in self.limit_headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(name, v);
            }
        }
        resp
    }
}

/// A SCIM error in the dialect's shape.
fn error(aws: bool, status: StatusCode, scim_type: Option<&str>, detail: &str) -> Reply {
    let code = status.as_u16().to_string();
    let body = if aws {
        let ts = time::OffsetDateTime::now_utc();
        let f = time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
        );
        json!({
            "schema": [ERROR_SCHEMA],
            "schemas": [ERROR_SCHEMA],
            "detail": detail,
            "status": code,
            "exceptionRequestId": crate::emulator::store::new_id(IdStyle::Uuid),
            "timeStamp": ts.format(&f).unwrap_or_default(),
        })
    } else {
        let mut b = json!({"schemas": [ERROR_SCHEMA], "status": code, "detail": detail});
        if let (Some(t), Some(o)) = (scim_type, b.as_object_mut()) {
            o.insert("scimType".into(), Value::String(t.into()));
        }
        b
    };
    Reply::json(status, body)
}

fn store_error(aws: bool, e: StoreError) -> Reply {
    match e {
        StoreError::NotFound => error(aws, StatusCode::NOT_FOUND, None, "Resource not found."),
        StoreError::Conflict(d) => {
            if aws {
                error(
                    aws,
                    StatusCode::CONFLICT,
                    None,
                    "Refused to create a new, duplicate resource.",
                )
            } else {
                error(aws, StatusCode::CONFLICT, Some("uniqueness"), &d)
            }
        }
        StoreError::Invalid { scim_type, detail } => {
            error(aws, StatusCode::BAD_REQUEST, Some(scim_type), &detail)
        }
        StoreError::Precondition => error(
            aws,
            StatusCode::PRECONDITION_FAILED,
            None,
            "The resource changed since the version given in If-Match.",
        ),
    }
}

async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = uri.path();
    let (prefix, path) = match raw.strip_prefix("/scim/v2") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => ("/scim/v2", rest),
        _ => ("", raw),
    };
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    if segs.first().map(String::as_str) == Some("_emulator") {
        return observe(&app, &method, &segs).into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}{prefix}");
    *lock(&app.stats)
        .by_method
        .entry(method.to_string())
        .or_default() += 1;

    if let Some(token) = &app.token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .is_some_and(|t| constant_eq(t.trim().as_bytes(), token.expose_secret().as_bytes()));
        if !ok {
            let mut r = error(
                app.aws,
                StatusCode::UNAUTHORIZED,
                None,
                "The bearer token is missing or invalid.",
            );
            r.status = StatusCode::UNAUTHORIZED;
            let mut resp = delayed(&app, r).await;
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return resp;
        }
    }

    let is_write = method != Method::GET && method != Method::HEAD;
    let limit = if is_write {
        &app.write_limit
    } else {
        &app.read_limit
    };
    let verdict = limit.as_ref().map(|l| lock(l).check());
    let limit_headers = verdict
        .as_ref()
        .map(|v| v.headers.clone())
        .unwrap_or_default();
    if let Some(v) = verdict.filter(|v| !v.admitted) {
        {
            let mut s = lock(&app.stats);
            if is_write {
                s.limited_writes += 1;
            } else {
                s.limited_reads += 1;
            }
        }
        let mut r = error(
            app.aws,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "Rate exceeded.",
        );
        r.retry_after = Some(v.retry_after);
        r.limit_headers = v.headers;
        return delayed(&app, r).await;
    }
    if app.faults.fail_429 > 0.0 || app.faults.fail_5xx > 0.0 {
        let (a, b): (f64, f64) = {
            let mut rng = lock(&app.rng);
            (rng.random(), rng.random())
        };
        if a < app.faults.fail_429 {
            lock(&app.stats).injected_429 += 1;
            let mut r = error(
                app.aws,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                "Rate exceeded (injected).",
            );
            r.retry_after = Some(0);
            r.limit_headers = limit_headers;
            return delayed(&app, r).await;
        }
        if b < app.faults.fail_5xx {
            let r = error(
                app.aws,
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Internal failure (injected).",
            );
            return delayed(&app, r).await;
        }
    }
    if is_write {
        app.admit_write().await;
    }
    let mut reply = route(&app, &method, &segs, &uri, &headers, &body, &base);
    reply.limit_headers = limit_headers;
    let served = reply.status.is_success() || reply.status == StatusCode::NOT_MODIFIED;
    if is_write && served && app.quirks.lose_answer() {
        // The write stands; only its answer is lost on the way back.
        lock(&app.stats).writes += 1;
        let lost = error(
            app.aws,
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "Internal failure after the write was applied (injected: the answer is lost).",
        );
        return delayed(&app, lost).await;
    }
    {
        let mut s = lock(&app.stats);
        if is_write {
            if served {
                s.writes += 1;
            }
        } else {
            s.reads += 1;
        }
    }
    if is_write && !served {
        app.unadmit_write();
    }
    delayed(&app, reply).await
}

async fn delayed(app: &App, r: Reply) -> Response {
    if !app.faults.latency.is_zero() {
        tokio::time::sleep(app.faults.latency).await;
    }
    r.into_response()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn observe(app: &App, method: &Method, segs: &[String]) -> Reply {
    match (method, segs.get(1).map(String::as_str)) {
        (&Method::GET, Some("stats")) => {
            let s = lock(&app.stats);
            let inner = lock(&app.inner);
            Reply::json(
                StatusCode::OK,
                json!({
                    "reads": s.reads,
                    "writes": s.writes,
                    "by_method": s.by_method,
                    "limited_reads": s.limited_reads,
                    "limited_writes": s.limited_writes,
                    "injected_429": s.injected_429,
                    "users": inner.store.len(Kind::User),
                    "groups": inner.store.len(Kind::Group),
                    "visited": inner.store.visited,
                    "held": app.faults.hold_writes_after.is_some() && !app.released.load(Ordering::SeqCst),
                }),
            )
        }
        (&Method::POST, Some("release")) => {
            app.released.store(true, Ordering::SeqCst);
            app.gate.notify_waiters();
            Reply::json(StatusCode::OK, json!({"released": true}))
        }
        _ => error(
            false,
            StatusCode::NOT_FOUND,
            None,
            "Unknown emulator endpoint.",
        ),
    }
}

fn route(
    app: &App,
    method: &Method,
    segs: &[String],
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    base: &str,
) -> Reply {
    let aws = app.aws;
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    let kind = match seg.first() {
        Some(s) if s.eq_ignore_ascii_case("Users") => Some(Kind::User),
        Some(s) if s.eq_ignore_ascii_case("Groups") => Some(Kind::Group),
        _ => None,
    };
    match (method, kind, &seg[..]) {
        (&Method::GET, None, [s]) if s.eq_ignore_ascii_case("ServiceProviderConfig") => {
            Reply::json(
                StatusCode::OK,
                app.quirks
                    .service_provider_config(schema::service_provider_config(base, aws)),
            )
        }
        (&Method::GET, None, [s]) if s.eq_ignore_ascii_case("Schemas") => {
            list_static(app.quirks.schemas(schema::schemas(base)))
        }
        (&Method::GET, None, [s, id]) if s.eq_ignore_ascii_case("Schemas") => {
            find_static(aws, app.quirks.schemas(schema::schemas(base)), id)
        }
        (&Method::GET, None, [s]) if s.eq_ignore_ascii_case("ResourceTypes") => {
            list_static(app.quirks.resource_types(schema::resource_types(base)))
        }
        (&Method::GET, None, [s, id]) if s.eq_ignore_ascii_case("ResourceTypes") => find_static(
            aws,
            app.quirks.resource_types(schema::resource_types(base)),
            id,
        ),
        (_, None, [s] | [s, _])
            if ["ServiceProviderConfig", "Schemas", "ResourceTypes"]
                .iter()
                .any(|d| d.eq_ignore_ascii_case(s)) =>
        {
            error(
                aws,
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "Discovery endpoints are read-only.",
            )
        }
        (&Method::POST, None, [s]) if !aws && s.eq_ignore_ascii_case(".search") => {
            search_all(app, body, base)
        }
        (&Method::GET, Some(k), [_]) => list(app, k, &parse_query(uri), base),
        (&Method::POST, Some(k), [_, s]) if !aws && s.eq_ignore_ascii_case(".search") => {
            search(app, k, body, base)
        }
        (&Method::GET, Some(k), [_, id]) => get_one(app, k, id, uri, headers, base),
        (&Method::POST, Some(k), [_]) => create(app, k, body, uri, base),
        (&Method::PUT, Some(Kind::Group), [_, _]) if aws => error(
            aws,
            StatusCode::BAD_REQUEST,
            None,
            "PutGroup is not supported.",
        ),
        (&Method::PUT, Some(k), [_, id]) => put(app, k, id, body, uri, headers, base),
        (&Method::PATCH, Some(k), [_, id]) => patch(app, k, id, body, uri, headers, base),
        (&Method::DELETE, Some(k), [_, id]) => delete(app, k, id, headers),
        (_, Some(_), [_] | [_, _]) => error(
            aws,
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "Method not allowed.",
        ),
        _ => error(aws, StatusCode::NOT_FOUND, None, "Not found."),
    }
}
