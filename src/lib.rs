//! roster keeps identity as code. Users, groups, field mappings and sync policies live as YAML in
//! a git repository; `roster plan` diffs them against the live state of SCIM 2.0 service
//! providers and `roster apply` carries out exactly the reviewed plan.
//!
//! The crate is a library with a thin binary. `config` reads the desired state, `mapping` renders
//! it into SCIM resources (and back, for import), `validate` checks a configuration against its
//! mappings (it sits above both), `scim` speaks the protocol and knows no other module, `plan` is
//! the pure planner, `apply` executes plans, `render` turns plans into text, `emulator` is
//! roster's own SCIM service provider (it takes `scim` types only), `shell` is the imperative
//! shell around the core (settings, compiled targets, reading live state, verifying and applying
//! plans; it prints nothing), and `cli` is the only layer that knows about flags and terminals.
//! `diag`, `style`, `escape` and `fasthash` are leaves everyone may use. The arrows between these
//! modules point one way; `tests/it/architecture.rs` fails on one that does not. The user
//! contract the code cites is docs/contract.md.

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
