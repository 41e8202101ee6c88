//! Mapping: MiniJinja templates, SCIM attribute paths, directory object -> SCIM resource.
