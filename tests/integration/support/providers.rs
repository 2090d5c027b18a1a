//! The other AI providers: a key of every kind ferret detects, built at run time (prefixes
//! split like the OpenAI marker, so no grep of this file finds a key shape), the line a person
//! would write it in, a near miss that must not be reported, and a loopback mock of each
//! provider's verification endpoint that follows its documentation: path, method, where the key
//! goes, required headers, status codes and JSON error bodies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::{Served, random_alnum, random_b64url};

/// The variables of every provider's API base: a run points the ones a test needs at its mocks
/// and every other one at a closed loopback port, so nothing can reach a real provider.
pub const API_BASE_VARIABLES: [&str; 11] = [
    "FERRET_OPENAI_API_BASE",
    "FERRET_ANTHROPIC_API_BASE",
    "FERRET_GOOGLE_API_BASE",
    "FERRET_HUGGINGFACE_API_BASE",
    "FERRET_GROQ_API_BASE",
    "FERRET_XAI_API_BASE",
    "FERRET_OPENROUTER_API_BASE",
    "FERRET_MISTRAL_API_BASE",
    "FERRET_COHERE_API_BASE",
    "FERRET_REPLICATE_API_BASE",
    "FERRET_DEEPSEEK_API_BASE",
];

/// A loopback address nothing listens on.
pub fn closed_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://{}", listener.local_addr().expect("address"))
}

/// Every key kind of the other providers' rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Anthropic,
    AnthropicAdmin,
    Google,
    /// Google's authorization keys (`AQ.`), verified like standard ones.
    GoogleAuth,
    HuggingFace,
    Groq,
    Xai,
    OpenRouter,
    AzureOpenAi,
    Mistral,
    Cohere,
    Replicate,
    DeepSeek,
}

fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("a hex digit"))
        .collect()
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Anthropic,
        Kind::AnthropicAdmin,
        Kind::Google,
        Kind::GoogleAuth,
        Kind::HuggingFace,
        Kind::Groq,
        Kind::Xai,
        Kind::OpenRouter,
        Kind::AzureOpenAi,
        Kind::Mistral,
        Kind::Cohere,
        Kind::Replicate,
        Kind::DeepSeek,
    ];

    /// The rule that must report this kind.
    pub fn rule(self) -> &'static str {
        match self {
            Kind::Anthropic => "anthropic-api-key",
            Kind::AnthropicAdmin => "anthropic-admin-key",
            Kind::Google => "google-api-key",
            Kind::GoogleAuth => "google-gemini-auth-key",
            Kind::HuggingFace => "huggingface-token",
            Kind::Groq => "groq-api-key",
            Kind::Xai => "xai-api-key",
            Kind::OpenRouter => "openrouter-api-key",
            Kind::AzureOpenAi => "azure-openai-api-key",
            Kind::Mistral => "mistral-api-key",
            Kind::Cohere => "cohere-api-key",
            Kind::Replicate => "replicate-api-token",
            Kind::DeepSeek => "deepseek-api-key",
        }
    }

    /// A fresh random key of this kind.
    pub fn key(self) -> String {
        match self {
            Kind::Anthropic => format!(
                "{}{}AA",
                ["sk-", "ant-", "api03-"].concat(),
                random_b64url(93)
            ),
            Kind::AnthropicAdmin => {
                format!(
                    "{}{}AA",
                    ["sk-", "ant-", "admin01-"].concat(),
                    random_b64url(93)
                )
            }
            Kind::Google => format!("{}{}", ["AI", "za"].concat(), random_b64url(35)),
            Kind::GoogleAuth => format!("{}{}", ["AQ.", "Ab8RN6"].concat(), random_b64url(44)),
            Kind::HuggingFace => format!("{}{}", ["h", "f_"].concat(), random_alnum(34)),
            Kind::Groq => format!("{}{}", ["gs", "k_"].concat(), random_alnum(52)),
            Kind::Xai => format!("{}{}", ["xa", "i-"].concat(), random_alnum(80)),
            Kind::OpenRouter => format!("{}{}", ["sk-", "or-", "v1-"].concat(), random_hex(64)),
            Kind::AzureOpenAi => random_hex(32),
            Kind::Mistral => random_alnum(32),
            Kind::Cohere => random_alnum(40),
            Kind::Replicate => format!("{}{}", ["r", "8_"].concat(), random_alnum(37)),
            Kind::DeepSeek => format!("sk-{}", random_hex(32)),
        }
    }

    /// The line of a config file that holds `key`, written as people write it (the keys without
    /// a prefix of their own need the provider's name beside them).
    pub fn line(self, key: &str) -> String {
        let variable = match self {
            Kind::Anthropic => "ANTHROPIC_API_KEY",
            Kind::AnthropicAdmin => "ANTHROPIC_ADMIN_KEY",
            Kind::Google | Kind::GoogleAuth => "GEMINI_API_KEY",
            Kind::HuggingFace => "HF_TOKEN",
            Kind::Groq => "GROQ_API_KEY",
            Kind::Xai => "XAI_API_KEY",
            Kind::OpenRouter => "OPENROUTER_API_KEY",
            Kind::AzureOpenAi => "AZURE_OPENAI_API_KEY",
            Kind::Mistral => "MISTRAL_API_KEY",
            Kind::Cohere => "CO_API_KEY",
            Kind::Replicate => "REPLICATE_API_TOKEN",
            Kind::DeepSeek => "DEEPSEEK_API_KEY",
        };
        format!("{variable}={key}")
    }

    /// A line that looks like this kind's key but is not one: a truncated key, a key-shaped
    /// value without its provider's name, an identifier.
    pub fn near_miss(self) -> String {
        let key = self.key();
        match self {
            Kind::Anthropic | Kind::AnthropicAdmin => {
                format!("ANTHROPIC_API_KEY={}", &key[..key.len() - 20])
            }
            Kind::Google => format!("apiKey: \"{}\"", &key[..30]),
            Kind::GoogleAuth => format!("GEMINI_API_KEY={}", &key[..40]),
            Kind::HuggingFace => "path = hf_hub_download(repo_id=repo, filename=name)".into(),
            Kind::Groq => format!("GROQ_API_KEY={}", &key[..40]),
            Kind::Xai => format!("XAI_API_KEY={}", &key[..60]),
            Kind::OpenRouter => format!("OPENROUTER_API_KEY={}", &key[..50]),
            Kind::AzureOpenAi => format!("azure_blob_md5 = \"{key}\""),
            Kind::Mistral => format!("API_KEY={key}"),
            Kind::Cohere => format!("API_KEY={key}"),
            Kind::Replicate => format!("REPLICATE_API_TOKEN={}", &key[..30]),
            Kind::DeepSeek => format!("DASHSCOPE_API_KEY={key}"),
        }
    }

    /// The provider API that verifies this kind, if any.
    pub fn api(self) -> Option<&'static Api> {
        let name = match self {
            Kind::Anthropic => "anthropic",
            Kind::AnthropicAdmin => "anthropic-admin",
            Kind::Google | Kind::GoogleAuth => "google",
            Kind::HuggingFace => "huggingface",
            Kind::Groq => "groq",
            Kind::Xai => "xai",
            Kind::OpenRouter => "openrouter",
            Kind::AzureOpenAi => return None,
            Kind::Mistral => "mistral",
            Kind::Cohere => "cohere",
            Kind::Replicate => "replicate",
            Kind::DeepSeek => "deepseek",
        };
        APIS.iter().find(|api| api.name == name)
    }
}

