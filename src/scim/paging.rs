//! Reading whole collections, page by page, with proof of completeness. A plan diffed against
//! a partial list would delete or deactivate people who merely fell off a truncated page, so
//! every rule here fails closed: a repeated page or cursor, a missing `totalResults` on an
//! index-paged list, or a count that does not add up is an error, never a shorter list.
//!
//! `Pager` is the pure state machine (which query next, is this page consistent); the client
//! drives the HTTP. Index paging is RFC 7644 §3.4.2.4; cursor paging is AWS's: the first request
//! carries a bare `cursor` parameter (`GET /Users?cursor&count=100`: many URL builders drop an
//! empty parameter, which silently switches AWS back to its non-paged 50-item answer), the next
//! ones `cursor=<nextCursor>`, until a page comes without `nextCursor`.
//!
//! A server may also never stop: a fresh cursor on every page, with fresh users or with none.
//! Nothing in such a chain repeats, so the read is bounded instead ([`ListLimits`]): at most
//! `max_pages` pages and `max_objects` objects per list, a claimed `totalResults` above
//! `max_objects` is refused on the first page, and a cursor chain of empty pages ends after
//! [`MAX_EMPTY_PAGES`] of them in a row (docs/contract.md#read-only-planning).

use crate::scim::dialect::PagingKind;
use crate::scim::error::PagingError;
use crate::scim::resource::{Group, ListResponse, User};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::HashSet;

/// Characters kept as they are in a query value (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one query parameter value.
pub fn encode_query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// Largest page AWS accepts.
pub const AWS_MAX_COUNT: u32 = 100;
/// Default of `read.max_pages`: 20,000 pages of 100 are 2,000,000 objects, twice the largest
/// directory roster is measured on.
pub const DEFAULT_MAX_PAGES: u64 = 20_000;
/// Default of `read.max_objects`.
pub const DEFAULT_MAX_OBJECTS: u64 = 2_000_000;
/// Empty cursor pages in a row (each with a fresh `nextCursor`) after which a chain is judged
/// endless. A real chain has no reason to send one empty page before its end.
pub const MAX_EMPTY_PAGES: u64 = 100;

/// How much one list may hold before it is judged a server bug rather than a directory
/// (`read.max_pages`, `read.max_objects` of a target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListLimits {
    pub max_pages: u64,
    pub max_objects: u64,
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits {
            max_pages: DEFAULT_MAX_PAGES,
            max_objects: DEFAULT_MAX_OBJECTS,
        }
    }
}

/// A resource that has a server-assigned id.
pub trait Identified {
    fn scim_id(&self) -> Option<&str>;
}

