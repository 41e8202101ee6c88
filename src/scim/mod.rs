//! The SCIM 2.0 protocol: resources, patch operations, filters, paging, errors, and the HTTP client.

pub mod resource;
