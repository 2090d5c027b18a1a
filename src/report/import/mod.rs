//! Reading other reports for `ferret report`: ferret's own JSON, JSONL and SARIF, any SARIF
//! 2.1.0, gitleaks' JSON, TruffleHog's JSONL and Kingfisher's JSON/JSONL, each turned into
//! [`Sighting`]s for the HTML page.
//!
//! The kind of a report is told by its records, not its file name: a report is a sequence of
//! JSON values (one document, JSON lines, or several documents one after another, as
//! Kingfisher prints a summary after its report), and each record is recognised by the fields
//! its tool always writes. Log lines that a tool printed among its results (`{"level": …,
//! "msg": …}`) are skipped; anything else unknown is an error naming its line.

mod ferret;
mod gitleaks;
mod kingfisher;
mod sarif;
mod trufflehog;

use serde_json::Value;

use super::page::Sighting;
use crate::finding::{Verification, VerificationStatus};

/// What one report held.
#[derive(Debug, Default)]
pub struct Imported {
    /// The tools whose records it held (`ferret`, `gitleaks`, a SARIF producer…).
    pub tools: Vec<String>,
    pub sightings: Vec<Sighting>,
}

/// A report that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: not JSON")]
    Json {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("line {line}: {reason}")]
    Record { line: usize, reason: String },
}

/// The records of one report, whatever tool wrote it.
pub fn read_report(text: &str) -> Result<Imported, ImportError> {
    let mut imported = Imported::default();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    // Lines are counted as the stream moves on (counting from the start each time would be
    // quadratic in a JSONL file of many records).
    let (mut counted_to, mut line) = (0, 1);
    loop {
        let start = stream.byte_offset();
        let value = match stream.next() {
            None => break,
            Some(Ok(value)) => value,
            Some(Err(source)) => {
                return Err(ImportError::Json {
                    line: source.line(),
                    source,
                });
            }
        };
        let at = first_non_blank(text, start);
        line += text[counted_to..at].matches('\n').count();
        counted_to = at;
        let fail = |reason: String| ImportError::Record { line, reason };
        match value {
            Value::Array(records) => {
                for record in &records {
                    read_value(record, &mut imported).map_err(fail)?;
                }
            }
            value => read_value(&value, &mut imported).map_err(fail)?,
        }
    }
    Ok(imported)
}

/// Where the first non-blank character at or after `offset` is.
fn first_non_blank(text: &str, offset: usize) -> usize {
    let rest = &text[offset.min(text.len())..];
    text.len() - rest.trim_start().len()
}

fn read_value(value: &Value, into: &mut Imported) -> Result<(), String> {
    let Some(object) = value.as_object() else {
        return Err("a report record must be a JSON object".to_string());
    };
    let has = |key: &str| object.contains_key(key);
    let (tool, sightings): (&str, Vec<Sighting>) = if has("runs") && has("version") {
        return sarif::read_log(value, into);
    } else if let Some(findings) = object.get("findings").and_then(Value::as_array) {
        ("kingfisher", kingfisher::read_findings(findings)?)
    } else if value["rule"].is_object() && value["finding"].is_object() {
        ("kingfisher", vec![kingfisher::read_match(value)?])
    } else if value["matches"].is_array() && has("id") {
        (
            "kingfisher",
            kingfisher::read_findings(std::slice::from_ref(value))?,
        )
    } else if has("RuleID") {
        ("gitleaks", vec![gitleaks::read(value)?])
    } else if has("DetectorName") || has("SourceMetadata") {
        ("trufflehog", vec![trufflehog::read(value)?])
    } else if value["rule"].is_string() && (has("fingerprint") || has("secret")) {
        (super::page::FERRET, vec![ferret::read_record(value)?])
    } else if (has("level") && (has("msg") || has("message"))) || value["findings"].is_number() {
        // A tool's log line, or Kingfisher's run summary: not a finding.
        return Ok(());
    } else {
        return Err(
            "not a finding of ferret, gitleaks, TruffleHog, Kingfisher or SARIF 2.1.0".to_string(),
        );
    };
    note_tool(into, tool);
    into.sightings.extend(sightings);
    Ok(())
}

