//! A loopback OpenAI organization for the revocation tests, on wiremock: one organization whose
//! projects, project keys, service accounts, admin keys and audit log live in memory and change
//! as the Administration API of reference/APIS.md §C is called (items 1, 2 and 4 to 7 of the
//! "OpenAI mock" contract). `GET /v1/models` answers from the same state, so a test can watch a
//! leaked key die once ferret deletes it or its service account.
//!
//! Where the real API is undocumented, the mock chooses:
//! - `redacted_value` is the key's first 8 characters, `...` and its last 4 (`sk-proj-...AbCd`,
//!   `sk-svcac...AbCd`, `sk-admin...AbCd`).
//! - Lists are in creation order. `after` is an exclusive cursor that may name an object the list
//!   hides (deleted, archived, another project's); a cursor naming nothing is a 400. `limit` is
//!   clamped to 1..=100. The admin key list also takes `order=desc`.
//! - Every user-owned key belongs to the organization's one user, its owner.
//! - Keys of an archived project no longer authenticate.
//! - Revocation lag: a key deleted (directly or with its service account) while the lag is K
//!   still gets K more 200s from `/v1/models`, then 401s. Admin keys die at once.
//! - Admin routes check the admin key before the route, so an unknown route with a bad key is a
//!   401, and 404 only once authenticated.
//! - Only API calls write the audit log (`api_key.deleted`, `service_account.created`,
//!   `service_account.deleted`); the setup methods do not.
//!
//! - Members (`GET /v1/organization/users`, `GET …/projects/{id}/users`): the owner is a
//!   member of the organization and of every project; other users are members of the projects
//!   they are added to. A user who left is listed nowhere, and their keys keep working.
//!
//! Every response carries `x-request-id`. A test can inject faults (the next N requests of a
//! route get a chosen status and body, with no state change) and delays (applied after the state
//! change, so a client killed while waiting leaves the change done), and stall the N-th request
//! of a run, with or without its effect, so that a client can be killed right there.
//!
//! Like [`super::openai`], the mock owns the tokio runtime wiremock needs and the server answers
//! on a thread of its own, so tests drive it synchronously. Nothing here prints a full key: the
//! request log's `Debug` shows key fingerprints.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::Served;
use super::faults::Faults;
use super::openai::{
    ORGANIZATION, bare_error, bearer, error, json_response, masked, missing_scope,
    rate_limit_headers, request_id,
};
use super::openai_usage::{Usage, Used};
use super::{Shape, describe_key, random_alnum};

/// An operator's `[revoke]` settings with quick confirmation checks, so a test waits
/// milliseconds for a revoked key to die.
pub const FAST_CONFIRM: &str = "[revoke]\nconfirm_first_delay = \"20ms\"\nconfirm_checks = 6\n";

/// A status and the response to send with it.
type Reply = (u16, ResponseTemplate);

/// One request the mock answered.
#[derive(Clone)]
pub struct OrgRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, empty when there is none.
    pub query: String,
    pub status: u16,
    /// The `x-request-id` the response carried.
    pub request_id: String,
    /// The Bearer token, if any (compare it with keys; never print it).
    pub key: Option<String>,
    /// The request body, when it was JSON.
    pub body: Option<Value>,
    pub at: Instant,
}

/// Shows the key as a fingerprint only.
impl fmt::Debug for OrgRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("key", &self.key.as_deref().map(describe_key))
            .field("body", &self.body)
            .finish()
    }
}

/// A kill point: the `at`-th request received (1-based) is held for a minute, with its effect
/// on the organization (`apply`) or without it (as if it never arrived).
#[derive(Clone, Copy, Debug)]
struct Stall {
    at: usize,
    apply: bool,
    /// Set once the request arrived.
    reached: bool,
}

/// How long a stalled request is held: far longer than a test waits to kill its client.
const STALL: Duration = Duration::from_secs(60);

/// The organization and everything the mock remembers.
struct Org {
    id: String,
    name: String,
    /// The one user: owner of the organization and of every user-owned key.
    owner: User,
    projects: Vec<Project>,
    /// Project keys, user- and service-account-owned, in creation order.
    keys: Vec<ProjectKey>,
    service_accounts: Vec<ServiceAccount>,
    admin_keys: Vec<AdminKey>,
    audit_log: Vec<Value>,
    /// How many more `/v1/models` successes a key gets once deleted.
    revocation_lag: usize,
    faults: Faults,
    /// `(method, path prefix, delay)`; the last match wins.
    delays: Vec<(String, String, Duration)>,
    /// Requests received so far, stalled ones included.
    received: usize,
    stall: Option<Stall>,
    log: Vec<OrgRequest>,
    deleted_keys: Vec<String>,
    deleted_service_accounts: Vec<String>,
    deleted_admin_keys: Vec<String>,
    /// Full values of the keys minted by `POST …/service_accounts`.
    minted: Vec<String>,
    /// Live keys of other organizations: `/v1/models` accepts them (naming their organization
    /// and project), no list shows them.
    foreign_keys: Vec<ForeignKey>,
    /// Seeded usage and costs (tests/support/openai_usage.rs).
    usage: Usage,
    /// Users besides the owner (`left`: no longer a member of the organization).
    users: Vec<Member>,
    /// `(project, user)`: project memberships of users other than the owner.
    project_members: Vec<(String, String)>,
}

