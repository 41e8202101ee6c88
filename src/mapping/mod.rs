//! Mapping: MiniJinja templates, SCIM attribute paths, directory object -> SCIM resource.
//!
//! A target's resolved mapping rules (presets already merged by `config`) are compiled once into a
//! [`CompiledTarget`]; the planner then renders every assigned user and group through it and
//! builds create bodies and PATCH paths from the result. `check` holds the `validate` checks that
//! need rendered values (required attributes, duplicates, reserved names, match keys); `reverse`
//! reads live resources back into directory fields for `roster import`.

pub mod check;
pub mod path;
mod render;
pub mod reverse;
pub mod template;

pub use path::AttrPath;
pub use render::{CompiledRule, CompiledTarget, RenderError, Rendered, RuleKind};
