//! Reports: turning findings into text for people, JSON/JSONL for scripts, SARIF for GitHub
//! code scanning, workflow annotations for GitHub Actions, and one offline HTML page; reading
//! JSON/JSONL reports back ([`parse_records`]), and other tools' reports into the HTML page
//! ([`import`]). Every writer redacts secrets unless `show_secrets` is set.

mod chart;
pub mod clean;
mod github;
pub mod html;
pub mod import;
pub mod page;
mod records;
mod sarif;
mod text;

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::finding::{
    CommitInfo, Finding, Location, NotebookCell, Revocation, Verification, VerificationStatus,
};
use crate::rules::Rule;

pub use github::{write_command, write_step_summary};
pub use records::{ReadRecord, RecordError, parse_records};
pub use sarif::sarif_log;
pub use text::write_blocked_commit_hint;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Jsonl,
    Sarif,
    /// GitHub Actions workflow commands: one `::error file=…,line=…::` annotation a location.
    Github,
    /// One self-contained HTML page: counts, a chart, a table to filter and sort.
    Html,
}

impl Format {
    /// The format an output file's extension implies, if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".sarif") || name.ends_with(".sarif.json") {
            Some(Format::Sarif)
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            Some(Format::Jsonl)
        } else if name.ends_with(".json") {
            Some(Format::Json)
        } else if name.ends_with(".txt") {
            Some(Format::Text)
        } else if name.ends_with(".html") || name.ends_with(".htm") {
            Some(Format::Html)
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ReportOptions {
    /// Print full secrets instead of the redacted form.
    pub show_secrets: bool,
    /// ANSI colours in text output.
    pub color: bool,
}

/// One finding at one location: the JSON/JSONL object of the contract.
#[derive(Debug, Serialize)]
pub struct FindingRecord<'a> {
    /// `owner/name`, for findings of an org-wide sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<&'a str>,
    pub rule: &'a str,
    pub rule_name: &'a str,
    pub severity: &'a str,
    pub fingerprint: &'a str,
    pub secret: String,
    /// Inside an archive: `archive!entry`.
    pub path: &'a str,
    /// Inside an archive, the entry's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<&'a str>,
    /// In a Jupyter notebook, the cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<&'a NotebookCell>,
    pub line: u64,
    pub column: u64,
    /// How the secret was encoded at this place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refs: Option<&'a [String]>,
    /// The line on the repository's web pages, at the commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub verification: &'a Verification,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation: Option<&'a Revocation>,
    /// Locations of this key past the cap of what a scan holds: counted, not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omitted_locations: Option<u64>,
    /// With `--exposure`: what the live key did while it was public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<&'a crate::exposure::Exposure>,
}

impl<'a> FindingRecord<'a> {
    pub fn new(finding: &'a Finding, location: &'a Location, options: &ReportOptions) -> Self {
        let commit: Option<&CommitInfo> = location.commit.as_ref();
        FindingRecord {
            repository: location.repository.as_deref().map(|r| r.full_name.as_str()),
            rule: &finding.rule_id,
            rule_name: &finding.rule_name,
            severity: finding.severity.as_str(),
            fingerprint: &finding.fingerprint.0,
            secret: shown_secret(finding, options),
            path: &location.path,
            entry: location.entry.as_deref(),
            cell: location.cell.as_ref(),
            line: location.line,
            column: location.column,
            decoded: location.decoded.as_deref(),
            commit: commit.map(|c| c.id.as_str()),
            author: commit.map(|c| c.author.as_str()),
            date: commit.map(|c| c.date.as_str()),
            refs: commit.map(|c| c.refs.as_slice()).filter(|r| !r.is_empty()),
            url: location.url(),
            verification: &finding.verification,
            revocation: finding.revocation.as_ref(),
            omitted_locations: (finding.omitted_locations > 0).then_some(finding.omitted_locations),
            exposure: finding.exposure.as_deref(),
        }
    }
}

/// The secret as reports show it: redacted unless the operator asked for the full value.
pub fn shown_secret(finding: &Finding, options: &ReportOptions) -> String {
    if options.show_secrets {
        finding.secret.expose_str()
    } else {
        finding.secret.redacted()
    }
}

/// One sentence about a finding at a location, for SARIF results and annotations:
/// `OpenAI project API key sk-proj-Ab12…x9Zq found (decoded from base64) in acme/api in
/// commit <id> (verified live).`
pub(crate) fn one_line_message(
    finding: &Finding,
    location: &Location,
    options: &ReportOptions,
) -> String {
    let mut text = format!(
        "{} {} found",
        finding.rule_name,
        shown_secret(finding, options)
    );
    if let Some(entry) = &location.entry {
        text.push_str(&format!(" in archive entry {entry}"));
    }
    if let Some(cell) = &location.cell {
        text.push_str(&format!(" in cells[{}].{}", cell.index, cell.part));
    }
    if let Some(encoding) = &location.decoded {
        text.push_str(&format!(" (decoded from {encoding})"));
    }
    if let Some(repository) = &location.repository {
        text.push_str(&format!(" in {}", repository.full_name));
    }
    if let Some(commit) = &location.commit {
        text.push_str(&format!(" in commit {}", commit.id));
    }
    if finding.verification.status != VerificationStatus::Unverified {
        text.push_str(&format!(
            " (verified {})",
            finding.verification.status_name()
        ));
    }
    if let Some(revocation) = &finding.revocation {
        text.push_str(&format!(" (revocation: {})", revocation.status_name()));
    }
    text.push('.');
    text
}

