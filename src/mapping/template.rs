//! Mapping templates: MiniJinja expressions over a directory object's fields, compiled once per
//! target, with bounded work (fuel) and lenient undefined values (a field a user lacks renders
//! empty, which means "attribute absent").
//!
//! The planner renders every assigned user on every run (100,000 users must take well under a
//! second), so the common shapes — literal text with `{{ field }}`, `{{ a ~ " " ~ b }}`,
//! `{{ f | lower }}`, `{{ f | default(g) }}` — are evaluated here by direct field lookup. MiniJinja
//! stays the definition of what a template means: the fast evaluator bails out to it whenever a
//! case is not plainly a string operation (a non-text field, a filter on a missing field), and a
//! test checks that both agree.
//!
//! Templates come from the configuration, which may come from a stranger: besides fuel, every
//! render is bounded in the size of what it builds and writes (see [`bound`]).

mod bound;

pub use bound::{MAX_OUTPUT_BYTES, MAX_VALUE_BYTES, MAX_WORK_BYTES};

use crate::config::model::FieldValue;
use crate::config::{Group, User};
use minijinja::{Environment, UndefinedBehavior, Value as JValue};
use std::collections::BTreeSet;

/// Instructions one render may execute; far above any mapping template, far below "forever".
pub const FUEL: u64 = 50_000;

/// What a template sees of one field.
pub enum FieldRef<'a> {
    /// Not defined (or null): undefined in the template.
    Absent,
    Text(&'a str),
    /// A boolean, number or list: rendered by MiniJinja only.
    Other(&'a FieldValue),
}

/// A directory object whose fields templates read.
pub trait Fields {
    fn field(&self, name: &str) -> FieldRef<'_>;
}

impl Fields for User {
    fn field(&self, name: &str) -> FieldRef<'_> {
        match self.fields.get(name).map(|f| &f.value) {
            None | Some(FieldValue::Null(())) => FieldRef::Absent,
            Some(FieldValue::Text(s)) => FieldRef::Text(s),
            Some(other) => FieldRef::Other(other),
        }
    }
}

impl Fields for Group {
    fn field(&self, name: &str) -> FieldRef<'_> {
        match name {
            "id" => FieldRef::Text(&self.id),
            "name" => FieldRef::Text(&self.name),
            "description" => match &self.description {
                Some(d) => FieldRef::Text(d),
                None => FieldRef::Absent,
            },
            _ => FieldRef::Absent,
        }
    }
}

/// The fields a group template may use.
pub const GROUP_FIELDS: &[&str] = &["id", "name", "description"];

fn field_value(v: &FieldValue) -> Option<JValue> {
    Some(match v {
        FieldValue::Bool(b) => JValue::from(*b),
        FieldValue::Int(i) => JValue::from(*i),
        FieldValue::Float(f) => JValue::from(*f),
        FieldValue::Text(s) => JValue::from(s.as_str()),
        FieldValue::List(l) => JValue::from(l.clone()),
        FieldValue::Null(()) => return None,
    })
}

/// Index of a template in its [`Templates`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateId(usize);

/// Expression forms the fast evaluator understands.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Var(String),
    Lit(String),
    Concat(Vec<Expr>),
    Lower(Box<Expr>),
    Upper(Box<Expr>),
    Trim(Box<Expr>),
    Default(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Text(String),
    Expr(Expr),
}

#[derive(Clone)]
struct Entry {
    name: String,
    /// `None`: only MiniJinja can render it.
    fast: Option<Vec<Segment>>,
}

/// Every template of one target, compiled once.
#[derive(Clone)]
pub struct Templates {
    env: Environment<'static>,
    entries: Vec<Entry>,
    /// Union of the fields the templates read: the MiniJinja context holds exactly these.
    vars: BTreeSet<String>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("count", &self.entries.len())
            .field("vars", &self.vars)
            .finish()
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    bound::configure(&mut env);
    env
}

