//! The HTTP side of the emulator: routing (at `/` and `/scim/v2/`), bearer authentication,
//! fault and load injection, the hold-writes gate, dialect-shaped responses and errors, and the
//! `/_emulator/stats` and `/_emulator/release` observation endpoints (never faulted or limited).

// Request helpers return `Result<_, Reply>` so that `?`-style early answers stay readable; a
// Reply is built once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::filter::{self, AttrPath, Filter};
use super::persist::{self, Persist};
use super::schema::{self, Kind};
use super::store::{IdStyle, Mutation, Store, StoreError};
use super::{aws, Dialect, EmulatorError};
use crate::scim::resource::{PatchRequest, ERROR_SCHEMA, LIST_RESPONSE_SCHEMA};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dialect: Dialect::Generic,
            token: None,
            state: None,
            seed: None,
            faults: Faults::default(),
        }
    }
}

/// A token bucket refilled continuously at `rate` per second, holding at most one second's worth.
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Bucket {
        Bucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }
    fn take(&mut self) -> bool {
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

#[derive(Default)]
struct Stats {
    reads: u64,
    writes: u64,
    by_method: BTreeMap<String, u64>,
}

struct Inner {
    store: Store,
    persist: Option<Persist>,
}

struct App {
    aws: bool,
    token: Option<SecretString>,
    faults: Faults,
    inner: Mutex<Inner>,
    stats: Mutex<Stats>,
    rng: Mutex<StdRng>,
    read_bucket: Option<Mutex<Bucket>>,
    write_bucket: Option<Mutex<Bucket>>,
    /// Writes let through the hold gate (successful or in flight).
    admitted: AtomicU64,
    released: AtomicBool,
    gate: Notify,
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
            read_bucket: f.rate_limit_read.map(|r| Mutex::new(Bucket::new(r))),
            write_bucket: f.rate_limit_write.map(|r| Mutex::new(Bucket::new(r))),
            rng: Mutex::new(StdRng::seed_from_u64(f.seed)),
            faults: options.faults,
            inner: Mutex::new(inner),
            stats: Mutex::new(Stats::default()),
            admitted: AtomicU64::new(0),
            released: AtomicBool::new(false),
            gate: Notify::new(),
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

fn load_seed(inner: &mut Inner, path: &std::path::Path, aws: bool) -> Result<(), EmulatorError> {
    let err = |message: String| EmulatorError::Seed {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut doc: Value = serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
    drop(text);
    let style = if aws { IdStyle::Aws } else { IdStyle::Uuid };
    // Users first: groups refer to them. Members are added after all groups exist so that
    // groups may contain groups listed later.
    for u in persist::take_items(&mut doc, "users") {
        let id = u.get("id").and_then(Value::as_str).map(str::to_string);
        if id
            .as_deref()
            .is_some_and(|i| inner.store.get(Kind::User, i).is_some())
        {
            continue;
        }
        match inner.store.insert_new(Kind::User, u, true, style) {
            // Already there (a restart with the same --seed and --state): keep the stored one.
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(err(format!("user: {e:?}"))),
        }
    }
    let mut with_members = Vec::new();
    for mut g in persist::take_items(&mut doc, "groups") {
        let id = g.get("id").and_then(Value::as_str).map(str::to_string);
        if id
            .as_deref()
            .is_some_and(|i| inner.store.get(Kind::Group, i).is_some())
        {
            continue;
        }
        let members = g.remove("members");
        let created = match inner.store.create(Kind::Group, g, true, style) {
            Ok((created, _)) => created,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(err(format!("group: {e:?}"))),
        };
        if let Some(members) = members {
            with_members.push((created, members));
        }
    }
    for (g, members) in with_members {
        let id = g
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut body = g.clone();
        body.insert("members".into(), members);
        inner
            .store
            .replace(Kind::Group, &id, body, None, &|_| Ok(()))
            .map_err(|e| err(format!("group members: {e:?}")))?;
    }
    // One snapshot holds the whole seed; journaling each resource would only double the I/O.
    let Inner { store, persist } = inner;
    if let Some(p) = persist {
        p.compact(store).map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// One answer, before dialect and header decoration.
struct Reply {
    status: StatusCode,
    body: Option<Value>,
    etag: Option<String>,
    location: Option<String>,
    retry_after: Option<u64>,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            etag: None,
            location: None,
            retry_after: None,
        }
    }
    fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            body: None,
            etag: None,
            location: None,
            retry_after: None,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut resp = match self.body {
            Some(b) => (self.status, b.to_string()).into_response(),
            None => self.status.into_response(),
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
            "exceptionRequestId": super::store::new_id(IdStyle::Uuid),
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

/// Parsed query parameters of a request.
#[derive(Default)]
struct Query {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    cursor: Option<String>,
    attributes: Option<String>,
    excluded: Option<String>,
}

fn parse_query(uri: &Uri) -> Query {
    let mut q = Query::default();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        let v = v.into_owned();
        match k.to_ascii_lowercase().as_str() {
            "filter" => q.filter = Some(v),
            "startindex" => q.start_index = Some(v),
            "count" => q.count = Some(v),
            "cursor" => q.cursor = Some(v),
            "attributes" => q.attributes = Some(v),
            "excludedattributes" => q.excluded = Some(v),
            _ => {}
        }
    }
    q
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
    let bucket = if is_write {
        &app.write_bucket
    } else {
        &app.read_bucket
    };
    if let Some(b) = bucket {
        if !lock(b).take() {
            let mut r = error(
                app.aws,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                "Rate exceeded.",
            );
            r.retry_after = Some(1);
            return delayed(&app, r).await;
        }
    }
    if app.faults.fail_429 > 0.0 || app.faults.fail_5xx > 0.0 {
        let (a, b): (f64, f64) = {
            let mut rng = lock(&app.rng);
            (rng.random(), rng.random())
        };
        if a < app.faults.fail_429 {
            let mut r = error(
                app.aws,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                "Rate exceeded (injected).",
            );
            r.retry_after = Some(0);
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
    let reply = route(&app, &method, &segs, &uri, &headers, &body, &base);
    let served = reply.status.is_success() || reply.status == StatusCode::NOT_MODIFIED;
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
            Reply::json(StatusCode::OK, schema::service_provider_config(base, aws))
        }
        (&Method::GET, None, [s]) if s.eq_ignore_ascii_case("Schemas") => {
            list_static(schema::schemas(base))
        }
        (&Method::GET, None, [s, id]) if s.eq_ignore_ascii_case("Schemas") => {
            find_static(aws, schema::schemas(base), id)
        }
        (&Method::GET, None, [s]) if s.eq_ignore_ascii_case("ResourceTypes") => {
            list_static(schema::resource_types(base))
        }
        (&Method::GET, None, [s, id]) if s.eq_ignore_ascii_case("ResourceTypes") => {
            find_static(aws, schema::resource_types(base), id)
        }
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

fn list_static(items: Vec<Value>) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": items.len(),
            "itemsPerPage": items.len(),
            "startIndex": 1,
            "Resources": items,
        }),
    )
}

fn find_static(aws: bool, items: Vec<Value>, id: &str) -> Reply {
    match items
        .into_iter()
        .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
    {
        Some(i) => Reply::json(StatusCode::OK, i),
        None => error(aws, StatusCode::NOT_FOUND, None, "Not found."),
    }
}

fn parse_body(aws: bool, body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(error(
            aws,
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            if aws {
                aws::UNPARSABLE
            } else {
                "The request body is not a JSON object."
            },
        )),
    }
}

/// `attributes` / `excludedAttributes` of a request (generic dialect only; AWS ignores them).
struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

fn projection(
    aws: bool,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<Projection, Reply> {
    let parse = |s: Option<&str>| -> Result<Vec<AttrPath>, Reply> {
        if aws {
            return Ok(Vec::new());
        }
        s.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                filter::parse_attr_path(s)
                    .map_err(|e| error(aws, StatusCode::BAD_REQUEST, Some("invalidValue"), &e.0))
            })
            .collect()
    };
    Ok(Projection {
        attributes: parse(attributes)?,
        excluded: parse(excluded)?,
    })
}