/// A user other than the owner.
struct Member {
    user: User,
    left: bool,
}

/// A live key of another organization.
struct ForeignKey {
    value: String,
    organization: String,
    project: String,
}

struct User {
    id: String,
    name: String,
    email: String,
    created_at: i64,
}

struct Project {
    id: String,
    name: String,
    created_at: i64,
    archived_at: Option<i64>,
}

struct ProjectKey {
    id: String,
    project_id: String,
    value: String,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
    /// The service account owning the key; `None`: a user's (`owner_user`, else the owner).
    service_account: Option<String>,
    /// The user owning the key, when not the organization's owner.
    owner_user: Option<String>,
    /// `owner_project_access`: whether the owner still has access to the project.
    owner_active: bool,
    /// Left out of every list (as if listings were incomplete), still live.
    hidden: bool,
    /// `None` while the key is live; once deleted, the `/v1/models` successes it has left.
    deleted: Option<usize>,
}

struct ServiceAccount {
    id: String,
    project_id: String,
    name: String,
    role: &'static str,
    created_at: i64,
    deleted: bool,
}

struct AdminKey {
    id: String,
    value: String,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
    deleted: bool,
}

fn unix_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("seconds fit in i64")
}

/// `prefix` and 24 random letters and digits, the shape of the API's object ids.
fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random_alnum(24))
}

/// The `redacted_value` of a key: its first 8 characters, `...` and its last 4.
pub fn redacted(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let head: String = chars.iter().take(8).collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{head}...{tail}")
}

fn ok(body: Value) -> Reply {
    (200, json_response(200, body))
}

fn invalid_request(status: u16, message: &str) -> Reply {
    error(status, message, "invalid_request_error", None)
}

fn invalid_url(method: &str, path: &str) -> Reply {
    invalid_request(404, &format!("Invalid URL ({method} {path})"))
}

fn not_found(what: &str, id: &str) -> Reply {
    invalid_request(404, &format!("No {what} found with id '{id}'."))
}

/// The 401 for a request without a key (`code` null), as the real API words it.
fn no_key() -> Reply {
    invalid_request(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization \
         header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field \
         (with blank username) if you're accessing the API from your browser and are prompted \
         for a username. You can obtain an API key from \
         https://platform.openai.com/account/api-keys.",
    )
}

/// The 401 for a key the organization does not accept, echoing it masked.
fn invalid_key(key: &str) -> Reply {
    let message = format!(
        "Incorrect API key provided: {}. You can find your API key at \
         https://platform.openai.com/account/api-keys.",
        masked(key)
    );
    error(
        401,
        &message,
        "invalid_request_error",
        Some("invalid_api_key"),
    )
}