impl Templates {
    pub fn new() -> Templates {
        Templates {
            env: environment(),
            entries: Vec::new(),
            vars: BTreeSet::new(),
        }
    }

    /// Compile a template; the error is MiniJinja's syntax error.
    pub fn add(&mut self, source: &str) -> Result<TemplateId, minijinja::Error> {
        let name = format!("t{}", self.entries.len());
        self.env
            .add_template_owned(name.clone(), source.to_string())?;
        let tmpl = self.env.get_template(&name)?;
        self.vars
            .extend(without_globals(&self.env, tmpl.undeclared_variables(false)));
        self.entries.push(Entry {
            name,
            fast: parse_fast(source),
        });
        Ok(TemplateId(self.entries.len() - 1))
    }

    /// Whether the template renders without MiniJinja (for tests and benchmarks).
    pub fn is_fast(&self, id: TemplateId) -> bool {
        self.entries.get(id.0).is_some_and(|e| e.fast.is_some())
    }

    /// Render, trimmed; `None` when the result is empty (the attribute is absent).
    /// `ctx` is the object's MiniJinja context, built on first need and reused for the object's
    /// other templates.
    pub fn render<F: Fields + ?Sized>(
        &self,
        id: TemplateId,
        obj: &F,
        ctx: &mut Option<JValue>,
    ) -> Result<Option<String>, minijinja::Error> {
        let Some(entry) = self.entries.get(id.0) else {
            return Ok(None);
        };
        if let Some(segs) = &entry.fast {
            if let Some(s) = render_fast(segs, obj) {
                return Ok(non_empty(s));
            }
        }
        let ctx = ctx.get_or_insert_with(|| self.context(obj));
        let out = self.render_bounded(&entry.name, ctx.clone())?;
        Ok(non_empty(out))
    }

    /// Render with MiniJinja on the instrumented instructions (see [`bound`]).
    fn render_bounded(&self, name: &str, root: JValue) -> Result<String, minijinja::Error> {
        use minijinja::machinery;
        let tmpl = self.env.get_template(name)?;
        let compiled = machinery::get_compiled_template(&tmpl);
        let instructions = bound::instrument(&compiled.instructions);
        let blocks: std::collections::BTreeMap<_, _> = compiled
            .blocks
            .iter()
            .map(|(k, v)| (*k, bound::instrument(v)))
            .collect();
        let mut rv = String::new();
        let mut out = machinery::make_string_output(&mut rv);
        bound::start_render();
        machinery::Vm::new(&self.env).eval(
            &instructions,
            root,
            &blocks,
            &mut out,
            compiled.initial_auto_escape,
        )?;
        Ok(rv)
    }

    /// Render with MiniJinja only (the reference the fast path is tested against).
    pub fn render_slow<F: Fields + ?Sized>(
        &self,
        id: TemplateId,
        obj: &F,
    ) -> Result<Option<String>, minijinja::Error> {
        let Some(entry) = self.entries.get(id.0) else {
            return Ok(None);
        };
        let out = self.render_bounded(&entry.name, self.context(obj))?;
        Ok(non_empty(out))
    }

    fn context<F: Fields + ?Sized>(&self, obj: &F) -> JValue {
        self.vars
            .iter()
            .filter_map(|k| {
                let v = match obj.field(k) {
                    FieldRef::Absent => return None,
                    FieldRef::Text(s) => JValue::from(s),
                    FieldRef::Other(v) => field_value(v)?,
                };
                Some((k.as_str(), v))
            })
            .collect()
    }
}

/// Trimmed, `None` when empty; reuses the string when there is nothing to trim (the common
/// case), since this runs for every attribute of every user.
fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_string())
    }
}

fn without_globals(
    env: &Environment<'_>,
    vars: std::collections::HashSet<String>,
) -> impl Iterator<Item = String> {
    let globals: BTreeSet<String> = env.globals().map(|(k, _)| k.to_string()).collect();
    vars.into_iter().filter(move |v| !globals.contains(v))
}

