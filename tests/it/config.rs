//! Configuration: the schema file, the examples, validate's exit codes.

use crate::common::{root, roster};

#[test]
fn schema_file_is_current() {
    let out = roster().arg("schema").output().expect("runs");
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).expect("utf8");
    let file = std::fs::read_to_string(root().join("schema/roster.schema.json"))
        .expect("schema/roster.schema.json exists");
    assert!(
        printed == file,
        "schema/roster.schema.json is out of date: run `cargo run -- schema > schema/roster.schema.json`"
    );
}
