//! Judging one key's hours against its own history: a robust baseline (median and MAD) per
//! metric, taken over the last `baseline_days` at the same hour of the week, falling back to
//! the same hour of day on the same kind of day (weekday or weekend), then on every day, then
//! to every hour, when a cell holds fewer than `min_cell_samples` hours; and
//! four detectors: a spike in requests, tokens or (with prices) cost, the first use of a model
//! the key never used, use at an hour of the day the key is never used, and use of a key idle
//! for `idle_days`.
//!
//! A key seen for less than `min_history_days`, or with fewer than `min_active_hours` hours of
//! use in the baseline, is not judged (an idle key waking up excepted): it is reported as not
//! having enough history, never alarmed. Hours are Unix seconds / 3600, in UTC.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::config::WatchSettings;
use crate::exposure::format_rfc3339;
use crate::store::watch::HourUse;

/// MAD × this estimates a standard deviation (for normally distributed noise).
const MAD_SCALE: f64 = 1.4826;
/// The spread a baseline is given at least, as a share of its median: a key whose use never
/// varied would otherwise alarm on any change.
const MIN_SPREAD_SHARE: f64 = 0.1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    Spike,
    NewModel,
    OffHours,
    IdleWakeup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

/// Which hours a baseline was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    /// The same hour of the week.
    HourOfWeek,
    /// The same hour of day on the same kind of day (weekday or weekend).
    DayTypeHour,
    /// The same hour of day on every day.
    HourOfDay,
    /// Every hour of the baseline.
    AllHours,
}

/// A figure that made an anomaly: the value, and what it was compared with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    pub metric: &'static str,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mad: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<Cell>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    pub key_id: String,
    pub project_id: Option<String>,
    pub kind: AnomalyKind,
    pub severity: Severity,
    /// The hour's start, RFC 3339.
    pub hour: String,
    #[serde(skip)]
    pub hour_index: i64,
    /// The model first used (`new_model`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Days since the last use (`idle_wakeup`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_days: Option<f64>,
    pub figures: Vec<Figure>,
    pub detail: String,
}

/// How a key's new hours were judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Anomalous,
    NotEnoughHistory,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyReport {
    pub key_id: String,
    pub project_id: Option<String>,
    pub status: Status,
    /// Hours with use among those judged this run, and among those too early to judge.
    pub hours_judged: usize,
    pub hours_not_judged: usize,
    /// Days since the key was first seen (by the last hour read).
    pub history_days: f64,
    pub anomalies: usize,
}

/// One key's use, densely by hour from `start`, with what the state knows of it.
pub struct KeyHistory<'a> {
    pub key_id: &'a str,
    pub project_id: Option<&'a str>,
    /// The first hour the key was seen used.
    pub first_hour: i64,
    /// Its last use before `start`, when known.
    pub used_before: Option<i64>,
    /// Each model's first hour of use.
    pub models: &'a HashMap<String, i64>,
    pub start: i64,
    pub requests: Vec<f64>,
    pub tokens: Vec<f64>,
    /// Estimated cost, when prices are configured.
    pub cost: Option<Vec<f64>>,
    /// The models used in each hour that has use.
    pub hour_models: BTreeMap<i64, Vec<(String, u64)>>,
}

impl<'a> KeyHistory<'a> {
    /// Builds the dense series of hours `start..end` from stored rows.
    pub fn new(
        key: (&'a str, Option<&'a str>, i64),
        used_before: Option<i64>,
        models: &'a HashMap<String, i64>,
        (start, end): (i64, i64),
        rows: &[HourUse],
        settings: &WatchSettings,
    ) -> Self {
        let len = usize::try_from(end - start).unwrap_or(0);
        let mut history = KeyHistory {
            key_id: key.0,
            project_id: key.1,
            first_hour: key.2,
            used_before,
            models,
            start,
            requests: vec![0.0; len],
            tokens: vec![0.0; len],
            cost: (!settings.prices.is_empty()).then(|| vec![0.0; len]),
            hour_models: BTreeMap::new(),
        };
        for row in rows.iter().filter(|r| (start..end).contains(&r.hour)) {
            let i = (row.hour - start) as usize;
            history.requests[i] += row.requests as f64;
            history.tokens[i] += (row.input_tokens + row.output_tokens) as f64;
            if let (Some(cost), Some(price)) = (&mut history.cost, settings.prices.get(&row.model))
            {
                cost[i] += (row.input_tokens as f64 * price.input
                    + row.output_tokens as f64 * price.output)
                    / 1e6;
            }
            history
                .hour_models
                .entry(row.hour)
                .or_default()
                .push((row.model.clone(), row.requests));
        }
        history
    }

