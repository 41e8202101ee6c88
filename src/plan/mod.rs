//! The pure planner: desired vs observed state, ownership and policies, safety gates.
//!
//! [`plan_target`] turns one target's configuration and live state into a [`TargetPlan`];
//! [`plan_document`] assembles the plans of every selected target into the versioned document
//! that `plan --out` saves and `apply` executes. Nothing here does I/O: the read path that fills
//! [`Observed`] and the executor that applies the plan live in `cli` and `apply`.

pub mod address;
mod digest;
pub mod document;
pub mod drift;
pub mod explain;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod matching;
pub mod observed;
pub mod planner;
pub mod policy;
pub mod shape;

pub use digest::config_digest;
pub use document::{
    canonical_json, checksum, sha256_hex, Action, Address, AddressError, Change, LeftAlone,
    MemberRef, NotTouching, Notes, ObjectKind, Operation, Phase, PlanDocument, PlanFileError,
    Precondition, Reason, RefNames, Requests, SafetyGate, Summary, Tally, TargetPlan, Via,
    WhyLeftAlone, FORMAT_VERSION,
};
pub use observed::{LiveGroup, LiveUser, Observed, ObservedError};
pub use planner::plan_target;

use crate::config::Desired;
use crate::mapping::{AttrPath, CompiledTarget, RenderError};
use serde_json::{Map, Value};

/// What to plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--only users|groups`: changes of this kind only.
    pub only: Option<ObjectKind>,
    /// `--resource ADDR` (repeatable): changes at these addresses only (with or without the
    /// `<target>:` prefix), plus the creates they depend on.
    pub resources: Vec<String>,
}

/// Why a target cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the mapping does not compile: {0}")]
    Mapping(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{0}")]
    Policy(String),
    /// Membership of an owned group was not read; diffing it would remove every member.
    #[error("the members of group {group:?} (id {id}) were not read; refusing to plan its membership from partial state")]
    MembersNotRead { group: String, id: String },
}

/// Whether a live value and a desired value are the same for the planner: absent, null and ""
/// are one value (docs/contract.md#checksum-and-digests); text and a number or boolean with that text are equal
/// (templates render text, servers answer typed values).
pub fn same_value(have: Option<&Value>, want: Option<&Value>) -> bool {
    let have = have.filter(|v| !is_blank(v));
    let want = want.filter(|v| !is_blank(v));
    match (have, want) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b || scalar_text(a).is_some_and(|x| Some(x) == scalar_text(b)),
        _ => false,
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

/// The digest of a precondition: SHA-256 of the canonical JSON of `{path: live value}` over
/// `paths`, absent = null = "" (written as null). Apply recomputes it on its re-read with the
/// paths the precondition lists.
pub fn precondition_digest(live: &Value, paths: &[&AttrPath]) -> String {
    let mut m = Map::new();
    for p in paths {
        let v = p
            .get(live)
            .filter(|v| !is_blank(v))
            .cloned()
            .unwrap_or(Value::Null);
        m.insert(p.to_string(), v);
    }
    sha256_hex(canonical_json(&Value::Object(m)).as_bytes())
}

/// The attributes a precondition digest covers for changes of `kind`: every mapped attribute
/// (each path once), and `active` for users. Apply recomputes the digest over these on its
/// re-read, from the same configuration (the plan's `config_digest` guarantees that).
pub fn digest_paths(compiled: &CompiledTarget, kind: ObjectKind) -> Vec<AttrPath> {
    let rules = match kind {
        ObjectKind::User => &compiled.user,
        ObjectKind::Group => &compiled.group,
    };
    let active = AttrPath {
        schema: None,
        attr: "active".into(),
        filter: Vec::new(),
        sub: None,
    };
    let extra = (kind == ObjectKind::User).then_some(&active);
    let mut out: Vec<AttrPath> = Vec::new();
    for p in rules.iter().map(|r| &r.path).chain(extra) {
        if !out.iter().any(|o| o.key() == p.key()) {
            out.push(p.clone());
        }
    }
    out
}

/// The plan document over the given target plans. `created_at` (RFC 3339) and the version are
/// passed in so that tests are deterministic.
pub fn plan_document(
    desired: &Desired,
    targets: Vec<TargetPlan>,
    created_at: &str,
    roster_version: &str,
) -> PlanDocument {
    PlanDocument {
        format_version: FORMAT_VERSION.to_string(),
        roster_version: roster_version.to_string(),
        created_at: created_at.to_string(),
        config_digest: config_digest(desired),
        checksum: checksum(&targets),
        targets,
        config_file: None,
        redact_salt: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blank_values_are_equal_and_text_matches_typed_values() {
        assert!(same_value(None, Some(&json!(""))));
        assert!(same_value(Some(&Value::Null), None));
        assert!(same_value(Some(&json!(true)), Some(&json!("true"))));
        assert!(same_value(Some(&json!(3)), Some(&json!("3"))));
        assert!(!same_value(Some(&json!("A")), Some(&json!("a"))));
        assert!(!same_value(Some(&json!("a")), None));
    }

    #[test]
    fn digest_treats_absent_null_and_empty_alike_and_ignores_other_attributes() {
        let p = AttrPath::parse("title").expect("path");
        let q = AttrPath::parse("name.givenName").expect("path");
        let paths = [&p, &q];
        let a = precondition_digest(&json!({"title": "", "x": 1}), &paths);
        let b = precondition_digest(&json!({"name": {"givenName": null}}), &paths);
        assert_eq!(a, b);
        let c = precondition_digest(&json!({"title": "Eng"}), &paths);
        assert_ne!(a, c);
    }
}
