//! Compiling a target's mapping rules and rendering directory objects through them.
//!
//! Rendering is split from resource building on purpose: the planner renders every assigned user
//! once ([`Rendered`], one value per rule) and then both compares those values with live
//! attributes and, for creates, builds the request body ([`CompiledTarget::user_resource`]) with
//! the target ids of referenced users, which only the planner knows.

use super::path::AttrPath;
use super::template::{Fields, TemplateId, Templates};
use crate::config::model::{self, When};
use crate::config::{Group, MappingRule, MappingSource, Target, User};
use crate::diag::{Diagnostic, Loc};
use crate::scim::resource::{GROUP_SCHEMA, USER_SCHEMA};
use crate::scim::Dialect;
use serde_json::{Map, Value};

/// Where a rule's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A template over the object's fields.
    Template,
    /// A constant.
    Value,
    /// A template rendering a directory user id, written as that user's id in the target.
    UserRef,
}

#[derive(Debug, Clone)]
enum Source {
    Template(TemplateId),
    Value(Option<Value>),
}

/// One compiled mapping rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub path: AttrPath,
    /// The path as written in the configuration.
    pub path_text: String,
    pub on: When,
    pub kind: RuleKind,
    /// Where it was written; `None` for a preset's default.
    pub loc: Option<Loc>,
    source: Source,
}

impl CompiledRule {
    /// The value as written to the target: a `user_ref`'s directory id goes through
    /// `resolve_ref` (`None`: the referenced user has no target id, so the attribute is left
    /// out), every other value as rendered.
    pub fn written_value(
        &self,
        v: &Value,
        resolve_ref: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Value> {
        match self.kind {
            RuleKind::UserRef => resolve_ref(v.as_str()?).map(Value::String),
            _ => Some(v.clone()),
        }
    }
}

/// The protocol dialect of a configured one. This is the one conversion between the two enums:
/// a compiled target is where the configuration first meets the protocol (the planner shapes
/// requests with it), and the shell reuses it for the client and the embedded provider.
pub fn protocol_dialect(dialect: model::Dialect) -> Dialect {
    match dialect {
        model::Dialect::Generic => Dialect::Generic,
        model::Dialect::AwsIdentityCenter => Dialect::AwsIdentityCenter,
    }
}

/// A target's mapping, compiled once: user and group rules in the order the configuration
/// resolved them (preset rules first, overridden in place; then the target's own additions).
#[derive(Debug, Clone)]
pub struct CompiledTarget {
    pub dialect: Dialect,
    pub user: Vec<CompiledRule>,
    pub group: Vec<CompiledRule>,
    templates: Templates,
}

/// The rendered values of one object: one per rule, in rule order; `None` = rendered empty
/// (absent). For `UserRef` rules the value is the directory user id (a JSON string).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub values: Vec<Option<Value>>,
}

/// A template failed at run time (or ran out of fuel) for one object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot render `{path}` for {kind} {id:?}: {message}")]
pub struct RenderError {
    /// "user" or "group".
    pub kind: &'static str,
    /// The directory id of the object.
    pub id: String,
    /// The attribute path of the rule.
    pub path: String,
    pub message: String,
}

/// MiniJinja's error without the internal template name it appends.
pub(crate) fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

impl CompiledTarget {
    /// Parse every path and compile every template; the error lists every bad rule.
    pub fn compile(target: &Target) -> Result<CompiledTarget, Vec<Diagnostic>> {
        let mut templates = Templates::new();
        let mut diags = Vec::new();
        let user = compile_rules(&target.user_mapping, target, &mut templates, &mut diags);
        let group = compile_rules(&target.group_mapping, target, &mut templates, &mut diags);
        if !diags.is_empty() {
            return Err(diags);
        }
        Ok(CompiledTarget {
            dialect: protocol_dialect(target.dialect),
            user,
            group,
            templates,
        })
    }

    /// Index of the user rule writing `path` (e.g. "userName"), compared ignoring case.
    pub fn user_rule(&self, path: &str) -> Option<usize> {
        rule_for(&self.user, path)
    }

    /// Index of the group rule writing `path` (e.g. "displayName"), compared ignoring case.
    pub fn group_rule(&self, path: &str) -> Option<usize> {
        rule_for(&self.group, path)
    }

