//! Desired state: what the YAML says the directory and its targets should be.
//!
//! `load` reads the files, `resolve` turns the parsed documents into [`Desired`] with every
//! preset applied (so later stages never look at presets again), and `check` runs the semantic
//! checks `roster validate` reports. None of it does I/O beyond reading the configuration files
//! through `load`.

pub mod assign;
pub mod check;
pub mod load;
pub mod model;
pub mod preset;
#[cfg(test)]
pub mod test_support;

use crate::diag::{Diagnostic, FileId, Loc, SourceMap};
use indexmap::IndexMap;
use model::{
    Dialect, Document, FieldValue, GroupMatchKey, MappingEntry, MembersMode, TargetType, Unmanaged,
    UserMatchKey, When,
};
use preset::Preset;
use std::path::{Path, PathBuf};

/// The resolved configuration.
#[derive(Debug, Default)]
pub struct Desired {
    pub sources: SourceMap,
    /// Directory of the entry file: relative paths in the configuration start here.
    pub base_dir: PathBuf,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub targets: Vec<Target>,
}

/// A field of a directory user and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub value: FieldValue,
    pub loc: Loc,
}

/// A user's fields by name. Fx-hashed: rendering looks fields up by name for every user and
/// rule, and SipHash was a visible share of `validate` on 100,000 users.
pub type FieldMap = IndexMap<String, Field, FastBuild>;

/// The hasher of [`FieldMap`] and of the raw user's fields.
pub type FastBuild = std::hash::BuildHasherDefault<crate::fasthash::FxHasher>;

/// A directory user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub user_name: String,
    /// False deactivates the user in every target.
    pub active: bool,
    pub manager: Option<String>,
    /// Every field as written, the well-known ones included, in file order.
    pub fields: FieldMap,
    /// Position of the user's entry.
    pub loc: Loc,
}

impl User {
    pub fn field_loc(&self, name: &str) -> Loc {
        self.fields.get(name).map(|f| f.loc).unwrap_or(self.loc)
    }
}

/// A directory group.
#[derive(Debug, Clone)]
pub struct Group {
    /// The immutable id (externalId); the name when not given.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<(String, Loc)>,
    pub include: Vec<(String, Loc)>,
    pub loc: Loc,
    pub id_loc: Loc,
    pub name_loc: Loc,
}

/// Where a target's server is.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    /// A SCIM base URL.
    Url(String),
    /// roster's in-process provider with its state in this file.
    Embedded { path: PathBuf },
}

/// How to authenticate; secrets are named, never held here.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthSource {
    BearerEnv(String),
    BearerFile(PathBuf),
    Basic {
        username: String,
        password_env: String,
    },
    Header {
        name: String,
        value_env: String,
    },
}

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingSource {
    Template(String),
    Value(serde_json::Value),
    /// A template rendering a directory user id, written as that user's id in the target.
    UserRef(String),
}

/// One attribute mapping, preset or written.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingRule {
    /// SCIM attribute path as written (parsed by `mapping`).
    pub path: String,
    pub source: MappingSource,
    pub on: When,
    /// Where it was written; `None` for a preset's default.
    pub loc: Option<Loc>,
}

/// Who a target receives.
#[derive(Debug, Clone, Default)]
pub struct Assign {
    pub groups: Vec<(String, Loc)>,
    pub users: Vec<(String, Loc)>,
    pub all: bool,
    pub loc: Option<Loc>,
}

/// Request budgets per second; `None` means no fixed rate (adapt to 429).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimits {
    pub reads_per_second: Option<f64>,
    pub writes_per_second: Option<f64>,
    pub member_operations_per_second: Option<f64>,
}

/// A list of names or patterns with their positions.
pub type Names = Vec<(String, Loc)>;

/// The resolved policy of a target.
#[derive(Debug, Clone)]
pub struct Policy {
    pub create: bool,
    pub update: bool,
    pub deactivate: bool,
    pub delete: bool,
    pub group_create: bool,
    pub group_update: bool,
    pub group_delete: bool,
    pub members: MembersMode,
    /// Regular expression over externalId; checked by `check`.
    pub owns_external_id: Option<(String, Loc)>,
    pub unmanaged: Unmanaged,
    /// Glob patterns over userName (preset's included).
    pub ignore_users: Names,
    /// Glob patterns over displayName (preset's included).
    pub ignore_groups: Names,
    pub protect_users: Names,
    pub protect_groups: Names,
    pub release_users: Names,
    pub release_groups: Names,
    pub max_destroy: u64,
    pub max_destroy_percent: f64,
}