/// Which object of a resource an attribute path lives in: the top level for core attributes,
/// the extension object for extension ones.
fn ext_key(kind: Kind, p: &AttrPath) -> Option<&'static str> {
    p.urn
        .as_deref()
        .and_then(schema::known_schema)
        .filter(|u| *u != kind.core_schema())
}

fn apply_projection(
    kind: Kind,
    mut res: Map<String, Value>,
    proj: &Projection,
) -> Map<String, Value> {
    if !proj.attributes.is_empty() {
        let mut out = Map::new();
        for key in ["schemas", "id"] {
            if let Some(v) = res.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        for p in &proj.attributes {
            // An extension URN alone names the whole extension.
            if p.sub.is_none() {
                if let Some(u) = schema::known_schema(&p.to_string()) {
                    if let Some(v) = res.get(u) {
                        out.insert(u.into(), v.clone());
                    }
                    continue;
                }
            }
            let ext = ext_key(kind, p);
            let src = match ext {
                Some(u) => match res.get(u) {
                    Some(Value::Object(src)) => src,
                    _ => continue,
                },
                None => &res,
            };
            let Some((k, v)) = src.iter().find(|(k, _)| k.eq_ignore_ascii_case(&p.attr)) else {
                continue;
            };
            let picked = match &p.sub {
                None => v.clone(),
                Some(sub) => pick_sub(v, sub, out_existing(ext, &out, k)),
            };
            match ext {
                Some(u) => {
                    if let Value::Object(o) = out
                        .entry(u.to_string())
                        .or_insert_with(|| Value::Object(Map::new()))
                    {
                        o.insert(k.clone(), picked);
                    }
                }
                None => {
                    out.insert(k.clone(), picked);
                }
            }
        }
        res = out;
    }
    for p in &proj.excluded {
        if matches!(p.attr.to_ascii_lowercase().as_str(), "id" | "schemas") && p.urn.is_none() {
            continue;
        }
        if p.sub.is_none() {
            if let Some(u) = schema::known_schema(&p.to_string()) {
                res.remove(u);
                continue;
            }
        }
        let target = match ext_key(kind, p) {
            Some(u) => match res.get_mut(u) {
                Some(Value::Object(o)) => o,
                _ => continue,
            },
            None => &mut res,
        };
        let Some(k) = target
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&p.attr))
            .cloned()
        else {
            continue;
        };
        match &p.sub {
            None => {
                target.remove(&k);
            }
            Some(sub) => match target.get_mut(&k) {
                Some(Value::Object(o)) => {
                    o.retain(|sk, _| !sk.eq_ignore_ascii_case(sub));
                }
                Some(Value::Array(items)) => {
                    for i in items {
                        if let Some(o) = i.as_object_mut() {
                            o.retain(|sk, _| !sk.eq_ignore_ascii_case(sub));
                        }
                    }
                }
                _ => {}
            },
        }
    }
    res
}

