//! The SCIM client against servers: an in-test mock (axum on 127.0.0.1:0) that scripts the
//! answers a real server would rarely give on demand (429 storms, repeated pages, 5xx), and
//! scim2-server, a real third-party implementation, through the shared client suite. The
//! emulator's tests call `client_suite` too, so that roster's own server is held to the same
//! behaviour.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use roster::scim::dialect::{self, member_op_count};
use roster::scim::membership::{self, Strategy};
use roster::scim::resource::{
    Group, MultiValue, Name, PatchOp, PatchRequest, Reference, User, GROUP_SCHEMA, USER_SCHEMA,
};
use roster::scim::Dialect;
use roster::scim::RateLimits;
use roster::scim::{
    ClientOptions, Credentials, Filter, PagingError, ReadOnlyClient, ScimClient, ScimClientError,
};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The mock server

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    /// The raw query string, exactly as sent (so a bare `cursor` is visible).
    pub query: String,
    pub authorization: Option<String>,
    pub if_match: Option<String>,
    pub body: Option<Value>,
}

impl Seen {
    /// The decoded query parameters.
    pub fn params(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

type Handler = dyn Fn(&Seen, usize) -> Response + Send + Sync;

/// An HTTP server on 127.0.0.1 that answers every request with `handler(request, n)` (n = how
/// many requests came before) and records what it received. Stopped when dropped.
pub struct Mock {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    pub async fn start(handler: impl Fn(&Seen, usize) -> Response + Send + Sync + 'static) -> Mock {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let app = {
            let seen = seen.clone();
            Router::new().fallback(
                move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let seen = seen.clone();
                    let handler = handler.clone();
                    async move {
                        let req = Seen {
                            method,
                            path: uri.path().to_string(),
                            query: uri.query().unwrap_or("").to_string(),
                            authorization: headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string),
                            if_match: headers
                                .get("if-match")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string),
                            body: serde_json::from_slice(&body).ok(),
                        };
                        let n = {
                            let mut s = seen.lock().expect("lock");
                            s.push(req.clone());
                            s.len() - 1
                        };
                        handler(&req, n)
                    }
                },
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Mock {
            url: format!("http://{addr}"),
            seen,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn scim(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "application/scim+json")],
        body.to_string(),
    )
        .into_response()
}

fn error_body(status: u16, scim_type: Option<&str>, detail: &str) -> Response {
    let mut b = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        b["scimType"] = json!(t);
    }
    scim(status, b)
}

fn user_json(id: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "id": id, "userName": format!("{id}@example.com")})
}

fn list(ids: &[&str], total: Option<u64>, next_cursor: Option<&str>) -> Value {
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "itemsPerPage": ids.len(),
        "Resources": ids.iter().map(|i| user_json(i)).collect::<Vec<_>>(),
    });
    if let Some(t) = total {
        v["totalResults"] = json!(t);
    }
    if let Some(c) = next_cursor {
        v["nextCursor"] = json!(c);
    }
    v
}

const TOKEN: &str = "tok-3f9a-very-secret";

fn options(url: &str, dialect: Dialect) -> ClientOptions {
    let mut o = ClientOptions::new(url, Credentials::bearer(TOKEN), dialect);
    // Tests should not wait for production backoff.
    o.backoff_base = Duration::from_millis(5);
    o.backoff_max = Duration::from_millis(50);
    o.max_attempts = 4;
    o
}

fn client(url: &str, dialect: Dialect) -> ScimClient {
    ScimClient::new(options(url, dialect)).expect("client")
}

// ---------------------------------------------------------------------------------------------
// Paging

#[tokio::test]
async fn aws_cursor_paging_sends_bare_cursor_first() {
    let mock = Mock::start(|req, _| match req.query.as_str() {
        // The first request must carry `cursor` with no value, literally.
        "cursor&count=100" | "cursor=&count=100" => {
            scim(200, list(&["a", "b"], None, Some("c/2+")))
        }
        "cursor=c%2F2%2B&count=100" => scim(200, list(&["c"], None, None)),
        q => error_body(400, None, &format!("unexpected query {q}")),
    })
    .await;
    let c = client(&mock.url, Dialect::AwsIdentityCenter);
    let users = c.list_users(None).await.expect("list");
    let ids: Vec<_> = users.iter().filter_map(|u| u.id.clone()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    let seen = mock.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].query.starts_with("cursor&") || seen[0].query.starts_with("cursor=&"));
    assert_eq!(seen[1].params()["cursor"], "c/2+");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn aws_filter_travels_with_cursor() {
    let mock = Mock::start(|_, _| scim(200, list(&["a"], None, None))).await;
    let c = client(&mock.url, Dialect::AwsIdentityCenter);
    let f = Filter::eq("userName", "o\"brien@example.com");
    c.list_users(Some(&f)).await.expect("list");
    let seen = mock.seen();
    assert_eq!(
        seen[0].params()["filter"],
        r#"userName eq "o\"brien@example.com""#
    );
    assert!(seen[0].query.starts_with("cursor&"), "{}", seen[0].query);
}

