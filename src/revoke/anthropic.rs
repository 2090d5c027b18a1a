//! Anthropic's Admin API (`x-api-key: sk-ant-admin01-…`, docs/provider-apis.md): the
//! organization the admin key administers (`GET /v1/organizations/me`), its active API keys
//! (`GET /v1/organizations/api_keys`, each shown with a `partial_key_hint`), and deactivation
//! (`POST /v1/organizations/api_keys/{id}` with `{"status": "inactive"}`), which is how the
//! Admin API revokes: it cannot delete keys.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::admin::{AdminApi, AdminError, parse};
use super::identity::Listed;

/// Keys asked for a page (the API allows 1 to 1000).
const PAGE: usize = 1000;

/// An API key as the Admin API lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct AnthropicKey {
    pub id: String,
    /// `sk-ant-api03-R2D...igAA`: the head and tail of the key.
    #[serde(default)]
    pub partial_key_hint: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// `None`: the default workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub created_by: Option<CreatedBy>,
}

/// Who created an Anthropic key.
#[derive(Clone, Debug, Deserialize)]
pub struct CreatedBy {
    pub id: String,
}

impl Listed for AnthropicKey {
    fn redacted_value(&self) -> &str {
        self.partial_key_hint.as_deref().unwrap_or_default()
    }
    /// Verification does not name a workspace, so this is never used as a filter.
    fn project(&self) -> Option<&str> {
        self.workspace_id.as_deref()
    }
}

#[derive(Deserialize)]
struct Organization {
    id: String,
}

impl AdminApi {
    /// The id of the organization the admin key administers; also taken note of as the
    /// organization this client answers for.
    pub async fn anthropic_organization(&self) -> Result<String, AdminError> {
        let path = "/v1/organizations/me";
        let (value, _) = self.call(Method::GET, path, None).await?;
        let organization: Organization = parse(&Method::GET, path, value)?;
        self.answered_for(Some(organization.id.clone()));
        Ok(organization.id)
    }

    /// Every active key of the organization (a live leak is an active key), all pages.
    pub async fn anthropic_keys(&self) -> Result<Vec<AnthropicKey>, AdminError> {
        let query = format!("limit={PAGE}&status=active");
        self.list_pages("/v1/organizations/api_keys", &query, "after_id")
            .await
    }

    /// One key, whatever its status.
    pub async fn anthropic_key(&self, id: &str) -> Result<AnthropicKey, AdminError> {
        let path = format!("/v1/organizations/api_keys/{id}");
        let (value, _) = self.call(Method::GET, &path, None).await?;
        parse(&Method::GET, &path, value)
    }

    /// Deactivates a key (the Admin API's revocation); returns the request id.
    pub async fn deactivate_anthropic_key(&self, id: &str) -> Result<Option<String>, AdminError> {
        let path = format!("/v1/organizations/api_keys/{id}");
        let body = json!({ "status": "inactive" });
        Ok(self.call(Method::POST, &path, Some(body)).await?.1)
    }
}
