//! Matching desired objects to live ones by the target's key precedence (docs/contract.md#matching-and-ownership).
//!
//! Keys are tried in rounds, one round per key in precedence order, so that a live object already
//! matched by an earlier key (say externalId) is no longer a candidate for a later key (say
//! userName). That is what lets a rename that frees a userName and a create that takes it live in
//! one plan instead of reading as a conflict. Each round is a hash lookup per object: O(n).
//!
//! Conflicts, which are reported and never acted on: a key that matches two live objects; a
//! later key matching a live object whose externalId differs from the desired one; two desired
//! objects matching the same live object in one round. Live objects involved in a conflict are
//! marked so that no other rule (ownership, `unmanaged`) touches them either.

use crate::fasthash::{map_with_capacity, FastMap};
use std::borrow::Cow;

/// How one key compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// The key's name for messages (`externalId`, `userName`, ...).
    pub name: &'static str,
    /// userName, email and displayName ignore case; externalId does not.
    pub case_insensitive: bool,
    pub is_external_id: bool,
}

/// Key values of one object, one per [`KeySpec`]; `None` = absent or empty (skipped). Values
/// borrow from the rendered or live object unless lowercasing changed them.
pub type Keys<'a> = Vec<Option<Cow<'a, str>>>;

/// The key form used for lookups.
pub fn normalize<'a>(spec: &KeySpec, v: &'a str) -> Option<Cow<'a, str>> {
    if v.is_empty() {
        return None;
    }
    Some(if spec.case_insensitive {
        lowercase(v)
    } else {
        Cow::Borrowed(v)
    })
}

/// The live objects with one key value: almost always one, so no list is allocated for it.
enum Slot {
    One(u32),
    Many(Vec<u32>),
}

impl Slot {
    fn as_slice(&self) -> &[u32] {
        match self {
            Slot::One(l) => std::slice::from_ref(l),
            Slot::Many(v) => v,
        }
    }
}

/// Lowercase without allocating for the common all-lowercase case.
pub fn lowercase(v: &str) -> Cow<'_, str> {
    if v.chars().any(char::is_uppercase) {
        Cow::Owned(v.to_lowercase())
    } else {
        Cow::Borrowed(v)
    }
}

/// Why a desired object could not be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The key matches these live objects (two or more).
    Ambiguous { key: usize, live: Vec<usize> },
    /// The key matches this live object, but its externalId differs from the desired one.
    ExternalIdDiffers { key: usize, live: usize },
    /// Other desired objects match the same live object by the same key.
    Shared {
        key: usize,
        live: usize,
        others: Vec<usize>,
    },
}

/// The outcome for one desired object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unmatched,
    Matched {
        live: usize,
        /// The key (index into the specs) that matched.
        key: usize,
        /// Matched by a later key on a live object with no externalId: set it.
        adopt: bool,
    },
    Conflict(Conflict),
}

/// The matching of one kind of object.
#[derive(Debug, Clone)]
pub struct Matching {
    pub desired: Vec<Outcome>,
    /// The desired object each live object is matched to.
    pub live_owner: Vec<Option<usize>>,
    /// Live objects involved in a conflict: never touched.
    pub live_conflicted: Vec<bool>,
}

