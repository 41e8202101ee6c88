//! roster's own SCIM 2.0 service provider (`roster emulator` and the `embedded` target).
//!
//! It exists so that every roster command works on a fresh machine with no server, and so that
//! tests and benchmarks have a server whose behaviour they control: two dialects (RFC 7644 as
//! written, and AWS IAM Identity Center's subset with its error shapes), fault and load
//! injection, observation endpoints, and state that survives restarts and `kill -9`.
//!
//! Layout: `filter` (filter and PATCH path grammar), `patch` (the PATCH engine), `schema`
//! (RFC 7643 schema facts and discovery documents), `store` (indexed in-memory directory, its
//! list queries in `store::query`), `aws` (what the AWS dialect refuses), `persist` (snapshot +
//! journal), `server` (HTTP; its faults, handlers, projection and seed loading beneath it).

pub mod aws;
pub mod filter;
pub mod patch;
pub mod persist;
pub mod schema;
mod server;
pub mod store;

pub use crate::scim::Dialect;
pub use server::{EndlessCursor, Faults, LimitHeaders, LimitShape, Options, Quirks, Server};

use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why the emulator could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("the emulator only listens on loopback addresses, not {0}")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("emulator state {path}: {source}")]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("seed file {path}: {message}")]
    Seed { path: PathBuf, message: String },
    #[error("emulator server failed: {0}")]
    Serve(std::io::Error),
}

/// An in-process emulator (the `embedded` target): its base URL and the per-run bearer token.
pub struct Embedded {
    pub base_url: String,
    pub token: SecretString,
    server: Server,
}

impl Embedded {
    /// Stop serving and write the state file.
    pub async fn shutdown(self) -> Result<(), EmulatorError> {
        self.server.shutdown().await
    }
}

/// Start roster's SCIM service provider in this process on 127.0.0.1 with a random bearer
/// token and its state in `path` (parent directories are created).
pub async fn start_embedded(path: &Path, dialect: Dialect) -> Result<Embedded, EmulatorError> {
    let token = server::random_token();
    let options = Options {
        dialect,
        token: Some(SecretString::from(token.clone())),
        state: Some(path.to_path_buf()),
        ..Options::default()
    };
    let server = Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), options).await?;
    Ok(Embedded {
        base_url: server.base_url(),
        token: SecretString::from(token),
        server,
    })
}
