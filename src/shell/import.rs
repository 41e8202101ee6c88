//! Adopting a populated tenant (`roster import`): read one target through the read-only client,
//! pick the live objects a filter selects, reverse the target's mapping on each, and hand back
//! YAML that, included by the entry file, makes the next plan empty. The filters are the ones
//! commercial IdPs offer on their import screens (see docs/contract.md, "Import").
//!
//! Everything is decided from one read of live state: which live object is which directory
//! entry (the target's match keys, in precedence), what the policy ignores or releases (those
//! stay out), and each group's members (read for every group that is imported). The YAML is
//! written here, not through the configuration's parser, so that it is byte-stable: sorted by
//! id, one file per kind, every string quoted the same way.

mod matching;
mod yaml;

use super::error::ShellError;
use super::observe::{ConnectSettings, Connection, ObserveError};
use super::target::CompiledTarget;
use crate::config::model::{FieldValue, MembersMode};
use crate::config::{assign, Desired, Group, Target, User};
use crate::mapping::reverse::{Reverser, Unreversed, Why};
use crate::plan::{LiveGroup, LiveUser, ObjectKind, PlanError};
use crate::scim::membership::read_memberships;
use crate::scim::{ReadOnlyClient, RequestCounts};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Which live objects to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Every live object the policy does not ignore or release.
    All,
    /// Live objects no directory entry matches.
    New,
    /// Objects that match but differ: the live values are written over the directory's.
    Update,
    /// Live active users the directory has inactive or does not assign to the target.
    Activate,
    /// Live users inactive or missing from the target while the directory has them active.
    Deactivate,
}

impl Filter {
    pub fn as_str(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::New => "new",
            Filter::Update => "update",
            Filter::Activate => "activate",
            Filter::Deactivate => "deactivate",
        }
    }
}

/// Why an import cannot go ahead.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `import` adopts one target; `--target` was missing or repeated.
    #[error("import reads one target: pass exactly one --target NAME (got {given})")]
    OneTarget { given: usize, known: Vec<String> },
    /// `--write` names something that is not a directory.
    #[error("--write {}: not a directory; nothing was written", .0.display())]
    NotADirectory(PathBuf),
    /// A file the import would write exists and `--force` was not given.
    #[error("{} exists; nothing was written", .0.display())]
    Exists(PathBuf),
    /// The directory for `--write` could not be made.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One file of an import: its name inside the `--write` directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFile {
    pub name: &'static str,
    pub text: String,
}

/// One attribute that could not be reversed, with every object it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct NotReversed {
    pub kind: ObjectKind,
    /// The attribute path as written in the mapping.
    pub path: String,
    pub why: Why,
    /// Directory ids of the objects, sorted.
    pub objects: Vec<String>,
}

/// What an import found and would write.
#[derive(Debug, Clone)]
pub struct Imported {
    pub target: String,
    pub filter: Filter,
    /// `users.yaml` and `groups.yaml`, in that order.
    pub files: Vec<ImportFile>,
    pub users: usize,
    pub groups: usize,
    /// Users without externalId, written with an id derived from their userName; the next plan
    /// adopts them (sets the externalId).
    pub adopted: usize,
    /// Attributes the written objects do not reproduce, one entry per attribute.
    pub not_reversed: Vec<NotReversed>,
    /// Users written active that the target's `assign` does not send: the next plan still
    /// deactivates them unless they are assigned.
    pub unassigned: Vec<String>,
    /// What the read of live state cost.
    pub requests: RequestCounts,
}

impl Imported {
    /// How many (object, attribute) pairs could not be reversed.
    pub fn not_reversed_count(&self) -> usize {
        self.not_reversed.iter().map(|n| n.objects.len()).sum()
    }
}

/// The one target `names` selects.
pub fn one_target<'a>(desired: &'a Desired, names: &[String]) -> Result<&'a Target, ShellError> {
    let known = || desired.targets.iter().map(|t| t.name.clone()).collect();
    if names.len() != 1 {
        return Err(ImportError::OneTarget {
            given: names.len(),
            known: known(),
        }
        .into());
    }
    let selected = super::target::select(desired, names)?;
    selected.into_iter().next().ok_or_else(|| {
        ImportError::OneTarget {
            given: 0,
            known: known(),
        }
        .into()
    })
}

