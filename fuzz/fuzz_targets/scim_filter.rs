//! SCIM filters: the emulator parses and evaluates whatever a client sends, and roster's client
//! quotes the values it filters on. Parsing and evaluating must never panic, and a filter the
//! client writes (`attr eq "value"` for any value) must parse back and match exactly the
//! resource that holds that value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::emulator::filter::{matches, parse_filter};
use roster::scim::filter::Filter;
use roster::scim::Dialect;
use serde_json::{json, Map, Value};

fn resource(user_name: &str) -> Map<String, Value> {
    let Value::Object(m) = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1",
        "userName": user_name,
        "active": true,
        "name": {"givenName": "A", "familyName": "B"},
        "emails": [{"value": "a@example.com", "primary": true, "type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"}
    }) else {
        unreachable!("a JSON object literal")
    };
    m
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(f) = parse_filter(text) {
        let _ = matches(&f, &resource("alice"));
        let _ = roster::emulator::aws::check_filter(roster::emulator::schema::Kind::User, &f);
    }
    let written = Filter::eq("userName", text)
        .render(Dialect::Generic)
        .expect("userName is a valid attribute");
    let parsed = match parse_filter(&written) {
        Ok(f) => f,
        Err(e) => panic!("the client's filter {written:?} does not parse: {e}"),
    };
    assert!(
        matches(&parsed, &resource(text)),
        "{written:?} does not match userName {text:?}"
    );
});