/// The query string of a request, decoded.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(request: &Request) -> Self {
        Query(
            request
                .url
                .query_pairs()
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated parameter such as `event_types[]`.
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One page of a list whose objects are `entries`, `(id, object)` in list order, where a
/// `None` object is hidden from the list but still usable as the `after` cursor.
fn paginate(entries: Vec<(String, Option<Value>)>, query: &Query) -> Reply {
    let limit = match query.get("limit").map(str::parse::<i64>) {
        None => 20,
        Some(Ok(limit)) => limit.clamp(1, 100) as usize,
        Some(Err(_)) => return invalid_request(400, "Invalid 'limit': expected an integer."),
    };
    let start = match query.get("after") {
        None => 0,
        Some(after) => match entries.iter().position(|(id, _)| id == after) {
            Some(index) => index + 1,
            None => return invalid_request(400, &format!("Invalid 'after' cursor: '{after}'.")),
        },
    };
    let mut visible = entries
        .into_iter()
        .skip(start)
        .filter_map(|(_, object)| object);
    let data: Vec<Value> = visible.by_ref().take(limit).collect();
    let has_more = visible.next().is_some();
    let id_of = |object: Option<&Value>| object.map_or(Value::Null, |o| o["id"].clone());
    ok(json!({
        "object": "list",
        "first_id": id_of(data.first()),
        "last_id": id_of(data.last()),
        "data": data,
        "has_more": has_more,
    }))
}

impl Org {
    fn new() -> Self {
        let created_at = unix_now() - 400 * 86_400;
        Org {
            id: new_id("org-"),
            name: ORGANIZATION.to_string(),
            owner: User {
                id: new_id("user-"),
                name: "Ada Admin".to_string(),
                email: "ada@example.com".to_string(),
                created_at,
            },
            projects: Vec::new(),
            keys: Vec::new(),
            service_accounts: Vec::new(),
            admin_keys: Vec::new(),
            audit_log: Vec::new(),
            revocation_lag: 0,
            faults: Faults::default(),
            delays: Vec::new(),
            received: 0,
            stall: None,
            log: Vec::new(),
            deleted_keys: Vec::new(),
            deleted_service_accounts: Vec::new(),
            deleted_admin_keys: Vec::new(),
            minted: Vec::new(),
            foreign_keys: Vec::new(),
            usage: Usage::default(),
            users: Vec::new(),
            project_members: Vec::new(),
        }
    }

    fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    fn service_account(&self, project_id: &str, id: &str) -> Option<&ServiceAccount> {
        self.service_accounts
            .iter()
            .find(|sa| sa.id == id && sa.project_id == project_id && !sa.deleted)
    }

    /// Whether `/v1/models` accepts the key, lag aside.
    fn is_live(&self, key: &ProjectKey) -> bool {
        key.deleted.is_none()
            && self
                .project(&key.project_id)
                .is_some_and(|p| p.archived_at.is_none())
    }

    fn add_key(
        &mut self,
        project_id: &str,
        value: &str,
        name: &str,
        created_at: i64,
        service_account: Option<String>,
    ) -> String {
        assert!(
            self.project(project_id).is_some(),
            "no project {project_id} in the mock organization"
        );
        let id = new_id("key_");
        self.keys.push(ProjectKey {
            id: id.clone(),
            project_id: project_id.to_string(),
            value: value.to_string(),
            name: name.to_string(),
            created_at,
            last_used_at: None,
            service_account,
            owner_user: None,
            owner_active: true,
            hidden: false,
            deleted: None,
        });
        id
    }

    /// Marks a project key deleted; `/v1/models` still accepts it for the current lag.
    fn kill_key(&mut self, index: usize) {
        self.keys[index].deleted = Some(self.revocation_lag);
    }

    /// The answer to `request`, made after any state change it causes.
    fn answer(&mut self, request: &Request) -> Reply {
        let method = request.method.as_str();
        let path = request.url.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let key = bearer(request);
        match (method, segments.as_slice()) {
            ("GET", ["v1", "models"]) => self.models(key.as_deref()),
            (_, ["v1", "organization", route @ ..]) => match self.admin_caller(key.as_deref()) {
                // Like every authenticated answer, it names the caller's organization.
                Ok(admin) => {
                    let (status, template) = self.organization(request, route, admin);
                    let name = self.name.clone();
                    (
                        status,
                        template.insert_header("openai-organization", name.as_str()),
                    )
                }
                Err(refusal) => *refusal,
            },
            _ => invalid_url(method, path),
        }
    }

    /// `GET /v1/models`: 200 for a live project key (or one still within the revocation lag).
    fn models(&mut self, key: Option<&str>) -> Reply {
        let Some(key) = key else { return no_key() };
        if self.admin_keys.iter().any(|a| a.value == key && !a.deleted) {
            return invalid_request(403, &missing_scope("api.model.read"));
        }
        if let Some(foreign) = self.foreign_keys.iter().find(|k| k.value == key) {
            let template = json_response(200, json!({"object": "list", "data": []}))
                .insert_header("openai-organization", foreign.organization.as_str())
                .insert_header("openai-project", foreign.project.as_str())
                .insert_header("openai-version", "2020-10-01");
            return (200, rate_limit_headers(template, "9999", "6ms"));
        }
        let Some(index) = self.keys.iter().position(|k| k.value == key) else {
            return invalid_key(key);
        };
        if !self.is_live(&self.keys[index]) {
            match &mut self.keys[index].deleted {
                Some(lag) if *lag > 0 => *lag -= 1,
                _ => return invalid_key(key),
            }
        }
        let entry = &mut self.keys[index];
        entry.last_used_at = Some(unix_now());
        let template = json_response(
            200,
            json!({
                "object": "list",
                "data": [{
                    "id": "gpt-4o-mini",
                    "object": "model",
                    "created": 1686935002,
                    "owned_by": "system"
                }]
            }),
        )
        .insert_header("openai-organization", self.name.as_str())
        .insert_header("openai-project", entry.project_id.as_str())
        .insert_header("openai-processing-ms", "19");
        (200, rate_limit_headers(template, "9999", "6ms"))
    }

    /// The index of the admin key authenticating a request to `/v1/organization/…`, or the
    /// refusal (boxed, being large): 401 without a key or with an unknown one, 403 for a
    /// project key.
    fn admin_caller(&mut self, key: Option<&str>) -> Result<usize, Box<Reply>> {
        let key = key.ok_or_else(|| Box::new(no_key()))?;
        if let Some(index) = self
            .admin_keys
            .iter()
            .position(|a| a.value == key && !a.deleted)
        {
            self.admin_keys[index].last_used_at = Some(unix_now());
            return Ok(index);
        }
        if self.keys.iter().any(|k| k.value == key && self.is_live(k)) {
            return Err(Box::new(bare_error(
                403,
                &missing_scope("api.management.read"),
            )));
        }
        Err(Box::new(invalid_key(key)))
    }

    /// The routes under `/v1/organization/`, called with the admin key at `admin`.
    fn organization(&mut self, request: &Request, route: &[&str], admin: usize) -> Reply {
        let query = Query::of(request);
        match (request.method.as_str(), route) {
            ("GET", ["projects"]) => self.list_projects(&query),
            ("GET", ["projects", project]) => match self.project(project) {
                Some(project) => ok(self.project_json(project)),
                None => not_found("project", project),
            },
            (method, ["projects", project, route @ ..]) => {
                if self.project(project).is_none() {
                    return not_found("project", project);
                }
                self.project_route(request, method, project, route, &query, admin)
            }
            ("GET", ["users"]) => self.list_users(&query),
            ("GET", ["admin_api_keys"]) => self.list_admin_keys(&query),
            ("GET", ["admin_api_keys", id]) => {
                match self.admin_keys.iter().find(|a| a.id == *id && !a.deleted) {
                    Some(admin_key) => ok(self.admin_key_json(admin_key)),
                    None => not_found("admin API key", id),
                }
            }
            ("DELETE", ["admin_api_keys", id]) => self.delete_admin_key(id),
            ("GET", ["audit_logs"]) => self.list_audit_log(&query),
            ("GET", ["usage", kind]) => {
                let (status, body) = self.usage.answer(request, Some(kind));
                (status, json_response(status, body))
            }
            ("GET", ["costs"]) => {
                let (status, body) = self.usage.answer(request, None);
                (status, json_response(status, body))
            }
            (method, _) => invalid_url(method, request.url.path()),
        }
    }

    /// The routes under `/v1/organization/projects/{project_id}/`, for an existing project.
    fn project_route(
        &mut self,
        request: &Request,
        method: &str,
        project: &str,
        route: &[&str],
        query: &Query,
        admin: usize,
    ) -> Reply {
        match (method, route) {
            ("GET", ["api_keys"]) => self.list_keys(project, query),
            ("GET", ["users"]) => self.list_project_users(project, query),
            ("GET", ["api_keys", key]) => match self.project_key(project, key) {
                Some(index) => ok(self.key_json(&self.keys[index])),
                None => not_found("API key", key),
            },
            ("DELETE", ["api_keys", key]) => self.delete_key(project, key, admin),
            ("GET", ["service_accounts"]) => self.list_service_accounts(project, query),
            ("POST", ["service_accounts"]) => self.create_service_account(project, request, admin),
            ("GET", ["service_accounts", id]) => match self.service_account(project, id) {
                Some(sa) => ok(service_account_json(sa)),
                None => not_found("service account", id),
            },
            ("DELETE", ["service_accounts", id]) => self.delete_service_account(project, id, admin),
            _ => invalid_url(method, request.url.path()),
        }
    }

    fn project_json(&self, project: &Project) -> Value {
        json!({
            "object": "organization.project",
            "id": project.id,
            "name": project.name,
            "created_at": project.created_at,
            "archived_at": project.archived_at,
            "status": if project.archived_at.is_some() { "archived" } else { "active" },
        })
    }

    fn list_projects(&self, query: &Query) -> Reply {
        let include_archived = query.get("include_archived") == Some("true");
        let entries = self
            .projects
            .iter()
            .map(|p| {
                let listed = include_archived || p.archived_at.is_none();
                (p.id.clone(), listed.then(|| self.project_json(p)))
            })
            .collect();
        paginate(entries, query)
    }

    /// The index of the undeleted key `id` of `project_id`.
    fn project_key(&self, project_id: &str, id: &str) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.id == id && k.project_id == project_id && k.deleted.is_none())
    }

    /// A user by id: the owner or another (who may have left).
    fn user(&self, id: Option<&str>) -> &User {
        match id {
            Some(id) => {
                &self
                    .users
                    .iter()
                    .find(|m| m.user.id == id)
                    .expect("a key's user exists")
                    .user
            }
            None => &self.owner,
        }
    }

    fn user_json(user: &User, role: &str) -> Value {
        json!({
            "object": "organization.user",
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "role": role,
            "added_at": user.created_at,
        })
    }

    /// `GET /v1/organization/users`: the owner and every user who has not left.
    fn list_users(&self, query: &Query) -> Reply {
        let mut entries = vec![(
            self.owner.id.clone(),
            Some(Self::user_json(&self.owner, "owner")),
        )];
        for member in &self.users {
            let listed = !member.left;
            let user = listed.then(|| Self::user_json(&member.user, "reader"));
            entries.push((member.user.id.clone(), user));
        }
        paginate(entries, query)
    }

    /// `GET …/projects/{id}/users`: the owner, and the members added who have not left.
    fn list_project_users(&self, project_id: &str, query: &Query) -> Reply {
        let mut owner = Self::user_json(&self.owner, "owner");
        owner["object"] = json!("organization.project.user");
        let mut entries = vec![(self.owner.id.clone(), Some(owner))];
        for member in &self.users {
            let listed = !member.left
                && self
                    .project_members
                    .iter()
                    .any(|(p, u)| p == project_id && *u == member.user.id);
            let user = listed.then(|| {
                let mut user = Self::user_json(&member.user, "member");
                user["object"] = json!("organization.project.user");
                user
            });
            entries.push((member.user.id.clone(), user));
        }
        paginate(entries, query)
    }

    fn key_json(&self, key: &ProjectKey) -> Value {
        let owner = match &key.service_account {
            None => {
                let user = self.user(key.owner_user.as_deref());
                json!({
                    "type": "user",
                    "user": {
                        "id": user.id,
                        "name": user.name,
                        "email": user.email,
                        "role": "owner",
                        "created_at": user.created_at,
                    }
                })
            }
            Some(id) => {
                let sa = self
                    .service_accounts
                    .iter()
                    .find(|sa| sa.id == *id)
                    .expect("a key's service account exists");
                json!({"type": "service_account", "service_account": service_account_json(sa)})
            }
        };
        json!({
            "object": "organization.project.api_key",
            "id": key.id,
            "name": key.name,
            "redacted_value": redacted(&key.value),
            "created_at": key.created_at,
            "last_used_at": key.last_used_at,
            "owner_project_access": if key.owner_active { "active" } else { "inactive" },
            "owner": owner,
        })
    }

    fn list_keys(&self, project_id: &str, query: &Query) -> Reply {
        let shown: fn(&ProjectKey) -> bool = match query.get("owner_project_access") {
            None | Some("active") => |k| k.owner_active,
            Some("inactive") => |k| !k.owner_active,
            Some("any") => |_| true,
            Some(other) => {
                let message = format!(
                    "Invalid 'owner_project_access': '{other}'. Expected one of: 'active', \
                     'inactive', 'any'."
                );
                return invalid_request(400, &message);
            }
        };
        let entries = self
            .keys
            .iter()
            .map(|k| {
                let listed =
                    k.project_id == project_id && k.deleted.is_none() && !k.hidden && shown(k);
                (k.id.clone(), listed.then(|| self.key_json(k)))
            })
            .collect();
        paginate(entries, query)
    }

    fn delete_key(&mut self, project_id: &str, id: &str, admin: usize) -> Reply {
        let Some(index) = self.project_key(project_id, id) else {
            return not_found("API key", id);
        };
        if self.keys[index].service_account.is_some() {
            return invalid_request(
                400,
                "Service account API keys cannot be deleted with this endpoint. Delete the \
                 service account instead.",
            );
        }
        self.kill_key(index);
        self.deleted_keys.push(id.to_string());
        self.audit("api_key.deleted", project_id, admin, json!({ "id": id }));
        ok(json!({"object": "organization.project.api_key.deleted", "id": id, "deleted": true}))
    }

    fn list_service_accounts(&self, project_id: &str, query: &Query) -> Reply {
        let entries = self
            .service_accounts
            .iter()
            .map(|sa| {
                let listed = sa.project_id == project_id && !sa.deleted;
                (sa.id.clone(), listed.then(|| service_account_json(sa)))
            })
            .collect();
        paginate(entries, query)
    }

    /// `POST …/service_accounts`: a new service account with, unless
    /// `create_service_account_only`, a freshly minted key returned in full.
    fn create_service_account(
        &mut self,
        project_id: &str,
        request: &Request,
        admin: usize,
    ) -> Reply {
        let Ok(body) = request.body_json::<Value>() else {
            return invalid_request(400, "We could not parse the JSON body of your request.");
        };
        let Some(name) = body["name"].as_str() else {
            return invalid_request(400, "Missing required parameter: 'name'.");
        };
        let only = body["create_service_account_only"].as_bool() == Some(true);
        let project = self
            .project(project_id)
            .expect("the route checked the project");
        if project.archived_at.is_some() {
            let message = format!("Project {project_id} is archived and cannot be updated.");
            return invalid_request(400, &message);
        }
        let now = unix_now();
        let sa = ServiceAccount {
            id: new_id("svc_acct_"),
            project_id: project_id.to_string(),
            name: name.to_string(),
            role: if only { "none" } else { "member" },
            created_at: now,
            deleted: false,
        };
        let mut created = service_account_json(&sa);
        let sa_id = sa.id.clone();
        let role = sa.role;
        self.service_accounts.push(sa);
        created["api_key"] = if only {
            Value::Null
        } else {
            let value = Shape::ServiceAccount74.key();
            let key_id = self.add_key(project_id, &value, "Secret Key", now, Some(sa_id.clone()));
            self.minted.push(value.clone());
            json!({
                "object": "organization.project.service_account.api_key",
                "value": value,
                "name": "Secret Key",
                "created_at": now,
                "id": key_id,
            })
        };
        let payload = json!({"id": sa_id, "data": {"role": role}});
        self.audit("service_account.created", project_id, admin, payload);
        ok(created)
    }

    /// Deletes a service account and, with it, every key it owns.
    fn delete_service_account(&mut self, project_id: &str, id: &str, admin: usize) -> Reply {
        let Some(index) = self
            .service_accounts
            .iter()
            .position(|sa| sa.id == id && sa.project_id == project_id && !sa.deleted)
        else {
            return not_found("service account", id);
        };
        self.service_accounts[index].deleted = true;
        for key in 0..self.keys.len() {
            let entry = &self.keys[key];
            if entry.service_account.as_deref() == Some(id) && entry.deleted.is_none() {
                self.kill_key(key);
            }
        }
        self.deleted_service_accounts.push(id.to_string());
        self.audit(
            "service_account.deleted",
            project_id,
            admin,
            json!({ "id": id }),
        );
        ok(json!({
            "object": "organization.project.service_account.deleted",
            "id": id,
            "deleted": true,
        }))
    }

    fn admin_key_json(&self, admin_key: &AdminKey) -> Value {
        json!({
            "object": "organization.admin_api_key",
            "id": admin_key.id,
            "name": admin_key.name,
            "redacted_value": redacted(&admin_key.value),
            "created_at": admin_key.created_at,
            "expires_at": null,
            "last_used_at": admin_key.last_used_at,
            "owner": {
                "type": "user",
                "object": "organization.user",
                "id": self.owner.id,
                "name": self.owner.name,
                "role": "owner",
            }
        })
    }

    fn list_admin_keys(&self, query: &Query) -> Reply {
        let mut entries: Vec<_> = self
            .admin_keys
            .iter()
            .map(|a| (a.id.clone(), (!a.deleted).then(|| self.admin_key_json(a))))
            .collect();
        match query.get("order") {
            None | Some("asc") => {}
            Some("desc") => entries.reverse(),
            Some(other) => {
                let message = format!("Invalid 'order': '{other}'. Expected 'asc' or 'desc'.");
                return invalid_request(400, &message);
            }
        }
        paginate(entries, query)
    }

    fn delete_admin_key(&mut self, id: &str) -> Reply {
        let Some(admin_key) = self
            .admin_keys
            .iter_mut()
            .find(|a| a.id == id && !a.deleted)
        else {
            return not_found("admin API key", id);
        };
        admin_key.deleted = true;
        self.deleted_admin_keys.push(id.to_string());
        ok(json!({"id": id, "object": "organization.admin_api_key.deleted", "deleted": true}))
    }

    /// Appends an audit event `kind` whose payload sits under a key named like the event, done
    /// by the admin key at `admin` in `project_id`.
    fn audit(&mut self, kind: &str, project_id: &str, admin: usize, payload: Value) {
        let project = self.project(project_id).expect("audited projects exist");
        let mut entry = json!({
            "id": new_id("audit_log-"),
            "type": kind,
            "effective_at": unix_now(),
            "project": {"id": project.id, "name": project.name},
            "actor": {
                "type": "api_key",
                "api_key": {
                    "id": self.admin_keys[admin].id,
                    "type": "user",
                    "user": {"id": self.owner.id, "email": self.owner.email},
                }
            },
        });
        entry[kind] = payload;
        self.audit_log.push(entry);
    }

    /// `GET …/audit_logs` with the `event_types[]`, `resource_ids[]`, `project_ids[]` and
    /// `effective_at[gt|gte|lt|lte]` filters.
    fn list_audit_log(&self, query: &Query) -> Reply {
        let event_types = query.all("event_types[]");
        let resource_ids = query.all("resource_ids[]");
        let project_ids = query.all("project_ids[]");
        let mut bounds: Vec<(&str, i64)> = Vec::new();
        for op in ["gt", "gte", "lt", "lte"] {
            let name = format!("effective_at[{op}]");
            if let Some(value) = query.get(&name) {
                let Ok(bound) = value.parse() else {
                    return invalid_request(
                        400,
                        &format!("Invalid '{name}': expected an integer."),
                    );
                };
                bounds.push((op, bound));
            }
        }
        let in_bounds = |at: i64| {
            bounds.iter().all(|&(op, bound)| match op {
                "gt" => at > bound,
                "gte" => at >= bound,
                "lt" => at < bound,
                _ => at <= bound,
            })
        };
        let entries = self
            .audit_log
            .iter()
            .map(|entry| {
                let kind = entry["type"].as_str().unwrap_or_default();
                let resource = entry[kind]["id"].as_str().unwrap_or_default();
                let project = entry["project"]["id"].as_str().unwrap_or_default();
                let listed = (event_types.is_empty() || event_types.contains(&kind))
                    && (resource_ids.is_empty() || resource_ids.contains(&resource))
                    && (project_ids.is_empty() || project_ids.contains(&project))
                    && in_bounds(entry["effective_at"].as_i64().unwrap_or_default());
                let id = entry["id"].as_str().unwrap_or_default().to_string();
                (id, listed.then(|| entry.clone()))
            })
            .collect();
        paginate(entries, query)
    }

    /// The delay set for this route, if any.
    fn delay_for(&self, method: &str, path: &str) -> Option<Duration> {
        self.delays
            .iter()
            .rev()
            .find(|(m, prefix, _)| m.eq_ignore_ascii_case(method) && path.starts_with(prefix))
            .map(|&(_, _, delay)| delay)
    }
}

