//! How a stored resource is shown: the dialect's shape (AWS's whole-second timestamps and
//! memberless groups, generic `meta.location` and `$ref`s) and the `attributes` /
//! `excludedAttributes` projection of the generic dialect.

use super::{error, App, Reply};
use crate::emulator::filter::{self, AttrPath};
use crate::emulator::schema::{self, Kind};
use crate::emulator::store::Store;
use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// `attributes` / `excludedAttributes` of a request (generic dialect only; AWS ignores them).
pub(super) struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

pub(super) fn projection(
    aws: bool,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<Projection, Reply> {
    let parse = |s: Option<&str>| -> Result<Vec<AttrPath>, Reply> {
        if aws {
            return Ok(Vec::new());
        }
        s.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                filter::parse_attr_path(s)
                    .map_err(|e| error(aws, StatusCode::BAD_REQUEST, Some("invalidValue"), &e.0))
            })
            .collect()
    };
    Ok(Projection {
        attributes: parse(attributes)?,
        excluded: parse(excluded)?,
    })
}

/// Which object of a resource an attribute path lives in: the top level for core attributes,
/// the extension object for extension ones.
pub(super) fn ext_key(kind: Kind, p: &AttrPath) -> Option<&'static str> {
    p.urn
        .as_deref()
        .and_then(schema::known_schema)
        .filter(|u| *u != kind.core_schema())
}

pub(super) fn apply_projection(
    kind: Kind,
    mut res: Map<String, Value>,
    proj: &Projection,
) -> Map<String, Value> {
    if !proj.attributes.is_empty() {
        let mut out = Map::new();
        for key in ["schemas", "id"] {
            if let Some(v) = res.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        for p in &proj.attributes {
            // An extension URN alone names the whole extension.
            if p.sub.is_none() {
                if let Some(u) = schema::known_schema(&p.to_string()) {
                    if let Some(v) = res.get(u) {
                        out.insert(u.into(), v.clone());
                    }
                    continue;
                }
            }
            let ext = ext_key(kind, p);
            let src = match ext {
                Some(u) => match res.get(u) {
                    Some(Value::Object(src)) => src,
                    _ => continue,
                },
                None => &res,
            };
            let Some((k, v)) = src.iter().find(|(k, _)| k.eq_ignore_ascii_case(&p.attr)) else {
                continue;
            };
            let picked = match &p.sub {
                None => v.clone(),
                Some(sub) => pick_sub(v, sub, out_existing(ext, &out, k)),
            };
            match ext {
                Some(u) => {
                    if let Value::Object(o) = out
                        .entry(u.to_string())
                        .or_insert_with(|| Value::Object(Map::new()))
                    {
                        o.insert(k.clone(), picked);
                    }
                }
                None => {
                    out.insert(k.clone(), picked);
                }
            }
        }
        res = out;
    }
    for p in &proj.excluded {
        if matches!(p.attr.to_ascii_lowercase().as_str(), "id" | "schemas") && p.urn.is_none() {
            continue;
        }
        if p.sub.is_none() {
            if let Some(u) = schema::known_schema(&p.to_string()) {
                res.remove(u);
                continue;
            }
        }
        let target = match ext_key(kind, p) {
            Some(u) => match res.get_mut(u) {
                Some(Value::Object(o)) => o,
                _ => continue,
            },
            None => &mut res,
        };
        let Some(k) = target
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&p.attr))
            .cloned()
        else {
            continue;
        };
        match &p.sub {
            None => {
                target.remove(&k);
            }
            Some(sub) => match target.get_mut(&k) {
                Some(Value::Object(o)) => {
                    o.retain(|sk, _| !sk.eq_ignore_ascii_case(sub));
                }
                Some(Value::Array(items)) => {
                    for i in items {
                        if let Some(o) = i.as_object_mut() {
                            o.retain(|sk, _| !sk.eq_ignore_ascii_case(sub));
                        }
                    }
                }
                _ => {}
            },
        }
    }
    res
}

pub(super) fn out_existing(ext: Option<&str>, out: &Map<String, Value>, k: &str) -> Option<Value> {
    match ext {
        Some(u) => out.get(u).and_then(|o| o.get(k)).cloned(),
        None => out.get(k).cloned(),
    }
}

/// Keep only `sub` of a complex (or each value of a multi-valued complex) attribute, merged with
/// what an earlier `attributes` entry already picked.
pub(super) fn pick_sub(v: &Value, sub: &str, existing: Option<Value>) -> Value {
    let pick = |o: &Map<String, Value>, prev: Option<&Value>| -> Value {
        let mut m = prev.and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some((k, x)) = o.iter().find(|(k, _)| k.eq_ignore_ascii_case(sub)) {
            m.insert(k.clone(), x.clone());
        }
        Value::Object(m)
    };
    match v {
        Value::Object(o) => pick(o, existing.as_ref()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(o) => pick(o, existing.as_ref().and_then(|e| e.get(i))),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A stored resource as the dialect shows it.
pub(super) fn render(
    app: &App,
    store: &Store,
    kind: Kind,
    res: &Map<String, Value>,
    base: &str,
) -> Map<String, Value> {
    let mut out = res.clone();
    let id = res
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if app.aws {
        if let Some(Value::Object(m)) = out.get_mut("meta") {
            m.remove("version");
            m.remove("location");
            for k in ["created", "lastModified"] {
                if let Some(Value::String(t)) = m.get_mut(k) {
                    // AWS answers whole seconds.
                    if let Some(dot) = t.find('.') {
                        *t = format!("{}Z", &t[..dot]);
                    }
                }
            }
        }
        if kind == Kind::Group {
            out.insert("members".into(), Value::Array(Vec::new()));
        }
        return out;
    }
    if let Some(Value::Object(m)) = out.get_mut("meta") {
        m.insert(
            "location".into(),
            Value::String(format!("{base}/{}/{id}", kind.endpoint())),
        );
    }
    match kind {
        Kind::User => {
            let groups: Vec<Value> = store
                .groups_of(&id)
                .into_iter()
                .map(|(gid, g)| {
                    json!({
                        "value": gid,
                        "$ref": format!("{base}/Groups/{gid}"),
                        "display": g.get("displayName").cloned().unwrap_or(Value::Null),
                        "type": "direct",
                    })
                })
                .collect();
            if !groups.is_empty() {
                out.insert("groups".into(), Value::Array(groups));
            }
        }
        Kind::Group => {
            if let Some(Value::Array(items)) = out.get_mut("members") {
                for m in items {
                    let Some(o) = m.as_object_mut() else { continue };
                    let v = o
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let (endpoint, display) = match store.get(Kind::User, &v) {
                        Some(u) => ("Users", u.get("userName").cloned()),
                        None => (
                            "Groups",
                            store
                                .get(Kind::Group, &v)
                                .and_then(|g| g.get("displayName").cloned()),
                        ),
                    };
                    o.insert(
                        "$ref".into(),
                        Value::String(format!("{base}/{endpoint}/{v}")),
                    );
                    if let (Some(d), false) = (display, o.contains_key("display")) {
                        o.insert("display".into(), d);
                    }
                }
            }
        }
    }
    out
}
