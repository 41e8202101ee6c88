//! The one integration-test binary. Each area has its own module; shared helpers live in
//! `common`.

mod apply;
mod architecture;
mod cli_plan;
mod common;
mod config;
mod drift;
mod emulator;
mod explain;
mod hostile;
mod import;
mod invalid_corpus;
mod lifecycle;
mod pace;
mod plan;
mod plan_props;
mod render;
mod request_log;
mod scim_client;
mod secrets;
