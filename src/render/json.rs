//! The plan as JSON: the versioned document of docs/contract.md#plan-document, as `plan --format json` prints it
//! and `plan --out` saves it.

use crate::plan::document::PlanDocument;

/// Pretty JSON with a trailing newline. The document's types only hold strings, numbers, maps
/// and lists, which always serialize; the fallback keeps the signature infallible without a
/// panic path.
pub fn render_json(doc: &PlanDocument) -> String {
    let mut s = serde_json::to_string_pretty(doc)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::document::{PlanDocument, FORMAT_VERSION};

    #[test]
    fn round_trips_and_ends_with_newline() {
        let doc = PlanDocument {
            format_version: FORMAT_VERSION.into(),
            roster_version: "0.1.0".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            config_digest: "sha256:00".into(),
            checksum: crate::plan::document::checksum(&[]),
            targets: vec![],
            config_file: None,
            redact_salt: None,
        };
        let s = render_json(&doc);
        assert!(s.ends_with("}\n"));
        assert!(s.contains("\n  \"format_version\": \"1\""));
        let back: PlanDocument = serde_json::from_str(&s).expect("parses");
        assert_eq!(back, doc);
    }
}
