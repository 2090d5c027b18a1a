//! A loopback GitHub REST API for the revocation hooks, on wiremock, following the "GitHub mock"
//! contract of reference/APIS.md (items 1, 4 and 5 so far): token authentication, rate-limit
//! headers, Actions secrets and issues, for repositories each test adds.
//!
//! Every repository has its own X25519 key pair, whose public half the secrets API hands out;
//! sealed secret values are opened with the private half and kept in clear for assertions, so a
//! test sees exactly what a workflow would get. A route is one arm of [`GitHub::route`] and one
//! handler method, so endpoints are easy to add.
//!
//! Like [`super::openai`], the mock owns the tokio runtime wiremock needs and the server answers
//! on a thread of its own, so tests drive it synchronously. The request log leaves out the
//! `Authorization` header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use crypto_box::SecretKey;
use crypto_box::aead::OsRng;
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::Served;
use super::faults::Faults;

/// The `documentation_url` of every error body.
const DOCS: &str = "https://docs.github.com/rest";

/// A status and the response to send with it.
type Reply = (u16, ResponseTemplate);

/// One request the mock answered.
#[derive(Clone, Debug)]
pub struct GhRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, empty when there is none.
    pub query: String,
    pub status: u16,
    /// Every request header but `Authorization`, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The request body, when it was JSON.
    pub body: Option<Value>,
    pub at: Instant,
}

impl GhRequest {
    /// The first value of a request header (`name` in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Everything the mock remembers.
struct GitHub {
    /// The only token accepted.
    token: String,
    /// The server's own base URL, for the URLs in answers.
    base: String,
    repos: Vec<Repo>,
    rate_limit: RateLimit,
    faults: Faults,
    log: Vec<GhRequest>,
    /// The last issue id handed out.
    last_id: u64,
}

struct Repo {
    owner: String,
    name: String,
    has_issues: bool,
    /// The private half of the key pair the secrets API seals values for.
    secret_key: SecretKey,
    key_id: String,
    /// Secret name → plaintext and when it was stored.
    secrets: HashMap<String, (String, Instant)>,
    issues: Vec<Value>,
}

/// The core rate limit every response reports.
struct RateLimit {
    limit: u64,
    used: u64,
    /// Epoch seconds of the next reset.
    reset: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

fn json_reply(status: u16, body: Value) -> Reply {
    (status, ResponseTemplate::new(status).set_body_json(body))
}

fn message(status: u16, message: &str) -> Reply {
    json_reply(
        status,
        json!({"message": message, "documentation_url": DOCS}),
    )
}

fn not_found() -> Reply {
    message(404, "Not Found")
}

/// A 422 naming the field at fault, in GitHub's validation error shape.
fn unprocessable(resource: &str, field: &str, code: &str) -> Reply {
    json_reply(
        422,
        json!({
            "message": "Invalid request.",
            "errors": [{"resource": resource, "field": field, "code": code}],
            "documentation_url": DOCS,
        }),
    )
}

/// A `x-github-request-id` such as `C0DE:1A2B:3C4D5E:6F7A8B:65A1B2C3`.
fn github_request_id() -> String {
    format!(
        "{:04X}:{:04X}:{:06X}:{:06X}:{:08X}",
        fastrand::u32(..0x1_0000),
        fastrand::u32(..0x1_0000),
        fastrand::u32(..0x100_0000),
        fastrand::u32(..0x100_0000),
        fastrand::u32(..),
    )
}

/// Whether `name` is a valid Actions secret name: letters, digits and `_`, not starting with a
/// digit or `GITHUB_`.
fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

impl GitHub {
    fn authorized(&self, request: &Request) -> bool {
        let Some(value) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("token "));
        token.map(str::trim) == Some(self.token.as_str())
    }

    fn repo(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.owner == owner && r.name == name)
    }