/// Match `desired` against `live` (objects with `skip_desired` / `skip_live` set take no part).
pub fn match_objects(
    specs: &[KeySpec],
    desired: &[Keys],
    skip_desired: &[bool],
    live: &[Keys],
    skip_live: &[bool],
) -> Matching {
    let ext_pos = specs.iter().position(|s| s.is_external_id);
    // One index per key: value -> live objects with it.
    let mut index: Vec<FastMap<&str, Slot>> = (0..specs.len())
        .map(|_| map_with_capacity(live.len()))
        .collect();
    for (l, keys) in live.iter().enumerate() {
        if skip_live[l] {
            continue;
        }
        for (k, v) in keys.iter().enumerate() {
            if let Some(v) = v {
                // u32 indices halve the index's size; 4 billion live objects is not a case.
                let l = l as u32;
                index[k]
                    .entry(v.as_ref())
                    .and_modify(|s| match s {
                        Slot::One(first) => *s = Slot::Many(vec![*first, l]),
                        Slot::Many(all) => all.push(l),
                    })
                    .or_insert(Slot::One(l));
            }
        }
    }
    let mut out = Matching {
        desired: vec![Outcome::Unmatched; desired.len()],
        live_owner: vec![None; live.len()],
        live_conflicted: vec![false; live.len()],
    };
    let mut decided: Vec<bool> = skip_desired.to_vec();
    for k in 0..specs.len() {
        // Single-candidate claims of this round: (live, desired), grouped by live below.
        let mut claims: Vec<(u32, u32)> = Vec::new();
        let mut ambiguous: Vec<(usize, Vec<usize>)> = Vec::new();
        for (d, keys) in desired.iter().enumerate() {
            if decided[d] {
                continue;
            }
            let Some(v) = &keys[k] else { continue };
            let Some(cands) = index[k].get(v.as_ref()) else {
                continue;
            };
            let cands = cands.as_slice();
            let is_free = |l: &&u32| {
                out.live_owner[**l as usize].is_none() && !out.live_conflicted[**l as usize]
            };
            // Count before collecting: almost every lookup has exactly one candidate.
            let mut free = cands.iter().filter(is_free);
            match (free.next(), free.next()) {
                (None, _) => {}
                (Some(l), None) => claims.push((*l, d as u32)),
                (Some(_), Some(_)) => ambiguous.push((
                    d,
                    cands.iter().filter(is_free).map(|l| *l as usize).collect(),
                )),
            }
        }
        for (d, free) in ambiguous {
            for l in &free {
                out.live_conflicted[*l] = true;
            }
            out.desired[d] = Outcome::Conflict(Conflict::Ambiguous { key: k, live: free });
            decided[d] = true;
        }
        claims.sort_unstable();
        for group in claims.chunk_by(|a, b| a.0 == b.0) {
            let l = group[0].0 as usize;
            if group.len() > 1 || out.live_conflicted[l] {
                out.live_conflicted[l] = true;
                for (_, d) in group {
                    let others = group
                        .iter()
                        .filter(|(_, o)| o != d)
                        .map(|(_, o)| *o as usize)
                        .collect();
                    out.desired[*d as usize] = Outcome::Conflict(Conflict::Shared {
                        key: k,
                        live: l,
                        others,
                    });
                    decided[*d as usize] = true;
                }
                continue;
            }
            let d = group[0].1 as usize;
            decided[d] = true;
            let mut adopt = false;
            if let Some(e) = ext_pos.filter(|e| *e != k) {
                match (&desired[d][e], &live[l][e]) {
                    (Some(want), Some(have)) if want != have && e < k => {
                        out.live_conflicted[l] = true;
                        out.desired[d] =
                            Outcome::Conflict(Conflict::ExternalIdDiffers { key: k, live: l });
                        continue;
                    }
                    (Some(_), None) => adopt = true,
                    _ => {}
                }
            }
            out.live_owner[l] = Some(d);
            out.desired[d] = Outcome::Matched {
                live: l,
                key: k,
                adopt,
            };
        }
    }
    shadowed_duplicates(&mut out, desired, live, skip_live, &index, ext_pos);
    out
}

