//! Reading reports back: the records of a JSON array or JSONL report, as `ferret verify
//! --input`, `ferret revoke --input`, `ferret merge` and `--baseline` take them.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The fields of a JSON/JSONL finding record that verification and revocation need (what
/// [`super::FindingRecord`] wrote).
#[derive(Debug, Deserialize)]
pub struct ReadRecord {
    pub rule: String,
    pub secret: String,
    pub path: String,
    pub line: u64,
    pub column: u64,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub refs: Vec<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub decoded: Option<String>,
    #[serde(default)]
    pub entry: Option<String>,
    #[serde(default)]
    pub cell: Option<crate::finding::NotebookCell>,
}

/// A report record that could not be read: where, and why.
#[derive(Debug, thiserror::Error)]
#[error("{line}: not a ferret JSON or JSONL report")]
pub struct RecordError {
    /// 1-based line of the JSONL record, or where the parser stopped in a JSON array.
    pub line: usize,
    #[source]
    pub source: serde_json::Error,
}

/// Every record of a report's text with the 1-based line it starts on. Text whose first
/// non-blank character is `[` is one JSON array (its records all count as line 1); anything
/// else is JSONL, one record a line, blank lines skipped.
pub fn parse_records<T: DeserializeOwned>(text: &str) -> Result<Vec<(usize, T)>, RecordError> {
    if text.trim_start().starts_with('[') {
        let records: Vec<T> = serde_json::from_str(text).map_err(|source| RecordError {
            line: source.line(),
            source,
        })?;
        return Ok(records.into_iter().map(|r| (1, r)).collect());
    }
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|source| RecordError {
            line: index + 1,
            source,
        })?;
        records.push((index + 1, record));
    }
    Ok(records)
}
