//! A loopback OpenAI API for the verification tests, on wiremock, following the "OpenAI mock"
//! contract of reference/APIS.md: the documented paths, status codes, headers and JSON shapes
//! of `GET /v1/models` and `GET /v1/organization/admin_api_keys`, for a set of keys whose
//! behaviour each test chooses (valid, invalid, restricted, out of quota, rate limited, failing,
//! deactivated, slow, redirected, or a sequence of these).
//!
//! The tests are synchronous (they run the binary and wait for it), so the mock owns the small
//! tokio runtime wiremock needs to start and to answer queries; the server itself answers on a
//! thread of its own. Nothing here prints a full key: requests are reported by key, and the
//! caller compares them with keys it holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::Served;

/// The `openai-organization` header of a valid key's response: the org's slug, not its id.
pub const ORGANIZATION: &str = "acme-research-llc";
/// The `openai-project` header of a valid key's response.
pub const PROJECT: &str = "proj_Q2xbZ3vYd8hN4pTs1kLmWx7c";

/// The models endpoint every inference key is verified against.
pub const MODELS_PATH: &str = "/v1/models";
/// The admin endpoint admin keys are verified against.
pub const ADMIN_KEYS_PATH: &str = "/v1/organization/admin_api_keys";

/// How the mock answers requests authenticated with one key.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// A working key: 200 with the organization and project headers.
    Valid {
        organization: String,
        project: Option<String>,
    },
    /// Unknown, revoked or disabled: 401 `invalid_api_key` echoing the masked key.
    Invalid,
    /// The key's account is deactivated: 401 `account_deactivated`.
    Deactivated,
    /// A restricted key without `api.model.read`: `status` (401 or 403) with "Missing scopes",
    /// as an error object or, with `bare`, as `{"error": "<string>"}`.
    Restricted { status: u16, bare: bool },
    /// 429 out of credit (no `Retry-After`). Without `with_code`, the older shape whose `code`
    /// is null and only `type` says `insufficient_quota`.
    Quota { with_code: bool },
    /// 429 `rate_limit_exceeded` with `Retry-After` and no requests remaining.
    RateLimited { retry_after_secs: u64 },
    /// 500 or 503 `server_error`.
    ServerError(u16),
    /// A 307 to `location` (the target must never be asked).
    Redirect(String),
    /// `then`, answered only after `delay`.
    Slow(Duration, Box<Behaviour>),
    /// The n-th request gets the n-th behaviour; the last one repeats.
    Sequence(Vec<Behaviour>),
}

impl Behaviour {
    /// A valid key of [`ORGANIZATION`] and [`PROJECT`].
    pub fn valid() -> Self {
        Behaviour::Valid {
            organization: ORGANIZATION.to_string(),
            project: Some(PROJECT.to_string()),
        }
    }

    /// `self`, answered after `delay`.
    pub fn after(self, delay: Duration) -> Self {
        Behaviour::Slow(delay, Box::new(self))
    }
}

/// One request the mock answered, as its own log saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    /// The Bearer token, if any (never printed: compare it with keys).
    pub key: Option<String>,
    /// Path and query, e.g. `/v1/organization/admin_api_keys?limit=1`.
    pub target: String,
    /// The `x-request-id` the response carried.
    pub request_id: String,
}

impl Seen {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    keys: HashMap<String, KeyState>,
    log: Vec<Seen>,
}

struct KeyState {
    behaviour: Behaviour,
    /// Requests this key has made so far (selects the step of a [`Behaviour::Sequence`]).
    requests: usize,
}

/// The wiremock responder: routes by path and answers by the key of the Authorization header.
struct OpenAi {
    state: Arc<Mutex<State>>,
}

impl Respond for OpenAi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let at = Instant::now();
        let key = bearer(request);
        let mut target = request.url.path().to_string();
        if let Some(query) = request.url.query() {
            target.push('?');
            target.push_str(query);
        }
        let request_id = request_id();
        let mut state = self.state.lock().expect("mock state");
        let behaviour = key.as_deref().and_then(|key| {
            state.keys.get_mut(key).map(|entry| {
                let step = entry.requests;
                entry.requests += 1;
                entry.behaviour.clone().step(step)
            })
        });
        let (_, template) = answer(request, key.as_deref(), behaviour);
        state.log.push(Seen {
            at,
            key,
            target,
            request_id: request_id.clone(),
        });
        template.insert_header("x-request-id", request_id.as_str())
    }
}

