//! What a live leaked key did while it was exposed (`--exposure`, [`crate::exposure`]): read
//! from the provider's own answers once the key is proven to be one of the organization's.
//!
//! - OpenAI (admin key, `api.usage.read`): `GET /v1/organization/usage/{completions,embeddings,
//!   moderations,images,audio_speeches,audio_transcriptions}`
//!   filtered by `api_key_ids[]`, grouped by `model`, in daily buckets, every page
//!   (`page`/`next_page`), for the window and the equal-length period before it; the cost from
//!   `GET /v1/organization/costs` filtered by the key, or, when that filter is refused, by its
//!   project (an upper bound, labelled so); the scopes from the audit log's
//!   `api_key.created`/`api_key.updated` events; owner, name, creation and last use from the
//!   key list already read to prove the key.
//! - Anthropic (admin key): the usage report (`GET /v1/organizations/usage_report/messages`)
//!   filtered by `api_key_ids[]`, grouped by `model`, daily, every page, window and period
//!   before; the cost report (`GET /v1/organizations/cost_report`) takes no key filter, so the
//!   key's workspace's cost is given, labelled as an upper bound.
//! - OpenRouter: the leak's own record (`GET /api/v1/key`): its spend since it was made, today,
//!   this week and this month, and its credit limit.
//!
//! Anything that cannot be read is named in the block's `unavailable`, never fatal.

use reqwest::Method;
use serde_json::Value;

use super::admin::{AdminApi, AdminError, KeyOwner, MAX_PAGES, ProjectKey};
use super::openrouter::own_record;
use super::{Revoker, Route};
use crate::exposure::{
    Cost, DailyUsage, Exposure, Period, Reach, Totals, Window, format_day, format_rfc3339,
    parse_rfc3339,
};
use crate::finding::{Finding, Revocation, RevocationStatus};
use crate::fs::now_seconds;

/// The usage endpoints read: every one whose results count a key's requests per model
/// (images and audio count requests and images, characters or seconds, no tokens; vector
/// stores and code interpreter sessions are billed by the project, not by a key's calls).
const USAGE_KINDS: &[&str] = &[
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio_speeches",
    "audio_transcriptions",
];

const DAY: i64 = 86_400;

impl AdminApi {
    /// One usage endpoint's daily buckets for `key_id` between `start` and `end`, per model.
    async fn usage(
        &self,
        kind: &str,
        key_id: &str,
        (start, end): (i64, i64),
    ) -> Result<Vec<DailyUsage>, AdminError> {
        let base = format!(
            "/v1/organization/usage/{kind}?start_time={start}&end_time={end}&bucket_width=1d\
             &api_key_ids[]={key_id}&group_by[]=model&limit=31"
        );
        let mut rows = Vec::new();
        for page in self.pages(&base).await? {
            for bucket in page["data"].as_array().into_iter().flatten() {
                let day = format_day(bucket["start_time"].as_i64().unwrap_or(0).div_euclid(DAY));
                for result in bucket["results"].as_array().into_iter().flatten() {
                    let count = |name: &str| result[name].as_u64().unwrap_or(0);
                    rows.push(DailyUsage {
                        day: day.clone(),
                        model: result["model"].as_str().unwrap_or_default().to_string(),
                        requests: result["num_model_requests"].as_u64(),
                        input_tokens: count("input_tokens"),
                        output_tokens: count("output_tokens"),
                        cached_tokens: count("input_cached_tokens"),
                    });
                }
            }
        }
        Ok(rows)
    }

    /// The organization's cost between `start` and `end` under `filter` (`api_key_ids[]=…` or
    /// `project_ids[]=…`), in USD.
    async fn cost(&self, filter: &str, (start, end): (i64, i64)) -> Result<f64, AdminError> {
        let base = format!(
            "/v1/organization/costs?start_time={start}&end_time={end}&bucket_width=1d&{filter}\
             &limit=180"
        );
        let mut usd = 0.0;
        for page in self.pages(&base).await? {
            for bucket in page["data"].as_array().into_iter().flatten() {
                for result in bucket["results"].as_array().into_iter().flatten() {
                    usd += result["amount"]["value"].as_f64().unwrap_or(0.0);
                }
            }
        }
        Ok(usd)
    }

