//! The usage and cost endpoints of the loopback OpenAI organization (reference/APIS.md §G):
//! `GET /v1/organization/usage/{kind}` and `GET /v1/organization/costs`, answered from usage
//! a test seeds per key, model and UTC day.
//!
//! Followed from the reference: `start_time` is required (Unix seconds), `end_time` optional,
//! `bucket_width` `1d` (default) or `1h` (usage only; `1m` is a 400 here), filters
//! `api_key_ids[]`, `project_ids[]`, `models[]`, `group_by[]` of `model`, `api_key_id`,
//! `project_id` (fields not grouped by are null), `limit` (usage, daily: 1..=31, default 7;
//! hourly: 1..=168, default 24; costs: 1..=180, default 7) and the `page` cursor, with
//! `{"object":"page","data":[{"object":"bucket","start_time","end_time","results":[…]}],
//! "has_more","next_page"}`. Buckets start at `start_time` and are a day (or an hour) long;
//! empty ones are listed with no results.
//!
//! Mock choices: `page` cursors are `page_<bucket index>`; a test may cap the buckets per page
//! below `limit` (to see pagination followed) and make the costs endpoint refuse the
//! `api_key_ids[]` filter with a 400 (the reference is unsure it exists).

use serde_json::{Value, json};
use wiremock::Request;

/// Seeded use of one key at one moment (counted in the bucket holding `at`).
#[derive(Clone, Debug)]
pub struct Used {
    pub kind: &'static str,
    pub key_id: String,
    pub project_id: String,
    pub model: &'static str,
    /// Unix seconds.
    pub at: i64,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
}

#[derive(Default)]
pub struct Usage {
    pub used: Vec<Used>,
    /// Buckets per page at most, whatever `limit` asks (`None`: `limit`).
    pub page_size: Option<usize>,
    /// Whether `GET /costs` accepts `api_key_ids[]`.
    pub costs_take_key_filter: bool,
}

fn error(message: &str) -> (u16, Value) {
    (
        400,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null,
            "code": null}}),
    )
}

struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Usage {
    /// `GET /v1/organization/usage/{kind}` or `GET /v1/organization/costs` (`kind` `None`).
    pub fn answer(&self, request: &Request, kind: Option<&str>) -> (u16, Value) {
        let params = Params {
            pairs: request.url.query_pairs().into_owned().collect(),
        };
        let Some(Ok(start)) = params.get("start_time").map(str::parse::<i64>) else {
            return error("Missing required parameter: 'start_time'.");
        };
        let end = match params.get("end_time").map(str::parse::<i64>) {
            None => start + 7 * 86_400,
            Some(Ok(end)) => end,
            Some(Err(_)) => return error("Invalid 'end_time'."),
        };
        let (width, default_limit, max) = match (params.get("bucket_width"), kind) {
            (None | Some("1d"), Some(_)) => (86_400, 7, 31),
            (None | Some("1d"), None) => (86_400, 7, 180),
            (Some("1h"), Some(_)) => (3_600, 24, 168),
            _ => return error("The mock answers bucket_width=1d, and 1h for usage."),
        };
        if kind.is_none() && !self.costs_take_key_filter && !params.all("api_key_ids[]").is_empty()
        {
            return error("Unknown parameter: 'api_key_ids'.");
        }
        let limit = match params.get("limit").map(str::parse::<usize>) {
            None => default_limit,
            Some(Ok(limit)) if (1..=max).contains(&limit) => limit,
            Some(_) => return error("Invalid 'limit'."),
        };
        let per_page = self.page_size.map_or(limit, |cap| cap.min(limit));
        let first = match params.get("page") {
            None => 0,
            Some(page) => match page.strip_prefix("page_").and_then(|n| n.parse().ok()) {
                Some(index) => index,
                None => return error("Invalid 'page' cursor."),
            },
        };
        let total = usize::try_from((end - start + width - 1) / width).unwrap_or(0);
        let buckets: Vec<Value> = (first..total.min(first + per_page))
            .map(|index| {
                let from = start + width * index as i64;
                let to = (from + width).min(end);
                json!({"object": "bucket", "start_time": from, "end_time": to,
                    "results": self.results(&params, kind, (from, to))})
            })
            .collect();
        let next = first + per_page;
        let has_more = next < total;
        (
            200,
            json!({"object": "page", "data": buckets, "has_more": has_more,
                "next_page": if has_more { Value::from(format!("page_{next}")) } else { Value::Null }}),
        )
    }

    /// One bucket's results, grouped as asked.
    fn results(&self, params: &Params, kind: Option<&str>, (from, to): (i64, i64)) -> Vec<Value> {
        let keys = params.all("api_key_ids[]");
        let projects = params.all("project_ids[]");
        let models = params.all("models[]");
        let group_by = params.all("group_by[]");
        let mut groups: Vec<(Vec<String>, Vec<&Used>)> = Vec::new();
        for used in self.used.iter().filter(|u| {
            kind.is_none_or(|k| u.kind == k)
                && (from..to).contains(&u.at)
                && (keys.is_empty() || keys.contains(&u.key_id.as_str()))
                && (projects.is_empty() || projects.contains(&u.project_id.as_str()))
                && (models.is_empty() || models.contains(&u.model))
        }) {
            let group: Vec<String> = group_by
                .iter()
                .map(|g| match *g {
                    "model" => used.model.to_string(),
                    "api_key_id" => used.key_id.clone(),
                    "project_id" => used.project_id.clone(),
                    _ => String::new(),
                })
                .collect();
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, members)) => members.push(used),
                None => groups.push((group, vec![used])),
            }
        }
        groups
            .into_iter()
            .map(|(_, members)| {
                let first = members[0];
                let grouped = |name: &str, value: &str| {
                    if group_by.contains(&name) {
                        Value::from(value)
                    } else {
                        Value::Null
                    }
                };
                let total = |f: fn(&Used) -> u64| members.iter().map(|u| f(u)).sum::<u64>();
                // Images and audio count requests and their own unit, not tokens; `Used`'s
                // `input_tokens` holds that unit for them.
                let unit = match kind {
                    Some("images") => Some("images"),
                    Some("audio_speeches") => Some("characters"),
                    Some("audio_transcriptions") => Some("seconds"),
                    _ => None,
                };
                match kind {
                    Some(kind) if unit.is_some() => json!({
                        "object": format!("organization.usage.{kind}.result"),
                        unit.unwrap_or_default(): total(|u| u.input_tokens),
                        "num_model_requests": total(|u| u.requests),
                        "project_id": grouped("project_id", &first.project_id),
                        "user_id": null,
                        "api_key_id": grouped("api_key_id", &first.key_id),
                        "model": grouped("model", first.model),
                    }),
                    Some(kind) => json!({
                        "object": format!("organization.usage.{kind}.result"),
                        "input_tokens": total(|u| u.input_tokens),
                        "output_tokens": total(|u| u.output_tokens),
                        "input_cached_tokens": total(|u| u.cached_tokens),
                        "input_audio_tokens": 0, "output_audio_tokens": 0,
                        "num_model_requests": total(|u| u.requests),
                        "project_id": grouped("project_id", &first.project_id),
                        "user_id": null,
                        "api_key_id": grouped("api_key_id", &first.key_id),
                        "model": grouped("model", first.model),
                        "batch": null, "service_tier": null,
                    }),
                    None => json!({
                        "object": "organization.costs.result",
                        "amount": {"value": members.iter().map(|u| u.cost_usd).sum::<f64>(),
                            "currency": "usd"},
                        "line_item": null,
                        "project_id": grouped("project_id", &first.project_id),
                    }),
                }
            })
            .collect()
    }
}
