//! `--redact`: plans carry personal data (names, emails, phone numbers, addresses), and CI logs
//! and pull-request comments are read by more people than the directory is. Redaction replaces
//! every personal value with a short digest of it and keeps what reviewers and scripts need:
//! ids, addresses, actions, reasons, counts and the shape of each change. Equal values get equal
//! digests, so a reviewer can still see that a value moved from one attribute to another.
//!
//! The digest is keyed (HMAC-SHA256), so a reader who can guess a value (an email address, a
//! name from a list) cannot confirm it by hashing it. The key of a plan is, in order:
//! `ROSTER_REDACT_KEY` when set (digests stable across plans and machines that share it); else
//! the plan's own `redact_salt`, drawn when the plan was made and saved with it, so that
//! `plan --redact` and `show --redact PLAN_FILE` print the same digests; else (a plan file from
//! before the salt) a random key drawn once per run. The salt is safe in the plan file: that
//! file holds every value in clear already, and redacted output never carries the salt.
//!
//! A redacted document keeps its original `checksum`, which no longer matches its content: a
//! redacted plan can be shown to people but never applied.

use crate::plan::document::{Change, MemberRef, Operation, PlanDocument};
use serde_json::{Map, Value};

/// The prefix of every redacted value.
pub const PREFIX: &str = "redacted:";

/// Keys whose string values are identifiers or protocol words, not personal data.
const KEEP_KEYS: &[&str] = &["id", "externalId", "schemas", "$user_ref", "type", "$ref"];

/// The environment variable holding the redaction key.
pub const KEY_ENV: &str = "ROSTER_REDACT_KEY";

/// The key of this run: `ROSTER_REDACT_KEY`, or 32 random bytes drawn on first use.
fn key() -> &'static [u8] {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| match std::env::var(KEY_ENV) {
        Ok(k) if !k.is_empty() => k.into_bytes(),
        _ => {
            use rand::RngCore;
            let mut k = vec![0u8; 32];
            rand::rng().fill_bytes(&mut k);
            k
        }
    })
}

/// HMAC-SHA256 by its definition (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// `redacted:` and the first 12 hex digits of the value's HMAC-SHA256 under this run's key
/// (`ROSTER_REDACT_KEY`, or random): for names outside a plan document (apply's progress).
pub fn digest(value: &str) -> String {
    digest_with(key(), value)
}

/// The key for a plan's digests: `ROSTER_REDACT_KEY`, else the plan's salt, else this run's.
fn key_for(doc: &PlanDocument) -> Vec<u8> {
    match (std::env::var(KEY_ENV), &doc.redact_salt) {
        (Ok(k), _) if !k.is_empty() => k.into_bytes(),
        (_, Some(salt)) if !salt.is_empty() => salt.as_bytes().to_vec(),
        _ => key().to_vec(),
    }
}

pub(crate) fn digest_with(key: &[u8], value: &str) -> String {
    let h = hex::encode(hmac_sha256(key, value.as_bytes()));
    format!("{PREFIX}{}", &h[..12])
}

/// A copy of the plan with every personal value replaced by its digest.
pub fn redact(doc: &PlanDocument) -> PlanDocument {
    let key = key_for(doc);
    let mut out = doc.clone();
    // The salt would let a reader with a list of likely names confirm them: never shown.
    out.redact_salt = None;
    for t in &mut out.targets {
        for c in &mut t.changes {
            redact_change(&key, c);
            super::notes::redact_notes(&key, c);
        }
        super::notes::redact_left_alone(&key, &mut t.not_touching);
    }
    out
}