/// A target with its preset applied.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub kind: TargetType,
    pub dialect: Dialect,
    pub endpoint: Endpoint,
    pub auth: Option<AuthSource>,
    pub assign: Assign,
    pub rate: RateLimits,
    /// `rate.throttle_budget_seconds`: how long one request may be throttled (429) before it
    /// fails; `None` = the client's default.
    pub throttle_budget_seconds: Option<f64>,
    pub match_users: Vec<UserMatchKey>,
    pub match_groups: Vec<GroupMatchKey>,
    pub user_mapping: Vec<MappingRule>,
    pub group_mapping: Vec<MappingRule>,
    pub policy: Policy,
    /// Attributes an assigned user must render non-empty.
    pub required_user_attributes: Vec<String>,
    /// Names the target refuses.
    pub reserved_names: Vec<String>,
    pub loc: Loc,
    /// Position of `url`, `type` and other keys, for checks.
    pub url_loc: Option<Loc>,
    pub kind_loc: Loc,
    /// Secrets written inline (refused by `check`).
    pub inline_secrets: Vec<(String, Loc)>,
    /// Set when `auth` has no usable source or more than one.
    pub auth_loc: Option<Loc>,
    pub auth_problem: Option<String>,
}

/// The result of reading a configuration: what could be resolved, and every problem found on
/// the way. Callers that need a correct configuration check `diagnostics` for errors.
#[derive(Debug)]
pub struct Resolved {
    pub desired: Desired,
    pub diagnostics: Vec<Diagnostic>,
}

/// Read, resolve and check a configuration: what `validate` runs, and what every other command
/// runs before it does anything else.
pub fn read(entry: &Path) -> Resolved {
    read_with(entry, check::CheckOptions::default())
}

/// [`read`] with options that change what the checks accept (e.g. `--insecure-http`).
pub fn read_with(entry: &Path, options: check::CheckOptions) -> Resolved {
    let started = std::time::Instant::now();
    let loaded = load::load(entry);
    tracing::debug!(
        files = loaded.sources.files.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        peak_rss_mb = peak_rss_mb(),
        "configuration parsed"
    );
    let mut diagnostics = loaded.diagnostics;
    let base_dir = entry
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let resolving = std::time::Instant::now();
    let mut desired = resolve(loaded.documents, loaded.sources, base_dir, &mut diagnostics);
    tracing::debug!(
        users = desired.users.len(),
        groups = desired.groups.len(),
        elapsed_ms = resolving.elapsed().as_millis() as u64,
        peak_rss_mb = peak_rss_mb(),
        "configuration resolved"
    );
    // Semantic checks only make sense on what parsed; they still run when some file failed, so
    // that one run shows as much as it can.
    let checking = std::time::Instant::now();
    diagnostics.extend(check::check_with(&desired, options));
    tracing::debug!(
        elapsed_ms = checking.elapsed().as_millis() as u64,
        peak_rss_mb = peak_rss_mb(),
        "configuration checked"
    );
    sort_diagnostics(&mut diagnostics);
    // Diagnostics quote the lines they point at; an inline secret must not be shown again.
    mask_inline_secrets(&mut desired);
    desired.sources.files.shrink_to_fit();
    Resolved {
        desired,
        diagnostics,
    }
}

/// The process's peak resident memory so far, in MB, for the phase timings of `-vv`: which
/// phase sets the peak is what memory work on large directories needs to know. Linux only
/// (0 elsewhere); read only when debug logging is on.
fn peak_rss_mb() -> u64 {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return 0;
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb / 1024)
}

/// Replace every inline secret's text in the kept sources with `*`, so that no diagnostic that
/// quotes its line (the inline-secret error itself included) prints it.
fn mask_inline_secrets(desired: &mut Desired) {
    let locs: Vec<Loc> = desired
        .targets
        .iter()
        .flat_map(|t| t.inline_secrets.iter().map(|(_, loc)| *loc))
        .collect();
    for loc in locs {
        let Some(file) = desired.sources.files.get_mut(loc.file as usize) else {
            continue;
        };
        file.text = mask_token(&file.text, loc);
    }
}

