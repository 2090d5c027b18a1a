//! The configuration file: what to suppress, and (in the operator's own file only) where keys
//! are verified, how live keys are revoked and rotated, and which hooks hear about it.
//!
//! A `.ferret.toml` may sit inside the tree being scanned, so it is untrusted: it can only
//! narrow what is reported (allowlists), never change where secrets are sent, delete anything
//! or run anything. Only a file the operator names with `--config` may set `[verify]`,
//! `[revoke]`, `[rotation]`, `[[hooks]]` and `[watch]` (README.md, "Usage watch").
//!
//! ```toml
//! [allowlist]
//! paths = ["tests/fixtures/**", "*.md"]      # globs on the reported path
//! regexes = ['^sk-proj-TEST']               # regexes on the secret itself
//! fingerprints = ["<sha256 hex>"]           # known, accepted secrets
//!
//! [verify]                                  # honoured only in a file given with --config
//! api_base = "https://openai-proxy.internal"  # OpenAI's (the same as api_bases.openai)
//!
//! [verify.api_bases]                        # any other provider's (`provider::Provider` names)
//! anthropic = "https://anthropic-proxy.internal"
//! ```
//!
//! `[revoke]`, `[rotation]` and `[[hooks]]` are described in README.md ("Revocation and
//! rotation").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::provider::Provider;
use crate::units::line_and_column;
pub use crate::units::{ByteSize, Duration};

/// Name of the configuration file looked for at the scan root.
pub const CONFIG_FILE_NAME: &str = ".ferret.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `path:line:column: reason`, on one line.
    #[error("{}:{line}:{column}: {reason}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    /// The I/O error is the `source`, which the command line prints after this message
    /// (so it is not repeated in it).
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub allowlist: Allowlist,
    /// Where secrets are verified: honoured only when [`Config::operator`] is set.
    #[serde(default)]
    pub verify: Option<VerifySettings>,
    /// How live keys are revoked: honoured only when [`Config::operator`] is set.
    #[serde(default)]
    pub revoke: Option<RevokeSettings>,
    /// Replacing a leaked key before revoking it: honoured only when [`Config::operator`] is set.
    #[serde(default)]
    pub rotation: Option<RotationSettings>,
    /// Commands, webhooks and GitHub actions run on events: only from the operator's file.
    #[serde(default)]
    pub hooks: Vec<Hook>,
    /// The key policy `ferret keys audit` checks the organizations' keys against.
    #[serde(default)]
    pub policy: Option<PolicySettings>,
    /// `ferret watch usage`'s thresholds (README "Usage watch"); only the operator's file.
    #[serde(default)]
    pub watch: Option<WatchSettings>,
    /// The operator named this file (`--config`); a file found in the scanned tree is not theirs.
    #[serde(skip)]
    pub operator: bool,
    /// The file this came from and its text, to place errors found after parsing.
    #[serde(skip)]
    pub source: Option<(PathBuf, String)>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySettings {
    /// OpenAI's API base (kept from before other providers; wins over `api_bases.openai`).
    pub api_base: Option<String>,
    /// Each provider's API base, by provider name.
    #[serde(default)]
    pub api_bases: BTreeMap<Provider, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevokeSettings {
    /// A leaked service-account key can only be revoked by deleting its service account, which
    /// revokes every key of that account; allowed only when this is set (or rotation is on).
    pub delete_service_accounts: bool,
    /// After revoking, the leaked key is checked again until it fails, at most this many times.
    pub confirm_checks: u32,
    /// Wait before the first check; doubled before each further one.
    pub confirm_first_delay: Duration,
}

impl Default for RevokeSettings {
    fn default() -> Self {
        RevokeSettings {
            delete_service_accounts: false,
            confirm_checks: 8,
            confirm_first_delay: Duration(std::time::Duration::from_secs(1)),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationSettings {
    /// Create a replacement key and deliver it through the hooks before revoking.
    pub enabled: bool,
    /// What to do when the replacement could not be delivered.
    pub on_delivery_failure: DeliveryFailure,
}

/// `[policy]`: what `ferret keys audit` holds every key to. A rule left out is not checked.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// A key older than this is due for rotation (`"90d"`).
    pub max_age: Option<Duration>,
    /// A key not used for this long (or never used, once this old) should be deleted (`"30d"`).
    pub unused_for: Option<Duration>,
    /// At most this many admin keys in an organization.
    pub admin_keys_max: Option<usize>,
    /// A key whose owner left the organization, or the key's project, is a violation (on
    /// unless set to false).
    pub owner_left: Option<bool>,
}

/// The choice between security and availability when a replacement key was not delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryFailure {
    /// Revoke the leaked key anyway: it is public, and every minute it stays live costs money.
    #[default]
    Revoke,
    /// Keep the leaked key live (and delete the undelivered replacement) for a human to decide.
    Hold,
}

/// The events hooks hear about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A finding was reported.
    Found,
    /// A key was verified live.
    VerifiedLive,
    /// A live key was revoked and confirmed dead.
    Revoked,
    /// A replacement key was created; key-receiving hooks get it with this event.
    Rotated,
    /// A live key could not be revoked (failed, ambiguous, not ours, skipped, held).
    Failed,
    /// `ferret watch usage` saw a key used unlike its own history.
    UsageAnomaly,
}

impl EventKind {
    /// The name events and the ledger use.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Found => "found",
            EventKind::VerifiedLive => "verified_live",
            EventKind::Revoked => "revoked",
            EventKind::Rotated => "rotated",
            EventKind::Failed => "failed",
            EventKind::UsageAnomaly => "usage_anomaly",
        }
    }
}

