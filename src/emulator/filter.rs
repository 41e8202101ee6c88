//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): a parser into a small syntax tree
//! and an evaluator over resources held as JSON. The emulator needs the whole grammar (the
//! generic dialect answers any filter a client sends), while the AWS dialect inspects the same
//! tree to refuse what AWS refuses.

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::fmt;

/// An attribute path: `[urn:...:]attr[.sub]`. Names keep the case the client wrote; lookups are
/// case-insensitive.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN when the path was written fully qualified.
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// `attr` or `attr.sub`, lower-cased, without the URN: the key the emulator's rules use.
    pub fn key(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{}", self.attr, s).to_ascii_lowercase(),
            None => self.attr.to_ascii_lowercase(),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        write!(f, "{}", self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// A comparison operator: the protocol's own, shared with the client's filter builder.
pub use crate::scim::filter::FilterOp as CompOp;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompOp,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: true when some value of the multi-valued `attr` matches `filter`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH target: `attrPath` or `valuePath[.subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// The value-selection filter of `attr[...]`.
    pub filter: Option<Filter>,
}

/// Why a filter or path did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Str(String),
    /// A bare word: attribute path, operator, keyword, number, true/false/null.
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, ParseError> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1
            }
            '"' => {
                // A JSON string: find the closing quote, honouring escapes, and let serde decode.
                let start = i;
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '\\' => i += 2,
                        '"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if !closed {
                    return Err(ParseError("unterminated string in filter".into()));
                }
                let raw: String = chars[start..i].iter().collect();
                let v: String = serde_json::from_str(&raw)
                    .map_err(|e| ParseError(format!("bad string {raw}: {e}")))?;
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !matches!(
                        chars[i],
                        ' ' | '\t' | '\n' | '\r' | '(' | ')' | '[' | ']' | '"'
                    )
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

/// Parse `[urn:...:]attr[.sub]`.
pub fn parse_attr_path(word: &str) -> Result<AttrPath, ParseError> {
    let bad = || ParseError(format!("invalid attribute path {word:?}"));
    if word.is_empty() {
        return Err(bad());
    }
    // `get`, not `[..4]`: the fourth byte may be inside a multi-byte character (found by fuzzing).
    let (urn, rest) = if word.len() > 4
        && word
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        // The attribute name is after the last colon; a URN itself may contain dots ("2.0").
        match word.rfind(':') {
            Some(pos) => (Some(word[..pos].to_string()), &word[pos + 1..]),
            None => return Err(bad()),
        }
    } else {
        (None, word)
    };
    let mut parts = rest.splitn(2, '.');
    let attr = parts.next().unwrap_or_default().to_string();
    let sub = parts.next().map(str::to_string);
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(&attr) || sub.as_deref().is_some_and(|s| !valid(s)) {
        return Err(bad());
    }
    Ok(AttrPath { urn, attr, sub })
}

/// How deeply `not (...)`, `(...)` and `attr[...]` may nest, and how many terms one filter may
/// hold. The parser and the evaluator recurse: a request of a few kilobytes of `(((` overflowed
/// the stack and aborted the whole emulator (found by fuzzing). Real filters are far below both.
const MAX_DEPTH: usize = 32;
const MAX_TERMS: usize = 1000;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Filter, ParseError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ParseError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ParseError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(ParseError(format!(
                "filter has more than {MAX_TERMS} terms"
            )));
        }
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            Err(ParseError(format!(
                "filter nests deeper than {MAX_DEPTH} levels"
            )))
        } else {
            self.unary_inner()
        };
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> Result<Filter, ParseError> {
        // `not` is the keyword only before `(`; otherwise it is an attribute named `not`
        // (`s[not eq 4]`, a path roster's own parser accepts; found by fuzz target scim_path).
        if self.peek_keyword("not") && self.toks.get(self.pos + 1) == Some(&Tok::LParen) {
            self.pos += 2;
            let inner = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err(ParseError("expected )".into()));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Tok::LParen) => {
                let inner = self.or()?;
                if self.next() != Some(Tok::RParen) {
                    return Err(ParseError("expected )".into()));
                }
                Ok(inner)
            }
            Some(Tok::Word(w)) => {
                let path = parse_attr_path(&w)?;
                if self.peek() == Some(&Tok::LBracket) {
                    self.pos += 1;
                    let inner = self.or()?;
                    if self.next() != Some(Tok::RBracket) {
                        return Err(ParseError("expected ]".into()));
                    }
                    return Ok(Filter::ValuePath {
                        path,
                        filter: Box::new(inner),
                    });
                }
                self.comparison(path)
            }
            other => Err(ParseError(format!("unexpected {other:?} in filter"))),
        }
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ParseError> {
        let op = match self.next() {
            Some(Tok::Word(w)) => w,
            other => return Err(ParseError(format!("expected operator, found {other:?}"))),
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompOp::parse(&op).ok_or_else(|| ParseError(format!("unknown operator {op}")))?;
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| ParseError(format!("invalid comparison value {w}")))?,
            },
            other => return Err(ParseError(format!("expected value, found {other:?}"))),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// Parse a filter expression.
pub fn parse_filter(s: &str) -> Result<Filter, ParseError> {
    let mut p = Parser {
        toks: tokenize(s)?,
        pos: 0,
        depth: 0,
        terms: 0,
    };
    if p.toks.is_empty() {
        return Err(ParseError("empty filter".into()));
    }
    let f = p.or()?;
    if p.pos != p.toks.len() {
        return Err(ParseError(format!(
            "unexpected trailing input in filter {s:?}"
        )));
    }
    Ok(f)
}

/// Parse a PATCH `path`: `attrPath` or `attr[filter][.subAttr]`.
pub fn parse_patch_path(s: &str) -> Result<PatchPath, ParseError> {
    let s = s.trim();
    let Some(open) = s.find('[') else {
        return Ok(PatchPath {
            attr: parse_attr_path(s)?,
            filter: None,
        });
    };
    let close = s
        .rfind(']')
        .ok_or_else(|| ParseError(format!("unbalanced [ in path {s:?}")))?;
    if close < open {
        return Err(ParseError(format!("invalid path {s:?}")));
    }
    let mut attr = parse_attr_path(&s[..open])?;
    if attr.sub.is_some() {
        return Err(ParseError(format!("invalid value path {s:?}")));
    }
    let filter = parse_filter(&s[open + 1..close])?;
    let rest = &s[close + 1..];
    if !rest.is_empty() {
        let sub = rest
            .strip_prefix('.')
            .filter(|r| {
                !r.is_empty()
                    // RFC 7643 §2.1 nameChar includes "-", as `parse_attr_path` accepts
                    && r.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | '_' | '-'))
            })
            .ok_or_else(|| ParseError(format!("invalid sub-attribute in path {s:?}")))?;
        attr.sub = Some(sub.to_string());
    }
    Ok(PatchPath {
        attr,
        filter: Some(filter),
    })
}

/// Find a key case-insensitively.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The object an attribute path lives in: the resource itself, or an extension's object when the
/// path names an extension URN.
pub fn container<'a>(
    res: &'a Map<String, Value>,
    urn: Option<&str>,
    core_schemas: &[&str],
) -> Option<&'a Map<String, Value>> {
    match urn {
        None => Some(res),
        Some(u) if core_schemas.iter().any(|c| c.eq_ignore_ascii_case(u)) => Some(res),
        Some(u) => get_ci(res, u).and_then(Value::as_object),
    }
}

/// Schemas whose attributes sit at the top level of a resource.
pub const CORE_SCHEMAS: &[&str] = &[
    crate::scim::resource::USER_SCHEMA,
    crate::scim::resource::GROUP_SCHEMA,
];

/// Whether string comparisons on this attribute are case-exact (RFC 7643 `caseExact`). Ids,
/// externalId and references are; userName, emails and the rest are not.
pub fn case_exact(attr: &str, sub: Option<&str>) -> bool {
    let a = attr.to_ascii_lowercase();
    matches!(
        (a.as_str(), sub.map(str::to_ascii_lowercase).as_deref()),
        ("id" | "externalid" | "password" | "profileurl", None)
            | ("members" | "groups" | "manager", Some("value" | "$ref"))
            | ("members" | "groups", None)
            | ("x509certificates", _)
            | (_, Some("$ref"))
    )
}

/// Evaluate a filter against a resource (as JSON).
pub fn matches(filter: &Filter, res: &Map<String, Value>) -> bool {
    eval(filter, res, None)
}

/// `parent` is the multi-valued attribute a value-path filter is being applied inside, for
/// case-exactness of its sub-attributes.
fn eval(filter: &Filter, obj: &Map<String, Value>, parent: Option<&str>) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, obj, parent) && eval(b, obj, parent),
        Filter::Or(a, b) => eval(a, obj, parent) || eval(b, obj, parent),
        Filter::Not(a) => !eval(a, obj, parent),
        Filter::Present(path) => values_at(obj, path).iter().any(|v| present(v)),
        Filter::Compare { path, op, value } => {
            let exact = match parent {
                Some(p) => case_exact(p, Some(&path.attr)),
                None => case_exact(&path.attr, path.sub.as_deref()),
            };
            let vals = values_at(obj, path);
            if value.is_null() {
                // `eq null` asks for absence; an absent attribute has no values to compare.
                let any = vals.iter().any(|v| present(v));
                return match op {
                    CompOp::Eq => !any,
                    CompOp::Ne => any,
                    _ => false,
                };
            }
            match op {
                CompOp::Ne => !vals.iter().any(|v| compare(v, CompOp::Eq, value, exact)),
                _ => vals.iter().any(|v| compare(v, *op, value, exact)),
            }
        }
        Filter::ValuePath { path, filter } => {
            let Some(c) = container(obj, path.urn.as_deref(), CORE_SCHEMAS) else {
                return false;
            };
            match get_ci(c, &path.attr) {
                Some(Value::Array(items)) => items.iter().any(|item| match item {
                    Value::Object(o) => eval(filter, o, Some(&path.attr)),
                    _ => false,
                }),
                Some(Value::Object(o)) => eval(filter, o, Some(&path.attr)),
                _ => false,
            }
        }
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Every value an attribute path reaches: multi-valued attributes are flattened, and a complex
/// multi-valued attribute without a sub-attribute yields its elements' `value`.
pub fn values_at<'a>(res: &'a Map<String, Value>, path: &AttrPath) -> Vec<&'a Value> {
    let Some(c) = container(res, path.urn.as_deref(), CORE_SCHEMAS) else {
        return Vec::new();
    };
    let Some(v) = get_ci(c, &path.attr) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |v: &'a Value| match (&path.sub, v) {
        (Some(sub), Value::Object(o)) => {
            if let Some(x) = get_ci(o, sub) {
                out.push(x)
            }
        }
        (Some(_), _) => {}
        (None, Value::Object(o)) => {
            if let Some(x) = get_ci(o, "value") {
                out.push(x)
            } else {
                out.push(v)
            }
        }
        (None, _) => out.push(v),
    };
    match v {
        Value::Array(items) => items.iter().for_each(&mut push),
        other => push(other),
    }
    out
}

fn compare(actual: &Value, op: CompOp, expected: &Value, exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = if exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                CompOp::Eq => a == e,
                CompOp::Ne => a != e,
                CompOp::Co => a.contains(&e),
                CompOp::Sw => a.starts_with(&e),
                CompOp::Ew => a.ends_with(&e),
                CompOp::Gt => a > e,
                CompOp::Ge => a >= e,
                CompOp::Lt => a < e,
                CompOp::Le => a <= e,
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            let (Some(a), Some(e)) = (a.as_f64(), e.as_f64()) else {
                return false;
            };
            let ord = a.partial_cmp(&e);
            match op {
                CompOp::Eq => ord == Some(Ordering::Equal),
                CompOp::Ne => ord != Some(Ordering::Equal),
                CompOp::Gt => ord == Some(Ordering::Greater),
                CompOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                CompOp::Lt => ord == Some(Ordering::Less),
                CompOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                _ => false,
            }
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            CompOp::Eq => a == e,
            CompOp::Ne => a != e,
            _ => false,
        },
        (a, Value::Null) => match op {
            CompOp::Eq => !present(a),
            CompOp::Ne => present(a),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_is_a_keyword_only_before_a_parenthesis() {
        assert!(parse_patch_path("s[not eq 4]").is_ok());
        assert!(parse_filter("not eq \"x\"").is_ok());
        assert!(matches!(
            parse_filter("not (userName eq \"x\")"),
            Ok(Filter::Not(_))
        ));
        assert!(parse_filter("not userName eq \"x\"").is_err());
    }

    use super::*;
    use serde_json::json;

    fn user() -> Map<String, Value> {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "Abc-1",
            "externalId": "E1001",
            "userName": "Alice@Example.com",
            "active": true,
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "emails": [
                {"value": "alice@x.example", "type": "work", "primary": true},
                {"value": "a@home.example", "type": "home"}
            ],
            "meta": {"lastModified": "2026-01-02T00:00:00Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Tour Operations",
                "manager": {"value": "M-1"}
            }
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    fn m(f: &str) -> bool {
        matches(&parse_filter(f).expect("parses"), &user())
    }

    #[test]
    fn comparison_operators() {
        assert!(m(r#"userName eq "alice@example.com""#));
        assert!(m(r#"USERNAME Eq "ALICE@EXAMPLE.COM""#));
        assert!(!m(r#"externalId eq "e1001""#), "externalId is case-exact");
        assert!(m(r#"externalId eq "E1001""#));
        assert!(!m(r#"id eq "abc-1""#));
        assert!(m(r#"userName co "example""#));
        assert!(m(r#"userName sw "ali""#));
        assert!(m(r#"userName ew ".COM""#));
        assert!(m(r#"userName ne "bob""#));
        assert!(m(r#"meta.lastModified gt "2025-12-31T00:00:00Z""#));
        assert!(!m(r#"meta.lastModified lt "2025-12-31T00:00:00Z""#));
        assert!(m(r#"meta.lastModified ge "2026-01-02T00:00:00Z""#));
        assert!(m(r#"meta.lastModified le "2026-01-02T00:00:00Z""#));
        assert!(m("active eq true"));
        assert!(!m("active eq false"));
        assert!(m("title eq null"));
        assert!(m("name.givenName pr"));
        assert!(!m("title pr"));
    }

    #[test]
    fn logic_and_grouping() {
        assert!(m(r#"userName sw "a" and active eq true"#));
        assert!(m(r#"userName sw "b" or active eq true"#));
        assert!(!m(r#"not (active eq true)"#));
        assert!(m(
            r#"(userName sw "b" or userName sw "a") and not (title pr)"#
        ));
        // and binds tighter than or
        assert!(m(r#"userName sw "b" and title pr or active eq true"#));
    }

    #[test]
    fn value_paths_and_multi_valued() {
        assert!(m(r#"emails[type eq "work" and value co "@x"]"#));
        assert!(!m(r#"emails[type eq "home" and value co "@x"]"#));
        assert!(m(r#"emails eq "a@home.example""#));
        assert!(m(r#"emails.type eq "home""#));
        assert!(m(r#"emails[primary eq true]"#));
    }

    #[test]
    fn urn_qualified_attributes() {
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "M-1""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "alice""#
        ));
    }

    #[test]
    fn rejects_malformed_filters() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"userName eq "a" and"#,
            r#"(userName eq "a""#,
            r#"emails[type eq "work""#,
            r#"userName eq "unterminated"#,
            r#"userName eq "a" extra"#,
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn patch_paths() {
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).expect("path");
        assert_eq!(p.attr.attr, "emails");
        assert_eq!(p.attr.sub.as_deref(), Some("value"));
        assert!(p.filter.is_some());
        let p = parse_patch_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .expect("path");
        assert_eq!(
            p.attr.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.attr.attr, "manager");
        assert_eq!(p.attr.sub.as_deref(), Some("value"));
        let p = parse_patch_path(r#"members[value eq "x"]"#).expect("path");
        assert_eq!(
            p.filter,
            Some(Filter::Compare {
                path: AttrPath {
                    urn: None,
                    attr: "value".into(),
                    sub: None
                },
                op: CompOp::Eq,
                value: json!("x")
            })
        );
        assert!(parse_patch_path("emails[type eq \"work\"]x").is_err());
        assert!(parse_patch_path("bad path").is_err());
    }

    /// fuzz/regressions/scim_filter/crash-0fd958cc…: a multi-byte character across byte 4
    /// panicked the URN check.
    #[test]
    fn a_multibyte_character_at_the_urn_prefix_is_an_error_not_a_panic() {
        assert!(parse_attr_path("uss\u{61a}undsw").is_err());
        assert!(parse_filter("uss\u{61a}undsw pr").is_err());
        assert!(parse_patch_path("emails[uyils[uye\u{48f}izmv\"].e\u{48f}izmv\"].v").is_err());
    }

    /// fuzz/regressions/scim_path/crash-a5727fc0…: roster maps `emails[type eq "w"].x-y` and
    /// writes that PATCH path, which the emulator refused for the `-` after the filter.
    #[test]
    fn a_sub_attribute_after_a_filter_may_hold_a_hyphen() {
        let p = parse_patch_path("emails[type eq \"w\"].x-y").expect("parses");
        assert_eq!(p.attr.sub.as_deref(), Some("x-y"));
    }

    /// Found by fuzzing `scim_filter`: thousands of nested parentheses (or `not (`, or value
    /// paths) overflowed the stack and aborted the emulator; a filter is now bounded in depth
    /// and terms, and answered 400 beyond them. Run on a 2 MiB stack, a tokio worker's.
    #[test]
    fn deep_or_long_filters_are_refused_not_a_stack_overflow() {
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let n = 50_000;
                let parens = format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
                let nots = format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
                let paths = format!("{}a pr{}", "e[".repeat(n), "]".repeat(n));
                let long = vec!["a pr"; n].join(" and ");
                [parens, nots, paths, long]
                    .iter()
                    .map(|f| parse_filter(f).is_err())
                    .collect::<Vec<_>>()
            })
            .expect("thread")
            .join()
            .expect("no overflow");
        assert_eq!(r, vec![true; 4]);
        let ok = format!("{}a pr{}", "(".repeat(20), ")".repeat(20));
        assert!(parse_filter(&ok).is_ok());
        assert!(parse_filter(&vec!["id eq \"1\""; 500].join(" or ")).is_ok());
    }
}
