//! The one place where a configured target's `auth`, rate limits and dialect become the `scim`
//! client's own types. `scim` stays a protocol library that knows nothing of the YAML model;
//! these conversions are the only code that sees both.

use crate::config::{self, model};
use crate::scim::client::DEFAULT_MAX_RESPONSE_BYTES;
use crate::scim::paging::ListLimits;
use crate::scim::{ClientOptions, CredentialSource, Dialect, RateLimits};

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

/// Puts a target's `read` bounds on its client's options; an unset bound keeps the default.
pub fn apply_read_limits(read: &config::ReadLimits, opts: &mut ClientOptions) {
    opts.max_response_bytes = read
        .max_response_mib
        .map_or(DEFAULT_MAX_RESPONSE_BYTES, |m| m.saturating_mul(1 << 20));
    let d = ListLimits::default();
    opts.list_limits = ListLimits {
        max_pages: read.max_pages.unwrap_or(d.max_pages),
        max_objects: read.max_objects.unwrap_or(d.max_objects),
    };
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
    fn read_limits_carry_over_and_default() {
        let mut o = ClientOptions::new(
            "https://x",
            crate::scim::Credentials::None,
            Dialect::Generic,
        );
        apply_read_limits(&config::ReadLimits::default(), &mut o);
        assert_eq!(o.max_response_bytes, 32 << 20);
        assert_eq!(o.list_limits, ListLimits::default());
        let read = config::ReadLimits {
            max_response_mib: Some(2),
            max_pages: Some(7),
            max_objects: None,
        };
        apply_read_limits(&read, &mut o);
        assert_eq!(o.max_response_bytes, 2 << 20);
        assert_eq!(o.list_limits.max_pages, 7);
        assert_eq!(o.list_limits.max_objects, ListLimits::default().max_objects);
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
