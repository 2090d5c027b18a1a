//! Ferret's own JSON/JSONL records (what `--format json|jsonl` and `ferret merge` write), and
//! the helpers that its SARIF results share with them.

use serde::Deserialize;
use serde_json::Value;

use super::web_url;
use crate::finding::{NotebookCell, Revocation, Verification, VerificationStatus};
use crate::report::page::{FERRET, Place, Sighting, is_full_secret};
use crate::secret::Secret;

/// A record as [`crate::report::FindingRecord`] writes it, plus the `exposure` block that
/// exposure reports add; every field but `rule` may be missing from a hand-made report.
#[derive(Debug, Deserialize)]
struct Record {
    rule: String,
    #[serde(default)]
    rule_name: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    path: String,
    #[serde(default)]
    entry: Option<String>,
    #[serde(default)]
    cell: Option<NotebookCell>,
    #[serde(default)]
    line: u64,
    #[serde(default)]
    column: u64,
    #[serde(default)]
    decoded: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    verification: Option<Value>,
    #[serde(default)]
    revocation: Option<Value>,
    #[serde(default)]
    exposure: Option<Value>,
}

pub fn read_record(value: &Value) -> Result<Sighting, String> {
    let record = Record::deserialize(value).map_err(|e| format!("not a ferret record: {e}"))?;
    let note = notes(
        record.entry.as_deref(),
        record.cell.as_ref(),
        record.decoded.as_deref(),
    );
    let (secret, shown) = secret_and_shown(record.secret);
    Ok(Sighting {
        tool: FERRET.to_string(),
        secret,
        fingerprint: record.fingerprint,
        tool_key: None,
        shown,
        rule_name: record.rule_name.unwrap_or_else(|| record.rule.clone()),
        rule: record.rule,
        severity: record.severity,
        place: Place {
            repository: record.repository,
            path: record.path,
            line: record.line,
            column: record.column,
            commit: record.commit,
            author: record.author,
            date: record.date,
            url: web_url(record.url),
            note,
        },
        verification: verification(record.verification.as_ref()),
        revocation: revocation(record.revocation.as_ref())?,
        exposure: record.exposure.filter(|e| !e.is_null()),
    })
}

/// The full secret when a report holds one (written with `--show-secrets`), else what it shows.
pub fn secret_and_shown(text: String) -> (Option<Secret>, String) {
    if is_full_secret(&text) {
        (Some(Secret::new(text)), String::new())
    } else {
        (None, text)
    }
}

/// `archive entry x, cells[2].source, decoded from base64`.
pub fn notes(
    entry: Option<&str>,
    cell: Option<&NotebookCell>,
    decoded: Option<&str>,
) -> Option<String> {
    let mut notes = Vec::new();
    if let Some(entry) = entry {
        notes.push(format!("archive entry {entry}"));
    }
    if let Some(cell) = cell {
        notes.push(format!("cells[{}].{}", cell.index, cell.part));
    }
    if let Some(encoding) = decoded {
        notes.push(format!("decoded from {encoding}"));
    }
    (!notes.is_empty()).then(|| notes.join(", "))
}

/// A `verification` object; a status this ferret does not know (a newer ferret's) is kept as
/// unverified with the status named in the detail rather than failing the whole report.
pub fn verification(value: Option<&Value>) -> Verification {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Verification::default();
    };
    Verification::deserialize(value).unwrap_or_else(|_| Verification {
        detail: Some(format!(
            "status {} not known to this ferret",
            value["status"].as_str().unwrap_or("(none)")
        )),
        ..Verification::with_status(VerificationStatus::Unverified)
    })
}

pub fn revocation(value: Option<&Value>) -> Result<Option<Revocation>, String> {
    match value.filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(value) => Revocation::deserialize(value)
            .map(Some)
            .map_err(|e| format!("revocation: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_with_a_redacted_secret_keeps_its_fingerprint() {
        let fingerprint = "a".repeat(64);
        let sighting = read_record(&json!({
            "rule": "openai-project-key", "rule_name": "OpenAI project API key",
            "severity": "critical", "fingerprint": fingerprint, "secret": "sk-proj-Ab12…x9Zq",
            "path": "a/.env", "line": 2, "column": 16, "decoded": "base64",
            "url": "javascript:alert(1)",
            "verification": {"status": "live", "organization": "org-1"},
            "revocation": {"status": "revoked", "key_id": "key_1"},
            "exposure": {"requests": 10}
        }))
        .unwrap();
        assert!(sighting.secret.is_none());
        assert_eq!(sighting.shown, "sk-proj-Ab12…x9Zq");
        assert_eq!(sighting.fingerprint.as_deref(), Some(fingerprint.as_str()));
        assert_eq!(sighting.place.note.as_deref(), Some("decoded from base64"));
        assert_eq!(sighting.place.url, None);
        assert_eq!(sighting.verification.status_name(), "live");
        assert_eq!(sighting.revocation.unwrap().status_name(), "revoked");
        assert_eq!(sighting.exposure.unwrap()["requests"], 10);
    }

    #[test]
    fn an_unknown_status_does_not_fail_the_report() {
        let v = verification(Some(&json!({"status": "suspended"})));
        assert_eq!(v.status_name(), "unverified");
        assert!(v.detail.unwrap().contains("suspended"));
    }
}