#[tokio::test]
async fn repeated_cursor_fails_closed() {
    let mock = Mock::start(|_, n| scim(200, list(&[&format!("u{n}")], None, Some("same")))).await;
    let c = client(&mock.url, Dialect::AwsIdentityCenter);
    let e = c.list_users(None).await.expect_err("must fail");
    assert!(
        matches!(
            &e,
            ScimClientError::Paging {
                source: PagingError::RepeatedCursor { .. },
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(mock.seen().len(), 2, "stops at the first repeat");
}

#[tokio::test]
async fn repeated_page_fails_closed() {
    // A server that ignores startIndex answers the first page forever.
    let mock = Mock::start(|_, _| scim(200, list(&["a", "b"], Some(10), None))).await;
    let mut o = options(&mock.url, Dialect::Generic);
    o.page_size = Some(2);
    let c = ScimClient::new(o).expect("client");
    let e = c.list_users(None).await.expect_err("must fail");
    assert!(
        matches!(
            &e,
            ScimClientError::Paging {
                source: PagingError::RepeatedItem { .. },
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(mock.seen().len(), 2);
}

#[tokio::test]
async fn truncated_paging_fails_closed() {
    // Claims 5, sends 2, then an empty page.
    let mock = Mock::start(|req, _| {
        let start: u64 = req
            .params()
            .get("startIndex")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        if start == 1 {
            scim(200, list(&["a", "b"], Some(5), None))
        } else {
            scim(200, list(&[], Some(5), None))
        }
    })
    .await;
    let c = client(&mock.url, Dialect::Generic);
    let e = c.list_users(None).await.expect_err("must fail");
    assert!(
        matches!(
            &e,
            ScimClientError::Paging {
                source: PagingError::CountMismatch {
                    claimed: 5,
                    received: 2,
                    ..
                },
                ..
            }
        ),
        "{e}"
    );
    // No totalResults at all: no proof of completeness.
    let mock = Mock::start(|_, _| scim(200, list(&["a"], None, None))).await;
    let e = client(&mock.url, Dialect::Generic)
        .list_users(None)
        .await
        .expect_err("must fail");
    assert!(e.to_string().contains("totalResults"), "{e}");
}

#[tokio::test]
async fn index_paging_walks_pages() {
    let mock = Mock::start(|req, _| {
        let p = req.params();
        let start: usize = p["startIndex"].parse().expect("start");
        let count: usize = p["count"].parse().expect("count");
        let ids: Vec<String> = (start..=250).take(count).map(|i| format!("u{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        scim(200, list(&refs, Some(250), None))
    })
    .await;
    let c = client(&mock.url, Dialect::Generic);
    assert_eq!(c.list_users(None).await.expect("list").len(), 250);
    assert_eq!(mock.seen().len(), 3);
    assert_eq!(c.counts().get, 3);
}

// ---------------------------------------------------------------------------------------------
// Retries and errors

#[tokio::test]
async fn throttled_request_honours_retry_after_then_succeeds() {
    let mock = Mock::start(|_, n| {
        if n == 0 {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                "slow down",
            )
                .into_response()
        } else {
            scim(200, user_json("a"))
        }
    })
    .await;
    let c = client(&mock.url, Dialect::Generic);
    let t0 = Instant::now();
    let u = c.get_user("a").await.expect("second attempt succeeds");
    assert_eq!(u.id.as_deref(), Some("a"));
    assert!(
        t0.elapsed() >= Duration::from_millis(990),
        "{:?}",
        t0.elapsed()
    );
    let counts = c.counts();
    assert_eq!((counts.get, counts.throttled, counts.retries), (2, 1, 1));
    // The generic (unlimited) read budget slowed down after the 429.
    assert!(c.read_rate().is_some());
}

#[tokio::test]
async fn a_retry_after_longer_than_the_throttle_budget_fails_at_once_instead_of_waiting() {
    // Retry-After: 86400 used to keep roster silent for minutes before it failed anyway.
    let mock = Mock::start(|_, _| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "86400")],
            "come back tomorrow",
        )
            .into_response()
    })
    .await;
    let c = client(&mock.url, Dialect::Generic);
    let t0 = Instant::now();
    let e = c.get_user("a").await.expect_err("not waited for");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let text = e.to_string();
    assert!(text.contains("Retry-After: 86400 s"), "{text}");
    assert!(text.contains("throttle budget"), "{text}");
    assert_eq!(mock.seen().len(), 1, "one request, no retry");
}

#[tokio::test]
async fn server_errors_are_retried() {
    let mock = Mock::start(|_, n| {
        if n < 2 {
            error_body(503, None, "busy")
        } else {
            scim(200, user_json("a"))
        }
    })
    .await;
    let c = client(&mock.url, Dialect::Generic);
    c.get_user("a").await.expect("third attempt succeeds");
    assert_eq!(c.counts().get, 3);

    // Still failing after the last attempt: the message says so.
    let mock = Mock::start(|_, _| error_body(500, None, "database down")).await;
    let c = client(&mock.url, Dialect::Generic);
    let e = c.get_user("a").await.expect_err("fails");
    let m = e.to_string();
    assert!(m.contains("after 4 attempt"), "{m}");
    assert!(m.contains("database down"), "{m}");
}

#[tokio::test]
async fn not_implemented_is_not_retried() {
    // 501 says the server will never do this; asking again only burns time.
    let mock = Mock::start(|_, _| error_body(501, None, "PUT is not supported")).await;
    let c = client(&mock.url, Dialect::Generic);
    let e = c.get_user("a").await.expect_err("fails");
    assert_eq!(mock.seen().len(), 1, "501 is not retried");
    let m = e.to_string();
    assert!(
        m.contains("501 Not Implemented") && m.contains("not retried"),
        "{m}"
    );
    assert!(m.contains("PUT is not supported"), "{m}");
}

#[tokio::test]
async fn unauthorized_on_a_generic_target_does_not_talk_of_aws() {
    let mock = Mock::start(|_, _| error_body(401, None, "bad token")).await;
    let c = client(&mock.url, Dialect::Generic);
    let m = c.list_users(None).await.expect_err("401").to_string();
    assert!(m.contains("bearer token was refused"), "{m}");
    assert!(!m.contains("AWS") && !m.contains("tenant"), "{m}");
}

#[tokio::test]
async fn create_is_not_retried_after_server_error() {
    // The create may have taken effect; apply looks it up before trying again.
    let mock = Mock::start(|_, _| error_body(502, None, "bad gateway")).await;
    let c = client(&mock.url, Dialect::Generic);
    let e = c.create_user(&User::default()).await.expect_err("fails");
    assert!(e.outcome_unknown());
    assert_eq!(mock.seen().len(), 1);
}

#[tokio::test]
async fn bad_request_is_not_retried_and_shows_detail() {
    let mock =
        Mock::start(|_, _| error_body(400, Some("invalidValue"), "nickName is not a string")).await;
    let c = client(&mock.url, Dialect::Generic);
    let e = c.get_user("a").await.expect_err("fails");
    assert_eq!(mock.seen().len(), 1);
    let m = e.to_string();
    assert!(
        m.contains("nickName is not a string") && m.contains("invalidValue"),
        "{m}"
    );
}

#[tokio::test]
async fn unauthorized_message_and_token_redaction() {
    // A server that echoes the credentials back in its error detail.
    let mock = Mock::start(|req, _| {
        let echo = req.authorization.clone().unwrap_or_default();
        error_body(401, None, &format!("invalid credentials: {echo}"))
    })
    .await;
    let c = client(&mock.url, Dialect::AwsIdentityCenter);
    let e = c.list_users(None).await.expect_err("401");
    let m = e.to_string();
    assert!(m.contains("expired or revoked"), "{m}");
    assert!(m.contains("tenant URL or region"), "{m}");
    assert!(!m.contains(TOKEN), "{m}");
    assert!(!format!("{e:?}").contains(TOKEN));
    assert!(m.contains("[REDACTED]"), "{m}");
    assert_eq!(mock.seen().len(), 1, "401 is not retried");
    // Neither the client nor its options print the token.
    assert!(!format!("{c:?}").contains(TOKEN));
    assert!(!format!("{:?}", options(&mock.url, Dialect::Generic)).contains(TOKEN));
}

#[tokio::test]
async fn conflict_message_names_attribute() {
    let mock = Mock::start(|_, _| {
        error_body(
            409,
            Some("uniqueness"),
            "One or more of the attribute values are already in use: userName",
        )
    })
    .await;
    let c = client(&mock.url, Dialect::Generic);
    let e = c.create_user(&User::default()).await.expect_err("409");
    assert!(e.is_conflict());
    assert_eq!(e.conflicting_attribute(), Some("userName"));
    let m = e.to_string();
    assert!(
        m.contains("already has this userName") && m.contains("already in use"),
        "{m}"
    );
}

#[tokio::test]
async fn network_error_names_the_host() {
    // Bind then drop a listener: the port is closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut o = options(&format!("http://127.0.0.1:{port}"), Dialect::Generic);
    o.max_attempts = 2;
    let e = ScimClient::new(o)
        .expect("client")
        .get_user("a")
        .await
        .expect_err("refused");
    let m = e.to_string();
    assert!(m.contains(&format!("127.0.0.1:{port}")), "{m}");
    assert!(m.contains("after 2 attempt"), "{m}");
}

#[tokio::test]
async fn if_match_is_sent_only_where_etags_exist() {
    let mock = Mock::start(|_, _| StatusCode::NO_CONTENT.into_response()).await;
    let p = PatchRequest::new(vec![PatchOp::replace("title", json!("x"))]);
    for d in [Dialect::Generic, Dialect::AwsIdentityCenter] {
        client(&mock.url, d)
            .patch_user_if_match("a", &p, Some("W/\"3\""))
            .await
            .expect("patch");
    }
    let seen = mock.seen();
    assert_eq!(seen[0].if_match.as_deref(), Some("W/\"3\""));
    assert_eq!(seen[1].if_match, None, "AWS has no ETags");
}

#[tokio::test]
async fn timed_out_read_is_retried() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server that never answers its first connection and answers the second one.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let (silent, _) = listener.accept().await.expect("accept");
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let body = user_json("a").to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        sock.write_all(head.as_bytes()).await.expect("write");
        sock.write_all(body.as_bytes()).await.expect("write");
        drop(silent);
    });
    let mut o = options(&url, Dialect::Generic);
    o.timeout = Duration::from_secs(1);
    let c = ScimClient::new(o).expect("client");
    let u = c.get_user("a").await.expect("second attempt answers");
    assert_eq!(u.id.as_deref(), Some("a"));
    assert_eq!((c.counts().get, c.counts().retries), (2, 1));
    server.await.expect("server");
}

