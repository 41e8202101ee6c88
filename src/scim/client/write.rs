//! Writes: the one typed write path apply uses. Every write roster sends goes through
//! `create`, `replace`, `patch` or `delete` here, so the dialect's rules are checked, and
//! member operations counted for their budget, in one place before anything is sent.

use super::{collection_path, object_path, ScimClient};
use crate::scim::dialect::{self, ResourceKind};
use crate::scim::error::ScimClientError;
use crate::scim::resource::{Group, PatchRequest, User};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

impl ScimClient {
    // ---------------------------------------------------------------------------------------
    // Writes. Every write roster sends goes through `create`, `replace`, `patch` or `delete`
    // below (the typed user and group methods are views of them), so that the dialect's rules
    // (PATCH shape, member operations per request) are checked, and member operations counted
    // for their budget, in one place before anything is sent.

    fn refused(&self, reason: String) -> ScimClientError {
        ScimClientError::Dialect {
            dialect: self.inner.dialect.as_str().to_string(),
            reason,
        }
    }

    /// Encodes a typed body for the generic write path.
    fn encode<B: Serialize>(body: &B) -> Result<Value, ScimClientError> {
        serde_json::to_value(body)
            .map_err(|e| ScimClientError::Setup(format!("cannot encode the request: {e}")))
    }

    /// `POST /Users` or `POST /Groups` with `body` as written; the resource the server
    /// answered, if it sent one. A group's members count against the membership budget and
    /// may not exceed what the dialect takes in one request.
    pub async fn create(
        &self,
        kind: ResourceKind,
        body: &Value,
    ) -> Result<Option<Value>, ScimClientError> {
        let members = match kind {
            ResourceKind::User => 0,
            ResourceKind::Group => body
                .get("members")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
        };
        if let Some(max) = self.inner.caps.max_member_ops_per_request {
            if members > max {
                return Err(self.refused(format!(
                    "a group created with {members} members (at most {max} per request)"
                )));
            }
        }
        let ops = u32::try_from(members).unwrap_or(u32::MAX);
        let resp = self
            .send(Method::POST, collection_path(kind), Some(body), ops)
            .await?;
        Ok(resp.body)
    }

    /// `PUT /{Users,Groups}/{id}`: replaces the whole object, only if its version is still
    /// `if_match` when one is given (412 otherwise). The resource answered, if any.
    pub async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Option<Value>, ScimClientError> {
        let ops = match kind {
            ResourceKind::User => 0,
            ResourceKind::Group => body
                .get("members")
                .and_then(Value::as_array)
                .map_or(0, |m| u32::try_from(m.len()).unwrap_or(u32::MAX)),
        };
        let resp = self
            .send_if_match(
                Method::PUT,
                &object_path(kind, id),
                Some(body),
                ops,
                if_match,
            )
            .await?;
        Ok(resp.body)
    }

    /// `PATCH /{Users,Groups}/{id}`, refused before sending when the dialect would reject it,
    /// only if the object's version is still `if_match` when one is given (412 otherwise).
    /// `None` when the server answered without a body (scim2-server answers 204).
    pub async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<Option<Value>, ScimClientError> {
        dialect::check_patch(self.inner.dialect, kind, patch).map_err(|r| self.refused(r))?;
        let ops = u32::try_from(dialect::member_op_count(patch)).unwrap_or(u32::MAX);
        let body = Self::encode(patch)?;
        let resp = self
            .send_if_match(
                Method::PATCH,
                &object_path(kind, id),
                Some(&body),
                ops,
                if_match,
            )
            .await?;
        Ok(resp.body)
    }

    /// `DELETE /{Users,Groups}/{id}`, only if the object's version is still `if_match` when
    /// one is given (412 otherwise).
    pub async fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimClientError> {
        self.send_if_match(Method::DELETE, &object_path(kind, id), None, 0, if_match)
            .await
            .map(|_| ())
    }