    fn at(series: &[f64], start: i64, hour: i64) -> Option<f64> {
        usize::try_from(hour - start)
            .ok()
            .and_then(|i| series.get(i).copied())
    }

    fn used(&self, hour: i64) -> bool {
        Self::at(&self.requests, self.start, hour).unwrap_or(0.0) > 0.0
            || Self::at(&self.tokens, self.start, hour).unwrap_or(0.0) > 0.0
    }
}

/// Judges the key's hours `from..to` that have use.
pub fn judge(
    key: &KeyHistory,
    (from, to): (i64, i64),
    settings: &WatchSettings,
) -> (KeyReport, Vec<Anomaly>) {
    let mut anomalies = Vec::new();
    let (mut judged, mut not_judged) = (0, 0);
    let mut last_use = key.used_before;
    // Uses between what the state remembered and `from` are in the series.
    for hour in key.start..from {
        if key.used(hour) {
            last_use = Some(hour);
        }
    }
    for hour in from..to {
        if !key.used(hour) {
            continue;
        }
        if let Some(anomaly) = idle_wakeup(key, hour, last_use, settings) {
            anomalies.push(anomaly);
        }
        last_use = Some(hour);
        if !enough_history(key, hour, settings) {
            not_judged += 1;
            continue;
        }
        judged += 1;
        anomalies.extend(new_models(key, hour));
        anomalies.extend(off_hours(key, hour, settings));
        anomalies.extend(spike(key, hour, settings));
    }
    let status = if !anomalies.is_empty() {
        Status::Anomalous
    } else if judged == 0 && not_judged > 0 {
        Status::NotEnoughHistory
    } else {
        Status::Ok
    };
    let report = KeyReport {
        key_id: key.key_id.to_string(),
        project_id: key.project_id.map(str::to_string),
        status,
        hours_judged: judged,
        hours_not_judged: not_judged,
        history_days: ((to - key.first_hour) as f64 / 24.0 * 10.0).round() / 10.0,
        anomalies: anomalies.len(),
    };
    (report, anomalies)
}

/// Seen long enough, and used often enough in the baseline, to be judged.
fn enough_history(key: &KeyHistory, hour: i64, settings: &WatchSettings) -> bool {
    let baseline = i64::from(settings.baseline_days) * 24;
    if hour - key.first_hour < i64::from(settings.min_history_days) * 24 {
        return false;
    }
    let active = (hour - baseline..hour).filter(|&h| key.used(h)).count();
    active >= settings.min_active_hours as usize
}

fn anomaly(key: &KeyHistory, hour: i64, kind: AnomalyKind, severity: Severity) -> Anomaly {
    Anomaly {
        key_id: key.key_id.to_string(),
        project_id: key.project_id.map(str::to_string),
        kind,
        severity,
        hour: format_rfc3339(hour * 3600),
        hour_index: hour,
        model: None,
        idle_days: None,
        figures: Vec::new(),
        detail: String::new(),
    }
}

fn plain(metric: &'static str, value: f64) -> Figure {
    Figure {
        metric,
        value,
        median: None,
        mad: None,
        threshold: None,
        samples: None,
        cell: None,
    }
}

fn idle_wakeup(
    key: &KeyHistory,
    hour: i64,
    last_use: Option<i64>,
    settings: &WatchSettings,
) -> Option<Anomaly> {
    let idle = hour - last_use?;
    if idle < i64::from(settings.idle_days) * 24 {
        return None;
    }
    let requests = KeyHistory::at(&key.requests, key.start, hour).unwrap_or(0.0);
    let severity = match requests >= settings.min_extra_requests {
        true => Severity::Critical,
        false => Severity::Warning,
    };
    let days = (idle as f64 / 24.0 * 10.0).round() / 10.0;
    let mut found = anomaly(key, hour, AnomalyKind::IdleWakeup, severity);
    found.idle_days = Some(days);
    found.figures.push(plain("requests", requests));
    found.detail = format!("used after {days} days without any use ({requests} requests)");
    Some(found)
}

