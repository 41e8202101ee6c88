//! The address of a change: which target and which object, in the one spelling plans, `--resource`,
//! `depends_on`, `$user_ref` and apply's report all use.
//!
//! An address is parsed once (from a saved plan or a flag) and rendered once (when the planner
//! makes it); code in between asks it for its parts instead of cutting strings apart again.

use super::document::ObjectKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The address of one object in one target.
///
/// Grammar (docs/contract.md#addresses):
///
/// ```text
/// address  = target ":" kind "." object
/// kind     = "user" | "group"
/// object   = "live:" scim-id      ; a live object no directory entry matches
///          | directory-id         ; a directory user's or group's id
/// ```
///
/// e.g. `sandbox:user.alice`, `sandbox:group.eng`, `sandbox:user.live:9067729b3d-ee53`. The
/// target is everything before the first `:`, so a target name holds no `:`; the object is
/// everything after the kind's `.`, so ids may hold `.` and `:`. A directory id that starts
/// with `live:` cannot be told from a live object's address, and is written as one.
///
/// Held as its text with the position of its parts: ordering, hashing and [`Address::as_str`]
/// are the text's, so plans sort and serialize exactly as the string they always were.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    text: String,
    /// Where the object part starts (after `user.`, `group.` or `…live:`).
    object: usize,
    kind: ObjectKind,
    live: bool,
}

const LIVE: &str = "live:";

/// Text that is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an address: expected <target>:user.<id>, <target>:group.<id> or <target>:<kind>.live:<scim-id>")]
pub struct AddressError {
    pub text: String,
}

impl Address {
    /// The address of a directory object.
    pub fn directory(target: &str, kind: ObjectKind, id: &str) -> Address {
        Address::build(target, kind, false, id)
    }

    /// The address of a live object with no directory entry, by its SCIM id.
    pub fn live(target: &str, kind: ObjectKind, scim_id: &str) -> Address {
        Address::build(target, kind, true, scim_id)
    }

    fn build(target: &str, kind: ObjectKind, live: bool, id: &str) -> Address {
        let kind_text = kind_text(kind);
        let mut text = String::with_capacity(target.len() + kind_text.len() + id.len() + 8);
        text.push_str(target);
        text.push(':');
        text.push_str(kind_text);
        text.push('.');
        if live {
            text.push_str(LIVE);
        }
        let object = text.len();
        text.push_str(id);
        Address {
            text,
            object,
            kind,
            live,
        }
    }

    /// Parse an address that may leave out its `<target>:` (as `--resource` allows), in
    /// `target`.
    pub fn parse_in(target: &str, text: &str) -> Result<Address, AddressError> {
        match text.parse::<Address>() {
            Ok(a) => Ok(a),
            Err(_) => format!("{target}:{text}").parse(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn target(&self) -> &str {
        let end = self.text.find(':').unwrap_or(0);
        &self.text[..end]
    }

    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// The directory id, unless this is a live object's address.
    pub fn directory_id(&self) -> Option<&str> {
        (!self.live).then(|| &self.text[self.object..])
    }

    /// The SCIM id of a live object's address.
    pub fn live_id(&self) -> Option<&str> {
        self.live.then(|| &self.text[self.object..])
    }

    /// Whether this is a live object's address (`…live:<scim-id>`).
    pub fn is_live(&self) -> bool {
        self.live
    }
}

fn kind_text(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::User => "user",
        ObjectKind::Group => "group",
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        let bad = || AddressError {
            text: s.to_string(),
        };
        let (target, rest) = s.split_once(':').ok_or_else(bad)?;
        let (kind, id) = if let Some(id) = rest.strip_prefix("user.") {
            (ObjectKind::User, id)
        } else if let Some(id) = rest.strip_prefix("group.") {
            (ObjectKind::Group, id)
        } else {
            return Err(bad());
        };
        let (live, id) = match id.strip_prefix(LIVE) {
            Some(scim_id) => (true, scim_id),
            None => (false, id),
        };
        if target.is_empty() || id.is_empty() {
            return Err(bad());
        }
        Ok(Address::build(target, kind, live, id))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for Address {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The `n` texts of `known` closest to `wanted` by edit distance (ignoring case), closest
/// first, for the "did you mean" of an address that names nothing. Candidates further than
/// about half of the id's length (the part after the last `.` or `:`) are left out: every
/// address of a target shares its prefix, and a suggestion that shares nothing else misleads.
pub fn closest<'a>(wanted: &str, known: impl Iterator<Item = &'a str>, n: usize) -> Vec<String> {
    let w: Vec<char> = wanted.to_lowercase().chars().collect();
    let id = wanted.rsplit([':', '.']).next().unwrap_or(wanted);
    let limit = (id.chars().count() / 2 + 1).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .filter_map(|k| {
            let d = edit_distance(&w, k, limit)?;
            Some((d, k))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(n)
        .map(|(_, k)| k.to_string())
        .collect()
}

/// Levenshtein distance between `a` and `b` (lowercased), or `None` once it exceeds `limit`.
fn edit_distance(a: &[char], b: &str, limit: usize) -> Option<usize> {
    let b: Vec<char> = b.to_lowercase().chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= limit).then_some(d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_closest_addresses_are_suggested_and_strangers_are_not() {
        let known = [
            "sandbox:user.bob",
            "sandbox:user.alice",
            "sandbox:group.eng",
        ];
        assert_eq!(
            closest("sandbox:user.alcie", known.iter().copied(), 3),
            vec!["sandbox:user.alice"]
        );
        assert_eq!(
            closest("sandbox:user.bo", known.iter().copied(), 1),
            vec!["sandbox:user.bob"]
        );
        assert!(closest("x", known.iter().copied(), 3).is_empty());
    }

    use super::*;

    #[test]
    fn the_three_forms_parse_into_their_parts_and_render_back() {
        let a: Address = "sandbox:user.alice".parse().expect("parses");
        assert_eq!(
            (a.target(), a.kind(), a.directory_id(), a.live_id()),
            ("sandbox", ObjectKind::User, Some("alice"), None)
        );
        let g: Address = "sandbox:group.eng.platform".parse().expect("parses");
        assert_eq!(g.kind(), ObjectKind::Group);
        assert_eq!(g.directory_id(), Some("eng.platform"));
        let l: Address = "sandbox:user.live:9067-ee53".parse().expect("parses");
        assert_eq!((l.live_id(), l.directory_id()), (Some("9067-ee53"), None));
        for a in [a, g, l] {
            assert_eq!(a.to_string().parse::<Address>().as_ref(), Ok(&a));
        }
        assert_eq!(
            Address::live("t", ObjectKind::Group, "x").as_str(),
            "t:group.live:x"
        );
    }

    #[test]
    fn text_that_is_not_an_address_is_refused() {
        for bad in [
            "",
            "aws",
            "aws:",
            "aws:team.x",
            ":user.a",
            "aws:user.",
            "aws:user.live:",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_address_without_its_target_is_read_in_the_given_one() {
        let a = Address::parse_in("aws", "user.e1").expect("parses");
        assert_eq!(a.as_str(), "aws:user.e1");
        let l = Address::parse_in("aws", "group.live:x").expect("parses");
        assert_eq!(l.as_str(), "aws:group.live:x");
        let full = Address::parse_in("aws", "gcp:user.e1").expect("parses");
        assert_eq!(full.target(), "gcp");
    }
}
