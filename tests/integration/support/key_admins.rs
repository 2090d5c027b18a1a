//! Loopback mocks of the two other administration APIs ferret revokes through, each keeping one
//! organization (or account) in memory that changes as the API is called
//! (reference/APIS.md §G):
//!
//! - [`AnthropicOrg`]: `GET /v1/models` (verification: `x-api-key`, `anthropic-version`
//!   required, `anthropic-organization-id` on every authenticated answer), and the Admin API
//!   with an `sk-ant-admin01-` key: `GET /v1/organizations/me`,
//!   `GET /v1/organizations/api_keys` (`limit` 1..=1000 default 20, `after_id`, `status`,
//!   `workspace_id`; `{"data","has_more","first_id","last_id"}`),
//!   `GET /v1/organizations/api_keys/{id}`, `POST /v1/organizations/api_keys/{id}` with
//!   `{"status": "inactive"}`. Errors are `{"type":"error","error":{"type","message"}}`; every
//!   answer carries `request-id`.
//! - [`OpenRouterAccount`]: `GET /api/v1/key` with any key (its own record), and with a
//!   management key `GET /api/v1/keys` (`offset`, 100 a page), `DELETE /api/v1/keys/{hash}`
//!   (`{"deleted": true}`). Errors are `{"error":{"code","message"}}`.
//!
//! Where the documentation is silent the mocks choose: a `partial_key_hint` is the key's first
//! 16 characters, `...` and its last 4 (`sk-ant-api03-R2D...igAA`, the documented example); an
//! OpenRouter `label` is the first 12, `...` and the last 3 (`sk-or-v1-0e6...c96`); list items
//! carry the key's `creator_user_id` as `GET /api/v1/key` does; an admin route called with a
//! non-admin key is a 403 `permission_error`. Delays apply after a call's effect, so a client
//! killed while waiting leaves the change made.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::Served;
use super::openai::bearer;
use super::random_alnum;

/// One request a mock answered.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub body: Option<Value>,
}

fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("a hex digit"))
        .collect()
}

fn head_tail(value: &str, head: usize, tail: usize) -> String {
    format!("{}...{}", &value[..head], &value[value.len() - tail..])
}

/// What both mocks share: the request log and the delays.
#[derive(Default)]
struct Common {
    log: Vec<Logged>,
    /// `(method, path prefix, delay)`: the latest matching one wins.
    delays: Vec<(String, String, Duration)>,
}

impl Common {
    fn finish(&mut self, request: &Request, status: u16, body: Value) -> ResponseTemplate {
        self.log.push(Logged {
            method: request.method.to_string(),
            path: request.url.path().to_string(),
            status,
            body: serde_json::from_slice(&request.body).ok(),
        });
        let template = ResponseTemplate::new(status)
            .set_body_json(body)
            .insert_header("request-id", format!("req_{}", random_alnum(24)).as_str());
        let method = request.method.as_str();
        let delay = self
            .delays
            .iter()
            .rev()
            .find(|(m, prefix, _)| m == method && request.url.path().starts_with(prefix))
            .map(|&(_, _, delay)| delay);
        match delay {
            Some(delay) if !delay.is_zero() => template.set_delay(delay),
            _ => template,
        }
    }
}

// ── Anthropic ──

struct AnthropicKey {
    id: String,
    value: String,
    status: &'static str,
    workspace_id: Option<String>,
    /// `None`: a key of another organization (it authenticates, but is not listed).
    organization: String,
}

struct Anthropic {
    common: Common,
    organization: String,
    admin_keys: Vec<String>,
    keys: Vec<AnthropicKey>,
    deactivated: Vec<String>,
    /// `(key id, workspace, model, Unix seconds, uncached input, cache reads, output, cost in
    /// cents)`, for the usage and cost reports.
    usage: Vec<AnthropicUsage>,
}