/// Read the target and build the YAML of what `filter` selects.
pub async fn import(
    desired: &Desired,
    compiled: &CompiledTarget<'_>,
    settings: &ConnectSettings,
    filter: Filter,
) -> Result<Imported, ShellError> {
    let target = compiled.target;
    let conn = Connection::open(target, settings, true).await?;
    let read = read_live(&conn.reader(), compiled).await;
    let closed = conn.close().await;
    let live = read?;
    closed?;
    build(desired, compiled, &live, filter)
}

/// Live state as import needs it: every user and group, and the members of every group that
/// neither `ignore` nor `release` hides.
pub struct Live {
    pub users: Vec<LiveUser>,
    pub groups: Vec<LiveGroup>,
    pub requests: RequestCounts,
}

async fn read_live(
    client: &ReadOnlyClient,
    compiled: &CompiledTarget<'_>,
) -> Result<Live, ShellError> {
    let name = &compiled.target.name;
    let scim = |source| ObserveError::Scim {
        target: name.clone(),
        source: Box::new(source),
    };
    let other = |message: String| ObserveError::Other {
        target: name.clone(),
        message,
    };
    let users = client.list_users(None).await.map_err(scim)?;
    let groups = client.list_groups(None).await.map_err(scim)?;
    let lists = &compiled.lists;
    let wanted: Vec<String> = if compiled.target.policy.members == MembersMode::Off {
        Vec::new()
    } else {
        groups
            .iter()
            .filter(|g| {
                lists.ignore_groups.matching(&g.display_name).is_none()
                    && !lists
                        .release_groups
                        .contains(g.external_id.as_deref(), &g.display_name)
            })
            .filter_map(|g| g.id.clone())
            .collect()
    };
    let user_ids: Vec<String> = users.iter().filter_map(|u| u.id.clone()).collect();
    let (_, memberships) = read_memberships(client, &wanted, &user_ids, &groups)
        .await
        .map_err(scim)?;
    let mut live = Live {
        users: Vec::with_capacity(users.len()),
        groups: Vec::with_capacity(groups.len()),
        requests: RequestCounts::default(),
    };
    for u in users {
        let v = serde_json::to_value(&u).map_err(|e| other(format!("cannot read a user: {e}")))?;
        live.users
            .push(LiveUser::from_resource(v).map_err(|e| other(e.to_string()))?);
    }
    for g in groups {
        let members =
            g.id.as_ref()
                .and_then(|id| memberships.get(id))
                .map(|m| m.iter().cloned().collect());
        let mut v =
            serde_json::to_value(&g).map_err(|e| other(format!("cannot read a group: {e}")))?;
        if let Some(o) = v.as_object_mut() {
            o.remove("members");
        }
        let mut group = LiveGroup::from_resource(v).map_err(|e| other(e.to_string()))?;
        group.members = members;
        live.groups.push(group);
    }
    live.requests = client.counts();
    Ok(live)
}

