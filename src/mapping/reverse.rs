//! Reversing a target's mapping: from a live SCIM resource back to the directory fields that,
//! rendered through the same mapping, give the live values again. This is what `roster import`
//! writes, so that the first plan after an adoption is empty.
//!
//! Only what can be read back without guessing is reversed: an attribute mapped from one field
//! (`"{{ email }}"`) gives that field its live value, `{{ f | default(...) }}` sets `f` only when
//! the default does not already render the live value, and a `user_ref` (`manager`) gives the
//! directory id of the referenced live user. Constants and composite templates
//! (`"{{ given_name }} {{ family_name }}"`) are never inverted; every rule is checked after the
//! fact by rendering the reversed object forward, and an attribute whose rendering still differs
//! from the live value is reported, not papered over.

use super::render::{CompiledRule, CompiledTarget, Rendered, RuleKind};
use crate::config::model::{FieldValue, When};
use crate::config::preset::{self, PresetMapping};
use crate::config::{Field, FieldMap, Group, MappingRule, MappingSource, Target, User};
use crate::diag::Loc;
use serde_json::Value;

/// `target` with every rule of its preset's default mapping that the directory's fields left
/// out (a preset maps `name.givenName` only when some user has a `given_name`). Reading live
/// state back needs them all: the directory an import writes will define those fields.
pub fn with_every_preset_rule(target: &Target) -> Target {
    let mut full = target.clone();
    let add = |rules: &mut Vec<MappingRule>, preset: &[PresetMapping]| {
        for p in preset {
            if rules.iter().any(|r| r.path == p.path) {
                continue;
            }
            rules.push(MappingRule {
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
    };
    add(&mut full.user_mapping, preset::USER_MAPPING);
    add(&mut full.group_mapping, preset::GROUP_MAPPING);
    full
}

/// How one mapping rule can be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reversal {
    /// `{{ field }}`: the field is the live value.
    Field(String),
    /// `{{ field | default(...) }}`: the field is the live value, unless the default alone
    /// already renders it.
    FieldOr(String),
    /// A `user_ref` of `{{ field }}`: the field is the directory id of the referenced user.
    Ref(String),
    /// A constant or any other template: not inverted, only checked.
    Fixed,
}

impl Reversal {
    /// How the mapping source `source` reverses.
    pub fn of(source: &MappingSource) -> Reversal {
        match source {
            MappingSource::Value(_) => Reversal::Fixed,
            MappingSource::UserRef(t) => match single_field(t) {
                Some((f, false)) => Reversal::Ref(f),
                _ => Reversal::Fixed,
            },
            MappingSource::Template(t) => match single_field(t) {
                Some((f, false)) => Reversal::Field(f),
                Some((f, true)) => Reversal::FieldOr(f),
                None => Reversal::Fixed,
            },
        }
    }
}

/// `{{ name }}` gives `(name, false)`; `{{ name | default(...) }}` gives `(name, true)`.
fn single_field(template: &str) -> Option<(String, bool)> {
    let inner = template
        .trim()
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim();
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner).trim();
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(end);
    let is_ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !is_ident || inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Some((name.to_string(), false));
    }
    let filter = rest.strip_prefix('|')?.trim();
    let args = filter.strip_prefix("default")?.trim();
    (args.starts_with('(') && args.ends_with(')')).then(|| (name.to_string(), true))
}

/// Why an attribute could not be reversed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// A constant that differs from the live value.
    Constant,
    /// A template of several fields (or with filters) whose rendering differs from the live
    /// value.
    Composite,
    /// A `user_ref` naming a live user that is not imported and not in the directory.
    UnknownRef,
}

impl Why {
    pub fn as_str(&self) -> &'static str {
        match self {
            Why::Constant => "a constant",
            Why::Composite => "a template of several fields",
            Why::UnknownRef => {
                "a reference to a user that is neither imported nor in the directory"
            }
        }
    }
}

/// One attribute of one object that the reversed object does not reproduce.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreversed {
    /// The attribute path as written in the mapping.
    pub path: String,
    pub why: Why,
    /// The live value.
    pub live: Value,
}

/// A target's mapping, ready to be read backwards.
pub struct Reverser<'a> {
    compiled: &'a CompiledTarget,
    user: Vec<Reversal>,
    group: Vec<Reversal>,
}

fn reversals(rules: &[CompiledRule], sources: &[MappingRule]) -> Vec<Reversal> {
    rules
        .iter()
        .map(|r| {
            sources
                .iter()
                .find(|s| s.path == r.path_text)
                .map_or(Reversal::Fixed, |s| Reversal::of(&s.source))
        })
        .collect()
}

