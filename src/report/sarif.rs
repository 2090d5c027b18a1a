//! SARIF 2.1.0 for GitHub code scanning.
//!
//! One SARIF rule per ferret rule (all of them, so rule indices are stable between runs), one
//! result per location. `primaryLocationLineHash` is derived from the rule, the secret's
//! fingerprint and the path, never the line, so an alert survives code moving around and the
//! same key leaked in many commits of one file stays one alert. No raw secret is written unless
//! `--show-secrets`.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location as SarifLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use sha2::{Digest, Sha256};

use super::{ReportOptions, one_line_message, shown_secret};
use crate::finding::{Finding, Location};
use crate::rules::{Rule, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low => ResultLevel::Note,
    }
}

fn help(rule: &Rule) -> MultiformatMessageString {
    let text = format!(
        "{} Treat a leaked key as compromised: revoke it at the provider (ferret revoke can do \
         this for OpenAI keys), issue a replacement through your secret store, and remove the \
         key from the code. Deleting it in a later commit is not enough: it stays in git \
         history. If this is a test value or an accepted risk, add `ferret:allow` on the line \
         or its fingerprint to .ferretignore.",
        rule.description
    );
    let markdown = format!(
        "**{}**\n\n{}\n\n1. Revoke the key at the provider (`ferret revoke` does this for OpenAI \
         keys).\n2. Issue a replacement through your secret store.\n3. Remove the key from the \
         code; it stays in git history until the history is rewritten.\n\nTo accept a finding, \
         add `ferret:allow` on its line or its fingerprint to `.ferretignore`.",
        rule.name, rule.description
    );
    MultiformatMessageString::builder()
        .text(text)
        .markdown(markdown)
        .build()
}

fn descriptor(rule: &Rule) -> ReportingDescriptor {
    let mut properties = BTreeMap::new();
    properties.insert(
        "security-severity".to_string(),
        json!(rule.severity.security_severity()),
    );
    properties.insert("precision".to_string(), json!("very-high"));
    ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(rule.name.clone())
        .short_description(
            MultiformatMessageString::builder()
                .text(rule.name.clone())
                .build(),
        )
        .full_description(
            MultiformatMessageString::builder()
                .text(rule.description.clone())
                .build(),
        )
        .help(help(rule))
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level(rule.severity)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(vec!["security".to_string(), "secret".to_string()])
                .additional_properties(properties)
                .build(),
        )
        .build()
}

/// `hex16(sha256(rule, fingerprint, path)):1`.
fn line_hash(finding: &Finding, location: &Location) -> String {
    let mut hasher = Sha256::new();
    for part in [&finding.rule_id, &finding.fingerprint.0, &location.path] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("{}:1", &hex::encode(hasher.finalize())[..16])
}

