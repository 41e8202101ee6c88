//! The SCIM 2.0 protocol: resources, patch operations, filters, paging, errors, the HTTP client
//! (auth, retry, rate limit, read-only mode) and the dialects (generic, AWS).

pub mod auth;
pub mod client;
pub mod dialect;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod membership;
pub mod pace;
pub mod paging;
pub mod ratelimit;
pub mod resource;

pub use auth::{redact, AuthKind, CredentialSource, Credentials};
pub use client::{ClientOptions, RateLimits, ReadOnlyClient, RequestCounts, ScimClient};
pub use dialect::{Capabilities, Dialect, PagingKind, ResourceKind};
pub use error::{PagingError, ScimClientError, TargetKind};
pub use filter::Filter;
