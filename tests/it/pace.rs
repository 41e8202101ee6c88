//! Issue 12: pacing against limits nobody configured. The emulator plays each limit shape
//! (token bucket with a small burst, fixed and sliding windows, optionally publishing its
//! state in headers, with seeded random 429s on top); the client has no `rate`. Counts stay
//! small so that CI stays fast; the emulator's own stats are the evidence.

use crate::common::EmulatorProcess;
use roster::emulator::{Dialect, Faults, LimitHeaders, LimitShape, Options, Server};
use roster::scim::resource::User;
use roster::scim::{ClientOptions, Credentials, ScimClient, ScimClientError};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

async fn server(faults: Faults) -> Server {
    let options = Options {
        dialect: Dialect::Generic,
        faults,
        ..Options::default()
    };
    Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), options)
        .await
        .expect("server starts")
}

fn client(s: &Server, budget: Option<Duration>) -> ScimClient {
    let mut o = ClientOptions::new(s.base_url(), Credentials::None, Dialect::Generic);
    o.throttle_budget = budget;
    ScimClient::new(o).expect("client")
}

async fn stats(s: &Server) -> Value {
    reqwest::get(format!("{}/_emulator/stats", s.base_url()))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

fn user(i: usize) -> User {
    serde_json::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("pace{i:04}@example.com"),
        "externalId": format!("pace-{i}"),
    }))
    .expect("user")
}

/// Creates `n` users, `parallelism` (8) at a time; returns the errors.
async fn create_all(c: &ScimClient, n: usize) -> Vec<ScimClientError> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let c = c.clone();
        set.spawn(async move { c.create_user(&user(i)).await });
    }
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Err(e) = r.expect("join") {
            errors.push(e);
        }
    }
    errors
}

/// No change fails because the server said "slow down": a token bucket of 20 writes/s with a
/// burst of 5 and 5% random 429s on top, every create ends up done, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_create_fails_for_throttling_alone() {
    for shape in [LimitShape::Bucket, LimitShape::Fixed, LimitShape::Sliding] {
        let s = server(Faults {
            rate_limit_write: Some(20),
            limit_shape: shape,
            limit_burst: Some(5),
            fail_429: 0.05,
            seed: 12,
            latency: Duration::from_millis(5),
            ..Faults::default()
        })
        .await;
        let c = client(&s, None);
        let errors = create_all(&c, 60).await;
        assert!(errors.is_empty(), "{shape:?}: {errors:?}");
        let st = stats(&s).await;
        assert_eq!(st["users"], 60, "{shape:?}: {st}");
        assert!(
            c.counts().throttled > 0,
            "{shape:?}: the server did throttle"
        );
        s.shutdown().await.expect("shutdown");
    }
}

/// The end of the throttle budget is a clear error: it names the server and the rate roster
/// had reached, and counts as a 429.
#[tokio::test]
async fn the_end_of_the_throttle_budget_names_the_server_and_the_rate() {
    let s = server(Faults {
        fail_429: 1.0,
        ..Faults::default()
    })
    .await;
    let c = client(&s, Some(Duration::from_millis(600)));
    let started = std::time::Instant::now();
    let e = c.get_user("nobody").await.expect_err("always throttled");
    assert!(started.elapsed() >= Duration::from_millis(400), "{e}");
    assert_eq!(e.status(), Some(429));
    let m = e.to_string();
    let host = s.base_url().trim_start_matches("http://").to_string();
    assert!(m.contains(&host), "{m}");
    assert!(m.contains("throttle budget"), "{m}");
    assert!(m.contains("requests/s"), "{m}");
    assert!(c.counts().get > 1, "retried until the budget ran out");
    s.shutdown().await.expect("shutdown");
}

/// Header-driven pacing never sends past a published remaining budget: against a fixed window
/// and a token bucket that publish their state (both header forms), the limit never has to
/// refuse a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_remaining_budget_is_never_overdrawn() {
    for (shape, headers) in [
        (LimitShape::Fixed, LimitHeaders::Ietf),
        (LimitShape::Fixed, LimitHeaders::X),
        (LimitShape::Bucket, LimitHeaders::Ietf),
        (LimitShape::Sliding, LimitHeaders::Ietf),
        (LimitShape::Sliding, LimitHeaders::X),
    ] {
        let s = server(Faults {
            rate_limit_write: Some(10),
            rate_limit_read: Some(10),
            limit_shape: shape,
            limit_headers: headers,
            ..Faults::default()
        })
        .await;
        let c = client(&s, None);
        let errors = create_all(&c, 25).await;
        assert!(errors.is_empty(), "{shape:?}: {errors:?}");
        let users = c.list_users(None).await.expect("list");
        assert_eq!(users.len(), 25);
        let st = stats(&s).await;
        assert_eq!(st["limited_writes"], 0, "{shape:?} {headers:?}: {st}");
        assert_eq!(st["limited_reads"], 0, "{shape:?} {headers:?}: {st}");
        assert_eq!(c.counts().throttled, 0, "{shape:?} {headers:?}");
        s.shutdown().await.expect("shutdown");
    }
}

/// `roster emulator` takes the shapes as flags and publishes the headers it was asked for.
#[tokio::test]
async fn the_emulator_flags_choose_the_shape_and_the_headers() {
    let emu = EmulatorProcess::start(&[
        "--rate-limit-read",
        "2",
        "--rate-limit-shape",
        "bucket",
        "--rate-limit-burst",
        "1",
        "--rate-limit-headers",
        "ietf",
    ]);
    let get = || reqwest::get(format!("{}/Users", emu.url));
    let first = get().await.expect("first");
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(
        first
            .headers()
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("0")
    );
    let second = get().await.expect("second");
    assert_eq!(second.status().as_u16(), 429);
    assert!(second.headers().contains_key("retry-after"));
    assert!(second.headers().contains_key("ratelimit-reset"));
    assert_eq!(emu.stats()["limited_reads"], 1);
}