fn out_existing(ext: Option<&str>, out: &Map<String, Value>, k: &str) -> Option<Value> {
    match ext {
        Some(u) => out.get(u).and_then(|o| o.get(k)).cloned(),
        None => out.get(k).cloned(),
    }
}

/// Keep only `sub` of a complex (or each value of a multi-valued complex) attribute, merged with
/// what an earlier `attributes` entry already picked.
fn pick_sub(v: &Value, sub: &str, existing: Option<Value>) -> Value {
    let pick = |o: &Map<String, Value>, prev: Option<&Value>| -> Value {
        let mut m = prev.and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some((k, x)) = o.iter().find(|(k, _)| k.eq_ignore_ascii_case(sub)) {
            m.insert(k.clone(), x.clone());
        }
        Value::Object(m)
    };
    match v {
        Value::Object(o) => pick(o, existing.as_ref()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(o) => pick(o, existing.as_ref().and_then(|e| e.get(i))),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A stored resource as the dialect shows it.
fn render(
    app: &App,
    store: &Store,
    kind: Kind,
    res: &Map<String, Value>,
    base: &str,
) -> Map<String, Value> {
    let mut out = res.clone();
    let id = res
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if app.aws {
        if let Some(Value::Object(m)) = out.get_mut("meta") {
            m.remove("version");
            m.remove("location");
            for k in ["created", "lastModified"] {
                if let Some(Value::String(t)) = m.get_mut(k) {
                    // AWS answers whole seconds.
                    if let Some(dot) = t.find('.') {
                        *t = format!("{}Z", &t[..dot]);
                    }
                }
            }
        }
        if kind == Kind::Group {
            out.insert("members".into(), Value::Array(Vec::new()));
        }
        return out;
    }
    if let Some(Value::Object(m)) = out.get_mut("meta") {
        m.insert(
            "location".into(),
            Value::String(format!("{base}/{}/{id}", kind.endpoint())),
        );
    }
    match kind {
        Kind::User => {
            let groups: Vec<Value> = store
                .groups_of(&id)
                .into_iter()
                .map(|(gid, g)| {
                    json!({
                        "value": gid,
                        "$ref": format!("{base}/Groups/{gid}"),
                        "display": g.get("displayName").cloned().unwrap_or(Value::Null),
                        "type": "direct",
                    })
                })
                .collect();
            if !groups.is_empty() {
                out.insert("groups".into(), Value::Array(groups));
            }
        }
        Kind::Group => {
            if let Some(Value::Array(items)) = out.get_mut("members") {
                for m in items {
                    let Some(o) = m.as_object_mut() else { continue };
                    let v = o
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let (endpoint, display) = match store.get(Kind::User, &v) {
                        Some(u) => ("Users", u.get("userName").cloned()),
                        None => (
                            "Groups",
                            store
                                .get(Kind::Group, &v)
                                .and_then(|g| g.get("displayName").cloned()),
                        ),
                    };
                    o.insert(
                        "$ref".into(),
                        Value::String(format!("{base}/{endpoint}/{v}")),
                    );
                    if let (Some(d), false) = (display, o.contains_key("display")) {
                        o.insert("display".into(), d);
                    }
                }
            }
        }
    }
    out
}

fn etag_of(app: &App, res: &Map<String, Value>) -> Option<String> {
    if app.aws {
        None
    } else {
        res.get("meta")
            .and_then(|m| m.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

fn if_match(app: &App, headers: &HeaderMap) -> Option<String> {
    if app.aws {
        return None;
    }
    headers
        .get(header::IF_MATCH)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
}

fn one(
    app: &App,
    store: &Store,
    kind: Kind,
    res: &Map<String, Value>,
    uri: &Uri,
    base: &str,
    status: StatusCode,
) -> Reply {
    let q = parse_query(uri);
    let proj = match projection(app.aws, q.attributes.as_deref(), q.excluded.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let shown = apply_projection(kind, render(app, store, kind, res, base), &proj);
    let mut r = Reply::json(status, Value::Object(shown));
    r.etag = etag_of(app, res);
    if status == StatusCode::CREATED && !app.aws {
        r.location = res
            .get("id")
            .and_then(Value::as_str)
            .map(|id| format!("{base}/{}/{id}", kind.endpoint()));
    }
    r
}

fn parse_filter_for(app: &App, kind: Kind, f: Option<&str>) -> Result<Option<Filter>, Reply> {
    let Some(f) = f.filter(|f| !f.trim().is_empty()) else {
        return Ok(None);
    };
    let parsed = filter::parse_filter(f).map_err(|e| {
        let detail = if app.aws {
            aws::UNPARSABLE.to_string()
        } else {
            e.0
        };
        error(
            app.aws,
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
            &detail,
        )
    })?;
    if app.aws {
        return aws::check_filter(kind, &parsed)
            .map(Some)
            .map_err(|d| error(true, StatusCode::BAD_REQUEST, Some("invalidFilter"), &d));
    }
    Ok(Some(parsed))
}

fn parse_num(app: &App, v: Option<&str>, name: &str) -> Result<Option<i64>, Reply> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            error(
                app.aws,
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                &format!("{name} must be an integer"),
            )
        }),
    }
}

fn list(app: &App, kind: Kind, q: &Query, base: &str) -> Reply {
    let f = match parse_filter_for(app, kind, q.filter.as_deref()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let proj = match projection(app.aws, q.attributes.as_deref(), q.excluded.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let count = match parse_num(app, q.count.as_deref(), "count") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut inner = lock(&app.inner);
    if app.aws {
        let count = count.unwrap_or(100);
        if !(1..=100).contains(&count) && (q.cursor.is_some() || !(0..=100).contains(&count)) {
            return error(
                true,
                StatusCode::BAD_REQUEST,
                None,
                "count must be between 1 and 100.",
            );
        }
        let count = usize::try_from(count).unwrap_or(0);
        if let Some(cursor) = &q.cursor {
            let valid = cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-+=/:_".contains(c));
            if !valid {
                return error(true, StatusCode::BAD_REQUEST, None, aws::UNPARSABLE);
            }
            let (items, next) = match inner.store.cursor_page(kind, f.as_ref(), cursor, count) {
                Ok(p) => p,
                Err(e) => return store_error(true, e),
            };
            let store = &inner.store;
            let shown: Vec<Value> = items
                .iter()
                .map(|r| Value::Object(render(app, store, kind, r, base)))
                .collect();
            let mut body = json!({
                "schemas": [LIST_RESPONSE_SCHEMA],
                "itemsPerPage": shown.len(),
                "Resources": shown,
            });
            if let (Some(n), Some(o)) = (next, body.as_object_mut()) {
                o.insert("nextCursor".into(), Value::String(n));
            }
            return Reply::json(StatusCode::OK, body);
        }
        // Without a cursor AWS answers one index-style page from the start (startIndex is
        // ignored).
        let (total, items) = inner.store.page(kind, f.as_ref(), 0, count);
        let store = &inner.store;
        let shown: Vec<Value> = items
            .iter()
            .map(|r| Value::Object(render(app, store, kind, r, base)))
            .collect();
        return Reply::json(
            StatusCode::OK,
            json!({
                "totalResults": total,
                "itemsPerPage": shown.len(),
                "startIndex": 1,
                "schemas": [LIST_RESPONSE_SCHEMA],
                "Resources": shown,
            }),
        );
    }
    let start = match parse_num(app, q.start_index.as_deref(), "startIndex") {
        Ok(s) => s.unwrap_or(1).max(1),
        Err(r) => return r,
    };
    let count = count.unwrap_or(100).clamp(0, 1000);
    let (total, items) = inner.store.page(
        kind,
        f.as_ref(),
        usize::try_from(start - 1).unwrap_or(0),
        usize::try_from(count).unwrap_or(0),
    );
    let store = &inner.store;
    let shown: Vec<Value> = items
        .into_iter()
        .map(|r| {
            Value::Object(apply_projection(
                kind,
                render(app, store, kind, &r, base),
                &proj,
            ))
        })
        .collect();
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": shown.len(),
            "Resources": shown,
        }),
    )
}

/// A `/.search` (or `POST /Users/.search`) body as list query parameters.
fn search_query(b: &Map<String, Value>) -> Query {
    let s = |k: &str| {
        b.get(k).map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        })
    };
    Query {
        filter: s("filter"),
        start_index: s("startIndex"),
        count: s("count"),
        cursor: None,
        attributes: s("attributes"),
        excluded: s("excludedAttributes"),
    }
}