/// Writes a complete report of `findings`. `warnings` are what the run could not read or check:
/// SARIF carries them (text and annotation readers see them on stderr; JSON's shape is a list
/// of findings, so it does not).
pub fn write_report(
    format: Format,
    findings: &[Finding],
    rules: &[Rule],
    options: &ReportOptions,
    warnings: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    let findings = &*clean::printable(findings, options);
    match format {
        Format::Text => text::write_grouped(findings, options, out),
        Format::Json => {
            let records: Vec<FindingRecord> = records(findings, options).collect();
            serde_json::to_writer_pretty(&mut *out, &records)?;
            writeln!(out)
        }
        Format::Jsonl => {
            for record in records(findings, options) {
                write_jsonl(&record, out)?;
            }
            Ok(())
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(
                &mut *out,
                &sarif_log(findings, rules, options, warnings),
            )?;
            writeln!(out)
        }
        Format::Github => github::write_annotations(findings, options, out),
        Format::Html => html::write_page(&page::Page::from_findings(findings, options), out),
    }?;
    out.flush()
}

fn records<'a>(
    findings: &'a [Finding],
    options: &'a ReportOptions,
) -> impl Iterator<Item = FindingRecord<'a>> {
    findings.iter().flat_map(move |finding| {
        finding
            .locations
            .iter()
            .map(move |location| FindingRecord::new(finding, location, options))
    })
}

fn write_jsonl(record: &FindingRecord, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    writeln!(out)
}

/// A report written while a stream is scanned: text, JSONL and annotation lines go out
/// (flushed) as each finding is seen; JSON, SARIF and HTML, which are single documents, are
/// written at the end.
pub struct StreamingReport<'o> {
    format: Format,
    options: ReportOptions,
    out: &'o mut dyn Write,
    /// For a single document: one finding per key, its locations capped
    /// ([`crate::matchset::MAX_LOCATIONS_PER_KEY`]), so a stream that goes on holds memory
    /// for its distinct keys only.
    held: Vec<Finding>,
    held_index: std::collections::HashMap<(String, crate::secret::Fingerprint), usize>,
}

impl<'o> StreamingReport<'o> {
    pub fn new(format: Format, options: ReportOptions, out: &'o mut dyn Write) -> Self {
        StreamingReport {
            format,
            options,
            out,
            held: Vec::new(),
            held_index: Default::default(),
        }
    }

    /// Reports one finding (with one location) now, or holds it for the final document.
    pub fn push(&mut self, finding: Finding) -> io::Result<()> {
        // The key in any other field (a file or author name) redacted now; the held findings
        // of a single document are redacted again, with every key of the report, at the end.
        let finding = match self.options.show_secrets {
            true => finding,
            false => clean::Redactor::new([&finding.secret]).finding(&finding),
        };
        match self.format {
            Format::Text => {
                text::write_line(&finding, &finding.locations[0], &self.options, self.out)?;
                self.out.flush()
            }
            Format::Jsonl => {
                let record = FindingRecord::new(&finding, &finding.locations[0], &self.options);
                write_jsonl(&record, self.out)?;
                self.out.flush()
            }
            Format::Github => {
                github::write_annotations(std::slice::from_ref(&finding), &self.options, self.out)?;
                self.out.flush()
            }
            Format::Json | Format::Sarif | Format::Html => {
                self.hold(finding);
                Ok(())
            }
        }
    }

    fn hold(&mut self, finding: Finding) {
        let key = (finding.rule_id.clone(), finding.fingerprint.clone());
        match self.held_index.get(&key) {
            Some(&at) => {
                let held = &mut self.held[at];
                let room =
                    crate::matchset::MAX_LOCATIONS_PER_KEY.saturating_sub(held.locations.len());
                let count = finding.locations.len();
                held.locations
                    .extend(finding.locations.into_iter().take(room));
                held.omitted_locations += (count.saturating_sub(room)) as u64;
                held.omitted_locations += finding.omitted_locations;
            }
            None => {
                self.held_index.insert(key, self.held.len());
                self.held.push(finding);
            }
        }
    }

    /// Writes the final document for JSON, SARIF and HTML, with the run's `warnings`.
    pub fn finish(self, rules: &[Rule], warnings: &[String]) -> io::Result<()> {
        match self.format {
            Format::Json | Format::Sarif | Format::Html => write_report(
                self.format,
                &self.held,
                rules,
                &self.options,
                warnings,
                self.out,
            ),
            Format::Text | Format::Jsonl | Format::Github => self.out.flush(),
        }
    }
}
