//! The imperative shell between the command line and the pure core: it reads live state,
//! verifies and applies plans, and hands typed results back to `cli`, which renders them.

pub mod observe;
