//! Drift as `roster drift` judges it: a plan whose changes are drift, less what the team has
//! accepted (`--ignore-known`). Pure: the plan, the accepted entries and today's date in, the
//! verdict out, so the rules (an expired entry accepts nothing) are tested without a clock.

use super::document::PlanDocument;
use crate::config::known::KnownEntry;
use serde_json::{json, Value};

/// What a drift run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftReport {
    /// Changes an unexpired entry accepts.
    pub known: Vec<KnownChange>,
    /// Entries whose last day has passed: they accept nothing any more.
    pub expired: Vec<KnownEntry>,
    /// Unexpired entries no change matched: the drift they accepted is gone.
    pub unused: Vec<KnownEntry>,
    /// Changes no unexpired entry accepts: what makes the exit code 2.
    pub new: usize,
}

/// A planned change that an entry accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownChange {
    pub address: String,
    pub name: String,
    pub entry: KnownEntry,
}

impl DriftReport {
    /// Whether live state differs in a way nobody accepted.
    pub fn drifted(&self) -> bool {
        self.new > 0
    }

    /// The report as JSON, for the `drift` key of `roster drift --format json`.
    pub fn to_json(&self) -> Value {
        let entry = |e: &KnownEntry| {
            json!({
                "address": e.address,
                "reason": e.reason,
                "expires": e.expires.map(format_date),
                "line": e.line,
            })
        };
        json!({
            "drifted": self.drifted(),
            "new": self.new,
            "known": self.known.iter().map(|k| {
                let mut v = entry(&k.entry);
                v["name"] = json!(k.name);
                v
            }).collect::<Vec<_>>(),
            "expired": self.expired.iter().map(entry).collect::<Vec<_>>(),
            "unused": self.unused.iter().map(entry).collect::<Vec<_>>(),
        })
    }
}

/// `YYYY-MM-DD`.
pub fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Judge the plan's changes against the accepted entries on `today` (UTC): an entry accepts
/// changes at its address through its expiry day.
pub fn classify(doc: &PlanDocument, known: &[KnownEntry], today: time::Date) -> DriftReport {
    let (expired, live): (Vec<&KnownEntry>, Vec<&KnownEntry>) = known
        .iter()
        .partition(|e| e.expires.is_some_and(|d| d < today));
    let mut report = DriftReport {
        expired: expired.into_iter().cloned().collect(),
        ..DriftReport::default()
    };
    let mut used = vec![false; live.len()];
    for c in doc.targets.iter().flat_map(|t| &t.changes) {
        match live.iter().position(|e| e.address == c.address.as_str()) {
            Some(i) => {
                used[i] = true;
                report.known.push(KnownChange {
                    address: c.address.as_str().to_string(),
                    name: c.name.clone(),
                    entry: live[i].clone(),
                });
            }
            None => report.new += 1,
        }
    }
    // An entry for a target this run did not plan (`--target`) is not known to be unused.
    let planned = |e: &KnownEntry| {
        doc.targets.iter().any(|t| {
            e.address
                .strip_prefix(t.name.as_str())
                .is_some_and(|rest| rest.starts_with(':'))
        })
    };
    report.unused = live
        .into_iter()
        .zip(used)
        .filter(|(e, u)| !u && planned(e))
        .map(|(e, _)| e.clone())
        .collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::known::parse_date;
    use crate::plan::fixtures::{create_user, one, update_user};

    fn entry(address: &str, expires: Option<&str>) -> KnownEntry {
        KnownEntry {
            address: address.into(),
            reason: None,
            expires: expires.and_then(parse_date),
            line: 1,
        }
    }

    #[test]
    fn accepted_drift_does_not_count_and_expired_entries_accept_nothing() {
        let doc = one(vec![create_user("e1003", "bob@example.com"), update_user()]);
        let today = parse_date("2026-06-01").expect("date");
        let created = doc.targets[0].changes[0].address.as_str().to_string();
        let updated = doc.targets[0].changes[1].address.as_str().to_string();
        let r = classify(&doc, &[entry(&created, Some("2026-06-01"))], today);
        assert_eq!((r.known.len(), r.new), (1, 1));
        assert!(r.drifted());
        let r = classify(
            &doc,
            &[
                entry(&created, None),
                entry(&updated, Some("2026-05-31")),
                entry("aws:user.gone", None),
            ],
            today,
        );
        assert_eq!(r.known.len(), 1);
        assert_eq!(r.new, 1, "the expired entry no longer accepts its change");
        assert_eq!(r.expired.len(), 1);
        assert_eq!(r.unused.len(), 1);
        let other = classify(&doc, &[entry("crm:user.e1", None)], today);
        assert!(other.unused.is_empty(), "crm was not planned in this run");
        assert_eq!(r.to_json()["expired"][0]["expires"], "2026-05-31");
        let r = classify(&doc, &[entry(&created, None), entry(&updated, None)], today);
        assert!(!r.drifted());
    }
}