/// The fields a template reads (MiniJinja's undeclared variables, minus its globals such as
/// `range`), sorted; the error is the template's syntax error.
pub fn referenced_fields(source: &str) -> Result<Vec<String>, minijinja::Error> {
    let env = environment();
    let tmpl = env.template_from_str(source)?;
    let mut v: Vec<String> = without_globals(&env, tmpl.undeclared_variables(false)).collect();
    v.sort();
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// The fast evaluator.

enum FastValue {
    Undefined,
    Str(String),
}

/// Evaluate, or `None` to let MiniJinja decide. Output past the size bound is left to MiniJinja
/// too, which reports it: `{{ bio }}{{ bio }}...` over a large field is linear work but not
/// bounded memory.
fn render_fast<F: Fields + ?Sized>(segs: &[Segment], obj: &F) -> Option<String> {
    if let [Segment::Expr(Expr::Var(v))] = segs {
        // The most common template of all, `{{ field }}`: no intermediate strings.
        return match obj.field(v) {
            FieldRef::Absent => Some(String::new()),
            FieldRef::Text(s) if s.len() <= MAX_OUTPUT_BYTES => Some(s.to_string()),
            FieldRef::Text(_) | FieldRef::Other(_) => None,
        };
    }
    let mut out = String::new();
    for s in segs {
        let piece = match s {
            Segment::Text(t) => std::borrow::Cow::Borrowed(t.as_str()),
            Segment::Expr(e) => match eval(e, obj)? {
                FastValue::Undefined => continue,
                FastValue::Str(s) => std::borrow::Cow::Owned(s),
            },
        };
        if out.len() + piece.len() > MAX_OUTPUT_BYTES {
            return None;
        }
        out.push_str(&piece);
    }
    Some(out)
}

fn eval<F: Fields + ?Sized>(e: &Expr, obj: &F) -> Option<FastValue> {
    Some(match e {
        Expr::Var(v) => match obj.field(v) {
            FieldRef::Absent => FastValue::Undefined,
            FieldRef::Text(s) => FastValue::Str(s.to_string()),
            FieldRef::Other(_) => return None,
        },
        Expr::Lit(s) => FastValue::Str(s.clone()),
        Expr::Concat(parts) => {
            let mut out = String::new();
            for p in parts {
                if let FastValue::Str(s) = eval(p, obj)? {
                    if out.len() + s.len() > MAX_VALUE_BYTES {
                        return None;
                    }
                    out.push_str(&s);
                }
            }
            FastValue::Str(out)
        }
        Expr::Lower(x) => FastValue::Str(string_of(eval(x, obj)?)?.to_lowercase()),
        Expr::Upper(x) => FastValue::Str(string_of(eval(x, obj)?)?.to_uppercase()),
        Expr::Trim(x) => FastValue::Str(string_of(eval(x, obj)?)?.trim().to_string()),
        Expr::Default(x, d) => match eval(x, obj)? {
            FastValue::Undefined => eval(d, obj)?,
            v => v,
        },
    })
}

/// A filter's string input; undefined inputs are left to MiniJinja.
fn string_of(v: FastValue) -> Option<String> {
    match v {
        FastValue::Str(s) => Some(s),
        FastValue::Undefined => None,
    }
}

/// Split a template into literal text and `{{ … }}` expressions the fast evaluator supports;
/// `None` when any part is beyond it (statements, comments, other filters, whitespace control).
fn parse_fast(source: &str) -> Option<Vec<Segment>> {
    let mut segs = Vec::new();
    let mut rest = source;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                segs.push(Segment::Text(rest.to_string()));
                break;
            }
            Some(i) => {
                let after = &rest[i..];
                if after.starts_with("{{") {
                    if i > 0 {
                        segs.push(Segment::Text(rest[..i].to_string()));
                    }
                    let close = after.find("}}")?;
                    let inner = &after[2..close];
                    if inner.starts_with(['-', '+']) || inner.ends_with(['-', '+']) {
                        return None;
                    }
                    segs.push(Segment::Expr(parse_expr(inner)?));
                    rest = &after[close + 2..];
                } else if after.starts_with("{%") || after.starts_with("{#") {
                    return None;
                } else {
                    // A lone brace is literal text.
                    segs.push(Segment::Text(rest[..=i].to_string()));
                    rest = &rest[i + 1..];
                }
            }
        }
    }
    // MiniJinja drops one trailing newline of the template; output is trimmed anyway, but keep
    // the literal text identical to what MiniJinja emits.
    if let Some(Segment::Text(t)) = segs.last_mut() {
        if t.ends_with('\n') {
            t.pop();
            if t.ends_with('\r') {
                t.pop();
            }
        }
    }
    Some(segs)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Pipe,
    Tilde,
    LParen,
    RParen,
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let mut toks = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' => {}
            '|' => toks.push(Tok::Pipe),
            '~' => toks.push(Tok::Tilde),
            '(' => toks.push(Tok::LParen),
            ')' => toks.push(Tok::RParen),
            '"' | '\'' => {
                let mut lit = String::new();
                loop {
                    let (_, ch) = chars.next()?;
                    if ch == c {
                        break;
                    }
                    // Escapes, newlines: leave them to MiniJinja.
                    if ch == '\\' || ch == '\n' {
                        return None;
                    }
                    lit.push(ch);
                }
                toks.push(Tok::Str(lit));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, ch)) = chars.peek() {
                    if ch.is_ascii_alphanumeric() || ch == '_' {
                        end = j + ch.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                toks.push(Tok::Ident(s[i..end].to_string()));
            }
            _ => return None,
        }
    }
    Some(toks)
}