impl<'a> Reverser<'a> {
    /// The reversals of `target`'s rules, compiled as `compiled`.
    pub fn new(compiled: &'a CompiledTarget, target: &Target) -> Reverser<'a> {
        Reverser {
            compiled,
            user: reversals(&compiled.user, &target.user_mapping),
            group: reversals(&compiled.group, &target.group_mapping),
        }
    }

    /// How each user rule reverses, in rule order.
    pub fn user_reversals(&self) -> &[Reversal] {
        &self.user
    }

    /// The directory id a live user's mapping gives back (its externalId through `{{ id }}`),
    /// if the mapping has such a rule and the live user has the value.
    pub fn user_id(&self, live: &Value) -> Option<String> {
        id_from(&self.compiled.user, &self.user, live)
    }

    /// The directory id a live group's mapping gives back.
    pub fn group_id(&self, live: &Value) -> Option<String> {
        id_from(&self.compiled.group, &self.group, live)
    }

    /// The user whose rendering gives `live` back: `base` (the directory's entry, if any) with
    /// every reversible field taken from `live`, the id `id`, and `active` as live has it.
    /// `resolve` turns a live user id into the directory id it is imported as.
    pub fn user(
        &self,
        live: &Value,
        id: &str,
        base: Option<&User>,
        resolve: &dyn Fn(&str) -> Option<String>,
    ) -> (User, Vec<Unreversed>) {
        let mut fields = base.map(|b| b.fields.clone()).unwrap_or_default();
        put(&mut fields, "id", Some(FieldValue::Text(id.to_string())));
        let mut unreversed = Vec::new();
        for (rule, how) in self.compiled.user.iter().zip(&self.user) {
            if rule.path.is_simple("active") {
                continue;
            }
            let have = rule.path.get(live).filter(|v| !blank(v));
            match how {
                Reversal::Field(f) if f != "id" => {
                    put(&mut fields, f, have.and_then(field_value));
                }
                Reversal::FieldOr(f) => put(&mut fields, f, None),
                Reversal::Ref(f) => match have {
                    None => put(&mut fields, f, None),
                    Some(v) => match v.as_str().and_then(resolve) {
                        Some(dir_id) => put(&mut fields, f, Some(FieldValue::Text(dir_id))),
                        None => {
                            put(&mut fields, f, None);
                            unreversed.push(Unreversed {
                                path: rule.path_text.clone(),
                                why: Why::UnknownRef,
                                live: v.clone(),
                            });
                        }
                    },
                },
                _ => {}
            }
        }
        if !fields.contains_key("user_name") {
            let name = crate::mapping::AttrPath::parse("userName")
                .ok()
                .and_then(|p| p.get(live).and_then(Value::as_str).map(str::to_string));
            put(&mut fields, "user_name", name.map(FieldValue::Text));
        }
        let active = !matches!(
            live.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("active")))
                .map(|(_, v)| v),
            Some(Value::Bool(false))
        );
        put(
            &mut fields,
            "active",
            (!active).then_some(FieldValue::Bool(false)),
        );
        let mut user = user_of(fields);
        // A `default(...)` field is written only when the default alone renders another value.
        let mut changed = false;
        if let Ok(r) = self.compiled.render_user(&user) {
            for (i, how) in self.user.iter().enumerate() {
                let Reversal::FieldOr(f) = how else { continue };
                let have = self.compiled.user[i].path.get(live).filter(|v| !blank(v));
                if !agrees(have, r.values[i].as_ref()) {
                    put(&mut user.fields, f, have.and_then(field_value));
                    changed = true;
                }
            }
        }
        if changed {
            user = user_of(user.fields);
        }
        let rendered = self.compiled.render_user(&user).ok();
        unreversed.extend(check(&self.compiled.user, rendered.as_ref(), live));
        (user, unreversed)
    }

    /// The group whose rendering gives `live` back: `base`'s fields with the reversible ones
    /// taken from `live`. Its members are the caller's (they are read apart from the resource).
    /// `id` is the group's directory id; `None` leaves it to default to the name.
    pub fn group(
        &self,
        live: &Value,
        id: Option<&str>,
        base: Option<&Group>,
    ) -> (Group, Vec<Unreversed>) {
        let mut fields = FieldMap::default();
        if let Some(b) = base {
            put(&mut fields, "name", Some(FieldValue::Text(b.name.clone())));
            put(
                &mut fields,
                "description",
                b.description.clone().map(FieldValue::Text),
            );
        }
        for (rule, how) in self.compiled.group.iter().zip(&self.group) {
            let have = rule.path.get(live).filter(|v| !blank(v));
            match how {
                Reversal::Field(f) | Reversal::FieldOr(f) if f == "name" || f == "description" => {
                    put(&mut fields, f, have.and_then(field_value));
                }
                _ => {}
            }
        }
        let text = |fields: &FieldMap, k: &str| match fields.get(k).map(|f| &f.value) {
            Some(FieldValue::Text(s)) => Some(s.clone()),
            _ => None,
        };
        let display = crate::mapping::AttrPath::parse("displayName")
            .ok()
            .and_then(|p| p.get(live).and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        let name = text(&fields, "name").unwrap_or(display);
        let group = Group {
            id: id.map_or_else(|| name.clone(), str::to_string),
            name,
            description: text(&fields, "description"),
            members: base.map(|b| b.members.clone()).unwrap_or_default(),
            include: Vec::new(),
            loc: Loc::default(),
            id_loc: Loc::default(),
            name_loc: Loc::default(),
        };
        let rendered = self.compiled.render_group(&group).ok();
        let unreversed = check(&self.compiled.group, rendered.as_ref(), live);
        (group, unreversed)
    }
}