    /// The answer to an authenticated request, made after any state change it causes.
    fn route(&mut self, request: &Request) -> Reply {
        let segments: Vec<&str> = request
            .url
            .path()
            .trim_start_matches('/')
            .split('/')
            .collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["repos", owner, repo, "actions", "secrets", "public-key"]) => {
                self.public_key(owner, repo)
            }
            ("PUT", ["repos", owner, repo, "actions", "secrets", name]) => {
                self.put_secret(owner, repo, name, request)
            }
            ("POST", ["repos", owner, repo, "issues"]) => self.create_issue(owner, repo, request),
            _ => not_found(),
        }
    }

    /// `GET /repos/{o}/{r}/actions/secrets/public-key`.
    fn public_key(&mut self, owner: &str, name: &str) -> Reply {
        let Some(repo) = self.repo(owner, name) else {
            return not_found();
        };
        let key = BASE64.encode(repo.secret_key.public_key().as_bytes());
        json_reply(200, json!({"key_id": repo.key_id, "key": key}))
    }

    /// `PUT /repos/{o}/{r}/actions/secrets/{name}`: opens the sealed value and stores it.
    fn put_secret(&mut self, owner: &str, name: &str, secret: &str, request: &Request) -> Reply {
        let Some(repo) = self.repo(owner, name) else {
            return not_found();
        };
        let Ok(body) = request.body_json::<Value>() else {
            return message(400, "Problems parsing JSON");
        };
        if !valid_secret_name(secret) {
            return unprocessable("Secret", "name", "invalid");
        }
        match body["key_id"].as_str() {
            None => return unprocessable("Secret", "key_id", "missing_field"),
            Some(key_id) if key_id != repo.key_id => {
                return unprocessable("Secret", "key_id", "invalid");
            }
            Some(_) => {}
        }
        let plaintext = body["encrypted_value"]
            .as_str()
            .and_then(|value| BASE64.decode(value).ok())
            .and_then(|sealed| repo.secret_key.unseal(&sealed).ok())
            .and_then(|opened| String::from_utf8(opened).ok());
        let Some(plaintext) = plaintext else {
            return unprocessable("Secret", "encrypted_value", "invalid");
        };
        let previous = repo
            .secrets
            .insert(secret.to_string(), (plaintext, Instant::now()));
        match previous {
            None => json_reply(201, json!({})),
            Some(_) => (204, ResponseTemplate::new(204)),
        }
    }

    /// `POST /repos/{o}/{r}/issues`.
    fn create_issue(&mut self, owner: &str, name: &str, request: &Request) -> Reply {
        // Found by field, not with `repo()`, so `last_id` and `base` stay usable meanwhile.
        let Some(repo) = self
            .repos
            .iter_mut()
            .find(|r| r.owner == owner && r.name == name)
        else {
            return not_found();
        };
        if !repo.has_issues {
            return message(410, "Issues are disabled for this repo");
        }
        let Ok(body) = request.body_json::<Value>() else {
            return message(400, "Problems parsing JSON");
        };
        let Some(title) = body["title"].as_str().filter(|t| !t.is_empty()) else {
            return unprocessable("Issue", "title", "missing_field");
        };
        // Labels come as names or as `{"name": …}` objects.
        let labels: Option<Vec<Value>> = match &body["labels"] {
            Value::Null => Some(Vec::new()),
            Value::Array(labels) => labels
                .iter()
                .map(|label| {
                    label
                        .as_str()
                        .or_else(|| label["name"].as_str())
                        .map(|name| json!({ "name": name }))
                })
                .collect(),
            _ => None,
        };
        let Some(labels) = labels else {
            return unprocessable("Issue", "labels", "invalid");
        };
        self.last_id += 1;
        let number = repo.issues.len() + 1;
        let issue = json!({
            "id": self.last_id,
            "number": number,
            "url": format!("{}/repos/{owner}/{name}/issues/{number}", self.base),
            "html_url": format!("https://github.com/{owner}/{name}/issues/{number}"),
            "title": title,
            "body": body["body"],
            "labels": labels,
            "state": "open",
        });
        repo.issues.push(issue.clone());
        json_reply(201, issue)
    }

    /// The `x-ratelimit-*` headers, counting this request.
    fn rate_limit_headers(&mut self, template: ResponseTemplate) -> ResponseTemplate {
        let rate = &mut self.rate_limit;
        rate.used += 1;
        template
            .insert_header("x-ratelimit-limit", rate.limit.to_string().as_str())
            .insert_header(
                "x-ratelimit-remaining",
                rate.limit.saturating_sub(rate.used).to_string().as_str(),
            )
            .insert_header("x-ratelimit-used", rate.used.to_string().as_str())
            .insert_header("x-ratelimit-reset", rate.reset.to_string().as_str())
            .insert_header("x-ratelimit-resource", "core")
    }
}

