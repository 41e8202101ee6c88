//! Configuration files are untrusted input: in CI, `roster plan` runs on a configuration that a
//! pull request wrote. This module holds the rules that keep such a configuration from making
//! roster read what it must not, or hang, or grow without bound:
//!
//! - only regular files are read, at most [`MAX_FILE_BYTES`] each, checked on the metadata before
//!   the file is opened (a device such as `/dev/zero` would be read forever, a FIFO would block
//!   the open), and checked again on the opened handle (the path may have changed in between);
//! - a file holding NUL bytes or invalid UTF-8 is refused unread by the parser: no YAML is like
//!   that, and such files (`/proc/self/environ`) are where secrets live;
//! - include globs are walked here rather than by the `glob` crate, which follows symlinked
//!   directories without end (`x -> .` makes `people/**/*.yaml` recurse until memory runs out):
//!   every directory is entered at most once, by its device and inode.

use fs_err as fs;
use fs_err::os::unix::fs::OpenOptionsExt as _;
use std::collections::HashSet;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Component, Path, PathBuf};

/// The largest configuration file roster reads: far above any real one (100,000 users take
/// about 60 MB spread over many files), far below what exhausts memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// How deep `**` descends: a bound on top of loop detection, against very deep trees.
const MAX_DEPTH: usize = 64;

/// Why a configuration file was not read. The texts never quote the file's content.
#[derive(Debug)]
pub enum ReadError {
    NotFound,
    PermissionDenied,
    /// A directory, device, FIFO or socket; the word names which.
    NotRegular(&'static str),
    TooLarge(u64),
    /// Not text: the reason says how (NUL bytes, invalid UTF-8).
    NotText(&'static str),
    Io(String),
}

impl ReadError {
    /// The reason, completing "cannot read configuration file X: ...".
    pub fn reason(&self) -> String {
        match self {
            ReadError::NotFound => "no such file".into(),
            ReadError::PermissionDenied => "permission denied".into(),
            ReadError::NotRegular(kind) => {
                format!("it is {kind}, not a regular file; roster reads only regular files")
            }
            ReadError::TooLarge(len) => format!(
                "it is {} bytes, larger than the limit of {} MiB per configuration file",
                len,
                MAX_FILE_BYTES >> 20
            ),
            ReadError::NotText(why) => {
                format!("{why}, so it is not a YAML configuration file (its content is not shown)")
            }
            ReadError::Io(reason) => reason.clone(),
        }
    }

    pub fn io(e: &std::io::Error) -> ReadError {
        match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            std::io::ErrorKind::PermissionDenied => ReadError::PermissionDenied,
            _ => {
                // fs-err puts the path in its message; the caller already shows it
                let s = e.to_string();
                ReadError::Io(s.rsplit(": ").next().unwrap_or(&s).to_string())
            }
        }
    }
}

/// What kind of file the metadata describes, in words; `None` for a regular file.
fn irregular_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

fn check_metadata(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    if let Some(kind) = irregular_kind(meta.file_type()) {
        return Err(ReadError::NotRegular(kind));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(meta.len()));
    }
    Ok(())
}

/// Read one configuration file under the rules above.
pub fn read_config_file(path: &Path) -> Result<String, ReadError> {
    check_metadata(&fs::metadata(path).map_err(|e| ReadError::io(&e))?)?;
    // Non-blocking, so that a FIFO put in the file's place since the check cannot block the
    // open; the handle is checked again below, and reads of a regular file never block.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| ReadError::io(&e))?;
    check_metadata(&file.metadata().map_err(|e| ReadError::io(&e))?)?;
    // Files of /proc report a size of 0 and may be of any length: the cap holds on the bytes
    // read, not only on the size reported.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::io(&e))?;
    config_text(bytes)
}

/// The bytes of a configuration file as text, under the same rules wherever they come from (a
/// file, a git object): at most the size cap, no NUL bytes, valid UTF-8.
pub fn config_text(bytes: Vec<u8>) -> Result<String, ReadError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    if bytes.contains(&0) {
        return Err(ReadError::NotText("it contains NUL bytes"));
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText("it is not valid UTF-8 text"))
}

