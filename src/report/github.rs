//! GitHub Actions output: workflow-command annotations (`--format github`) and the Markdown
//! table `ferret ci github` appends to the job's step summary.
//!
//! Annotations are lines the Actions runner reads from a step's output
//! (`::error file=…,line=…,col=…,title=…::message`); GitHub shows them on the run and, for files
//! in a pull request's diff, on the changed line. Their data and property values are escaped
//! as the runner expects (`%` `\r` `\n`, and in properties also `:` and `,`), so nothing in a
//! path or message can end the command early or inject another one. Findings that are not in
//! a file (`(commit message)`, `(tag message …)`, `(unreachable blob …)`) get an annotation
//! without a file, naming the place in the message.

use std::io::{self, Write};

use super::clean::{escape_controls, printable};
use super::{ReportOptions, one_line_message, shown_secret};
use crate::finding::{Finding, Location};
use crate::rules::Severity;

/// At most this many locations are listed in the step summary (GitHub caps a step's summary
/// at 1 MiB; the annotations and the SARIF report have them all).
pub const SUMMARY_MAX_ROWS: usize = 200;

/// Escapes the message of a workflow command: the runner's escapes for `%`, CR and LF, and
/// every other control character written out (a terminal escape in an author name).
fn escape_data(text: &str) -> String {
    let escaped = text
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    escape_controls(&escaped).into_owned()
}

/// Escapes a property value of a workflow command.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The annotation command for a severity, as SARIF levels map it.
fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "notice",
    }
}

/// Whether a report path names a file (not a commit message, tag message or lost blob).
fn is_file(location: &Location) -> bool {
    !location.path.starts_with('(')
}

/// Writes one workflow command: `::NAME key=value,…::message`.
pub fn write_command(
    out: &mut dyn Write,
    name: &str,
    properties: &[(&str, String)],
    message: &str,
) -> io::Result<()> {
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    let separator = if properties.is_empty() { "" } else { " " };
    writeln!(
        out,
        "::{name}{separator}{}::{}",
        properties.join(","),
        escape_data(message)
    )
}

/// One annotation per location.
pub fn write_annotations(
    findings: &[Finding],
    options: &ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    for finding in findings {
        for location in &finding.locations {
            let mut properties = Vec::new();
            let mut message = one_line_message(finding, location, options);
            if is_file(location) {
                properties.push(("file", location.file_path().to_string()));
                // An archive entry's lines are not the archive's.
                if location.entry.is_none() {
                    properties.push(("line", location.line.to_string()));
                    properties.push(("col", location.column.to_string()));
                }
            } else {
                message = format!("{}:{}: {message}", location.path, location.line);
            }
            properties.push(("title", finding.rule_id.clone()));
            message.push_str(&format!(" Fingerprint {}.", finding.fingerprint));
            write_command(out, command(finding.severity), &properties, &message)?;
        }
    }
    Ok(())
}

/// `text` as a Markdown code span in a table cell, on one line, whatever backticks it holds.
fn code(text: &str) -> String {
    let text = escape_controls(text).replace('|', "\\|");
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest_run == 0 {
        return format!("`{text}`");
    }
    // A longer fence, and spaces so a backtick at either end is not read as part of it.
    let fence = "`".repeat(longest_run + 1);
    format!("{fence} {text} {fence}")
}

