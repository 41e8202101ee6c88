//! `roster drift`'s work beyond a plan: reading the accepted-drift file and judging the plan
//! against it on today's date. The file is read and checked before any connection, so a
//! mistyped address stops the run before anything is read from a server.

use super::error::ShellError;
use crate::config::known::{self, KnownEntry};
use crate::config::Desired;
use crate::plan::document::PlanDocument;
use crate::plan::drift::{classify, DriftReport};
use std::path::Path;

/// Read and check the accepted-drift file at `path` against the configuration.
pub fn read_known(path: &Path, desired: &Desired) -> Result<Vec<KnownEntry>, ShellError> {
    let text = fs_err::read_to_string(path).map_err(|e| ShellError::Known {
        path: path.to_path_buf(),
        line: None,
        message: e.to_string(),
    })?;
    known::parse(&text, desired).map_err(|e| ShellError::Known {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message,
    })
}

/// The plan judged against the accepted entries, today (UTC).
pub fn judge(doc: &PlanDocument, known: &[KnownEntry]) -> DriftReport {
    classify(doc, known, time::OffsetDateTime::now_utc().date())
}