/// One `[[hooks]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Hook {
    /// Runs `argv` (no shell) with the event as JSON on standard input.
    Command {
        argv: Vec<String>,
        /// Default: every event.
        #[serde(default)]
        events: Option<Vec<EventKind>>,
        #[serde(default = "default_hook_timeout")]
        timeout: Duration,
    },
    /// POSTs the event to `url`, signed with HMAC-SHA256 under the secret in `secret_env`.
    Webhook {
        url: String,
        /// The environment variable holding the signing secret (kept out of the file).
        secret_env: String,
        #[serde(default)]
        events: Option<Vec<EventKind>>,
        #[serde(default = "default_hook_timeout")]
        timeout: Duration,
    },
    /// Stores a rotated replacement key as a GitHub Actions secret of `repository`.
    GithubActionsSecret {
        /// `owner/name`, required for rotation: never guessed from where the leak was found (a
        /// copy of a leaked key can sit in anyone's repository).
        #[serde(default)]
        repository: Option<String>,
        secret_name: String,
    },
    /// Opens an issue (redacted) in `repository` for each event.
    GithubIssue {
        #[serde(default)]
        repository: Option<String>,
        #[serde(default)]
        labels: Vec<String>,
        /// Default: `revoked` and `failed`.
        #[serde(default)]
        events: Option<Vec<EventKind>>,
    },
}

fn default_hook_timeout() -> Duration {
    Duration(std::time::Duration::from_secs(30))
}

impl Hook {
    /// A short name for messages and the ledger.
    pub fn name(&self) -> String {
        match self {
            Hook::Command { argv, .. } => {
                format!("command {}", argv.first().map_or("", String::as_str))
            }
            Hook::Webhook { url, .. } => format!("webhook {url}"),
            Hook::GithubActionsSecret { secret_name, .. } => {
                format!("github-actions-secret {secret_name}")
            }
            Hook::GithubIssue { .. } => "github-issue".to_string(),
        }
    }

    /// Whether the hook runs on `event`.
    pub fn listens_to(&self, event: EventKind) -> bool {
        match self {
            Hook::Command { events, .. } | Hook::Webhook { events, .. } => {
                events.as_ref().is_none_or(|e| e.contains(&event))
            }
            Hook::GithubActionsSecret { .. } => event == EventKind::Rotated,
            Hook::GithubIssue { events, .. } => match events {
                Some(events) => events.contains(&event),
                None => matches!(event, EventKind::Revoked | EventKind::Failed),
            },
        }
    }

