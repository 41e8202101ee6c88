//! One function per SCIM endpoint (list, search, get, create, replace, patch, delete), each
//! turning a parsed request into a `Reply` under the dialect's rules.

use super::faults::{self, EndlessCursor, Framing};
use super::projection::{apply_projection, projection, render};
use super::{error, lock, store_error, App, Inner, Reply};
use crate::emulator::aws;
use crate::emulator::filter::{self, Filter};
use crate::emulator::schema::Kind;
use crate::emulator::store::{Mutation, Store, StoreError};
use crate::scim::resource::{PatchRequest, LIST_RESPONSE_SCHEMA};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use serde_json::{json, Map, Value};

/// Parsed query parameters of a request.
#[derive(Default)]
pub(super) struct Query {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    cursor: Option<String>,
    attributes: Option<String>,
    excluded: Option<String>,
}

pub(super) fn parse_query(uri: &Uri) -> Query {
    let mut q = Query::default();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        let v = v.into_owned();
        match k.to_ascii_lowercase().as_str() {
            "filter" => q.filter = Some(v),
            "startindex" => q.start_index = Some(v),
            "count" => q.count = Some(v),
            "cursor" => q.cursor = Some(v),
            "attributes" => q.attributes = Some(v),
            "excludedattributes" => q.excluded = Some(v),
            _ => {}
        }
    }
    q
}

pub(super) fn list_static(items: Vec<Value>) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": items.len(),
            "itemsPerPage": items.len(),
            "startIndex": 1,
            "Resources": items,
        }),
    )
}

pub(super) fn find_static(aws: bool, items: Vec<Value>, id: &str) -> Reply {
    match items
        .into_iter()
        .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
    {
        Some(i) => Reply::json(StatusCode::OK, i),
        None => error(aws, StatusCode::NOT_FOUND, None, "Not found."),
    }
}

pub(super) fn parse_body(aws: bool, body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(error(
            aws,
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            if aws {
                aws::UNPARSABLE
            } else {
                "The request body is not a JSON object."
            },
        )),
    }
}

pub(super) fn etag_of(app: &App, res: &Map<String, Value>) -> Option<String> {
    if app.aws {
        None
    } else {
        res.get("meta")
            .and_then(|m| m.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

pub(super) fn if_match(app: &App, headers: &HeaderMap) -> Option<String> {
    if app.aws {
        return None;
    }
    headers
        .get(header::IF_MATCH)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
}

pub(super) fn one(
    app: &App,
    store: &Store,
    kind: Kind,
    res: &Map<String, Value>,
    uri: &Uri,
    base: &str,
    status: StatusCode,
) -> Reply {
    let q = parse_query(uri);
    let proj = match projection(app.aws, q.attributes.as_deref(), q.excluded.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let shown = apply_projection(kind, render(app, store, kind, res, base), &proj);
    let mut r = Reply::json(status, Value::Object(shown));
    r.etag = etag_of(app, res);
    if status == StatusCode::CREATED && !app.aws {
        r.location = res
            .get("id")
            .and_then(Value::as_str)
            .map(|id| format!("{base}/{}/{id}", kind.endpoint()));
    }
    r
}

pub(super) fn parse_filter_for(
    app: &App,
    kind: Kind,
    f: Option<&str>,
) -> Result<Option<Filter>, Reply> {
    let Some(f) = f.filter(|f| !f.trim().is_empty()) else {
        return Ok(None);
    };
    let parsed = filter::parse_filter(f).map_err(|e| {
        let detail = if app.aws {
            aws::UNPARSABLE.to_string()
        } else {
            e.0
        };
        error(
            app.aws,
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
            &detail,
        )
    })?;
    if app.aws {
        return aws::check_filter(kind, &parsed)
            .map(Some)
            .map_err(|d| error(true, StatusCode::BAD_REQUEST, Some("invalidFilter"), &d));
    }
    Ok(Some(parsed))
}

pub(super) fn parse_num(app: &App, v: Option<&str>, name: &str) -> Result<Option<i64>, Reply> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            error(
                app.aws,
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                &format!("{name} must be an integer"),
            )
        }),
    }
}

/// A list answer, framed as the size faults say (the giant page pads the first page only).
pub(super) fn list(app: &App, kind: Kind, q: &Query, base: &str) -> Reply {
    let mut reply = list_page(app, kind, q, base);
    if reply.status.is_success() {
        let first = match &q.cursor {
            Some(c) => c.is_empty(),
            None => q.start_index.as_deref().is_none_or(|s| s.trim() == "1"),
        };
        let mib = |m: u32| u64::from(m) << 20;
        reply.framing = match (app.faults.giant_page_mib, app.faults.claim_length_mib) {
            (Some(m), _) if first => Framing::Padded(mib(m)),
            (_, Some(m)) => Framing::Claimed(mib(m)),
            _ => Framing::Plain,
        };
    }
    reply
}

