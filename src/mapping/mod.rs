//! Mapping: MiniJinja templates, SCIM attribute paths, directory object -> SCIM resource.
//!
//! A target's resolved mapping rules (presets already merged by `config`) are compiled once into a
//! [`CompiledTarget`]; the planner then renders every assigned user and group through it and
//! builds create bodies and PATCH paths from the result; `reverse` reads live resources back
//! into directory fields for `roster import`. The checks of a mapping against the directory
//! (required attributes, duplicates, reserved names, match keys) are `validate`'s.

pub mod path;
mod render;
pub mod reverse;
pub mod template;

pub use path::AttrPath;
pub use render::{protocol_dialect, CompiledRule, CompiledTarget, RenderError, Rendered, RuleKind};
