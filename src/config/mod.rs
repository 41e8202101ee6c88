//! Desired state: what the YAML says the directory and its targets should be.
//!
//! `load` reads the files, `resolve` turns the parsed documents into [`Desired`] with every
//! preset applied (so later stages never look at presets again), and `check` runs the semantic
//! checks of the directory and the targets' settings (`validate` adds the mapping checks). None
//! of it does I/O beyond reading the configuration files through `load`.

pub mod assign;
pub mod check;
mod fields;
pub mod known;
pub mod load;
pub mod model;
pub mod preset;
mod resolve;
mod secrets;
mod target;
#[cfg(test)]
pub mod test_support;

use crate::diag::{Diagnostic, Loc, SourceMap};
pub use fields::{FieldMap, FieldName};
use model::{
    Dialect, FieldValue, GroupMatchKey, MembersMode, TargetType, Unmanaged, UserMatchKey, When,
};
pub use resolve::{defined_fields, resolve};
pub use secrets::display_url;
use secrets::mask_inline_secrets;
use std::path::{Path, PathBuf};

/// The resolved configuration.
#[derive(Debug, Default)]
pub struct Desired {
    /// The files the configuration was read from. Their text is emptied by
    /// [`Desired::release_source_text`] once diagnostics have been shown.
    pub sources: SourceMap,
    /// Directory of the entry file: relative paths in the configuration start here.
    pub base_dir: PathBuf,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub targets: Vec<Target>,
    /// The top-level `fields:` lists of every file, joined, with where each name was written;
    /// `None` when no file has one (checked by `validate`).
    pub declared_fields: Option<Vec<(String, Loc)>>,
}

/// A field of a directory user and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub value: FieldValue,
    pub loc: Loc,
}

/// The hasher of the raw user's fields and of the name sets built over every user.
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

/// A target's `read` bounds as written (each checked above 0); `None` = the client's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadLimits {
    pub max_response_mib: Option<u64>,
    pub max_pages: Option<u64>,
    pub max_objects: Option<u64>,
}

/// A list of names or patterns with their positions.
pub type Names = Vec<(String, Loc)>;

/// The resolved policy of a target.
#[derive(Debug, Clone)]
pub struct Policy {
    pub create: bool,
    pub update: bool,
    pub deactivate: bool,
    /// Make an inactive live user active again when the directory says active.
    pub reactivate: bool,
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
    /// `read`: bounds on one read of the target; `None` = the client's defaults.
    pub read: ReadLimits,
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
    /// Texts that look like secrets but have no position of their own (a token given as
    /// `bearer_token_env`): blanked wherever they appear in the kept sources.
    pub secret_texts: Vec<String>,
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

/// Read and resolve a configuration, without the semantic checks: the first half of
/// `validate::read`, which adds the checks (some of them need `mapping`, which sits above
/// `config`) and then [`seal`]s the result.
pub fn read_unchecked(entry: &Path, options: load::LoadOptions) -> Resolved {
    read_unchecked_from(entry, options, &load::FileSystem)
}

/// [`read_unchecked`] through another source of files (the configuration at a git commit).
pub fn read_unchecked_from(
    entry: &Path,
    options: load::LoadOptions,
    source: &dyn load::Source,
) -> Resolved {
    let started = std::time::Instant::now();
    let loaded = load::load_from(entry, options, source);
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
    let desired = resolve(loaded.documents, loaded.sources, base_dir, &mut diagnostics);
    tracing::debug!(
        users = desired.users.len(),
        groups = desired.groups.len(),
        elapsed_ms = resolving.elapsed().as_millis() as u64,
        peak_rss_mb = peak_rss_mb(),
        "configuration resolved"
    );
    Resolved {
        desired,
        diagnostics,
    }
}

/// Make a checked configuration ready to use and to show: diagnostics in a stable order, and no
/// inline secret left in the sources that diagnostics quote.
pub fn seal(resolved: &mut Resolved) {
    sort_diagnostics(&mut resolved.diagnostics);
    // Diagnostics quote the lines they point at; an inline secret must not be shown again.
    mask_inline_secrets(&mut resolved.desired);
    resolved.desired.sources.files.shrink_to_fit();
}

impl Desired {
    /// Drop the text of every source file. Only diagnostics quote the text, and a command shows
    /// them before it uses the configuration; the plan's `config_digest` is over the resolved
    /// model, not the text. On 100,000 users the text is tens of MB that would otherwise stay
    /// resident through reading live state and planning.
    pub fn release_source_text(&mut self) {
        for f in &mut self.sources.files {
            f.text = String::new();
        }
    }
}

/// The process's peak resident memory so far, in MB, for the phase timings of `-vv`: which
/// phase sets the peak is what memory work on large directories needs to know. Linux only
/// (0 elsewhere); read only when debug logging is on.
pub(crate) fn peak_rss_mb() -> u64 {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return 0;
    }
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb / 1024)
}

/// Order diagnostics by file, then position, so output is stable; those of no file last (they
/// sum up, e.g. references left unchecked after a file's error).
pub fn sort_diagnostics(d: &mut [Diagnostic]) {
    d.sort_by(|a, b| {
        let ka = (a.loc.is_none(), a.loc.map(|l| (l.file, l.line, l.col)));
        let kb = (b.loc.is_none(), b.loc.map(|l| (l.file, l.line, l.col)));
        ka.cmp(&kb).then_with(|| a.message.cmp(&b.message))
    });
}

/// The JSON Schema of a configuration document, pretty-printed, as `roster schema` prints it.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(model::Document);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