fn new_models(key: &KeyHistory, hour: i64) -> Vec<Anomaly> {
    let Some(models) = key.hour_models.get(&hour) else {
        return Vec::new();
    };
    models
        .iter()
        .filter(|(model, _)| key.models.get(model) == Some(&hour))
        .map(|(model, requests)| {
            let mut found = anomaly(key, hour, AnomalyKind::NewModel, Severity::Warning);
            found.model = Some(model.clone());
            found.figures.push(plain("requests", *requests as f64));
            found.detail = format!("first use of model {model} ({requests} requests)");
            found
        })
        .collect()
}

/// Use at an hour of the day (or either side) that had none on any day of the baseline.
fn off_hours(key: &KeyHistory, hour: i64, settings: &WatchSettings) -> Option<Anomaly> {
    let requests = KeyHistory::at(&key.requests, key.start, hour)?;
    if requests < settings.off_hours_min_requests as f64 {
        return None;
    }
    let mut samples = 0;
    for day in 1..=i64::from(settings.baseline_days) {
        for side in -1..=1 {
            let then = hour - day * 24 + side;
            if then < key.first_hour {
                continue;
            }
            if key.used(then) {
                return None;
            }
            samples += 1;
        }
    }
    let severity =
        match requests >= settings.critical_ratio * settings.off_hours_min_requests as f64 {
            true => Severity::Critical,
            false => Severity::Warning,
        };
    let mut found = anomaly(key, hour, AnomalyKind::OffHours, severity);
    found.figures.push(Figure {
        median: Some(0.0),
        samples: Some(samples),
        threshold: Some(settings.off_hours_min_requests as f64),
        cell: Some(Cell::HourOfDay),
        ..plain("requests", requests)
    });
    found.detail = format!(
        "{requests} requests at {:02}:00 UTC, an hour of the day with no use in the last {} days",
        hour.rem_euclid(24),
        settings.baseline_days
    );
    Some(found)
}