/// Whether a file's lines may be quoted in an error. YAML allows no control characters but tab
/// and line breaks, so a text holding others is not a configuration author's YAML, and its
/// lines may hold anything (terminal escapes, binary data, a secret).
pub fn is_plain_text(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Whether the path names a YAML file by its extension.
pub fn has_yaml_extension(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Why an include pattern of a file in `dir` leaves `root` (the entry file's directory), if it
/// does, judged on the text alone: an absolute path, or a `..` that climbs above `root`. A `..`
/// below a wildcard cannot be judged on the text and is refused too. (Symlinks that lead out
/// are caught on the real path of each match.)
pub fn outside_pattern_problem(root: &Path, dir: &Path, pattern: &str) -> Option<&'static str> {
    let p = Path::new(pattern);
    if p.is_absolute() {
        return Some("it is an absolute path");
    }
    let mut at = dir.to_path_buf();
    let mut wildcard = false;
    for c in p.components() {
        match c {
            Component::ParentDir if wildcard => return Some("it has `..` after a wildcard"),
            Component::ParentDir => {
                if !at.pop() || !at.starts_with(root) {
                    return Some("its `..` climbs above the entry file's directory");
                }
            }
            Component::Normal(name) => {
                wildcard |= has_glob_chars(&name.to_string_lossy());
                at.push(name);
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    None
}

/// What an include glob matched.
#[derive(Debug, Default)]
pub struct Matches {
    /// Regular files, sorted.
    pub files: Vec<PathBuf>,
    /// Matches that are not regular files (FIFOs, devices, sockets), with their kind.
    pub irregular: Vec<(PathBuf, &'static str)>,
    /// Symlinked directories not entered because their directory was entered already (a loop,
    /// or a second way to the same files).
    pub skipped_dirs: Vec<PathBuf>,
}

fn has_glob_chars(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// The files `pattern` matches relative to `dir`, in the `glob` crate's syntax (`*` stays in
/// one path component, `**` spans any number of directories), walked with loop detection.
pub fn glob_files(dir: &Path, pattern: &str) -> Result<Matches, String> {
    // Split into the literal directory the walk starts from and the pattern below it; only the
    // pattern's own text is a pattern (a directory named `a[1]` above it is not).
    let (start, relative) = match pattern.strip_prefix('/') {
        Some(rest) => (PathBuf::from("/"), rest),
        None => (dir.to_path_buf(), pattern),
    };
    let parts: Vec<&str> = relative.split('/').collect();
    let mut out = Matches::default();
    let Some(first_glob) = parts.iter().position(|c| has_glob_chars(c)) else {
        // no wildcard: the path itself, if it exists
        let full = start.join(relative);
        if let Ok(meta) = fs::metadata(&full) {
            match irregular_kind(meta.file_type()) {
                None => out.files.push(full),
                Some("a directory") => {}
                Some(kind) => out.irregular.push((full, kind)),
            }
        }
        return Ok(out);
    };
    let base = start.join(parts[..first_glob].join("/"));
    let rest = &parts[first_glob..];
    let sub = glob::Pattern::new(&rest.join("/")).map_err(|e| e.msg.to_string())?;
    let max_depth = if rest.contains(&"**") {
        MAX_DEPTH
    } else {
        rest.len()
    };
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let Ok(meta) = fs::metadata(&base) else {
        return Ok(out);
    };
    if !meta.is_dir() {
        return Ok(out);
    }
    let mut entered = HashSet::new();
    entered.insert((meta.dev(), meta.ino()));
    walk(
        &base,
        Path::new(""),
        1,
        max_depth,
        &sub,
        options,
        &mut entered,
        &mut out,
    );
    out.files.sort();
    out.irregular.sort();
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    dir: &Path,
    rel: &Path,
    depth: usize,
    max_depth: usize,
    pattern: &glob::Pattern,
    options: glob::MatchOptions,
    entered: &mut HashSet<(u64, u64)>,
    out: &mut Matches,
) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = rel.join(&name);
        // follows symlinks, as the glob crate does; a dangling link is no match
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if depth < max_depth {
                if entered.insert((meta.dev(), meta.ino())) {
                    walk(
                        &path,
                        &rel,
                        depth + 1,
                        max_depth,
                        pattern,
                        options,
                        entered,
                        out,
                    );
                } else {
                    out.skipped_dirs.push(path);
                }
            }
            continue;
        }
        if !pattern.matches_path_with(&rel, options) {
            continue;
        }
        match irregular_kind(meta.file_type()) {
            None => out.files.push(path),
            Some(kind) => out.irregular.push((path, kind)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, "users: []\n").expect("write");
    }

    fn names(dir: &Path, m: &Matches) -> Vec<String> {
        m.files
            .iter()
            .map(|p| {
                p.strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .into()
            })
            .collect()
    }

    #[test]
    fn globs_match_like_the_glob_crate() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path();
        for f in [
            "people/a.yaml",
            "people/b.yml",
            "people/deep/c.yaml",
            "top.yaml",
        ] {
            touch(&d.join(f));
        }
        let m = glob_files(d, "people/*.yaml").expect("valid");
        assert_eq!(names(d, &m), ["people/a.yaml"]);
        let m = glob_files(d, "people/**/*.yaml").expect("valid");
        assert_eq!(names(d, &m), ["people/a.yaml", "people/deep/c.yaml"]);
        let m = glob_files(d, "*.yaml").expect("valid");
        assert_eq!(names(d, &m), ["top.yaml"]);
        let m = glob_files(d, "people/b.yml").expect("valid");
        assert_eq!(names(d, &m), ["people/b.yml"]);
        let m = glob_files(d, "*/*.y*ml").expect("valid");
        assert_eq!(names(d, &m), ["people/a.yaml", "people/b.yml"]);
        assert!(glob_files(d, "people/missing/*.yaml")
            .expect("valid")
            .files
            .is_empty());
        assert!(glob_files(d, "people/a**.yaml").is_err());
    }

    #[test]
    fn symlink_loops_are_entered_once() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path();
        touch(&d.join("people/a.yaml"));
        symlink(".", d.join("people/x")).expect("symlink");
        symlink(".", d.join("people/y")).expect("symlink");
        let m = glob_files(d, "people/**/*.yaml").expect("valid");
        assert_eq!(names(d, &m), ["people/a.yaml"]);
        assert_eq!(m.skipped_dirs.len(), 2);
    }

    #[test]
    fn devices_fifos_and_binary_files_are_not_read() {
        assert!(matches!(
            read_config_file(Path::new("/dev/zero")),
            Err(ReadError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read_config_file(Path::new("/")),
            Err(ReadError::NotRegular("a directory"))
        ));
        let t = tempfile::tempdir().expect("tempdir");
        let nul = t.path().join("nul.yaml");
        fs::write(&nul, b"users: []\n\0secret").expect("write");
        assert!(matches!(read_config_file(&nul), Err(ReadError::NotText(_))));
        let latin1 = t.path().join("latin1.yaml");
        fs::write(&latin1, b"users: [\xe9]\n").expect("write");
        assert!(matches!(
            read_config_file(&latin1),
            Err(ReadError::NotText(_))
        ));
        assert!(is_plain_text("a:\tb\r\n"));
        assert!(!is_plain_text("a: \u{1b}[31m"));
    }

    #[test]
    fn absolute_and_climbing_patterns_are_named() {
        let root = Path::new("/repo");
        let problem = |dir: &str, p: &str| outside_pattern_problem(root, Path::new(dir), p);
        assert!(problem("/repo", "/proc/self/environ").is_some());
        assert!(problem("/repo", "../shared/*.yaml").is_some());
        assert!(problem("/repo", "people/../../x.yaml").is_some());
        assert!(problem("/repo", "*/../x.yaml").is_some());
        assert!(problem("/repo", "people/*.yaml").is_none());
        assert!(problem("/repo", "./people/*.yaml").is_none());
        assert!(problem("/repo/teams", "../people/*.yaml").is_none());
        assert!(problem("/repo/teams", "../../x.yaml").is_some());
    }
}
