//! `ferret merge REPORT...`: joins reports of the same kind (the shards of a sweep) into one.
//!
//! JSON/JSONL records are regrouped exactly as one run would have written them: one finding
//! (rule and fingerprint) at a time, findings in the order of their first location, locations
//! ordered by repository, path, line and column, duplicates dropped. SARIF runs are joined into
//! one run whose rules are the union of theirs. `--format html` (or `-o FILE.html`) makes one
//! page of any of them, as `ferret report` does.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use super::MergeArgs;
use super::output::write_whole;
use crate::report::Format;

pub fn run(args: MergeArgs) -> anyhow::Result<u8> {
    let implied = args.output.as_deref().and_then(Format::from_extension);
    if args.format.or(implied) == Some(Format::Html) {
        let options = crate::report::ReportOptions {
            show_secrets: args.show_secrets,
            color: false,
        };
        let output = args.output.as_deref();
        super::cmd_report::write_html(&args.reports, output, "ferret report", &options)?;
        return Ok(0);
    }
    let mut documents = Vec::new();
    for path in &args.reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        documents.push((path.as_path(), text));
    }
    let sarif = documents
        .iter()
        .map(|(path, text)| is_sarif(path, text))
        .collect::<Vec<_>>();
    let all_sarif = sarif.iter().all(|s| *s);
    if !all_sarif && sarif.iter().any(|s| *s) {
        bail!("cannot merge SARIF with JSON/JSONL reports: merge each kind on its own");
    }
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(Format::from_extension))
        .unwrap_or(if all_sarif {
            Format::Sarif
        } else {
            Format::Jsonl
        });
    let (merged, holds_secrets) = match (all_sarif, format) {
        (true, Format::Sarif) => {
            let mut log = merge_sarif(&documents)?;
            if !args.show_secrets
                && let Some(results) = log["runs"][0]["results"].as_array_mut()
            {
                for result in results {
                    let secret = result["properties"]["secret"].clone();
                    redact(result, &secret);
                }
            }
            let results = log["runs"][0]["results"].as_array().into_iter().flatten();
            let holds_secrets = results
                .map(|r| &r["properties"]["secret"])
                .any(is_full_secret);
            let mut text = serde_json::to_string_pretty(&log)?;
            text.push('\n');
            (text, holds_secrets)
        }
        (false, Format::Jsonl | Format::Json) => {
            let mut records = merge_records(&documents)?;
            if !args.show_secrets {
                for record in &mut records {
                    let secret = record["secret"].clone();
                    redact(record, &secret);
                }
            }
            let holds_secrets = records.iter().any(|r| is_full_secret(&r["secret"]));
            let mut text = if format == Format::Json {
                serde_json::to_string_pretty(&records)?
            } else {
                let lines: Result<Vec<String>, _> =
                    records.iter().map(serde_json::to_string).collect();
                lines?.join("\n")
            };
            if !text.is_empty() {
                text.push('\n');
            }
            (text, holds_secrets)
        }
        _ => bail!("SARIF merges into SARIF, JSON/JSONL into JSON or JSONL"),
    };
    match &args.output {
        Some(path) => write_whole(path, merged.as_bytes(), holds_secrets)?,
        None => std::io::stdout().lock().write_all(merged.as_bytes())?,
    }
    Ok(0)
}

/// Replaces a full `secret` (of an input written with `--show-secrets`) by its redacted form
/// wherever it appears in `value` (a SARIF message quotes it too).
fn redact(value: &mut Value, secret: &Value) {
    let Some(secret) = secret.as_str().filter(|_| is_full_secret(secret)) else {
        return;
    };
    let redacted = crate::secret::Secret::new(secret).redacted();
    replace_in_strings(value, secret, &redacted);
}

fn replace_in_strings(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(text) if text.contains(from) => *text = text.replace(from, to),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| replace_in_strings(v, from, to)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| replace_in_strings(v, from, to)),
        _ => {}
    }
}