fn parse_expr(inner: &str) -> Option<Expr> {
    let toks = tokenize(inner)?;
    let mut pos = 0;
    let e = parse_concat(&toks, &mut pos)?;
    (pos == toks.len()).then_some(e)
}

/// concat := filtered ('~' filtered)*
fn parse_concat(toks: &[Tok], pos: &mut usize) -> Option<Expr> {
    let mut parts = vec![parse_filtered(toks, pos)?];
    while toks.get(*pos) == Some(&Tok::Tilde) {
        *pos += 1;
        parts.push(parse_filtered(toks, pos)?);
    }
    Some(if parts.len() == 1 {
        parts.pop()?
    } else {
        Expr::Concat(parts)
    })
}

/// filtered := primary ('|' filter)*
fn parse_filtered(toks: &[Tok], pos: &mut usize) -> Option<Expr> {
    let mut e = match toks.get(*pos)? {
        Tok::Ident(name) if !is_keyword(name) => Expr::Var(name.clone()),
        Tok::Str(s) => Expr::Lit(s.clone()),
        _ => return None,
    };
    *pos += 1;
    while toks.get(*pos) == Some(&Tok::Pipe) {
        *pos += 1;
        let Tok::Ident(f) = toks.get(*pos)? else {
            return None;
        };
        *pos += 1;
        e = match f.as_str() {
            "lower" => Expr::Lower(Box::new(e)),
            "upper" => Expr::Upper(Box::new(e)),
            "trim" => Expr::Trim(Box::new(e)),
            "default" | "d" => {
                if toks.get(*pos) != Some(&Tok::LParen) {
                    return None;
                }
                *pos += 1;
                let arg = parse_concat(toks, pos)?;
                if toks.get(*pos) != Some(&Tok::RParen) {
                    return None;
                }
                *pos += 1;
                Expr::Default(Box::new(e), Box::new(arg))
            }
            _ => return None,
        };
        // `lower()` with empty parentheses and other call forms: leave them to MiniJinja.
        if toks.get(*pos) == Some(&Tok::LParen) {
            return None;
        }
    }
    Some(e)
}

