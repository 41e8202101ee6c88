//! Validation of a configuration as a whole: the checks `roster validate` reports, and what
//! every other command runs before it does anything else.
//!
//! It sits above `config` and `mapping` so that neither needs the other's checks: `config`
//! checks the directory and each target's own settings, and the checks here hold a target's
//! mapping against the directory (they render every assigned object). Keeping them out of
//! `config` is what lets `config` know nothing of templates.

mod fields;
mod mappings;
mod rendered;
mod rules;
mod values;

use crate::config::check::CheckOptions;
use crate::config::{self, Desired, Resolved};
use crate::diag::Diagnostic;
use std::path::Path;

/// Read, resolve and check a configuration, with the default options.
pub fn read(entry: &Path) -> Resolved {
    read_with(entry, CheckOptions::default())
}

/// [`read`] with options that change what the checks accept (e.g. `--insecure-http`).
pub fn read_with(entry: &Path, options: CheckOptions) -> Resolved {
    read_from(entry, options, &config::load::FileSystem)
}

/// [`read_with`] through another source of files (the configuration at a git commit).
pub fn read_from(
    entry: &Path,
    options: CheckOptions,
    source: &dyn config::load::Source,
) -> Resolved {
    let mut resolved = config::read_unchecked_from(
        entry,
        config::load::LoadOptions {
            allow_include_outside: options.allow_include_outside,
        },
        source,
    );
    // Semantic checks only make sense on what parsed; they still run when some file failed, so
    // that one run shows as much as it can.
    let checking = std::time::Instant::now();
    let found = check_with(&resolved.desired, options);
    resolved.diagnostics.extend(found);
    tracing::debug!(
        elapsed_ms = checking.elapsed().as_millis() as u64,
        peak_rss_mb = config::peak_rss_mb(),
        "configuration checked"
    );
    config::seal(&mut resolved);
    resolved
}

/// Every problem in the configuration, with the default options.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    check_with(desired, CheckOptions::default())
}

