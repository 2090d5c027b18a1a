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
pub mod listing;
pub mod repos;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Limited;
use octocrab::service::middleware::auth_header::AuthHeaderLayer;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::reqwest_connector::ReqwestConnector;
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::{AuthState, OctoBody, Octocrab, OctocrabBuilder};
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
pub(crate) const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
/// Rate-limit waits in a row before giving up on a call.
pub(crate) const MAX_RATE_LIMIT_WAITS: u32 = 5;

/// Why a GitHub call failed. Callers decide by the variant: a rate limit that outlasts
/// ferret's patience, a token GitHub refuses, something that is not there, an answer that
/// never came (or came unreadable), or any other status.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GITHUB_TOKEN is not set")]
    NoToken,
    #[error("GITHUB_TOKEN cannot be sent in an HTTP header")]
    TokenNotAHeader,
    /// `FERRET_GITHUB_TIMEOUT` is not a duration (the parser's message).
    #[error("FERRET_GITHUB_TIMEOUT: {0}")]
    BadTimeout(String),
    #[error("FERRET_GITHUB_API_BASE")]
    BadBase(#[source] http::uri::InvalidUri),
    /// The API base is not allowed, or the HTTP client cannot start.
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error("`{0}` is not OWNER/NAME")]
    NotOwnerName(String),
    /// A page of a list links to a page on another host.
    #[error("GitHub: the next page ({0}) is not on the API's host; not followed")]
    OffHostPage(String),
    /// Still rate limited after every wait ferret sits through (`reset_in`: how long the
    /// limit said to wait).
    #[error(
        "GitHub: HTTP {status}: {message} (rate limited; the limit resets in {}s)",
        reset_in.as_secs()
    )]
    RateLimited {
        status: u16,
        message: String,
        reset_in: Duration,
    },
    #[error("GitHub: HTTP 401: {message}")]
    Unauthorized { message: String },
    #[error("GitHub: HTTP 404: {message}")]
    NotFound { message: String },
    #[error("GitHub: HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// No answer, or one that could not be read (a timeout, TLS, an answer too large or cut off,
    /// JSON that does not parse).
    #[error("GitHub")]
    Transport(#[source] Transport),
    #[error("cannot compress the SARIF")]
    Compress(#[source] std::io::Error),
}

/// What went wrong on the way to or from GitHub, in a few words without the token: the
/// innermost cause of octocrab's error. The error itself is kept for callers that want more
/// ([`Transport::octocrab`]), but is no part of the chain of causes: its text spans lines,
/// repeats its own causes, and may quote an answer that echoed the token.
#[derive(Debug)]
pub struct Transport {
    detail: String,
    error: octocrab::Error,
}

impl Transport {
    /// octocrab's error, as it came.
    pub fn octocrab(&self) -> &octocrab::Error {
        &self.error
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Transport {}

/// The GitHub API as the operator configured it; the octocrab client is built on first use,
/// inside the tokio runtime it needs.
pub struct GitHub {
    base: String,
    token: Option<String>,
    /// `FERRET_GITHUB_TIMEOUT`, read when the client is built.
    timeout: Option<String>,
    client: OnceCell<Octocrab>,
}

impl GitHub {
    /// From `FERRET_GITHUB_API_BASE`, `GITHUB_TOKEN` and `FERRET_GITHUB_TIMEOUT`.
    pub fn from_env() -> Self {
        let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let base = variable("FERRET_GITHUB_API_BASE")
            .unwrap_or_else(|| DEFAULT_GITHUB_API_BASE.to_string());
        GitHub {
            base: base.trim_end_matches('/').to_string(),
            token: variable("GITHUB_TOKEN"),
            timeout: variable("FERRET_GITHUB_TIMEOUT"),
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

    /// The octocrab client, built on first use (a configuration it cannot be built from is an
    /// error each time it is asked for).
    pub async fn client(&self) -> Result<&Octocrab, GitHubError> {
        self.client
            .get_or_try_init(|| async {
                let token = self.token.as_deref().ok_or(GitHubError::NoToken)?;
                crate::http::checked_api_base(&self.base)?;
                let timeout = match &self.timeout {
                    Some(text) => {
                        let parsed = text.parse::<crate::units::Duration>();
                        parsed.map_err(GitHubError::BadTimeout)?.0
                    }
                    None => DEFAULT_TIMEOUT,
                };
                build_client(&self.base, token, timeout)
            })
            .await
    }

    /// Whether `uri` is on the API's scheme, host and port.
    fn on_api_host(&self, uri: &http::Uri) -> bool {
        let Ok(base) = self.base.parse::<http::Uri>() else {
            return false;
        };
        uri.scheme() == base.scheme() && uri.authority() == base.authority()
    }

    /// An octocrab error as ferret's: GitHub's status and message when it answered, else what
    /// went wrong on the way (a timeout, TLS, an answer too large). The token is never in its
    /// text, even when an answer echoes it.
    pub fn error(&self, err: octocrab::Error) -> GitHubError {
        classify(err, self.token.as_deref())
    }

    /// Runs `call`, waiting out rate limits (`on_wait` hears about each wait).
    pub async fn with_rate_limits<T, F, Fut>(
        &self,
        on_wait: &dyn Fn(String),
        mut call: F,
    ) -> Result<T, GitHubError>
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
                return Err(self.error(err));
            };
            waits += 1;
            if waits > MAX_RATE_LIMIT_WAITS || wait > MAX_RATE_LIMIT_WAIT {
                return Err(match self.error(err) {
                    GitHubError::Status { status, message } => GitHubError::RateLimited {
                        status,
                        message,
                        reset_in: wait,
                    },
                    other => other,
                });
            }
            // The wait as told: a `retry-after: 0` is asked again at once.
            on_wait(format!(
                "GitHub rate limit reached; waiting {}s",
                wait.as_secs()
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
fn build_client(base: &str, token: &str, timeout: Duration) -> Result<Octocrab, GitHubError> {
    let base_uri: http::Uri = base.parse().map_err(GitHubError::BadBase)?;
    let mut authorization = http::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| GitHubError::TokenNotAHeader)?;
    authorization.set_sensitive(true);
    let http = crate::http::client(timeout)?;
    let limit_body = MapResponseBodyLayer::new(|body| Limited::new(body, MAX_BODY_BYTES));
    let client = OctocrabBuilder::new_empty()
        .with_service(ReqwestConnector::new(http))
        .with_layer(&tower::retry::RetryLayer::new(NotRateLimits(
            RetryConfig::Simple(RETRIES),
        )))
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

/// octocrab's simple retries, except of a 429: octocrab retries one at once, three times,
/// whatever its `retry-after` says (hammering a secondary rate limit); ferret waits it out
/// ([`GitHub::with_rate_limits`]).
#[derive(Clone)]
struct NotRateLimits(RetryConfig);

impl<B, E> tower::retry::Policy<http::Request<OctoBody>, http::Response<B>, E> for NotRateLimits {
    type Future = <RetryConfig as tower::retry::Policy<
        http::Request<OctoBody>,
        http::Response<B>,
        E,
    >>::Future;

    fn retry(
        &mut self,
        request: &mut http::Request<OctoBody>,
        result: &mut Result<http::Response<B>, E>,
    ) -> Option<Self::Future> {
        if matches!(result, Ok(response) if response.status() == http::StatusCode::TOO_MANY_REQUESTS)
        {
            return None;
        }
        self.0.retry(request, result)
    }

    fn clone_request(
        &mut self,
        request: &http::Request<OctoBody>,
    ) -> Option<http::Request<OctoBody>> {
        tower::retry::Policy::<http::Request<OctoBody>, http::Response<B>, E>::clone_request(
            &mut self.0,
            request,
        )
    }
}

/// An octocrab error as ferret's: by GitHub's status when it answered, else the innermost
/// cause (a timeout, a TLS failure, an answer too large) as a [`Transport`] error.
fn classify(err: octocrab::Error, token: Option<&str>) -> GitHubError {
    // The token is taken out before a message is shortened, which could cut it in two.
    let shorten = |text: &str| match token {
        Some(token) => crate::http::shorten(&text.replace(token, "***")),
        None => crate::http::shorten(text),
    };
    if let octocrab::Error::GitHub { source, .. } = &err {
        let message = shorten(&source.message);
        return match source.status_code.as_u16() {
            401 => GitHubError::Unauthorized { message },
            404 => GitHubError::NotFound { message },
            status => GitHubError::Status { status, message },
        };
    }
    let detail = transport_detail(&err, &shorten);
    GitHubError::Transport(Transport { detail, error: err })
}

/// What went wrong on the way, in a few words: an unreadable answer, the HTTP client's
/// description of the failure, an answer too large, or octocrab's own first line.
fn transport_detail(err: &octocrab::Error, shorten: &dyn Fn(&str) -> String) -> String {
    match err {
        octocrab::Error::Serde { source, .. } => {
            return format!("unreadable answer: {}", shorten(&source.to_string()));
        }
        octocrab::Error::Json { source, .. } => {
            return format!(
                "unreadable answer at `{}`: {}",
                source.path(),
                shorten(&source.inner().to_string())
            );
        }
        _ => {}
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(error) = cause {
        if let Some(error) = error.downcast_ref::<reqwest::Error>() {
            return shorten(&crate::http::transport_error(error));
        }
        if error.is::<http_body_util::LengthLimitError>() {
            return format!(
                "the answer is larger than {} MiB; not read",
                MAX_BODY_BYTES >> 20
            );
        }
        cause = error.source();
    }
    // Some of octocrab's messages end in a backtrace on further lines; `Other` says only that.
    let text = match err {
        octocrab::Error::Other { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    shorten(text.lines().next().unwrap_or_default())
}

/// `owner/name` split in two.
pub fn split_repository(repository: &str) -> Result<(&str, &str), GitHubError> {
    repository
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| GitHubError::NotOwnerName(repository.to_string()))
}
