//! The plan document: what `plan --format json` prints and `plan --out FILE` saves, and what
//! `show` and `apply PLAN_FILE` read back. Its shape is part of the user contract (docs/contract.md#plan-document):
//! scripts parse it, so fields are only ever added, and `format_version` changes when a
//! field changes meaning.

pub use super::address::{Address, AddressError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The version of this document's format.
pub const FORMAT_VERSION: &str = "1";

/// A whole plan over every selected target.
///
/// Every change carries its [`Phase`] (`"phase": "rename"`, ...), the order apply runs it in.
/// The field was added to format 1; plan files written before it are refused by
/// [`PlanDocument::from_value`] with "plan again" rather than re-derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDocument {
    pub format_version: String,
    pub roster_version: String,
    /// RFC 3339, UTC. Not covered by `checksum`.
    pub created_at: String,
    /// `sha256:` of the resolved configuration (what the plan was computed from).
    pub config_digest: String,
    /// `sha256:` over the targets' changes alone, so two plans of the same change set share it.
    pub checksum: String,
    pub targets: Vec<TargetPlan>,
    /// The entry file of the configuration, relative to the saved plan file's directory (or
    /// absolute when there is no relative way), so `roster apply PLAN_FILE` finds it without
    /// `-c`. Written by `plan --out` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    /// The key of `--redact`'s digests for this plan (hex), drawn when the plan is made, so
    /// that `plan --redact` and `show --redact PLAN_FILE` print the same digests. It is no
    /// secret of the target and adds nothing to what the file already holds in clear (the
    /// values themselves); redacted output never carries it (docs/contract.md#redaction).
    /// Not covered by `checksum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_salt: Option<String>,
}

/// A fresh [`PlanDocument::redact_salt`]: 32 random bytes, hex.
pub fn fresh_redact_salt() -> String {
    use rand::RngCore;
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    hex::encode(k)
}

/// Why a JSON value cannot be read as a plan document.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// A change without `phase`: written by a roster from before phases were saved.
    #[error(
        "the plan was made by an older roster (change {address:?} carries no phase); plan again"
    )]
    OlderRoster { address: String },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl PlanDocument {
    /// Read a plan document from its JSON, refusing one made by an older roster by name
    /// instead of as a missing field.
    pub fn from_value(value: Value) -> Result<PlanDocument, PlanFileError> {
        let older = value
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("changes").and_then(Value::as_array))
            .flatten()
            .find(|c| c.get("phase").is_none());
        if let Some(c) = older {
            return Err(PlanFileError::OlderRoster {
                address: c
                    .get("address")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(serde_json::from_value(value)?)
    }
}

/// The plan for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPlan {
    pub name: String,
    /// The SCIM base URL (`embedded:PATH` for the embedded provider).
    pub url: String,
    /// `aws-identity-center` or `generic`: the rules the operations are shaped for.
    pub dialect: String,
    /// Whether live state was read completely. A plan is never made from partial state, so a
    /// saved plan always has `true`; the field exists for consumers that check.
    pub complete: bool,
    pub summary: Summary,
    pub requests: Requests,
    pub changes: Vec<Change>,
    pub safety: Vec<SafetyGate>,
    /// Objects seen but not touched, for the "not touching" line.
    #[serde(default)]
    pub not_touching: NotTouching,
}

/// Counts of the summary line (docs/contract.md#summary-line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Creates.
    pub add: u64,
    /// Updates, reactivations, and groups whose members change.
    pub change: u64,
    /// User deactivations plus user and group deletes.
    pub destroy: u64,
    pub deactivate: u64,
    pub delete: u64,
    /// Live objects roster neither owns nor claims.
    pub unmanaged: u64,
    /// Live objects hidden by `ignore`.
    pub ignored: u64,
    /// Objects in conflict: nothing is sent for them, but the desired state is not reached, so
    /// they count as changes present and keep apply from exiting 0 (docs/contract.md#summary-line).
    #[serde(default)]
    pub conflicts: u64,
}