/// Where an API expects the key.
#[derive(Clone, Copy, Debug)]
pub enum KeyIn {
    Bearer,
    Header(&'static str),
}

/// One provider's verification endpoint, as its documentation describes it.
pub struct Api {
    pub name: &'static str,
    /// The variable that points ferret at this provider (`FERRET_ANTHROPIC_API_BASE`).
    pub env_var: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub key_in: KeyIn,
    /// Headers the API refuses to work without (answered with 400 when missing).
    pub required: &'static [(&'static str, &'static str)],
    /// A working key's answer (200).
    pub valid: fn() -> Value,
    /// Headers of a working key's answer.
    pub valid_headers: &'static [(&'static str, &'static str)],
    /// An unknown or revoked key's answer.
    pub invalid: fn() -> (u16, Value),
    /// The rate limit's answer (429 with `retry-after: 1`).
    pub rate_limited: fn() -> Value,
    /// What ferret reports as `organization` for a working key.
    pub owner: Option<&'static str>,
}

/// The Anthropic organization every valid mock key belongs to.
pub const ANTHROPIC_ORG: &str = "5c8e4f1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b";

fn anthropic_error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011CMock"})
}

fn openai_style_error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn google_error(code: u16, status: &str, reason: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status, "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
         "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}
    ]}})
}

