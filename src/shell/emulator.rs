//! `roster emulator`'s settings, resolved from flags and the environment into the emulator's
//! options before anything listens: probabilities in range, a loopback address, the bearer
//! token read from the variable the flags name.

use super::error::EmulatorSetupError;
use crate::emulator::{
    Dialect, EndlessCursor, Faults, LimitHeaders, LimitShape, Options, Quirks, Server,
};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What `roster emulator` was asked to serve, as plain values.
#[derive(Debug, Clone)]
pub struct EmulatorSettings {
    pub dialect: Dialect,
    pub listen: SocketAddr,
    pub state: Option<PathBuf>,
    /// The environment variable that holds the bearer token; none means no token is required.
    pub token_env: Option<String>,
    pub latency_ms: u64,
    pub fail_429: f64,
    pub fail_5xx: f64,
    pub rate_limit_read: Option<u32>,
    pub rate_limit_write: Option<u32>,
    /// How the rate limits count requests.
    pub limit_shape: LimitShape,
    /// The token bucket's capacity; none means the rate.
    pub limit_burst: Option<u32>,
    /// Which rate-limit headers answers carry.
    pub limit_headers: LimitHeaders,
    pub seed: Option<PathBuf>,
    pub fault_seed: u64,
    pub hold_writes_after: Option<u64>,
    /// Index-paged lists claim a total equal to the page's length.
    pub lying_totals: bool,
    /// AWS cursor chains end, empty and without `nextCursor`, after this many pages.
    pub short_cursor_after: Option<u32>,
    /// The hostile-read faults: endless chains, giant and lying answers.
    pub hostile: HostileReads,
    /// Habits of a server that keeps less than it is sent.
    pub quirks: QuirkSettings,
}

/// The emulator's hostile-read faults, as plain values (one flag each).
#[derive(Debug, Clone, Copy, Default)]
pub struct HostileReads {
    /// AWS cursor chains that never end.
    pub endless_cursor: Option<EndlessCursor>,
    /// Index-paged lists that claim a billion objects and serve fresh ones at any index.
    pub endless_index: bool,
    /// The first list page padded to this many MiB, streamed.
    pub giant_page_mib: Option<u32>,
    /// List answers declaring a `Content-Length` of this many MiB.
    pub claim_length_mib: Option<u32>,
}

/// `roster emulator`'s server-that-keeps-less switches, as given.
#[derive(Debug, Clone, Default)]
pub struct QuirkSettings {
    pub drop_group_members_on_create: bool,
    pub drop_attributes: Vec<String>,
    pub patch_501_except_active: bool,
    pub no_filter: bool,
    /// Seconds a new object stays invisible to reads.
    pub lagging_reads_secs: Option<f64>,
    pub lose_answers: u64,
}

impl QuirkSettings {
    fn resolve(&self) -> Result<Quirks, EmulatorSetupError> {
        let lagging_reads =
            match self.lagging_reads_secs {
                None => None,
                Some(s) => Some(Duration::try_from_secs_f64(s).map_err(|_| {
                    EmulatorSetupError::Seconds {
                        flag: "--lagging-reads",
                    }
                })?),
            };
        Ok(Quirks {
            drop_group_members_on_create: self.drop_group_members_on_create,
            drop_attributes: self.drop_attributes.clone(),
            patch_501_except_active: self.patch_501_except_active,
            no_filter: self.no_filter,
            lagging_reads,
            lose_answers: self.lose_answers,
        })
    }
}

impl EmulatorSettings {
    /// Check the settings and read the token, into the emulator's options.
    pub fn resolve(&self) -> Result<Options, EmulatorSetupError> {
        for (flag, rate) in [("--fail-429", self.fail_429), ("--fail-5xx", self.fail_5xx)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(EmulatorSetupError::Probability { flag });
            }
        }
        if !self.listen.ip().is_loopback() {
            return Err(EmulatorSetupError::NotLoopback(self.listen));
        }
        let token = match &self.token_env {
            None => None,
            Some(name) => match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => Some(SecretString::from(v.trim().to_string())),
                _ => return Err(EmulatorSetupError::TokenUnset(name.clone())),
            },
        };
        Ok(Options {
            dialect: self.dialect,
            token,
            state: self.state.clone(),
            seed: self.seed.clone(),
            faults: Faults {
                latency: Duration::from_millis(self.latency_ms),
                fail_429: self.fail_429,
                fail_5xx: self.fail_5xx,
                rate_limit_read: self.rate_limit_read,
                rate_limit_write: self.rate_limit_write,
                limit_shape: self.limit_shape,
                limit_burst: self.limit_burst,
                limit_headers: self.limit_headers,
                seed: self.fault_seed,
                hold_writes_after: self.hold_writes_after,
                lying_totals: self.lying_totals,
                short_cursor_after: self.short_cursor_after,
                endless_cursor: self.hostile.endless_cursor,
                endless_index: self.hostile.endless_index,
                giant_page_mib: self.hostile.giant_page_mib,
                claim_length_mib: self.hostile.claim_length_mib,
            },
            quirks: self.quirks.resolve()?,
        })
    }
}

/// Start serving with resolved options.
pub async fn start(listen: SocketAddr, options: Options) -> Result<Server, EmulatorSetupError> {
    Ok(Server::start(listen, options).await?)
}

/// Stop serving and write the state file.
pub async fn stop(server: Server) -> Result<(), EmulatorSetupError> {
    Ok(server.shutdown().await?)
}