    /// Anthropic's usage report for `key_id`, per model per day: tokens only (it counts no
    /// requests); input is uncached + cache reads + cache writes.
    async fn anthropic_usage(
        &self,
        key_id: &str,
        (start, end): (i64, i64),
    ) -> Result<Vec<DailyUsage>, AdminError> {
        let base = format!(
            "/v1/organizations/usage_report/messages?starting_at={}&ending_at={}\
             &bucket_width=1d&api_key_ids[]={key_id}&group_by[]=model&limit=31",
            format_rfc3339(start),
            format_rfc3339(end)
        );
        let mut rows = Vec::new();
        for page in self.pages(&base).await? {
            for bucket in page["data"].as_array().into_iter().flatten() {
                let day = day_of(&bucket["starting_at"]);
                for result in bucket["results"].as_array().into_iter().flatten() {
                    let count = |value: &Value| value.as_u64().unwrap_or(0);
                    let creation = &result["cache_creation"];
                    let cached = count(&result["cache_read_input_tokens"]);
                    rows.push(DailyUsage {
                        day: day.clone(),
                        model: result["model"].as_str().unwrap_or_default().to_string(),
                        requests: None,
                        input_tokens: count(&result["uncached_input_tokens"])
                            + cached
                            + count(&creation["ephemeral_1h_input_tokens"])
                            + count(&creation["ephemeral_5m_input_tokens"]),
                        output_tokens: count(&result["output_tokens"]),
                        cached_tokens: cached,
                    });
                }
            }
        }
        Ok(rows)
    }

    /// Anthropic's cost report for one workspace (`None`: the default one), in USD: the report
    /// takes no key filter, so this bounds the key's cost from above. Amounts are cents, as
    /// decimal strings.
    async fn anthropic_workspace_cost(
        &self,
        workspace: Option<&str>,
        (start, end): (i64, i64),
    ) -> Result<f64, AdminError> {
        let base = format!(
            "/v1/organizations/cost_report?starting_at={}&ending_at={}&group_by[]=workspace_id\
             &limit=31",
            format_rfc3339(start),
            format_rfc3339(end)
        );
        let mut cents = 0.0;
        for page in self.pages(&base).await? {
            for bucket in page["data"].as_array().into_iter().flatten() {
                for result in bucket["results"].as_array().into_iter().flatten() {
                    if result["workspace_id"].as_str() == workspace {
                        let amount = &result["amount"];
                        cents += amount
                            .as_str()
                            .and_then(|a| a.parse::<f64>().ok())
                            .or_else(|| amount.as_f64())
                            .unwrap_or(0.0);
                    }
                }
            }
        }
        Ok(cents / 100.0)
    }

    /// Every page of a `page`/`next_page` list (the usage and cost endpoints).
    async fn pages(&self, base: &str) -> Result<Vec<Value>, AdminError> {
        let mut pages = Vec::new();
        self.each_page(base, |page| pages.push(page)).await?;
        Ok(pages)
    }

