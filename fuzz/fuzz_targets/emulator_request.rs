//! The emulator's request parsing: a PATCH body (operations, paths with value filters) applied to
//! a stored user and group, under both dialects' rules. The emulator is what users try their
//! configurations against, and what the test suite trusts as a server: a request must be
//! answered (400 at worst), never panic it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::emulator::schema::Kind;
use roster::scim::resource::PatchRequest;
use serde_json::{json, Map, Value};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<PatchRequest>(data) else {
        return;
    };
    let ops = &req.operations;
    let _ = roster::emulator::aws::check_user_patch(ops);
    let _ = roster::emulator::aws::check_group_patch(ops);
    for op in ops {
        let _ = roster::emulator::patch::op_name(op);
    }
    let mut user = object(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "alice",
        "active": true,
        "name": {"givenName": "A", "familyName": "B"},
        "emails": [{"value": "a@example.com", "primary": true, "type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "u2"}}
    }));
    let _ = roster::emulator::patch::apply(&mut user, Kind::User, ops);
    let _ = roster::emulator::aws::check_user(&user, false);
    let mut group = object(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "eng",
        "members": [{"value": "u1"}, {"value": "u2"}]
    }));
    let _ = roster::emulator::patch::apply(&mut group, Kind::Group, ops);
});
