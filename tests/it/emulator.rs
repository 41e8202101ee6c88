//! The emulator: both dialects over HTTP, state across restarts and kill -9, fault injection,
//! hold-writes, and O(page) listing. Most tests run the server in-process; a few run the real
//! `roster emulator` binary.

use crate::common::{urlenc, EmulatorProcess, EMU_TOKEN_ENV};
use roster::emulator::{start_embedded, Dialect, Faults, Options, Server};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn server(dialect: Dialect, faults: Faults) -> Server {
    let options = Options {
        dialect,
        faults,
        ..Options::default()
    };
    Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), options)
        .await
        .expect("server starts")
}

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    fn new(base: String) -> Http {
        Http {
            base,
            client: reqwest::Client::new(),
        }
    }
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send_h(method, path, body, &[]).await
    }
    async fn send_h(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(m, format!("{}{}", self.base, path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn user(name: &str, ext: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name, "externalId": ext, "displayName": name,
        "name": {"givenName": "G", "familyName": "F"},
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
        "active": true
    })
}

#[tokio::test]
async fn generic_crud_filters_paging_and_etags() {
    let s = server(Dialect::Generic, Faults::default()).await;
    let h = Http::new(format!("{}/scim/v2", s.base_url()));
    let mut ids = Vec::new();
    for i in 0..5 {
        let (st, u) = h
            .send(
                "POST",
                "/Users",
                Some(user(&format!("User{i}"), &format!("e{i}"))),
            )
            .await;
        assert_eq!(st, 201, "{u}");
        assert_eq!(u["meta"]["version"], "W/\"1\"");
        ids.push(u["id"].as_str().expect("id").to_string());
    }
    let (st, err) = h.send("POST", "/Users", Some(user("user0", "other"))).await;
    assert_eq!(
        (st, err["scimType"].as_str()),
        (409, Some("uniqueness")),
        "userName is case-insensitive"
    );
    let (st, _) = h.send("POST", "/Users", Some(user("fresh", "e1"))).await;
    assert_eq!(st, 409, "externalId is unique");

    let (_, l) = h
        .send("GET", "/Users?filter=userName%20eq%20%22USER3%22", None)
        .await;
    assert_eq!(l["totalResults"], 1);
    let (_, l) = h
        .send("GET", "/Users?filter=externalId%20eq%20%22E3%22", None)
        .await;
    assert_eq!(l["totalResults"], 0, "externalId is case-exact");
    let f = "emails[type eq \"work\" and value co \"user4@\"] or userName sw \"user1\"";
    let (_, l) = h
        .send("GET", &format!("/Users?filter={}", urlenc(f)), None)
        .await;
    assert_eq!(l["totalResults"], 2);
    let (_, l) = h.send("GET", "/Users?startIndex=2&count=2", None).await;
    assert_eq!(
        (l["totalResults"].as_u64(), l["itemsPerPage"].as_u64()),
        (Some(5), Some(2))
    );
    assert_eq!(l["Resources"][0]["id"], ids[1].as_str());
    let (_, l) = h.send("GET", "/Users?attributes=userName", None).await;
    assert!(
        l["Resources"][0].get("emails").is_none() && l["Resources"][0].get("userName").is_some()
    );

    // PATCH paths and ETags.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
        {"op": "add", "path": format!("{ENT}:department"), "value": "Ops"},
        {"op": "replace", "path": format!("{ENT}:manager.value"), "value": ids[1]}
    ]});
    let (st, u) = h
        .send_h(
            "PATCH",
            &format!("/Users/{}", ids[0]),
            Some(patch.clone()),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["emails"][0]["value"], "new@example.com");
    assert_eq!(u[ENT]["manager"]["value"], ids[1].as_str());
    assert_eq!(u["meta"]["version"], "W/\"2\"");
    let (st, _) = h
        .send_h(
            "PATCH",
            &format!("/Users/{}", ids[0]),
            Some(patch),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(st, 412);

    // Membership both ways; deleting a user removes it from its groups.
    let (st, g) = h
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": ids[0]}, {"value": ids[2]}]})),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    let gid = g["id"].as_str().expect("gid").to_string();
    let (_, u) = h.send("GET", &format!("/Users/{}", ids[0]), None).await;
    assert_eq!(u["groups"][0]["value"], gid.as_str());
    let (_, l) = h
        .send(
            "GET",
            &format!(
                "/Groups?filter={}",
                urlenc(&format!("members.value eq \"{}\"", ids[2]))
            ),
            None,
        )
        .await;
    assert_eq!(l["totalResults"], 1);
    let (st, _) = h.send("DELETE", &format!("/Users/{}", ids[2]), None).await;
    assert_eq!(st, 204);
    let (_, g) = h.send("GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(g["members"].as_array().map(Vec::len), Some(1));
    let (st, _) = h.send("GET", &format!("/Users/{}", ids[2]), None).await;
    assert_eq!(st, 404);
    s.shutdown().await.expect("shutdown");
}

fn assert_aws_error(body: &Value, status: &str) {
    let schema = json!(["urn:ietf:params:scim:api:messages:2.0:Error"]);
    assert_eq!(body["schema"], schema, "{body}");
    assert_eq!(body["schemas"], schema);
    assert_eq!(body["status"], status, "status is a string");
    assert!(
        body["exceptionRequestId"].is_string()
            && body["timeStamp"].is_string()
            && body["detail"].is_string()
    );
}

#[tokio::test]
async fn aws_dialect_shapes_and_refusals() {
    let s = server(Dialect::AwsIdentityCenter, Faults::default()).await;
    let h = Http::new(s.base_url());
    let (st, u) = h
        .send("POST", "/Users", Some(user("bjensen", "701984")))
        .await;
    assert_eq!(st, 201, "{u}");
    let uid = u["id"].as_str().expect("id").to_string();
    assert_eq!(uid.len(), 47, "AWS-style id: {uid}");
    assert!(u["meta"].get("version").is_none());
    let (st, e) = h.send("POST", "/Users", Some(user("BJENSEN", "x"))).await;
    assert_eq!(st, 409);
    assert_aws_error(&e, "409");
    assert_eq!(e["detail"], "Refused to create a new, duplicate resource.");
    let sample: Value = serde_json::from_str(
        &fs_err::read_to_string(
            crate::common::root()
                .join("tests/fixtures/aws-samples/CreateUserResponse_Conflict.json"),
        )
        .expect("sample"),
    )
    .expect("json");
    let keys = |v: &Value| {
        v.as_object()
            .map(|o| {
                let mut k: Vec<_> = o.keys().cloned().collect();
                k.sort();
                k
            })
            .unwrap_or_default()
    };
    assert_eq!(
        keys(&e),
        keys(&sample),
        "same fields as AWS's conflict body"
    );

    let mut two = user("two", "2");
    two["emails"] = json!([{"value": "a@x", "primary": true}, {"value": "b@x"}]);
    let mut pw = user("pw", "3");
    pw["password"] = json!("secret");
    let mut noprim = user("np", "4");
    noprim["emails"] = json!([{"value": "a@x", "type": "work"}]);
    for bad in [
        two,
        pw,
        noprim,
        user(&"x".repeat(129), "5"),
        user("Administrator", "6"),
        json!({"userName": "nogiven", "displayName": "d"}),
    ] {
        let (st, e) = h.send("POST", "/Users", Some(bad.clone())).await;
        assert_eq!(st, 400, "{bad}");
        assert_aws_error(&e, "400");
    }
    let (st, e) = h
        .send(
            "GET",
            &format!("/Users?filter={}", urlenc("userName sw \"b\"")),
            None,
        )
        .await;
    assert_eq!(st, 400);
    assert_aws_error(&e, "400");

    let (st, g) = h
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Group Bar", "members": [{"value": uid}]})),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    let gid = g["id"].as_str().expect("gid").to_string();
    let (_, g) = h.send("GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(g["members"], json!([]), "AWS never shows members");
    let (_, l) = h
        .send(
            "GET",
            &format!(
                "/Users?filter={}",
                urlenc(&format!("groups.value eq \"{gid}\""))
            ),
            None,
        )
        .await;
    assert_eq!(l["Resources"][0]["id"], uid.as_str());
    let (_, l) = h
        .send(
            "GET",
            &format!(
                "/Groups?filter={}",
                urlenc(&format!("members.value eq \"{uid}\""))
            ),
            None,
        )
        .await;
    assert_eq!(l["Resources"][0]["id"], gid.as_str());
    let (st, _) = h
        .send("POST", "/Groups", Some(json!({"displayName": "group bar"})))
        .await;
    assert_eq!(st, 409, "group names are unique");

    let op = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"value": format!("u{i}")}))
        .collect();
    for bad in [
        op(json!([{"op": "replace", "path": "members", "value": [{"value": uid}]}])),
        op(json!([{"op": "remove", "path": "members"}])),
        op(json!([{"op": "add", "path": "members", "value": many}])),
    ] {
        let (st, e) = h.send("PATCH", &format!("/Groups/{gid}"), Some(bad)).await;
        assert_eq!(st, 400);
        assert_aws_error(&e, "400");
    }
    let (st, _) = h
        .send(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(op(
                json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]),
            )),
        )
        .await;
    assert_eq!(st, 204, "PatchGroup answers 204 without a body");
    let (_, l) = h
        .send(
            "GET",
            &format!(
                "/Users?filter={}",
                urlenc(&format!("groups.value eq \"{gid}\""))
            ),
            None,
        )
        .await;
    assert_eq!(l["totalResults"], 0, "the member was removed");
    let (st, e) = h.send("GET", "/Users/no-such-id", None).await;
    assert_eq!(st, 404);
    assert_aws_error(&e, "404");
    let (st, _) = h.send("PATCH", &format!("/Users/{uid}"), Some(op(json!([
        {"op": "replace", "path": "active", "value": false}, {"op": "replace", "path": "active", "value": true}])))).await;
    assert_eq!(st, 400, "two operations on active");
    let (st, _) = h
        .send(
            "PUT",
            &format!("/Groups/{gid}"),
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(st, 400, "no PutGroup");

    // Cursor paging: bare ?cursor first, nextCursor until the end, no totalResults.
    for i in 0..4 {
        h.send(
            "POST",
            "/Groups",
            Some(json!({"displayName": format!("G{i}")})),
        )
        .await;
    }
    let (mut seen, mut cursor) = (0, String::new());
    loop {
        let (st, p) = h
            .send("GET", &format!("/Groups?count=2&cursor={cursor}"), None)
            .await;
        assert_eq!(st, 200, "{p}");
        assert!(p.get("totalResults").is_none());
        seen += p["Resources"].as_array().map(Vec::len).unwrap_or(0);
        match p["nextCursor"].as_str() {
            Some(c) => cursor = urlenc(c),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let (st, _) = h.send("GET", "/Groups?count=101&cursor", None).await;
    assert_eq!(st, 400);
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn listing_is_o_page_with_100k_users() {
    let dir = tempfile::tempdir().expect("tmp");
    let seed = dir.path().join("seed.json");
    let users: Vec<Value> = (0..100_000)
        .map(|i| json!({"id": format!("id{i:06}"), "userName": format!("u{i}"), "externalId": format!("e{i}")}))
        .collect();
    fs_err::write(&seed, json!({"users": users, "groups": []}).to_string()).expect("seed");
    let s = Server::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Options {
            seed: Some(seed),
            ..Options::default()
        },
    )
    .await
    .expect("start");
    let h = Http::new(s.base_url());
    let visited = |h: &Http| {
        let h = Http::new(h.base.clone());
        async move {
            h.send("GET", "/_emulator/stats", None).await.1["visited"]
                .as_u64()
                .expect("visited")
        }
    };
    let before = visited(&h).await;
    let (_, l) = h
        .send("GET", "/Users?startIndex=99901&count=100", None)
        .await;
    assert_eq!(l["Resources"][99]["id"], "id099999");
    assert_eq!(l["totalResults"], 100_000);
    let after = visited(&h).await;
    assert_eq!(
        after - before,
        100,
        "the last page touched only its own entries"
    );
    let (_, l) = h
        .send(
            "GET",
            &format!("/Users?filter={}", urlenc("userName eq \"U99999\"")),
            None,
        )
        .await;
    assert_eq!(l["totalResults"], 1);
    assert_eq!(
        visited(&h).await - after,
        1,
        "eq on userName uses the index"
    );
    // Deletes leave tombstones that the next list sweeps: pages stay exact.
    for i in (0..100_000).step_by(500) {
        let (st, _) = h.send("DELETE", &format!("/Users/id{i:06}"), None).await;
        assert_eq!(st, 204);
    }
    let (_, l) = h
        .send("GET", "/Users?startIndex=99701&count=100", None)
        .await;
    assert_eq!(l["totalResults"], 99_800);
    assert_eq!(l["Resources"][99]["id"], "id099999");
    assert_eq!(l["Resources"][0]["id"], "id099900");
    let (_, l) = h.send("GET", "/Users?startIndex=1&count=2", None).await;
    assert_eq!(l["Resources"][0]["id"], "id000001");
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn fault_injection_rates_and_rate_limits() {
    let s = server(
        Dialect::Generic,
        Faults {
            fail_429: 0.2,
            fail_5xx: 0.1,
            seed: 7,
            ..Faults::default()
        },
    )
    .await;
    let h = Http::new(s.base_url());
    let (mut n429, mut n5xx) = (0, 0);
    for _ in 0..1000 {
        match h.send("GET", "/Users", None).await.0 {
            429 => n429 += 1,
            500 => n5xx += 1,
            _ => {}
        }
    }
    // 20% are 429; of the rest, 10% are 500 (about 80 of 1000).
    assert!((150..=250).contains(&n429), "429s: {n429}");
    assert!((50..=120).contains(&n5xx), "5xx: {n5xx}");
    s.shutdown().await.expect("shutdown");

    let s = server(
        Dialect::Generic,
        Faults {
            rate_limit_write: Some(5),
            ..Faults::default()
        },
    )
    .await;
    let h = Http::new(s.base_url());
    let mut limited = 0;
    for i in 0..20 {
        if h.send(
            "POST",
            "/Users",
            Some(user(&format!("r{i}"), &format!("r{i}"))),
        )
        .await
        .0 == 429
        {
            limited += 1;
        }
    }
    assert!(
        limited >= 10,
        "a burst of 20 writes at 5/s is mostly refused: {limited}"
    );
    let (st, _) = h.send("GET", "/Users", None).await;
    assert_eq!(st, 200, "reads are not limited by the write bucket");
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn embedded_state_survives_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("nested/embedded.json");
    let e = start_embedded(&path, Dialect::Generic)
        .await
        .expect("start");
    let h = Http::new(e.base_url.clone());
    let (st, _) = h.send("GET", "/Users", None).await;
    assert_eq!(st, 401, "a token is required");
    let auth = format!("Bearer {}", e.token.expose_secret());
    let (st, _) = h
        .send_h(
            "POST",
            "/Users",
            Some(user("kept", "k1")),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(st, 201);
    e.shutdown().await.expect("shutdown");
    let e = start_embedded(&path, Dialect::Generic)
        .await
        .expect("restart");
    let h = Http::new(e.base_url.clone());
    let auth = format!("Bearer {}", e.token.expose_secret());
    let (_, l) = h
        .send_h("GET", "/Users", None, &[("authorization", &auth)])
        .await;
    assert_eq!(l["Resources"][0]["userName"], "kept");
    e.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn cli_kill_9_keeps_every_acknowledged_write_and_hold_writes() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    let state_s = state.to_str().expect("utf8");
    let mut p = EmulatorProcess::start(&["--state", state_s, "--hold-writes-after", "30"]);
    let h = Http::new(p.url.clone());
    for i in 0..30 {
        let (st, _) = h
            .send(
                "POST",
                "/Users",
                Some(user(&format!("k{i}"), &format!("k{i}"))),
            )
            .await;
        assert_eq!(st, 201);
    }
    // The 31st write is held: not answered while the stats say 30 writes were served.
    let held = tokio::time::timeout(
        Duration::from_millis(300),
        h.send("POST", "/Users", Some(user("late", "late"))),
    )
    .await;
    assert!(held.is_err(), "write 31 must be held");
    let (_, stats) = h.send("GET", "/_emulator/stats", None).await;
    assert_eq!(
        (stats["writes"].as_u64(), stats["users"].as_u64()),
        (Some(30), Some(30))
    );
    // kill -9 while a write is held; every acknowledged write must be there after restart.
    p.child.kill().expect("kill -9");
    let _ = p.child.wait();
    drop(p);
    let p = EmulatorProcess::start(&["--state", state_s, "--dialect", "aws"]);
    let h = Http::new(p.url.clone());
    let (_, stats) = h.send("GET", "/_emulator/stats", None).await;
    assert_eq!(stats["users"], 30);
    let (_, l) = h
        .send(
            "GET",
            &format!("/Users?filter={}", urlenc("userName eq \"k29\"")),
            None,
        )
        .await;
    assert_eq!(l["totalResults"], 1);
    drop(p);

    // release lets a held write through.
    let p = EmulatorProcess::start(&["--hold-writes-after", "0"]);
    let h = Http::new(p.url.clone());
    let base = p.url.clone();
    let pending = tokio::spawn(async move {
        Http::new(base)
            .send("POST", "/Groups", Some(json!({"displayName": "G"})))
            .await
            .0
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!pending.is_finished());
    let (st, _) = h.send("POST", "/_emulator/release", None).await;
    assert_eq!(st, 200);
    assert_eq!(pending.await.expect("join"), 201);
}

#[tokio::test]
async fn cli_sigterm_flushes_state_and_exits_0() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("s.json");
    let mut p = EmulatorProcess::start(&[
        "--state",
        state.to_str().expect("utf8"),
        "--token-env",
        EMU_TOKEN_ENV,
        "--dialect",
        "aws",
    ]);
    let bearer = format!("Bearer {}", p.token);
    let h = Http::new(format!("{}/scim/v2", p.url));
    let (st, e) = h.send("GET", "/Users", None).await;
    assert_eq!(st, 401);
    assert!(
        !e.to_string().contains(&p.token),
        "the token never appears in output"
    );
    let (st, _) = h
        .send_h(
            "POST",
            "/Users",
            Some(user("term", "t")),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(st, 201);
    let status = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert_eq!(p.child.wait().expect("exit").code(), Some(0));
    let snapshot: Value =
        serde_json::from_slice(&fs_err::read(&state).expect("state")).expect("json");
    assert_eq!(snapshot["users"][0]["userName"], "term");
}

#[test]
fn cli_refuses_non_loopback() {
    let out = crate::common::roster()
        .args(["emulator", "--listen", "0.0.0.0:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test]
async fn seed_with_groups_keeps_ids_and_membership() {
    let dir = tempfile::tempdir().expect("tmp");
    let seed = dir.path().join("seed.json");
    fs_err::write(
        &seed,
        json!({
            "users": [
                {"id": "u-1", "userName": "ann", "displayName": "Ann", "name": {"givenName": "A", "familyName": "N"}},
                {"userName": "bea", "displayName": "Bea", "name": {"givenName": "B", "familyName": "E"}}
            ],
            "groups": [
                {"id": "g-outer", "displayName": "Outer", "members": [{"value": "g-inner"}]},
                {"id": "g-inner", "displayName": "Inner", "members": [{"value": "u-1"}]}
            ]
        })
        .to_string(),
    )
    .expect("seed");
    let options = Options {
        dialect: Dialect::AwsIdentityCenter,
        seed: Some(seed),
        ..Options::default()
    };
    let s = Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), options)
        .await
        .expect("start");
    let h = Http::new(s.base_url());
    let (st, u) = h.send("GET", "/Users/u-1", None).await;
    assert_eq!((st, u["userName"].as_str()), (200, Some("ann")));
    let (_, l) = h
        .send(
            "GET",
            &format!("/Groups?filter={}", urlenc("members.value eq \"u-1\"")),
            None,
        )
        .await;
    assert_eq!(l["Resources"][0]["id"], "g-inner");
    let (_, l) = h
        .send(
            "GET",
            &format!("/Groups?filter={}", urlenc("members.value eq \"g-inner\"")),
            None,
        )
        .await;
    assert_eq!(
        l["Resources"][0]["id"], "g-outer",
        "a group listed later may be a member"
    );
    let (_, stats) = h.send("GET", "/_emulator/stats", None).await;
    assert_eq!(
        (stats["users"].as_u64(), stats["groups"].as_u64()),
        (Some(2), Some(2))
    );
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn latency_and_retry_after_headers() {
    let s = server(
        Dialect::Generic,
        Faults {
            latency: Duration::from_millis(60),
            fail_429: 1.0,
            ..Faults::default()
        },
    )
    .await;
    let started = std::time::Instant::now();
    let resp = reqwest::get(format!("{}/Users", s.base_url()))
        .await
        .expect("request");
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "latency is added"
    );
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("0")
    );
    // The observation endpoints are never faulted.
    let resp = reqwest::get(format!("{}/_emulator/stats", s.base_url()))
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let stats: Value = resp.json().await.expect("json");
    assert_eq!(stats["by_method"]["GET"], 1);
    s.shutdown().await.expect("shutdown");
}

/// The shared client suite (the one scim2-server and SCIMMY pass) against the emulator, in both
/// dialects: roster's client and roster's server agree with each other exactly as they agree with
/// servers roster did not write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_passes_the_shared_client_suite_in_both_dialects() {
    for dialect in [Dialect::Generic, Dialect::AwsIdentityCenter] {
        let token = "suite-token";
        let options = Options {
            dialect,
            token: Some(secrecy::SecretString::from(token.to_string())),
            ..Options::default()
        };
        let s = Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), options)
            .await
            .expect("emulator starts");
        let counts = crate::scim_client::client_suite(&s.base_url(), token, dialect).await;
        #[allow(clippy::print_stderr)]
        {
            eprintln!("client suite against roster emulator ({dialect:?}): {counts:?}");
        }
        assert!(counts.total() > 500, "{dialect:?}: suite ran ({counts:?})");
        s.shutdown().await.expect("shutdown");
    }
}

/// A seed file of `n` users, in the `{"users": [...]}` form `--seed` reads.
fn write_user_seed(path: &std::path::Path, n: usize) {
    let users: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "userName": format!("user{i:06}@example.com"),
                "externalId": format!("e{i}"),
                "displayName": format!("User {i}"),
                "name": {"givenName": "User", "familyName": format!("{i}")},
                "emails": [{"value": format!("user{i:06}@example.com"), "type": "work", "primary": true}],
                "active": true
            })
        })
        .collect();
    fs_err::write(path, json!({ "users": users }).to_string()).expect("seed written");
}

