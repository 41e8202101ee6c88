//! Loading a seed file (`--seed`): a fixed starting directory for demos, tests and benchmarks,
//! loaded once when the state is empty and snapshotted in one write.

use super::Inner;
use crate::emulator::persist;
use crate::emulator::schema::Kind;
use crate::emulator::store::{IdStyle, StoreError};
use crate::emulator::EmulatorError;
use serde_json::Value;

pub(super) fn load_seed(
    inner: &mut Inner,
    path: &std::path::Path,
    aws: bool,
) -> Result<(), EmulatorError> {
    let err = |message: String| EmulatorError::Seed {
        path: path.to_path_buf(),
        message,
    };
    let text = fs_err::read(path).map_err(|e| err(e.to_string()))?;
    let mut doc: Value = serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
    drop(text);
    let style = if aws { IdStyle::Aws } else { IdStyle::Uuid };
    // Users first: groups refer to them. Members are added after all groups exist so that
    // groups may contain groups listed later.
    for u in persist::take_items(&mut doc, "users") {
        let id = u.get("id").and_then(Value::as_str).map(str::to_string);
        if id
            .as_deref()
            .is_some_and(|i| inner.store.get(Kind::User, i).is_some())
        {
            continue;
        }
        match inner.store.insert_new(Kind::User, u, true, style) {
            // Already there (a restart with the same --seed and --state): keep the stored one.
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(err(format!("user: {e:?}"))),
        }
    }
    let mut with_members = Vec::new();
    for mut g in persist::take_items(&mut doc, "groups") {
        let id = g.get("id").and_then(Value::as_str).map(str::to_string);
        if id
            .as_deref()
            .is_some_and(|i| inner.store.get(Kind::Group, i).is_some())
        {
            continue;
        }
        let members = g.remove("members");
        let created = match inner.store.create(Kind::Group, g, true, style) {
            Ok((created, _)) => created,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(err(format!("group: {e:?}"))),
        };
        if let Some(members) = members {
            with_members.push((created, members));
        }
    }
    for (g, members) in with_members {
        let id = g
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut body = g.clone();
        body.insert("members".into(), members);
        inner
            .store
            .replace(Kind::Group, &id, body, None, &|_| Ok(()))
            .map_err(|e| err(format!("group members: {e:?}")))?;
    }
    // One snapshot holds the whole seed; journaling each resource would only double the I/O.
    let Inner { store, persist } = inner;
    if let Some(p) = persist {
        p.compact(store).map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}