fn service_account_json(sa: &ServiceAccount) -> Value {
    json!({
        "object": "organization.project.service_account",
        "id": sa.id,
        "name": sa.name,
        "role": sa.role,
        "created_at": sa.created_at,
    })
}

/// The wiremock responder: injected faults first, then the organization's own answer.
struct Responder {
    org: Arc<Mutex<Org>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let at = Instant::now();
        let mut org = self.org.lock().expect("mock state");
        let method = request.method.as_str();
        let path = request.url.path();
        org.received += 1;
        let received = org.received;
        let stall = org.stall.as_mut().filter(|s| s.at == received).map(|s| {
            s.reached = true;
            s.apply
        });
        if stall == Some(false) {
            // Never reached the organization: no effect, no log entry.
            return ResponseTemplate::new(503).set_delay(STALL);
        }
        let (status, template) = match org.faults.take(method, path) {
            Some((status, body)) => (status, json_response(status, body)),
            None => org.answer(request),
        };
        let request_id = request_id();
        org.log.push(OrgRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: request.url.query().unwrap_or_default().to_string(),
            status,
            request_id: request_id.clone(),
            key: bearer(request),
            body: serde_json::from_slice(&request.body).ok(),
            at,
        });
        let template = template.insert_header("x-request-id", request_id.as_str());
        match stall.map(|_| STALL).or_else(|| org.delay_for(method, path)) {
            Some(delay) => template.set_delay(delay),
            None => template,
        }
    }
}