fn id_from(rules: &[CompiledRule], how: &[Reversal], live: &Value) -> Option<String> {
    rules
        .iter()
        .zip(how)
        .find(|(_, h)| matches!(h, Reversal::Field(f) if f == "id"))
        .and_then(|(r, _)| r.path.get(live))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The attributes whose rendering still differs from the live value. Rules written only on
/// create and `active` are never compared by the planner, so they are not reported; neither
/// is an absent live externalId, which the next plan sets (adoption); nor a `user_ref`, whose
/// reversal reported its own failures.
fn check(rules: &[CompiledRule], rendered: Option<&Rendered>, live: &Value) -> Vec<Unreversed> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if rule.on == When::Create
            || rule.path.is_simple("active")
            || rule.kind == RuleKind::UserRef
        {
            continue;
        }
        let have = rule.path.get(live).filter(|v| !blank(v));
        if have.is_none() && rule.path.is_simple("externalId") {
            continue;
        }
        let want = rendered.and_then(|r| r.values[i].as_ref());
        if agrees(have, want) {
            continue;
        }
        out.push(Unreversed {
            path: rule.path_text.clone(),
            // A single-field rule can still disagree when another rule took the same field
            // first: together they are a composite.
            why: if rule.kind == RuleKind::Value {
                Why::Constant
            } else {
                Why::Composite
            },
            live: have.cloned().unwrap_or(Value::Null),
        });
    }
    out
}

fn put(fields: &mut FieldMap, name: &str, value: Option<FieldValue>) {
    match value {
        Some(value) => match fields.get_mut(name) {
            Some(f) => f.value = value,
            None => {
                fields.insert(
                    name.into(),
                    Field {
                        value,
                        loc: Loc::default(),
                    },
                );
            }
        },
        None => {
            fields.shift_remove(name);
        }
    }
}

fn user_of(fields: FieldMap) -> User {
    let text = |k: &str| match fields.get(k).map(|f| &f.value) {
        Some(FieldValue::Text(s)) => Some(s.clone()),
        _ => None,
    };
    User {
        id: text("id").unwrap_or_default(),
        user_name: text("user_name").unwrap_or_default(),
        active: !matches!(
            fields.get("active").map(|f| &f.value),
            Some(FieldValue::Bool(false))
        ),
        manager: text("manager"),
        fields,
        loc: Loc::default(),
    }
}

