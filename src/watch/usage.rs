//! Hourly usage per key and model from OpenAI's usage endpoints (reference/APIS.md §G):
//! `GET /v1/organization/usage/{completions,embeddings}` with the admin key,
//! `bucket_width=1h`, `group_by[]=api_key_id`, `model` and `project_id`, `limit=168` (the
//! hourly maximum), every page (`page` = the previous answer's `next_page` while `has_more`).
//!
//! Use that no key made (the API reports some with `api_key_id` null) is left out: it cannot
//! be judged against a key's history.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::revoke::{AdminApi, AdminError};
use crate::store::watch::HourUse;

/// The usage endpoints whose results count requests and tokens per model.
pub const USAGE_KINDS: &[&str] = &["completions", "embeddings"];
/// Hourly buckets per page: the API's maximum for `1h`.
const HOURLY_LIMIT: u32 = 168;
/// A page of hourly buckets of a large organization runs to megabytes.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Reads usage with the operator's admin key, through the Administration API client
/// revocation uses (its retries, bounds and redaction of errors).
pub struct UsageReader {
    api: AdminApi,
}

impl UsageReader {
    /// `base`: the checked API base, without `/v1`.
    pub fn new(http: reqwest::Client, base: String, admin_key: crate::secret::Secret) -> Self {
        UsageReader {
            api: AdminApi::new(http, base, admin_key).with_body_limit(MAX_BODY_BYTES),
        }
    }

    /// Every key's use per model and hour in hours `from..to` (hours are Unix seconds / 3600),
    /// summed over the usage endpoints, page by page.
    pub async fn hours(&self, (from, to): (i64, i64)) -> Result<Vec<HourUse>, AdminError> {
        let mut sums: BTreeMap<(String, i64, String), HourUse> = BTreeMap::new();
        for kind in USAGE_KINDS {
            let path = format!(
                "/v1/organization/usage/{kind}?start_time={}&end_time={}&bucket_width=1h\
                 &group_by[]=api_key_id&group_by[]=model&group_by[]=project_id\
                 &limit={HOURLY_LIMIT}",
                from * 3600,
                to * 3600
            );
            self.api
                .each_page(&path, |page| add_page(&page, &mut sums))
                .await?;
        }
        Ok(sums.into_values().collect())
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