/// A desired object matched by an early key whose later key also names another live object that
/// has no externalId and nothing else owns is ambiguous: were its match deleted, the next plan
/// would adopt that other object and act on it. Report it as a conflict now, before anything is
/// changed, so one apply converges and a human decides which object is the real one.
fn shadowed_duplicates(
    out: &mut Matching,
    desired: &[Keys],
    live: &[Keys],
    skip_live: &[bool],
    index: &[FastMap<&str, Slot>],
    ext_pos: Option<usize>,
) {
    let Some(e) = ext_pos else { return };
    let mut found: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for (d, outcome) in out.desired.iter().enumerate() {
        let Outcome::Matched { live: l, key, .. } = *outcome else {
            continue;
        };
        for k in key + 1..desired[d].len() {
            let Some(v) = &desired[d][k] else { continue };
            let Some(cands) = index[k].get(v.as_ref()) else {
                continue;
            };
            let strays: Vec<usize> = cands
                .as_slice()
                .iter()
                .map(|c| *c as usize)
                .filter(|c| {
                    *c != l
                        && !skip_live[*c]
                        && live[*c][e].is_none()
                        && out.live_owner[*c].is_none()
                        && !out.live_conflicted[*c]
                })
                .collect();
            if !strays.is_empty() {
                let mut all = vec![l];
                all.extend(strays);
                all.sort_unstable();
                found.push((d, k, all));
                break;
            }
        }
    }
    for (d, k, all) in found {
        for l in &all {
            out.live_owner[*l] = None;
            out.live_conflicted[*l] = true;
        }
        out.desired[d] = Outcome::Conflict(Conflict::Ambiguous { key: k, live: all });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXT: KeySpec = KeySpec {
        name: "externalId",
        case_insensitive: false,
        is_external_id: true,
    };
    const NAME: KeySpec = KeySpec {
        name: "userName",
        case_insensitive: true,
        is_external_id: false,
    };

    fn keys<'a>(ext: Option<&'a str>, name: Option<&'a str>) -> Keys<'a> {
        vec![
            ext.and_then(|v| normalize(&EXT, v)),
            name.and_then(|v| normalize(&NAME, v)),
        ]
    }

    fn run(desired: &[Keys], live: &[Keys]) -> Matching {
        match_objects(
            &[EXT, NAME],
            desired,
            &vec![false; desired.len()],
            live,
            &vec![false; live.len()],
        )
    }

    #[test]
    fn external_id_first_then_user_name_ignoring_case() {
        let m = run(
            &[keys(Some("e1"), Some("a")), keys(Some("e2"), Some("B"))],
            &[keys(Some("e1"), Some("x")), keys(None, Some("b"))],
        );
        assert_eq!(
            m.desired[0],
            Outcome::Matched {
                live: 0,
                key: 0,
                adopt: false
            }
        );
        assert_eq!(
            m.desired[1],
            Outcome::Matched {
                live: 1,
                key: 1,
                adopt: true
            }
        );
    }

    #[test]
    fn external_id_compares_exactly() {
        let m = run(&[keys(Some("E1"), None)], &[keys(Some("e1"), None)]);
        assert_eq!(m.desired[0], Outcome::Unmatched);
    }

    #[test]
    fn a_rename_frees_its_user_name_for_a_new_user() {
        // e1 was renamed from "x" to "y"; e3 takes "x". e1 matches by externalId first, so
        // "x" is not a conflict for e3: e3 is created.
        let m = run(
            &[keys(Some("e1"), Some("y")), keys(Some("e3"), Some("x"))],
            &[keys(Some("e1"), Some("x"))],
        );
        assert!(matches!(m.desired[0], Outcome::Matched { live: 0, .. }));
        assert_eq!(m.desired[1], Outcome::Unmatched);
        assert!(!m.live_conflicted[0]);
    }

    #[test]
    fn differing_external_id_is_a_conflict() {
        let m = run(
            &[keys(Some("e3"), Some("x"))],
            &[keys(Some("e9"), Some("X"))],
        );
        assert_eq!(
            m.desired[0],
            Outcome::Conflict(Conflict::ExternalIdDiffers { key: 1, live: 0 })
        );
        assert!(m.live_conflicted[0]);
        assert_eq!(m.live_owner[0], None);
    }

    #[test]
    fn two_live_matches_are_a_conflict_and_both_are_untouched() {
        let m = run(
            &[keys(None, Some("a"))],
            &[keys(None, Some("A")), keys(None, Some("a"))],
        );
        assert_eq!(
            m.desired[0],
            Outcome::Conflict(Conflict::Ambiguous {
                key: 1,
                live: vec![0, 1]
            })
        );
        assert!(m.live_conflicted.iter().all(|c| *c));
    }

    #[test]
    fn a_duplicate_without_external_id_behind_an_external_id_match_is_a_conflict() {
        // Were live 1 deleted, the next plan would adopt live 0 by name: ambiguous now.
        let m = run(
            &[keys(Some("g1"), Some("group1"))],
            &[keys(None, Some("Group1")), keys(Some("g1"), Some("group1"))],
        );
        assert_eq!(
            m.desired[0],
            Outcome::Conflict(Conflict::Ambiguous {
                key: 1,
                live: vec![0, 1]
            })
        );
        assert_eq!(m.live_owner, vec![None, None]);
    }

    #[test]
    fn two_desired_on_one_live_object_conflict() {
        let m = run(
            &[keys(None, Some("a")), keys(None, Some("A"))],
            &[keys(None, Some("a"))],
        );
        assert!(matches!(
            m.desired[0],
            Outcome::Conflict(Conflict::Shared { .. })
        ));
        assert!(matches!(
            m.desired[1],
            Outcome::Conflict(Conflict::Shared { .. })
        ));
    }

    #[test]
    fn skipped_objects_take_no_part() {
        let m = match_objects(
            &[EXT, NAME],
            &[keys(Some("e1"), None)],
            &[false],
            &[keys(Some("e1"), None)],
            &[true],
        );
        assert_eq!(m.desired[0], Outcome::Unmatched);
    }
}