/// The artifact URI of a report path: relative to the scan root (what GitHub matches against
/// the repository), or a `file://` URI for an absolute path outside any root. Everything that
/// may not stand in a URI path is percent-encoded, `:` too (in a relative reference it would
/// read as a scheme). A quoted path (a name with a newline or bytes that are not UTF-8) is
/// encoded from its own bytes.
fn artifact_uri(path: &str) -> String {
    let bytes = crate::sources::unquote_path(path);
    let mut uri = String::with_capacity(bytes.len() + 7);
    if bytes.starts_with(b"/") {
        uri.push_str("file://");
    }
    for &byte in bytes.iter() {
        if byte.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=@".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

fn result(
    rule_index: usize,
    finding: &Finding,
    location: &Location,
    options: &ReportOptions,
) -> SarifResult {
    let secret = shown_secret(finding, options);
    let text = one_line_message(finding, location, options);
    let mut properties = BTreeMap::new();
    properties.insert("fingerprint".to_string(), json!(finding.fingerprint.0));
    properties.insert("secret".to_string(), json!(secret));
    properties.insert("verification".to_string(), json!(finding.verification));
    if let Some(revocation) = &finding.revocation {
        properties.insert("revocation".to_string(), json!(revocation));
    }
    if let Some(exposure) = &finding.exposure {
        properties.insert("exposure".to_string(), json!(exposure));
    }
    if let Some(encoding) = &location.decoded {
        properties.insert("decoded".to_string(), json!(encoding));
    }
    if let Some(entry) = &location.entry {
        properties.insert("entry".to_string(), json!(entry));
    }
    if let Some(cell) = &location.cell {
        properties.insert("cell".to_string(), json!(cell));
    }
    if let Some(repository) = &location.repository {
        properties.insert("repository".to_string(), json!(repository.full_name));
        if let Some(url) = location.url() {
            properties.insert("url".to_string(), json!(url));
        }
    }
    if let Some(commit) = &location.commit {
        properties.insert("commit".to_string(), json!(commit.id));
        properties.insert("author".to_string(), json!(commit.author));
        properties.insert("date".to_string(), json!(commit.date));
        if !commit.refs.is_empty() {
            properties.insert("refs".to_string(), json!(commit.refs));
        }
    }
    // Code scanning knows files, not archive entries: a secret inside an archive points at the
    // archive, with no region (the entry's lines are not the archive's); `entry` and the
    // message name the entry.
    let artifact = ArtifactLocation::builder()
        .uri(artifact_uri(location.file_path()))
        .build();
    let physical = if location.entry.is_some() {
        PhysicalLocation::builder()
            .artifact_location(artifact)
            .build()
    } else {
        let secret_len = finding.secret.expose().len() as u64;
        let region = Region::builder()
            .start_line(sarif_position(location.line))
            .start_column(sarif_position(location.column))
            .end_line(sarif_position(location.line))
            .end_column(sarif_position(location.column.saturating_add(secret_len)))
            .build();
        PhysicalLocation::builder()
            .artifact_location(artifact)
            .region(region)
            .build()
    };
    SarifResult::builder()
        .rule_id(finding.rule_id.clone())
        .rule_index(rule_index as i64)
        .level(level(finding.severity))
        .message(Message::builder().text(text).build())
        .locations(vec![
            SarifLocation::builder().physical_location(physical).build(),
        ])
        .partial_fingerprints(BTreeMap::from([(
            "primaryLocationLineHash".to_string(),
            line_hash(finding, location),
        )]))
        .properties(
            PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        )
        .build()
}

/// A line or column as SARIF holds it: an integer from 1 up. Scans give such numbers; a report
/// read back (`verify --input`) may carry any.
fn sarif_position(n: u64) -> i64 {
    i64::try_from(n.max(1)).unwrap_or(i64::MAX)
}

/// The run's invocation: it completed (a run that could not is an error, not a report), with
/// the warnings it gave (what it could not read or check) as `toolExecutionNotifications`, so
/// a reader of the SARIF alone learns the scan was incomplete.
fn invocation(warnings: &[String]) -> Invocation {
    let notifications: Vec<Notification> = warnings
        .iter()
        .map(|warning| {
            Notification::builder()
                .level(json!("warning"))
                .message(Message::builder().text(warning.clone()).build())
                .build()
        })
        .collect();
    let invocation = Invocation::builder().execution_successful(true);
    if notifications.is_empty() {
        invocation.build()
    } else {
        invocation
            .tool_execution_notifications(notifications)
            .build()
    }
}

/// The whole SARIF log for one run of ferret, with the warnings the run gave.
pub fn sarif_log(
    findings: &[Finding],
    rules: &[Rule],
    options: &ReportOptions,
    warnings: &[String],
) -> Sarif {
    let results: Vec<SarifResult> = findings
        .iter()
        .flat_map(|finding| {
            let rule_index = rules
                .iter()
                .position(|r| r.id == finding.rule_id)
                .unwrap_or(0);
            finding
                .locations
                .iter()
                .map(move |location| result(rule_index, finding, location, options))
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("ferret")
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .version(env!("CARGO_PKG_VERSION"))
        .rules(rules.iter().map(descriptor).collect::<Vec<_>>())
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .invocations(vec![invocation(warnings)])
        .column_kind(json!("unicodeCodePoints"))
        .build();
    Sarif::builder()
        .schema(SCHEMA)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded_and_relative() {
        assert_eq!(artifact_uri("src/a b/é#1.env"), "src/a%20b/%C3%A9%231.env");
        assert_eq!(artifact_uri("\"a\\nb/\\377.env\""), "a%0Ab/%FF.env");
        assert_eq!(
            artifact_uri("c:x/(commit message)"),
            "c%3Ax/(commit%20message)"
        );
        assert_eq!(artifact_uri("/etc/app.env"), "file:///etc/app.env");
    }

    #[test]
    fn any_line_and_column_give_a_valid_region() {
        // Found by fuzzing (fuzz/fuzz_targets/report.rs): a location read back from a report
        // with a column near u64::MAX overflowed the end column.
        let rules = crate::rules::RuleSet::builtin().unwrap();
        let secret = crate::secret::Secret::new(format!("sk-{}", "a".repeat(40)));
        let location = |line, column| Location {
            path: "a.env".to_string(),
            line,
            column,
            commit: None,
            repository: None,
            decoded: None,
            entry: None,
            cell: None,
        };
        let finding = Finding::new(
            &rules.rules[0],
            secret,
            vec![location(u64::MAX, u64::MAX), location(0, 0)],
        );
        let log = serde_json::to_value(sarif_log(
            &[finding],
            &rules.rules,
            &ReportOptions::default(),
            &[],
        ))
        .unwrap();
        let regions: Vec<_> = log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["locations"][0]["physicalLocation"]["region"])
            .collect();
        let max = i64::MAX;
        assert_eq!(regions[0]["startLine"], max);
        assert_eq!(regions[0]["endColumn"], max);
        assert_eq!(regions[1]["startLine"], 1);
        assert_eq!(regions[1]["startColumn"], 1);
    }
}
