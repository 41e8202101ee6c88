//! SCIM attribute paths as written on the left of a mapping (`name.givenName`,
//! `emails[type eq "work"].value`, `urn:...:enterprise:2.0:User:manager.value`).
//!
//! One parsed form serves three readers: the renderer writes a value into a resource at the path
//! (`set`), the planner reads the live value back (`get`) and writes a PATCH operation
//! (`patch_path`, RFC 7644 §3.5.2). Attribute names are case-insensitive (RFC 7643 §2.1), so every
//! lookup compares lowercase while the written spelling is kept for output.

use crate::scim::resource::{GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{Map, Value};
use std::fmt;

/// A parsed SCIM attribute path.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The extension schema URN (`None` for the core schema).
    pub schema: Option<String>,
    /// The top-level attribute, as written.
    pub attr: String,
    /// Value filter of a multi-valued attribute: `attr eq literal`, joined by `and`.
    pub filter: Vec<(String, Value)>,
    /// Sub-attribute, as written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parse a path as written in a mapping; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<AttrPath, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the attribute path is empty".into());
        }
        let (schema, rest) = split_schema(text)?;
        let mut p = Parser {
            src: rest,
            pos: 0,
            whole: text,
        };
        let attr = p.name("attribute name")?;
        let mut filter = Vec::new();
        if p.eat('[') {
            loop {
                p.skip_ws();
                let name = p.name("filter attribute")?;
                p.skip_ws();
                let op = p.word();
                if !op.eq_ignore_ascii_case("eq") {
                    return Err(if op.is_empty() {
                        format!("expected `eq` after `{name}` in `{text}`")
                    } else {
                        format!(
                            "unsupported filter operator `{op}` in `{text}`: mappings select \
                             values with `eq` only"
                        )
                    });
                }
                p.skip_ws();
                let v = p.literal()?;
                filter.push((name, v));
                p.skip_ws();
                if p.eat(']') {
                    break;
                }
                let w = p.word();
                if !w.eq_ignore_ascii_case("and") {
                    return Err(format!(
                        "expected `and` or `]` in the filter of `{text}`, found {}",
                        if w.is_empty() {
                            p.rest_desc()
                        } else {
                            format!("`{w}`")
                        }
                    ));
                }
            }
        }
        let sub = if p.eat('.') {
            Some(p.name("sub-attribute name")?)
        } else {
            None
        };
        if !p.at_end() {
            return Err(format!(
                "unexpected {} in attribute path `{text}`",
                p.rest_desc()
            ));
        }
        Ok(AttrPath {
            schema,
            attr,
            filter,
            sub,
        })
    }

    /// The lowercase form of the path: two paths with the same key name the same attribute.
    pub fn key(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }

    /// Whether this is the core (or given extension) attribute `attr` with no filter and no
    /// sub-attribute, e.g. `is_simple("userName")`.
    pub fn is_simple(&self, attr: &str) -> bool {
        self.schema.is_none()
            && self.filter.is_empty()
            && self.sub.is_none()
            && self.attr.eq_ignore_ascii_case(attr)
    }

    /// Whether the path is written in the extension `schema` (compared ignoring case).
    pub fn in_schema(&self, schema: &str) -> bool {
        self.schema
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(schema))
    }

    /// The value at this path in a resource (a JSON object). For a multi-valued attribute with a
    /// filter: the first element matching it; without one: the first element.
    pub fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let container = match &self.schema {
            Some(s) => get_ci(resource.as_object()?, s)?,
            None => resource,
        };
        let v = get_ci(container.as_object()?, &self.attr)?;
        let v = match v {
            Value::Array(items) => {
                if self.filter.is_empty() && self.sub.is_none() {
                    return Some(v);
                }
                items.iter().find(|e| self.matches(e))?
            }
            _ if !self.filter.is_empty() => return None,
            _ => v,
        };
        match &self.sub {
            Some(sub) => get_ci(v.as_object()?, sub),
            None => Some(v),
        }
    }

    /// Write `v` at this path, creating the extension object, the parent complex attribute, or
    /// the multi-valued element carrying the filter's attributes (`{"value": v, "primary": true}`).
    pub fn set(&self, resource: &mut Map<String, Value>, v: Value) {
        // `None` only where an object was just created, i.e. never; nothing is written then.
        let _ = self.set_inner(resource, v);
    }

    fn set_inner(&self, resource: &mut Map<String, Value>, v: Value) -> Option<()> {
        let container = match &self.schema {
            Some(s) => object_at(resource, s)?,
            None => resource,
        };
        if self.filter.is_empty() {
            match &self.sub {
                None => insert_ci(container, &self.attr, v),
                Some(sub) => insert_ci(object_at(container, &self.attr)?, sub, v),
            }
            return Some(());
        }
        let slot = entry_ci(container, &self.attr);
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        let items = slot.as_array_mut()?;
        let idx = match items.iter().position(|e| self.matches(e)) {
            Some(i) => i,
            None => {
                let mut elem = Map::new();
                if let Some(sub) = &self.sub {
                    elem.insert(sub.clone(), Value::Null);
                }
                for (k, fv) in &self.filter {
                    elem.insert(k.clone(), fv.clone());
                }
                items.push(Value::Object(elem));
                items.len() - 1
            }
        };
        let elem = items.get_mut(idx)?.as_object_mut()?;
        match (&self.sub, v) {
            (Some(sub), v) => insert_ci(elem, sub, v),
            // `emails[type eq "work"]` set to a whole object: merge it into the element.
            (None, Value::Object(o)) => {
                for (k, fv) in o {
                    insert_ci(elem, &k, fv);
                }
            }
            (None, v) => insert_ci(elem, "value", v),
        }
        Some(())
    }

    /// The path as a PATCH operation's `path` (RFC 7644 §3.5.2): `emails[type eq "work"].value`,
    /// `urn:...:User:department`.
    pub fn patch_path(&self) -> String {
        self.to_string()
    }

    /// Whether a multi-valued element satisfies the filter (strings compare ignoring case, as
    /// `eq` does on the caseExact=false sub-attributes `type`, `value` of emails and the like).
    fn matches(&self, elem: &Value) -> bool {
        let Some(o) = elem.as_object() else {
            return false;
        };
        self.filter.iter().all(|(k, want)| match get_ci(o, k) {
            Some(have) => literal_eq(have, want),
            None => false,
        })
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.attr)?;
        if !self.filter.is_empty() {
            f.write_str("[")?;
            for (i, (k, v)) in self.filter.iter().enumerate() {
                if i > 0 {
                    f.write_str(" and ")?;
                }
                write!(f, "{k} eq {v}")?;
            }
            f.write_str("]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

fn literal_eq(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => have == want,
    }
}

/// Split a URN-qualified path into its schema and the attribute part. The schema ends at the
/// last `:` before any filter (filter literals may contain colons).
fn split_schema(text: &str) -> Result<(Option<String>, &str), String> {
    if !text
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        return Ok((None, text));
    }
    let head_end = text.find('[').unwrap_or(text.len());
    let head = &text[..head_end];
    let colon = head.rfind(':').unwrap_or(0);
    let schema = &text[..colon];
    let rest = &text[colon + 1..];
    if rest.is_empty() || schema.len() <= 4 {
        return Err(format!(
            "`{text}` names a schema but no attribute: write `{text}:attributeName`"
        ));
    }
    if schema.eq_ignore_ascii_case(USER_SCHEMA) || schema.eq_ignore_ascii_case(GROUP_SCHEMA) {
        // The core schema written out in full is the same as no schema.
        return Ok((None, rest));
    }
    Ok((Some(schema.to_string()), rest))
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    whole: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == ' ') {
            self.pos += 1;
        }
    }

    fn rest_desc(&self) -> String {
        match self.peek() {
            Some(c) => format!("`{c}`"),
            None => "the end of the path".to_string(),
        }
    }

    /// ATTRNAME = ALPHA *(nameChar) (RFC 7643 §2.1); `$ref` is allowed as a sub-attribute.
    fn name(&mut self, what: &str) -> Result<String, String> {
        let start = self.pos;
        if self.src[self.pos..].starts_with("$ref") {
            self.pos += 4;
            return Ok("$ref".into());
        }
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => self.pos += 1,
            _ => {
                return Err(format!(
                    "expected {what} at {} in `{}`: names start with a letter",
                    self.rest_desc(),
                    self.whole
                ))
            }
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.pos += 1;
        }
        Ok(self.src[start..self.pos].to_string())
    }

    fn word(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// A JSON literal: string, true, false, null or number.
    fn literal(&mut self) -> Result<Value, String> {
        let rest = &self.src[self.pos..];
        let len = if rest.starts_with('"') {
            let mut escaped = false;
            let mut end = None;
            for (i, c) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(i + 1);
                    break;
                }
            }
            end.ok_or_else(|| format!("unterminated string in the filter of `{}`", self.whole))?
        } else {
            rest.find([' ', ']']).unwrap_or(rest.len())
        };
        let token = &rest[..len];
        let v: Value = serde_json::from_str(token).map_err(|_| {
            format!(
                "invalid value `{token}` in the filter of `{}`: write a JSON literal such as \
                 \"work\", true or 1",
                self.whole
            )
        })?;
        if v.is_array() || v.is_object() {
            return Err(format!(
                "invalid value `{token}` in the filter of `{}`: only strings, numbers, true, \
                 false and null compare with `eq`",
                self.whole
            ));
        }
        self.pos += len;
        Ok(v)
    }
}

fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The slot for `key`, found ignoring case or inserted (as null) with the given spelling.
fn entry_ci<'a>(o: &'a mut Map<String, Value>, key: &str) -> &'a mut Value {
    let existing = if o.contains_key(key) {
        Some(key.to_string())
    } else {
        o.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
    };
    let k = existing.unwrap_or_else(|| key.to_string());
    o.entry(k).or_insert(Value::Null)
}

fn insert_ci(o: &mut Map<String, Value>, key: &str, v: Value) {
    *entry_ci(o, key) = v;
}

/// The object at `key`, created (or replacing a non-object) when needed.
fn object_at<'a>(o: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = entry_ci(o, key);
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn parses_simple_and_nested() {
        let p = AttrPath::parse("userName").unwrap();
        assert_eq!(p.attr, "userName");
        assert!(p.schema.is_none() && p.filter.is_empty() && p.sub.is_none());
        let p = AttrPath::parse("name.givenName").unwrap();
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("name", Some("givenName"))
        );
        assert_eq!(p.to_string(), "name.givenName");
    }

    #[test]
    fn parses_filters() {
        let p = AttrPath::parse(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.filter, vec![("type".to_string(), json!("work"))]);
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(p.patch_path(), r#"emails[type eq "work"].value"#);
        let p = AttrPath::parse("emails[primary eq true].value").unwrap();
        assert_eq!(p.filter, vec![("primary".to_string(), json!(true))]);
        let p =
            AttrPath::parse(r#"phoneNumbers[type eq "work" and primary eq true].value"#).unwrap();
        assert_eq!(p.filter.len(), 2);
        assert_eq!(
            p.to_string(),
            r#"phoneNumbers[type eq "work" and primary eq true].value"#
        );
        let p = AttrPath::parse(r#"x[n eq 3]"#).unwrap();
        assert_eq!(p.filter[0].1, json!(3));
    }

    #[test]
    fn parses_urns() {
        let p = AttrPath::parse(&format!("{ENT}:department")).unwrap();
        assert_eq!(p.schema.as_deref(), Some(ENT));
        assert_eq!(p.attr, "department");
        assert_eq!(p.patch_path(), format!("{ENT}:department"));
        let p = AttrPath::parse(&format!("{ENT}:manager.value")).unwrap();
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("manager", Some("value"))
        );
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
        assert!(p.schema.is_none());
        assert_eq!(p.attr, "userName");
        let p = AttrPath::parse(r#"urn:x:y:tags[k eq "a:b"].value"#).unwrap();
        assert_eq!(p.schema.as_deref(), Some("urn:x:y"));
        assert_eq!(p.filter[0].1, json!("a:b"));
    }

    #[test]
    fn rejects_bad_paths_with_a_reason() {
        for (bad, want) in [
            ("", "empty"),
            ("1abc", "start with a letter"),
            ("emails[type co \"w\"].value", "`eq` only"),
            ("emails[type eq work].value", "JSON literal"),
            ("emails[type eq \"work\"", "expected `and` or `]`"),
            ("emails[type eq \"work].value", "unterminated"),
            ("name.", "sub-attribute"),
            ("name.a.b", "unexpected `.`"),
            ("user name", "unexpected ` `"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
                "no attribute",
            ),
        ] {
            let e = AttrPath::parse(bad).expect_err(bad);
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn get_is_case_insensitive_and_follows_filters() {
        let r = json!({
            "UserName": "alice",
            "name": {"givenName": "Alice"},
            "emails": [
                {"value": "home@x", "type": "home"},
                {"value": "work@x", "type": "Work", "primary": true}
            ],
            ENT: {"department": "Eng", "manager": {"value": "m1"}}
        });
        let g = |p: &str| AttrPath::parse(p).unwrap().get(&r).cloned();
        assert_eq!(g("userName"), Some(json!("alice")));
        assert_eq!(g("name.givenname"), Some(json!("Alice")));
        assert_eq!(g(r#"emails[type eq "work"].value"#), Some(json!("work@x")));
        assert_eq!(g("emails[primary eq true].value"), Some(json!("work@x")));
        assert_eq!(g("emails.value"), Some(json!("home@x")));
        assert_eq!(g(r#"emails[type eq "other"].value"#), None);
        assert_eq!(g(&format!("{ENT}:department")), Some(json!("Eng")));
        assert_eq!(g(&format!("{ENT}:manager.value")), Some(json!("m1")));
        assert_eq!(g("title"), None);
    }

    #[test]
    fn set_creates_what_is_missing() {
        let mut m = Map::new();
        AttrPath::parse("userName").unwrap().set(&mut m, json!("a"));
        AttrPath::parse("name.givenName")
            .unwrap()
            .set(&mut m, json!("A"));
        AttrPath::parse("name.familyName")
            .unwrap()
            .set(&mut m, json!("L"));
        AttrPath::parse("emails[primary eq true].value")
            .unwrap()
            .set(&mut m, json!("a@x"));
        AttrPath::parse(&format!("{ENT}:manager.value"))
            .unwrap()
            .set(&mut m, json!("m1"));
        // a second write to the same element updates it
        AttrPath::parse("emails[primary eq true].value")
            .unwrap()
            .set(&mut m, json!("b@x"));
        assert_eq!(
            Value::Object(m),
            json!({
                "userName": "a",
                "name": {"givenName": "A", "familyName": "L"},
                "emails": [{"value": "b@x", "primary": true}],
                ENT: {"manager": {"value": "m1"}}
            })
        );
    }

    #[test]
    fn set_then_get_round_trips() {
        for p in [
            "userName",
            "name.givenName",
            r#"emails[type eq "work"].value"#,
            r#"phoneNumbers[type eq "work" and primary eq true].value"#,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            "urn:example:ext:1.0:User:badge.number",
        ] {
            let path = AttrPath::parse(p).unwrap();
            let mut m = Map::new();
            path.set(&mut m, json!("v"));
            assert_eq!(path.get(&Value::Object(m)), Some(&json!("v")), "{p}");
        }
    }
}