/// What applying the plan will send, and how long that takes at the target's rate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Requests {
    pub reads: u64,
    pub writes: u64,
    /// Membership operations (each member added or removed counts one).
    #[serde(default)]
    pub member_operations: u64,
    pub seconds_at_rate: f64,
    /// GET requests the plan's own read of live state took. `apply PLAN_FILE` re-reads the
    /// whole state this way instead of object by object when that is fewer requests.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub live_state_reads: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Objects the plan leaves alone, by why.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NotTouching {
    pub unmanaged_users: u64,
    pub unmanaged_groups: u64,
    pub ignored_users: u64,
    pub ignored_groups: u64,
    pub released: u64,
    pub protected: u64,
    /// Users left inactive by `policy.reactivate: false` (absent when none, so plans of targets
    /// without that setting read as before).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_reactivated: u64,
    /// Every object counted above, named: when adopting a tenant this list is what the reviewer
    /// must see (docs/contract.md#plan-document). Complete here; text and markdown cap it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<LeftAlone>,
}

/// One live object the plan leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftAlone {
    pub address: Address,
    /// The live user name or group display name, for humans.
    pub name: String,
    pub why: WhyLeftAlone,
}

/// Why an object is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhyLeftAlone {
    /// Neither owned nor claimed (`unmanaged: ignore`, or a group under `deactivate`).
    Unmanaged,
    /// Hidden by `ignore`.
    Ignored,
    /// Let go by `release`.
    Released,
    /// A destructive change was dropped because `protect` lists it.
    Protected,
    /// Inactive live, active in the directory, and `policy.reactivate` is false.
    NotReactivated,
}

impl WhyLeftAlone {
    pub fn as_str(self) -> &'static str {
        match self {
            WhyLeftAlone::Unmanaged => "unmanaged",
            WhyLeftAlone::Ignored => "ignored",
            WhyLeftAlone::Released => "released",
            WhyLeftAlone::Protected => "protected",
            WhyLeftAlone::NotReactivated => "not reactivated",
        }
    }
}

/// Users or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    User,
    Group,
}

/// What a change does. `actions` is a list (as in Terraform) so consumers can scan for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Deactivate,
    Reactivate,
    Delete,
    AddMembers,
    RemoveMembers,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Deactivate => "deactivate",
            Action::Reactivate => "reactivate",
            Action::Delete => "delete",
            Action::AddMembers => "add_members",
            Action::RemoveMembers => "remove_members",
        }
    }
}

/// When apply runs a change (docs/contract.md#phases): phases run one after another in this order, and
/// changes inside a phase run concurrently, each waiting only for the creates it names. The
/// planner decides the phase with the change and saves it in the plan, so apply never guesses it
/// back from the actions (a rename and a plain update have the same actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Updates that release or take a unique value (userName, primary email, group
    /// displayName), before creates that may take a released one.
    Rename,
    CreateUsers,
    CreateGroups,
    Update,
    AddMembers,
    RemoveMembers,
    Deactivate,
    Delete,
    /// Reported, never sent: conflicts sort last and apply skips them.
    Conflict,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Rename => "rename",
            Phase::CreateUsers => "create_users",
            Phase::CreateGroups => "create_groups",
            Phase::Update => "update",
            Phase::AddMembers => "add_members",
            Phase::RemoveMembers => "remove_members",
            Phase::Deactivate => "deactivate",
            Phase::Delete => "delete",
            Phase::Conflict => "conflict",
        }
    }
}