/// Names that are not variables in MiniJinja expressions.
fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "true"
            | "false"
            | "none"
            | "True"
            | "False"
            | "None"
            | "and"
            | "or"
            | "not"
            | "in"
            | "is"
            | "if"
            | "else"
            | "loop"
            | "self"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Field;
    use crate::diag::Loc;

    fn user(fields: &[(&str, FieldValue)]) -> User {
        let mut m = crate::config::FieldMap::default();
        for (k, v) in fields {
            m.insert(
                (*k).into(),
                Field {
                    value: v.clone(),
                    loc: Loc::default(),
                },
            );
        }
        User {
            id: "e1".into(),
            user_name: "u".into(),
            active: true,
            manager: None,
            fields: m,
            loc: Loc::default(),
        }
    }

    fn text(s: &str) -> FieldValue {
        FieldValue::Text(s.into())
    }

    #[test]
    fn recognises_fast_shapes() {
        let mut t = Templates::new();
        for (src, fast) in [
            ("{{ given_name }} {{ family_name }}", true),
            ("{{ user_name | lower }}", true),
            (
                "{{ display_name | default(given_name ~ \" \" ~ family_name) }}",
                true,
            ),
            ("prefix-{{ id }}", true),
            ("{{ title | default('') }}", true),
            ("{{ a if b else c }}", false),
            ("{% if a %}x{% endif %}", false),
            ("{{ a | replace('x', 'y') }}", false),
            ("{{- a -}}", false),
            ("{{ a.b }}", false),
            ("{{ a[0] }}", false),
        ] {
            let id = t.add(src).unwrap();
            assert_eq!(t.is_fast(id), fast, "{src}");
        }
    }

    #[test]
    fn fast_path_agrees_with_minijinja() {
        let templates = [
            "{{ given_name }} {{ family_name }}",
            "{{ user_name | lower }}",
            "{{ user_name | upper }}",
            "{{ user_name | trim }}",
            "{{ display_name | default(given_name ~ \" \" ~ family_name) }}",
            "{{ display_name | default(given_name ~ ' ' ~ family_name) | upper }}",
            "{{ title | default('') }}",
            "{{ given_name ~ '.' ~ family_name | lower }}@example.com",
            "{{ missing }}",
            "{{ missing | lower }}",
            "{{ missing | default(user_name) }}",
            "{ literal } {{ id }}",
            "{{ n }} {{ b }} {{ f }} {{ l }}",
            "{{ nothing | default('x') }}",
            "line\n",
        ];
        let users = [
            user(&[
                ("id", text("e1")),
                ("user_name", text("  Alice@Example.COM ")),
                ("given_name", text("Alice")),
                ("family_name", text("Liddell")),
            ]),
            user(&[
                ("id", text("e2")),
                ("user_name", text("ÉMILE")),
                ("display_name", text("Émile Z")),
                ("title", text("")),
                ("n", FieldValue::Int(3)),
                ("b", FieldValue::Bool(true)),
                ("f", FieldValue::Float(1.5)),
                ("l", FieldValue::List(vec!["a".into(), "b".into()])),
                ("nothing", FieldValue::Null(())),
            ]),
            user(&[]),
        ];
        let mut t = Templates::new();
        let ids: Vec<_> = templates.iter().map(|s| t.add(s).unwrap()).collect();
        for u in &users {
            for (id, src) in ids.iter().zip(templates) {
                let fast = t.render(*id, u, &mut None).unwrap();
                let slow = t.render_slow(*id, u).unwrap();
                assert_eq!(
                    fast,
                    slow,
                    "template {src:?} for {:?}",
                    u.fields.keys().collect::<Vec<_>>()
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(200))]
        /// Arbitrary text (unicode, spaces, braces) in any subset of fields renders the same on
        /// both paths.
        #[test]
        fn fast_path_agrees_on_arbitrary_text(
            given in proptest::option::of(".{0,12}"),
            family in proptest::option::of(".{0,12}"),
            display in proptest::option::of("[ a-zA-ZÀ-ÿ{}|~']{0,12}"),
        ) {
            let mut fields = Vec::new();
            for (k, v) in [("given_name", &given), ("family_name", &family), ("display_name", &display)] {
                if let Some(v) = v {
                    fields.push((k, FieldValue::Text(v.clone())));
                }
            }
            let u = user(&fields);
            let mut t = Templates::new();
            for src in [
                "{{ given_name }} {{ family_name }}",
                "{{ display_name | default(given_name ~ \" \" ~ family_name) }}",
                "{{ given_name | lower }}.{{ family_name | upper | trim }}",
                "{{ display_name | trim | default('none') }}",
            ] {
                let id = t.add(src).unwrap();
                proptest::prop_assert!(t.is_fast(id));
                proptest::prop_assert_eq!(t.render(id, &u, &mut None).unwrap(), t.render_slow(id, &u).unwrap(), "{}", src);
            }
        }
    }

    #[test]
    fn empty_renders_absent_and_output_is_trimmed() {
        let mut t = Templates::new();
        let a = t.add("  {{ given_name }}  ").unwrap();
        let b = t.add("{{ title | default('') }}").unwrap();
        let u = user(&[("given_name", text("Al"))]);
        assert_eq!(t.render(a, &u, &mut None).unwrap().as_deref(), Some("Al"));
        assert_eq!(t.render(b, &u, &mut None).unwrap(), None);
        assert_eq!(t.render(a, &user(&[]), &mut None).unwrap(), None);
    }

    #[test]
    fn minijinja_features_work() {
        let mut t = Templates::new();
        let id = t
            .add("{{ groups | join(',') }}|{{ given_name | replace('A', 'E') }}|{{ 'x' if admin else 'y' }}")
            .unwrap();
        let u = user(&[
            ("given_name", text("Al")),
            ("groups", FieldValue::List(vec!["a".into(), "b".into()])),
            ("admin", FieldValue::Bool(true)),
        ]);
        assert_eq!(
            t.render(id, &u, &mut None).unwrap().as_deref(),
            Some("a,b|El|x")
        );
    }

    #[test]
    fn fuel_stops_runaway_templates() {
        let mut t = Templates::new();
        let id = t
            .add(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            )
            .unwrap();
        let e = t.render(id, &user(&[]), &mut None).unwrap_err();
        assert!(e.to_string().contains("fuel"), "{e}");
    }

    #[test]
    fn large_output_is_refused_on_the_fast_path_too() {
        let mut t = Templates::new();
        let id = t.add(&"{{ bio }}".repeat(100)).unwrap();
        assert!(t.is_fast(id));
        let u = user(&[("bio", text(&"x".repeat(10_000)))]);
        let e = t.render(id, &u, &mut None).unwrap_err();
        assert!(e.to_string().contains("output larger than 256 KiB"), "{e}");
        let small = user(&[("bio", text("x"))]);
        assert_eq!(
            t.render(id, &small, &mut None).unwrap().map(|s| s.len()),
            Some(100)
        );
    }

    #[test]
    fn syntax_errors_and_referenced_fields() {
        let mut t = Templates::new();
        assert!(t.add("{{ given_name ").is_err());
        assert_eq!(
            referenced_fields(
                "{{ a }} {{ b | default(c) }} {% for x in range(3) %}{{ x }}{% endfor %}"
            )
            .unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(referenced_fields("{% if %}").is_err());
    }

    #[test]
    fn groups_expose_id_name_description() {
        let g = Group {
            id: "g1".into(),
            name: "eng".into(),
            description: None,
            members: vec![],
            include: vec![],
            loc: Loc::default(),
            id_loc: Loc::default(),
            name_loc: Loc::default(),
        };
        let mut t = Templates::new();
        let id = t.add("{{ name }}/{{ id }}/{{ description }}").unwrap();
        assert_eq!(
            t.render(id, &g, &mut None).unwrap().as_deref(),
            Some("eng/g1/")
        );
        assert_eq!(t.render_slow(id, &g).unwrap().as_deref(), Some("eng/g1/"));
    }
}
