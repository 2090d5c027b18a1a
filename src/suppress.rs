//! Suppression: which findings the operator has accepted.
//!
//! Four mechanisms, all keyed so that moving code does not bring a finding back: the inline
//! `ferret:allow` marker (handled by the matcher, which sees the line), fingerprints in
//! `.ferretignore`, `[allowlist]` paths and secret regexes in `.ferret.toml`, and `--baseline`
//! (the fingerprints of an earlier JSON, JSONL or SARIF report). Each run counts what each
//! mechanism suppressed ([`Counts`]).

use std::collections::{BTreeMap, HashMap};
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
    #[error(
        "{}: a SARIF log whose results carry no ferret fingerprint (properties.fingerprint) \
         cannot be a baseline; pass a SARIF, JSON or JSONL report ferret wrote",
        path.display()
    )]
    SarifWithoutFingerprints { path: PathBuf },
}

/// What suppressed a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// `ferret:allow` on the line.
    Inline,
    IgnoreFile,
    ConfigFingerprint,
    Baseline,
    SecretRegex,
    Path,
}

impl Reason {
    /// How a run's summary names it.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Inline => "ferret:allow",
            Reason::IgnoreFile => ".ferretignore",
            Reason::ConfigFingerprint => "[allowlist] fingerprints",
            Reason::Baseline => "--baseline",
            Reason::SecretRegex => "[allowlist] regexes",
            Reason::Path => "[allowlist] paths",
        }
    }
}

/// How many findings (locations) each mechanism suppressed.
#[derive(Clone, Debug, Default)]
pub struct Counts(BTreeMap<Reason, usize>);

impl Counts {
    pub fn add(&mut self, reason: Reason, count: usize) {
        if count > 0 {
            *self.0.entry(reason).or_default() += count;
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        for (reason, count) in &other.0 {
            self.add(*reason, *count);
        }
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

/// `3 (2 by .ferretignore, 1 by --baseline)`.
impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(reason, count)| format!("{count} by {}", reason.describe()))
            .collect();
        write!(f, "{} ({})", self.total(), parts.join(", "))
    }
}