fn spike(key: &KeyHistory, hour: i64, settings: &WatchSettings) -> Option<Anomaly> {
    let mut metrics: Vec<(&'static str, &[f64], f64)> = vec![
        (
            "requests",
            key.requests.as_slice(),
            settings.min_extra_requests,
        ),
        ("tokens", key.tokens.as_slice(), settings.min_extra_tokens),
    ];
    if let Some(cost) = &key.cost {
        metrics.push(("cost_usd", cost.as_slice(), settings.min_extra_cost_usd));
    }
    let mut figures = Vec::new();
    let mut severity = Severity::Warning;
    for (metric, series, min_extra) in metrics {
        let value = KeyHistory::at(series, key.start, hour)?;
        let (cell, samples) = baseline_samples(key, series, hour, settings);
        if samples.is_empty() {
            continue;
        }
        let (median, mad) = median_and_mad(samples.clone());
        let spread = (MAD_SCALE * mad).max(MIN_SPREAD_SHARE * median);
        let threshold = (median + settings.spike_mads * spread)
            .max(settings.spike_ratio * median)
            .max(median + min_extra);
        if value <= threshold {
            continue;
        }
        if value >= settings.critical_ratio * median.max(min_extra) {
            severity = Severity::Critical;
        }
        figures.push(Figure {
            metric,
            value,
            median: Some(median),
            mad: Some(mad),
            threshold: Some(round(threshold)),
            samples: Some(samples.len()),
            cell: Some(cell),
        });
    }
    if figures.is_empty() {
        return None;
    }
    let detail = figures
        .iter()
        .map(|f| {
            format!(
                "{} {} (median {}, threshold {})",
                f.metric,
                round(f.value),
                round(f.median.unwrap_or(0.0)),
                f.threshold.unwrap_or(0.0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut found = anomaly(key, hour, AnomalyKind::Spike, severity);
    found.figures = figures;
    found.detail = format!("spike: {detail}");
    Some(found)
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The baseline's hours for `hour`: the narrowest cell holding `min_cell_samples` hours. Cells
/// hold the exact hour (a nightly job's one busy hour must not be pooled with its quiet
/// neighbours). Hours before the key was first seen are not samples (it did not exist, or was
/// not watched).
fn baseline_samples(
    key: &KeyHistory,
    series: &[f64],
    hour: i64,
    settings: &WatchSettings,
) -> (Cell, Vec<f64>) {
    let days = i64::from(settings.baseline_days);
    let enough = settings.min_cell_samples as usize;
    let sample = |then: i64| {
        (then >= key.first_hour && then < hour)
            .then(|| KeyHistory::at(series, key.start, then))
            .flatten()
    };
    let week: Vec<f64> = (1..=days.div_euclid(7))
        .map(|w| hour - w * 168)
        .filter_map(sample)
        .collect();
    if week.len() >= enough {
        return (Cell::HourOfWeek, week);
    }
    let weekend = is_weekend(hour);
    let same_hour = || (1..=days).map(|d| hour - d * 24);
    let day_type: Vec<f64> = same_hour()
        .filter(|&then| is_weekend(then) == weekend)
        .filter_map(sample)
        .collect();
    if day_type.len() >= enough {
        return (Cell::DayTypeHour, day_type);
    }
    let every_day: Vec<f64> = same_hour().filter_map(sample).collect();
    if every_day.len() >= enough {
        return (Cell::HourOfDay, every_day);
    }
    let all = (hour - days * 24..hour).filter_map(sample).collect();
    (Cell::AllHours, all)
}

/// Saturday or Sunday, UTC (1970-01-01 was a Thursday).
fn is_weekend(hour: i64) -> bool {
    let weekday = (hour.div_euclid(24) + 4).rem_euclid(7);
    weekday == 0 || weekday == 6
}

/// The median and the median absolute deviation of `values` (not empty).
fn median_and_mad(mut values: Vec<f64>) -> (f64, f64) {
    let median = median_of(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    (median, median_of(&mut deviations))
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n % 2 {
        1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_of_odd_and_even_sets() {
        assert_eq!(median_and_mad(vec![1.0, 2.0, 3.0, 4.0, 100.0]), (3.0, 1.0));
        assert_eq!(median_and_mad(vec![1.0, 3.0]), (2.0, 1.0));
    }

    fn steady(key: &str, hours: std::ops::Range<i64>, tokens: u64) -> Vec<HourUse> {
        hours
            .map(|hour| HourUse {
                key_id: key.into(),
                project_id: None,
                hour,
                model: "m".into(),
                requests: 10,
                input_tokens: tokens,
                output_tokens: 0,
            })
            .collect()
    }

    #[test]
    fn a_cost_spike_is_priced_from_tokens_and_judged_against_the_same_hour() {
        let mut settings = WatchSettings::default();
        settings.prices.insert(
            "m".into(),
            crate::config::ModelPrice {
                input: 10.0,
                output: 30.0,
            },
        );
        let (start, end) = (0, 20 * 24);
        let mut rows = steady("k", start..end - 1, 1_000);
        // The last hour: as many requests, 200 times the tokens (and the cost).
        rows.extend(steady("k", end - 1..end, 200_000));
        let models = HashMap::from([("m".to_string(), 0)]);
        let key = KeyHistory::new(
            ("k", None, 0),
            None,
            &models,
            (start, end),
            &rows,
            &settings,
        );
        let (report, found) = judge(&key, (end - 24, end), &settings);
        assert_eq!(
            (report.status, report.hours_judged),
            (Status::Anomalous, 24)
        );
        assert_eq!(found.len(), 1);
        let metrics: Vec<_> = found[0].figures.iter().map(|f| f.metric).collect();
        assert_eq!(metrics, ["tokens", "cost_usd"]);
        let cost = &found[0].figures[1];
        assert_eq!((cost.value, cost.median), (2.0, Some(0.01)));
        assert_eq!(cost.cell, Some(Cell::DayTypeHour));
    }

    #[test]
    fn weekends_are_saturday_and_sunday_utc() {
        // 2026-12-05 is a Saturday; 2026-12-07 a Monday.
        let saturday = crate::exposure::parse_rfc3339("2026-12-05T12:00:00Z").unwrap() / 3600;
        assert!(is_weekend(saturday) && is_weekend(saturday + 24));
        assert!(!is_weekend(saturday + 48));
    }
}