/// Seeded use of an Anthropic key on one day.
#[derive(Clone, Debug)]
pub struct AnthropicUsage {
    pub key_id: String,
    pub workspace: Option<String>,
    pub model: &'static str,
    pub at: i64,
    pub uncached_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
    pub cost_cents: f64,
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (the only form the mock reads).
fn parse_time(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hh, mm, ss) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn format_time(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn anthropic_error(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

impl Anthropic {
    fn key_json(key: &AnthropicKey) -> Value {
        json!({
            "id": key.id,
            "type": "api_key",
            "name": "Leaked Key",
            "created_at": "2025-01-15T10:00:00Z",
            "created_by": {"id": "user_01Mock", "type": "user"},
            "partial_key_hint": head_tail(&key.value, 16, 4),
            "status": key.status,
            "workspace_id": key.workspace_id,
        })
    }

    /// The answer, and the organization to name in `anthropic-organization-id`.
    fn answer(&mut self, request: &Request) -> ((u16, Value), Option<String>) {
        if request.headers.get("anthropic-version").is_none() {
            let reply = anthropic_error(
                400,
                "invalid_request_error",
                "anthropic-version: header is required",
            );
            return (reply, None);
        }
        let key = request
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let path = request.url.path().to_string();
        if self.admin_keys.contains(&key) {
            let organization = Some(self.organization.clone());
            return (self.admin(request, &path), organization);
        }
        let Some(found) = self
            .keys
            .iter()
            .find(|k| k.value == key && k.status == "active")
        else {
            return (
                anthropic_error(401, "authentication_error", "invalid x-api-key"),
                None,
            );
        };
        let organization = Some(found.organization.clone());
        if path == "/v1/models" {
            let models = json!({"data": [{"type": "model", "id": "claude-sonnet-4-5",
                "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}],
                "has_more": false, "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"});
            return ((200, models), organization);
        }
        let reply = anthropic_error(
            403,
            "permission_error",
            "This API key does not have permission to use the Admin API",
        );
        (reply, organization)
    }

    fn admin(&mut self, request: &Request, path: &str) -> (u16, Value) {
        let method = request.method.as_str();
        let rest = path.strip_prefix("/v1/organizations/api_keys");
        match (method, path, rest) {
            ("GET", "/v1/organizations/me", _) => (
                200,
                json!({"id": self.organization, "type": "organization", "name": "Acme Research"}),
            ),
            ("GET", _, Some("")) => self.list(request),
            ("GET", "/v1/organizations/usage_report/messages", _) => self.report(request, true),
            ("GET", "/v1/organizations/cost_report", _) => self.report(request, false),
            (_, _, Some(id)) if id.starts_with('/') => {
                let id = &id[1..];
                let Some(index) = self
                    .keys
                    .iter()
                    .position(|k| k.id == id && k.organization == self.organization)
                else {
                    let message = format!("api_key not found: {id}");
                    return anthropic_error(404, "not_found_error", &message);
                };
                if method == "POST" {
                    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                    match body["status"].as_str() {
                        Some("inactive") => {
                            self.keys[index].status = "inactive";
                            self.deactivated.push(id.to_string());
                        }
                        Some("archived") => self.keys[index].status = "archived",
                        Some(_) => {
                            return anthropic_error(
                                400,
                                "invalid_request_error",
                                "status: invalid",
                            );
                        }
                        None => {}
                    }
                }
                (200, Self::key_json(&self.keys[index]))
            }
            _ => anthropic_error(404, "not_found_error", "Not found"),
        }
    }

    /// The usage report (`usage`) or the cost report: daily buckets from `starting_at`, two a
    /// page (so that clients follow `next_page`), filtered by `api_key_ids[]` (usage only) and
    /// grouped by `model` or `workspace_id` as `group_by[]` asks.
    fn report(&self, request: &Request, usage: bool) -> (u16, Value) {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let get = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let all = |name: &str| -> Vec<&str> {
            query
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let Some(start) = get("starting_at").and_then(parse_time) else {
            return anthropic_error(400, "invalid_request_error", "starting_at: required");
        };
        let end = get("ending_at")
            .and_then(parse_time)
            .unwrap_or(start + 7 * 86_400);
        let keys = all("api_key_ids[]");
        if !usage && !keys.is_empty() {
            return anthropic_error(400, "invalid_request_error", "api_key_ids: not a parameter");
        }
        let group_by = all("group_by[]");
        let first: usize = get("page")
            .and_then(|p| p.strip_prefix("page_")?.parse().ok())
            .unwrap_or(0);
        let total = usize::try_from((end - start + 86_399) / 86_400).unwrap_or(0);
        let last = total.min(first + 2);
        let data: Vec<Value> = (first..last)
            .map(|index| {
                let from = start + 86_400 * index as i64;
                let to = (from + 86_400).min(end);
                let mut groups: Vec<(String, Vec<&AnthropicUsage>)> = Vec::new();
                for u in self.usage.iter().filter(|u| {
                    (from..to).contains(&u.at)
                        && (keys.is_empty() || keys.contains(&u.key_id.as_str()))
                }) {
                    let group = if group_by.contains(&"model") {
                        u.model.to_string()
                    } else if group_by.contains(&"workspace_id") {
                        u.workspace.clone().unwrap_or_default()
                    } else {
                        String::new()
                    };
                    match groups.iter_mut().find(|(g, _)| *g == group) {
                        Some((_, members)) => members.push(u),
                        None => groups.push((group, vec![u])),
                    }
                }
                let results: Vec<Value> = groups
                    .into_iter()
                    .map(|(_, m)| {
                        let sum = |f: fn(&AnthropicUsage) -> u64| m.iter().map(|u| f(u)).sum::<u64>();
                        if usage {
                            json!({"uncached_input_tokens": sum(|u| u.uncached_input_tokens),
                                "cache_read_input_tokens": sum(|u| u.cache_read_input_tokens),
                                "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                    "ephemeral_5m_input_tokens": 0},
                                "output_tokens": sum(|u| u.output_tokens),
                                "server_tool_use": {"web_search_requests": 0},
                                "api_key_id": if group_by.contains(&"api_key_id") { json!(m[0].key_id) } else { Value::Null },
                                "workspace_id": null, "service_tier": null, "context_window": null,
                                "model": if group_by.contains(&"model") { json!(m[0].model) } else { Value::Null }})
                        } else {
                            let cents: f64 = m.iter().map(|u| u.cost_cents).sum();
                            json!({"currency": "USD", "amount": format!("{cents:.2}"),
                                "workspace_id": if group_by.contains(&"workspace_id") { json!(m[0].workspace) } else { Value::Null },
                                "description": null, "cost_type": null, "context_window": null,
                                "model": null, "service_tier": null, "token_type": null})
                        }
                    })
                    .collect();
                json!({"starting_at": format_time(from), "ending_at": format_time(to),
                    "results": results})
            })
            .collect();
        let has_more = last < total;
        (
            200,
            json!({"data": data, "has_more": has_more,
                "next_page": if has_more { json!(format!("page_{last}")) } else { Value::Null }}),
        )
    }

    fn list(&self, request: &Request) -> (u16, Value) {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let get = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let limit = match get("limit").map(str::parse::<usize>) {
            None => 20,
            Some(Ok(limit)) if (1..=1000).contains(&limit) => limit,
            Some(_) => return anthropic_error(400, "invalid_request_error", "limit: invalid"),
        };
        let mine: Vec<&AnthropicKey> = self
            .keys
            .iter()
            .filter(|k| k.organization == self.organization)
            .collect();
        let start = match get("after_id") {
            None => 0,
            Some(after) => match mine.iter().position(|k| k.id == after) {
                Some(index) => index + 1,
                None => return anthropic_error(400, "invalid_request_error", "after_id: invalid"),
            },
        };
        let mut visible = mine.into_iter().skip(start).filter(|k| {
            get("status").is_none_or(|s| s == k.status)
                && get("workspace_id").is_none_or(|w| k.workspace_id.as_deref() == Some(w))
        });
        let data: Vec<Value> = visible.by_ref().take(limit).map(Self::key_json).collect();
        let has_more = visible.next().is_some();
        let id = |v: Option<&Value>| v.map_or(Value::Null, |v| v["id"].clone());
        (
            200,
            json!({"data": data, "has_more": has_more, "first_id": id(data.first()),
                "last_id": id(data.last())}),
        )
    }
}

struct AnthropicResponder(Arc<Mutex<Anthropic>>);

impl Respond for AnthropicResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().expect("mock state");
        let ((status, body), organization) = state.answer(request);
        let template = state.common.finish(request, status, body);
        match organization {
            Some(id) => template.insert_header("anthropic-organization-id", id.as_str()),
            None => template,
        }
    }
}

/// A loopback Anthropic organization.
pub struct AnthropicOrg {
    served: Served,
    state: Arc<Mutex<Anthropic>>,
}

impl AnthropicOrg {
    /// An organization with one admin key (`admin_key`) and no API key.
    pub fn start(admin_key: &str) -> Self {
        let state = Arc::new(Mutex::new(Anthropic {
            common: Common::default(),
            organization: uuid_like(),
            admin_keys: vec![admin_key.to_string()],
            keys: Vec::new(),
            deactivated: Vec::new(),
            usage: Vec::new(),
        }));
        let served = Served::start(|_| AnthropicResponder(state.clone()));
        AnthropicOrg { served, state }
    }

    fn state(&self) -> MutexGuard<'_, Anthropic> {
        self.state.lock().expect("mock state")
    }

    pub fn uri(&self) -> String {
        self.served.uri()
    }

    /// An active key of the organization (in `workspace`, or the default one); returns its id.
    pub fn add_key(&self, value: &str, workspace: Option<&str>) -> String {
        let organization = self.state().organization.clone();
        self.add(value, workspace, organization)
    }

    /// An active key of another organization: it works, but this one does not list it.
    pub fn add_foreign_key(&self, value: &str) -> String {
        self.add(value, None, uuid_like())
    }

    fn add(&self, value: &str, workspace: Option<&str>, organization: String) -> String {
        let id = format!("apikey_01{}", random_alnum(22));
        self.state().keys.push(AnthropicKey {
            id: id.clone(),
            value: value.to_string(),
            status: "active",
            workspace_id: workspace.map(str::to_string),
            organization,
        });
        id
    }

    /// Seeds use of a key for the usage and cost reports.
    pub fn add_usage(&self, usage: AnthropicUsage) {
        self.state().usage.push(usage);
    }

    /// The ids `POST …/api_keys/{id}` deactivated, in order.
    pub fn deactivated(&self) -> Vec<String> {
        self.state().deactivated.clone()
    }

    pub fn key_is_active(&self, value: &str) -> bool {
        self.state()
            .keys
            .iter()
            .any(|k| k.value == value && k.status == "active")
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.state().common.log.clone()
    }

    /// Holds back answers to matching requests (after their effect); `ZERO` ends it.
    pub fn delay(&self, method: &str, path_prefix: &str, delay: Duration) {
        let mut state = self.state();
        let entry = (method.to_string(), path_prefix.to_string(), delay);
        state.common.delays.push(entry);
    }
}

/// An id shaped like Anthropic's organization ids.
fn uuid_like() -> String {
    let hex = random_hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

// ── OpenRouter ──

struct RouterKey {
    hash: String,
    value: String,
    creator: String,
    disabled: bool,
    deleted: bool,
    /// Keys of another account are not listed by this account's management key.
    ours: bool,
    management: bool,
    usage: f64,
}

struct Router {
    common: Common,
    keys: Vec<RouterKey>,
    deleted: Vec<String>,
}

fn router_error(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"code": status, "message": message}}),
    )
}