#[derive(Debug, Default)]
pub struct Suppressions {
    /// Accepted fingerprints, and where each was accepted first.
    fingerprints: HashMap<Fingerprint, Reason>,
    paths: GlobSet,
    secret_regexes: Vec<Regex>,
    /// The configuration's directory as report paths name it, when it is not the working
    /// directory: allowlist paths are relative to it (see [`Suppressions::set_base`]).
    base: Option<String>,
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
                .map(|f| {
                    let fingerprint = Fingerprint(f.trim().to_ascii_lowercase());
                    (fingerprint, Reason::ConfigFingerprint)
                })
                .collect(),
            paths: paths
                .build()
                .map_err(|e| config.invalid_entry("paths", bad_glob(&e)))?,
            secret_regexes,
            base: None,
        })
    }

    /// Report paths start with `base` (the scanned directory, as report paths name it: they
    /// are relative to the working directory), while the allowlist's paths are relative to
    /// the directory holding the configuration: a path is then matched with and without it.
    pub fn set_base(&mut self, base: String) {
        self.base = Some(base).filter(|b| !b.is_empty() && b != ".");
    }

    /// Adds the fingerprints listed in a `.ferretignore` file, if it exists; returns a warning
    /// (naming the file and line) for each line that is not a full fingerprint, which is not
    /// used: a `.ferretignore` looks like a gitignore, and a path in it must not look accepted.
    pub fn add_ignore_file(&mut self, path: &Path) -> Result<Vec<String>, SuppressError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(SuppressError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let mut warnings = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            match unusable_fingerprint(entry) {
                None => self.add_fingerprint(entry, Reason::IgnoreFile),
                Some(why) => warnings.push(format!(
                    "{}:{}: `{entry}` ignored: {why}",
                    path.display(),
                    index + 1
                )),
            }
        }
        Ok(warnings)
    }

    fn add_fingerprint(&mut self, fingerprint: &str, reason: Reason) {
        self.fingerprints
            .entry(Fingerprint(fingerprint.to_ascii_lowercase()))
            .or_insert(reason);
    }

    /// Adds every fingerprint of an earlier JSON (array) or JSONL report.
    pub fn add_baseline(&mut self, path: &Path) -> Result<(), SuppressError> {
        let text = std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(fingerprints) = sarif_fingerprints(path, &text)? {
            for fingerprint in fingerprints {
                self.add_fingerprint(&fingerprint, Reason::Baseline);
            }
            return Ok(());
        }
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
            self.add_fingerprint(fingerprint, Reason::Baseline);
        }
        Ok(())
    }

    /// What wholly suppresses a finding (its fingerprint or a secret regex), if anything does.
    pub fn suppresses_secret(&self, finding: &Finding) -> Option<Reason> {
        if let Some(reason) = self.fingerprints.get(&finding.fingerprint) {
            return Some(*reason);
        }
        self.secret_regexes
            .iter()
            .any(|re| re.is_match(finding.secret.expose()))
            .then_some(Reason::SecretRegex)
    }

    /// Whether a path is allowlisted.
    pub fn suppresses_path(&self, path: &str) -> bool {
        if self.paths.is_empty() {
            return false;
        }
        // An archive member (`dist/bundle.zip!config/.env`) is covered by its archive's path,
        // and by each enclosing archive's.
        let archives = path.match_indices('!').map(|(at, _)| &path[..at]);
        std::iter::once(path)
            .chain(archives)
            .any(|candidate| self.matches_path(candidate))
    }

    fn matches_path(&self, path: &str) -> bool {
        let relative = self.base.as_ref().and_then(|base| {
            path.strip_prefix(base.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        });
        self.paths.is_match(path) || relative.is_some_and(|rel| self.paths.is_match(rel))
    }

    /// Drops suppressed findings and locations; returns how many locations each mechanism
    /// dropped.
    pub fn apply(&self, findings: &mut Vec<Finding>) -> Counts {
        let mut counts = Counts::default();
        findings.retain_mut(|finding| {
            if let Some(reason) = self.suppresses_secret(finding) {
                counts.add(reason, finding.locations.len());
                return false;
            }
            let before = finding.locations.len();
            finding
                .locations
                .retain(|location| !self.suppresses_path(&location.path));
            counts.add(Reason::Path, before - finding.locations.len());
            !finding.locations.is_empty()
        });
        counts
    }
}

/// Why a `.ferretignore` entry is not a fingerprint ferret can use, if it is not.
fn unusable_fingerprint(entry: &str) -> Option<&'static str> {
    let hex = entry.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && entry.len() == 64 {
        None
    } else if hex {
        Some("a short fingerprint; .ferretignore takes full ones (64 hex digits)")
    } else if entry.contains('/') || entry.contains('*') || entry.contains('.') {
        Some(
            "a .ferretignore takes fingerprints, not paths; allowlist paths in .ferret.toml's \
             [allowlist] paths",
        )
    } else {
        Some("not a fingerprint (64 hex digits)")
    }
}

/// The fingerprints of a SARIF log ferret wrote (each result's `properties.fingerprint`), or
/// `None` when `text` is not SARIF. A SARIF log whose results lack them (another tool's) is
/// refused by name rather than read as a report it is not.
fn sarif_fingerprints(path: &Path, text: &str) -> Result<Option<Vec<String>>, SuppressError> {
    if !text.trim_start().starts_with('{') {
        return Ok(None);
    }
    let Ok(log) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(None);
    };
    let Some(runs) = log.get("runs").and_then(|r| r.as_array()) else {
        return Ok(None);
    };
    let mut fingerprints = Vec::new();
    for result in runs
        .iter()
        .filter_map(|run| run.get("results")?.as_array())
        .flatten()
    {
        let fingerprint = result
            .pointer("/properties/fingerprint")
            .and_then(|f| f.as_str())
            .ok_or_else(|| SuppressError::SarifWithoutFingerprints {
                path: path.to_path_buf(),
            })?;
        fingerprints.push(fingerprint.to_string());
    }
    Ok(Some(fingerprints))
}
