//! Renderers of plans: text for terminals, markdown for pull-request comments, json for
//! scripts and saved plan files, and redaction of personal values for any of them. Renderers
//! only build strings; the cli prints them through its one printer.

mod block;
pub mod drift;
pub mod json;
pub mod markdown;
mod notes;
pub mod redact;
pub mod text;

pub use json::render_json;
pub use markdown::{render_markdown, MARKER};
pub use redact::redact;
pub use text::{render_plan, render_saved_plan, summary_line, TextOptions};