/// A running mock OpenAI organization on loopback.
pub struct OpenAiOrg {
    served: Served,
    org: Arc<Mutex<Org>>,
}

impl OpenAiOrg {
    /// Starts an organization with no project, key or admin key.
    pub fn start() -> Self {
        let org = Arc::new(Mutex::new(Org::new()));
        let served = Served::start(|_| Responder { org: org.clone() });
        OpenAiOrg { served, org }
    }

    fn org(&self) -> MutexGuard<'_, Org> {
        self.org.lock().expect("mock state")
    }

    /// The base URL to give ferret (`http://127.0.0.1:PORT`, without `/v1`).
    pub fn uri(&self) -> String {
        self.served.uri()
    }

    /// The organization's id (`org-…`) and name (the `openai-organization` header).
    pub fn organization(&self) -> (String, String) {
        let org = self.org();
        (org.id.clone(), org.name.clone())
    }

    /// Adds an active project; returns its `proj_…` id. Lists show projects in this order.
    pub fn add_project(&self, name: &str) -> String {
        let id = new_id("proj_");
        self.org().projects.push(Project {
            id: id.clone(),
            name: name.to_string(),
            created_at: unix_now() - 86_400,
            archived_at: None,
        });
        id
    }

    /// Archives a project: it leaves the default project list and its keys stop working.
    pub fn archive_project(&self, project_id: &str) {
        let mut org = self.org();
        let project = org
            .projects
            .iter_mut()
            .find(|p| p.id == project_id)
            .unwrap_or_else(|| panic!("no project {project_id} in the mock organization"));
        project.archived_at = Some(unix_now());
    }

    /// A key of `project_id` owned by the organization's user, with this full value; returns
    /// its `key_…` id.
    pub fn add_user_key(&self, project_id: &str, value: &str, created_at: i64) -> String {
        self.org()
            .add_key(project_id, value, "Leaked Key", created_at, None)
    }

    /// A service account of `project_id` owning one key per value; returns its `svc_acct_…`
    /// id and the keys' ids.
    pub fn add_service_account(
        &self,
        project_id: &str,
        name: &str,
        values: &[String],
    ) -> (String, Vec<String>) {
        let mut org = self.org();
        let created_at = unix_now() - 3_600;
        let id = new_id("svc_acct_");
        org.service_accounts.push(ServiceAccount {
            id: id.clone(),
            project_id: project_id.to_string(),
            name: name.to_string(),
            role: "member",
            created_at,
            deleted: false,
        });
        let keys = values
            .iter()
            .map(|value| {
                org.add_key(
                    project_id,
                    value,
                    "Secret Key",
                    created_at,
                    Some(id.clone()),
                )
            })
            .collect();
        (id, keys)
    }

    /// An admin key with this full value; returns its `key_…` id.
    pub fn add_admin_key(&self, value: &str, name: &str) -> String {
        let id = new_id("key_");
        self.org().admin_keys.push(AdminKey {
            id: id.clone(),
            value: value.to_string(),
            name: name.to_string(),
            created_at: unix_now() - 7 * 86_400,
            last_used_at: None,
            deleted: false,
        });
        id
    }

    /// Sets a key's `owner_project_access` to `inactive`: lists hide it unless asked for
    /// `inactive` or `any` keys. The key keeps working.
    pub fn set_owner_inactive(&self, key_id: &str) {
        let mut org = self.org();
        let key = org
            .keys
            .iter_mut()
            .find(|k| k.id == key_id)
            .unwrap_or_else(|| panic!("no key {key_id} in the mock organization"));
        key.owner_active = false;
    }

    /// A live key of another organization: it verifies, and no list of this one shows it.
    pub fn add_foreign_key(&self, value: &str) {
        self.add_key_of_organization(value, "another-org", "proj_theirs");
    }

    /// A live key of the organization named `organization` (its `openai-organization`), in
    /// its project `project`: verification names both, no list of this organization shows it.
    pub fn add_key_of_organization(&self, value: &str, organization: &str, project: &str) {
        self.org().foreign_keys.push(ForeignKey {
            value: value.to_string(),
            organization: organization.to_string(),
            project: project.to_string(),
        });
    }

    /// Leaves a key out of every list, as an incomplete listing would; it keeps working.
    pub fn hide_from_lists(&self, key_id: &str) {
        let mut org = self.org();
        let key = org
            .keys
            .iter_mut()
            .find(|k| k.id == key_id)
            .unwrap_or_else(|| panic!("no key {key_id} in the mock organization"));
        key.hidden = true;
    }

    /// A key deleted from now on keeps working on `/v1/models` for this many further requests.
    pub fn set_revocation_lag(&self, requests: usize) {
        self.org().revocation_lag = requests;
    }

    /// The next `count` requests whose method is `method` and whose path starts with
    /// `path_prefix` get `status` and this JSON body (with an `x-request-id`), and change
    /// nothing.
    pub fn fail_next(
        &self,
        method: &str,
        path_prefix: &str,
        count: usize,
        status: u16,
        body: Value,
    ) {
        self.org()
            .faults
            .add(method, path_prefix, count, status, body);
    }

    /// Holds back every answer to the matching requests by `delay`, after the request has had
    /// its effect (a client giving up meanwhile does not undo it). A later call for an
    /// overlapping route wins; `Duration::ZERO` ends a delay.
    pub fn delay(&self, method: &str, path_prefix: &str, delay: Duration) {
        self.org()
            .delays
            .push((method.to_string(), path_prefix.to_string(), delay));
    }

    /// Stalls the `at`-th request from now on (1-based; requests already received do not
    /// count) for a minute: with `apply`, after its effect on the organization (the client dies
    /// before the answer); without, before (the request never arrived: no effect, no log
    /// entry). Replaces any earlier stall.
    pub fn stall(&self, at: usize, apply: bool) {
        let mut org = self.org();
        let at = org.received + at;
        org.stall = Some(Stall {
            at,
            apply,
            reached: false,
        });
    }

    /// Whether the stalled request has arrived.
    pub fn stall_reached(&self) -> bool {
        self.org().stall.is_some_and(|s| s.reached)
    }

    /// Ends the stall: requests are answered at once again (one held still waits its minute).
    pub fn end_stall(&self) {
        self.org().stall = None;
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<OrgRequest> {
        self.org().log.clone()
    }

    /// Whether `/v1/models` accepts this project or service-account key now, revocation lag
    /// aside (admin keys never pass there).
    pub fn key_is_live(&self, value: &str) -> bool {
        let org = self.org();
        org.keys.iter().any(|k| k.value == value && org.is_live(k))
    }

    /// The ids of the project keys `DELETE …/api_keys/{id}` deleted, in order.
    pub fn deleted_keys(&self) -> Vec<String> {
        self.org().deleted_keys.clone()
    }

    /// The ids of the service accounts deleted through the API, in order.
    pub fn deleted_service_accounts(&self) -> Vec<String> {
        self.org().deleted_service_accounts.clone()
    }

    /// The ids of the admin keys deleted through the API, in order.
    pub fn deleted_admin_keys(&self) -> Vec<String> {
        self.org().deleted_admin_keys.clone()
    }

    /// The current (undeleted) service accounts of a project: `(id, name)` in creation order.
    pub fn service_accounts(&self, project_id: &str) -> Vec<(String, String)> {
        self.org()
            .service_accounts
            .iter()
            .filter(|sa| sa.project_id == project_id && !sa.deleted)
            .map(|sa| (sa.id.clone(), sa.name.clone()))
            .collect()
    }

    /// The full values of the keys minted by `POST …/service_accounts`, in order.
    pub fn created_key_values(&self) -> Vec<String> {
        self.org().minted.clone()
    }

    /// Every audit log entry, oldest first.
    pub fn audit_log(&self) -> Vec<Value> {
        self.org().audit_log.clone()
    }

    /// Seeds use of a key (by id) in a project (for the usage and costs endpoints).
    pub fn add_usage(&self, used: Used) {
        self.org().usage.used.push(used);
    }

    /// Caps the buckets of a usage or costs page, so that clients must follow `next_page`.
    pub fn set_usage_page_size(&self, buckets: usize) {
        self.org().usage.page_size = Some(buckets);
    }

    /// Whether `GET /costs` accepts `api_key_ids[]` (when not, it answers 400).
    pub fn set_costs_take_key_filter(&self, accepted: bool) {
        self.org().usage.costs_take_key_filter = accepted;
    }

    /// Adds an audit log entry (`api_key.created` naming a key's scopes).
    pub fn add_key_created_event(&self, key_id: &str, project_id: &str, scopes: &[&str]) {
        let mut org = self.org();
        let entry = json!({
            "id": new_id("audit_log-"),
            "type": "api_key.created",
            "effective_at": unix_now() - 86_400,
            "project": {"id": project_id, "name": "Production"},
            "actor": {"type": "session"},
            "api_key.created": {"id": key_id, "data": {"scopes": scopes}},
        });
        org.audit_log.push(entry);
    }

    /// A user of the organization besides the owner; returns their `user-…` id.
    pub fn add_user(&self, name: &str, email: &str) -> String {
        let id = new_id("user-");
        self.org().users.push(Member {
            user: User {
                id: id.clone(),
                name: name.to_string(),
                email: email.to_string(),
                created_at: unix_now() - 200 * 86_400,
            },
            left: false,
        });
        id
    }

    /// The user leaves the organization: no member list shows them; their keys keep working.
    pub fn remove_user(&self, user_id: &str) {
        let mut org = self.org();
        let member = org
            .users
            .iter_mut()
            .find(|m| m.user.id == user_id)
            .unwrap_or_else(|| panic!("no user {user_id} in the mock organization"));
        member.left = true;
    }

    /// Makes a user a member of a project.
    pub fn add_project_member(&self, project_id: &str, user_id: &str) {
        self.org()
            .project_members
            .push((project_id.to_string(), user_id.to_string()));
    }

    /// A key of `project_id` owned by `user_id` (from [`Self::add_user`]); returns its id.
    pub fn add_key_of_user(
        &self,
        project_id: &str,
        value: &str,
        created_at: i64,
        user_id: &str,
    ) -> String {
        let mut org = self.org();
        let id = org.add_key(project_id, value, "Team Key", created_at, None);
        let key = org.keys.last_mut().expect("just added");
        key.owner_user = Some(user_id.to_string());
        id
    }

    /// Sets a project key's `last_used_at` (Unix seconds, or never).
    pub fn set_last_used(&self, key_id: &str, at: Option<i64>) {
        let mut org = self.org();
        let key = org
            .keys
            .iter_mut()
            .find(|k| k.id == key_id)
            .unwrap_or_else(|| panic!("no key {key_id} in the mock organization"));
        key.last_used_at = at;
    }

    /// Sets a project key's `created_at` (Unix seconds).
    pub fn set_created(&self, key_id: &str, at: i64) {
        let mut org = self.org();
        let key = org
            .keys
            .iter_mut()
            .find(|k| k.id == key_id)
            .unwrap_or_else(|| panic!("no key {key_id} in the mock organization"));
        key.created_at = at;
    }
}
