//! OpenRouter's key management API (`Authorization: Bearer <management key>`,
//! docs/provider-apis.md): the account's keys (`GET /api/v1/keys`, by `offset`), and deletion
//! (`DELETE /api/v1/keys/{hash}`). And the leaked key's own record (`GET /api/v1/key` with the
//! leak itself: its label, creator and spend), which is both the identity evidence and the
//! exposure OpenRouter offers.

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::admin::{AdminApi, AdminError, MAX_PAGES, parse};
use super::identity::Listed;
use crate::http::{read_body, transport_error};
use crate::secret::Secret;

/// A key as the management API lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct OpenRouterKey {
    pub hash: String,
    /// The key's redacted form (`sk-or-v1-0e6...1c96`).
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub disabled: bool,
    /// Missing from a list: nothing proves which key is the leak.
    #[serde(default)]
    pub creator_user_id: Option<String>,
}

impl Listed for OpenRouterKey {
    fn redacted_value(&self) -> &str {
        &self.label
    }
    fn project(&self) -> Option<&str> {
        None
    }
}

/// What the leaked key says of itself (`GET /api/v1/key`, `data`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct OwnRecord {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub creator_user_id: Option<String>,
    #[serde(default)]
    pub is_management_key: bool,
    /// The key's own spend in USD since it was made, and today, this week, this month.
    #[serde(default)]
    pub usage: Option<f64>,
    #[serde(default)]
    pub usage_daily: Option<f64>,
    #[serde(default)]
    pub usage_weekly: Option<f64>,
    #[serde(default)]
    pub usage_monthly: Option<f64>,
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub limit_remaining: Option<f64>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
}

impl AdminApi {
    /// Every key of the management key's account, enabled ones only (a live leak is enabled):
    /// pages by `offset` until one comes back empty (the page size is not documented).
    pub async fn openrouter_keys(&self) -> Result<Vec<OpenRouterKey>, AdminError> {
        let mut keys: Vec<OpenRouterKey> = Vec::new();
        for _ in 0..MAX_PAGES {
            let target = format!("/api/v1/keys?offset={}", keys.len());
            let (value, _) = self.call(Method::GET, &target, None).await?;
            let page: Page = parse(&Method::GET, &target, value)?;
            if page.data.is_empty() {
                break;
            }
            for item in page.data {
                keys.push(parse(&Method::GET, &target, item)?);
            }
        }
        keys.retain(|k| !k.disabled);
        Ok(keys)
    }

    /// Deletes a key; returns the request id.
    pub async fn delete_openrouter_key(&self, hash: &str) -> Result<Option<String>, AdminError> {
        let path = format!("/api/v1/keys/{hash}");
        Ok(self.call(Method::DELETE, &path, None).await?.1)
    }
}

/// The leaked key's own record, asked with the leak itself (the request ferret verifies it
/// with); `Err` says why it could not be read.
pub async fn own_record(
    http: &reqwest::Client,
    api_base: &str,
    secret: &Secret,
) -> Result<OwnRecord, String> {
    let authorization = secret
        .bearer()
        .ok_or_else(|| "the key cannot be sent in an HTTP header".to_string())?;
    let response = http
        .get(format!("{api_base}/api/v1/key"))
        .header(reqwest::header::AUTHORIZATION, authorization)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = response.status();
    let body = read_body(response, 1024 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("GET /api/v1/key: HTTP {}", status.as_u16()));
    }
    #[derive(Deserialize)]
    struct Answer {
        data: OwnRecord,
    }
    serde_json::from_slice::<Answer>(&body)
        .map(|a| a.data)
        .map_err(|e| format!("GET /api/v1/key: unexpected answer: {e}"))
}
