//! Turning parsed documents into the [`Desired`] state: users and groups with their fields and
//! positions, each target through `target`. Problems are collected, never fatal, so that one
//! run shows every one of them.

use super::model::{self, Document, FieldValue};
use super::target::resolve_target;
use super::{Desired, FastBuild, Field, FieldMap, FieldName, Group, Names, User};
use crate::diag::{Diagnostic, FileId, Loc, SourceMap};
use indexmap::IndexMap;
use std::path::PathBuf;

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
    // Reserved once for every file's users: growing per file by doubling left up to half of
    // the list unused (a fifth of a large directory's configuration).
    desired
        .users
        .reserve_exact(documents.iter().map(|(_, d)| d.users.len()).sum());
    let mut names = FieldNames::default();
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
        if let Some(fields) = doc.fields {
            let declared = desired.declared_fields.get_or_insert_with(Vec::new);
            declared.extend(
                fields
                    .into_iter()
                    .map(|f| (f.value.clone(), Loc::of(file, &f))),
            );
        }
        for u in doc.users {
            if let Some(user) = resolve_user(file, u, &mut names, diags) {
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
            if name.is_empty() || name.contains(':') || name.chars().any(char::is_whitespace) {
                diags.push(
                    Diagnostic::error(loc, format!("target name {name:?} cannot name addresses"))
                        .hint("a target name is the first part of every address (`<target>:user.<id>`): use no `:`, no spaces and at least one character"),
                );
                continue;
            }
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
            set.insert(k);
        }
    }
    set.into_iter().map(str::to_string).collect()
}

/// Field names seen so far, each held once and shared by every user that has the field.
#[derive(Default)]
pub(super) struct FieldNames(std::collections::HashSet<FieldName, FastBuild>);

impl FieldNames {
    fn intern(&mut self, name: String) -> FieldName {
        if let Some(n) = self.0.get(name.as_str()) {
            return n.clone();
        }
        let n: FieldName = name.into();
        self.0.insert(n.clone());
        n
    }
}

pub(super) fn resolve_user(
    file: FileId,
    raw: model::S<model::RawUser>,
    names: &mut FieldNames,
    diags: &mut Vec<Diagnostic>,
) -> Option<User> {
    let loc = Loc::of(file, &raw);
    let mut fields = FieldMap::with_capacity(raw.value.fields.len());
    for (k, v) in raw.value.fields {
        let floc = Loc::new(file, v.line, v.col);
        fields.insert(
            names.intern(k),
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

pub(super) fn names(file: FileId, v: &[model::S<String>]) -> Names {
    v.iter()
        .map(|s| (s.value.clone(), Loc::of(file, s)))
        .collect()
}
