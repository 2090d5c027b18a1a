//! SARIF 2.1.0 logs: ferret's own (every field of its result properties), gitleaks' (the
//! secret in `region.snippet.text`, commit data in `partialFingerprints`), and any other
//! producer's results by rule and place.
//!
//! Each run's `tool.driver.name` names the tool. Severity comes from the rule's
//! `security-severity` when it has one, else from the result's (or rule's default) `level`.
//! The secret is read only where the producer is known to put it; another tool's snippet is a
//! line of code, not a secret, and such findings are merged by the tool's own fingerprint.

use std::collections::HashMap;

use serde_json::Value;

use super::ferret::{notes, revocation, secret_and_shown, verification};
use super::{Imported, author, github_blob_url, note_tool, number, repository_name, text, web_url};
use crate::finding::{NotebookCell, Verification};
use crate::report::page::{FERRET, Place, Sighting};

/// What a run says about one of its rules.
struct RuleInfo {
    name: String,
    severity: Option<String>,
}

pub fn read_log(log: &Value, into: &mut Imported) -> Result<(), String> {
    let runs = log["runs"]
        .as_array()
        .ok_or("a SARIF log whose runs is not a list")?;
    for run in runs {
        let tool = text(run, "/tool/driver/name")
            .unwrap_or_else(|| "sarif".to_string())
            .to_ascii_lowercase();
        let rules = rules(run);
        let provenance = &run["versionControlProvenance"][0];
        let results = run["results"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for result in results {
            let sighting = read_result(result, &tool, &rules, provenance)?;
            into.sightings.push(sighting);
        }
        note_tool(into, &tool);
    }
    Ok(())
}

fn rules(run: &Value) -> HashMap<String, RuleInfo> {
    let list = run
        .pointer("/tool/driver/rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    list.iter()
        .filter_map(|rule| {
            let id = text(rule, "/id")?;
            let name = text(rule, "/name")
                .or_else(|| text(rule, "/shortDescription/text"))
                .unwrap_or_else(|| id.clone());
            let severity = security_severity(&rule["properties"]["security-severity"])
                .or_else(|| level_severity(text(rule, "/defaultConfiguration/level")));
            Some((id, RuleInfo { name, severity }))
        })
        .collect()
}

fn read_result(
    result: &Value,
    tool: &str,
    rules: &HashMap<String, RuleInfo>,
    provenance: &Value,
) -> Result<Sighting, String> {
    let rule = text(result, "/ruleId")
        .or_else(|| text(result, "/rule/id"))
        .ok_or("a SARIF result without a ruleId")?;
    let info = rules.get(&rule);
    let properties = &result["properties"];
    let region = &result["locations"][0]["physicalLocation"]["region"];
    let uri =
        text(result, "/locations/0/physicalLocation/artifactLocation/uri").unwrap_or_default();
    let partial = &result["partialFingerprints"];
    let secret_text = match tool {
        FERRET => text(properties, "/secret"),
        "gitleaks" => text(region, "/snippet/text"),
        _ => None,
    };
    let (secret, shown) = match secret_text {
        Some(secret_text) => secret_and_shown(secret_text),
        None => (None, String::new()),
    };
    let mut place = Place {
        repository: text(properties, "/repository")
            .or_else(|| text(provenance, "/repositoryUri").and_then(|u| repository_name(&u))),
        path: path_of_uri(&uri),
        line: number(region, "/startLine").unwrap_or(0),
        column: number(region, "/startColumn").unwrap_or(0),
        commit: text(properties, "/commit").or_else(|| text(partial, "/commitSha")),
        author: text(properties, "/author")
            .or_else(|| author(text(partial, "/author"), text(partial, "/email"))),
        date: text(properties, "/date").or_else(|| text(partial, "/date")),
        url: web_url(text(properties, "/url")),
        note: notes(
            text(properties, "/entry").as_deref(),
            serde_json::from_value::<NotebookCell>(properties["cell"].clone())
                .ok()
                .as_ref(),
            text(properties, "/decoded").as_deref(),
        ),
    };
    if place.url.is_none() {
        place.url = provenance_url(provenance, &place);
    }
    let severity = info
        .and_then(|i| i.severity.clone())
        .or_else(|| level_severity(text(result, "/level")));
    Ok(Sighting {
        tool: tool.to_string(),
        secret,
        fingerprint: text(properties, "/fingerprint"),
        tool_key: tool_key(result),
        shown: if shown.is_empty() {
            text(properties, "/secret").unwrap_or_default()
        } else {
            shown
        },
        rule_name: info.map_or_else(|| rule.clone(), |i| i.name.clone()),
        rule,
        severity,
        place,
        verification: if properties["verification"].is_object() {
            verification(Some(&properties["verification"]))
        } else {
            Verification::default()
        },
        revocation: revocation(properties.get("revocation"))?,
        exposure: properties.get("exposure").filter(|e| !e.is_null()).cloned(),
    })
}

/// The producer's own identity of a result: its `fingerprints`, else its partial ones.
fn tool_key(result: &Value) -> Option<String> {
    ["fingerprints", "partialFingerprints"]
        .iter()
        .filter_map(|field| result[field].as_object())
        .filter_map(|map| {
            let mut values: Vec<(&String, &str)> = map
                .iter()
                .filter(|(name, _)| {
                    !["commitSha", "email", "author", "date", "commitMessage"]
                        .contains(&name.as_str())
                })
                .filter_map(|(name, value)| Some((name, value.as_str()?)))
                .collect();
            values.sort();
            (!values.is_empty()).then(|| {
                values
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
        })
        .next()
}

/// The link to the line, from the run's version-control provenance, for GitHub repositories.
fn provenance_url(provenance: &Value, place: &Place) -> Option<String> {
    let repository = text(provenance, "/repositoryUri")?;
    let commit = place
        .commit
        .clone()
        .or_else(|| text(provenance, "/revisionId"))?;
    github_blob_url(&repository, &commit, &place.path, place.line)
}

/// GitHub's buckets for `security-severity` scores (a number, or a number in a string).
fn security_severity(value: &Value) -> Option<String> {
    let score = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))?;
    let bucket = match score {
        s if s >= 9.0 => "critical",
        s if s >= 7.0 => "high",
        s if s >= 4.0 => "medium",
        s if s > 0.0 => "low",
        _ => return None,
    };
    Some(bucket.to_string())
}

fn level_severity(level: Option<String>) -> Option<String> {
    let severity = match level?.as_str() {
        "error" => "high",
        "warning" => "medium",
        "note" => "low",
        _ => return None,
    };
    Some(severity.to_string())
}

/// A report path from an artifact URI: percent-decoded, without a `file://` scheme.
fn path_of_uri(uri: &str) -> String {
    let uri = uri.strip_prefix("file://").unwrap_or(uri);
    let bytes = uri.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_decoded() {
        assert_eq!(path_of_uri("src/a%20b/%C3%A9%231.env"), "src/a b/é#1.env");
        assert_eq!(path_of_uri("file:///etc/app.env"), "/etc/app.env");
        assert_eq!(path_of_uri("100%"), "100%");
    }

    #[test]
    fn severities_follow_github_buckets() {
        assert_eq!(
            security_severity(&Value::from("9.5")).as_deref(),
            Some("critical")
        );
        assert_eq!(
            security_severity(&Value::from(7.0)).as_deref(),
            Some("high")
        );
        assert_eq!(
            level_severity(Some("note".to_string())).as_deref(),
            Some("low")
        );
        assert_eq!(security_severity(&Value::Null), None);
    }
}
