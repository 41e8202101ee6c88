//! The YAML an import writes, by hand rather than through a serializer, so that it is
//! byte-stable and reads back exactly: `id` and `user_name` first, every string double-quoted
//! (JSON's escapes are YAML's), nothing that changes from run to run.

use crate::config::model::FieldValue;
use crate::config::{Group, User};

/// A key as YAML: plain when it is an identifier, else quoted.
fn yaml_key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        k.to_string()
    } else {
        yaml_str(k)
    }
}

/// A string as a YAML double-quoted scalar (JSON's escapes are YAML's), so no value is ever
/// read back as another type or breaks the document.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn yaml_value(v: &FieldValue) -> Option<String> {
    Some(match v {
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Int(i) => i.to_string(),
        FieldValue::Float(f) => serde_json::to_string(f).ok()?,
        FieldValue::Text(s) => yaml_str(s),
        FieldValue::List(l) => format!(
            "[{}]",
            l.iter().map(|s| yaml_str(s)).collect::<Vec<_>>().join(", ")
        ),
        FieldValue::Null(()) => return None,
    })
}

/// `users:` with one entry per user: `id` and `user_name` first, then the other fields in the
/// order they were found.
pub(super) fn users_yaml(users: &[User]) -> String {
    if users.is_empty() {
        return "users: []\n".into();
    }
    let mut out = String::from("users:\n");
    for u in users {
        out.push_str(&format!("  - id: {}\n", yaml_str(&u.id)));
        out.push_str(&format!("    user_name: {}\n", yaml_str(&u.user_name)));
        for (k, f) in &u.fields {
            if &**k == "id" || &**k == "user_name" {
                continue;
            }
            if let Some(v) = yaml_value(&f.value) {
                out.push_str(&format!("    {}: {v}\n", yaml_key(k)));
            }
        }
    }
    out
}

/// `groups:` with one entry per group; `members` only when the target reads membership.
pub(super) fn groups_yaml(groups: &[Group], with_members: bool) -> String {
    if groups.is_empty() {
        return "groups: []\n".into();
    }
    let mut out = String::from("groups:\n");
    for g in groups {
        if g.id != g.name {
            out.push_str(&format!(
                "  - id: {}\n    name: {}\n",
                yaml_str(&g.id),
                yaml_str(&g.name)
            ));
        } else {
            out.push_str(&format!("  - name: {}\n", yaml_str(&g.name)));
        }
        if let Some(d) = &g.description {
            out.push_str(&format!("    description: {}\n", yaml_str(d)));
        }
        if !with_members {
            continue;
        }
        if g.members.is_empty() {
            out.push_str("    members: []\n");
        } else {
            out.push_str("    members:\n");
            for (m, _) in &g.members {
                out.push_str(&format!("      - {}\n", yaml_str(m)));
            }
        }
    }
    out
}