/// Listing survives a server that answers 30% of requests with 429 and 5% with 500: every
/// page is retried until it succeeds, and the list is exactly complete — no page lost, none
/// read twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_10000_users_under_429_and_5xx_storms_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    write_user_seed(&seed, 10_000);
    for dialect in [Dialect::Generic, Dialect::AwsIdentityCenter] {
        let options = Options {
            dialect,
            seed: Some(seed.clone()),
            faults: Faults {
                fail_429: 0.3,
                fail_5xx: 0.05,
                seed: 7,
                ..Faults::default()
            },
            ..Options::default()
        };
        let s = Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), options)
            .await
            .expect("emulator starts");
        let mut o = roster::scim::ClientOptions::new(
            s.base_url(),
            roster::scim::Credentials::bearer("unused"),
            dialect,
        );
        o.read_only = true;
        // A configured budget keeps the adaptive slowdown's floor at 1/16 of it; with no rate the
        // floor is 0.5 requests/s and random (not load-driven) 429s pin the client there.
        o.rate.reads_per_second = Some(1000.0);
        o.max_attempts = 20;
        o.backoff_base = Duration::from_millis(1);
        o.backoff_max = Duration::from_millis(20);
        o.max_retry_after = Duration::from_millis(20);
        let client = roster::scim::ReadOnlyClient::new(o).expect("client");
        let users = client.list_users(None).await.expect("complete list");
        assert_eq!(users.len(), 10_000, "{dialect:?}");
        let ids: std::collections::HashSet<_> = users.iter().filter_map(|u| u.id.clone()).collect();
        assert_eq!(ids.len(), 10_000, "{dialect:?}: every user exactly once");
        let counts = client.counts();
        assert!(
            counts.get > 100,
            "{dialect:?}: faults were injected and retried ({counts:?})"
        );
        s.shutdown().await.expect("shutdown");
    }
}
