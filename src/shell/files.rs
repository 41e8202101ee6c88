//! The files commands write (saved plans, apply reports) and the clock they stamp them with.
//! Plans and reports hold personal data, so they are written for their owner only.

use super::error::ShellError;
use std::path::Path;

/// Now, as RFC 3339 in UTC (the `created_at` of plans).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Write a file only its owner can read (plans hold personal data), atomically: a temporary
/// file in the same directory, then a rename, so a reader never sees half a plan.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ShellError> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    let fail = |source: std::io::Error| ShellError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    fs_err::rename(&tmp, path).map_err(fail)
}

/// Append text (and a newline) to a file, creating it: the GitHub step summary, which several
/// steps of a job write to in turn.
pub fn append(path: &Path, text: &str) -> Result<(), ShellError> {
    use std::io::Write;
    let fail = |source: std::io::Error| ShellError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs_err::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    if !text.ends_with('\n') {
        f.write_all(b"\n").map_err(fail)?;
    }
    Ok(())
}
