//! The one place where a configured target's `auth`, rate limits and dialect become the `scim`
//! client's own types. `scim` stays a protocol library that knows nothing of the YAML model;
//! these conversions are the only code that sees both.

use crate::config::{self, model};
use crate::scim::{CredentialSource, Dialect, RateLimits};

/// The dialect a target's client and embedded provider follow.
pub fn dialect(dialect: model::Dialect) -> Dialect {
    // The compiled target converts the same value for the planner; one conversion serves both.
    crate::mapping::protocol_dialect(dialect)
}

/// Where the client reads the target's secret from.
pub fn credential_source(source: &config::AuthSource) -> CredentialSource {
    match source {
        config::AuthSource::BearerEnv(var) => CredentialSource::BearerEnv(var.clone()),
        config::AuthSource::BearerFile(path) => CredentialSource::BearerFile(path.clone()),
        config::AuthSource::Basic {
            username,
            password_env,
        } => CredentialSource::Basic {
            username: username.clone(),
            password_env: password_env.clone(),
        },
        config::AuthSource::Header { name, value_env } => CredentialSource::Header {
            name: name.clone(),
            value_env: value_env.clone(),
        },
    }
}

/// The request budgets the client paces itself to.
pub fn rate_limits(rate: &config::RateLimits) -> RateLimits {
    RateLimits {
        reads_per_second: rate.reads_per_second,
        writes_per_second: rate.writes_per_second,
        member_operations_per_second: rate.member_operations_per_second,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn every_auth_source_keeps_its_names() {
        let cases = [
            (
                config::AuthSource::BearerEnv("T".into()),
                CredentialSource::BearerEnv("T".into()),
            ),
            (
                config::AuthSource::BearerFile(PathBuf::from("/t")),
                CredentialSource::BearerFile(PathBuf::from("/t")),
            ),
            (
                config::AuthSource::Basic {
                    username: "u".into(),
                    password_env: "P".into(),
                },
                CredentialSource::Basic {
                    username: "u".into(),
                    password_env: "P".into(),
                },
            ),
            (
                config::AuthSource::Header {
                    name: "X-Key".into(),
                    value_env: "K".into(),
                },
                CredentialSource::Header {
                    name: "X-Key".into(),
                    value_env: "K".into(),
                },
            ),
        ];
        for (from, to) in cases {
            assert_eq!(credential_source(&from), to);
        }
    }

    #[test]
    fn rates_and_dialects_carry_over() {
        let rate = config::RateLimits {
            reads_per_second: Some(1.0),
            writes_per_second: None,
            member_operations_per_second: Some(3.0),
        };
        let r = rate_limits(&rate);
        assert_eq!(r.reads_per_second, Some(1.0));
        assert_eq!(r.writes_per_second, None);
        assert_eq!(r.member_operations_per_second, Some(3.0));
        assert_eq!(dialect(model::Dialect::Generic), Dialect::Generic);
        assert_eq!(
            dialect(model::Dialect::AwsIdentityCenter),
            Dialect::AwsIdentityCenter
        );
    }
}
