//! `roster explain`: read each target the addresses name exactly as `plan` reads it (same
//! read-only connection, same reads, so the same request count) and ask the planner why
//! (`plan::explain`). Also the check that `plan --resource` addresses name something.

use super::error::ShellError;
use super::observe::{observe_for, ConnectSettings, Connection};
use super::target::CompiledTarget;
use crate::config::Desired;
use crate::plan::explain::{self, ExplainError, Explanation, Known};
use crate::plan::Address;

/// Parse addresses given on the command line. An address without its `<target>:` is read in
/// the only selected target; with several, it must say which.
pub fn parse_addresses(
    texts: &[String],
    targets: &[CompiledTarget<'_>],
) -> Result<Vec<Address>, ShellError> {
    texts
        .iter()
        .map(|t| match (t.parse::<Address>(), targets) {
            (Ok(a), _) => Ok(a),
            (Err(_), [only]) => Ok(Address::parse_in(only.name(), t)?),
            (Err(e), _) => Err(e.into()),
        })
        .collect()
}

/// Explain every address, in the order given. Targets are read one after another, each once.
pub async fn explain_all(
    desired: &Desired,
    targets: &[CompiledTarget<'_>],
    settings: &ConnectSettings,
    addresses: &[Address],
) -> Result<Vec<Explanation>, ShellError> {
    let names: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
    for a in addresses {
        if !names.iter().any(|n| n == a.target()) {
            return Err(ShellError::UnknownTarget {
                name: a.target().to_string(),
                known: names,
            });
        }
    }
    let mut out: Vec<Option<Explanation>> = vec![None; addresses.len()];
    for compiled in targets {
        let here: Vec<usize> = (0..addresses.len())
            .filter(|i| addresses[*i].target() == compiled.name())
            .collect();
        if here.is_empty() {
            continue;
        }
        let target = compiled.target;
        let conn = Connection::open(target, settings, true).await?;
        let result = observe_for(&conn.reader(), desired, compiled, None).await;
        // Asked after the read, as `plan` asks: the same requests, the same cut mapping.
        let discovered = match &result {
            Ok(_) => Some(crate::scim::discovery::discover(&conn.reader()).await),
            Err(_) => None,
        };
        let closed = conn.close().await;
        let (observed, stats) = result?;
        closed?;
        let cut = discovered
            .as_ref()
            .and_then(|d| super::capabilities::restricted(target, d));
        let target = cut.as_ref().map_or(target, |(t, _)| t);
        tracing::info!(
            target = %target.name,
            requests = stats.requests.total(),
            "read live state"
        );
        let wanted: Vec<Address> = here.iter().map(|i| addresses[*i].clone()).collect();
        let found = explain::explain(desired, target, &observed, &wanted).map_err(|e| match e {
            ExplainError::Plan(source) => ShellError::Plan {
                target: target.name.clone(),
                source,
            },
            ExplainError::NotFound {
                address,
                target,
                suggestions,
            } => ShellError::NoSuchAddress {
                address,
                targets: vec![target],
                suggestions,
            },
        })?;
        for (i, e) in here.into_iter().zip(found) {
            out[i] = Some(e);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// `plan --resource`: every address must name an object some target's plan knows (`known`,
/// one per planned target); the first that names nothing is an error with suggestions.
pub fn check_resources(resources: &[String], known: &[(String, Known)]) -> Result<(), ShellError> {
    for r in resources {
        let mut suggestions = Vec::new();
        let mut found = false;
        for (target, k) in known {
            let Ok(a) = Address::parse_in(target, r) else {
                continue;
            };
            if k.contains(&a) {
                found = true;
                break;
            }
            suggestions.extend(k.suggest(Some(&a), a.as_str()));
        }
        if !found {
            if r.parse::<Address>().is_err() && Address::parse_in("t", r).is_err() {
                return Err(crate::plan::AddressError { text: r.clone() }.into());
            }
            suggestions.truncate(3);
            return Err(ShellError::NoSuchAddress {
                address: r.clone(),
                targets: known.iter().map(|(t, _)| t.clone()).collect(),
                suggestions,
            });
        }
    }
    Ok(())
}