/// `text` with the scalar starting at `loc` (a quoted string, or a plain scalar up to a flow
/// indicator, a comment or the end of the line) replaced by as many `*`.
fn mask_token(text: &str, loc: Loc) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 != loc.line as usize {
            out.push_str(line);
            continue;
        }
        let start = (loc.col.max(1) - 1) as usize;
        let chars: Vec<char> = line.chars().collect();
        let mut end = start;
        match chars.get(start) {
            Some(&q) if q == '"' || q == '\'' => {
                end += 1;
                while end < chars.len() && chars[end] != q {
                    end += if chars[end] == '\\' && q == '"' { 2 } else { 1 };
                }
                end = (end + 1).min(chars.len());
            }
            _ => {
                while end < chars.len()
                    && !matches!(chars[end], ',' | '}' | ']' | '\n' | '\r')
                    && !(chars[end] == '#' && end > 0 && chars[end - 1] == ' ')
                {
                    end += 1;
                }
                while end > start && chars[end - 1] == ' ' {
                    end -= 1;
                }
            }
        }
        for (k, ch) in chars.iter().enumerate() {
            out.push(if k >= start && k < end { '*' } else { *ch });
        }
    }
    out
}

/// Order diagnostics by file, then position, so output is stable.
pub fn sort_diagnostics(d: &mut [Diagnostic]) {
    d.sort_by(|a, b| {
        let ka = a.loc.map(|l| (l.file, l.line, l.col));
        let kb = b.loc.map(|l| (l.file, l.line, l.col));
        ka.cmp(&kb).then_with(|| a.message.cmp(&b.message))
    });
}

/// Build the desired state from parsed documents.
pub fn resolve(
    documents: Vec<(FileId, Document)>,
    sources: SourceMap,
    base_dir: PathBuf,
    diags: &mut Vec<Diagnostic>,
) -> Desired {
    let mut desired = Desired {
        sources,
        base_dir,
        ..Desired::default()
    };
    let mut raw_targets = Vec::new();
    let mut target_names: IndexMap<String, Loc> = IndexMap::new();
    for (file, doc) in documents {
        // The entry file is read first and is file 0; included files may omit `version`.
        if file == 0 && doc.version.is_none() {
            diags.push(
                Diagnostic::error(Loc::new(file, 1, 1), "the entry file has no `version`").hint(
                    "add `version: 1` as the first line, so that a future format is never misread",
                ),
            );
        }
        if let Some(v) = &doc.version {
            if v.value != 1 {
                diags.push(
                    Diagnostic::error(
                        Loc::of(file, v),
                        format!("unsupported configuration version {}", v.value),
                    )
                    .hint("this roster reads `version: 1`"),
                );
            }
        }
        desired.users.reserve(doc.users.len());
        for u in doc.users {
            if let Some(user) = resolve_user(file, u, diags) {
                desired.users.push(user);
            }
        }
        for g in doc.groups {
            desired.groups.push(resolve_group(file, g));
        }
        for (name, t) in doc.targets {
            let loc = Loc::of(file, &t);
            if let Some(first) = target_names.get(&name) {
                diags.push(
                    Diagnostic::error(loc, format!("target {name:?} is defined twice"))
                        .note(*first, "first defined here")
                        .hint("target names must be unique across all included files"),
                );
                continue;
            }
            target_names.insert(name.clone(), loc);
            raw_targets.push((file, name, t));
        }
    }
    let defined_fields = defined_fields(&desired.users);
    for (file, name, t) in raw_targets {
        let target = resolve_target(file, name, t, &desired.base_dir, &defined_fields, diags);
        desired.targets.push(target);
    }
    desired
}

/// The names of the fields at least one user defines.
pub fn defined_fields(users: &[User]) -> std::collections::HashSet<String> {
    // borrowed and Fx-hashed while scanning every user's keys; only the few distinct names
    // are copied
    let mut set: std::collections::HashSet<&str, FastBuild> = Default::default();
    for u in users {
        for k in u.fields.keys() {
            set.insert(k.as_str());
        }
    }
    set.into_iter().map(str::to_string).collect()
}