    /// Whether the hook is given the replacement key (on `rotated`): only hooks that deliver it
    /// somewhere the operator chose, never a webhook or an issue.
    /// A hook that would deliver a new key to a repository nobody named (a config error once
    /// rotation is on).
    pub fn delivers_anywhere(&self) -> bool {
        matches!(
            self,
            Hook::GithubActionsSecret {
                repository: None,
                ..
            }
        )
    }

    pub fn receives_new_key(&self) -> bool {
        match self {
            Hook::Command { .. } => self.listens_to(EventKind::Rotated),
            Hook::GithubActionsSecret { .. } => true,
            Hook::Webhook { .. } | Hook::GithubIssue { .. } => false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub regexes: Vec<String>,
    #[serde(default)]
    pub fingerprints: Vec<String>,
}

impl Config {
    /// Reads the operator's own config file; a missing file is an error (they named it).
    pub fn load_operator(path: &Path) -> Result<Config, ConfigError> {
        let mut config = Self::load(path)?;
        config.operator = true;
        Ok(config)
    }

    fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Reads `root/.ferret.toml` when it exists (untrusted: it came with the scanned tree).
    pub fn load_from_root(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(CONFIG_FILE_NAME);
        if path.is_file() {
            Self::load(&path)
        } else {
            Ok(Config::default())
        }
    }

    /// The verification API base of `provider` this config may set: only the operator's own
    /// file's.
    pub fn operator_api_base(&self, provider: Provider) -> Option<&str> {
        let verify = self.verify.as_ref().filter(|_| self.operator)?;
        let own = verify
            .api_base
            .as_deref()
            .filter(|_| provider == Provider::OpenAi);
        own.or_else(|| verify.api_bases.get(&provider).map(String::as_str))
    }

    /// The sections only the operator's own file may set that this (untrusted) file sets.
    pub fn untrusted_sections(&self) -> Vec<&'static str> {
        if self.operator {
            return Vec::new();
        }
        let mut sections = Vec::new();
        if self.verify.is_some() {
            sections.push("[verify]");
        }
        if self.revoke.is_some() {
            sections.push("[revoke]");
        }
        if self.rotation.is_some() {
            sections.push("[rotation]");
        }
        if !self.hooks.is_empty() {
            sections.push("[[hooks]]");
        }
        if self.watch.is_some() {
            sections.push("[watch]");
        }
        sections
    }

    /// `[revoke]` of the operator's file, else the defaults.
    pub fn operator_revoke_settings(&self) -> RevokeSettings {
        self.revoke
            .clone()
            .filter(|_| self.operator)
            .unwrap_or_default()
    }

    /// `[rotation]` of the operator's file (off unless it says so).
    pub fn operator_rotation_settings(&self) -> RotationSettings {
        self.rotation
            .clone()
            .filter(|_| self.operator)
            .unwrap_or_default()
    }

    /// The hooks to run: the operator's, none from a file found in the scanned tree.
    pub fn operator_hooks(&self) -> &[Hook] {
        if self.operator { &self.hooks } else { &[] }
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|err| {
            let offset = err.span().map_or(0, |span| span.start);
            let (line, column) = line_and_column(text, offset);
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                reason: without_values(&err.message().trim().replace('\n', " ")),
            }
        })?;
        config.source = Some((path.to_path_buf(), text.to_string()));
        Ok(config)
    }

    /// A config error found after parsing (a bad glob or regex), placed at the line naming it.
    pub fn invalid_entry(&self, entry: &str, reason: String) -> ConfigError {
        let (path, text) = self
            .source
            .clone()
            .unwrap_or_else(|| (PathBuf::from(CONFIG_FILE_NAME), String::new()));
        let offset = text.find(entry).unwrap_or(0);
        let (line, column) = line_and_column(&text, offset);
        ConfigError::Syntax {
            path,
            line,
            column,
            reason,
        }
    }
}