impl Router {
    fn label(key: &RouterKey) -> String {
        head_tail(&key.value, 12, 3)
    }

    fn answer(&mut self, request: &Request) -> (u16, Value) {
        let token = bearer(request).unwrap_or_default();
        let Some(caller) = self
            .keys
            .iter()
            .position(|k| k.value == token && !k.deleted && !k.disabled)
        else {
            return router_error(401, "User not found.");
        };
        let path = request.url.path().to_string();
        let method = request.method.as_str();
        if method == "GET" && path == "/api/v1/key" {
            let key = &self.keys[caller];
            return (
                200,
                json!({"data": {"label": Self::label(key), "limit": null, "usage": key.usage,
                    "usage_daily": key.usage, "usage_weekly": key.usage, "usage_monthly": key.usage,
                    "limit_remaining": null, "is_free_tier": false,
                    "is_management_key": key.management, "creator_user_id": key.creator,
                    "expires_at": null}}),
            );
        }
        if !self.keys[caller].management {
            return router_error(403, "Only management keys can perform this operation");
        }
        match (method, path.strip_prefix("/api/v1/keys")) {
            ("GET", Some("")) => {
                let offset = request
                    .url
                    .query_pairs()
                    .find(|(n, _)| n == "offset")
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let data: Vec<Value> = self
                    .keys
                    .iter()
                    .filter(|k| k.ours && !k.deleted && !k.management)
                    .skip(offset)
                    .take(100)
                    .map(|k| {
                        json!({"hash": k.hash, "name": "Leaked Key", "label": Self::label(k),
                            "disabled": k.disabled, "limit": null, "limit_remaining": null,
                            "usage": k.usage, "created_at": "2025-01-15T10:00:00.000Z",
                            "updated_at": null, "creator_user_id": k.creator})
                    })
                    .collect();
                (200, json!({"data": data}))
            }
            ("DELETE", Some(hash)) if hash.starts_with('/') => {
                let hash = &hash[1..];
                match self
                    .keys
                    .iter_mut()
                    .find(|k| k.hash == hash && k.ours && !k.deleted)
                {
                    Some(key) => {
                        key.deleted = true;
                        self.deleted.push(hash.to_string());
                        (200, json!({"deleted": true}))
                    }
                    None => router_error(404, "Key not found"),
                }
            }
            _ => router_error(404, "Not Found"),
        }
    }
}