impl Behaviour {
    /// What request number `step` (from 0) of a key with this behaviour gets.
    fn step(self, step: usize) -> Behaviour {
        match self {
            Behaviour::Sequence(steps) => {
                let last = steps.len().saturating_sub(1);
                steps
                    .into_iter()
                    .nth(step.min(last))
                    .expect("a sequence has at least one step")
                    .step(step)
            }
            Behaviour::Slow(delay, then) => Behaviour::Slow(delay, Box::new(then.step(step))),
            other => other,
        }
    }
}

/// The response to `request`, made with `key` (if any) whose behaviour is `behaviour` (`None`:
/// a key the organization does not know).
fn answer(
    request: &Request,
    key: Option<&str>,
    behaviour: Option<Behaviour>,
) -> (u16, ResponseTemplate) {
    let path = request.url.path();
    let route = match (request.method.as_str(), path) {
        ("GET", MODELS_PATH) => Route::Models,
        ("GET", ADMIN_KEYS_PATH) => Route::AdminKeys,
        (method, _) => {
            let message = format!("Invalid URL ({method} {path})");
            return error(404, &message, "invalid_request_error", None);
        }
    };
    let Some(key) = key else {
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as \
             the password field (with blank username) if you're accessing the API from your \
             browser and are prompted for a username. You can obtain an API key from \
             https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
        );
    };
    respond_as(behaviour.unwrap_or(Behaviour::Invalid), key, route)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Models,
    AdminKeys,
}

fn respond_as(behaviour: Behaviour, key: &str, route: Route) -> (u16, ResponseTemplate) {
    match behaviour {
        Behaviour::Valid {
            organization,
            project,
        } => valid(key, route, &organization, project.as_deref()),
        Behaviour::Invalid => error(
            401,
            &format!(
                "Incorrect API key provided: {}. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
                masked(key)
            ),
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        Behaviour::Deactivated => error(
            401,
            "This key is associated with a deactivated account. If you feel this is an error, \
             contact us through our help center at help.openai.com.",
            "invalid_request_error",
            Some("account_deactivated"),
        ),
        Behaviour::Restricted { status, bare } => {
            let message = missing_scope("api.model.read");
            if bare {
                bare_error(status, &message)
            } else {
                error(status, &message, "invalid_request_error", None)
            }
        }
        Behaviour::Quota { with_code } => error(
            429,
            "You exceeded your current quota, please check your plan and billing details. For \
             more information on this error, read the docs: \
             https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            with_code.then_some("insufficient_quota"),
        ),
        Behaviour::RateLimited { retry_after_secs } => {
            let message = format!(
                "Rate limit reached for requests in organization org-mock on requests per min \
                 (RPM): Limit 3, Used 3, Requested 1. Please try again in {retry_after_secs}s. \
                 Visit https://platform.openai.com/account/rate-limits to learn more."
            );
            let (status, template) = error(429, &message, "requests", Some("rate_limit_exceeded"));
            let template = rate_limit_headers(template, "0", &format!("{retry_after_secs}s"))
                .insert_header("retry-after", retry_after_secs.to_string().as_str());
            (status, template)
        }
        Behaviour::ServerError(status) => {
            let message = if status == 503 {
                "The engine is currently overloaded, please try again later."
            } else {
                "The server had an error while processing your request. Sorry about that!"
            };
            error(status, message, "server_error", None)
        }
        Behaviour::Redirect(location) => (
            307,
            ResponseTemplate::new(307).insert_header("location", location.as_str()),
        ),
        Behaviour::Slow(delay, then) => {
            let (status, template) = respond_as(*then, key, route);
            (status, template.set_delay(delay))
        }
        Behaviour::Sequence(_) => unreachable!("sequences are resolved per request"),
    }
}

/// A valid key's answer: inference keys list models, admin keys list admin keys; each kind is
/// refused on the other's endpoint for missing a scope.
fn valid(
    key: &str,
    route: Route,
    organization: &str,
    project: Option<&str>,
) -> (u16, ResponseTemplate) {
    let admin = key.starts_with("sk-admin-");
    let (status, template) = match (route, admin) {
        (Route::Models, false) => (
            200,
            ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "data": [{
                    "id": "gpt-4o-mini",
                    "object": "model",
                    "created": 1686935002,
                    "owned_by": "system"
                }]
            })),
        ),
        (Route::AdminKeys, true) => (
            200,
            ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "data": [],
                "first_id": null,
                "last_id": null,
                "has_more": false
            })),
        ),
        // The real API's answer to an admin key on /v1/models is not documented; the mock
        // contract says 403 missing scope.
        (Route::Models, true) => error(
            403,
            &missing_scope("api.model.read"),
            "invalid_request_error",
            None,
        ),
        (Route::AdminKeys, false) => bare_error(403, &missing_scope("api.management.read")),
    };
    let mut template = template
        .insert_header("openai-organization", organization)
        .insert_header("openai-processing-ms", "23")
        .insert_header("openai-version", "2020-10-01");
    if let Some(project) = project {
        template = template.insert_header("openai-project", project);
    }
    if status == 200 {
        template = rate_limit_headers(template, "9999", "6ms");
    }
    (status, template)
}

