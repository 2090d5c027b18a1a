//! A client of OpenAI's Administration API (`/v1/organization/…`, authenticated with an admin
//! key): the lists revocation searches (projects, their keys, service accounts, admin keys) and
//! the calls that delete and create. Every call is remembered with its `x-request-id` for the
//! ledger; rate limits and server errors are retried, never a request that may have created
//! something. The same client, in another [`Flavor`], speaks to Anthropic's Admin API and
//! OpenRouter's key management API (their calls are in [`super::anthropic`] and
//! [`super::openrouter`]).

use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use regex::Regex;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroizing;

use super::identity::Listed;
use crate::http::{BodyError, header, read_body, retry_after, shorten, transport_error};
use crate::secret::Secret;
use crate::verify::openai;

/// Largest answer read: a page of 100 keys is a few tens of KiB.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Attempts of a call that may be repeated safely.
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Pages read of one list at most (100 items each): a guard against a server that never ends.
pub(super) const MAX_PAGES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{method} {path}: HTTP {status}: {message}")]
    Status {
        method: Method,
        path: String,
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    #[error("{method} {path}: {reason}")]
    Transport {
        method: Method,
        path: String,
        reason: String,
    },
    /// A step of an interrupted run needs a provider whose key this run was not given.
    #[error("{0} is not set")]
    NotConfigured(&'static str),
}

impl AdminError {
    pub fn status(&self) -> Option<u16> {
        match self {
            AdminError::Status { status, .. } => Some(*status),
            AdminError::Transport { .. } | AdminError::NotConfigured(_) => None,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            AdminError::Status { request_id, .. } => request_id.as_deref(),
            AdminError::Transport { .. } | AdminError::NotConfigured(_) => None,
        }
    }
}

/// One call, as the ledger records it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Project {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// A project API key as the list shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct ProjectKey {
    pub id: String,
    pub redacted_value: String,
    pub owner: KeyOwner,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// Filled in from the project whose list it came from.
    #[serde(skip)]
    pub project: String,
}

impl ProjectKey {
    /// The service account owning the key, if one does.
    pub fn service_account(&self) -> Option<&String> {
        match &self.owner {
            KeyOwner::ServiceAccount { service_account } => Some(&service_account.id),
            KeyOwner::User { .. } => None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeyOwner {
    User {
        #[serde(default)]
        user: Option<User>,
    },
    ServiceAccount {
        service_account: ServiceAccount,
    },
}

/// A key's owner, as the key list shows them.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct User {
    /// `user-…`: how the organization's and projects' member lists name them.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServiceAccount {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdminKey {
    pub id: String,
    pub redacted_value: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// The user who made it (the API shows the user's fields flat, with `type: "user"`).
    #[serde(default)]
    pub owner: Option<User>,
}

/// A member of the organization or of a project (`GET /v1/organization/users`,
/// `GET …/projects/{id}/users`).
#[derive(Clone, Debug, Deserialize)]
pub struct Member {
    pub id: String,
}

impl Listed for ProjectKey {
    fn redacted_value(&self) -> &str {
        &self.redacted_value
    }
    fn project(&self) -> Option<&str> {
        Some(&self.project)
    }
}

impl Listed for AdminKey {
    fn redacted_value(&self) -> &str {
        &self.redacted_value
    }
    fn project(&self) -> Option<&str> {
        None
    }
}

/// The organization the Administration API answered for, from the `openai-organization`
/// header of its successful answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Answered {
    #[default]
    Unknown,
    Named(String),
    /// Two answers named different organizations: nothing can be proven.
    Conflict,
}

/// A service account created with a key.
pub struct CreatedServiceAccount {
    pub id: String,
    pub key_id: String,
    pub key: Secret,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Value>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

/// One call to make: what, where, and whether it may be repeated.
struct Request<'a> {
    method: Method,
    url: String,
    /// The path with its query, as the ledger records calls.
    target: &'a str,
    /// The path without its query, as errors name calls.
    path: String,
    body: Option<Value>,
    /// Anything but a creation: repeating it after a network failure cannot do it twice.
    repeatable: bool,
}

impl Request<'_> {
    /// A failure of this call that is not an HTTP status.
    fn fail(&self, reason: String) -> AdminError {
        AdminError::Transport {
            method: self.method.clone(),
            path: self.path.clone(),
            reason,
        }
    }
}