/// Why a change is planned. Consumers must accept reasons they do not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Assigned in the directory, absent from the target.
    Missing,
    /// A mapped attribute differs.
    AttributeMismatch,
    /// In the directory but no longer assigned to this target.
    Unassigned,
    /// `active: false` in the directory.
    InactiveInDirectory,
    /// Owned (matched before, or `owns`) but gone from the directory.
    RemovedFromDirectory,
    /// Claimed by `unmanaged: deactivate|delete`.
    UnmanagedPolicy,
    /// A group's live members differ from the desired ones.
    MembershipDrift,
    /// Matched by a later key on a live object with no externalId: the externalId is set.
    Adopt,
    /// Active again in the directory.
    ActiveInDirectory,
    /// A key matches two live objects, or the externalId differs while a later key matches.
    Conflict,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::AttributeMismatch => "attribute_mismatch",
            Reason::Unassigned => "unassigned",
            Reason::InactiveInDirectory => "inactive_in_directory",
            Reason::RemovedFromDirectory => "removed_from_directory",
            Reason::UnmanagedPolicy => "unmanaged_policy",
            Reason::MembershipDrift => "membership_drift",
            Reason::Adopt => "adopt",
            Reason::ActiveInDirectory => "active_in_directory",
            Reason::Conflict => "conflict",
        }
    }
}

/// The summary's counting rule (docs/contract.md#summary-line), shared by the plan's summary line and apply's
/// `Apply complete!` line so the two always agree: creates are added; deactivations and deletes
/// are destroyed; updates, reactivations and member changes are changed, a group once however
/// many of its changes there are, and not at all when the same plan creates it.
#[derive(Debug, Default)]
pub struct Tally<'a> {
    pub add: u64,
    pub change: u64,
    pub deactivate: u64,
    pub delete: u64,
    created_groups: std::collections::HashSet<&'a str>,
    changed_groups: std::collections::HashSet<&'a str>,
}

impl<'a> Tally<'a> {
    /// A tally over changes of which `created_groups` are the group creates (their later member
    /// chunks do not count as changes).
    pub fn new(created_groups: impl IntoIterator<Item = &'a str>) -> Tally<'a> {
        Tally {
            created_groups: created_groups.into_iter().collect(),
            ..Tally::default()
        }
    }

    pub fn count(&mut self, kind: ObjectKind, address: &'a str, actions: &[Action]) {
        if actions.contains(&Action::Create) {
            self.add += 1;
        } else if actions.contains(&Action::Deactivate) {
            self.deactivate += 1;
        } else if actions.contains(&Action::Delete) {
            self.delete += 1;
        } else if kind == ObjectKind::User
            || (!self.created_groups.contains(address) && self.changed_groups.insert(address))
        {
            self.change += 1;
        }
    }
}

/// One planned change to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `<target>:user.<id>`, `<target>:group.<id>`, or `<target>:user.live:<scim-id>` for a live
    /// object with no directory entry (see [`Address`] for the grammar).
    pub address: Address,
    /// The user name or group name, for humans.
    pub name: String,
    pub kind: ObjectKind,
    /// The live SCIM id; absent for creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub actions: Vec<Action>,
    /// When apply runs it. Added after format 1 was first released: a plan file whose changes
    /// lack it was made by an older roster and is refused ([`PlanDocument::from_value`]).
    pub phase: Phase,
    pub reason: Reason,
    /// How many mapped attributes already match (folded in the text rendering).
    #[serde(default)]
    pub unchanged_attributes: u64,
    /// Attribute-level values before and after (by attribute path), for updates and creates.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub before: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub after: Map<String, Value>,
    /// Members added / removed (directory ids or live ids), for membership changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members_added: Vec<MemberRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members_removed: Vec<MemberRef>,
    /// The requests apply sends, already shaped for the target's dialect.
    pub operations: Vec<Operation>,
    /// What apply re-checks before writing; membership deltas carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<Precondition>,
    /// Addresses of changes that must succeed first (e.g. a user created before the group
    /// membership that names it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// For conflicts: what was found, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// With `plan --base` only: whether this change comes from the work tree's edits or was
    /// already planned at the base. Not covered by the checksum, so the reviewed checksum of a
    /// `--base` plan is the checksum of the same plan made without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Why the change is planned, in the configuration's words, for reviewers. Not covered by
    /// the checksum: apply does not read it.
    #[serde(flatten)]
    pub notes: Notes,
}