    /// An answer's resource decoded as `T`; `None` for an answer without a body.
    fn decode_answer<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<T>, ScimClientError> {
        body.map(|body| {
            serde_json::from_value(body).map_err(|e| ScimClientError::Decode {
                method: method.into(),
                url: format!("{}{}", self.inner.base, path),
                host: self.inner.host.clone(),
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    /// `POST /Users`.
    pub async fn create_user(&self, user: &User) -> Result<User, ScimClientError> {
        let answer = self
            .create(ResourceKind::User, &Self::encode(user)?)
            .await?;
        self.decode_answer("POST", "/Users", answer)?
            .ok_or_else(|| self.empty_answer("POST", "/Users"))
    }

    /// `PUT /Users/{id}`: replaces the whole user.
    pub async fn replace_user(&self, id: &str, user: &User) -> Result<User, ScimClientError> {
        self.replace_user_if_match(id, user, None).await
    }

    /// `PATCH /Users/{id}`. `None` when the server answered 204 without a body
    /// (scim2-server); use `patch_user_fetch` when the result is needed.
    pub async fn patch_user(
        &self,
        id: &str,
        patch: &PatchRequest,
    ) -> Result<Option<User>, ScimClientError> {
        self.patch_user_if_match(id, patch, None).await
    }

    /// `PATCH /Users/{id}`, then the user as it is now (re-read if the answer had no body).
    pub async fn patch_user_fetch(
        &self,
        id: &str,
        patch: &PatchRequest,
    ) -> Result<User, ScimClientError> {
        match self.patch_user(id, patch).await? {
            Some(u) => Ok(u),
            None => self.get_user(id).await,
        }
    }

    /// `PATCH /Groups/{id}`; member operations count against the membership budget.
    pub async fn patch_group(
        &self,
        id: &str,
        patch: &PatchRequest,
    ) -> Result<Option<Group>, ScimClientError> {
        self.patch_group_if_match(id, patch, None).await
    }

    /// `PATCH /Groups/{id}`, then the group as it is now.
    pub async fn patch_group_fetch(
        &self,
        id: &str,
        patch: &PatchRequest,
    ) -> Result<Group, ScimClientError> {
        match self.patch_group(id, patch).await? {
            Some(g) => Ok(g),
            None => self.get_group(id).await,
        }
    }

    /// `PATCH /Users/{id}` only if the user's version is still `version` (412 otherwise).
    pub async fn patch_user_if_match(
        &self,
        id: &str,
        patch: &PatchRequest,
        version: Option<&str>,
    ) -> Result<Option<User>, ScimClientError> {
        let answer = self.patch(ResourceKind::User, id, patch, version).await?;
        self.decode_answer("PATCH", &object_path(ResourceKind::User, id), answer)
    }

    /// `PUT /Users/{id}` only if the user's version is still `version` (412 otherwise).
    pub async fn replace_user_if_match(
        &self,
        id: &str,
        user: &User,
        version: Option<&str>,
    ) -> Result<User, ScimClientError> {
        let answer = self
            .replace(ResourceKind::User, id, &Self::encode(user)?, version)
            .await?;
        match self.decode_answer("PUT", &object_path(ResourceKind::User, id), answer)? {
            Some(u) => Ok(u),
            None => self.get_user(id).await,
        }
    }

    /// `PATCH /Groups/{id}` only if the group's version is still `version` (412 otherwise).
    pub async fn patch_group_if_match(
        &self,
        id: &str,
        patch: &PatchRequest,
        version: Option<&str>,
    ) -> Result<Option<Group>, ScimClientError> {
        let answer = self.patch(ResourceKind::Group, id, patch, version).await?;
        self.decode_answer("PATCH", &object_path(ResourceKind::Group, id), answer)
    }

    /// `POST /Groups` with at most the dialect's member limit (see `create_group_chunked`).
    pub async fn create_group(&self, group: &Group) -> Result<Group, ScimClientError> {
        let answer = self
            .create(ResourceKind::Group, &Self::encode(group)?)
            .await?;
        self.decode_answer("POST", "/Groups", answer)?
            .ok_or_else(|| self.empty_answer("POST", "/Groups"))
    }

    /// Creates a group with any number of members: the create carries as many as one request
    /// may, PATCHes add the rest. Returns the created group (members as the create answered).
    pub async fn create_group_chunked(&self, group: &Group) -> Result<Group, ScimClientError> {
        let (first, rest) = dialect::group_create_chunks(self.inner.dialect, group);
        let created = self.create_group(&first).await?;
        let id = created
            .id
            .clone()
            .ok_or_else(|| self.empty_answer("POST", "/Groups"))?;
        for patch in &rest {
            self.patch_group(&id, patch).await?;
        }
        Ok(created)
    }

    pub async fn delete_user(&self, id: &str) -> Result<(), ScimClientError> {
        self.delete(ResourceKind::User, id, None).await
    }

    pub async fn delete_group(&self, id: &str) -> Result<(), ScimClientError> {
        self.delete(ResourceKind::Group, id, None).await
    }

    fn empty_answer(&self, method: &str, path: &str) -> ScimClientError {
        ScimClientError::Decode {
            method: method.into(),
            url: format!("{}{}", self.inner.base, path),
            host: self.inner.host.clone(),
            reason: "the answer has no resource (or no id)".into(),
        }
    }
}
