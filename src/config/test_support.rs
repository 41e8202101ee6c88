//! Test helpers shared by the unit tests of `config`, `mapping` and `plan`.

use super::Desired;

/// Resolve one configuration text the way `roster` does (presets merged), adding `version: 1`
/// when the text leaves it out, and fail the test on any problem `resolve` reports.
pub fn desired(yaml: &str) -> Desired {
    let text = if yaml.contains("version:") {
        yaml.to_string()
    } else {
        format!("version: 1\n{yaml}")
    };
    let doc = super::load::parse_document(&text, 0).expect("test configuration parses");
    let mut diags = Vec::new();
    let d = super::resolve(
        vec![(0, doc)],
        crate::diag::SourceMap::default(),
        ".".into(),
        &mut diags,
    );
    assert!(diags.is_empty(), "{diags:?}");
    d
}