/// The import of `live` for `filter`: pure, so tests drive it without a server.
pub fn build(
    desired: &Desired,
    compiled: &CompiledTarget<'_>,
    live: &Live,
    filter: Filter,
) -> Result<Imported, ShellError> {
    let target = compiled.target;
    let lists = &compiled.lists;
    // Reversed through every preset rule, not only those the directory's fields switch on: an
    // empty directory defines no `given_name`, but the imported one will.
    let full = crate::mapping::reverse::with_every_preset_rule(target);
    let mapping = crate::mapping::CompiledTarget::compile(&full).map_err(|d| {
        super::error::CompileError::Mapping {
            target: target.name.clone(),
            messages: d.into_iter().map(|x| x.message).collect(),
        }
    })?;
    let reverser = Reverser::new(&mapping, &full);
    let render_failed = |source| ShellError::Plan {
        target: target.name.clone(),
        source: PlanError::Render(source),
    };

    // Which live objects take part: never what `ignore` or `release` hides.
    let user_skip: Vec<bool> = live
        .users
        .iter()
        .map(|u| {
            lists.ignore_users.matching(u.user_name()).is_some()
                || lists.release_users.contains(u.external_id(), u.user_name())
        })
        .collect();
    let group_skip: Vec<bool> = live
        .groups
        .iter()
        .map(|g| {
            lists.ignore_groups.matching(g.display_name()).is_some()
                || lists
                    .release_groups
                    .contains(g.external_id(), g.display_name())
        })
        .collect();

    // Which directory entry each live object is, by the target's match keys in precedence.
    let user_match =
        matching::match_users(desired, compiled, live, &user_skip).map_err(render_failed)?;
    let group_match =
        matching::match_groups(desired, compiled, live, &group_skip).map_err(render_failed)?;
    let assignment = assign::assigned(desired, target);
    let mut user_assigned = vec![false; desired.users.len()];
    for &u in &assignment.users {
        user_assigned[u] = true;
    }

    // The directory id of every live user that takes part: its entry's, the one its mapping
    // gives back, or one derived from its userName.
    let directory_ids: HashSet<&str> = desired.users.iter().map(|u| u.id.as_str()).collect();
    let mut taken: HashSet<String> = directory_ids.iter().map(|s| s.to_string()).collect();
    let mut user_id: Vec<Option<String>> = vec![None; live.users.len()];
    let mut derive = Vec::new();
    for (l, u) in live.users.iter().enumerate() {
        if user_skip[l] {
            continue;
        }
        if let Some(d) = user_match[l] {
            user_id[l] = Some(desired.users[d].id.clone());
        } else if let Some(id) = reverser
            .user_id(&u.resource())
            .filter(|id| !directory_ids.contains(id.as_str()))
        {
            taken.insert(id.clone());
            user_id[l] = Some(id);
        } else {
            derive.push(l);
        }
    }
    derive.sort_by(|a, b| live.users[*a].user_name().cmp(live.users[*b].user_name()));
    let mut derived = vec![false; live.users.len()];
    for l in derive {
        derived[l] = true;
        let id = derived_id(live.users[l].user_name(), &taken);
        taken.insert(id.clone());
        user_id[l] = Some(id);
    }
    let by_live_id: HashMap<&str, usize> = live
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    let resolve = |live_id: &str| by_live_id.get(live_id).and_then(|l| user_id[*l].clone());

    // Users.
    let mut users: Vec<User> = Vec::new();
    let mut unreversed: Vec<(ObjectKind, String, Unreversed)> = Vec::new();
    let mut unassigned = Vec::new();
    let mut adopted = 0;
    let mut live_of_desired: Vec<Option<usize>> = vec![None; desired.users.len()];
    for (l, m) in user_match.iter().enumerate() {
        if let Some(d) = m {
            live_of_desired[*d] = Some(l);
        }
    }
    for (l, u) in live.users.iter().enumerate() {
        let Some(id) = &user_id[l] else { continue };
        let matched = user_match[l];
        let base = matched.map(|d| &desired.users[d]);
        let selected = match (filter, matched) {
            (Filter::All, _) => true,
            (Filter::New, m) => m.is_none(),
            (_, None) => false,
            (Filter::Update, Some(d)) => {
                matching::user_differs(compiled, &desired.users[d], &u.resource(), &resolve)
                    .map_err(render_failed)?
            }
            (Filter::Activate, Some(d)) => {
                u.active() && (!desired.users[d].active || !user_assigned[d])
            }
            (Filter::Deactivate, Some(d)) => {
                !u.active() && desired.users[d].active && user_assigned[d]
            }
        };
        if !selected {
            continue;
        }
        let (mut user, why) = reverser.user(&u.resource(), id, base, &resolve);
        if filter == Filter::Deactivate {
            set_active(&mut user, false);
        }
        if let (Some(d), true) = (user_match[l], user.active) {
            if !user_assigned[d] {
                unassigned.push(user.id.clone());
            }
        }
        unreversed.extend(why.into_iter().map(|w| (ObjectKind::User, id.clone(), w)));
        adopted += usize::from(derived[l]);
        users.push(user);
    }
    if filter == Filter::Deactivate {
        // Assigned and active in the directory, missing from the target: kept, made inactive,
        // so the next plan does not create them.
        for (d, u) in desired.users.iter().enumerate() {
            if u.active && user_assigned[d] && live_of_desired[d].is_none() {
                let mut user = u.clone();
                set_active(&mut user, false);
                users.push(user);
            }
        }
    }
    users.sort_by(|a, b| a.id.cmp(&b.id));

    // Groups.
    let mut groups: Vec<Group> = Vec::new();
    if matches!(filter, Filter::All | Filter::New | Filter::Update) {
        let members_of = |g: &LiveGroup| -> Vec<String> {
            let mut ids: Vec<String> = g
                .members
                .iter()
                .flatten()
                .filter_map(|m| resolve(m))
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let group_pos: HashMap<usize, usize> = assignment
            .groups
            .iter()
            .enumerate()
            .map(|(p, g)| (*g, p))
            .collect();
        for (l, g) in live.groups.iter().enumerate() {
            if group_skip[l] {
                continue;
            }
            let base = group_match[l].map(|d| &desired.groups[d]);
            let members = members_of(g);
            let selected = match (filter, base) {
                (Filter::All, _) => true,
                (Filter::New, b) => b.is_none(),
                (_, None) => false,
                (_, Some(d)) => {
                    let want: BTreeSet<&str> = group_match[l]
                        .and_then(|d| group_pos.get(&d))
                        .map(|p| {
                            assignment.members[*p]
                                .iter()
                                .map(|u| desired.users[*u].id.as_str())
                                .collect()
                        })
                        .unwrap_or_default();
                    let have: BTreeSet<&str> = members.iter().map(String::as_str).collect();
                    (target.policy.members != MembersMode::Off && want != have)
                        || matching::group_differs(compiled, d, &g.resource())
                            .map_err(render_failed)?
                }
            };
            if !selected {
                continue;
            }
            let id = base
                .map(|d| d.id.clone())
                .or_else(|| reverser.group_id(&g.resource()));
            let (mut group, why) = reverser.group(&g.resource(), id.as_deref(), base);
            group.members = members
                .into_iter()
                .map(|m| (m, crate::diag::Loc::default()))
                .collect();
            let key = id.unwrap_or_else(|| group.name.clone());
            unreversed.extend(why.into_iter().map(|w| (ObjectKind::Group, key.clone(), w)));
            groups.push(group);
        }
    }
    groups.sort_by(|a, b| a.id.cmp(&b.id).then(a.name.cmp(&b.name)));

    let header = |kind: &str| {
        format!(
            "# {kind}.yaml: imported from target {:?} by `roster import --filter {}`.\n\
             # Review it, then include it from the entry file.\n",
            target.name,
            filter.as_str()
        )
    };
    let files = vec![
        ImportFile {
            name: "users.yaml",
            text: format!("{}{}", header("users"), yaml::users_yaml(&users)),
        },
        ImportFile {
            name: "groups.yaml",
            text: format!(
                "{}{}",
                header("groups"),
                yaml::groups_yaml(&groups, target.policy.members != MembersMode::Off)
            ),
        },
    ];
    unassigned.sort();
    Ok(Imported {
        target: target.name.clone(),
        filter,
        files,
        users: users.len(),
        groups: groups.len(),
        adopted,
        not_reversed: group_unreversed(unreversed),
        unassigned,
        requests: live.requests,
    })
}

fn set_active(user: &mut User, active: bool) {
    user.active = active;
    if active {
        user.fields.shift_remove("active");
    } else if let Some(f) = user.fields.get_mut("active") {
        f.value = FieldValue::Bool(false);
    } else {
        user.fields.insert(
            "active".into(),
            crate::config::Field {
                value: FieldValue::Bool(false),
                loc: crate::diag::Loc::default(),
            },
        );
    }
}

fn group_unreversed(items: Vec<(ObjectKind, String, Unreversed)>) -> Vec<NotReversed> {
    let mut by: BTreeMap<(ObjectKind, String, Why), Vec<String>> = BTreeMap::new();
    for (kind, id, u) in items {
        by.entry((kind, u.path, u.why)).or_default().push(id);
    }
    by.into_iter()
        .map(|((kind, path, why), mut objects)| {
            objects.sort();
            NotReversed {
                kind,
                path,
                why,
                objects,
            }
        })
        .collect()
}

/// An id from a userName that the directory accepts and no other user has: lowercase, every
/// character but letters, digits, `.`, `_` and `-` turned into `-`; when that is taken, a short
/// digest of the userName is added, so the same live user gets the same id on every run.
pub fn derived_id(user_name: &str, taken: &HashSet<String>) -> String {
    let mut slug = String::with_capacity(user_name.len());
    for c in user_name.trim().to_lowercase().chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        };
        if !(c == '-' && slug.ends_with('-')) {
            slug.push(c);
        }
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "user" } else { slug };
    if !taken.contains(slug) {
        return slug.to_string();
    }
    let digest = crate::plan::sha256_hex(user_name.as_bytes());
    format!("{slug}-{}", &digest[..8])
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Check that `files` can be written into `dir`: it is a directory or does not exist yet, and
/// (without `force`) none of the files exists. Run before reading live state and again before
/// writing, so a refusal never leaves anything behind.
pub fn check_destination(dir: &Path, names: &[&str], force: bool) -> Result<(), ShellError> {
    if dir.exists() && !dir.is_dir() {
        return Err(ImportError::NotADirectory(dir.to_path_buf()).into());
    }
    if !force {
        if let Some(p) = names.iter().map(|n| dir.join(n)).find(|p| p.exists()) {
            return Err(ImportError::Exists(p).into());
        }
    }
    Ok(())
}