    /// Index of the user rule of the primary email (the `email` match key):
    /// `emails[primary eq true].value`, else the first rule writing an email value.
    pub fn email_rule(&self) -> Option<usize> {
        let is_email = |r: &CompiledRule| {
            r.path.schema.is_none()
                && r.path.attr.eq_ignore_ascii_case("emails")
                && r.path
                    .sub
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case("value"))
        };
        let primary = |r: &CompiledRule| {
            r.path
                .filter
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("primary") && *v == Value::Bool(true))
        };
        self.user
            .iter()
            .position(|r| is_email(r) && primary(r))
            .or_else(|| self.user.iter().position(is_email))
    }

    /// Render every user rule.
    pub fn render_user(&self, user: &User) -> Result<Rendered, RenderError> {
        self.render(&self.user, user, "user", &user.id)
    }

    /// Render every group rule.
    pub fn render_group(&self, group: &Group) -> Result<Rendered, RenderError> {
        self.render(&self.group, group, "group", &group.id)
    }

    fn render<F: Fields>(
        &self,
        rules: &[CompiledRule],
        obj: &F,
        kind: &'static str,
        id: &str,
    ) -> Result<Rendered, RenderError> {
        let mut ctx = None;
        let mut values = Vec::with_capacity(rules.len());
        for r in rules {
            values.push(match &r.source {
                Source::Value(v) => v.clone(),
                Source::Template(t) => self
                    .templates
                    .render(*t, obj, &mut ctx)
                    .map_err(|e| RenderError {
                        kind,
                        id: id.to_string(),
                        path: r.path_text.clone(),
                        message: describe(&e),
                    })?
                    .map(Value::String),
            });
        }
        Ok(Rendered { values })
    }

    /// The SCIM body of a user create: `schemas` (core, plus each extension a value is written
    /// in), every rendered attribute, and `active` (roster's, not a mapping). The AWS dialect
    /// writes the one email as `{value, type: "work", primary: true}`, as AWS requires.
    pub fn user_resource(
        &self,
        r: &Rendered,
        active: bool,
        resolve_ref: &dyn Fn(&str) -> Option<String>,
    ) -> Map<String, Value> {
        let mut m = build(&self.user, r, USER_SCHEMA, resolve_ref);
        m.insert("active".into(), Value::Bool(active));
        if self.dialect == Dialect::AwsIdentityCenter {
            shape_aws_emails(&mut m);
        }
        m
    }

    /// The SCIM body of a group create (without members: the planner adds those).
    pub fn group_resource(&self, r: &Rendered) -> Map<String, Value> {
        build(&self.group, r, GROUP_SCHEMA, &|id| Some(id.to_string()))
    }
}

fn rule_for(rules: &[CompiledRule], path: &str) -> Option<usize> {
    let key = AttrPath::parse(path).ok()?.key();
    rules.iter().position(|r| r.path.key() == key)
}

fn compile_rules(
    rules: &[MappingRule],
    target: &Target,
    templates: &mut Templates,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CompiledRule> {
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        // Preset rules have no position of their own: point at the target.
        let loc = rule.loc.unwrap_or(target.loc);
        let path = match AttrPath::parse(&rule.path) {
            Ok(p) => Some(p),
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        loc,
                        format!("invalid attribute path in target {:?}: {e}", target.name),
                    )
                    .hint(
                        "write a SCIM attribute path such as `name.givenName`, \
                         `emails[type eq \"work\"].value` or \
                         `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`",
                    ),
                );
                None
            }
        };
        let (kind, source) = match &rule.source {
            MappingSource::Value(v) => (RuleKind::Value, Some(Source::Value(constant(v)))),
            MappingSource::Template(t) | MappingSource::UserRef(t) => {
                let kind = if matches!(rule.source, MappingSource::UserRef(_)) {
                    RuleKind::UserRef
                } else {
                    RuleKind::Template
                };
                match templates.add(t) {
                    Ok(id) => (kind, Some(Source::Template(id))),
                    Err(e) => {
                        diags.push(
                            Diagnostic::error(
                                loc,
                                format!(
                                    "the template of `{}` in target {:?} does not compile: {}",
                                    rule.path,
                                    target.name,
                                    describe(&e)
                                ),
                            )
                            .hint(
                                "templates are MiniJinja: `{{ field }}`, filters after `|` \
                                 (lower, upper, default, replace, trim, join); quote the whole \
                                 template in YAML",
                            ),
                        );
                        (kind, None)
                    }
                }
            }
        };
        if let (Some(path), Some(source)) = (path, source) {
            out.push(CompiledRule {
                path,
                path_text: rule.path.clone(),
                on: rule.on,
                kind,
                loc: rule.loc,
                source,
            });
        }
    }
    out
}

/// A constant mapping value; null and empty text mean absent, like an empty template.
fn constant(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        v => Some(v.clone()),
    }
}