struct RouterResponder(Arc<Mutex<Router>>);

impl Respond for RouterResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().expect("mock state");
        let (status, body) = state.answer(request);
        state.common.finish(request, status, body)
    }
}

/// A loopback OpenRouter account.
pub struct OpenRouterAccount {
    served: Served,
    state: Arc<Mutex<Router>>,
}

/// The user every key of the account was created by.
pub const OPENROUTER_USER: &str = "user_2mockAccountOwner";

impl OpenRouterAccount {
    /// An account with one management key.
    pub fn start(management_key: &str) -> Self {
        let state = Arc::new(Mutex::new(Router {
            common: Common::default(),
            keys: Vec::new(),
            deleted: Vec::new(),
        }));
        let served = Served::start(|_| RouterResponder(state.clone()));
        let account = OpenRouterAccount { served, state };
        account.push(management_key, OPENROUTER_USER, true, true);
        account
    }

    fn state(&self) -> MutexGuard<'_, Router> {
        self.state.lock().expect("mock state")
    }

    pub fn uri(&self) -> String {
        self.served.uri()
    }

    fn push(&self, value: &str, creator: &str, ours: bool, management: bool) -> String {
        let hash = random_hex(64);
        self.state().keys.push(RouterKey {
            hash: hash.clone(),
            value: value.to_string(),
            creator: creator.to_string(),
            disabled: false,
            deleted: false,
            ours,
            management,
            usage: 12.5,
        });
        hash
    }

    /// A key of the account; returns its hash.
    pub fn add_key(&self, value: &str) -> String {
        self.push(value, OPENROUTER_USER, true, false)
    }

    /// A key of another account (created by another user): it works, this account does not
    /// list it.
    pub fn add_foreign_key(&self, value: &str) -> String {
        self.push(value, "user_2someoneElse", false, false)
    }

    pub fn deleted(&self) -> Vec<String> {
        self.state().deleted.clone()
    }

    pub fn key_is_live(&self, value: &str) -> bool {
        self.state()
            .keys
            .iter()
            .any(|k| k.value == value && !k.deleted && !k.disabled)
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.state().common.log.clone()
    }
}
