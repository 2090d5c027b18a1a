//! Suppression: which findings the operator has accepted.
//!
//! Four mechanisms, all keyed so that moving code does not bring a finding back: the inline
//! `ferret:allow` marker (handled by the matcher, which sees the line), fingerprints in
//! `.ferretignore`, `[allowlist]` paths and secret regexes in `.ferret.toml`, and `--baseline`
//! (the fingerprints of an earlier JSON or JSONL report).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;

use crate::config::{Config, ConfigError};
use crate::finding::Finding;
use crate::secret::Fingerprint;

/// File of accepted fingerprints looked for at the scan root: one per line, `#` comments.
pub const IGNORE_FILE_NAME: &str = ".ferretignore";

#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The I/O error is the `source`, which the command line prints after this message
    /// (so it is not repeated in it).
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not a ferret JSON or JSONL report", path.display())]
    Baseline {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{}:{line}: not a ferret JSON or JSONL report: a finding has no `fingerprint`",
        path.display()
    )]
    NoFingerprint { path: PathBuf, line: usize },
}

#[derive(Debug, Default)]
pub struct Suppressions {
    fingerprints: HashSet<Fingerprint>,
    paths: GlobSet,
    secret_regexes: Vec<Regex>,
}

/// A bad `[allowlist] paths` glob, named by its setting (the glob may hold a key).
fn bad_glob(err: &globset::Error) -> String {
    format!(
        "allowlist.paths: bad glob: {}",
        crate::config::glob_reason(err)
    )
}

impl Suppressions {
    /// Builds the allowlist of a config file.
    pub fn from_config(config: &Config) -> Result<Self, SuppressError> {
        let mut paths = GlobSetBuilder::new();
        for pattern in &config.allowlist.paths {
            let glob =
                Glob::new(pattern).map_err(|e| config.invalid_entry(pattern, bad_glob(&e)))?;
            paths.add(glob);
        }
        let mut secret_regexes = Vec::new();
        for pattern in &config.allowlist.regexes {
            secret_regexes.push(Regex::new(pattern).map_err(|e| {
                let reason = format!(
                    "allowlist.regexes: bad regex: {}",
                    crate::rules::regex_reason(&e)
                );
                config.invalid_entry(pattern, reason)
            })?);
        }
        Ok(Suppressions {
            fingerprints: config
                .allowlist
                .fingerprints
                .iter()
                .map(|f| Fingerprint(f.trim().to_ascii_lowercase()))
                .collect(),
            paths: paths
                .build()
                .map_err(|e| config.invalid_entry("paths", bad_glob(&e)))?,
            secret_regexes,
        })
    }

    /// Adds the fingerprints listed in a `.ferretignore` file, if it exists.
    pub fn add_ignore_file(&mut self, path: &Path) -> Result<(), SuppressError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(SuppressError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        for line in text.lines() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if !entry.is_empty() {
                self.fingerprints
                    .insert(Fingerprint(entry.to_ascii_lowercase()));
            }
        }
        Ok(())
    }

    /// Adds every fingerprint of an earlier JSON (array) or JSONL report.
    pub fn add_baseline(&mut self, path: &Path) -> Result<(), SuppressError> {
        let text = std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let records = crate::report::parse_records::<serde_json::Value>(&text).map_err(|e| {
            SuppressError::Baseline {
                path: path.to_path_buf(),
                line: e.line,
                source: e.source,
            }
        })?;
        for (line, record) in records {
            let fingerprint = record
                .get("fingerprint")
                .and_then(|f| f.as_str())
                .ok_or_else(|| SuppressError::NoFingerprint {
                    path: path.to_path_buf(),
                    line,
                })?;
            self.fingerprints
                .insert(Fingerprint(fingerprint.to_ascii_lowercase()));
        }
        Ok(())
    }

    /// Whether a finding is wholly suppressed by fingerprint or secret regex.
    pub fn suppresses_secret(&self, finding: &Finding) -> bool {
        self.fingerprints.contains(&finding.fingerprint)
            || self
                .secret_regexes
                .iter()
                .any(|re| re.is_match(finding.secret.expose()))
    }

    /// Whether a path is allowlisted.
    pub fn suppresses_path(&self, path: &str) -> bool {
        !self.paths.is_empty() && self.paths.is_match(path)
    }

    /// Drops suppressed findings and locations; returns how many locations were dropped.
    pub fn apply(&self, findings: &mut Vec<Finding>) -> usize {
        let mut dropped = 0;
        findings.retain_mut(|finding| {
            if self.suppresses_secret(finding) {
                dropped += finding.locations.len();
                return false;
            }
            let before = finding.locations.len();
            finding
                .locations
                .retain(|location| !self.suppresses_path(&location.path));
            dropped += before - finding.locations.len();
            !finding.locations.is_empty()
        });
        dropped
    }
}