/// A live scalar as a directory field; complex values are not fields.
fn field_value(v: &Value) -> Option<FieldValue> {
    match v {
        Value::String(s) => Some(FieldValue::Text(s.clone())),
        Value::Bool(b) => Some(FieldValue::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(FieldValue::Int)
            .or_else(|| n.as_f64().map(FieldValue::Float)),
        _ => None,
    }
}

fn blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The planner's equality of a live and a rendered value: blank is absent, and text equals a
/// number or boolean with that text (templates render text, servers answer typed values).
fn agrees(have: Option<&Value>, want: Option<&Value>) -> bool {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    };
    match (have.filter(|v| !blank(v)), want.filter(|v| !blank(v))) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b || scalar(a).is_some_and(|x| Some(x) == scalar(b)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::desired;
    use serde_json::json;

    #[test]
    fn one_field_templates_reverse_and_others_do_not() {
        let t = |s: &str| Reversal::of(&MappingSource::Template(s.into()));
        assert_eq!(t("{{ email }}"), Reversal::Field("email".into()));
        assert_eq!(t(" {{given_name}} "), Reversal::Field("given_name".into()));
        assert_eq!(
            t("{{ display_name | default(given_name ~ \" \" ~ family_name) }}"),
            Reversal::FieldOr("display_name".into())
        );
        assert_eq!(t("{{ given_name }} {{ family_name }}"), Reversal::Fixed);
        assert_eq!(t("{{ email | lower }}"), Reversal::Fixed);
        assert_eq!(t("emp-{{ id }}"), Reversal::Fixed);
        assert_eq!(
            Reversal::of(&MappingSource::Value(json!("CC-100"))),
            Reversal::Fixed
        );
        assert_eq!(
            Reversal::of(&MappingSource::UserRef("{{ manager }}".into())),
            Reversal::Ref("manager".into())
        );
    }

    const CONFIG: &str = r#"
users: [{ id: e1, user_name: a@x, given_name: A, family_name: B, email: a@x, department: D, manager: e1 }]
targets:
  t:
    type: embedded
    assign: { all: true }
    mapping:
      user:
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": { value: "CC-100" }
        nickName: "{{ given_name }}-{{ family_name }}"
"#;

    #[test]
    fn a_live_user_reverses_into_fields_that_render_it_again() {
        let d = desired(CONFIG);
        let c = CompiledTarget::compile(&d.targets[0]).expect("compiles");
        let r = Reverser::new(&c, &d.targets[0]);
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let live = json!({
            "id": "L1", "userName": "bob@x", "externalId": "e7", "displayName": "Bobby",
            "name": {"givenName": "Bob", "familyName": "Smith"},
            "emails": [{"value": "bob@x", "primary": true}],
            "nickName": "Bob-Smith",
            "active": false,
            ent: {"department": "Sales", "manager": {"value": "L0"}, "costCenter": "CC-9"}
        });
        assert_eq!(r.user_id(&live).as_deref(), Some("e7"));
        let (u, unreversed) = r.user(&live, "e7", None, &|l| (l == "L0").then(|| "e0".into()));
        let text = |k: &str| match u.fields.get(k).map(|f| &f.value) {
            Some(FieldValue::Text(s)) => s.clone(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(text("user_name"), "bob@x");
        assert_eq!(text("given_name"), "Bob");
        assert_eq!(text("family_name"), "Smith");
        assert_eq!(text("email"), "bob@x");
        assert_eq!(text("department"), "Sales");
        assert_eq!(text("manager"), "e0");
        // The default would render "Bob Smith": the live display name is written.
        assert_eq!(text("display_name"), "Bobby");
        assert!(!u.active);
        // The constant differs and is reported; the composite nickName renders the live value.
        assert_eq!(
            unreversed,
            vec![Unreversed {
                path: format!("{ent}:costCenter"),
                why: Why::Constant,
                live: json!("CC-9"),
            }]
        );
        // A display name the default renders is not written.
        let mut live2 = live.clone();
        live2["displayName"] = json!("Bob Smith");
        live2[ent]["costCenter"] = json!("CC-100");
        let (u, unreversed) = r.user(&live2, "e7", None, &|_| None);
        assert!(!u.fields.contains_key("display_name"));
        assert_eq!(unreversed.len(), 1, "{unreversed:?}");
        assert_eq!(unreversed[0].why, Why::UnknownRef);
        assert!(!u.fields.contains_key("manager"));
    }

    #[test]
    fn the_directory_entry_keeps_unmapped_fields_and_loses_absent_ones() {
        let d = desired(CONFIG);
        let c = CompiledTarget::compile(&d.targets[0]).expect("compiles");
        let r = Reverser::new(&c, &d.targets[0]);
        let live = json!({"id": "L1", "userName": "a@x", "externalId": "e1",
            "name": {"givenName": "A", "familyName": "B"}, "displayName": "A B",
            "nickName": "A-B",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "CC-100"}});
        let (u, unreversed) = r.user(&live, "e1", Some(&d.users[0]), &|_| None);
        assert!(unreversed.is_empty(), "{unreversed:?}");
        assert!(!u.fields.contains_key("email"));
        assert!(!u.fields.contains_key("department"));
        assert!(u.active);
        let g = json!({"id": "G1", "displayName": "eng", "externalId": "g-eng"});
        assert_eq!(r.group_id(&g).as_deref(), Some("g-eng"));
        let (group, unreversed) = r.group(&g, Some("g-eng"), None);
        assert_eq!((group.id.as_str(), group.name.as_str()), ("g-eng", "eng"));
        assert!(unreversed.is_empty());
    }
}