fn resolve_user(
    file: FileId,
    raw: model::S<model::RawUser>,
    diags: &mut Vec<Diagnostic>,
) -> Option<User> {
    let loc = Loc::of(file, &raw);
    let mut fields =
        FieldMap::with_capacity_and_hasher(raw.value.fields.len(), FastBuild::default());
    for (k, v) in raw.value.fields {
        let floc = Loc::new(file, v.line, v.col);
        fields.insert(
            k,
            Field {
                value: v.value,
                loc: floc,
            },
        );
    }
    let text_field = |name: &str, diags: &mut Vec<Diagnostic>| -> Option<String> {
        let f = fields.get(name)?;
        match &f.value {
            FieldValue::Text(s) => Some(s.clone()),
            FieldValue::Int(i) if name == "id" => Some(i.to_string()),
            other => {
                diags.push(
                    Diagnostic::error(
                        f.loc,
                        format!("field `{name}` must be text, found {}", kind_of(other)),
                    )
                    .hint(match other {
                        FieldValue::List(_) => {
                            format!("write one value: `{name}: VALUE`, not a list")
                        }
                        FieldValue::Null(()) => format!("give `{name}` a value, or remove the key"),
                        _ => format!("quote the value: `{name}: \"...\"`"),
                    }),
                );
                None
            }
        }
    };
    let id = text_field("id", diags);
    let user_name = text_field("user_name", diags);
    let manager = match fields.get("manager").map(|f| &f.value) {
        Some(FieldValue::Null(())) | None => None,
        _ => text_field("manager", diags),
    };
    let active = match fields.get("active") {
        None
        | Some(Field {
            value: FieldValue::Null(()),
            ..
        }) => true,
        Some(Field {
            value: FieldValue::Bool(b),
            ..
        }) => *b,
        Some(f) => {
            diags.push(
                Diagnostic::error(
                    f.loc,
                    format!(
                        "field `active` must be true or false, found {}",
                        kind_of(&f.value)
                    ),
                )
                .hint("write `active: true` or `active: false` (yes/no/on/off are text)"),
            );
            true
        }
    };
    let missing = |name: &str, diags: &mut Vec<Diagnostic>| {
        if !fields.contains_key(name) {
            diags.push(
                Diagnostic::error(loc, format!("user is missing the required field `{name}`"))
                    .hint(match name {
                        "id" => "add `id:` with the user's immutable id (e.g. the HR employee id)",
                        _ => "add `user_name:` (the login, unique ignoring case)",
                    }),
            );
        }
    };
    missing("id", diags);
    missing("user_name", diags);
    // A user with an id but no usable user_name is kept (its problem is already reported), so
    // that references to its id do not cascade into "unknown member" errors.
    Some(User {
        id: id?,
        user_name: user_name.unwrap_or_default(),
        active,
        manager,
        fields,
        loc,
    })
}

fn kind_of(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::Bool(_) => "a boolean",
        FieldValue::Int(_) | FieldValue::Float(_) => "a number",
        FieldValue::Text(_) => "text",
        FieldValue::List(_) => "a list",
        FieldValue::Null(()) => "nothing (null)",
    }
}

fn resolve_group(file: FileId, raw: model::S<model::Group>) -> Group {
    let loc = Loc::of(file, &raw);
    let g = raw.value;
    let name_loc = Loc::of(file, &g.name);
    let (id, id_loc) = match &g.id {
        Some(id) => (id.value.clone(), Loc::of(file, id)),
        None => (g.name.value.clone(), name_loc),
    };
    Group {
        id,
        name: g.name.value,
        description: g.description.map(|d| d.value),
        // moved, not cloned: half a million members are common
        members: g
            .members
            .into_iter()
            .map(|m| {
                let loc = Loc::of(file, &m);
                (m.value, loc)
            })
            .collect(),
        include: g
            .include
            .into_iter()
            .map(|m| {
                let loc = Loc::of(file, &m);
                (m.value, loc)
            })
            .collect(),
        loc,
        id_loc,
        name_loc,
    }
}

fn names(file: FileId, v: &[model::S<String>]) -> Names {
    v.iter()
        .map(|s| (s.value.clone(), Loc::of(file, s)))
        .collect()
}

