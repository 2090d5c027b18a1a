//! `ferret keys audit --format sarif`: one SARIF 2.1.0 run for code scanning of a governance
//! repository. Each `[policy]` rule is a SARIF rule with a stable id; each violation is a
//! result located at the line of the config file that sets the rule it breaks (the file is
//! the policy's source, and code scanning needs a file), with the key as a logical location
//! (`openai/proj_…/key_…`). `primaryLocationLineHash` derives from the rule and the key, never
//! the line, so an alert stays one alert while the key keeps breaking the rule.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::policy::{RULES, Violation};
use crate::rules::Severity;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where results point: the config file (as a path relative to the repository) and its text,
/// to find the line of each setting.
pub struct PolicySource<'a> {
    pub uri: String,
    pub text: &'a str,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// The SARIF log of an audit.
pub fn audit_log(violations: &[Violation], source: &PolicySource) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.name},
                "fullDescription": {"text": rule.description},
                "help": {
                    "text": format!("{} Set by `{}` in the config's [policy].", rule.description, rule.setting),
                    "markdown": format!("**{}**\n\n{}\n\nSet by `{}` in `[policy]`.", rule.name, rule.description, rule.setting),
                },
                "defaultConfiguration": {"level": level(rule.severity)},
                "properties": {
                    "tags": ["security", "key-governance"],
                    "precision": "very-high",
                    "security-severity": rule.severity.security_severity(),
                },
            })
        })
        .collect();
    let results: Vec<Value> = violations.iter().map(|v| result(v, source)).collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ferret",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "automationDetails": {"id": "ferret-keys-audit/"},
            "results": results,
        }],
    })
}

fn result(violation: &Violation, source: &PolicySource) -> Value {
    let rule = violation.policy_rule();
    let index = RULES.iter().position(|r| r.id == rule.id).unwrap_or(0);
    let subject = match (&violation.project, &violation.key_id) {
        (Some(project), Some(key)) => format!("{}/{project}/{key}", violation.provider),
        (None, Some(key)) => format!("{}/{key}", violation.provider),
        _ => format!("{}/organization", violation.provider),
    };
    let digest = Sha256::digest(format!("{}\0{subject}", rule.id).as_bytes());
    let hash = format!("{}:1", &hex::encode(digest)[..16]);
    json!({
        "ruleId": rule.id,
        "ruleIndex": index,
        "level": level(rule.severity),
        "message": {"text": format!("{}.", violation.message)},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": source.uri},
                "region": {"startLine": line_of(source.text, rule.setting)},
            },
            "logicalLocations": [{
                "fullyQualifiedName": subject,
                "kind": "resource",
            }],
        }],
        "partialFingerprints": {"primaryLocationLineHash": hash},
        "properties": {
            "provider": violation.provider,
            "key_id": violation.key_id,
            "key": violation.redacted,
            "kind": violation.kind,
            "project": violation.project,
            "owner": violation.owner,
            "severity": violation.severity,
        },
    })
}

/// The line (1-based) of `setting = …` in the config, else of `[policy]`, else 1.
fn line_of(text: &str, setting: &str) -> usize {
    let found = |wanted: &dyn Fn(&str) -> bool| {
        text.lines()
            .position(|line| wanted(line.trim_start()))
            .map(|i| i + 1)
    };
    found(&|line| {
        line.strip_prefix(setting)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    })
    .or_else(|| found(&|line| line.starts_with("[policy]")))
    .unwrap_or(1)
}