fn note_tool(into: &mut Imported, tool: &str) {
    if !into.tools.iter().any(|t| t == tool) {
        into.tools.push(tool.to_string());
    }
}

/// A non-empty string at `pointer` (`/a/b`).
fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A number at `pointer`, also when written as a string.
fn number(value: &Value, pointer: &str) -> Option<u64> {
    let found = value.pointer(pointer)?;
    found
        .as_u64()
        .or_else(|| found.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Only web addresses become links: a report could hold `javascript:` or `file:` ones.
fn web_url(url: Option<String>) -> Option<String> {
    url.filter(|u| {
        let lower = u.to_ascii_lowercase();
        lower.starts_with("https://") || lower.starts_with("http://")
    })
}

/// `owner/name` for a GitHub repository address, the address for another hosted one, and
/// nothing for a local path (ferret's own scans of a local repository name none either).
fn repository_name(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/').trim_end_matches(".git");
    for prefix in [
        "https://github.com/",
        "http://github.com/",
        "git@github.com:",
    ] {
        if let Some(rest) = url.strip_prefix(prefix) {
            return Some(rest.to_string());
        }
    }
    let remote = ["https://", "http://", "ssh://", "git@"]
        .iter()
        .any(|p| url.starts_with(p));
    remote.then(|| url.to_string())
}

/// The line at a commit on GitHub, when the repository is on GitHub.
fn github_blob_url(repository: &str, commit: &str, path: &str, line: u64) -> Option<String> {
    let name = repository_name(repository).filter(|n| !n.contains("://"))?;
    if !repository.contains("github.com") {
        return None;
    }
    Some(format!(
        "https://github.com/{name}/blob/{commit}/{path}{}",
        if line > 0 {
            format!("#L{line}")
        } else {
            String::new()
        }
    ))
}

/// `Name <mail>` from whichever of the two a tool gives.
fn author(name: Option<String>, email: Option<String>) -> Option<String> {
    match (name, email) {
        (Some(name), Some(email)) if !name.contains('<') => Some(format!("{name} <{email}>")),
        (Some(name), _) => Some(name),
        (None, Some(email)) => Some(email),
        (None, None) => None,
    }
}

/// Paths relative to the scan root, as ferret writes them.
fn relative(path: String) -> String {
    match path.strip_prefix("./") {
        Some(rest) => rest.to_string(),
        None => path,
    }
}

/// A verification with only a status and, when there is one, a reason.
fn verdict(status: VerificationStatus, detail: Option<String>) -> Verification {
    Verification {
        detail,
        ..Verification::with_status(status)
    }
}

/// Text a provider or tool sent, cut to what a table cell can hold.
fn shorten(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_links() {
        assert_eq!(
            repository_name("https://github.com/acme/api.git").as_deref(),
            Some("acme/api")
        );
        assert_eq!(
            repository_name("git@github.com:acme/api.git").as_deref(),
            Some("acme/api")
        );
        assert_eq!(repository_name("/tmp/checkout"), None);
        assert_eq!(repository_name("file:///tmp/checkout"), None);
        assert_eq!(
            github_blob_url("https://github.com/acme/api", "abc", "a/b.py", 3).as_deref(),
            Some("https://github.com/acme/api/blob/abc/a/b.py#L3")
        );
        assert_eq!(
            github_blob_url("https://gitlab.com/acme/api", "c", "p", 1),
            None
        );
        assert_eq!(web_url(Some("javascript:alert(1)".to_string())), None);
    }

    #[test]
    fn unknown_records_and_broken_json_name_their_line() {
        let err = read_report("\n\n{\"what\": 1}\n").unwrap_err();
        assert_eq!(err.to_string(), format!("line 3: {}", err_reason(&err)));
        assert!(matches!(
            read_report("[1,").unwrap_err(),
            ImportError::Json { .. }
        ));
        assert!(read_report("").unwrap().sightings.is_empty());
        let logs = read_report("{\"level\":\"info\",\"msg\":\"scanning\"}\n").unwrap();
        assert!(logs.sightings.is_empty());
    }

    fn err_reason(err: &ImportError) -> String {
        match err {
            ImportError::Record { reason, .. } => reason.clone(),
            ImportError::Json { .. } => String::new(),
        }
    }
}
