//! What a scan produces: a [`Match`] is one secret at one [`Location`]; a [`Finding`] is one
//! secret of one rule with every location where it was seen (one fingerprint, many places).

use serde::Serialize;

use crate::rules::{Rule, Severity};
use crate::secret::{Fingerprint, Secret};

/// The commit that introduced a blob, for findings from git history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    /// 40-hex commit id.
    pub id: String,
    /// `Name <mail>`.
    pub author: String,
    /// RFC 3339.
    pub date: String,
    /// The refs that contain the commit (full history scans only).
    pub refs: Vec<String>,
}

/// The hosted repository a location belongs to (org-wide sweeps).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceRepository {
    /// `owner/name`.
    pub full_name: String,
    /// Its web page (`https://github.com/owner/name`); empty when unknown.
    pub html_url: String,
}

/// The notebook cell a secret sits in: `cells[index]` of a Jupyter notebook, in the member
/// `part` of that cell (`source`, `outputs`, `attachments`…).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NotebookCell {
    /// 0-based, as in the notebook's `cells` array.
    pub index: u64,
    pub part: String,
}

/// Where a secret was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Relative to the scan root with `/` separators (`stdin` for standard input). Inside an
    /// archive, the archive's path, `!`, and the entry's path: `dist/app.zip!config/.env`.
    pub path: String,
    /// Inside an archive, the entry's path (the part of `path` after the archive's path and
    /// its `!`; nested archives add more: `lib.jar!META-INF/app.zip!key.txt`).
    pub entry: Option<String>,
    /// In a Jupyter notebook, the cell.
    pub cell: Option<NotebookCell>,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters (see `matcher::count_chars`).
    pub column: u64,
    /// Set for findings that come from git history.
    pub commit: Option<CommitInfo>,
    /// Set for findings of an org-wide sweep.
    pub repository: Option<std::sync::Arc<SourceRepository>>,
    /// How the secret was encoded here (`base64`, `utf-16le`, `percent`…; chains read from the
    /// outside in: `base64>json-escape`); the line and column are those of the encoded text.
    pub decoded: Option<String>,
}

impl Location {
    /// The file (or blob path) on disk or in the repository: the archive holding the secret,
    /// for a secret inside one.
    pub fn file_path(&self) -> &str {
        self.entry
            .as_deref()
            .and_then(|entry| self.path.strip_suffix(entry)?.strip_suffix('!'))
            .unwrap_or(&self.path)
    }

    /// The web address of the line at its commit, when the repository's page is known.
    pub fn url(&self) -> Option<String> {
        let repository = self
            .repository
            .as_ref()
            .filter(|r| !r.html_url.is_empty())?;
        let commit = self.commit.as_ref()?;
        Some(format!(
            "{}/blob/{}/{}{}",
            repository.html_url,
            commit.id,
            self.file_path(),
            if self.entry.is_some() {
                String::new()
            } else {
                format!("#L{}", self.line)
            }
        ))
    }
}

/// One secret at one location, as a source and the matcher produce it.
#[derive(Clone, Debug)]
pub struct Match {
    /// Index of the rule in the matcher's rule list.
    pub rule: usize,
    pub secret: Secret,
    pub location: Location,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Live,
    Invalid,
    QuotaExceeded,
    Restricted,
    Error,
    Unverified,
}

/// What the provider said about a secret. `unverified` until verification runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Verification {
    pub status: VerificationStatus,
    /// The organization the key belongs to (OpenAI's `openai-organization` header: its name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The project, when the provider says (`openai-project`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The provider's id of the verification request (`x-request-id`), for support tickets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Why, in a few words, when the status needs explaining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Default for Verification {
    fn default() -> Self {
        Verification::with_status(VerificationStatus::Unverified)
    }
}

impl Verification {
    pub fn with_status(status: VerificationStatus) -> Self {
        Verification {
            status,
            organization: None,
            project: None,
            request_id: None,
            detail: None,
        }
    }