fn search(app: &App, kind: Kind, body: &[u8], base: &str) -> Reply {
    match parse_body(app.aws, body) {
        Ok(b) => list(app, kind, &search_query(&b), base),
        Err(r) => r,
    }
}

/// `POST /.search` at the root: users, then groups, as one list.
fn search_all(app: &App, body: &[u8], base: &str) -> Reply {
    let q = match parse_body(app.aws, body) {
        Ok(b) => search_query(&b),
        Err(r) => return r,
    };
    let proj = match projection(app.aws, q.attributes.as_deref(), q.excluded.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (start, count) = match (
        parse_num(app, q.start_index.as_deref(), "startIndex"),
        parse_num(app, q.count.as_deref(), "count"),
    ) {
        (Ok(s), Ok(c)) => (s.unwrap_or(1).max(1), c.unwrap_or(100).clamp(0, 1000)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut filters = Vec::new();
    for kind in [Kind::User, Kind::Group] {
        match parse_filter_for(app, kind, q.filter.as_deref()) {
            Ok(f) => filters.push(f),
            Err(r) => return r,
        }
    }
    let start0 = usize::try_from(start - 1).unwrap_or(0);
    let count = usize::try_from(count).unwrap_or(0);
    let mut inner = lock(&app.inner);
    let (tu, users) = inner
        .store
        .page(Kind::User, filters[0].as_ref(), start0, count);
    let (tg, groups) = inner.store.page(
        Kind::Group,
        filters[1].as_ref(),
        start0.saturating_sub(tu),
        count - users.len(),
    );
    let store = &inner.store;
    let shown: Vec<Value> = users
        .iter()
        .map(|r| (Kind::User, r))
        .chain(groups.iter().map(|r| (Kind::Group, r)))
        .map(|(k, r)| Value::Object(apply_projection(k, render(app, store, k, r, base), &proj)))
        .collect();
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": tu + tg,
            "startIndex": start,
            "itemsPerPage": shown.len(),
            "Resources": shown,
        }),
    )
}

