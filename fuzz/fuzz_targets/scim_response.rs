//! Decoding what a SCIM server answers: list pages, users, groups and error bodies, as the
//! client reads them, and the pager that decides from each page whether a read is complete.
//! A server may answer anything; none of it may panic roster.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::scim::paging::Pager;
use roster::scim::resource::{Group, ListResponse, ScimError, User};
use roster::scim::PagingKind;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = serde_json::from_slice::<ListResponse<User>>(data) {
        for kind in [PagingKind::Index, PagingKind::Cursor] {
            let mut pager = Pager::new(kind, 100, "Users");
            for _ in 0..3 {
                if pager.is_done() {
                    break;
                }
                let _ = pager.query();
                if pager.accept(&page).is_err() {
                    break;
                }
            }
            let _ = pager.pages();
        }
    }
    if let Ok(page) = serde_json::from_slice::<ListResponse<Group>>(data) {
        let mut pager = Pager::new(PagingKind::Index, 100, "Groups");
        let _ = pager.accept(&page);
        let _ = pager.query();
    }
    if let Ok(page) = serde_json::from_slice::<ListResponse<Value>>(data) {
        let mut pager = Pager::new(PagingKind::Cursor, 100, "Users");
        let _ = pager.accept(&page);
    }
    if let Ok(u) = serde_json::from_slice::<User>(data) {
        let _ = serde_json::to_value(&u);
    }
    if let Ok(g) = serde_json::from_slice::<Group>(data) {
        let _ = serde_json::to_value(&g);
    }
    let _ = serde_json::from_slice::<ScimError>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = roster::scim::client::parse_retry_after(text);
    }
});