/// How one attempt of a call ended.
enum Attempt {
    /// The answer, or an error not worth another try.
    Done(Result<(Value, Option<String>), AdminError>),
    /// An error worth another try, after `after` when the server said how long to wait.
    Retry {
        after: Option<Duration>,
        error: AdminError,
    },
}

/// Whose API a client speaks to: how it authenticates and which header of an answer names the
/// organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `Authorization: Bearer`, `openai-organization`.
    OpenAi,
    /// `x-api-key` and `anthropic-version`, `anthropic-organization-id`.
    Anthropic,
    /// `Authorization: Bearer`; answers name no organization.
    OpenRouter,
}

impl Flavor {
    fn organization_header(self) -> Option<&'static str> {
        match self {
            Flavor::OpenAi => Some("openai-organization"),
            Flavor::Anthropic => Some("anthropic-organization-id"),
            Flavor::OpenRouter => None,
        }
    }
}

pub struct AdminApi {
    flavor: Flavor,
    client: reqwest::Client,
    /// `https://api.openai.com` (checked: https, or http to loopback).
    base: String,
    admin_key: Secret,
    /// The largest answer read ([`MAX_BODY_BYTES`] unless [`AdminApi::with_body_limit`]).
    max_body_bytes: usize,
    calls: Mutex<Vec<Call>>,
    organization: Mutex<Answered>,
}

impl AdminApi {
    pub fn new(client: reqwest::Client, base: String, admin_key: Secret) -> Self {
        Self::with_flavor(Flavor::OpenAi, client, base, admin_key)
    }

    pub fn with_flavor(
        flavor: Flavor,
        client: reqwest::Client,
        base: String,
        admin_key: Secret,
    ) -> Self {
        AdminApi {
            flavor,
            client,
            base,
            admin_key,
            max_body_bytes: MAX_BODY_BYTES,
            calls: Mutex::new(Vec::new()),
            organization: Mutex::new(Answered::Unknown),
        }
    }

    /// Reads answers of up to `bytes` (a page of hourly usage of a large organization runs to
    /// tens of megabytes).
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The organization the API's answers so far named, if they all named the same one.
    pub fn organization(&self) -> Option<String> {
        match &*self.organization.lock().expect("no panics while locked") {
            Answered::Named(name) => Some(name.clone()),
            Answered::Unknown | Answered::Conflict => None,
        }
    }