fn get_one(app: &App, kind: Kind, id: &str, uri: &Uri, headers: &HeaderMap, base: &str) -> Reply {
    let inner = lock(&app.inner);
    let Some(res) = inner.store.get(kind, id) else {
        return store_error(app.aws, StoreError::NotFound);
    };
    if !app.aws {
        let inm = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|h| h.to_str().ok());
        if let (Some(inm), Some(tag)) = (inm, etag_of(app, res)) {
            if inm.split(',').any(|t| t.trim() == tag || t.trim() == "*") {
                let mut r = Reply::empty(StatusCode::NOT_MODIFIED);
                r.etag = Some(tag);
                return r;
            }
        }
    }
    one(app, &inner.store, kind, res, uri, base, StatusCode::OK)
}

/// Persist the mutations of a write; an I/O failure answers 500 (the write is not acknowledged).
fn persist_or_fail(app: &App, inner: &mut Inner, muts: &[Mutation]) -> Option<Reply> {
    let Inner { store, persist } = inner;
    let p = persist.as_mut()?;
    let result = p.record(muts).and_then(|()| {
        if p.should_compact(store) {
            p.compact(store)
        } else {
            Ok(())
        }
    });
    result.err().map(|e| {
        error(
            app.aws,
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            &format!("could not write the emulator state: {e}"),
        )
    })
}