fn list_page(app: &App, kind: Kind, q: &Query, base: &str) -> Reply {
    if app.quirks.refuses_filter(q.filter.as_deref()) {
        return error(
            app.aws,
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
            "Filtering is not supported (filter.supported is false).",
        );
    }
    let f = match parse_filter_for(app, kind, q.filter.as_deref()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let proj = match projection(app.aws, q.attributes.as_deref(), q.excluded.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let count = match parse_num(app, q.count.as_deref(), "count") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut inner = lock(&app.inner);
    if app.aws {
        let count = count.unwrap_or(100);
        if !(1..=100).contains(&count) && (q.cursor.is_some() || !(0..=100).contains(&count)) {
            return error(
                true,
                StatusCode::BAD_REQUEST,
                None,
                "count must be between 1 and 100.",
            );
        }
        let count = usize::try_from(count).unwrap_or(0);
        if let Some(cursor) = &q.cursor {
            let valid = cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-+=/:_".contains(c));
            if !valid {
                return error(true, StatusCode::BAD_REQUEST, None, aws::UNPARSABLE);
            }
            if let Some(mode) = app
                .faults
                .endless_cursor
                .filter(|m| *m != EndlessCursor::Repeat)
            {
                return endless_cursor_page(mode, kind, cursor, count);
            }
            let (mut items, mut next) =
                match inner.store.cursor_page(kind, f.as_ref(), cursor, count) {
                    Ok(p) => p,
                    Err(e) => return store_error(true, e),
                };
            // The loop fault: every page, the last too, points back at page 2 (the first
            // cursor the chain gave), so the chain never ends.
            if app.faults.endless_cursor == Some(EndlessCursor::Repeat) {
                next = match inner.store.cursor_page(kind, f.as_ref(), "", count) {
                    Ok((_, first_next)) => first_next,
                    Err(e) => return store_error(true, e),
                };
            }
            // The short-chain fault: past its page budget a chain ends, empty, as if complete.
            if let Some(after) = app.faults.short_cursor_after {
                let chain = &app.cursor_pages[usize::from(kind == Kind::Group)];
                if cursor.is_empty() {
                    chain.store(0, std::sync::atomic::Ordering::SeqCst);
                }
                let page = chain.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if page >= u64::from(after) {
                    items.clear();
                    next = None;
                }
            }
            items.retain(|r| {
                !app.quirks
                    .hidden(r.get("id").and_then(Value::as_str).unwrap_or_default())
            });
            let store = &inner.store;
            let shown: Vec<Value> = items
                .iter()
                .map(|r| Value::Object(render(app, store, kind, r, base)))
                .collect();
            let mut body = json!({
                "schemas": [LIST_RESPONSE_SCHEMA],
                "itemsPerPage": shown.len(),
                "Resources": shown,
            });
            if let (Some(n), Some(o)) = (next, body.as_object_mut()) {
                o.insert("nextCursor".into(), Value::String(n));
            }
            return Reply::json(StatusCode::OK, body);
        }
        // Without a cursor AWS answers one index-style page from the start (startIndex is
        // ignored).
        let (mut total, mut items) = inner.store.page(kind, f.as_ref(), 0, count);
        let before = items.len();
        items.retain(|r| {
            !app.quirks
                .hidden(r.get("id").and_then(Value::as_str).unwrap_or_default())
        });
        total -= before - items.len();
        let store = &inner.store;
        let shown: Vec<Value> = items
            .iter()
            .map(|r| Value::Object(render(app, store, kind, r, base)))
            .collect();
        return Reply::json(
            StatusCode::OK,
            json!({
                "totalResults": total,
                "itemsPerPage": shown.len(),
                "startIndex": 1,
                "schemas": [LIST_RESPONSE_SCHEMA],
                "Resources": shown,
            }),
        );
    }
    let start = match parse_num(app, q.start_index.as_deref(), "startIndex") {
        Ok(s) => s.unwrap_or(1).max(1),
        Err(r) => return r,
    };
    let count = count.unwrap_or(100).clamp(0, 1000);
    if app.faults.endless_index {
        let from = u64::try_from(start).unwrap_or(1);
        let shown: Vec<Value> = (from..from + u64::try_from(count).unwrap_or(0))
            .map(|n| faults::endless_object(kind == Kind::Group, n))
            .collect();
        return Reply::json(
            StatusCode::OK,
            json!({
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": faults::ENDLESS_TOTAL,
                "startIndex": start,
                "itemsPerPage": shown.len(),
                "Resources": shown,
            }),
        );
    }
    let (mut total, mut items) = inner.store.page(
        kind,
        f.as_ref(),
        usize::try_from(start - 1).unwrap_or(0),
        usize::try_from(count).unwrap_or(0),
    );
    let before = items.len();
    items.retain(|r| {
        !app.quirks
            .hidden(r.get("id").and_then(Value::as_str).unwrap_or_default())
    });
    total -= before - items.len();
    let store = &inner.store;
    let shown: Vec<Value> = items
        .into_iter()
        .map(|r| {
            Value::Object(apply_projection(
                kind,
                render(app, store, kind, &r, base),
                &proj,
            ))
        })
        .collect();
    // The lying-totals fault: the total claims no more than this page holds.
    let total = if app.faults.lying_totals {
        shown.len()
    } else {
        total
    };
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": shown.len(),
            "Resources": shown,
        }),
    )
}

