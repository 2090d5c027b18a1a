//! The GitHub REST client ferret uses everywhere it talks to GitHub: enumerating an
//! organization's repositories ([`repos`]), reading its secret-scanning alerts ([`alerts`]),
//! uploading SARIF to code scanning ([`code_scanning`]), and the hooks' Actions secrets and
//! issues.
//!
//! The token comes from `GITHUB_TOKEN` and the API from `FERRET_GITHUB_API_BASE` (GitHub
//! Enterprise Server, tests), both set by the operator. Rate limits are waited out: the primary
//! limit until its reset, the secondary one for its `retry-after`.

pub mod alerts;
pub mod code_scanning;
pub mod repos;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use octocrab::Octocrab;
use tokio::sync::OnceCell;

/// Where the GitHub API is unless the operator says otherwise.
pub const DEFAULT_GITHUB_API_BASE: &str = "https://api.github.com";
/// Longest rate-limit wait ferret sits through; a longer one fails the call.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
/// Rate-limit waits in a row before giving up on a call.
const MAX_RATE_LIMIT_WAITS: u32 = 5;

/// The GitHub API as the operator configured it; the octocrab client is built on first use,
/// inside the tokio runtime it needs.
pub struct GitHub {
    base: String,
    token: Option<String>,
    client: OnceCell<Result<Octocrab, String>>,
}

impl GitHub {
    /// From `FERRET_GITHUB_API_BASE` and `GITHUB_TOKEN`.
    pub fn from_env() -> Self {
        let base = std::env::var("FERRET_GITHUB_API_BASE")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| DEFAULT_GITHUB_API_BASE.to_string());
        GitHub {
            base: base.trim_end_matches('/').to_string(),
            token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
            client: OnceCell::new(),
        }
    }

    /// The token, for git over HTTPS (never printed, never written to disk).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The API base URL (`https://api.github.com`).
    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn client(&self) -> Result<&Octocrab, String> {
        let built = self
            .client
            .get_or_init(|| async {
                let token = self
                    .token
                    .clone()
                    .ok_or("GITHUB_TOKEN is not set".to_string())?;
                crate::verify::checked_api_base(&self.base).map_err(|e| e.to_string())?;
                // Several crates may link rustls; the first provider installed wins.
                let _ = rustls::crypto::ring::default_provider().install_default();
                Octocrab::builder()
                    .base_uri(self.base.as_str())
                    .map_err(|e| format!("FERRET_GITHUB_API_BASE: {e}"))?
                    .personal_token(token)
                    .build()
                    .map_err(|e| format!("cannot start the GitHub client: {e}"))
            })
            .await;
        built.as_ref().map_err(Clone::clone)
    }

    /// Runs `call`, waiting out rate limits (`on_wait` hears about each wait).
    pub async fn with_rate_limits<T, F, Fut>(
        &self,
        on_wait: &dyn Fn(String),
        mut call: F,
    ) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = octocrab::Result<T>>,
    {
        let mut waits = 0;
        loop {
            let err = match call().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let Some(wait) = rate_limit_wait(&err) else {
                return Err(describe(err));
            };
            waits += 1;
            if waits > MAX_RATE_LIMIT_WAITS || wait > MAX_RATE_LIMIT_WAIT {
                return Err(format!(
                    "{} (rate limited; the limit resets in {}s)",
                    describe(err),
                    wait.as_secs()
                ));
            }
            on_wait(format!(
                "GitHub rate limit reached; waiting {}s",
                wait.as_secs().max(1)
            ));
            tokio::time::sleep(wait).await;
        }
    }
}

/// How long a rate-limited answer says to wait: `retry-after` (secondary limit), else until
/// `x-ratelimit-reset` when no requests remain (primary limit). `None`: not a rate limit.
fn rate_limit_wait(err: &octocrab::Error) -> Option<Duration> {
    let octocrab::Error::GitHub { source, .. } = err else {
        return None;
    };
    if !matches!(source.status_code.as_u16(), 403 | 429) {
        return None;
    }
    let headers = source.headers.as_ref()?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(seconds) = header("retry-after") {
        return Some(Duration::from_secs(seconds));
    }
    if header("x-ratelimit-remaining") == Some(0) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let reset = header("x-ratelimit-reset")?;
        // One second more: the reset is whole seconds.
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    None
}

/// An octocrab error in one line: GitHub's status and message when it answered.
pub fn describe(err: octocrab::Error) -> String {
    match err {
        octocrab::Error::GitHub { source, .. } => format!(
            "GitHub: HTTP {}: {}",
            source.status_code.as_u16(),
            source.message
        ),
        other => format!("GitHub: {other}"),
    }
}

/// `owner/name` split in two.
pub fn split_repository(repository: &str) -> Result<(&str, &str), String> {
    repository
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| format!("`{repository}` is not OWNER/NAME"))
}