/// Review context of a change that apply never reads, so it is outside the checksum
/// ([`NOTE_FIELDS`]) and a plan with it has the checksum of the same plan without it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Notes {
    /// On a user create: what in `assign` brings the user into this target. On an `unassigned`
    /// deactivation: the groups that brought it here and no longer do (their live groups in
    /// the target still hold it); empty when nothing in the target held it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<Via>,
    /// For attributes whose values name another user (a manager), by attribute path: that
    /// user's name before and after, so that a reviewer reads a name rather than a live id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refs: BTreeMap<String, RefNames>,
}

/// The change fields [`Notes`] adds; [`checksum`] leaves them out (with `origin`).
pub const NOTE_FIELDS: [&str; 2] = ["via", "refs"];

/// One part of a target's `assign`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Via {
    /// `assign: { all: true }`.
    All,
    /// Named in `assign.users`.
    User,
    /// A member, directly or through `include`, of this assigned directory group.
    Group { name: String },
}

/// The names of the users a reference attribute points at, before and after the change (absent
/// when the value names no user roster read).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RefNames {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Where a change of a `plan --base` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The work tree's configuration differs from the base's: the change under review.
    Change,
    /// The base plan has the same change: live state already differed from the base.
    Drift,
}

/// A member of a membership change: the live id when the user exists, or the address of the
/// change that creates it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberRef {
    /// The user's name, for humans.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Set when the user is created by this plan: its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Address>,
}

/// One request of a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Operation {
    /// POST a new resource. Values `{"$user_ref": "<address>"}` inside `body` are replaced at
    /// apply time by the id of the user that address creates.
    Create { body: Map<String, Value> },
    /// PATCH with these operations.
    Patch {
        ops: Vec<crate::scim::resource::PatchOp>,
    },
    /// DELETE the resource.
    Delete,
}

/// What apply checks before writing a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    /// The ETag seen at plan time, where the server has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `sha256:` of the canonical JSON of the attributes the change reads or writes.
    pub digest: String,
}

/// One safety gate and whether it tripped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyGate {
    /// `max_destroy` or `max_destroy_percent`.
    pub gate: String,
    pub limit: f64,
    pub observed: f64,
    pub tripped: bool,
}

impl SafetyGate {
    /// The sentence for this gate when it trips: the plan's own wording, shown by every renderer
    /// and by apply's refusal.
    pub fn tripped_sentence(&self) -> String {
        let (observed, limit) = if self.gate.ends_with("percent") {
            (
                format!(
                    "{}% of owned objects destroyed",
                    plain_number(self.observed)
                ),
                format!("{}%", plain_number(self.limit)),
            )
        } else {
            let n = plain_number(self.observed);
            let s = if self.observed == 1.0 { "" } else { "s" };
            (
                format!("{n} destructive change{s}"),
                plain_number(self.limit),
            )
        };
        format!(
            "Safety gate {} tripped: {observed}, limit {limit}. Apply is blocked; pass --allow-destroy to override.",
            self.gate
        )
    }
}

/// A count or a percentage as people write it: no trailing zeros, at most two decimals.
pub fn plain_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// JSON with object keys sorted at every level and no insignificant whitespace: the form every
/// digest in a plan is computed over, so digests do not depend on key order.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut |s| out.push_str(s));
    out
}