/// A page of an endless cursor chain: page N (cursor `endless-N`, the first one empty) holds
/// objects N*count.. (or none), and points at page N+1. Stateless, and nothing is stored.
fn endless_cursor_page(mode: EndlessCursor, kind: Kind, cursor: &str, count: usize) -> Reply {
    let n: u64 = cursor
        .strip_prefix("endless-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let items: Vec<Value> = match mode {
        EndlessCursor::Fresh => {
            let per = count as u64;
            (n * per..(n + 1) * per)
                .map(|i| faults::endless_object(kind == Kind::Group, i))
                .collect()
        }
        EndlessCursor::Empty | EndlessCursor::Repeat => Vec::new(),
    };
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "itemsPerPage": items.len(),
            "Resources": items,
            "nextCursor": format!("endless-{}", n + 1),
        }),
    )
}

/// A `/.search` (or `POST /Users/.search`) body as list query parameters.
pub(super) fn search_query(b: &Map<String, Value>) -> Query {
    let s = |k: &str| {
        b.get(k).map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        })
    };
    Query {
        filter: s("filter"),
        start_index: s("startIndex"),
        count: s("count"),
        cursor: None,
        attributes: s("attributes"),
        excluded: s("excludedAttributes"),
    }
}

pub(super) fn search(app: &App, kind: Kind, body: &[u8], base: &str) -> Reply {
    match parse_body(app.aws, body) {
        Ok(b) => list(app, kind, &search_query(&b), base),
        Err(r) => r,
    }
}

/// `POST /.search` at the root: users, then groups, as one list.
pub(super) fn search_all(app: &App, body: &[u8], base: &str) -> Reply {
    let q = match parse_body(app.aws, body) {
        Ok(b) => search_query(&b),
        Err(r) => return r,
    };
    let proj = match projection(app.aws, q.attributes.as_deref(), q.excluded.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (start, count) = match (
        parse_num(app, q.start_index.as_deref(), "startIndex"),
        parse_num(app, q.count.as_deref(), "count"),
    ) {
        (Ok(s), Ok(c)) => (s.unwrap_or(1).max(1), c.unwrap_or(100).clamp(0, 1000)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut filters = Vec::new();
    for kind in [Kind::User, Kind::Group] {
        match parse_filter_for(app, kind, q.filter.as_deref()) {
            Ok(f) => filters.push(f),
            Err(r) => return r,
        }
    }
    let start0 = usize::try_from(start - 1).unwrap_or(0);
    let count = usize::try_from(count).unwrap_or(0);
    let mut inner = lock(&app.inner);
    let (tu, users) = inner
        .store
        .page(Kind::User, filters[0].as_ref(), start0, count);
    let (tg, groups) = inner.store.page(
        Kind::Group,
        filters[1].as_ref(),
        start0.saturating_sub(tu),
        count - users.len(),
    );
    let store = &inner.store;
    let shown: Vec<Value> = users
        .iter()
        .map(|r| (Kind::User, r))
        .chain(groups.iter().map(|r| (Kind::Group, r)))
        .map(|(k, r)| Value::Object(apply_projection(k, render(app, store, k, r, base), &proj)))
        .collect();
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": tu + tg,
            "startIndex": start,
            "itemsPerPage": shown.len(),
            "Resources": shown,
        }),
    )
}

pub(super) fn get_one(
    app: &App,
    kind: Kind,
    id: &str,
    uri: &Uri,
    headers: &HeaderMap,
    base: &str,
) -> Reply {
    let inner = lock(&app.inner);
    let Some(res) = inner.store.get(kind, id).filter(|_| !app.quirks.hidden(id)) else {
        return store_error(app.aws, StoreError::NotFound);
    };
    if !app.aws {
        let inm = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|h| h.to_str().ok());
        if let (Some(inm), Some(tag)) = (inm, etag_of(app, res)) {
            if inm.split(',').any(|t| t.trim() == tag || t.trim() == "*") {
                let mut r = Reply::empty(StatusCode::NOT_MODIFIED);
                r.etag = Some(tag);
                return r;
            }
        }
    }
    one(app, &inner.store, kind, res, uri, base, StatusCode::OK)
}

