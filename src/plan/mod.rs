//! The pure planner: desired vs observed state, ownership and policies, safety gates.
pub mod document;