#[tokio::test]
async fn patch_204_without_body_is_read_back() {
    let mock = Mock::start(|req, _| {
        if req.method == Method::PATCH {
            StatusCode::NO_CONTENT.into_response()
        } else {
            scim(200, user_json("a"))
        }
    })
    .await;
    let c = client(&mock.url, Dialect::Generic);
    let p = PatchRequest::new(vec![PatchOp::replace("title", json!("x"))]);
    assert!(c.patch_user("a", &p).await.expect("patch").is_none());
    let u = c.patch_user_fetch("a", &p).await.expect("patch+get");
    assert_eq!(u.id.as_deref(), Some("a"));
    let methods: Vec<_> = mock.seen().iter().map(|s| s.method.clone()).collect();
    assert_eq!(methods, [Method::PATCH, Method::PATCH, Method::GET]);
}

#[tokio::test]
async fn aws_rules_refuse_before_sending() {
    let mock = Mock::start(|_, _| scim(200, json!({}))).await;
    let c = client(&mock.url, Dialect::AwsIdentityCenter);
    let replace_all = PatchRequest::new(vec![PatchOp::replace("members", json!([]))]);
    let e = c.patch_group("g", &replace_all).await.expect_err("refused");
    assert!(matches!(e, ScimClientError::Dialect { .. }), "{e}");
    let big = Group {
        display_name: "big".into(),
        members: (0..101)
            .map(|i| Reference {
                value: format!("u{i}"),
                ..Reference::default()
            })
            .collect(),
        ..Group::default()
    };
    assert!(c.create_group(&big).await.is_err());
    let e = c
        .list_users(Some(&Filter::compare(
            "userName",
            roster::scim::filter::FilterOp::Sw,
            "a",
        )))
        .await
        .expect_err("sw refused");
    assert!(e.to_string().contains("`sw`"), "{e}");
    assert!(mock.seen().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Read-only mode

#[tokio::test]
async fn read_only_client_never_sends_anything_but_get() {
    let mock = Mock::start(|req, _| {
        if req.method == Method::GET {
            scim(200, list(&["a"], Some(1), None))
        } else {
            scim(201, user_json("created"))
        }
    })
    .await;
    let reader = ReadOnlyClient::new(options(&mock.url, Dialect::Generic)).expect("client");
    assert_eq!(reader.list_users(None).await.expect("list").len(), 1);

    // The runtime guard: a client built read-only refuses writes at its single send, whatever
    // entry point is used.
    let mut o = options(&mock.url, Dialect::Generic);
    o.read_only = true;
    let guarded = ScimClient::new(o).expect("client");
    for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let e = guarded
            .send(m, "/Users", Some(&json!({})), 0)
            .await
            .expect_err("refused");
        assert!(matches!(e, ScimClientError::ReadOnly { .. }), "{e}");
    }
    assert!(guarded.create_user(&User::default()).await.is_err());
    assert!(guarded.delete_group("g").await.is_err());
    let p = PatchRequest::new(vec![PatchOp::replace("active", json!(false))]);
    assert!(guarded.patch_user("a", &p).await.is_err());
    // A read-only view of a writing client is read-only too.
    let writer = client(&mock.url, Dialect::Generic);
    let view = writer.reader();
    assert!(view.get("/Users?startIndex=1&count=1").await.is_ok());

    let seen = mock.seen();
    assert!(seen.iter().all(|s| s.method == Method::GET), "{seen:?}");
    assert_eq!(seen.len(), 2);
    assert_eq!(guarded.counts().refused, 7);
    assert_eq!(guarded.counts().writes(), 0);
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[tokio::test]
async fn read_budget_spaces_requests() {
    let mock = Mock::start(|_, _| scim(200, user_json("a"))).await;
    let mut o = options(&mock.url, Dialect::Generic);
    o.rate = RateLimits {
        reads_per_second: Some(20.0),
        writes_per_second: None,
        member_operations_per_second: None,
    };
    let c = ScimClient::new(o).expect("client");
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let c = c.clone();
        set.spawn(async move { c.get_user("a").await });
    }
    while let Some(r) = set.join_next().await {
        r.expect("join").expect("get");
    }
    // 10 reads at 20/s: the last may leave 9/20 s after the first, not before.
    assert!(
        t0.elapsed() >= Duration::from_millis(440),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(c.counts().get, 10);
}

#[tokio::test]
async fn membership_budget_counts_each_member() {
    let mock =
        Mock::start(|req, _| scim(200, req.body.clone().unwrap_or(json!({"id": "g"})))).await;
    let mut o = options(&mock.url, Dialect::AwsIdentityCenter);
    o.rate = RateLimits {
        reads_per_second: None,
        writes_per_second: None,
        member_operations_per_second: Some(100.0),
    };
    let c = ScimClient::new(o).expect("client");
    let add: Vec<String> = (0..150).map(|i| format!("u{i}")).collect();
    let t0 = Instant::now();
    for p in dialect::member_patches(Dialect::AwsIdentityCenter, "g", &add, &[]) {
        c.patch_group("g", &p).await.expect("patch");
    }
    // 100 ops go at once, the next 50 wait for the first 100 to be paid (1 s at 100/s).
    assert!(
        t0.elapsed() >= Duration::from_millis(990),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(c.counts().member_ops, 150);
    assert_eq!(c.counts().patch, 2);
}

// ---------------------------------------------------------------------------------------------
// Memberships

/// An AWS-like server: groups come without members; users are found by `groups.value`, groups
/// by `members.value`. Membership: user uN is in group g(N mod groups).
async fn aws_membership_mock(groups: usize, users: usize) -> Mock {
    Mock::start(move |req, _| {
        let p = req.params();
        let filter = p.get("filter").cloned().unwrap_or_default();
        let quoted = filter.split('"').nth(1).unwrap_or("").to_string();
        let page = |ids: Vec<String>, kind: &str| {
            let resources: Vec<Value> = ids
                .iter()
                .map(|i| json!({"id": i, "userName": i, "displayName": i, "members": []}))
                .collect();
            let _ = kind;
            scim(
                200,
                json!({"itemsPerPage": resources.len(), "Resources": resources}),
            )
        };
        match req.path.as_str() {
            "/Users" if filter.starts_with("groups.value eq") => {
                let g: usize = quoted.trim_start_matches('g').parse().unwrap_or(usize::MAX);
                page(
                    (0..users)
                        .filter(|u| u % groups == g)
                        .map(|u| format!("u{u}"))
                        .collect(),
                    "users",
                )
            }
            "/Groups" if filter.starts_with("members.value eq") => {
                let u: usize = quoted.trim_start_matches('u').parse().unwrap_or(usize::MAX);
                page(vec![format!("g{}", u % groups)], "groups")
            }
            _ => error_body(400, None, "unexpected"),
        }
    })
    .await
}

#[tokio::test]
async fn membership_strategy_per_group_when_few_groups() {
    let mock = aws_membership_mock(3, 60).await;
    let c = client(&mock.url, Dialect::AwsIdentityCenter);
    let gids: Vec<String> = (0..3).map(|g| format!("g{g}")).collect();
    let uids: Vec<String> = (0..60).map(|u| format!("u{u}")).collect();
    let (strategy, m) = membership::read_memberships(&c.reader(), &gids, &uids, &[])
        .await
        .expect("read");
    assert_eq!(strategy, Strategy::PerGroup);
    assert_eq!(m["g1"].len(), 20);
    assert!(m["g1"].contains("u4"));
    assert_eq!(mock.seen().len(), 3);
}

#[tokio::test]
async fn membership_strategy_per_user_when_many_groups() {
    let mock = aws_membership_mock(50, 10).await;
    let c = client(&mock.url, Dialect::AwsIdentityCenter);
    // Only 20 of the 50 groups are managed: the others are never reported.
    let gids: Vec<String> = (0..20).map(|g| format!("g{g}")).collect();
    let uids: Vec<String> = (0..10).map(|u| format!("u{u}")).collect();
    let (strategy, m) = membership::read_memberships(&c.reader(), &gids, &uids, &[])
        .await
        .expect("read");
    assert_eq!(strategy, Strategy::PerUser);
    assert_eq!(mock.seen().len(), 10);
    assert_eq!(m.len(), 20);
    assert_eq!(m["g3"], BTreeSet::from(["u3".to_string()]));
    assert!(m["g15"].is_empty());
    assert!(mock.seen().iter().all(|s| s.path == "/Groups"));
}

#[tokio::test]
async fn generic_membership_uses_listed_members() {
    let mock = Mock::start(|_, _| error_body(500, None, "should not be called")).await;
    let c = client(&mock.url, Dialect::Generic);
    let g = Group {
        id: Some("g".into()),
        members: vec![Reference {
            value: "u1".into(),
            ..Reference::default()
        }],
        ..Group::default()
    };
    let (strategy, m) =
        membership::read_memberships(&c.reader(), &["g".to_string()], &["u1".to_string()], &[g])
            .await
            .expect("read");
    assert_eq!(strategy, Strategy::FromGroups);
    assert_eq!(m["g"], BTreeSet::from(["u1".to_string()]));
    assert!(mock.seen().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The shared client suite

/// Users the suite creates.
pub const SUITE_USERS: usize = 250;
/// Members of the suite's big group (more than AWS's 100 per request).
const SUITE_GROUP_MEMBERS: usize = 150;

fn suite_user(prefix: &str, i: usize) -> User {
    User {
        schemas: vec![USER_SCHEMA.to_string()],
        user_name: format!("{prefix}-user-{i:03}@example.com"),
        external_id: Some(format!("{prefix}-e{i:03}")),
        name: Some(Name {
            given_name: Some(format!("Given{i}")),
            family_name: Some(format!("Family{i}")),
            ..Name::default()
        }),
        display_name: Some(format!("Given{i} Family{i}")),
        active: Some(true),
        emails: vec![MultiValue {
            value: Some(format!("{prefix}-user-{i:03}@example.com")),
            kind: Some("work".into()),
            primary: Some(true),
            ..MultiValue::default()
        }],
        ..User::default()
    }
}

async fn concurrently<T, F, Fut>(c: &ScimClient, items: Vec<T>, f: F) -> Vec<Fut::Output>
where
    T: Send + 'static,
    F: Fn(ScimClient, T) -> Fut,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let fut = f(c.clone(), item);
        set.spawn(async move { (i, fut.await) });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task"));
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

async fn members_of(c: &ScimClient, gid: &str, user_ids: &[String]) -> BTreeSet<String> {
    let reader = c.reader();
    let listed = if c.capabilities().groups_list_members {
        reader.list_groups(None).await.expect("list groups")
    } else {
        Vec::new()
    };
    let (_, m) = membership::read_memberships(&reader, &[gid.to_string()], user_ids, &listed)
        .await
        .expect("memberships");
    m.get(gid).cloned().unwrap_or_default()
}

/// Drives a SCIM server through everything roster does: create, get, list with paging, filters,
/// patch (attributes and members), replace, delete, groups with more than 100 members. Panics
/// on the first deviation. `base_url` must reach a server that accepts `token` as a bearer
/// token; it may hold other objects (the suite's names carry a random prefix). Returns the
/// requests it sent, by kind.
pub async fn client_suite(
    base_url: &str,
    token: &str,
    dialect: Dialect,
) -> roster::scim::RequestCounts {
    let mut o = ClientOptions::new(base_url, Credentials::bearer(token), dialect);
    o.page_size = Some(100);
    o.backoff_base = Duration::from_millis(20);
    let c = ScimClient::new(o).expect("client");
    let prefix = format!("suite{:06x}", rand::random::<u32>() & 0xff_ffff);

    // Discovery.
    let spc = c
        .service_provider_config()
        .await
        .expect("ServiceProviderConfig");
    assert!(
        spc.get("patch").is_some(),
        "ServiceProviderConfig without patch: {spc}"
    );

    // Create.
    let created: Vec<User> = concurrently(&c, (0..SUITE_USERS).collect(), {
        let prefix = prefix.clone();
        move |c, i| {
            let u = suite_user(&prefix, i);
            async move { c.create_user(&u).await }
        }
    })
    .await
    .into_iter()
    .map(|r| r.expect("create user"))
    .collect();
    let ids: Vec<String> = created.iter().map(|u| u.id.clone().expect("id")).collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        SUITE_USERS,
        "ids are unique"
    );
    assert!(created[0]
        .user_name
        .eq_ignore_ascii_case(&suite_user(&prefix, 0).user_name));

    // Get.
    let u7 = c.get_user(&ids[7]).await.expect("get user");
    assert_eq!(u7.external_id.as_deref(), Some(&*format!("{prefix}-e007")));
    assert_eq!(
        u7.name.as_ref().and_then(|n| n.given_name.as_deref()),
        Some("Given7")
    );

    // List with paging: at least 3 pages of 100.
    let before = c.counts().get;
    let all = c.list_users(None).await.expect("list users");
    let listed: BTreeSet<&str> = all.iter().filter_map(|u| u.id.as_deref()).collect();
    assert!(
        ids.iter().all(|id| listed.contains(id.as_str())),
        "every created user is listed"
    );
    assert!(c.counts().get - before >= 3, "listed in pages of 100");

    // Filters: userName (other case too: userName is case-insensitive) and externalId.
    let by_name = c
        .list_users(Some(&Filter::eq(
            "userName",
            &suite_user(&prefix, 7).user_name,
        )))
        .await
        .expect("filter userName");
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].id, u7.id);
    let by_ext = c
        .list_users(Some(&Filter::eq("externalId", &format!("{prefix}-e008"))))
        .await
        .expect("filter externalId");
    assert_eq!(by_ext.len(), 1);
    assert_eq!(by_ext[0].id.as_deref(), Some(ids[8].as_str()));
    // A value with a quote and a backslash travels escaped. It must not match anything; a server
    // that cannot parse escapes (SCIMMY 1.3.5) may refuse it with 400, which is just as safe.
    let odd = format!("{prefix}-\"no such\\user");
    match c.list_users(Some(&Filter::eq("userName", &odd))).await {
        Ok(none) => assert!(none.is_empty()),
        Err(e) => assert_eq!(e.status(), Some(400), "{e}"),
    }

    // Patch: replace attributes, one operation on active.
    let p = PatchRequest::new(vec![
        PatchOp::replace("displayName", json!("Renamed One")),
        PatchOp::replace("active", json!(false)),
    ]);
    let u1 = c.patch_user_fetch(&ids[1], &p).await.expect("patch user");
    assert_eq!(u1.display_name.as_deref(), Some("Renamed One"));
    assert_eq!(u1.active, Some(false));
    let p = PatchRequest::new(vec![PatchOp::replace("name.givenName", json!("Neo"))]);
    let u1 = c
        .patch_user_fetch(&ids[1], &p)
        .await
        .expect("patch sub-attribute");
    assert_eq!(
        u1.name.as_ref().and_then(|n| n.given_name.as_deref()),
        Some("Neo")
    );
    assert_eq!(
        u1.name.as_ref().and_then(|n| n.family_name.as_deref()),
        Some("Family1")
    );

    // Replace (PUT).
    let mut u2 = c.get_user(&ids[2]).await.expect("get");
    u2.display_name = Some("Replaced Two".into());
    u2.meta = None;
    c.replace_user(&ids[2], &u2).await.expect("put");
    let u2 = c.get_user(&ids[2]).await.expect("get after put");
    assert_eq!(u2.display_name.as_deref(), Some("Replaced Two"));
    assert_eq!(u2.external_id.as_deref(), Some(&*format!("{prefix}-e002")));

    // Preconditions: where the server keeps versions, a stale one is refused with 412.
    let u3 = c.get_user(&ids[3]).await.expect("get");
    let version = u3.meta.as_ref().and_then(|m| m.version.clone());
    if let (Some(version), true) = (version, c.capabilities().etags) {
        let p = PatchRequest::new(vec![PatchOp::replace("displayName", json!("Three"))]);
        let e = c
            .patch_user_if_match(&ids[3], &p, Some("W/\"stale-0\""))
            .await
            .expect_err("stale version");
        assert_eq!(e.status(), Some(412), "{e}");
        c.patch_user_if_match(&ids[3], &p, Some(&version))
            .await
            .expect("current version");
    }

    // A duplicate userName is a 409.
    let e = c
        .create_user(&suite_user(&prefix, 3))
        .await
        .expect_err("duplicate");
    assert!(e.is_conflict(), "{e}");

    // Groups: created with more members than one AWS request may carry.
    let group = Group {
        schemas: vec![GROUP_SCHEMA.to_string()],
        display_name: format!("{prefix}-group"),
        external_id: Some(format!("{prefix}-g1")),
        members: ids[..SUITE_GROUP_MEMBERS]
            .iter()
            .map(|id| Reference {
                value: id.clone(),
                ..Reference::default()
            })
            .collect(),
        ..Group::default()
    };
    let g = c.create_group_chunked(&group).await.expect("create group");
    let gid = g.id.clone().expect("group id");
    let expected: BTreeSet<String> = ids[..SUITE_GROUP_MEMBERS].iter().cloned().collect();
    assert_eq!(members_of(&c, &gid, &ids).await, expected);

    // Members: add 100, remove 120, in patches the dialect allows.
    let add: Vec<String> = ids[SUITE_GROUP_MEMBERS..].to_vec();
    let remove: Vec<String> = ids[..120].to_vec();
    let patches = dialect::member_patches(dialect, &gid, &add, &remove);
    if dialect == Dialect::AwsIdentityCenter {
        assert!(patches.len() >= 3);
        assert!(patches.iter().all(|p| member_op_count(p) <= 100));
    }
    for p in &patches {
        c.patch_group(&gid, p).await.expect("member patch");
    }
    let expected: BTreeSet<String> = ids[120..].iter().cloned().collect();
    assert_eq!(members_of(&c, &gid, &ids).await, expected);

    // Rename the group, find it by displayName and externalId.
    let p = PatchRequest::new(vec![PatchOp::replace(
        "displayName",
        json!(format!("{prefix}-renamed")),
    )]);
    c.patch_group(&gid, &p).await.expect("rename group");
    let found = c
        .list_groups(Some(&Filter::eq(
            "displayName",
            &format!("{prefix}-renamed"),
        )))
        .await
        .expect("filter displayName");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.as_deref(), Some(gid.as_str()));
    let found = c
        .list_groups(Some(&Filter::eq("externalId", &format!("{prefix}-g1"))))
        .await
        .expect("filter group externalId");
    assert_eq!(found.len(), 1);

    // Delete.
    c.delete_group(&gid).await.expect("delete group");
    assert!(c.get_group(&gid).await.expect_err("gone").is_not_found());
    let results = concurrently(
        &c,
        ids.clone(),
        |c, id| async move { c.delete_user(&id).await },
    )
    .await;
    for r in results {
        r.expect("delete user");
    }
    assert!(c.get_user(&ids[0]).await.expect_err("gone").is_not_found());
    let left = c
        .list_users(Some(&Filter::eq("externalId", &format!("{prefix}-e000"))))
        .await
        .expect("list after delete");
    assert!(left.is_empty());
    c.counts()
}

// ---------------------------------------------------------------------------------------------
// A small AWS-like server, so the aws variant of the suite runs here too (the emulator is the
// full one). It keeps AWS's rules that the suite depends on: cursor paging only (a request
// without `cursor` gets the legacy non-paged answer), `eq` filters on the attributes AWS lists,
// groups always answered with `members: []`, at most 100 member operations per request,
// no replace-all or remove-all of members, PATCH of a group answered 204.

#[derive(Default)]
struct FakeStore {
    users: std::collections::BTreeMap<String, Value>,
    groups: std::collections::BTreeMap<String, Value>,
    next: u64,
}

fn aws_error(status: u16, detail: &str) -> Response {
    scim(
        status,
        json!({
            "schema": "urn:ietf:params:scim:api:messages:2.0:Error",
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": status.to_string(),
            "detail": detail,
            "exceptionRequestId": "fake",
        }),
    )
}

fn parse_eq(filter: &str) -> Option<(String, String)> {
    let re = regex::Regex::new(r#"^\s*([A-Za-z.:]+)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$"#).ok()?;
    let c = re.captures(filter)?;
    let value: String = serde_json::from_str(&c[2]).ok()?;
    Some((c[1].to_string(), value))
}

fn fake_aws_handler(store: &Mutex<FakeStore>, req: &Seen) -> Response {
    let mut st = store.lock().expect("lock");
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let members_of_group = |g: &Value| -> Vec<String> {
        g["members"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let public_group = |g: &Value| {
        let mut g = g.clone();
        g["members"] = json!([]);
        g
    };
    match (req.method.clone(), segs.as_slice()) {
        (Method::GET, ["ServiceProviderConfig"]) => scim(
            200,
            serde_json::from_str(
                &fs_err::read_to_string(
                    crate::common::root()
                        .join("tests/fixtures/aws-samples/ServiceProviderConfig.json"),
                )
                .expect("sample"),
            )
            .expect("json"),
        ),
        (Method::GET, [coll @ ("Users" | "Groups")]) => {
            let p = req.params();
            let all: Vec<Value> = if *coll == "Users" {
                st.users.values().cloned().collect()
            } else {
                st.groups.values().cloned().collect()
            };
            let selected: Vec<Value> = match p.get("filter") {
                None => all,
                Some(f) => {
                    let Some((attr, value)) = parse_eq(f) else {
                        return aws_error(
                            400,
                            "Request is unparsable, syntactically incorrect, or violates schema.",
                        );
                    };
                    all.into_iter()
                        .filter(|r| match attr.as_str() {
                            "userName" | "displayName" => r[&attr]
                                .as_str()
                                .is_some_and(|v| v.eq_ignore_ascii_case(&value)),
                            "externalId" | "id" => r[&attr].as_str() == Some(value.as_str()),
                            "groups.value" => st.groups.get(&value).is_some_and(|g| {
                                members_of_group(g)
                                    .iter()
                                    .any(|m| Some(m.as_str()) == r["id"].as_str())
                            }),
                            "members.value" => members_of_group(r).contains(&value),
                            _ => false,
                        })
                        .collect()
                }
            };
            let selected: Vec<Value> = selected
                .iter()
                .map(|r| {
                    if *coll == "Groups" {
                        public_group(r)
                    } else {
                        r.clone()
                    }
                })
                .collect();
            let Some(cursor) = p.get("cursor") else {
                // The legacy answer: at most 50, with totalResults.
                let page: Vec<Value> = selected.iter().take(50).cloned().collect();
                return scim(
                    200,
                    json!({"totalResults": selected.len(), "itemsPerPage": page.len(),
                    "startIndex": 1, "Resources": page}),
                );
            };
            let count: usize = p.get("count").and_then(|c| c.parse().ok()).unwrap_or(100);
            if !(1..=100).contains(&count) {
                return aws_error(400, "count must be between 1 and 100");
            }
            let offset: usize = if cursor.is_empty() {
                0
            } else {
                match cursor.strip_prefix("o").and_then(|o| o.parse().ok()) {
                    Some(o) => o,
                    None => return aws_error(400, "invalid cursor"),
                }
            };
            let page: Vec<Value> = selected.iter().skip(offset).take(count).cloned().collect();
            let mut body = json!({"itemsPerPage": page.len(), "Resources": page});
            if offset + count < selected.len() {
                body["nextCursor"] = json!(format!("o{}", offset + count));
            }
            scim(200, body)
        }
        (Method::POST, ["Users"]) => {
            let mut u = req.body.clone().unwrap_or(json!({}));
            let name = u["userName"].as_str().unwrap_or("").to_string();
            let ext = u["externalId"].as_str().map(str::to_string);
            let dup = st.users.values().any(|o| {
                o["userName"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                    || (ext.is_some() && o["externalId"].as_str() == ext.as_deref())
            });
            if dup {
                return aws_error(409, "Refused to create a new, duplicate resource.");
            }
            st.next += 1;
            let id = format!("90677{:05}-fake", st.next);
            u["id"] = json!(id);
            st.users.insert(id, u.clone());
            scim(201, u)
        }
        (Method::POST, ["Groups"]) => {
            let mut g = req.body.clone().unwrap_or(json!({}));
            if members_of_group(&g).len() > 100 {
                return aws_error(
                    400,
                    "Request is unparsable, syntactically incorrect, or violates schema.",
                );
            }
            let name = g["displayName"].as_str().unwrap_or("").to_string();
            if st.groups.values().any(|o| {
                o["displayName"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
            }) {
                return aws_error(409, "Refused to create a new, duplicate resource.");
            }
            st.next += 1;
            let id = format!("g{:05}-fake", st.next);
            g["id"] = json!(id);
            st.groups.insert(id, g.clone());
            scim(201, public_group(&g))
        }
        (Method::GET, ["Users", id]) => match st.users.get(*id) {
            Some(u) => scim(200, u.clone()),
            None => aws_error(404, "User not found"),
        },
        (Method::GET, ["Groups", id]) => match st.groups.get(*id) {
            Some(g) => scim(200, public_group(g)),
            None => aws_error(404, "Group not found"),
        },
        (Method::PUT, ["Users", id]) => {
            if !st.users.contains_key(*id) {
                return aws_error(404, "User not found");
            }
            let mut u = req.body.clone().unwrap_or(json!({}));
            u["id"] = json!(id);
            st.users.insert(id.to_string(), u.clone());
            scim(200, u)
        }
        (Method::PATCH, [coll @ ("Users" | "Groups"), id]) => {
            let is_user = *coll == "Users";
            let map = if is_user {
                &mut st.users
            } else {
                &mut st.groups
            };
            let Some(r) = map.get_mut(*id) else {
                return aws_error(404, "Resource not found");
            };
            let ops = req
                .body
                .as_ref()
                .and_then(|b| b["Operations"].as_array().cloned())
                .unwrap_or_default();
            let mut member_ops = 0;
            let mut next = r.clone();
            for op in &ops {
                let kind = op["op"].as_str().unwrap_or("").to_ascii_lowercase();
                let path = op["path"].as_str().unwrap_or("");
                let value = op["value"].clone();
                if !is_user && path == "members" {
                    if kind != "add" {
                        return aws_error(400, "Replacing group memberships is not supported.");
                    }
                    let mut cur = members_of_group(&next);
                    for m in value.as_array().cloned().unwrap_or_default() {
                        member_ops += 1;
                        let v = m["value"].as_str().unwrap_or("").to_string();
                        if !cur.contains(&v) {
                            cur.push(v);
                        }
                    }
                    next["members"] =
                        json!(cur.iter().map(|v| json!({"value": v})).collect::<Vec<_>>());
                } else if !is_user && path.starts_with("members[") {
                    member_ops += 1;
                    let Some((_, v)) =
                        parse_eq(path.trim_start_matches("members[").trim_end_matches(']'))
                    else {
                        return aws_error(400, "bad member filter");
                    };
                    let cur: Vec<String> = members_of_group(&next)
                        .into_iter()
                        .filter(|m| *m != v)
                        .collect();
                    next["members"] =
                        json!(cur.iter().map(|v| json!({"value": v})).collect::<Vec<_>>());
                } else if kind == "replace" || kind == "add" {
                    let mut target = &mut next;
                    let parts: Vec<&str> = path.split('.').collect();
                    for part in &parts[..parts.len() - 1] {
                        if target.get(*part).is_none() {
                            target[*part] = json!({});
                        }
                        target = &mut target[*part];
                    }
                    target[parts[parts.len() - 1]] = value;
                } else {
                    return aws_error(400, "unsupported operation");
                }
            }
            if member_ops > 100 {
                return aws_error(
                    400,
                    "Request is unparsable, syntactically incorrect, or violates schema.",
                );
            }
            *r = next.clone();
            if is_user {
                scim(200, next)
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        (Method::DELETE, [coll @ ("Users" | "Groups"), id]) => {
            let map = if *coll == "Users" {
                &mut st.users
            } else {
                &mut st.groups
            };
            match map.remove(*id) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => aws_error(404, "Resource not found"),
            }
        }
        _ => aws_error(400, "unsupported"),
    }
}

/// Starts the AWS-like fake; requests must carry `Bearer <token>`.
pub async fn fake_aws(token: &'static str) -> Mock {
    let store = Arc::new(Mutex::new(FakeStore::default()));
    Mock::start(move |req, _| {
        if req.authorization.as_deref() != Some(&*format!("Bearer {token}")) {
            return aws_error(401, "The request could not be authorized.");
        }
        fake_aws_handler(&store, req)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_aws_passes_client_suite() {
    let fake = fake_aws("aws-suite-token").await;
    let counts = client_suite(&fake.url, "aws-suite-token", Dialect::AwsIdentityCenter).await;
    let seen = fake.seen();
    // Every list went cursor-paged, every group request within AWS's limits.
    assert!(seen
        .iter()
        .filter(|s| s.method == Method::GET && (s.path == "/Users" || s.path == "/Groups"))
        .all(|s| s.query.starts_with("cursor")));
    assert!(seen.iter().any(|s| s
        .params()
        .get("filter")
        .is_some_and(|f| f.starts_with("groups.value eq"))));
    assert_eq!(counts.throttled, 0);
    report("fake AWS", &counts);
}

/// The suite's request counts, for the interop log (`--nocapture` shows them).
fn report(server: &str, counts: &roster::scim::RequestCounts) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("client suite against {server}: {counts:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// scim2-server

/// A scim2-server process on 127.0.0.1, killed by pid when dropped (also on panic).
pub struct Scim2Server {
    child: std::process::Child,
    pub url: String,
    _log_dir: tempfile::TempDir,
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How SCIM-SERVERS.md starts it: with the listen backlog raised (its default of 5 resets
/// connections under concurrency).
const SCIM2_LAUNCHER: &str = "import sys, scim2_server.testserver.cli as c; \
c.ThreadingWSGIServer.request_queue_size = 1024; sys.argv[0]='scim2-server'; c.main()";

impl Scim2Server {
    pub async fn start(python: &str, token: &str) -> Scim2Server {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let log = fs_err::File::create(dir.path().join("scim2-server.log")).expect("log");
        let child = std::process::Command::new(python)
            .args(["-c", SCIM2_LAUNCHER, "--hostname", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--bearer-token", token])
            .stdout(log.try_clone().expect("log").into_parts().0)
            .stderr(log.into_parts().0)
            .spawn()
            .expect("start scim2-server");
        let mut server = Scim2Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _log_dir: dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http
                .get(format!("{}/ServiceProviderConfig", server.url))
                .send()
                .await
            {
                if r.status().is_success() || r.status().as_u16() == 401 {
                    break;
                }
            }
            if let Some(status) = server.child.try_wait().expect("wait") {
                let log = fs_err::read_to_string(server._log_dir.path().join("scim2-server.log"))
                    .unwrap_or_default();
                panic!("scim2-server exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "scim2-server not ready in 60 s");
            // Polling its readiness endpoint; the interval only bounds the poll rate.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }
}

/// The python of the venv `.ci/install-scim-servers.sh` made, or `None` (with a notice) when it
/// is not configured on a developer machine. Under CI its absence fails the test, so CI cannot
/// skip interop silently.
pub fn scim2_python() -> Option<String> {
    match std::env::var("ROSTER_SCIM2_PYTHON") {
        Ok(p) if !p.trim().is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "ROSTER_SCIM2_PYTHON is not set under CI: run .ci/install-scim-servers.sh and export its output"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "notice: ROSTER_SCIM2_PYTHON is not set; skipping the scim2-server interop test \
                     (export ROSTER_SCIM2_PYTHON=$(.ci/install-scim-servers.sh))"
                );
            }
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_server_passes_client_suite() {
    let Some(python) = scim2_python() else { return };
    let token = "suite-token-5e1f";
    let server = Scim2Server::start(&python, token).await;
    let counts = client_suite(&server.url, token, Dialect::Generic).await;
    assert!(counts.post >= SUITE_USERS as u64);
    report("scim2-server", &counts);

    // And a wrong token is a 401 with the message users need.
    let c = client(&server.url, Dialect::Generic);
    let e = c.list_users(None).await.expect_err("wrong token");
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(e.to_string().contains("expired or revoked"));
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// SCIMMY (npm), an independent implementation

/// A SCIMMY-based server (tests/interop/scimmy/server.js) on 127.0.0.1, killed by pid when
/// dropped.
pub struct ScimmyServer {
    child: std::process::Child,
    pub url: String,
}

impl Drop for ScimmyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ScimmyServer {
    /// `modules` is the directory holding SCIMMY's node_modules.
    pub async fn start(modules: &std::path::Path, token: &str) -> ScimmyServer {
        use std::io::BufRead;
        let script = crate::common::root().join("tests/interop/scimmy/server.js");
        let mut child = std::process::Command::new("node")
            .arg(script)
            .env("SCIMMY_MODULES", modules)
            .env("PORT", "0")
            .env("SCIM_TOKEN", token)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        // The server prints "listening <port>" once it accepts connections: no polling needed.
        let line = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                std::io::BufReader::new(stdout)
                    .read_line(&mut line)
                    .map(|_| line)
            }),
        )
        .await;
        let mut server = ScimmyServer {
            child,
            url: String::new(),
        };
        let line = match line {
            Ok(Ok(Ok(l))) => l,
            other => panic!("SCIMMY server did not start: {other:?}"),
        };
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line from SCIMMY server: {line:?}"));
        server.url = format!("http://127.0.0.1:{port}/scim/v2");
        server
    }
}

/// Where SCIMMY was installed: ROSTER_SCIMMY_DIR, or `scimmy/` beside the scim2-server venv
/// that `.ci/install-scim-servers.sh` made.
pub fn scimmy_dir() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("ROSTER_SCIMMY_DIR") {
        Some(d) => Some(std::path::PathBuf::from(d)),
        None => std::env::var_os("ROSTER_SCIM2_PYTHON").and_then(|p| {
            // <DIR>/py/bin/python -> <DIR>/scimmy
            std::path::Path::new(&p)
                .ancestors()
                .nth(3)
                .map(|d| d.join("scimmy"))
        }),
    };
    match dir {
        Some(d) if d.join("node_modules/scimmy").is_dir() => Some(d),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "SCIMMY is not installed under CI: run .ci/install-scim-servers.sh (needs npm) and export ROSTER_SCIM2_PYTHON"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!("notice: SCIMMY is not installed; skipping its interop test (.ci/install-scim-servers.sh installs it)");
            }
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scimmy_passes_client_suite() {
    let Some(dir) = scimmy_dir() else { return };
    let token = "scimmy-token-77c1";
    let server = ScimmyServer::start(&dir, token).await;
    let counts = client_suite(&server.url, token, Dialect::Generic).await;
    assert!(counts.post >= SUITE_USERS as u64);
    report("SCIMMY", &counts);
    drop(server);
}