/// [`canonical_json`] written piece by piece to `put`, so a digest can hash it as it goes.
pub fn write_canonical(v: &Value, put: &mut dyn FnMut(&str)) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            put("{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    put(",");
                }
                put(&Value::String(k.clone()).to_string());
                put(":");
                write_canonical(&m[k], put);
            }
            put("}");
        }
        Value::Array(a) => {
            put("[");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    put(",");
                }
                write_canonical(x, put);
            }
            put("]");
        }
        other => put(&other.to_string()),
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The checksum of a plan: over each target's name and changes only (not times, versions,
/// summaries or request estimates), so two plans of the same change set have the same one.
pub fn checksum(targets: &[TargetPlan]) -> String {
    let parts: Vec<Value> = targets
        .iter()
        .map(|t| {
            let mut changes = serde_json::to_value(&t.changes).unwrap_or(Value::Null);
            // Where a change comes from, and the notes for reviewers, are review context, not
            // part of what apply does.
            for c in changes.as_array_mut().into_iter().flatten() {
                if let Some(c) = c.as_object_mut() {
                    c.remove("origin");
                    for f in NOTE_FIELDS {
                        c.remove(f);
                    }
                }
            }
            serde_json::json!({ "name": t.name, "changes": changes })
        })
        .collect();
    sha256_hex(canonical_json(&Value::Array(parts)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,{"y":2,"x":1}],"c":null}}"#).expect("json");
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}"#
        );
    }

    #[test]
    fn a_plan_whose_changes_carry_no_phase_is_refused_as_older() {
        let doc = serde_json::json!({
            "format_version": "1", "roster_version": "0.1.0", "created_at": "x",
            "config_digest": "sha256:x", "checksum": "sha256:x",
            "targets": [{"name": "t", "url": "u", "dialect": "generic", "complete": true,
                "summary": Summary::default(), "requests": Requests::default(), "safety": [],
                "changes": [{"address": "t:user.a", "name": "a", "kind": "user",
                    "actions": ["delete"], "reason": "unmanaged_policy",
                    "operations": [{"request": "delete"}]}]}],
        });
        let err = PlanDocument::from_value(doc.clone()).expect_err("refused");
        assert!(err.to_string().contains("older roster"), "{err}");
        assert!(err.to_string().contains("plan again"), "{err}");
        let mut with = doc;
        with["targets"][0]["changes"][0]["phase"] = serde_json::json!("delete");
        let read = PlanDocument::from_value(with).expect("reads");
        assert_eq!(read.targets[0].changes[0].phase, Phase::Delete);
    }

    #[test]
    fn checksum_ignores_everything_but_changes() {
        let t = TargetPlan {
            name: "aws".into(),
            url: "https://x".into(),
            dialect: "generic".into(),
            complete: true,
            summary: Summary::default(),
            requests: Requests::default(),
            changes: vec![],
            safety: vec![],
            not_touching: NotTouching::default(),
        };
        let mut t2 = t.clone();
        t2.summary.unmanaged = 5;
        t2.requests.reads = 9;
        assert_eq!(checksum(std::slice::from_ref(&t)), checksum(&[t2]));
        let mut t3 = t.clone();
        t3.name = "other".into();
        // where a change comes from (plan --base) is not what apply does
        let mut t4 = t.clone();
        t4.changes
            .push(crate::plan::fixtures::create_user("e1", "a@example.com"));
        let mut t5 = t4.clone();
        t5.changes[0].origin = Some(Origin::Drift);
        // nor are the notes for reviewers
        t5.changes[0].notes.via = vec![Via::Group {
            name: "engineering".into(),
        }];
        t5.changes[0].notes.refs.insert(
            "manager.value".into(),
            RefNames {
                before: None,
                after: Some("bob@example.com".into()),
            },
        );
        assert_eq!(checksum(&[t4.clone()]), checksum(&[t5.clone()]));
        let json = serde_json::to_value(&t5.changes[0]).expect("json");
        assert_eq!(json["via"][0]["by"], "group");
        assert_eq!(json["refs"]["manager.value"]["after"], "bob@example.com");
        let back: Change = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, t5.changes[0]);
        assert_ne!(checksum(&[t]), checksum(&[t3]));
    }
}
