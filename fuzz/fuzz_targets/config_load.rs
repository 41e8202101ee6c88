//! The configuration loader on hostile text: the configuration comes from whoever opened the
//! pull request CI plans. The input is split at `\n#---\n` into the entry file and up to three
//! included files (`people/N.yaml`), served from memory through the loader's own `Source`, then
//! resolved, checked and rendered as `roster validate` would. Nothing may panic, and no
//! diagnostic may point outside the files it names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::config::check::CheckOptions;
use roster::config::load::files::{Matches, ReadError};
use roster::config::load::Source;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Memory(BTreeMap<PathBuf, String>);

impl Source for Memory {
    fn read(&self, path: &Path) -> Result<String, ReadError> {
        self.0.get(path).cloned().ok_or(ReadError::NotFound)
    }
    fn absolute(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            Path::new("/cfg").join(path)
        }
    }
    fn glob(&self, dir: &Path, pattern: &str) -> Result<Matches, String> {
        let full = dir.join(pattern);
        let pat = glob::Pattern::new(&full.to_string_lossy()).map_err(|e| e.to_string())?;
        Ok(Matches {
            files: self
                .0
                .keys()
                .filter(|p| pat.matches_path(p))
                .cloned()
                .collect(),
            irregular: Vec::new(),
            skipped_dirs: Vec::new(),
        })
    }
    fn display(&self, path: &Path) -> String {
        path.display().to_string()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split("\n#---\n");
    let mut files = BTreeMap::new();
    files.insert(
        PathBuf::from("/cfg/roster.yaml"),
        parts.next().unwrap_or_default().to_string(),
    );
    for (i, p) in parts.take(3).enumerate() {
        files.insert(
            PathBuf::from(format!("/cfg/people/{i}.yaml")),
            p.to_string(),
        );
    }
    let source = Memory(files);
    let resolved = roster::validate::read_from(
        Path::new("/cfg/roster.yaml"),
        CheckOptions::default(),
        &source,
    );
    let sources = &resolved.desired.sources;
    for d in &resolved.diagnostics {
        if let Some(loc) = d.loc {
            assert!(
                (loc.file as usize) < sources.files.len(),
                "diagnostic {:?} points at file {} of {}",
                d.message,
                loc.file,
                sources.files.len()
            );
        }
    }
    let _ = roster::diag::render_all(&resolved.diagnostics, sources, false);
});
