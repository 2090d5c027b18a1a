//! Hourly usage per key and model from OpenAI's usage endpoints (reference/APIS.md §G):
//! `GET /v1/organization/usage/{completions,embeddings}` with the admin key,
//! `bucket_width=1h`, `group_by[]=api_key_id`, `model` and `project_id`, `limit=168` (the
//! hourly maximum), every page (`page` = the previous answer's `next_page` while `has_more`).
//!
//! Use that no key made (the API reports some with `api_key_id` null) is left out: it cannot
//! be judged against a key's history.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::http::{BodyError, header, read_body, retry_after, shorten, transport_error};
use crate::secret::Secret;
use crate::store::watch::HourUse;

/// The usage endpoints whose results count requests and tokens per model.
pub const USAGE_KINDS: &[&str] = &["completions", "embeddings"];
/// Hourly buckets per page: the API's maximum for `1h`.
const HOURLY_LIMIT: u32 = 168;
/// Pages read of one list at most: a guard against a server that never ends.
const MAX_PAGES: usize = 10_000;
/// A page of hourly buckets of a large organization runs to megabytes.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("GET {path}: HTTP {status}: {message}")]
    Status {
        path: String,
        status: u16,
        message: String,
    },
    #[error("GET {path}: {reason}")]
    Transport { path: String, reason: String },
    #[error("GET {path}")]
    Body {
        path: String,
        #[source]
        source: BodyError,
    },
    #[error("GET {path}: the answer is not JSON")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the admin key cannot be sent in a header")]
    BadKey,
}

/// Reads usage with the operator's admin key.
pub struct UsageReader {
    pub http: reqwest::Client,
    /// Checked API base, without `/v1`.
    pub base: String,
    pub admin_key: Secret,
}

impl UsageReader {
    /// Every key's use per model and hour in hours `from..to` (hours are Unix seconds / 3600),
    /// summed over the usage endpoints.
    pub async fn hours(&self, (from, to): (i64, i64)) -> Result<Vec<HourUse>, UsageError> {
        let mut sums: BTreeMap<(String, i64, String), HourUse> = BTreeMap::new();
        for kind in USAGE_KINDS {
            let path = format!(
                "/v1/organization/usage/{kind}?start_time={}&end_time={}&bucket_width=1h\
                 &group_by[]=api_key_id&group_by[]=model&group_by[]=project_id\
                 &limit={HOURLY_LIMIT}",
                from * 3600,
                to * 3600
            );
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let target = match &cursor {
                    Some(page) => format!("{path}&page={page}"),
                    None => path.clone(),
                };
                let page = self.get(&target).await?;
                add_page(&page, &mut sums);
                let next = page["next_page"].as_str().map(str::to_string);
                match next {
                    Some(next) if page["has_more"] == true && cursor.as_ref() != Some(&next) => {
                        cursor = Some(next)
                    }
                    _ => break,
                }
            }
        }
        Ok(sums.into_values().collect())
    }

    /// One GET, retried on rate limits, server errors and network failures (a read repeats
    /// safely).
    async fn get(&self, target: &str) -> Result<Value, UsageError> {
        let path = target.split('?').next().unwrap_or(target).to_string();
        let authorization = self.admin_key.bearer().ok_or(UsageError::BadKey)?;
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .http
                .get(format!("{}{target}", self.base))
                .header(reqwest::header::AUTHORIZATION, authorization.clone())
                .send()
                .await;
            let (failure, wait) = match sent {
                Ok(response) if response.status().is_success() => {
                    let body = read_body(response, MAX_BODY_BYTES)
                        .await
                        .map_err(|source| UsageError::Body {
                            path: path.clone(),
                            source,
                        })?;
                    return serde_json::from_slice(&body)
                        .map_err(|source| UsageError::Json { path, source });
                }
                Ok(response) => {
                    let status = response.status();
                    let wait = retry_after(response.headers()).unwrap_or(backoff);
                    let request_id = header(response.headers(), "x-request-id");
                    let body = read_body(response, 64 * 1024).await.unwrap_or_default();
                    let failure = UsageError::Status {
                        path: path.clone(),
                        status: status.as_u16(),
                        message: message_of(&body, request_id),
                    };
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                        return Err(failure);
                    }
                    (failure, wait.min(MAX_RETRY_AFTER))
                }
                Err(err) => (
                    UsageError::Transport {
                        path: path.clone(),
                        reason: transport_error(&err),
                    },
                    backoff,
                ),
            };
            if attempt >= ATTEMPTS {
                return Err(failure);
            }
            tokio::time::sleep(wait).await;
            backoff *= 2;
        }
    }
}

/// Adds one page's buckets to the per (key, hour, model) sums.
fn add_page(page: &Value, sums: &mut BTreeMap<(String, i64, String), HourUse>) {
    for bucket in page["data"].as_array().into_iter().flatten() {
        let hour = bucket["start_time"].as_i64().unwrap_or(0).div_euclid(3600);
        for result in bucket["results"].as_array().into_iter().flatten() {
            let Some(key_id) = result["api_key_id"].as_str() else {
                continue;
            };
            let model = result["model"].as_str().unwrap_or_default().to_string();
            let count = |name: &str| result[name].as_u64().unwrap_or(0);
            let entry = sums
                .entry((key_id.to_string(), hour, model.clone()))
                .or_insert_with(|| HourUse {
                    key_id: key_id.to_string(),
                    project_id: result["project_id"].as_str().map(str::to_string),
                    hour,
                    model,
                    ..HourUse::default()
                });
            entry.requests += count("num_model_requests");
            entry.input_tokens += count("input_tokens");
            entry.output_tokens += count("output_tokens");
        }
    }
}

/// The API's error message (short), with the request id support asks for.
fn message_of(body: &[u8], request_id: Option<String>) -> String {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = value["error"]["message"]
        .as_str()
        .or_else(|| value["error"].as_str())
        .map(shorten)
        .unwrap_or_else(|| shorten(&String::from_utf8_lossy(body)));
    match request_id {
        Some(id) => format!("{message} (request {id})"),
        None => message,
    }
}
