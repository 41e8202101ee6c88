use super::*;
use crate::scim::resource::PatchRequest;

#[test]
fn retry_after_forms() {
    assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    // A date in the past means "now".
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon"), None);
}

#[test]
fn refuses_plain_http_to_remote_hosts() {
    let o = |u: &str| ClientOptions::new(u, Credentials::None, Dialect::Generic);
    assert!(matches!(
        ScimClient::new(o("http://scim.example.com/v2")),
        Err(ScimClientError::InsecureUrl { .. })
    ));
    assert!(ScimClient::new(o("http://127.0.0.1:9/v2")).is_ok());
    assert!(ScimClient::new(o("http://[::1]:9/v2")).is_ok());
    assert!(ScimClient::new(o("http://localhost:9")).is_ok());
    let mut insecure = o("http://scim.example.com/v2");
    insecure.insecure_http = true;
    assert!(ScimClient::new(insecure).is_ok());
    assert!(ScimClient::new(o("ftp://x")).is_err());
}

#[test]
fn ca_certificate_must_be_readable_pem() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("ca.pem");
    fs_err::write(&bad, "not a certificate").expect("write");
    let mut o = ClientOptions::new("https://scim.example", Credentials::None, Dialect::Generic);
    o.ca_cert = Some(bad.clone());
    let e = ScimClient::new(o.clone()).expect_err("bad pem");
    assert!(e.to_string().contains("ca.pem"), "{e}");
    o.ca_cert = Some(dir.path().join("missing.pem"));
    let e = ScimClient::new(o).expect_err("missing");
    assert!(e.to_string().contains("missing.pem"), "{e}");
}

#[tokio::test]
async fn writes_count_each_member_operation_once() {
    // Port 9 (discard) on loopback refuses the connection; a write is counted when sent.
    let mut o = ClientOptions::new("http://127.0.0.1:9", Credentials::None, Dialect::Generic);
    o.max_attempts = 1;
    let c = ScimClient::new(o).expect("client");
    let group =
        serde_json::json!({"displayName": "g", "members": [{"value": "a"}, {"value": "b"}]});
    c.create(ResourceKind::Group, &group)
        .await
        .expect_err("nothing listens");
    assert_eq!(c.counts().member_ops, 2);
    let patch = PatchRequest::new(vec![
        crate::scim::resource::PatchOp::add("members", serde_json::json!([{"value": "a"}])),
        crate::scim::resource::PatchOp::remove("members[value eq \"b\"]"),
        crate::scim::resource::PatchOp::replace("title", serde_json::json!("x")),
    ]);
    c.patch(ResourceKind::Group, "g", &patch, None)
        .await
        .expect_err("nothing listens");
    assert_eq!(c.counts().member_ops, 4);
    assert_eq!(c.counts().post + c.counts().patch, 2);
}

#[tokio::test]
async fn writes_the_dialect_refuses_are_never_sent() {
    let mut o = ClientOptions::new(
        "http://127.0.0.1:9",
        Credentials::None,
        Dialect::AwsIdentityCenter,
    );
    o.max_attempts = 1;
    let c = ScimClient::new(o).expect("client");
    let replace_all = PatchRequest::new(vec![crate::scim::resource::PatchOp::replace(
        "members",
        serde_json::json!([]),
    )]);
    let e = c
        .patch(ResourceKind::Group, "g", &replace_all, None)
        .await
        .expect_err("refused");
    assert!(matches!(e, ScimClientError::Dialect { .. }), "{e}");
    let members: Vec<Value> = (0..101)
        .map(|i| serde_json::json!({ "value": i.to_string() }))
        .collect();
    let big = serde_json::json!({ "displayName": "g", "members": members });
    let e = c
        .create(ResourceKind::Group, &big)
        .await
        .expect_err("refused");
    assert!(matches!(e, ScimClientError::Dialect { .. }), "{e}");
    assert_eq!(c.counts().total(), 0);
}

#[tokio::test]
async fn read_only_guard_refuses_before_sending() {
    // Port 9 (discard) on loopback: if anything were sent, it would fail as a network error.
    let mut o = ClientOptions::new("http://127.0.0.1:9", Credentials::None, Dialect::Generic);
    o.read_only = true;
    let c = ScimClient::new(o).expect("client");
    let e = c
        .send(Method::DELETE, "/Users/x", None, 0)
        .await
        .expect_err("refused");
    assert!(matches!(e, ScimClientError::ReadOnly { .. }), "{e}");
    assert_eq!(c.counts().total(), 0);
    assert_eq!(c.counts().refused, 1);
}
