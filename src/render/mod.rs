//! Renderers of plans and apply reports: text, markdown, json.
