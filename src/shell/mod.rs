//! The imperative shell between `cli` and the core: it turns the resolved configuration into
//! the settings the protocol client and the embedded provider take, so that neither knows how
//! a target is written in YAML.

pub mod scim_settings;