fn build(
    rules: &[CompiledRule],
    r: &Rendered,
    core: &str,
    resolve_ref: &dyn Fn(&str) -> Option<String>,
) -> Map<String, Value> {
    let mut m = Map::new();
    let mut schemas = vec![Value::String(core.to_string())];
    m.insert("schemas".into(), Value::Null);
    for (rule, v) in rules.iter().zip(&r.values) {
        let Some(v) = v else { continue };
        let Some(v) = rule.written_value(v, resolve_ref) else {
            continue;
        };
        if let Some(s) = &rule.path.schema {
            if !schemas
                .iter()
                .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(s)))
            {
                schemas.push(Value::String(s.clone()));
            }
        }
        rule.path.set(&mut m, v);
    }
    m.insert("schemas".into(), Value::Array(schemas));
    m
}

/// AWS takes a single email and requires it marked primary; every AWS client writes it with
/// `type: "work"`, which is also what AWS returns.
fn shape_aws_emails(m: &mut Map<String, Value>) {
    let Some(Value::Array(emails)) = m.get_mut("emails") else {
        return;
    };
    for e in emails.iter_mut() {
        let Value::Object(o) = e else { continue };
        let mut shaped = Map::new();
        if let Some(v) = o.remove("value") {
            shaped.insert("value".into(), v);
        }
        let kind = o
            .remove("type")
            .unwrap_or_else(|| Value::String("work".into()));
        shaped.insert("type".into(), kind);
        o.remove("primary");
        shaped.insert("primary".into(), Value::Bool(true));
        shaped.append(o);
        *e = Value::Object(shaped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// Resolve a configuration text the way `roster` does (presets merged).
    use crate::config::test_support::desired;

    const CONFIG_EXAMPLE: &str = r#"
users:
  - id: e1001
    user_name: alice@example.com
    given_name: Alice
    family_name: Liddell
    email: alice@example.com
    department: Engineering
    manager: e1000
  - id: e1000
    user_name: queen@example.com
    given_name: Queen
    family_name: Hearts
groups:
  - id: g-eng
    name: engineering
    members: [e1001]
targets:
  aws:
    type: aws-identity-center
    url: https://scim.us-east-1.amazonaws.com/EXAMPLE/scim/v2
    auth: { bearer_token_env: AWS_SCIM_TOKEN }
    assign: { groups: [engineering] }
    mapping:
      user:
        userName: "{{ user_name }}"
        externalId: "{{ id }}"
        displayName: "{{ given_name }} {{ family_name }}"
        name.givenName: "{{ given_name }}"
        name.familyName: "{{ family_name }}"
        emails[primary eq true].value: "{{ email }}"
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "{{ department }}"
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": { value: "CC-100" }
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": { user_ref: "{{ manager }}" }
        title: { template: "{{ title | default('') }}", on: create }
      group:
        displayName: "{{ name }}"
        externalId: "{{ id }}"
  sandbox:
    type: embedded
    assign: { all: true }
"#;

    #[test]
    fn compiled_targets_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<CompiledTarget>();
        shareable::<Rendered>();
    }

    #[test]
    fn renders_the_spec_example() {
        let d = desired(CONFIG_EXAMPLE);
        let c = CompiledTarget::compile(&d.targets[0]).unwrap();
        let r = c.render_user(&d.users[0]).unwrap();
        let by_path: Vec<(&str, Option<Value>)> = c
            .user
            .iter()
            .map(|r| r.path_text.as_str())
            .zip(r.values.iter().cloned())
            .collect();
        assert!(by_path.contains(&("displayName", Some(json!("Alice Liddell")))));
        assert!(by_path.contains(&(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            Some(json!("e1000"))
        )));
        // `title` renders empty: absent
        assert!(by_path.contains(&("title", None)));
        let title = c.user.iter().find(|r| r.path_text == "title").unwrap();
        assert_eq!(title.on, When::Create);
        let mgr = c
            .user
            .iter()
            .find(|r| r.path.sub.is_some() && r.path.schema.is_some());
        assert_eq!(mgr.unwrap().kind, RuleKind::UserRef);

        let body = c.user_resource(&r, true, &|id| {
            (id == "e1000").then(|| "aws-id-of-e1000".to_string())
        });
        assert_eq!(
            Value::Object(body),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
                "userName": "alice@example.com",
                "externalId": "e1001",
                "displayName": "Alice Liddell",
                "name": {"givenName": "Alice", "familyName": "Liddell"},
                "emails": [{"value": "alice@example.com", "type": "work", "primary": true}],
                ENT: {
                    "department": "Engineering",
                    "manager": {"value": "aws-id-of-e1000"},
                    "costCenter": "CC-100"
                },
                "active": true
            })
        );

        assert_eq!(c.user_rule("USERNAME"), Some(0));
        assert_eq!(c.group_rule("displayName"), Some(0));
        let email = c.email_rule().unwrap();
        assert_eq!(c.user[email].path_text, "emails[primary eq true].value");

        let g = c.render_group(&d.groups[0]).unwrap();
        assert_eq!(
            Value::Object(c.group_resource(&g)),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "engineering",
                "externalId": "g-eng"
            })
        );
    }

    #[test]
    fn unresolved_user_ref_is_omitted_and_no_extension_without_values() {
        let d = desired(CONFIG_EXAMPLE);
        // the generic (embedded) preset: default mapping only
        let c = CompiledTarget::compile(&d.targets[1]).unwrap();
        let r = c.render_user(&d.users[1]).unwrap();
        let body = c.user_resource(&r, false, &|_| None);
        assert_eq!(
            Value::Object(body),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "queen@example.com",
                "externalId": "e1000",
                "displayName": "Queen Hearts",
                "name": {"givenName": "Queen", "familyName": "Hearts"},
                "active": false
            })
        );
        // alice: the manager is dropped when it has no target id, department stays
        let r = c.render_user(&d.users[0]).unwrap();
        let body = Value::Object(c.user_resource(&r, true, &|_| None));
        assert_eq!(body[ENT], json!({"department": "Engineering"}));
        // generic writes the filter's attributes, not AWS's type
        assert_eq!(
            body["emails"],
            json!([{"value": "alice@example.com", "primary": true}])
        );
    }

    #[test]
    fn compile_reports_every_bad_rule() {
        let d = desired(
            r#"
users: [{ id: e1, user_name: a }]
targets:
  t:
    type: embedded
    assign: { all: true }
    mapping:
      user:
        "emails[type co \"x\"].value": "{{ email }}"
        title: "{{ title "
"#,
        );
        let e = CompiledTarget::compile(&d.targets[0]).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e
            .iter()
            .any(|d| d.message.contains("invalid attribute path")));
        assert!(e.iter().any(|d| d.message.contains("does not compile")));
        assert!(e.iter().all(|d| d.loc.is_some() && d.hint.is_some()));
    }

    #[test]
    fn runtime_errors_name_path_and_user() {
        let d = desired(
            r#"
users: [{ id: e1, user_name: a }]
targets:
  t:
    type: embedded
    assign: { all: true }
    mapping:
      user:
        title: "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}"
        nickName: "{{ user_name | no_such_filter }}"
"#,
        );
        let c = CompiledTarget::compile(&d.targets[0]).unwrap();
        let err = c.render_user(&d.users[0]).unwrap_err();
        assert_eq!(err.id, "e1");
        assert_eq!(err.path, "title");
        assert!(err.to_string().contains("`title` for user \"e1\""), "{err}");
        assert!(err.message.contains("fuel"), "{err}");
        // with the runaway rule gone, the unknown filter fails at render time
        let mut t = d.targets[0].clone();
        t.user_mapping.retain(|r| r.path != "title");
        let c = CompiledTarget::compile(&t).unwrap();
        let err = c.render_user(&d.users[0]).unwrap_err();
        assert_eq!(err.path, "nickName");
        assert!(err.message.contains("no_such_filter"), "{err}");
    }

    #[test]
    fn constants_render_and_empty_constants_are_absent() {
        let d = desired(
            r#"
users: [{ id: e1, user_name: a }]
targets:
  t:
    type: embedded
    assign: { all: true }
    mapping:
      user:
        userType: { value: Employee }
        nickName: { value: "" }
        "urn:example:ext:1.0:User:level": { value: 3 }
"#,
        );
        let c = CompiledTarget::compile(&d.targets[0]).unwrap();
        let r = c.render_user(&d.users[0]).unwrap();
        let body = Value::Object(c.user_resource(&r, true, &|_| None));
        assert_eq!(body["userType"], json!("Employee"));
        assert!(body.get("nickName").is_none());
        assert_eq!(body["urn:example:ext:1.0:User"], json!({"level": 3}));
        assert_eq!(
            body["schemas"],
            json!([
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:example:ext:1.0:User"
            ])
        );
    }

    #[test]
    fn aws_shapes_a_typed_email_too() {
        let d = desired(
            r#"
users: [{ id: e1, user_name: a, given_name: A, family_name: B, email: a@x }]
targets:
  t:
    type: embedded
    dialect: aws-identity-center
    assign: { all: true }
    mapping:
      user:
        emails[primary eq true].value: ""
        emails[type eq "work"].value: "{{ email }}"
"#,
        );
        let c = CompiledTarget::compile(&d.targets[0]).unwrap();
        let r = c.render_user(&d.users[0]).unwrap();
        let body = Value::Object(c.user_resource(&r, true, &|_| None));
        assert_eq!(
            body["emails"],
            json!([{"value": "a@x", "type": "work", "primary": true}])
        );
    }
}
