//! Reads: the GET side of the client (one resource, a list walked page by page, the
//! ServiceProviderConfig) and the read-only client `plan`, `import` and `drift` get. Every
//! request goes through `ScimClient::send` (see the parent module) like the writes do.

use super::{ClientOptions, RawResponse, RequestCounts, ScimClient};
use crate::scim::dialect::{Capabilities, Dialect};
use crate::scim::error::ScimClientError;
use crate::scim::filter::Filter;
use crate::scim::paging::{encode_query_value, Identified, Pager};
use crate::scim::resource::{Group, ListResponse, User};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

impl ScimClient {
    fn decode<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        resp: RawResponse,
    ) -> Result<T, ScimClientError> {
        let url = format!("{}{}", self.inner.base, path);
        let body = resp.body.ok_or_else(|| ScimClientError::Decode {
            method: method.into(),
            url: url.clone(),
            host: self.inner.host.clone(),
            reason: format!("status {} with an empty body", resp.status),
        })?;
        serde_json::from_value(body).map_err(|e| ScimClientError::Decode {
            method: method.into(),
            url,
            host: self.inner.host.clone(),
            reason: e.to_string(),
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ScimClientError> {
        let resp = self.send(Method::GET, path, None, 0).await?;
        self.decode("GET", path, resp)
    }

    /// `GET /ServiceProviderConfig`.
    pub async fn service_provider_config(&self) -> Result<Value, ScimClientError> {
        self.get_json("/ServiceProviderConfig").await
    }

    pub async fn get_user(&self, id: &str) -> Result<User, ScimClientError> {
        self.get_json(&format!("/Users/{}", encode_query_value(id)))
            .await
    }

    pub async fn get_group(&self, id: &str) -> Result<Group, ScimClientError> {
        self.get_json(&format!("/Groups/{}", encode_query_value(id)))
            .await
    }

    /// Every user (matching `filter`), proven complete or an error.
    pub async fn list_users(&self, filter: Option<&Filter>) -> Result<Vec<User>, ScimClientError> {
        let f = filter.map(|f| f.render(self.inner.dialect)).transpose()?;
        self.list("/Users", "users", f.as_deref()).await
    }

    /// Every group (matching `filter`), proven complete or an error.
    pub async fn list_groups(
        &self,
        filter: Option<&Filter>,
    ) -> Result<Vec<Group>, ScimClientError> {
        let f = filter.map(|f| f.render(self.inner.dialect)).transpose()?;
        self.list("/Groups", "groups", f.as_deref()).await
    }

    /// Reads a whole collection at `endpoint` (`/Users`), with an already rendered filter.
    pub async fn list<T: DeserializeOwned + Identified>(
        &self,
        endpoint: &str,
        collection: &str,
        filter: Option<&str>,
    ) -> Result<Vec<T>, ScimClientError> {
        let mut pager = Pager::with_limits(
            self.inner.caps.paging,
            self.inner.page_size,
            collection,
            self.inner.opts.list_limits,
        );
        let mut out = Vec::new();
        while let Some(q) = pager.query() {
            let mut path = format!("{endpoint}?{q}");
            if let Some(f) = filter {
                path.push_str("&filter=");
                path.push_str(&encode_query_value(f));
            }
            let page: ListResponse<T> = self.get_json(&path).await?;
            pager
                .accept(&page)
                .map_err(|source| ScimClientError::Paging {
                    url: format!("{}{}", self.inner.base, endpoint),
                    source,
                })?;
            out.extend(page.resources);
        }
        Ok(out)
    }
}

/// A client that can only read: what `plan`, `import` and `drift` get. It has no write
/// operations, and its requests go through the same guarded `send` with the read-only flag set,
/// so even a bug that reached the inner client could not send anything but GET.
#[derive(Debug, Clone)]
pub struct ReadOnlyClient(pub(super) ScimClient);

impl ReadOnlyClient {
    pub fn new(mut opts: ClientOptions) -> Result<ReadOnlyClient, ScimClientError> {
        opts.read_only = true;
        ScimClient::new(opts).map(|c| c.reader())
    }

    pub fn dialect(&self) -> Dialect {
        self.0.dialect()
    }
    pub fn capabilities(&self) -> &Capabilities {
        self.0.capabilities()
    }
    pub fn base_url(&self) -> &str {
        self.0.base_url()
    }
    pub fn parallelism(&self) -> usize {
        self.0.parallelism()
    }
    pub fn counts(&self) -> RequestCounts {
        self.0.counts()
    }
    pub fn redact(&self, text: &str) -> String {
        self.0.redact(text)
    }
    pub async fn service_provider_config(&self) -> Result<Value, ScimClientError> {
        self.0.service_provider_config().await
    }
    pub async fn get_user(&self, id: &str) -> Result<User, ScimClientError> {
        self.0.get_user(id).await
    }
    pub async fn get_group(&self, id: &str) -> Result<Group, ScimClientError> {
        self.0.get_group(id).await
    }
    pub async fn list_users(&self, filter: Option<&Filter>) -> Result<Vec<User>, ScimClientError> {
        self.0.list_users(filter).await
    }
    pub async fn list_groups(
        &self,
        filter: Option<&Filter>,
    ) -> Result<Vec<Group>, ScimClientError> {
        self.0.list_groups(filter).await
    }
    pub async fn list<T: DeserializeOwned + Identified>(
        &self,
        endpoint: &str,
        collection: &str,
        filter: Option<&str>,
    ) -> Result<Vec<T>, ScimClientError> {
        self.0.list(endpoint, collection, filter).await
    }
    /// A GET of any path under the base URL (discovery endpoints, raw reads).
    pub async fn get(&self, path: &str) -> Result<RawResponse, ScimClientError> {
        self.0.send(Method::GET, path, None, 0).await
    }
}