/// Write every file into `dir` (created when missing), for their owner only: they hold
/// personal data. Returns the paths written.
pub fn write_files(
    dir: &Path,
    files: &[ImportFile],
    force: bool,
) -> Result<Vec<PathBuf>, ShellError> {
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    check_destination(dir, &names, force)?;
    fs_err::create_dir_all(dir).map_err(|source| ImportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for f in files {
        let path = dir.join(f.name);
        super::files::write_private(&path, f.text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::desired;
    use serde_json::{json, Value};

    #[test]
    fn derived_ids_are_slugs_and_stay_unique() {
        let mut taken = HashSet::new();
        assert_eq!(derived_id("Alice@Example.com", &taken), "alice-example.com");
        taken.insert("alice-example.com".to_string());
        let second = derived_id("alice+x@example.com", &taken);
        assert_eq!(second, "alice-x-example.com");
        let clash = derived_id("ALICE@example.com", &taken);
        assert!(
            clash.starts_with("alice-example.com-") && clash.len() == 26,
            "{clash}"
        );
        assert_eq!(clash, derived_id("ALICE@example.com", &taken), "stable");
        assert_eq!(derived_id("@@", &HashSet::new()), "user");
    }

    fn live_of(users: Value, groups: Value) -> Live {
        let users = users
            .as_array()
            .expect("list")
            .iter()
            .map(|u| LiveUser::from_resource(u.clone()).expect("user"))
            .collect();
        let groups = groups
            .as_array()
            .expect("list")
            .iter()
            .map(|g| {
                let mut g = LiveGroup::from_resource(g.clone()).expect("group");
                g.members.get_or_insert_with(Vec::new);
                g
            })
            .collect();
        Live {
            users,
            groups,
            requests: RequestCounts::default(),
        }
    }

    #[test]
    fn all_writes_sorted_quoted_yaml_and_leaves_ignored_groups_out() {
        let d = desired(
            r#"
targets:
  aws:
    type: aws-identity-center
    url: https://scim.example.com/scim/v2
    auth: { bearer_token_env: T }
    assign: { all: true }
"#,
        );
        let compiled = CompiledTarget::compile(&d, &d.targets[0]).expect("compiles");
        let live = live_of(
            json!([
                {"id": "L2", "userName": "zed@x", "externalId": "e2",
                 "name": {"givenName": "Zed", "familyName": "Z: \"q\""}, "displayName": "Zed Z: \"q\"",
                 "emails": [{"value": "zed@x", "type": "work", "primary": true}], "active": false},
                {"id": "L1", "userName": "amy@x",
                 "name": {"givenName": "Amy", "familyName": "A"}, "displayName": "Amy A",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "L2"}}}
            ]),
            json!([
                {"id": "G1", "displayName": "eng", "externalId": "g-eng", "members": [{"value": "L1"}, {"value": "L2"}]},
                {"id": "G2", "displayName": "AWSControlTowerAdmins"}
            ]),
        );
        let imported = build(&d, &compiled, &live, Filter::All).expect("imports");
        assert_eq!(
            (imported.users, imported.groups, imported.adopted),
            (2, 1, 1)
        );
        assert_eq!(
            imported.files[0].text,
            r#"# users.yaml: imported from target "aws" by `roster import --filter all`.
# Review it, then include it from the entry file.
users:
  - id: "amy-x"
    user_name: "amy@x"
    given_name: "Amy"
    family_name: "A"
    manager: "e2"
  - id: "e2"
    user_name: "zed@x"
    given_name: "Zed"
    family_name: "Z: \"q\""
    email: "zed@x"
    active: false
"#
        );
        assert!(imported.files[1].text.ends_with(
            r#"groups:
  - id: "g-eng"
    name: "eng"
    members:
      - "amy-x"
      - "e2"
"#
        ));
        assert!(
            imported.not_reversed.is_empty(),
            "{:?}",
            imported.not_reversed
        );
        // The text parses back as a configuration document.
        for f in &imported.files {
            crate::config::load::parse_document(&f.text, 0).expect("valid YAML");
        }
    }

    #[test]
    fn released_and_ignored_objects_stay_out_and_so_do_their_memberships() {
        let d = desired(
            r#"
targets:
  t:
    type: generic
    url: https://scim.example.com/scim/v2
    auth: { bearer_token_env: T }
    assign: { all: true }
    policy:
      release: { users: [e9], groups: [kept-away] }
      ignore: { users: ["svc-*"], groups: ["hidden*"] }
"#,
        );
        let compiled = CompiledTarget::compile(&d, &d.targets[0]).expect("compiles");
        let live = live_of(
            json!([
                {"id": "L1", "userName": "a@x", "externalId": "e1"},
                {"id": "L9", "userName": "gone@x", "externalId": "e9"},
                {"id": "LS", "userName": "svc-build", "externalId": "s1"}
            ]),
            json!([
                {"id": "G1", "displayName": "team", "externalId": "g1",
                 "members": [{"value": "L1"}, {"value": "L9"}, {"value": "LS"}]},
                {"id": "G2", "displayName": "kept-away", "externalId": "g2"},
                {"id": "G3", "displayName": "hidden-ops", "externalId": "g3"}
            ]),
        );
        let imported = build(&d, &compiled, &live, Filter::All).expect("imports");
        assert_eq!((imported.users, imported.groups), (1, 1));
        assert!(imported.files[0].text.contains("- id: \"e1\""));
        assert!(imported.files[1].text.ends_with(
            "groups:\n  - id: \"g1\"\n    name: \"team\"\n    members:\n      - \"e1\"\n"
        ));
    }

    #[test]
    fn a_file_in_the_way_or_a_file_for_a_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        fs_err::write(&file, "x").expect("write");
        let e = check_destination(&file, &["users.yaml"], true).expect_err("a file");
        assert!(e.to_string().contains("not a directory"), "{e}");
        fs_err::write(dir.path().join("users.yaml"), "x").expect("write");
        let e = check_destination(dir.path(), &["groups.yaml", "users.yaml"], false)
            .expect_err("exists");
        assert!(e.to_string().contains("users.yaml exists"), "{e}");
        check_destination(dir.path(), &["users.yaml"], true).expect("forced");
    }
}