/// Anthropic's model list; the admin endpoint differs only in path and answer.
const ANTHROPIC: Api = Api {
    name: "anthropic",
    env_var: "FERRET_ANTHROPIC_API_BASE",
    method: "GET",
    path: "/v1/models",
    key_in: KeyIn::Header("x-api-key"),
    required: &[("anthropic-version", "2023-06-01")],
    valid: || {
        json!({"data": [{"type": "model", "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}],
            "has_more": true, "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"})
    },
    valid_headers: &[("anthropic-organization-id", ANTHROPIC_ORG)],
    invalid: || {
        (
            401,
            anthropic_error("authentication_error", "invalid x-api-key"),
        )
    },
    rate_limited: || {
        anthropic_error(
            "rate_limit_error",
            "Number of requests has exceeded your rate limit.",
        )
    },
    owner: Some(ANTHROPIC_ORG),
};

/// Every provider mock, following each provider's documented verification endpoint.
pub static APIS: &[Api] = &[
    ANTHROPIC,
    Api {
        name: "anthropic-admin",
        path: "/v1/organizations/me",
        valid: || json!({"id": ANTHROPIC_ORG, "type": "organization", "name": "Acme Research"}),
        valid_headers: &[],
        ..ANTHROPIC
    },
    Api {
        name: "google",
        env_var: "FERRET_GOOGLE_API_BASE",
        method: "GET",
        path: "/v1beta/models",
        key_in: KeyIn::Header("x-goog-api-key"),
        required: &[],
        valid: || {
            json!({"models": [{"name": "models/gemini-2.5-flash", "version": "001",
                "displayName": "Gemini 2.5 Flash"}], "nextPageToken": "Ch5tb2RlbHM"})
        },
        valid_headers: &[],
        invalid: || {
            let message = "API key not valid. Please pass a valid API key.";
            (
                400,
                google_error(400, "INVALID_ARGUMENT", "API_KEY_INVALID", message),
            )
        },
        rate_limited: || {
            let message = "Resource has been exhausted (e.g. check quota).";
            google_error(429, "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED", message)
        },
        owner: None,
    },
    Api {
        name: "huggingface",
        env_var: "FERRET_HUGGINGFACE_API_BASE",
        method: "GET",
        path: "/api/whoami-v2",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || {
            json!({"type": "user", "id": "6512f0a1b2c3d4e5f6a7b8c9", "name": "acme-ml",
                "fullname": "Acme ML", "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "ci", "role": "write"}}})
        },
        valid_headers: &[],
        invalid: || {
            (
                401,
                json!({"error": "Invalid credentials in Authorization header"}),
            )
        },
        rate_limited: || json!({"error": "You have exceeded our hourly quotas for action: whoami."}),
        owner: Some("acme-ml"),
    },
    Api {
        name: "groq",
        env_var: "FERRET_GROQ_API_BASE",
        method: "GET",
        path: "/openai/v1/models",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || {
            json!({"object": "list", "data": [{"id": "llama-3.3-70b-versatile",
                "object": "model", "created": 1733447754, "owned_by": "Meta", "active": true}]})
        },
        valid_headers: &[],
        invalid: || {
            (
                401,
                openai_style_error(
                    "Invalid API Key",
                    "invalid_request_error",
                    Some("invalid_api_key"),
                ),
            )
        },
        rate_limited: || {
            openai_style_error(
                "Rate limit reached for requests",
                "requests",
                Some("rate_limit_exceeded"),
            )
        },
        owner: None,
    },
    Api {
        name: "xai",
        env_var: "FERRET_XAI_API_BASE",
        method: "GET",
        path: "/v1/api-key",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || {
            json!({"redacted_api_key": "xai-...b14o", "user_id": "59fbe5f2-040b-46d5-8325-868bb8f23eb2",
                "name": "ci", "create_time": "2024-01-01T12:55:18.139305Z",
                "modify_time": "2024-08-28T17:20:12.343321Z", "modified_by": "3d38b4dc-4eb7-4785-ae26-c3fa8997ffc7",
                "team_id": "5ea6f6bd-7815-4b8a-9135-28b2d7ba6722", "acls": ["api-key:model:*", "api-key:endpoint:*"],
                "api_key_id": "ae1e1841-4326-4b36-a8a9-8a1a7237db11",
                "team_blocked": false, "api_key_blocked": false, "api_key_disabled": false})
        },
        valid_headers: &[],
        invalid: || {
            let body = json!({"code": "Client specified an invalid argument",
                "error": "Incorrect API key provided: xa***4o. You can obtain an API key from https://console.x.ai."});
            (400, body)
        },
        rate_limited: || json!({"code": "Too many requests", "error": "Rate limit exceeded."}),
        owner: Some("5ea6f6bd-7815-4b8a-9135-28b2d7ba6722"),
    },
    Api {
        name: "openrouter",
        env_var: "FERRET_OPENROUTER_API_BASE",
        method: "GET",
        path: "/api/v1/key",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || {
            json!({"data": {"label": "sk-or-v1-0e6...c96", "limit": null, "usage": 1.25,
                "limit_remaining": null, "is_free_tier": false}})
        },
        valid_headers: &[],
        invalid: || {
            (
                401,
                json!({"error": {"code": 401, "message": "User not found."}}),
            )
        },
        rate_limited: || json!({"error": {"code": 429, "message": "Rate limit exceeded"}}),
        owner: None,
    },
    Api {
        name: "mistral",
        env_var: "FERRET_MISTRAL_API_BASE",
        method: "GET",
        path: "/v1/models",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || {
            json!({"object": "list", "data": [{"id": "mistral-small-latest",
                "object": "model", "created": 1711929600, "owned_by": "mistralai"}]})
        },
        valid_headers: &[],
        invalid: || {
            (
                401,
                json!({"message": "Unauthorized", "request_id": "8f0c2e6d9b1a4c3e"}),
            )
        },
        rate_limited: || json!({"message": "Requests rate limit exceeded"}),
        owner: None,
    },
    Api {
        name: "cohere",
        env_var: "FERRET_COHERE_API_BASE",
        method: "POST",
        path: "/v1/check-api-key",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || json!({"valid": true, "organization_id": "org-7c1d9e2f", "owner_id": "user-3a4b5c6d"}),
        valid_headers: &[],
        invalid: || {
            (
                401,
                json!({"id": "f3b2c1d0", "message": "invalid api token"}),
            )
        },
        rate_limited: || json!({"id": "a1b2c3d4", "message": "too many requests"}),
        owner: Some("org-7c1d9e2f"),
    },
    Api {
        name: "replicate",
        env_var: "FERRET_REPLICATE_API_BASE",
        method: "GET",
        path: "/v1/account",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || {
            json!({"type": "organization", "username": "acme", "name": "Acme Corp, Inc.",
                "github_url": "https://github.com/acme"})
        },
        valid_headers: &[],
        invalid: || {
            (
                401,
                json!({"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}),
            )
        },
        rate_limited: || json!({"title": "Too Many Requests", "detail": "Request was throttled.", "status": 429}),
        owner: Some("acme"),
    },
    Api {
        name: "deepseek",
        env_var: "FERRET_DEEPSEEK_API_BASE",
        method: "GET",
        path: "/user/balance",
        key_in: KeyIn::Bearer,
        required: &[],
        valid: || {
            json!({"is_available": true, "balance_infos": [{"currency": "CNY",
                "total_balance": "110.00", "granted_balance": "10.00", "topped_up_balance": "100.00"}]})
        },
        valid_headers: &[],
        invalid: || {
            let message = "Authentication Fails, Your api key: ****ab12 is invalid";
            (
                401,
                openai_style_error(
                    message,
                    "authentication_error",
                    Some("invalid_request_error"),
                ),
            )
        },
        rate_limited: || openai_style_error("Rate limit reached", "rate_limit_error", None),
        owner: None,
    },
];

/// How the mock answers one key.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Valid,
    /// 429 with `retry-after: 1`.
    RateLimited,
    /// The n-th request gets the n-th behaviour; the last one repeats.
    Sequence(Vec<Behaviour>),
}

/// One request the mock received.
#[derive(Clone)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The key where this API expects it (never printed: compare it with keys).
    pub key: Option<String>,
    /// Every header name and value, lowercase names.
    pub headers: Vec<(String, String)>,
}

/// The method and target only: the key and headers are never printed.
impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.target)
    }
}

#[derive(Default)]
struct State {
    keys: HashMap<String, (Behaviour, usize)>,
    log: Vec<Seen>,
}

struct Responder {
    api: &'static Api,
    state: Arc<Mutex<State>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let api = self.api;
        let key = match api.key_in {
            KeyIn::Bearer => super::openai::bearer(request),
            KeyIn::Header(name) => request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        let mut target = request.url.path().to_string();
        if let Some(query) = request.url.query() {
            target.push('?');
            target.push_str(query);
        }
        let headers = request
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    value.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let mut state = self.state.lock().expect("mock state");
        state.log.push(Seen {
            at: Instant::now(),
            method: request.method.to_string(),
            target,
            key: key.clone(),
            headers,
        });
        if request.method.as_str() != api.method || request.url.path() != api.path {
            return ResponseTemplate::new(404).set_body_json(json!({"error": "not found"}));
        }
        for (name, value) in api.required {
            if request.headers.get(*name).and_then(|v| v.to_str().ok()) != Some(value) {
                return ResponseTemplate::new(400)
                    .set_body_json(json!({"error": format!("{name} header is required")}));
            }
        }
        let behaviour = key.as_ref().and_then(|key| {
            state.keys.get_mut(key).map(|(behaviour, requests)| {
                let step = *requests;
                *requests += 1;
                match behaviour {
                    Behaviour::Sequence(steps) => steps[step.min(steps.len() - 1)].clone(),
                    other => other.clone(),
                }
            })
        });
        match behaviour {
            Some(Behaviour::Valid) => api.valid_headers.iter().fold(
                ResponseTemplate::new(200).set_body_json((api.valid)()),
                |template, (name, value)| template.insert_header(*name, *value),
            ),
            Some(Behaviour::RateLimited) => ResponseTemplate::new(429)
                .set_body_json((api.rate_limited)())
                .insert_header("retry-after", "1"),
            Some(Behaviour::Sequence(_)) => unreachable!("sequences are resolved above"),
            None => {
                let (status, body) = (api.invalid)();
                ResponseTemplate::new(status).set_body_json(body)
            }
        }
    }
}

/// A running mock of one provider's API on loopback; keys it was not told about are invalid.
pub struct ProviderMock {
    served: Served,
    state: Arc<Mutex<State>>,
}

impl ProviderMock {
    pub fn start(api: &'static Api) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let served = Served::start(|_| Responder {
            api,
            state: state.clone(),
        });
        ProviderMock { served, state }
    }

    pub fn add_key(&self, key: &str, behaviour: Behaviour) {
        self.state
            .lock()
            .expect("mock state")
            .keys
            .insert(key.to_string(), (behaviour, 0));
    }

    pub fn uri(&self) -> String {
        self.served.uri()
    }

    /// Every request received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("mock state").log.clone()
    }

    /// The requests that carried `key` where the API expects it.
    pub fn seen_for(&self, key: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.key.as_deref() == Some(key))
            .collect()
    }
}