impl Identified for User {
    fn scim_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Identified for Group {
    fn scim_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Identified for serde_json::Value {
    fn scim_id(&self) -> Option<&str> {
        self.get("id").and_then(serde_json::Value::as_str)
    }
}

/// The state of one listing.
#[derive(Debug)]
pub struct Pager {
    kind: PagingKind,
    count: u32,
    collection: String,
    next_index: u64,
    cursor: Option<String>,
    first: bool,
    seen_ids: HashSet<String>,
    seen_cursors: HashSet<String>,
    total: Option<u64>,
    received: u64,
    pages: u64,
    /// Cursor pages in a row that held nothing.
    empty_streak: u64,
    limits: ListLimits,
    done: bool,
}

impl Pager {
    /// `collection` names what is listed in errors ("users"). Cursor paging clamps `count` to
    /// AWS's maximum of 100. The default [`ListLimits`] apply.
    pub fn new(kind: PagingKind, count: u32, collection: &str) -> Pager {
        Pager::with_limits(kind, count, collection, ListLimits::default())
    }

    /// [`Pager::new`] with a target's own limits.
    pub fn with_limits(
        kind: PagingKind,
        count: u32,
        collection: &str,
        limits: ListLimits,
    ) -> Pager {
        let count = match kind {
            PagingKind::Cursor => count.clamp(1, AWS_MAX_COUNT),
            PagingKind::Index => count.max(1),
        };
        Pager {
            kind,
            count,
            collection: collection.to_string(),
            next_index: 1,
            cursor: None,
            first: true,
            seen_ids: HashSet::new(),
            seen_cursors: HashSet::new(),
            total: None,
            received: 0,
            pages: 0,
            empty_streak: 0,
            limits,
            done: false,
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The paging part of the next request's query string, or `None` when the list is complete.
    pub fn query(&self) -> Option<String> {
        if self.done {
            return None;
        }
        Some(match self.kind {
            PagingKind::Index => format!("startIndex={}&count={}", self.next_index, self.count),
            PagingKind::Cursor => match &self.cursor {
                // Literally `cursor` with no value: the form AWS needs to switch to cursor mode.
                None => format!("cursor&count={}", self.count),
                Some(c) => format!("cursor={}&count={}", encode_query_value(c), self.count),
            },
        })
    }

    /// Checks a page and advances. An `Err` means the list cannot be proven complete.
    pub fn accept<T: Identified>(&mut self, page: &ListResponse<T>) -> Result<(), PagingError> {
        let collection = || self.collection.clone();
        self.pages += 1;
        if self.pages > self.limits.max_pages {
            return Err(PagingError::TooManyPages {
                collection: collection(),
                pages: self.limits.max_pages,
            });
        }
        // `itemsPerPage` is not checked against the page: SCIMMY sends the requested count
        // there, and index paging advances by what arrived, so a short page loses nothing.
        let n = page.resources.len() as u64;
        if self.received.saturating_add(n) > self.limits.max_objects {
            return Err(PagingError::TooManyObjects {
                collection: collection(),
                limit: self.limits.max_objects,
                claimed: None,
            });
        }
        // A claim above the cap would fail at the cap after a long read: fail now.
        if let Some(total) = page.total_results.filter(|t| *t > self.limits.max_objects) {
            if self.kind == PagingKind::Index {
                return Err(PagingError::TooManyObjects {
                    collection: collection(),
                    limit: self.limits.max_objects,
                    claimed: Some(total),
                });
            }
        }
        for r in &page.resources {
            let id = r.scim_id().ok_or_else(|| PagingError::MissingId {
                collection: collection(),
            })?;
            if !self.seen_ids.insert(id.to_string()) {
                return Err(PagingError::RepeatedItem {
                    collection: collection(),
                    id: id.to_string(),
                });
            }
        }
        self.received += n;
        let first = std::mem::replace(&mut self.first, false);
        match self.kind {
            PagingKind::Index => self.accept_index(page.total_results, n),
            PagingKind::Cursor => self.accept_cursor(first, page),
        }
    }

    fn accept_index(&mut self, total: Option<u64>, n: u64) -> Result<(), PagingError> {
        let Some(total) = total else {
            return Err(PagingError::MissingTotal {
                collection: self.collection.clone(),
            });
        };
        if let Some(before) = self.total {
            if before != total {
                return Err(PagingError::TotalChanged {
                    collection: self.collection.clone(),
                    before,
                    after: total,
                });
            }
        }
        self.total = Some(total);
        self.next_index += n;
        if n == 0 || self.received >= total {
            self.done = true;
            if self.received != total {
                return Err(PagingError::CountMismatch {
                    collection: self.collection.clone(),
                    claimed: total,
                    received: self.received,
                });
            }
        }
        Ok(())
    }

    fn accept_cursor<T>(&mut self, first: bool, page: &ListResponse<T>) -> Result<(), PagingError> {
        match page.next_cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => {
                if page.resources.is_empty() {
                    self.empty_streak += 1;
                    if self.empty_streak >= MAX_EMPTY_PAGES {
                        return Err(PagingError::EmptyCursorPages {
                            collection: self.collection.clone(),
                            pages: self.empty_streak,
                        });
                    }
                } else {
                    self.empty_streak = 0;
                }
                if !self.seen_cursors.insert(c.to_string()) {
                    return Err(PagingError::RepeatedCursor {
                        collection: self.collection.clone(),
                        cursor: c.to_string(),
                    });
                }
                self.cursor = Some(c.to_string());
            }
            None => {
                self.done = true;
                if let Some(total) = page.total_results {
                    // An index-paged answer to a cursor request: the server ignored `cursor`.
                    if first && total > self.received {
                        return Err(PagingError::NoCursorSupport {
                            collection: self.collection.clone(),
                            total,
                            received: self.received,
                        });
                    }
                    if total != self.received && first {
                        return Err(PagingError::CountMismatch {
                            collection: self.collection.clone(),
                            claimed: total,
                            received: self.received,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn page(ids: &[&str], total: Option<u64>, cursor: Option<&str>) -> ListResponse<Value> {
        ListResponse {
            schemas: vec![],
            total_results: total,
            start_index: None,
            items_per_page: Some(ids.len() as u64),
            next_cursor: cursor.map(str::to_string),
            resources: ids.iter().map(|i| json!({"id": i})).collect(),
        }
    }

    #[test]
    fn index_paging_stops_at_total() {
        let mut p = Pager::new(PagingKind::Index, 2, "users");
        assert_eq!(p.query().as_deref(), Some("startIndex=1&count=2"));
        p.accept(&page(&["a", "b"], Some(3), None)).expect("ok");
        assert_eq!(p.query().as_deref(), Some("startIndex=3&count=2"));
        p.accept(&page(&["c"], Some(3), None)).expect("ok");
        assert!(p.is_done());
        assert_eq!(p.query(), None);
    }

    #[test]
    fn scimmy_style_items_per_page_is_accepted() {
        // SCIMMY puts the requested count in itemsPerPage, also on a short last page.
        let mut p = Pager::new(PagingKind::Index, 2, "users");
        let mut last = page(&["a"], Some(1), None);
        last.items_per_page = Some(2);
        p.accept(&last).expect("ok");
        assert!(p.is_done());
    }

    #[test]
    fn index_paging_fails_closed() {
        let mut p = Pager::new(PagingKind::Index, 2, "users");
        p.accept(&page(&["a", "b"], Some(5), None)).expect("ok");
        // A server that returns the first page again (SCIMMY past the end).
        let e = p
            .accept(&page(&["a", "b"], Some(5), None))
            .expect_err("repeat");
        assert!(matches!(e, PagingError::RepeatedItem { .. }));

        let mut p = Pager::new(PagingKind::Index, 2, "users");
        p.accept(&page(&["a", "b"], Some(5), None)).expect("ok");
        let e = p.accept(&page(&[], Some(5), None)).expect_err("truncated");
        assert!(matches!(
            e,
            PagingError::CountMismatch {
                claimed: 5,
                received: 2,
                ..
            }
        ));

        let mut p = Pager::new(PagingKind::Index, 2, "users");
        let e = p.accept(&page(&["a"], None, None)).expect_err("no total");
        assert!(matches!(e, PagingError::MissingTotal { .. }));
    }

    #[test]
    fn cursor_paging_uses_bare_cursor_first() {
        let mut p = Pager::new(PagingKind::Cursor, 500, "groups");
        assert_eq!(p.query().as_deref(), Some("cursor&count=100"));
        p.accept(&page(&["a"], None, Some("Q3Vy+c29y/=")))
            .expect("ok");
        assert_eq!(
            p.query().as_deref(),
            Some("cursor=Q3Vy%2Bc29y%2F%3D&count=100")
        );
        p.accept(&page(&["b"], None, None)).expect("ok");
        assert!(p.is_done());
    }

    #[test]
    fn cursor_paging_fails_closed() {
        let mut p = Pager::new(PagingKind::Cursor, 100, "groups");
        p.accept(&page(&["a"], None, Some("c1"))).expect("ok");
        p.accept(&page(&["b"], None, Some("c2"))).expect("ok");
        let e = p.accept(&page(&["c"], None, Some("c1"))).expect_err("loop");
        assert!(matches!(e, PagingError::RepeatedCursor { .. }));
        // A server without cursor support answers with the 50-item legacy list.
        let mut p = Pager::new(PagingKind::Cursor, 100, "users");
        let e = p
            .accept(&page(&["a", "b"], Some(70), None))
            .expect_err("legacy");
        assert!(matches!(e, PagingError::NoCursorSupport { total: 70, .. }));
    }

    #[test]
    fn lists_are_bounded_by_pages_objects_claims_and_empty_streaks() {
        let limits = ListLimits {
            max_pages: 2,
            max_objects: 3,
        };
        let mut p = Pager::with_limits(PagingKind::Cursor, 100, "users", limits);
        p.accept(&page(&["a"], None, Some("c1"))).expect("ok");
        p.accept(&page(&["b"], None, Some("c2"))).expect("ok");
        let e = p
            .accept(&page(&["c"], None, Some("c3")))
            .expect_err("pages");
        assert!(
            matches!(e, PagingError::TooManyPages { pages: 2, .. }),
            "{e}"
        );

        let mut p = Pager::with_limits(PagingKind::Cursor, 100, "users", limits);
        p.accept(&page(&["a", "b"], None, Some("c1"))).expect("ok");
        let e = p
            .accept(&page(&["c", "d"], None, Some("c2")))
            .expect_err("objects");
        assert!(
            matches!(
                e,
                PagingError::TooManyObjects {
                    limit: 3,
                    claimed: None,
                    ..
                }
            ),
            "{e}"
        );

        // A claim over the cap fails on the first page, before anything else is read.
        let mut p = Pager::with_limits(PagingKind::Index, 100, "users", limits);
        let e = p.accept(&page(&["a"], Some(4), None)).expect_err("claim");
        assert!(
            matches!(
                e,
                PagingError::TooManyObjects {
                    claimed: Some(4),
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("`read.max_objects`"), "{e}");

        // Empty cursor pages end the chain after MAX_EMPTY_PAGES in a row; one with items
        // starts the count again.
        let mut p = Pager::new(PagingKind::Cursor, 100, "groups");
        for i in 0..MAX_EMPTY_PAGES - 1 {
            p.accept(&page(&[], None, Some(&format!("e{i}"))))
                .expect("ok");
        }
        p.accept(&page(&["g"], None, Some("x")))
            .expect("items reset the streak");
        for i in 0..MAX_EMPTY_PAGES - 1 {
            p.accept(&page(&[], None, Some(&format!("f{i}"))))
                .expect("ok");
        }
        let e = p
            .accept(&page(&[], None, Some("last")))
            .expect_err("endless");
        assert!(
            matches!(e, PagingError::EmptyCursorPages { pages: 100, .. }),
            "{e}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any split of a list into pages reads back the whole list; repeating any page fails.
        #[test]
        fn index_pages_read_back_or_fail_closed(n in 0usize..300, size in 1u32..120, repeat in proptest::option::of(0usize..5)) {
            let ids: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
            let mut p = Pager::new(PagingKind::Index, size, "users");
            let mut got = Vec::new();
            let mut pages: Vec<Vec<String>> = Vec::new();
            let mut failed = false;
            while let Some(q) = p.query() {
                let start: usize = q.split(['=', '&']).nth(1).expect("start").parse().expect("num");
                let mut page: Vec<String> = ids.iter().skip(start - 1).take(size as usize).cloned().collect();
                if let Some(k) = repeat {
                    if pages.len() == k + 1 && !pages[k].is_empty() {
                        page = pages[k].clone();
                    }
                }
                let refs: Vec<&str> = page.iter().map(String::as_str).collect();
                match p.accept(&super::tests::page(&refs, Some(n as u64), None)) {
                    Ok(()) => got.extend(page.iter().cloned()),
                    Err(_) => { failed = true; break; }
                }
                pages.push(page);
            }
            if failed {
                proptest::prop_assert!(repeat.is_some());
            } else {
                proptest::prop_assert_eq!(got, ids);
            }
        }
    }
}