/// The Markdown step summary: a heading saying what was scanned and found, then one table row
/// per location (at most [`SUMMARY_MAX_ROWS`]) and how to suppress a false positive.
pub fn write_step_summary(
    findings: &[Finding],
    scanned: &str,
    options: &ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let findings = &*printable(findings, options);
    let locations: usize = findings.iter().map(|f| f.locations.len()).sum();
    match findings.len() {
        0 => writeln!(out, "### ferret: no secrets found\n")?,
        1 => writeln!(
            out,
            "### ferret: 1 secret found in {locations} location(s)\n"
        )?,
        n => writeln!(
            out,
            "### ferret: {n} secrets found in {locations} location(s)\n"
        )?,
    }
    writeln!(out, "Scanned {}.\n", escape_controls(scanned))?;
    if findings.is_empty() {
        return out.flush();
    }
    writeln!(out, "| Rule | Secret | Location | Commit | Status |")?;
    writeln!(out, "| --- | --- | --- | --- | --- |")?;
    let rows = findings
        .iter()
        .flat_map(|f| f.locations.iter().map(move |l| (f, l)));
    for (finding, location) in rows.take(SUMMARY_MAX_ROWS) {
        let commit = location
            .commit
            .as_ref()
            .map(|c| code(&c.id[..c.id.len().min(12)]))
            .unwrap_or_default();
        let mut status = finding.verification.status_name().to_string();
        if let Some(revocation) = &finding.revocation {
            status.push_str(&format!(", {}", revocation.status_name()));
        }
        writeln!(
            out,
            "| {} | {} | {} | {commit} | {status} |",
            code(&finding.rule_id),
            code(&shown_secret(finding, options)),
            code(&format!("{}:{}", location.path, location.line)),
        )?;
    }
    if locations > SUMMARY_MAX_ROWS {
        writeln!(
            out,
            "\n… and {} more location(s): see the annotations or the SARIF report.",
            locations - SUMMARY_MAX_ROWS
        )?;
    }
    let exposed: Vec<&Finding> = findings.iter().filter(|f| f.exposure.is_some()).collect();
    if !exposed.is_empty() {
        writeln!(out, "\n#### Exposure\n")?;
        for finding in exposed {
            if let Some(exposure) = &finding.exposure {
                writeln!(
                    out,
                    "- {}: {}",
                    code(&shown_secret(finding, options)),
                    exposure.summary()
                )?;
            }
        }
    }
    writeln!(
        out,
        "\nRevoke a leaked key first, then remove it. A false positive: add `ferret:allow` on \
         its line, its fingerprint to `.ferretignore`, or an `[allowlist]` entry to \
         `.ferret.toml`.\n"
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_escape_data_and_properties() {
        let mut out = Vec::new();
        write_command(
            &mut out,
            "error",
            &[
                ("file", "a,b:c%.txt".to_string()),
                ("line", "3".to_string()),
            ],
            "50% done\r\n::warning::injected",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::error file=a%2Cb%3Ac%25.txt,line=3::50%25 done%0D%0A::warning::injected\n"
        );
        let mut out = Vec::new();
        write_command(&mut out, "warning", &[], "plain").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "::warning::plain\n");
    }

    #[test]
    fn the_step_summary_tells_each_keys_exposure_redacted() {
        let rules = crate::rules::RuleSet::builtin().unwrap();
        let key: String = std::iter::once("sk-proj-".to_string())
            .chain((0..74).map(|i| ((b'a' + (i * 7 % 26) as u8) as char).to_string()))
            .collect();
        let location = Location {
            path: ".env".to_string(),
            line: 1,
            column: 16,
            commit: None,
            repository: None,
            decoded: None,
            entry: None,
            cell: None,
        };
        let mut finding = Finding::new(
            &rules.rules[0],
            crate::secret::Secret::new(key.clone()),
            vec![location],
        );
        // A name holding the whole key (pieces are scrubbed as answers are read) is redacted.
        let owner = format!("ci-{key}");
        finding.exposure = Some(
            serde_json::from_value(serde_json::json!({
                "provider": "openai",
                "window": {"from": "2026-12-01T00:00:00Z", "to": "2026-12-03T00:00:00Z",
                           "first_seen": "commit", "until": "now", "days": 3},
                "totals": {"requests": 300, "input_tokens": 1_200_000, "output_tokens": 300_000,
                           "cached_tokens": 0},
                "before": {"from": "2026-11-28T00:00:00Z", "to": "2026-11-30T23:59:59Z",
                           "requests": 10, "input_tokens": 30_000, "output_tokens": 7_500,
                           "cached_tokens": 0},
                "cost": {"usd": 12.5, "scope": "project", "upper_bound": true},
                "reach": {"owner": owner, "project": "Production"}
            }))
            .unwrap(),
        );
        let mut out = Vec::new();
        write_step_summary(&[finding], "the push", &ReportOptions::default(), &mut out).unwrap();
        let summary = String::from_utf8(out).unwrap();
        let exposure = &summary[summary.find("#### Exposure").expect(&summary)..];
        assert!(
            exposure.contains("live 3 days in public history"),
            "{summary}"
        );
        assert!(exposure.contains("40x the period before"), "{summary}");
        assert!(
            exposure.contains("about $12.50 (the project's cost, an upper bound)"),
            "{summary}"
        );
        assert!(exposure.contains("project Production"), "{summary}");
        assert!(!summary.contains(&key), "{summary}");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("a.env:2"), "`a.env:2`");
        assert_eq!(code("we`ird|x"), "`` we`ird\\|x ``");
    }
}