/// `[watch]`: how `ferret watch usage` judges a key's hourly use against its own history.
/// Every default is explained in README.md ("Usage watch").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchSettings {
    /// Days of history the baseline (median and MAD) is taken over.
    pub baseline_days: u32,
    /// Days a key must have been seen before it is judged at all.
    pub min_history_days: u32,
    /// Hours with use within the baseline a key needs before it is judged.
    pub min_active_hours: u32,
    /// Baseline samples a cell needs: the same hour of the week, else of the day on the same
    /// kind of day (weekday or weekend), else of the day on every day, else every hour.
    pub min_cell_samples: u32,
    /// Days of usage the first run reads (later runs read only the hours since the last one).
    pub backfill_days: u32,
    /// Minutes usage takes to be complete: the hour that ended less than this ago is left to
    /// the next run.
    pub lag_minutes: u32,
    /// A spike is this many robust standard deviations (1.4826 × MAD) above the median…
    pub spike_mads: f64,
    /// …and at least this many times the median…
    pub spike_ratio: f64,
    /// …and above the median by at least these amounts (noise at low volume is not a spike).
    pub min_extra_requests: f64,
    pub min_extra_tokens: f64,
    pub min_extra_cost_usd: f64,
    /// Requests in one hour, at an hour of the day the key was never used in the baseline, that
    /// make an off-hours anomaly.
    pub off_hours_min_requests: u64,
    /// Days without any use after which use is an idle key waking up.
    pub idle_days: u32,
    /// An anomaly is `critical` (else `warning`) at this many times its baseline (spikes), or
    /// for an idle key waking up with at least `min_extra_requests` requests in the hour.
    pub critical_ratio: f64,
    /// USD per million input and output tokens by model, to watch cost (no prices: no cost).
    pub prices: BTreeMap<String, ModelPrice>,
    /// Which anomalies rotate their key through `ferret keys rotate`'s path (off by default).
    pub revoke_on: RevokeOn,
}

/// Which of the usage watch's anomalies rotate their key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeOn {
    /// None: anomalies are reported and given to the hooks only.
    #[default]
    Off,
    /// `critical` ones: at `critical_ratio` times the key's baseline, or an idle key waking up
    /// with `min_extra_requests` requests in an hour.
    Critical,
}

/// What a model costs, in USD per million tokens.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            baseline_days: 14,
            min_history_days: 7,
            min_active_hours: 24,
            min_cell_samples: 6,
            backfill_days: 28,
            lag_minutes: 15,
            spike_mads: 6.0,
            spike_ratio: 4.0,
            min_extra_requests: 50.0,
            min_extra_tokens: 50_000.0,
            min_extra_cost_usd: 1.0,
            off_hours_min_requests: 20,
            idle_days: 14,
            critical_ratio: 10.0,
            prices: BTreeMap::new(),
            revoke_on: RevokeOn::Off,
        }
    }
}

impl Config {
    /// `[watch]` of the operator's file, else the defaults.
    pub fn operator_watch_settings(&self) -> WatchSettings {
        self.watch
            .clone()
            .filter(|_| self.operator)
            .unwrap_or_default()
    }
}

/// What is wrong with a glob, without the glob.
pub fn glob_reason(err: &globset::Error) -> String {
    err.kind().to_string()
}

/// A TOML error's message with every quoted value taken out (`invalid type: string "…",
/// expected a boolean`): names of settings stay, their values may be keys.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match (c, quoted) {
            ('"', false) => {
                out.push_str("\"…");
                quoted = true;
            }
            ('"', true) => {
                out.push('"');
                quoted = false;
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print_with_binary_units() {
        for (text, bytes) in [
            ("4096", 4096),
            ("64K", 64 << 10),
            ("256m", 256 << 20),
            ("2G", 2 << 30),
        ] {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
        }
        assert_eq!(ByteSize(256 << 20).to_string(), "256M");
        assert_eq!(ByteSize(1000).to_string(), "1000");
        assert!("12T".parse::<ByteSize>().is_err() && "M".parse::<ByteSize>().is_err());
        assert!("99999999999G".parse::<ByteSize>().is_err());
    }

    #[test]
    fn syntax_error_names_file_line_and_reason() {
        let err = Config::parse(
            Path::new("repo/.ferret.toml"),
            "[allowlist]\npaths = [\"a\"]\nregexes = 3\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("repo/.ferret.toml:3:"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::parse(Path::new("c.toml"), "[allowlist]\npath = []\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