fn resolve_target(
    file: FileId,
    name: String,
    raw: model::S<model::Target>,
    base_dir: &Path,
    defined_fields: &std::collections::HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Target {
    let loc = Loc::of(file, &raw);
    let t = raw.value;
    let kind = t.kind.value;
    let kind_loc = Loc::of(file, &t.kind);
    let dialect = match kind {
        TargetType::Generic => Dialect::Generic,
        TargetType::AwsIdentityCenter => Dialect::AwsIdentityCenter,
        TargetType::Embedded => t
            .dialect
            .as_ref()
            .map(|d| d.value)
            .unwrap_or(Dialect::Generic),
    };
    if let (Some(d), false) = (&t.dialect, kind == TargetType::Embedded) {
        diags.push(
            Diagnostic::error(
                Loc::of(file, d),
                "`dialect` applies only to `type: embedded`",
            )
            .hint("the target type already fixes the dialect; remove `dialect`"),
        );
    }
    let preset = Preset::for_target(kind, dialect);

    // endpoint
    let url_loc = t.url.as_ref().map(|u| Loc::of(file, u));
    let endpoint = match kind {
        TargetType::Embedded => {
            if let Some(u) = &t.url {
                diags.push(
                    Diagnostic::error(Loc::of(file, u), "an embedded target has no `url`")
                        .hint("remove `url`; the embedded provider runs in-process on loopback"),
                );
            }
            let p = t
                .path
                .as_ref()
                .map(|p| p.value.clone())
                .unwrap_or_else(|| ".roster/embedded.json".into());
            Endpoint::Embedded {
                path: base_dir.join(p),
            }
        }
        _ => {
            if let Some(p) = &t.path {
                diags.push(
                    Diagnostic::error(Loc::of(file, p), "`path` applies only to `type: embedded`")
                        .hint("remove `path`; set `url` to the SCIM base URL"),
                );
            }
            match &t.url {
                Some(u) => Endpoint::Url(u.value.clone()),
                None => {
                    diags.push(
                        Diagnostic::error(loc, format!("target {name:?} has no `url`")).hint(
                            "add `url:` with the SCIM base URL, e.g. \
                             https://scim.us-east-1.amazonaws.com/TENANT/scim/v2",
                        ),
                    );
                    Endpoint::Url(String::new())
                }
            }
        }
    };

    // auth
    let mut inline_secrets = Vec::new();
    let mut auth_problem = None;
    let auth_loc = t.auth.as_ref().map(|a| Loc::of(file, a));
    let auth = t.auth.as_ref().and_then(|a| {
        let a = &a.value;
        for s in [&a.bearer_token, &a.token].into_iter().flatten() {
            inline_secrets.push(("bearer token".to_string(), Loc::of(file, s)));
        }
        if let Some(p) = a.basic.as_ref().and_then(|b| b.password.as_ref()) {
            inline_secrets.push(("password".to_string(), Loc::of(file, p)));
        }
        if let Some(v) = a.header.as_ref().and_then(|h| h.value.as_ref()) {
            inline_secrets.push(("header value".to_string(), Loc::of(file, v)));
        }
        let mut sources = Vec::new();
        if let Some(e) = &a.bearer_token_env {
            sources.push(AuthSource::BearerEnv(e.clone()));
        }
        if let Some(f) = &a.bearer_token_file {
            sources.push(AuthSource::BearerFile(base_dir.join(f)));
        }
        if let Some(b) = &a.basic {
            if let Some(env) = &b.password_env {
                sources.push(AuthSource::Basic {
                    username: b.username.clone(),
                    password_env: env.clone(),
                });
            } else if b.password.is_none() {
                auth_problem = Some("`basic` needs `password_env`".to_string());
            }
        }
        if let Some(h) = &a.header {
            if let Some(env) = &h.value_env {
                sources.push(AuthSource::Header {
                    name: h.name.clone(),
                    value_env: env.clone(),
                });
            } else if h.value.is_none() {
                auth_problem = Some("`header` needs `value_env`".to_string());
            }
        }
        if sources.len() > 1 {
            auth_problem = Some(
                "`auth` names more than one source; use exactly one of bearer_token_env, \
                 bearer_token_file, basic, header"
                    .to_string(),
            );
        }
        if sources.is_empty() && auth_problem.is_none() && inline_secrets.is_empty() {
            auth_problem = Some(
                "`auth` names no source; use one of bearer_token_env, bearer_token_file, \
                 basic, header"
                    .to_string(),
            );
        }
        sources.into_iter().next()
    });

    let assign = match &t.assign {
        Some(a) => Assign {
            groups: names(file, &a.value.groups),
            users: names(file, &a.value.users),
            all: a.value.all,
            loc: Some(Loc::of(file, a)),
        },
        None => Assign::default(),
    };

    let r = t.rate.clone().unwrap_or_default();
    let mut rate_value = |key: &str, v: Option<model::S<f64>>, default: Option<f64>| {
        let Some(v) = v else { return default };
        // NaN fails this test too
        if !(v.value > 0.0 && v.value.is_finite()) {
            diags.push(
                Diagnostic::error(
                    Loc::of(file, &v),
                    format!("`rate.{key}` must be a positive number, found {}", v.value),
                )
                .hint("write requests per second above 0 (e.g. 25), or remove it to use the preset's rate"),
            );
            return default;
        }
        Some(v.value)
    };
    let throttle_budget_seconds = rate_value(
        "throttle_budget_seconds",
        r.throttle_budget_seconds.clone(),
        None,
    );
    let rate = RateLimits {
        reads_per_second: rate_value(
            "reads_per_second",
            r.reads_per_second,
            preset.reads_per_second,
        ),
        writes_per_second: rate_value(
            "writes_per_second",
            r.writes_per_second,
            preset.writes_per_second,
        ),
        member_operations_per_second: rate_value(
            "member_operations_per_second",
            r.member_operations_per_second,
            preset.member_operations_per_second,
        ),
    };

    let mk = t.match_keys.clone().unwrap_or_default();
    let mut empty_match = |what: &str, loc: Loc| {
        diags.push(
            Diagnostic::error(loc, format!("`match.{what}` is empty"))
                .hint("list at least one key (e.g. [externalId, userName]), or remove it to use the preset's"),
        );
    };
    let match_users = match mk.users {
        Some(v) if v.value.is_empty() => {
            empty_match("users", Loc::of(file, &v));
            preset.match_users.to_vec()
        }
        Some(v) => v.value.into_iter().map(|k| k.value).collect(),
        None => preset.match_users.to_vec(),
    };
    let match_groups = match mk.groups {
        Some(v) if v.value.is_empty() => {
            empty_match("groups", Loc::of(file, &v));
            preset.match_groups.to_vec()
        }
        Some(v) => v.value.into_iter().map(|k| k.value).collect(),
        None => preset.match_groups.to_vec(),
    };

    let (written_user, written_group) = match t.mapping {
        Some(m) => (m.user, m.group),
        None => Default::default(),
    };
    let user_mapping = merge_mapping(
        file,
        preset::USER_MAPPING,
        written_user,
        defined_fields,
        diags,
    );
    let group_mapping = merge_mapping(
        file,
        preset::GROUP_MAPPING,
        written_group,
        defined_fields,
        diags,
    );

    let p = t.policy.unwrap_or_default();
    let g = p.groups.clone().unwrap_or_default();
    let mut ignore_users: Names = preset
        .ignore_users
        .iter()
        .map(|s| (s.to_string(), loc))
        .collect();
    let mut ignore_groups: Names = preset
        .ignore_groups
        .iter()
        .map(|s| (s.to_string(), loc))
        .collect();
    let (mut protect_users, mut protect_groups, mut release_users, mut release_groups) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if let Some(i) = &p.ignore {
        ignore_users.extend(names(file, &i.users));
        ignore_groups.extend(names(file, &i.groups));
    }
    if let Some(i) = &p.protect {
        protect_users.extend(names(file, &i.users));
        protect_groups.extend(names(file, &i.groups));
    }
    if let Some(i) = &p.release {
        release_users.extend(names(file, &i.users));
        release_groups.extend(names(file, &i.groups));
    }
    let limits = p.limits.clone().unwrap_or_default();
    let policy = Policy {
        create: p.create.unwrap_or(true),
        update: p.update.unwrap_or(true),
        deactivate: p.deactivate.unwrap_or(true),
        delete: p.delete.unwrap_or(false),
        group_create: g.create.unwrap_or(true),
        group_update: g.update.unwrap_or(true),
        group_delete: g.delete.unwrap_or(false),
        members: g.members.unwrap_or_default(),
        owns_external_id: p
            .owns
            .as_ref()
            .and_then(|o| o.external_id.as_ref())
            .map(|r| (r.value.clone(), Loc::of(file, r))),
        unmanaged: p.unmanaged.unwrap_or_default(),
        ignore_users,
        ignore_groups,
        protect_users,
        protect_groups,
        release_users,
        release_groups,
        max_destroy: limits.max_destroy.unwrap_or(preset.max_destroy),
        max_destroy_percent: match &limits.max_destroy_percent {
            Some(v) if (0.0..=100.0).contains(&v.value) => v.value,
            Some(v) => {
                diags.push(
                    Diagnostic::error(
                        Loc::of(file, v),
                        format!(
                            "`limits.max_destroy_percent` must be between 0 and 100, found {}",
                            v.value
                        ),
                    )
                    .hint("it is a percentage of the owned live objects, e.g. 10"),
                );
                preset.max_destroy_percent
            }
            None => preset.max_destroy_percent,
        },
    };

    Target {
        name,
        kind,
        dialect,
        endpoint,
        auth,
        assign,
        rate,
        throttle_budget_seconds,
        match_users,
        match_groups,
        user_mapping,
        group_mapping,
        policy,
        required_user_attributes: preset
            .required_user_attributes
            .iter()
            .map(|s| s.to_string())
            .collect(),
        reserved_names: preset
            .reserved_names
            .iter()
            .map(|s| s.to_string())
            .collect(),
        loc,
        url_loc,
        kind_loc,
        inline_secrets,
        auth_loc,
        auth_problem,
    }
}

/// The preset's mappings, overridden one by one by the written ones (by attribute path),
/// followed by written mappings for attributes the preset does not map.
fn merge_mapping(
    file: FileId,
    preset: &[preset::PresetMapping],
    written: IndexMap<String, model::S<MappingEntry>>,
    defined_fields: &std::collections::HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<MappingRule> {
    let mut out: Vec<MappingRule> = Vec::new();
    let mut written = written;
    for p in preset {
        if let Some(w) = written.shift_remove(p.path) {
            out.push(written_rule(file, p.path.to_string(), w, diags));
            continue;
        }
        if let Some(f) = p.requires_field {
            if !defined_fields.contains(f) {
                continue;
            }
        }
        out.push(MappingRule {
            path: p.path.to_string(),
            source: if p.user_ref {
                MappingSource::UserRef(p.template.to_string())
            } else {
                MappingSource::Template(p.template.to_string())
            },
            on: When::Always,
            loc: None,
        });
    }
    for (path, w) in written {
        out.push(written_rule(file, path, w, diags));
    }
    out
}

fn written_rule(
    file: FileId,
    path: String,
    w: model::S<MappingEntry>,
    diags: &mut Vec<Diagnostic>,
) -> MappingRule {
    let loc = Some(Loc::of(file, &w));
    let (source, on) = match w.value {
        MappingEntry::Template(t) => (MappingSource::Template(t), When::Always),
        MappingEntry::Spec(s) => {
            let n = [
                s.template.is_some(),
                s.value.is_some(),
                s.user_ref.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if n != 1 {
                diags.push(
                    Diagnostic::error(
                        loc,
                        format!(
                            "mapping for `{path}` must have exactly one of template, value, \
                             user_ref (found {n})"
                        ),
                    )
                    .hint("write `{ template: \"{{ field }}\" }`, `{ value: CONSTANT }` or `{ user_ref: \"{{ manager }}\" }`"),
                );
            }
            let source = if let Some(t) = s.template {
                MappingSource::Template(t)
            } else if let Some(r) = s.user_ref {
                MappingSource::UserRef(r)
            } else if let Some(v) = s.value {
                MappingSource::Value(v)
            } else {
                // `check` reports a spec with no source; an empty template renders absent.
                MappingSource::Template(String::new())
            };
            (source, s.on)
        }
    };
    MappingRule {
        path,
        source,
        on,
        loc,
    }
}

/// The JSON Schema of a configuration document, pretty-printed, as `roster schema` prints it.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(model::Document);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_and_quoted_secrets_only() {
        let text = "a: 1\n    auth: { bearer_token: abc123 }\nb: \"x\"\n";
        let masked = mask_token(text, Loc::new(0, 2, 27));
        assert_eq!(
            masked,
            "a: 1\n    auth: { bearer_token: ****** }\nb: \"x\"\n"
        );
        let quoted = mask_token("  password: \"s3 #cr\\\"et\" # note\n", Loc::new(0, 1, 13));
        assert_eq!(quoted, "  password: ************ # note\n");
        let block = mask_token("  token: abc # c\n", Loc::new(0, 1, 10));
        assert_eq!(block, "  token: *** # c\n");
    }
}