/// Every problem in the configuration: the directory's and the targets' settings first, then
/// the mappings'.
///
/// The mapping checks (which render every assigned user) read the same configuration as the
/// directory checks and share nothing with them, so they run on a second thread meanwhile.
pub fn check_with(desired: &Desired, options: CheckOptions) -> Vec<Diagnostic> {
    std::thread::scope(|scope| {
        let mapping = scope.spawn(|| mappings::check(desired));
        let mut out = config::check::check_with(desired, options);
        // a panic in the mapping checks is re-raised on this thread, as before
        match mapping.join() {
            Ok(d) => out.extend(d),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
}

/// The mapping checks alone, for benchmarks that time them apart from the directory checks.
pub fn check_mappings(desired: &Desired) -> Vec<Diagnostic> {
    mappings::check(desired)
}

#[cfg(test)]
mod resolved_tests {
    use crate::config::{load, resolve, Desired};
    use crate::diag::{Diagnostic, SourceFile, SourceMap};

    /// Resolve and check one document; every diagnostic message, sorted.
    fn messages(yaml: &str) -> Vec<String> {
        let mut sources = SourceMap::default();
        let file = sources.add(SourceFile {
            display: "roster.yaml".into(),
            path: "roster.yaml".into(),
            text: yaml.into(),
        });
        let doc = load::parse_document(yaml, file).expect("parses");
        let mut diags: Vec<Diagnostic> = Vec::new();
        let desired: Desired = resolve(vec![(file, doc)], sources, ".".into(), &mut diags);
        diags.extend(super::check(&desired));
        let mut m: Vec<String> = diags.into_iter().map(|d| d.message).collect();
        m.sort();
        m
    }

    #[test]
    fn a_diamond_of_nested_groups_is_not_a_cycle() {
        let m = messages(
            "version: 1\ngroups:\n  - name: a\n    include: [b, c]\n  - name: b\n    include: [d]\n  \
             - name: c\n    include: [d]\n  - name: d\n",
        );
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn nested_groups_resolve_by_id_or_name() {
        let m = messages(
            "version: 1\ngroups:\n  - name: a\n    include: [g-b]\n  - id: g-b\n    name: b\n    \
             include: [a]\n",
        );
        assert_eq!(m, vec!["nested group cycle: a -> b -> a"]);
    }

    #[test]
    fn a_manager_chain_is_fine_and_a_loop_is_reported_once() {
        let chain = messages(
            "version: 1\nusers:\n  - { id: a, user_name: a }\n  - { id: b, user_name: b, manager: a }\n  \
             - { id: c, user_name: c, manager: b }\n",
        );
        assert!(chain.is_empty(), "{chain:?}");
        let cycle = messages(
            "version: 1\nusers:\n  - { id: x, user_name: x, manager: b }\n  - { id: a, user_name: a, manager: c }\n  \
             - { id: b, user_name: b, manager: a }\n  - { id: c, user_name: c, manager: b }\n",
        );
        assert_eq!(cycle, vec!["manager cycle: b -> a -> c -> b"]);
    }

    #[test]
    fn two_unnamed_groups_with_one_name_are_one_duplicate() {
        let m = messages("version: 1\ngroups:\n  - name: eng\n  - name: eng\n");
        assert_eq!(
            m,
            vec!["duplicate group name \"eng\" (group names are compared ignoring case)"]
        );
    }

    #[test]
    fn a_user_without_user_name_does_not_cascade() {
        let m =
            messages("version: 1\nusers:\n  - id: e1\ngroups:\n  - name: eng\n    members: [e1]\n");
        assert_eq!(m, vec!["user is missing the required field `user_name`"]);
    }

    #[test]
    fn an_unreadable_file_holds_back_unknown_references_and_says_so_once() {
        let yaml = "version: 1\ngroups:\n  - name: eng\n    members: [e1, e2, e3]\n\
                    users:\n  - { id: e0, user_name: a, manager: e9 }\n";
        let mut sources = SourceMap::default();
        let file = sources.add(SourceFile {
            display: "groups.yaml".into(),
            path: "groups.yaml".into(),
            text: yaml.into(),
        });
        sources.unreadable.push("people/x.yaml".into());
        let doc = load::parse_document(yaml, file).expect("parses");
        let mut diags: Vec<Diagnostic> = Vec::new();
        let desired: Desired = resolve(vec![(file, doc)], sources, ".".into(), &mut diags);
        let found: Vec<String> = super::check(&desired)
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            found,
            vec!["references to users/groups in people/x.yaml not checked"]
        );
        // with every file read, the same references are errors
        let all = messages(yaml);
        assert_eq!(all.len(), 4, "{all:?}");
    }

    #[test]
    fn http_is_allowed_to_loopback_and_with_insecure_http() {
        let yaml = |url: &str| {
            format!(
                "version: 1\ntargets:\n  t:\n    type: generic\n    url: {url}\n    auth: {{ bearer_token_env: T }}\n    \
                 assign: {{ all: true }}\n    policy: {{ owns: {{ external_id: x }} }}\n"
            )
        };
        assert!(messages(&yaml("http://127.0.0.1:9999/scim/v2")).is_empty());
        let remote = yaml("http://scim.example.com/scim/v2");
        assert_eq!(messages(&remote).len(), 1);
        let doc = load::parse_document(&remote, 0).expect("parses");
        let mut diags = Vec::new();
        let desired = resolve(vec![(0, doc)], SourceMap::default(), ".".into(), &mut diags);
        let insecure = super::check_with(
            &desired,
            super::CheckOptions {
                insecure_http: true,
                ..Default::default()
            },
        );
        assert!(insecure.is_empty(), "{insecure:?}");
    }
}

#[cfg(test)]
mod member_tests {
    use crate::config::{load, resolve};
    use crate::diag::SourceMap;

    #[test]
    fn a_member_listed_twice_is_a_warning_and_other_groups_may_share_it() {
        let yaml = "version: 1\nusers:\n  - { id: e1, user_name: a }\ngroups:\n  - name: x\n    \
                    members: [e1, e1]\n  - name: y\n    members: [e1]\n";
        let doc = load::parse_document(yaml, 0).expect("parses");
        let mut diags = Vec::new();
        let desired = resolve(vec![(0, doc)], SourceMap::default(), ".".into(), &mut diags);
        let found = super::check(&desired);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].is_error());
        assert_eq!(
            found[0].message,
            "\"e1\" is listed twice in the members of group \"x\""
        );
        assert_eq!(found[0].notes[0].0.line, 6);
    }
}
