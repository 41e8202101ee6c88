//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `roster` command run from the repository root, with colour off and a clean environment
/// for the variables roster reads.
pub fn roster() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("roster").expect("binary built");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd
}