fn redact_change(key: &[u8], c: &mut Change) {
    c.name = digest_with(key, &c.name);
    redact_map(key, &mut c.before, false);
    redact_map(key, &mut c.after, false);
    for m in c
        .members_added
        .iter_mut()
        .chain(c.members_removed.iter_mut())
    {
        redact_member(key, m);
    }
    for op in &mut c.operations {
        match op {
            Operation::Create { body } => redact_map(key, body, false),
            Operation::Patch { ops } => {
                for p in ops {
                    let members = p.path.as_deref().is_some_and(is_members_path);
                    if let Some(path) = &mut p.path {
                        if !members {
                            *path = redact_path_literals(key, path);
                        }
                    }
                    if let Some(v) = &mut p.value {
                        redact_value(key, v, members);
                    }
                }
            }
            Operation::Delete => {}
        }
    }
    if let Some(d) = &mut c.detail {
        *d = digest_with(key, d);
    }
}

fn redact_member(key: &[u8], m: &mut MemberRef) {
    m.name = digest_with(key, &m.name);
}

fn is_members_path(path: &str) -> bool {
    path == "members" || path.starts_with("members[") || path.starts_with("members.")
}

/// A PATCH path may hold a filter with a personal value (`emails[value eq "a@b.c"].primary`):
/// the quoted literals are redacted, the attribute names kept.
fn redact_path_literals(key: &[u8], path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        match after.find('"') {
            Some(end) => {
                out.push_str(&digest_with(key, &after[..end]));
                out.push('"');
                rest = &after[end + 1..];
            }
            None => {
                // An unbalanced quote: redact everything after it rather than leak it.
                out.push_str(&digest_with(key, after));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Redact the strings of an attribute map. Under `members` the values are live ids (kept) and
/// the `display` names are personal (redacted).
fn redact_map(key: &[u8], m: &mut Map<String, Value>, in_members: bool) {
    for (k, v) in m.iter_mut() {
        if KEEP_KEYS.contains(&k.as_str()) || (in_members && k == "value") {
            continue;
        }
        redact_value(key, v, in_members || k == "members");
    }
}

fn redact_value(key: &[u8], v: &mut Value, in_members: bool) {
    match v {
        Value::String(s) => *s = digest_with(key, s),
        Value::Array(a) => {
            for x in a {
                redact_value(key, x, in_members);
            }
        }
        Value::Object(m) => redact_map(key, m, in_members),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::document::*;
    use crate::scim::resource::PatchOp;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn doc() -> PlanDocument {
        let change = Change {
            address: "aws:user.e1001".parse().expect("address"),
            name: "alice@example.com".into(),
            kind: ObjectKind::User,
            id: Some("9067729b3d-ee533c18".into()),
            actions: vec![Action::Update],
            phase: Phase::Update,
            reason: Reason::AttributeMismatch,
            unchanged_attributes: 3,
            before: obj(
                json!({"title": "Engineer", "phoneNumbers": [{"value": "+1 555", "type": "work"}]}),
            ),
            after: obj(
                json!({"title": "Staff Engineer", "phoneNumbers": [{"value": "+1 556", "type": "work"}]}),
            ),
            members_added: vec![],
            members_removed: vec![],
            operations: vec![Operation::Patch {
                ops: vec![
                    PatchOp::replace("title", json!("Staff Engineer")),
                    PatchOp::replace(
                        "emails[value eq \"alice@example.com\"].primary",
                        json!(true),
                    ),
                ],
            }],
            precondition: None,
            depends_on: vec![],
            detail: Some("alice@example.com matches two users".into()),
            origin: None,
            notes: Default::default(),
        };
        let group = Change {
            address: "aws:group.eng".parse().expect("address"),
            name: "Engineering".into(),
            kind: ObjectKind::Group,
            id: None,
            actions: vec![Action::Create],
            phase: Phase::CreateGroups,
            reason: Reason::Missing,
            unchanged_attributes: 0,
            before: Map::new(),
            after: obj(json!({"displayName": "Engineering", "externalId": "eng"})),
            members_added: vec![MemberRef {
                name: "bob@example.com".into(),
                id: Some("u-2".into()),
                created_by: None,
            }],
            members_removed: vec![],
            operations: vec![Operation::Create {
                body: obj(json!({"displayName": "Engineering", "externalId": "eng",
                    "members": [{"value": "u-2", "display": "bob@example.com"}, {"value": {"$user_ref": "aws:user.e1002"}}]})),
            }],
            precondition: None,
            depends_on: vec!["aws:user.e1002".parse().expect("address")],
            detail: None,
            origin: None,
            notes: Default::default(),
        };
        PlanDocument {
            format_version: "1".into(),
            roster_version: "0.1.0".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            config_digest: "sha256:00".into(),
            checksum: "sha256:11".into(),
            targets: vec![TargetPlan {
                name: "aws".into(),
                url: "https://scim.example.com".into(),
                dialect: "generic".into(),
                complete: true,
                summary: Summary {
                    add: 1,
                    change: 1,
                    ..Summary::default()
                },
                requests: Requests::default(),
                changes: vec![change, group],
                safety: vec![],
                not_touching: NotTouching::default(),
            }],
            config_file: None,
            redact_salt: None,
        }
    }

    #[test]
    fn hides_personal_values_and_keeps_ids() {
        let r = redact(&doc());
        let s = serde_json::to_string(&r).expect("json");
        for secret in [
            "alice@example.com",
            "bob@example.com",
            "Engineer",
            "+1 555",
            "Engineering",
            "matches two",
        ] {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        for kept in [
            "aws:user.e1001",
            "9067729b3d-ee533c18",
            "u-2",
            "\"eng\"",
            "aws:user.e1002",
            "attribute_mismatch",
            "\"work\"",
            "emails[value eq \\\"redacted:",
        ] {
            assert!(s.contains(kept), "{kept} lost in {s}");
        }
        assert_eq!(r.targets[0].changes[0].name, digest("alice@example.com"));
        assert_eq!(r.targets[0].summary, doc().targets[0].summary);
    }

    #[test]
    fn is_deterministic_and_equal_values_share_a_digest() {
        assert_eq!(redact(&doc()), redact(&doc()));
        assert_eq!(digest("x"), digest("x"));
        assert_ne!(digest("x"), digest("y"));
        assert_eq!(digest("x").len(), PREFIX.len() + 12);
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test cases 2 (short key) and 6 (key longer than a block).
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn digests_depend_on_the_key() {
        assert_eq!(digest_with(b"k1", "alice"), digest_with(b"k1", "alice"));
        assert_ne!(digest_with(b"k1", "alice"), digest_with(b"k2", "alice"));
        // Not the bare SHA-256 a guesser could compute.
        use sha2::{Digest, Sha256};
        let bare = hex::encode(Sha256::digest(b"alice"));
        assert!(!digest("alice").contains(&bare[..12]));
    }

    #[test]
    fn unbalanced_quote_in_path_is_redacted_to_the_end() {
        let p = redact_path_literals(b"k", "emails[value eq \"alice@ex");
        assert!(!p.contains("alice"));
        assert!(p.starts_with("emails[value eq \"redacted:"));
    }

    #[test]
    fn the_plan_salt_keys_the_digests_and_is_never_shown() {
        if std::env::var_os(KEY_ENV).is_some() {
            return; // the operator's key wins over the salt; nothing to compare then
        }
        let mut a = doc();
        a.redact_salt = Some("salt-one".into());
        let r1 = redact(&a);
        // `show --redact` of the saved plan: same salt, same digests, in another run too
        let saved: PlanDocument =
            serde_json::from_str(&serde_json::to_string(&a).expect("json")).expect("read back");
        assert_eq!(redact(&saved), r1);
        assert_eq!(
            r1.targets[0].changes[0].name,
            digest_with(b"salt-one", "alice@example.com")
        );
        assert_eq!(r1.redact_salt, None);
        assert!(!serde_json::to_string(&r1)
            .expect("json")
            .contains("salt-one"));
        let mut b = doc();
        b.redact_salt = Some("salt-two".into());
        assert_ne!(
            redact(&b).targets[0].changes[0].name,
            r1.targets[0].changes[0].name
        );
    }
}