/// Persist the mutations of a write; an I/O failure answers 500 (the write is not acknowledged).
pub(super) fn persist_or_fail(app: &App, inner: &mut Inner, muts: &[Mutation]) -> Option<Reply> {
    let Inner { store, persist } = inner;
    let p = persist.as_mut()?;
    let result = p.record(muts).and_then(|()| {
        if p.should_compact(store) {
            p.compact(store)
        } else {
            Ok(())
        }
    });
    result.err().map(|e| {
        error(
            app.aws,
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            &format!("could not write the emulator state: {e}"),
        )
    })
}

pub(super) fn create(app: &App, kind: Kind, body: &[u8], uri: &Uri, base: &str) -> Reply {
    let mut b = match parse_body(app.aws, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if app.aws {
        let check = match kind {
            Kind::User => aws::check_user(&b, true),
            Kind::Group => aws::check_group_create(&b),
        };
        if let Err(d) = check {
            return error(true, StatusCode::BAD_REQUEST, None, &d);
        }
    }
    b.remove("meta");
    app.quirks.strip_body(kind, &mut b, true);
    let mut inner = lock(&app.inner);
    let (res, muts) = match inner.store.create(kind, b, false, app.id_style()) {
        Ok(x) => x,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(id) = res.get("id").and_then(Value::as_str) {
        app.quirks.born(id);
    }
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    let mut reply = one(
        app,
        &inner.store,
        kind,
        &res,
        uri,
        base,
        StatusCode::CREATED,
    );
    if app.aws && kind == Kind::Group {
        // CreateGroup answers without a members attribute (aws-scim-samples/CreateGroupResponse.json).
        if let Some(Value::Object(o)) = reply.body.as_mut() {
            o.remove("members");
        }
    }
    reply
}

pub(super) fn put(
    app: &App,
    kind: Kind,
    id: &str,
    body: &[u8],
    uri: &Uri,
    headers: &HeaderMap,
    base: &str,
) -> Reply {
    let mut b = match parse_body(app.aws, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    app.quirks.strip_body(kind, &mut b, false);
    if app.aws && kind == Kind::User {
        if let Err(d) = aws::check_user(&b, false) {
            return error(true, StatusCode::BAD_REQUEST, None, &d);
        }
    }
    let mut inner = lock(&app.inner);
    let im = if_match(app, headers);
    let (res, muts) = match inner.store.replace(kind, id, b, im.as_deref(), &|_| Ok(())) {
        Ok(x) => x,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    one(app, &inner.store, kind, &res, uri, base, StatusCode::OK)
}

pub(super) fn patch(
    app: &App,
    kind: Kind,
    id: &str,
    body: &[u8],
    uri: &Uri,
    headers: &HeaderMap,
    base: &str,
) -> Reply {
    let mut req: PatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            let detail = if app.aws {
                aws::UNPARSABLE.to_string()
            } else {
                format!("not a PatchOp request: {e}")
            };
            return error(
                app.aws,
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                &detail,
            );
        }
    };
    if app.aws {
        let check = match kind {
            Kind::User => aws::check_user_patch(&req.operations),
            Kind::Group => aws::check_group_patch(&req.operations),
        };
        if let Err(d) = check {
            return error(true, StatusCode::BAD_REQUEST, None, &d);
        }
    }
    if let Some(detail) = app.quirks.patch_refused(&req.operations) {
        return error(app.aws, StatusCode::NOT_IMPLEMENTED, None, detail);
    }
    req.operations = app
        .quirks
        .strip_ops(kind, std::mem::take(&mut req.operations));
    let mut inner = lock(&app.inner);
    let im = if_match(app, headers);
    let aws_user = app.aws && kind == Kind::User;
    let check = move |r: &Map<String, Value>| -> Result<(), StoreError> {
        if aws_user {
            aws::check_user(r, false).map_err(|d| StoreError::invalid("invalidValue", d))
        } else {
            Ok(())
        }
    };
    let (res, muts) = match inner
        .store
        .patch(kind, id, &req.operations, im.as_deref(), &check)
    {
        Ok(x) => x,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    if app.aws && kind == Kind::Group {
        // PatchGroup answers 204 with no body (AWS developer guide, PatchGroup example).
        return Reply::empty(StatusCode::NO_CONTENT);
    }
    one(app, &inner.store, kind, &res, uri, base, StatusCode::OK)
}

pub(super) fn delete(app: &App, kind: Kind, id: &str, headers: &HeaderMap) -> Reply {
    let mut inner = lock(&app.inner);
    let im = if_match(app, headers);
    let muts = match inner.store.delete(kind, id, im.as_deref()) {
        Ok(m) => m,
        Err(e) => return store_error(app.aws, e),
    };
    if let Some(fail) = persist_or_fail(app, &mut inner, &muts) {
        return fail;
    }
    Reply::empty(StatusCode::NO_CONTENT)
}