    /// Gives `on_page` each page of a `page`/`next_page` list in turn (`base` holds a query),
    /// so a long list is not held whole.
    pub async fn each_page(
        &self,
        base: &str,
        mut on_page: impl FnMut(Value),
    ) -> Result<(), AdminError> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let target = match &cursor {
                Some(page) => format!("{base}&page={page}"),
                None => base.to_string(),
            };
            let (value, _) = self.call(Method::GET, &target, None).await?;
            let next = value["next_page"].as_str().map(str::to_string);
            let more = value["has_more"] == true;
            on_page(value);
            match next {
                Some(next) if more && cursor.as_deref() != Some(next.as_str()) => {
                    cursor = Some(next);
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// The scopes the audit log gives a key (its latest `api_key.created`/`updated` event that
    /// names them).
    async fn scopes(&self, key_id: &str) -> Result<Option<Vec<String>>, AdminError> {
        let target = format!(
            "/v1/organization/audit_logs?event_types[]=api_key.created\
             &event_types[]=api_key.updated&resource_ids[]={key_id}&limit=100"
        );
        let (value, _) = self.call(Method::GET, &target, None).await?;
        let mut scopes = None;
        for entry in value["data"].as_array().into_iter().flatten() {
            let kind = entry["type"].as_str().unwrap_or_default();
            let named = entry[kind]["data"]["scopes"].as_array().map(|list| {
                list.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            });
            scopes = named.or(scopes);
        }
        Ok(scopes)
    }
}

/// The key id and project a revocation outcome names, when it proved the key.
fn proven_key(revocation: Option<&Revocation>) -> Option<(String, Option<String>)> {
    let revocation = revocation?;
    match revocation.status {
        RevocationStatus::NotOurs | RevocationStatus::Ambiguous => None,
        _ => Some((revocation.key_id.clone()?, revocation.project.clone())),
    }
}

/// From the earliest commit holding the key, else the file's modification time, else now.
fn window(finding: &Finding, now: i64) -> Window {
    let committed = finding
        .locations
        .iter()
        .filter_map(|l| l.commit.as_ref())
        .filter_map(|c| parse_rfc3339(&c.date))
        .min();
    let modified = || {
        finding
            .locations
            .iter()
            .filter(|l| l.commit.is_none() && l.entry.is_none())
            .filter_map(|l| std::fs::metadata(l.file_path()).ok()?.modified().ok())
            .filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .filter_map(|d| i64::try_from(d.as_secs()).ok())
            .min()
    };
    let (from, first_seen) = match (committed, modified()) {
        (Some(at), _) => (at, "commit"),
        (None, Some(at)) => (at, "file_mtime"),
        (None, None) => (now, "scan_time"),
    };
    let until = match finding.revocation.as_ref().map(|r| r.status) {
        Some(RevocationStatus::Revoked | RevocationStatus::AlreadyRevoked) => "revocation",
        _ => "now",
    };
    let from = from.min(now);
    Window {
        from: format_rfc3339(from),
        to: format_rfc3339(now),
        first_seen: first_seen.to_string(),
        until: until.to_string(),
        days: u64::try_from((now - from + DAY - 1) / DAY)
            .unwrap_or(0)
            .max(1),
    }
}

/// `YYYY-MM-DD` of an answer's RFC 3339 bucket start.
fn day_of(value: &Value) -> String {
    format_day(
        parse_rfc3339(value.as_str().unwrap_or_default())
            .unwrap_or(0)
            .div_euclid(DAY),
    )
}

/// Owner, name, creation and last use of a listed project key.
fn reach_of(key: Option<&ProjectKey>, project: Option<String>) -> Reach {
    let mut reach = Reach {
        project,
        ..Reach::default()
    };
    let Some(key) = key else {
        return reach;
    };
    match &key.owner {
        KeyOwner::User { user } => {
            reach.owner_type = Some("user".into());
            reach.owner = user
                .as_ref()
                .and_then(|u| u.email.clone().or_else(|| u.name.clone()));
        }
        KeyOwner::ServiceAccount { service_account } => {
            reach.owner_type = Some("service_account".into());
            reach.owner = Some(format!("{} ({})", service_account.name, service_account.id));
        }
    }
    reach.name = key.name.clone();
    reach.created_at = key.created_at.map(format_rfc3339);
    reach.last_used_at = key.last_used_at.map(format_rfc3339);
    reach
}

fn sum(rows: &[DailyUsage]) -> Totals {
    let mut totals = Totals::default();
    for row in rows {
        totals.add(row);
    }
    totals
}

impl Revoker {
    /// What the live leak did while exposed, if it is proven to be a key this run can read the
    /// usage of.
    pub(super) async fn exposure(&self, finding: &Finding, route: Route) -> Option<Exposure> {
        let (key_id, project) = proven_key(finding.revocation.as_ref())?;
        let window = window(finding, now_seconds());
        let exposure = match route {
            Route::OpenAi(_) => self.openai_exposure(key_id, project, window).await,
            Route::OpenRouter => self.openrouter_exposure(finding, key_id, window).await,
            Route::Anthropic => self.anthropic_exposure(key_id, project, window).await,
        };
        // The calls read for it join the key's record in the ledger, like revocation's.
        let apis = [
            Some(&self.api),
            self.anthropic.as_ref(),
            self.openrouter.as_ref(),
        ];
        for api in apis.into_iter().flatten() {
            self.record_calls_of(api, &finding.fingerprint);
        }
        Some(exposure)
    }

    async fn openai_exposure(
        &self,
        key_id: String,
        project: Option<String>,
        window: Window,
    ) -> Exposure {
        let end = parse_rfc3339(&window.to).unwrap_or(0);
        // Whole UTC days, as the daily buckets count them.
        let start = parse_rfc3339(&window.from).unwrap_or(end).div_euclid(DAY) * DAY;
        let before = (start - (end - start), start);
        let mut unavailable = Vec::new();
        let mut usage = Vec::new();
        let mut earlier = Vec::new();
        for kind in USAGE_KINDS {
            match self.api.usage(kind, &key_id, (start, end)).await {
                Ok(rows) => usage.extend(rows),
                Err(err) => {
                    unavailable.push(format!("usage/{kind}: {}", crate::error::chain(&err)))
                }
            }
            if let Ok(rows) = self.api.usage(kind, &key_id, before).await {
                earlier.extend(rows);
            }
        }
        let mut totals = sum(&usage);
        let cost = self
            .openai_cost(&key_id, project.as_deref(), (start, end), &mut unavailable)
            .await;
        if let Some(cost) = &cost {
            match cost.upper_bound {
                true => totals.cost_upper_bound_usd = Some(cost.usd),
                false => totals.cost_usd = Some(cost.usd),
            }
        }
        let listed = project.as_ref().and_then(|p| self.inventory.keys.get(p));
        let key = listed.and_then(|keys| keys.iter().find(|k| k.id == key_id));
        let mut reach = reach_of(key, project);
        match self.api.scopes(&key_id).await {
            Ok(scopes) => reach.scopes = scopes,
            Err(err) => unavailable.push(format!("audit log: {}", crate::error::chain(&err))),
        }
        Exposure {
            provider: "openai".into(),
            key_id: Some(key_id),
            before: Some(Period {
                from: format_rfc3339(before.0),
                to: format_rfc3339(before.1),
                totals: sum(&earlier),
            }),
            window,
            totals,
            usage,
            cost,
            reach,
            unavailable,
        }
    }

    /// The key's own cost, or its project's (an upper bound) when the key filter is refused.
    async fn openai_cost(
        &self,
        key_id: &str,
        project: Option<&str>,
        span: (i64, i64),
        unavailable: &mut Vec<String>,
    ) -> Option<Cost> {
        let cost = |usd, scope: &str, upper_bound| Cost {
            usd,
            scope: scope.to_string(),
            upper_bound,
            daily_usd: None,
            weekly_usd: None,
            monthly_usd: None,
        };
        let refusal = match self
            .api
            .cost(&format!("api_key_ids[]={key_id}"), span)
            .await
        {
            Ok(usd) => return Some(cost(usd, "key", false)),
            Err(err) => err,
        };
        let Some(project) = project.filter(|_| refusal.status() == Some(400)) else {
            unavailable.push(format!("costs: {}", crate::error::chain(&refusal)));
            return None;
        };
        match self
            .api
            .cost(&format!("project_ids[]={project}"), span)
            .await
        {
            Ok(usd) => Some(cost(usd, "project", true)),
            Err(err) => {
                unavailable.push(format!("costs: {}", crate::error::chain(&err)));
                None
            }
        }
    }

    async fn anthropic_exposure(
        &self,
        key_id: String,
        workspace: Option<String>,
        window: Window,
    ) -> Exposure {
        let end = parse_rfc3339(&window.to).unwrap_or(0);
        let start = parse_rfc3339(&window.from).unwrap_or(end).div_euclid(DAY) * DAY;
        let before = (start - (end - start), start);
        let mut exposure = Exposure {
            provider: "anthropic".into(),
            key_id: Some(key_id.clone()),
            window,
            totals: Totals::default(),
            before: None,
            usage: Vec::new(),
            cost: None,
            reach: Reach {
                workspace: workspace.clone(),
                ..Reach::default()
            },
            unavailable: Vec::new(),
        };
        let Some(api) = &self.anthropic else {
            return exposure;
        };
        let chain = |err: &AdminError| crate::error::chain(err);
        match api.anthropic_usage(&key_id, (start, end)).await {
            Ok(rows) => exposure.usage = rows,
            Err(err) => exposure
                .unavailable
                .push(format!("usage report: {}", chain(&err))),
        }
        exposure.totals = sum(&exposure.usage);
        if let Ok(rows) = api.anthropic_usage(&key_id, before).await {
            exposure.before = Some(Period {
                from: format_rfc3339(before.0),
                to: format_rfc3339(before.1),
                totals: sum(&rows),
            });
        }
        match api
            .anthropic_workspace_cost(workspace.as_deref(), (start, end))
            .await
        {
            Ok(usd) => {
                exposure.totals.cost_upper_bound_usd = Some(usd);
                exposure.cost = Some(Cost {
                    usd,
                    scope: "workspace".into(),
                    upper_bound: true,
                    daily_usd: None,
                    weekly_usd: None,
                    monthly_usd: None,
                });
            }
            Err(err) => exposure
                .unavailable
                .push(format!("cost report: {}", chain(&err))),
        }
        exposure
    }

    async fn openrouter_exposure(
        &self,
        finding: &Finding,
        key_id: String,
        window: Window,
    ) -> Exposure {
        let base = self
            .options
            .openrouter
            .as_ref()
            .map(|a| a.api_base.clone())
            .unwrap_or_default();
        let mut exposure = Exposure {
            provider: "openrouter".into(),
            key_id: Some(key_id),
            window,
            totals: Totals::default(),
            before: None,
            usage: Vec::new(),
            cost: None,
            reach: Reach::default(),
            unavailable: Vec::new(),
        };
        let own = match self.others.openrouter_own.get(&finding.fingerprint) {
            Some(own) => Ok(own.clone()),
            None => own_record(&self.http, &base, &finding.secret).await,
        };
        match own {
            Ok(own) => {
                exposure.cost = own.usage.map(|usd| Cost {
                    usd,
                    scope: "key_lifetime".into(),
                    upper_bound: false,
                    daily_usd: own.usage_daily,
                    weekly_usd: own.usage_weekly,
                    monthly_usd: own.usage_monthly,
                });
                exposure.totals.cost_usd = own.usage;
                exposure.reach.owner = own.creator_user_id;
                exposure.reach.limit_usd = own.limit;
                exposure.reach.limit_remaining_usd = own.limit_remaining;
            }
            // After revocation the key no longer answers for itself.
            Err(why) => exposure
                .unavailable
                .push(format!("the key's own record: {why}")),
        }
        exposure
    }
}