    /// The status as reports spell it (`live`, `quota_exceeded`…).
    pub fn status_name(&self) -> &'static str {
        match self.status {
            VerificationStatus::Live => "live",
            VerificationStatus::Invalid => "invalid",
            VerificationStatus::QuotaExceeded => "quota_exceeded",
            VerificationStatus::Restricted => "restricted",
            VerificationStatus::Error => "error",
            VerificationStatus::Unverified => "unverified",
        }
    }

    /// Verification ran (or could not) without telling whether the key is live: an `error`,
    /// or `unverified` (no verifier for the rule, a budget that ran out).
    pub fn is_undetermined(&self) -> bool {
        matches!(
            self.status,
            VerificationStatus::Error | VerificationStatus::Unverified
        )
    }

    /// The key works (even if restricted or out of credit): someone can use it.
    pub fn is_live(&self) -> bool {
        matches!(
            self.status,
            VerificationStatus::Live
                | VerificationStatus::Restricted
                | VerificationStatus::QuotaExceeded
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    /// Deleted by this run (or an earlier one) and confirmed dead.
    Revoked,
    /// Gone before ferret deleted it (someone else, or an interrupted earlier run).
    AlreadyRevoked,
    /// Not a key of the admin key's organization (or a legacy user key the API cannot see).
    NotOurs,
    /// Several keys of the organization fit the leak; a human must choose.
    Ambiguous,
    /// Revocation was attempted and did not complete.
    Failed,
    /// Not attempted: policy (a service account, ferret's own admin key) says a human decides.
    Skipped,
    /// `--dry-run`: what would be done.
    Planned,
}

/// What revocation did about a live key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Revocation {
    pub status: RevocationStatus,
    /// The organization's id of the leaked key (`key_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The service account deleted with the key, when it was a service-account key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Other keys that died with it (the service account's other keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_revoked: Vec<String>,
    /// With `ambiguous`: the ids of the keys that fit the leak, none proven to be it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// The replacement created by rotation: its service account and key id (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Replacement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Replacement {
    pub service_account: String,
    pub key_id: String,
}

impl Revocation {
    pub fn new(status: RevocationStatus, detail: impl Into<Option<String>>) -> Self {
        Revocation {
            status,
            key_id: None,
            project: None,
            service_account: None,
            also_revoked: Vec::new(),
            candidates: Vec::new(),
            replacement: None,
            detail: detail.into(),
        }
    }

    /// The status as reports spell it.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            RevocationStatus::Revoked => "revoked",
            RevocationStatus::AlreadyRevoked => "already_revoked",
            RevocationStatus::NotOurs => "not_ours",
            RevocationStatus::Ambiguous => "ambiguous",
            RevocationStatus::Failed => "failed",
            RevocationStatus::Skipped => "skipped",
            RevocationStatus::Planned => "planned",
        }
    }

    /// The key is dead.
    pub fn is_done(&self) -> bool {
        matches!(
            self.status,
            RevocationStatus::Revoked | RevocationStatus::AlreadyRevoked
        )
    }
}

/// One secret found by one rule, with every place it was seen.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub secret: Secret,
    pub fingerprint: Fingerprint,
    pub locations: Vec<Location>,
    pub verification: Verification,
    /// Set when `--revoke` acted (or planned to act) on the key.
    pub revocation: Option<Revocation>,
    /// Locations past the cap of a scan's memory (`matchset::MAX_LOCATIONS_PER_KEY`): counted,
    /// not listed.
    pub omitted_locations: u64,
    /// With `--exposure`: what the live key did while it was public.
    pub exposure: Option<Box<crate::exposure::Exposure>>,
}

impl Finding {
    pub fn new(rule: &Rule, secret: Secret, locations: Vec<Location>) -> Self {
        Finding {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            severity: rule.severity,
            fingerprint: secret.fingerprint(),
            secret,
            locations,
            verification: Verification::default(),
            revocation: None,
            omitted_locations: 0,
            exposure: None,
        }
    }

    /// Groups matches by rule and secret, ordered by each group's first location; locations
    /// are sorted by path, line and column and deduplicated.
    pub fn group(rules: &[Rule], mut matches: Vec<Match>) -> Vec<Finding> {
        matches.sort_by(|a, b| location_order(&a.location, &b.location));
        let mut findings: Vec<Finding> = Vec::new();
        let mut index: std::collections::HashMap<(usize, Secret), usize> = Default::default();
        for m in matches {
            match index.get(&(m.rule, m.secret.clone())) {
                Some(&at) => {
                    let locations = &mut findings[at].locations;
                    if locations.last() != Some(&m.location) {
                        locations.push(m.location);
                    }
                }
                None => {
                    index.insert((m.rule, m.secret.clone()), findings.len());
                    findings.push(Finding::new(&rules[m.rule], m.secret, vec![m.location]));
                }
            }
        }
        findings
    }
}

pub(crate) fn location_order(a: &Location, b: &Location) -> std::cmp::Ordering {
    (repository_name(a), &a.path, a.line, a.column).cmp(&(
        repository_name(b),
        &b.path,
        b.line,
        b.column,
    ))
}

fn repository_name(location: &Location) -> &str {
    location
        .repository
        .as_deref()
        .map_or("", |r| r.full_name.as_str())
}
