//! State that survives a restart, and a `kill -9`: a snapshot file (written to a temporary file
//! and renamed, so it is never half-written) plus an append-only journal `<state>.journal` of
//! every acknowledged write, one JSON line per mutation, appended before the response is sent.
//! A write costs one short append, not a rewrite of the whole directory; the journal is folded
//! into the snapshot when it grows past the size of the directory, at start and at shutdown. A
//! torn last line (the process died mid-append) is ignored on load: its write was never
//! acknowledged.

use super::schema::Kind;
use super::store::{Mutation, Store};
use fs_err::{File, OpenOptions};
use serde_json::{json, Map, Value};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub struct Persist {
    snapshot: PathBuf,
    journal_path: PathBuf,
    journal: File,
    entries: usize,
}

fn journal_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".journal");
    PathBuf::from(p)
}

fn kind_name(k: Kind) -> &'static str {
    k.name()
}

fn kind_of(s: &str) -> Option<Kind> {
    match s {
        "User" => Some(Kind::User),
        "Group" => Some(Kind::Group),
        _ => None,
    }
}

fn to_line(m: &Mutation) -> Value {
    match m {
        Mutation::Put(k, r) => json!({"op": "put", "kind": kind_name(*k), "res": r}),
        Mutation::Delete(k, id) => json!({"op": "del", "kind": kind_name(*k), "id": id}),
    }
}

fn from_line(v: &Value) -> Option<Mutation> {
    let kind = kind_of(v.get("kind")?.as_str()?)?;
    match v.get("op")?.as_str()? {
        "put" => Some(Mutation::Put(kind, v.get("res")?.as_object()?.clone())),
        "del" => Some(Mutation::Delete(kind, v.get("id")?.as_str()?.to_string())),
        _ => None,
    }
}

/// Load a snapshot document's resources into the store.
pub fn load_document(store: &mut Store, doc: &Value) {
    for (key, kind) in [("users", Kind::User), ("groups", Kind::Group)] {
        if let Some(items) = doc.get(key).and_then(Value::as_array) {
            for r in items {
                if let Some(o) = r.as_object() {
                    store.restore(Mutation::Put(kind, o.clone()));
                }
            }
        }
    }
}

impl Persist {
    /// Load `path` (and its journal) into `store`, then fold the journal into a fresh snapshot.
    pub fn open(path: &Path, store: &mut Store) -> io::Result<Persist> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                fs_err::create_dir_all(parent)?;
            }
        }
        match fs_err::read(path) {
            Ok(bytes) => {
                let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: not an emulator state file: {e}", path.display()),
                    )
                })?;
                load_document(store, &doc);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let jpath = journal_path(path);
        match File::open(&jpath) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line?;
                    // A line that does not parse can only be the torn last one.
                    let Some(m) = serde_json::from_str::<Value>(&line)
                        .ok()
                        .as_ref()
                        .and_then(from_line)
                    else {
                        break;
                    };
                    store.restore(m);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let journal = private(OpenOptions::new().create(true).append(true)).open(&jpath)?;
        restrict(&jpath)?;
        let mut p = Persist {
            snapshot: path.to_path_buf(),
            journal_path: jpath,
            journal,
            entries: 0,
        };
        p.compact(store)?;
        Ok(p)
    }

    /// Append mutations to the journal; returns once the OS has them (no fsync: a killed process
    /// loses nothing the kernel holds).
    pub fn record(&mut self, muts: &[Mutation]) -> io::Result<()> {
        if muts.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for m in muts {
            serde_json::to_writer(&mut buf, &to_line(m))?;
            buf.push(b'\n');
        }
        self.journal.write_all(&buf)?;
        self.entries += muts.len();
        Ok(())
    }

    /// Whether the journal has grown enough to be worth folding in.
    pub fn should_compact(&self, store: &Store) -> bool {
        self.entries > 10_000.max(store.len(Kind::User) + store.len(Kind::Group))
    }

    /// Write the snapshot atomically and empty the journal. If the process dies between the
    /// rename and the truncation, replaying the journal over the new snapshot is harmless:
    /// every line holds a resource's full state, so the last one wins either way.
    pub fn compact(&mut self, store: &Store) -> io::Result<()> {
        let mut tmp = self.snapshot.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let f =
                private(OpenOptions::new().create(true).write(true).truncate(true)).open(&tmp)?;
            // A stale `.tmp` left by a killed run keeps its old mode: narrow it too.
            restrict(&tmp)?;
            let mut w = io::BufWriter::new(f);
            serde_json::to_writer(&mut w, &store.snapshot())?;
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        fs_err::rename(&tmp, &self.snapshot)?;
        self.journal = private(OpenOptions::new().create(true).write(true).truncate(true))
            .open(&self.journal_path)?;
        self.journal = OpenOptions::new().append(true).open(&self.journal_path)?;
        self.entries = 0;
        Ok(())
    }
}

/// Open options that create the file readable by its owner only: the state holds names,
/// emails and phone numbers, which other local users have no business reading.
fn private(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Narrow an existing file (created 0644 by an older roster) to owner-only.
fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Take the resources of a seed file (`{"users": [...], "groups": [...]}`) out of it.
pub fn take_items(doc: &mut Value, key: &str) -> Vec<Map<String, Value>> {
    match doc.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::IdStyle;

    fn user(name: &str) -> Map<String, Value> {
        json!({"userName": name})
            .as_object()
            .cloned()
            .expect("object")
    }

    #[test]
    fn journal_replays_and_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let mut store = Store::new(false);
        let mut p = Persist::open(&path, &mut store).expect("open");
        let (a, m) = store
            .create(Kind::User, user("a"), false, IdStyle::Uuid)
            .expect("create");
        p.record(&m).expect("record");
        let (_, m) = store
            .create(Kind::User, user("b"), false, IdStyle::Uuid)
            .expect("create");
        p.record(&m).expect("record");
        let id_a = a["id"].as_str().expect("id").to_string();
        let m = store.delete(Kind::User, &id_a, None).expect("delete");
        p.record(&m).expect("record");
        // The process dies mid-append: a partial line and no compaction.
        drop(p);
        let mut j = OpenOptions::new()
            .append(true)
            .open(journal_path(&path))
            .expect("journal");
        j.write_all(br#"{"op":"put","kind":"User","res":{"id":"torn","#)
            .expect("write");
        drop(j);

        let mut again = Store::new(false);
        let _p = Persist::open(&path, &mut again).expect("reopen");
        assert_eq!(again.len(Kind::User), 1);
        assert!(again.all(Kind::User).all(|u| u["userName"] == "b"));
        // Reopening folded the journal into the snapshot.
        assert_eq!(
            fs_err::metadata(journal_path(&path)).expect("meta").len(),
            0
        );
        let mut third = Store::new(false);
        let _p = Persist::open(&path, &mut third).expect("third open");
        assert_eq!(third.len(Kind::User), 1);
    }

    #[cfg(unix)]
    #[test]
    fn state_and_journal_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        // An older run left a world-readable state file: opening narrows it.
        fs_err::write(&path, "{}").expect("seed");
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut store = Store::new(false);
        let _p = Persist::open(&path, &mut store).expect("open");
        for f in [path.clone(), journal_path(&path)] {
            let mode = fs_err::metadata(&f).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
}