/// The six `x-ratelimit-*` headers.
pub(crate) fn rate_limit_headers(
    template: ResponseTemplate,
    remaining_requests: &str,
    reset_requests: &str,
) -> ResponseTemplate {
    template
        .insert_header("x-ratelimit-limit-requests", "10000")
        .insert_header("x-ratelimit-limit-tokens", "30000000")
        .insert_header("x-ratelimit-remaining-requests", remaining_requests)
        .insert_header("x-ratelimit-remaining-tokens", "29999990")
        .insert_header("x-ratelimit-reset-requests", reset_requests)
        .insert_header("x-ratelimit-reset-tokens", "0s")
}

pub(crate) fn missing_scope(scope: &str) -> String {
    format!(
        "You have insufficient permissions for this operation. Missing scopes: {scope}. Check \
         that you have the correct role in your organization (Reader, Writer, Owner) and project \
         (Member, Owner), and if you're using a restricted API key, that it has the necessary \
         scopes."
    )
}

/// The documented error object: `{"error": {message, type, param, code}}`.
pub(crate) fn error(
    status: u16,
    message: &str,
    kind: &str,
    code: Option<&str>,
) -> (u16, ResponseTemplate) {
    let body = json!({
        "error": {"message": message, "type": kind, "param": null, "code": code}
    });
    (status, json_response(status, body))
}

/// The shape some endpoints use instead: `{"error": "<message>"}`.
pub(crate) fn bare_error(status: u16, message: &str) -> (u16, ResponseTemplate) {
    (status, json_response(status, json!({ "error": message })))
}

pub(crate) fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(body)
        .insert_header("openai-version", "2020-10-01")
}

/// The key of `Authorization: Bearer <key>`; `None` when missing or blank.
pub(crate) fn bearer(request: &Request) -> Option<String> {
    let value = request.headers.get("authorization")?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// How the API echoes a wrong key: its first 8 characters, `*` padding and its last 4, as long
/// as the key.
pub fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// `req_` and 32 random hex digits.
pub(crate) fn request_id() -> String {
    let hex: String = (0..32)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("a hex digit"))
        .collect();
    format!("req_{hex}")
}

/// A running mock of the OpenAI API on loopback.
pub struct OpenAiMock {
    served: Served,
    state: Arc<Mutex<State>>,
}

impl OpenAiMock {
    /// Starts a mock that knows no key yet (every key is invalid).
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let served = Served::start(|_| OpenAi {
            state: state.clone(),
        });
        OpenAiMock { served, state }
    }

    /// Starts a mock that knows `keys`.
    pub fn with_keys<'a>(keys: impl IntoIterator<Item = (&'a str, Behaviour)>) -> Self {
        let mock = Self::start();
        for (key, behaviour) in keys {
            mock.add_key(key, behaviour);
        }
        mock
    }

    /// Makes the mock answer `key` with `behaviour` from now on.
    pub fn add_key(&self, key: &str, behaviour: Behaviour) {
        self.state.lock().expect("mock state").keys.insert(
            key.to_string(),
            KeyState {
                behaviour,
                requests: 0,
            },
        );
    }

    /// The base URL to give ferret (`http://127.0.0.1:PORT`).
    pub fn uri(&self) -> String {
        self.served.uri()
    }

    /// Every request the server received, in order, as wiremock recorded it.
    fn received(&self) -> Vec<Request> {
        self.served.received()
    }

    /// How many requests were authenticated with `key`.
    pub fn requests_for(&self, key: &str) -> usize {
        self.received()
            .iter()
            .filter(|request| bearer(request).as_deref() == Some(key))
            .count()
    }

    /// How many requests the server received at all.
    pub fn request_count(&self) -> usize {
        self.received().len()
    }

    /// The requests made with `key`, as the mock answered them, in order.
    pub fn seen_for(&self, key: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|seen| seen.key.as_deref() == Some(key))
            .collect()
    }

    /// Every request the mock answered, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("mock state").log.clone()
    }
}