fn create(app: &App, kind: Kind, body: &[u8], uri: &Uri, base: &str) -> Reply {
    let mut b = match parse_body(app.aws, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if app.aws {
        let check = match kind {
            Kind::User => aws::check_user(&b, true),
            Kind::Group => aws::check_group_create(&b),
        };
        if let Err(d) = check {
            return error(true, StatusCode::BAD_REQUEST, None, &d);
        }
    }
    b.remove("meta");
    let mut inner = lock(&app.inner);
    let (res, muts) = match inner.store.create(kind, b, false, app.id_style()) {
        Ok(x) => x,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    let mut reply = one(
        app,
        &inner.store,
        kind,
        &res,
        uri,
        base,
        StatusCode::CREATED,
    );
    if app.aws && kind == Kind::Group {
        // CreateGroup answers without a members attribute (aws-scim-samples/CreateGroupResponse.json).
        if let Some(Value::Object(o)) = reply.body.as_mut() {
            o.remove("members");
        }
    }
    reply
}

fn put(
    app: &App,
    kind: Kind,
    id: &str,
    body: &[u8],
    uri: &Uri,
    headers: &HeaderMap,
    base: &str,
) -> Reply {
    let b = match parse_body(app.aws, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if app.aws && kind == Kind::User {
        if let Err(d) = aws::check_user(&b, false) {
            return error(true, StatusCode::BAD_REQUEST, None, &d);
        }
    }
    let mut inner = lock(&app.inner);
    let im = if_match(app, headers);
    let (res, muts) = match inner.store.replace(kind, id, b, im.as_deref(), &|_| Ok(())) {
        Ok(x) => x,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    one(app, &inner.store, kind, &res, uri, base, StatusCode::OK)
}

fn patch(
    app: &App,
    kind: Kind,
    id: &str,
    body: &[u8],
    uri: &Uri,
    headers: &HeaderMap,
    base: &str,
) -> Reply {
    let req: PatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            let detail = if app.aws {
                aws::UNPARSABLE.to_string()
            } else {
                format!("not a PatchOp request: {e}")
            };
            return error(
                app.aws,
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                &detail,
            );
        }
    };
    if app.aws {
        let check = match kind {
            Kind::User => aws::check_user_patch(&req.operations),
            Kind::Group => aws::check_group_patch(&req.operations),
        };
        if let Err(d) = check {
            return error(true, StatusCode::BAD_REQUEST, None, &d);
        }
    }
    let mut inner = lock(&app.inner);
    let im = if_match(app, headers);
    let aws_user = app.aws && kind == Kind::User;
    let check = move |r: &Map<String, Value>| -> Result<(), StoreError> {
        if aws_user {
            aws::check_user(r, false).map_err(|d| StoreError::invalid("invalidValue", d))
        } else {
            Ok(())
        }
    };
    let (res, muts) = match inner
        .store
        .patch(kind, id, &req.operations, im.as_deref(), &check)
    {
        Ok(x) => x,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    if app.aws && kind == Kind::Group {
        // PatchGroup answers 204 with no body (AWS developer guide, PatchGroup example).
        return Reply::empty(StatusCode::NO_CONTENT);
    }
    one(app, &inner.store, kind, &res, uri, base, StatusCode::OK)
}

fn delete(app: &App, kind: Kind, id: &str, headers: &HeaderMap) -> Reply {
    let mut inner = lock(&app.inner);
    let im = if_match(app, headers);
    let muts = match inner.store.delete(kind, id, im.as_deref()) {
        Ok(m) => m,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    Reply::empty(StatusCode::NO_CONTENT)
}