/// Whether a report's `secret` is a full one (written with `--show-secrets`): redacted ones
/// always hold `…`.
fn is_full_secret(secret: &Value) -> bool {
    secret
        .as_str()
        .is_some_and(|s| !s.is_empty() && !s.contains('…'))
}

fn is_sarif(path: &Path, text: &str) -> bool {
    Format::from_extension(path) == Some(Format::Sarif)
        || (text.trim_start().starts_with('{')
            && text.contains("\"$schema\"")
            && text.contains("\"runs\""))
}

/// Every record of JSON arrays and JSONL files, grouped as one run writes them.
fn merge_records(documents: &[(&Path, String)]) -> anyhow::Result<Vec<Value>> {
    let mut records: Vec<Value> = Vec::new();
    for (path, text) in documents {
        let read = crate::report::parse_records::<Value>(text)
            .map_err(|e| anyhow::anyhow!("{}:{}", path.display(), crate::error::Chain(&e)))?;
        records.extend(read.into_iter().map(|(_, record)| record));
    }
    let place = |r: &Value| {
        (
            r["repository"].as_str().unwrap_or_default().to_string(),
            r["path"].as_str().unwrap_or_default().to_string(),
            r["line"].as_u64().unwrap_or(0),
            r["column"].as_u64().unwrap_or(0),
        )
    };
    let finding = |r: &Value| (r["rule"].clone(), r["fingerprint"].clone());
    records.sort_by_key(|r| place(r));
    records.dedup();
    let mut groups: Vec<(Value, Value)> = Vec::new();
    let mut grouped: Vec<Vec<Value>> = Vec::new();
    for record in records {
        let key = finding(&record);
        match groups.iter().position(|g| *g == key) {
            Some(at) => grouped[at].push(record),
            None => {
                groups.push(key);
                grouped.push(vec![record]);
            }
        }
    }
    Ok(grouped.into_iter().flatten().collect())
}

/// One SARIF log with one run holding every run's results, rules merged by id.
fn merge_sarif(documents: &[(&Path, String)]) -> anyhow::Result<Value> {
    let mut merged: Option<Value> = None;
    let mut rules: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    // The shards' warnings stay: a merged report of an incomplete shard is incomplete too.
    let mut notifications: Vec<Value> = Vec::new();
    let mut successful = true;
    for (path, text) in documents {
        let log: Value = serde_json::from_str(text)
            .with_context(|| format!("{}: not a SARIF file", path.display()))?;
        let runs = log["runs"].as_array().cloned().unwrap_or_default();
        for run in runs {
            let run_rules = run["tool"]["driver"]["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for rule in &run_rules {
                if !rules.iter().any(|r| r["id"] == rule["id"]) {
                    rules.push(rule.clone());
                }
            }
            for mut result in run["results"].as_array().cloned().unwrap_or_default() {
                // Indices point into this run's rules; make them point into the merged ones.
                if let Some(index) = rules.iter().position(|r| r["id"] == result["ruleId"]) {
                    result["ruleIndex"] = Value::from(index);
                }
                results.push(result);
            }
            for invocation in run["invocations"].as_array().into_iter().flatten() {
                successful &= invocation["executionSuccessful"].as_bool().unwrap_or(true);
                let told = invocation["toolExecutionNotifications"].as_array();
                notifications.extend(told.into_iter().flatten().cloned());
            }
        }
        if merged.is_none() {
            merged = Some(log);
        }
    }
    let Some(mut merged) = merged else {
        bail!("no SARIF to merge");
    };
    let mut run = merged["runs"][0].take();
    run["tool"]["driver"]["rules"] = Value::Array(rules);
    run["results"] = Value::Array(results);
    let mut invocation = serde_json::json!({"executionSuccessful": successful});
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    run["invocations"] = Value::Array(vec![invocation]);
    merged["runs"] = Value::Array(vec![run]);
    Ok(merged)
}
