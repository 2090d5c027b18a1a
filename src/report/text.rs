//! The text report, for people: one block per secret with all its locations.

use std::io::{self, Write};

use super::clean::escape_controls;
use super::{ReportOptions, shown_secret};
use crate::finding::{Finding, Location};

const BOLD_RED: &str = "\x1b[1;31m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

fn paint(options: &ReportOptions, style: &str, text: &str) -> String {
    if options.color {
        format!("{style}{text}{RESET}")
    } else {
        text.to_string()
    }
}

/// Where a location is, one line with its control characters escaped (a path, an author, a
/// repository name come from outside).
fn place(location: &Location) -> String {
    escape_controls(&raw_place(location)).into_owned()
}

fn raw_place(location: &Location) -> String {
    let mut place = format!("{}:{}:{}", location.path, location.line, location.column);
    if let Some(repository) = &location.repository {
        place = format!("{}: {place}", repository.full_name);
    }
    if let Some(cell) = &location.cell {
        place.push_str(&format!(" (cells[{}].{})", cell.index, cell.part));
    }
    if let Some(encoding) = &location.decoded {
        place.push_str(&format!(" (decoded from {encoding})"));
    }
    if let Some(commit) = &location.commit {
        place.push_str(&format!(
            " (commit {} by {}, {})",
            &commit.id[..commit.id.len().min(12)],
            commit.author,
            commit.date
        ));
    }
    place
}

/// `live (org my-company, project proj_1)`, `error: timeout`…, control characters escaped (a
/// provider's message could otherwise forge lines of the report).
fn status_line(finding: &Finding) -> String {
    escape_controls(&raw_status_line(finding)).into_owned()
}

fn raw_status_line(finding: &Finding) -> String {
    let v = &finding.verification;
    let mut line = v.status_name().to_string();
    let owner: Vec<String> = [("org", &v.organization), ("project", &v.project)]
        .iter()
        .filter_map(|(label, value)| value.as_ref().map(|value| format!("{label} {value}")))
        .collect();
    if !owner.is_empty() {
        line.push_str(&format!(" ({})", owner.join(", ")));
    }
    if let Some(detail) = &v.detail {
        line.push_str(&format!(": {detail}"));
    }
    if let Some(r) = &finding.revocation {
        line.push_str(&format!("; {}", r.status_name()));
        if let Some(key_id) = &r.key_id {
            line.push_str(&format!(" {key_id}"));
        }
        if let Some(detail) = &r.detail {
            line.push_str(&format!(": {detail}"));
        }
    }
    line
}

/// All findings, grouped by secret, then a one-line summary.
pub fn write_grouped(
    findings: &[Finding],
    options: &ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    for finding in findings {
        writeln!(
            out,
            "{} {} [{}]",
            paint(options, BOLD_RED, &escape_controls(&finding.rule_id)),
            escape_controls(&finding.rule_name),
            finding.severity
        )?;
        let secret = shown_secret(finding, options);
        writeln!(out, "  secret       {}", escape_controls(&secret))?;
        writeln!(out, "  fingerprint  {}", finding.fingerprint)?;
        writeln!(out, "  status       {}", status_line(finding))?;
        if let Some(exposure) = &finding.exposure {
            writeln!(out, "  exposure     {}", exposure.summary())?;
        }
        for (index, location) in finding.locations.iter().enumerate() {
            let label = if index == 0 { "locations" } else { "" };
            writeln!(
                out,
                "  {label:<11}  {}",
                paint(options, CYAN, &place(location))
            )?;
        }
        if finding.omitted_locations > 0 {
            writeln!(
                out,
                "  {:<11}  … and {} more location(s), not listed (a scan keeps {} per key)",
                "",
                finding.omitted_locations,
                crate::matchset::MAX_LOCATIONS_PER_KEY
            )?;
        }
        writeln!(out)?;
    }
    let locations: u64 = findings
        .iter()
        .map(|f| f.locations.len() as u64 + f.omitted_locations)
        .sum();
    let summary = match findings.len() {
        0 => "No secrets found.".to_string(),
        1 => format!("1 secret found in {locations} location(s)."),
        n => format!("{n} secrets found in {locations} location(s)."),
    };
    writeln!(out, "{}", paint(options, DIM, &summary))
}

/// One finding at one location on one line, for streams.
pub fn write_line(
    finding: &Finding,
    location: &Location,
    options: &ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{}: {} {} [{}]",
        paint(options, CYAN, &place(location)),
        paint(options, BOLD_RED, &escape_controls(&finding.rule_id)),
        escape_controls(&shown_secret(finding, options)),
        status_line(finding)
    )
}

/// What a developer whose commit was just blocked needs to know, after the text report of
/// `ferret git --staged`: what to do about a real key, and every way to let a false positive
/// through.
pub fn write_blocked_commit_hint(options: &ReportOptions, out: &mut dyn Write) -> io::Result<()> {
    let hint = "\
Commit blocked: the staged change adds the key(s) above. Remove them from the staged files
(a key that was ever pushed or shared is compromised: revoke it too).
A false positive? Let it through with one of:
  - `ferret:allow` anywhere on its line;
  - its fingerprint (shown above) on a line of .ferretignore at the repository root;
  - an [allowlist] entry (paths, regexes or fingerprints) in .ferret.toml;
  - a --baseline FILE argument: an earlier JSON/JSONL report whose keys are accepted.
To commit once without the check: git commit --no-verify.";
    writeln!(out, "{}", paint(options, DIM, hint))?;
    out.flush()
}
