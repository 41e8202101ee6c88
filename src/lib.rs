//! roster keeps identity as code. Users, groups, field mappings and sync policies live as YAML in
//! a git repository; `roster plan` diffs them against the live state of SCIM 2.0 service
//! providers and `roster apply` carries out exactly the reviewed plan.
//!
//! The crate is a library with a thin binary. `config` reads the desired state, `mapping` renders
//! it into SCIM resources, `scim` speaks the protocol, `plan` is the pure planner, `apply` executes
//! plans, `render` turns plans into text, `emulator` is roster's own SCIM service provider,
//! `shell` is the imperative shell around the core (settings, compiled targets, reading live
//! state, verifying and applying plans), and `cli` is the only layer that knows about flags and
//! terminals.

pub mod apply;
pub mod cli;
pub mod config;
pub mod diag;
pub mod emulator;
pub mod escape;
pub mod fasthash;
pub mod mapping;
pub mod plan;
pub mod render;
pub mod scim;
pub mod shell;
pub mod style;
pub mod validate;