    /// Takes note of the organization a successful answer names.
    pub(super) fn answered_for(&self, name: Option<String>) {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return;
        };
        let mut seen = self.organization.lock().expect("no panics while locked");
        *seen = match &*seen {
            Answered::Unknown => Answered::Named(name),
            Answered::Named(known) if *known == name => return,
            _ => Answered::Conflict,
        };
    }

    /// The calls made since the last time this was asked.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().expect("no panics while locked"))
    }

    pub async fn projects(&self) -> Result<Vec<Project>, AdminError> {
        self.list("/v1/organization/projects", "include_archived=false")
            .await
    }

    /// Every key of a project, including keys whose owner lost access (which the API hides
    /// unless asked with `owner_project_access=any`).
    pub async fn project_keys(&self, project: &str) -> Result<Vec<ProjectKey>, AdminError> {
        let mut keys: Vec<ProjectKey> = self
            .list(
                &format!("/v1/organization/projects/{project}/api_keys"),
                "owner_project_access=any",
            )
            .await?;
        for key in &mut keys {
            key.project = project.to_string();
        }
        Ok(keys)
    }

    pub async fn service_accounts(&self, project: &str) -> Result<Vec<ServiceAccount>, AdminError> {
        self.list(
            &format!("/v1/organization/projects/{project}/service_accounts"),
            "",
        )
        .await
    }

    /// The organization's users: a key owner not among them has left it.
    pub async fn organization_users(&self) -> Result<Vec<Member>, AdminError> {
        self.list("/v1/organization/users", "").await
    }

    /// The users of a project: a key owner not among them has left the project.
    pub async fn project_users(&self, project: &str) -> Result<Vec<Member>, AdminError> {
        self.list(&format!("/v1/organization/projects/{project}/users"), "")
            .await
    }

    pub async fn admin_keys(&self) -> Result<Vec<AdminKey>, AdminError> {
        self.list("/v1/organization/admin_api_keys", "order=asc")
            .await
    }

    /// Deletes a user-owned project key; returns the request id.
    pub async fn delete_project_key(
        &self,
        project: &str,
        key_id: &str,
    ) -> Result<Option<String>, AdminError> {
        let path = format!("/v1/organization/projects/{project}/api_keys/{key_id}");
        Ok(self.call(Method::DELETE, &path, None).await?.1)
    }

    /// Deletes a service account and with it every key it has.
    pub async fn delete_service_account(
        &self,
        project: &str,
        service_account: &str,
    ) -> Result<Option<String>, AdminError> {
        let path =
            format!("/v1/organization/projects/{project}/service_accounts/{service_account}");
        Ok(self.call(Method::DELETE, &path, None).await?.1)
    }

    pub async fn delete_admin_key(&self, key_id: &str) -> Result<Option<String>, AdminError> {
        let path = format!("/v1/organization/admin_api_keys/{key_id}");
        Ok(self.call(Method::DELETE, &path, None).await?.1)
    }

    /// Creates a service account named `name` in `project`, with a key.
    pub async fn create_service_account(
        &self,
        project: &str,
        name: &str,
    ) -> Result<(CreatedServiceAccount, Option<String>), AdminError> {
        #[derive(Deserialize)]
        struct Created {
            id: String,
            api_key: Option<CreatedKey>,
        }
        #[derive(Deserialize)]
        struct CreatedKey {
            id: String,
            value: String,
        }
        let path = format!("/v1/organization/projects/{project}/service_accounts");
        let body = serde_json::json!({ "name": name });
        let (value, request_id) = self.call(Method::POST, &path, Some(body)).await?;
        let created: Created = parse(&Method::POST, &path, value)?;
        let Some(key) = created.api_key else {
            return Err(AdminError::Transport {
                method: Method::POST,
                path,
                reason: "the service account was created without a key".into(),
            });
        };
        Ok((
            CreatedServiceAccount {
                id: created.id,
                key_id: key.id,
                key: Secret::new(key.value),
            },
            request_id,
        ))
    }

    /// Every item of a cursor-paginated list (OpenAI's: 100 a page, the cursor in `after`).
    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
    ) -> Result<Vec<T>, AdminError> {
        let query = match query {
            "" => "limit=100".to_string(),
            query => format!("limit=100&{query}"),
        };
        self.list_pages(path, &query, "after").await
    }

    /// Every item of a list paginated as OpenAI's and Anthropic's Admin APIs do: `data`,
    /// `has_more`, `last_id`, which the next request passes in the parameter `cursor` (a
    /// repeated cursor ends the list, as does [`MAX_PAGES`]). `query` is never empty.
    pub(super) async fn list_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
        cursor: &str,
    ) -> Result<Vec<T>, AdminError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut target = format!("{path}?{query}");
            if let Some(after) = &after {
                target.push_str(&format!("&{cursor}={after}"));
            }
            let (value, _) = self.call(Method::GET, &target, None).await?;
            let page: Page = parse(&Method::GET, &target, value)?;
            for item in page.data {
                items.push(parse(&Method::GET, &target, item)?);
            }
            match page.last_id {
                Some(last) if page.has_more && after.as_deref() != Some(last.as_str()) => {
                    after = Some(last);
                }
                _ => return Ok(items),
            }
        }
        Ok(items)
    }

    /// One call, retried after rate limits and server errors (and, unless it creates
    /// something, after network failures). Returns the JSON answer and its request id.
    pub(super) async fn call(
        &self,
        method: Method,
        target: &str,
        body: Option<Value>,
    ) -> Result<(Value, Option<String>), AdminError> {
        let request = Request {
            url: format!("{}{target}", self.base),
            path: target.split('?').next().unwrap_or(target).to_string(),
            repeatable: method != Method::POST,
            method,
            target,
            body,
        };
        let authorization = match self.flavor {
            Flavor::Anthropic => self.admin_key.header_value(),
            Flavor::OpenAi | Flavor::OpenRouter => self.admin_key.bearer(),
        }
        .ok_or_else(|| request.fail("the admin key cannot be sent in an HTTP header".into()))?;
        let mut attempt = 0;
        loop {
            let (retry_after, error) = match self.attempt(&request, &authorization).await {
                Attempt::Done(result) => return result,
                Attempt::Retry { after, error } => (after, error),
            };
            attempt += 1;
            let delay = retry_after.unwrap_or(FIRST_BACKOFF * 2u32.pow(attempt - 1));
            if attempt >= ATTEMPTS || delay > MAX_RETRY_AFTER {
                return Err(error);
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt of a call.
    async fn attempt(&self, request: &Request<'_>, authorization: &HeaderValue) -> Attempt {
        let builder = self.client.request(request.method.clone(), &request.url);
        let mut builder = match self.flavor {
            Flavor::Anthropic => builder
                .header("x-api-key", authorization.clone())
                .header("anthropic-version", "2023-06-01"),
            Flavor::OpenAi | Flavor::OpenRouter => {
                builder.header(reqwest::header::AUTHORIZATION, authorization.clone())
            }
        };
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        match builder.send().await {
            Ok(response) => self.answer(request, response).await,
            Err(err) => {
                self.remember(&request.method, request.target, None, None);
                let error = request.fail(transport_error(&err));
                if request.repeatable {
                    Attempt::Retry { after: None, error }
                } else {
                    Attempt::Done(Err(error))
                }
            }
        }
    }

    /// Reads an answer: its JSON when it succeeded, else an error, retried after a rate limit
    /// or (for a call that may be repeated) a server error or a read cut off.
    async fn answer(&self, request: &Request<'_>, response: reqwest::Response) -> Attempt {
        let status = response.status();
        let headers = response.headers().clone();
        // Anthropic names it `request-id`.
        let request_id = header(&headers, "x-request-id")
            .or_else(|| header(&headers, "request-id"))
            .map(|id| shorten(&scrub(&id)));
        self.remember(
            &request.method,
            request.target,
            Some(status.as_u16()),
            request_id.clone(),
        );
        // Wiped once read: a created service account's answer holds its new key.
        let bytes = match read_body(response, self.max_body_bytes).await {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(err) => {
                // What a change did is done whatever its answer: only a read whose answer was
                // cut off is asked again.
                let retryable = matches!(err, BodyError::Cut(_)) && request.method == Method::GET;
                let error = request.fail(scrub(&err.to_string()));
                return if retryable {
                    Attempt::Retry { after: None, error }
                } else {
                    Attempt::Done(Err(error))
                };
            }
        };
        if status.is_success() {
            if let Some(name) = self.flavor.organization_header() {
                self.answered_for(header(&headers, name));
            }
            let value = if bytes.is_empty() {
                Ok(Value::Null)
            } else {
                serde_json::from_slice(&bytes)
                    .map_err(|e| request.fail(scrub(&format!("unreadable answer: {e}"))))
            };
            return Attempt::Done(value.map(|value| (value, request_id)));
        }
        let error = AdminError::Status {
            method: request.method.clone(),
            path: request.path.clone(),
            status: status.as_u16(),
            message: error_message(&bytes),
            request_id,
        };
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || (status.is_server_error() && request.repeatable);
        if retryable {
            Attempt::Retry {
                after: retry_after(&headers),
                error,
            }
        } else {
            Attempt::Done(Err(error))
        }
    }

    fn remember(
        &self,
        method: &Method,
        target: &str,
        status: Option<u16>,
        request_id: Option<String>,
    ) {
        self.calls
            .lock()
            .expect("no panics while locked")
            .push(Call {
                method: method.to_string(),
                path: target.to_string(),
                status,
                request_id,
            });
    }
}

pub(super) fn parse<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    value: Value,
) -> Result<T, AdminError> {
    serde_json::from_value(value).map_err(|e| AdminError::Transport {
        method: method.clone(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        reason: scrub(&format!("unexpected answer: {e}")),
    })
}

/// The message of an OpenAI error body (object or bare-string shape), shortened.
fn error_message(body: &[u8]) -> String {
    let message = openai::parse_error(body).message;
    if message.is_empty() {
        "no error message".to_string()
    } else {
        shorten(&scrub(&message))
    }
}

/// The text of an answer (an error message, or serde's complaint about a field, which quotes
/// the value) with everything shaped like an OpenAI key redacted: the API has no reason to put
/// a key in such text, but a server that echoes the admin key it was sent, or a leaked key it
/// was asked about, must not get it into reports, warnings and the ledger.
fn scrub(text: &str) -> String {
    static KEY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"sk-[A-Za-z0-9_-]{16,}").expect("a valid pattern"));
    KEY.replace_all(text, |found: &regex::Captures| {
        Secret::new(found[0].as_bytes()).redacted()
    })
    .into_owned()
}
