//! The GitHub REST client ferret uses everywhere it talks to GitHub: enumerating an
//! organization's repositories ([`repos`]), reading its secret-scanning alerts ([`alerts`]),
//! uploading SARIF to code scanning ([`code_scanning`]), and the hooks' Actions secrets and
//! issues.
//!
//! The token comes from `GITHUB_TOKEN` and the API from `FERRET_GITHUB_API_BASE` (GitHub
//! Enterprise Server, tests), both set by the operator. Rate limits are waited out: the primary
//! limit until its reset, the secondary one for its `retry-after`.
//!
//! octocrab runs on ferret's own HTTP client ([`crate::http::client`]): no redirect is
//! ever followed, every call has a time limit (`FERRET_GITHUB_TIMEOUT`, answer included), an
//! answer larger than [`MAX_BODY_BYTES`] is not read, the token goes only to the API's own
//! host (octocrab's auth layer, with the upload host set to the API's), and a `link` header
//! that pages to another host is not followed.

pub mod alerts;
pub mod code_scanning;
pub mod repos;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Limited;
use octocrab::service::middleware::auth_header::AuthHeaderLayer;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::reqwest_connector::ReqwestConnector;
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::{AuthState, Octocrab, OctocrabBuilder};
use tokio::sync::OnceCell;
use tower_http::map_response_body::MapResponseBodyLayer;

/// Where the GitHub API is unless the operator says otherwise.
pub const DEFAULT_GITHUB_API_BASE: &str = "https://api.github.com";
/// How long one GitHub call may take, its answer included, unless `FERRET_GITHUB_TIMEOUT` says.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read: a page of 100 repositories is under 1 MiB.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Retries of a call that failed in transit or answered a server error.
const RETRIES: usize = 3;
/// Longest rate-limit wait ferret sits through; a longer one fails the call.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
/// Rate-limit waits in a row before giving up on a call.
const MAX_RATE_LIMIT_WAITS: u32 = 5;

/// The GitHub API as the operator configured it; the octocrab client is built on first use,
/// inside the tokio runtime it needs.
pub struct GitHub {
    base: String,
    token: Option<String>,
    /// `FERRET_GITHUB_TIMEOUT`, or why it could not be read.
    timeout: Result<Duration, String>,
    client: OnceCell<Result<Octocrab, String>>,
}

impl GitHub {
    /// From `FERRET_GITHUB_API_BASE`, `GITHUB_TOKEN` and `FERRET_GITHUB_TIMEOUT`.
    pub fn from_env() -> Self {
        let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let base = variable("FERRET_GITHUB_API_BASE")
            .unwrap_or_else(|| DEFAULT_GITHUB_API_BASE.to_string());
        let timeout = match variable("FERRET_GITHUB_TIMEOUT") {
            Some(text) => text
                .parse::<crate::units::Duration>()
                .map(|d| d.0)
                .map_err(|e| format!("FERRET_GITHUB_TIMEOUT: {e}")),
            None => Ok(DEFAULT_TIMEOUT),
        };
        GitHub {
            base: base.trim_end_matches('/').to_string(),
            token: variable("GITHUB_TOKEN"),
            timeout,
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
                let token = self.token.as_deref().ok_or("GITHUB_TOKEN is not set")?;
                crate::http::checked_api_base(&self.base).map_err(|e| e.to_string())?;
                build_client(&self.base, token, self.timeout.clone()?)
            })
            .await;
        built.as_ref().map_err(Clone::clone)
    }

    /// Whether `uri` is on the API's scheme, host and port.
    fn on_api_host(&self, uri: &http::Uri) -> bool {
        let Ok(base) = self.base.parse::<http::Uri>() else {
            return false;
        };
        uri.scheme() == base.scheme() && uri.authority() == base.authority()
    }

    /// An octocrab error in one line: GitHub's status and message when it answered, else what
    /// went wrong on the way (a timeout, TLS, an answer too large). The token is never in it,
    /// even when an answer echoes it.
    pub fn describe(&self, err: octocrab::Error) -> String {
        describe(err, self.token.as_deref())
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
                return Err(self.describe(err));
            };
            waits += 1;
            if waits > MAX_RATE_LIMIT_WAITS || wait > MAX_RATE_LIMIT_WAIT {
                return Err(format!(
                    "{} (rate limited; the limit resets in {}s)",
                    self.describe(err),
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

/// The octocrab client on ferret's HTTP client (see the module's documentation).
fn build_client(base: &str, token: &str, timeout: Duration) -> Result<Octocrab, String> {
    let base_uri: http::Uri = base
        .parse()
        .map_err(|e| format!("FERRET_GITHUB_API_BASE: {e}"))?;
    let mut authorization = http::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "GITHUB_TOKEN cannot be sent in an HTTP header".to_string())?;
    authorization.set_sensitive(true);
    let http = crate::http::client(timeout).map_err(|e| e.to_string())?;
    let limit_body = MapResponseBodyLayer::new(|body| Limited::new(body, MAX_BODY_BYTES));
    let client = OctocrabBuilder::new_empty()
        .with_service(ReqwestConnector::new(http))
        .with_layer(&tower::retry::RetryLayer::new(RetryConfig::Simple(RETRIES)))
        .with_layer(&limit_body)
        .with_layer(&BaseUriLayer::new(base_uri.clone()))
        // Uploads go to the API's host too: no request elsewhere ever carries the token.
        .with_layer(&AuthHeaderLayer::new(
            Some(authorization),
            base_uri.clone(),
            base_uri,
        ))
        .with_auth(AuthState::None)
        .build();
    match client {
        Ok(client) => Ok(client),
        Err(never) => match never {},
    }
}

/// An octocrab error in one line: GitHub's status and message when it answered, else the
/// innermost cause (a timeout, a TLS failure, an answer too large).
fn describe(err: octocrab::Error, token: Option<&str>) -> String {
    // The token is taken out before a message is shortened, which could cut it in two.
    let shorten = |text: &str| match token {
        Some(token) => crate::http::shorten(&text.replace(token, "***")),
        None => crate::http::shorten(text),
    };
    match &err {
        octocrab::Error::GitHub { source, .. } => {
            return format!(
                "GitHub: HTTP {}: {}",
                source.status_code.as_u16(),
                shorten(&source.message)
            );
        }
        octocrab::Error::Serde { source, .. } => {
            return format!(
                "GitHub: unreadable answer: {}",
                shorten(&source.to_string())
            );
        }
        octocrab::Error::Json { source, .. } => {
            return format!(
                "GitHub: unreadable answer at `{}`: {}",
                source.path(),
                shorten(&source.inner().to_string())
            );
        }
        _ => {}
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(error) = cause {
        if let Some(error) = error.downcast_ref::<reqwest::Error>() {
            return format!("GitHub: {}", shorten(&crate::http::transport_error(error)));
        }
        if error.is::<http_body_util::LengthLimitError>() {
            return format!(
                "GitHub: the answer is larger than {} MiB; not read",
                MAX_BODY_BYTES >> 20
            );
        }
        cause = error.source();
    }
    // Some of octocrab's messages end in a backtrace on further lines; `Other` says only that.
    let text = match &err {
        octocrab::Error::Other { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    format!(
        "GitHub: {}",
        shorten(text.lines().next().unwrap_or_default())
    )
}

/// `owner/name` split in two.
pub fn split_repository(repository: &str) -> Result<(&str, &str), String> {
    repository
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| format!("`{repository}` is not OWNER/NAME"))
}
