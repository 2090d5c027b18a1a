//! `ferret watch usage`: one pass of the usage watch, for cron, a scheduled workflow or a
//! Kubernetes CronJob. Keys leaked where no scanner looks (a chat, a laptop's shell history, a
//! vendor's log) show up only as use their owner did not make; this reads each key's hourly
//! use from OpenAI's usage endpoints ([`usage`], with `OPENAI_ADMIN_KEY`), keeps it in the
//! state ([`crate::store::watch`]), and judges the hours read against the key's own history
//! ([`detect`]). Each anomaly is reported and given to the hooks as a `usage_anomaly` event.
//!
//! Each run reads the complete hours since the last run (the first reads `backfill_days`, and
//! judges only its last day: older hours are history). Usage is recorded before it is judged,
//! so a run killed afterwards does not read the same hours twice, and one killed before
//! leaves the state as it was.

pub mod detect;
pub mod usage;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::config::{EventKind, Hook, WatchSettings};
use crate::exposure::format_rfc3339;
use crate::hooks::{HookOutcome, Hooks};
use crate::secret::Secret;
use crate::store::watch::{HourUse, WatchState};
use detect::{Anomaly, KeyHistory, KeyReport};
use usage::UsageReader;

/// Hours the first run judges (the rest of its backfill is history).
pub const FIRST_RUN_JUDGED_HOURS: i64 = 24;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error("cannot read usage")]
    Usage(#[from] crate::revoke::AdminError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Hooks(#[from] crate::hooks::HookSetupError),
    #[error("cannot start the usage watch")]
    Runtime(#[source] std::io::Error),
}

pub struct WatchOptions {
    /// OpenAI's API base, checked.
    pub api_base: String,
    pub admin_key: Secret,
    pub state: PathBuf,
    pub settings: WatchSettings,
    pub hooks: Vec<Hook>,
    /// Unix seconds: the wall clock, or what a test sets.
    pub now: i64,
    pub request_timeout: Duration,
}

/// What one pass read and found.
#[derive(Debug, Serialize)]
pub struct Pass {
    /// The hours read: `from` inclusive, `to` exclusive (RFC 3339).
    pub read_from: String,
    pub read_to: String,
    pub hours_read: i64,
    /// The hours judged (the first run judges only its last day).
    pub judged_from: String,
    pub first_run: bool,
    pub keys: Vec<KeyReport>,
    pub anomalies: Vec<Anomaly>,
    pub hooks: Vec<HookRun>,
}

/// One hook run for one anomaly.
#[derive(Debug, Serialize)]
pub struct HookRun {
    pub key_id: String,
    pub hook: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Runs one pass.
pub fn run(options: &WatchOptions) -> Result<Pass, WatchError> {
    let http = crate::http::client(options.request_timeout)?;
    let hooks = Hooks::new(options.hooks.clone(), http.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(WatchError::Runtime)?;
    let state = WatchState::open(&options.state)?;
    let settings = &options.settings;
    let lag = i64::from(settings.lag_minutes) * 60;
    let to = (options.now - lag).div_euclid(3600);
    let read_until = state.read_until()?;
    let first_run = read_until.is_none();
    let from = read_until
        .unwrap_or(to - i64::from(settings.backfill_days) * 24)
        .min(to);
    let reader = UsageReader::new(http, options.api_base.clone(), options.admin_key.clone());
    let used = match from < to {
        true => runtime.block_on(reader.hours((from, to)))?,
        false => Vec::new(),
    };
    let known = state.keys()?;
    let baseline = i64::from(settings.baseline_days) * 24;
    state.record(&used, (from, to), baseline + 48)?;
    let judged_from = match first_run {
        true => from.max(to - FIRST_RUN_JUDGED_HOURS),
        false => from,
    };
    let (keys, anomalies) = judge_keys(&state, &used, &known, (judged_from, to), settings)?;
    let hooks = runtime.block_on(announce(&hooks, &anomalies, options.now));
    Ok(Pass {
        read_from: format_rfc3339(from * 3600),
        read_to: format_rfc3339(to * 3600),
        hours_read: to - from,
        judged_from: format_rfc3339(judged_from * 3600),
        first_run,
        keys,
        anomalies,
        hooks,
    })
}

/// Judges every key used in hours `from..to`.
fn judge_keys(
    state: &WatchState,
    used: &[HourUse],
    known: &HashMap<String, crate::store::watch::KeyRecord>,
    (from, to): (i64, i64),
    settings: &WatchSettings,
) -> Result<(Vec<KeyReport>, Vec<Anomaly>), WatchError> {
    let active: BTreeSet<&str> = used
        .iter()
        .filter(|u| u.hour >= from && (u.requests > 0 || u.input_tokens + u.output_tokens > 0))
        .map(|u| u.key_id.as_str())
        .collect();
    let records = state.keys()?;
    let start = from.min(used.iter().map(|u| u.hour).min().unwrap_or(from))
        - i64::from(settings.baseline_days) * 24
        - 1;
    let mut reports = Vec::new();
    let mut anomalies = Vec::new();
    for key_id in active {
        let Some(record) = records.get(key_id) else {
            continue;
        };
        let rows = state.hours(key_id, (start, to))?;
        let models = state.models(key_id)?;
        // What an earlier run saw last, for a key idle longer than the series reaches back.
        let used_before = known.get(key_id).map(|k| k.last_hour);
        let history = KeyHistory::new(
            (key_id, record.project_id.as_deref(), record.first_hour),
            used_before.filter(|&h| h < start),
            &models,
            (start, to),
            &rows,
            settings,
        );
        let (report, found) = detect::judge(&history, (from, to), settings);
        reports.push(report);
        anomalies.extend(found);
    }
    anomalies.sort_by(|a, b| (a.hour_index, &a.key_id).cmp(&(b.hour_index, &b.key_id)));
    Ok((reports, anomalies))
}

/// Gives each anomaly to the hooks listening to `usage_anomaly`.
async fn announce(hooks: &Hooks, anomalies: &[Anomaly], now: i64) -> Vec<HookRun> {
    let mut runs = Vec::new();
    if !hooks.listens_to(EventKind::UsageAnomaly) {
        return runs;
    }
    for anomaly in anomalies {
        let body = event_json(anomaly, now);
        let outcomes: Vec<HookOutcome> = hooks.fire_json(EventKind::UsageAnomaly, &body).await;
        runs.extend(outcomes.into_iter().map(|o| HookRun {
            key_id: anomaly.key_id.clone(),
            hook: o.hook,
            ok: o.ok,
            detail: o.detail,
        }));
    }
    runs
}

/// A `usage_anomaly` event: the anomaly and the figures that made it. It names the key by id;
/// it never holds a key.
pub fn event_json(anomaly: &Anomaly, now: i64) -> Vec<u8> {
    let mut value = json!({
        "event": EventKind::UsageAnomaly,
        "time": format_rfc3339(now),
        "provider": "openai",
    });
    if let (Some(map), Ok(serde_json::Value::Object(fields))) =
        (value.as_object_mut(), serde_json::to_value(anomaly))
    {
        map.extend(fields);
    }
    serde_json::to_vec(&value).expect("JSON values serialize")
}
