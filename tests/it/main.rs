//! The one integration-test binary. Each area has its own module; shared helpers live in
//! `common`.

mod common;
mod config;
mod emulator;
mod invalid_corpus;
mod render;
mod plan;
mod plan_props;
mod scim_client;