/// The wiremock responder: injected faults first, then authentication, then the routes.
struct Responder {
    github: Arc<Mutex<GitHub>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let at = Instant::now();
        let mut github = self.github.lock().expect("mock state");
        let method = request.method.as_str();
        let path = request.url.path();
        let (status, template) = match github.faults.take(method, path) {
            Some((status, body)) => json_reply(status, body),
            None if !github.authorized(request) => message(401, "Bad credentials"),
            None => github.route(request),
        };
        github.log.push(GhRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: request.url.query().unwrap_or_default().to_string(),
            status,
            headers: request
                .headers
                .iter()
                .filter(|(name, _)| *name != "authorization")
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_string(), value)
                })
                .collect(),
            body: serde_json::from_slice(&request.body).ok(),
            at,
        });
        github
            .rate_limit_headers(template)
            .insert_header("x-github-request-id", github_request_id().as_str())
    }
}

/// A running mock of the GitHub REST API on loopback.
pub struct GitHubMock {
    served: Served,
    github: Arc<Mutex<GitHub>>,
}

impl GitHubMock {
    /// Starts a mock without repositories that accepts only `token`.
    pub fn start(token: &str) -> Self {
        let mut state = None;
        let served = Served::start(|base| {
            let github = Arc::new(Mutex::new(GitHub {
                token: token.to_string(),
                base: base.to_string(),
                repos: Vec::new(),
                rate_limit: RateLimit {
                    limit: 5_000,
                    used: 0,
                    reset: unix_now() + 3_600,
                },
                faults: Faults::default(),
                log: Vec::new(),
                last_id: 1_000_000,
            }));
            state = Some(github.clone());
            Responder { github }
        });
        GitHubMock {
            served,
            github: state.expect("the responder was made"),
        }
    }

    fn github(&self) -> MutexGuard<'_, GitHub> {
        self.github.lock().expect("mock state")
    }

    /// The API base URL to give ferret (`http://127.0.0.1:PORT`).
    pub fn uri(&self) -> String {
        self.served.uri()
    }

    /// Adds the repository `owner/name` with a fresh secrets key pair; `has_issues: false`
    /// makes issue creation answer 410.
    pub fn add_repo(&self, owner: &str, name: &str, has_issues: bool) {
        let key_id: String = (0..18)
            .map(|_| char::from_digit(fastrand::u32(..10), 10).expect("a digit"))
            .collect();
        self.github().repos.push(Repo {
            owner: owner.to_string(),
            name: name.to_string(),
            has_issues,
            secret_key: SecretKey::generate(&mut OsRng),
            key_id,
            secrets: HashMap::new(),
            issues: Vec::new(),
        });
    }

    /// The next `count` requests whose method is `method` and whose path starts with
    /// `path_prefix` get `status` and this JSON body, before authentication, and change nothing.
    pub fn fail_next(
        &self,
        method: &str,
        path_prefix: &str,
        count: usize,
        status: u16,
        body: Value,
    ) {
        self.github()
            .faults
            .add(method, path_prefix, count, status, body);
    }

    /// The plaintext of an Actions secret and when it was last stored.
    pub fn secret(&self, owner: &str, name: &str, secret_name: &str) -> Option<(String, Instant)> {
        self.github()
            .repo(owner, name)?
            .secrets
            .get(secret_name)
            .cloned()
    }

    /// Every `PUT …/actions/secrets/{name}` so far: `(owner/name, secret name, status)`.
    pub fn secret_puts(&self) -> Vec<(String, String, u16)> {
        self.github()
            .log
            .iter()
            .filter(|r| r.method == "PUT")
            .filter_map(|r| {
                let segments: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
                match segments.as_slice() {
                    ["repos", owner, repo, "actions", "secrets", secret] => {
                        Some((format!("{owner}/{repo}"), secret.to_string(), r.status))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// The issues created in `owner/name`, in order, as the API answered them.
    pub fn issues(&self, owner: &str, name: &str) -> Vec<Value> {
        self.github()
            .repo(owner, name)
            .map(|repo| repo.issues.clone())
            .unwrap_or_default()
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<GhRequest> {
        self.github().log.clone()
    }
}
