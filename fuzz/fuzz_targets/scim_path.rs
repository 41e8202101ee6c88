//! SCIM attribute paths, as written on the left of a mapping (roster's parser) and as sent in a
//! PATCH `path` (the emulator's parser). Every path roster accepts must be usable: reading and
//! writing a resource at it must not panic, and the PATCH path roster writes for it must parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::mapping::AttrPath;
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = roster::emulator::filter::parse_patch_path(text);
    let _ = roster::emulator::filter::parse_attr_path(text);
    let Ok(path) = AttrPath::parse(text) else {
        return;
    };
    let _ = path.key();
    let _ = path.to_string();
    let mut resource = Map::new();
    path.set(&mut resource, json!("value"));
    let as_value = Value::Object(resource.clone());
    let _ = path.get(&as_value);
    path.set(&mut resource, json!(["a", {"value": "b"}]));
    let _ = path.get(&Value::Object(resource));
    let patch = path.patch_path();
    if let Err(e) = roster::emulator::filter::parse_patch_path(&patch) {
        panic!("roster writes PATCH path {patch:?} for {text:?}, which does not parse: {e}");
    }
});
