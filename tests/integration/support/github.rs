//! A loopback GitHub REST API for the revocation hooks and the org-wide sweep, on wiremock,
//! following the "GitHub mock" contract of reference/APIS.md: token authentication, rate-limit
//! headers and rate-limit scenarios, repository listings paginated with absolute `link` URLs,
//! repository metadata, SARIF uploads, secret-scanning alerts, Actions secrets and issues, for
//! repositories each test adds.
//!
//! Every repository has its own X25519 key pair, whose public half the secrets API hands out;
//! sealed secret values are opened with the private half and kept in clear for assertions, so a
//! test sees exactly what a workflow would get. Uploaded SARIF is decoded (base64, gzip, JSON)
//! and kept for assertions too. A route is one arm of [`GitHub::route`] and one handler method,
//! so endpoints are easy to add.
//!
//! Where the mock differs from github.com on purpose: `html_url` of a repository is
//! `{base}/{owner}/{repo}` (the mock's own base URL), `clone_url` is `{base}/{owner}/{repo}.git`
//! unless the test sets one (normally a [`super::git_server::GitServer`] URL), `link` URLs keep
//! the `/orgs/{org}/…` path the client asked for (github.com rewrites it to
//! `/organizations/{id}/…`), and a secret-scanning location's `blob_sha` is made up.
//!
//! Like [`super::openai`], the mock owns the tokio runtime wiremock needs and the server answers
//! on a thread of its own, so tests drive it synchronously. The request log leaves out the
//! `Authorization` header.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use crypto_box::SecretKey;
use crypto_box::aead::OsRng;
use flate2::read::MultiGzDecoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::{Request, Respond, ResponseTemplate};

use super::Served;
use super::faults::Faults;

/// The `documentation_url` of every error body.
const DOCS: &str = "https://docs.github.com/rest";

/// The `documentation_url` of a primary rate-limit answer.
const PRIMARY_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

/// The `documentation_url` of a secondary rate-limit answer.
const SECONDARY_DOCS: &str = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/// GitHub's limit on the gzip-compressed SARIF of one upload (reference/APIS.md §E).
pub const SARIF_GZIP_LIMIT: usize = 10 * 1024 * 1024;

/// Where the mock's clock starts: 2024-01-01T00:00:00Z. Every repository and alert the test
/// adds is one minute younger than the previous one.
const EPOCH_START: u64 = 1_704_067_200;

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

/// The kind of account that owns repositories. `GET /orgs/{org}/…` answers only for
/// organizations; `GET /users/{user}/repos` for both, as on github.com.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerKind {
    Organization,
    User,
}

impl OwnerKind {
    /// The `owner.type` of the API.
    fn api_name(self) -> &'static str {
        match self {
            OwnerKind::Organization => "Organization",
            OwnerKind::User => "User",
        }
    }
}

/// A repository for [`GitHubMock::add_repo_with`]; [`RepoSpec::new`] gives GitHub's defaults
/// (public, not a fork, not archived, default branch `main`, issues on).
#[derive(Clone, Debug)]
pub struct RepoSpec {
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub fork: bool,
    pub archived: bool,
    pub default_branch: String,
    /// The size in KB, as the API reports it.
    pub size: u64,
    /// The `clone_url` to report; `None` reports `{base}/{owner}/{name}.git` on the mock,
    /// where nothing answers git.
    pub clone_url: Option<String>,
    /// `false` makes issue creation answer 410.
    pub has_issues: bool,
}

impl RepoSpec {
    pub fn new(owner: &str, name: &str) -> Self {
        RepoSpec {
            owner: owner.to_string(),
            name: name.to_string(),
            private: false,
            fork: false,
            archived: false,
            default_branch: "main".to_string(),
            size: 1,
            clone_url: None,
            has_issues: true,
        }
    }
}

/// A rate-limit answer for [`GitHubMock::rate_limit_next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimitKind {
    /// Primary limit exhausted: 403, `x-ratelimit-remaining: 0`, `x-ratelimit-reset` in the
    /// given number of seconds, "API rate limit exceeded for …".
    Primary403,
    /// The same with status 429.
    Primary429,
    /// Secondary limit: 403 with `retry-after` set to the given number of seconds, the primary
    /// headers as usual (remaining above 0), "You have exceeded a secondary rate limit…".
    Secondary,
    /// The same with status 429.
    Secondary429,
}

/// Everything the mock remembers.
struct GitHub {
    /// The only token accepted.
    token: String,
    /// The server's own base URL, for the URLs in answers.
    base: String,
    /// Every account that owns repositories, in the order they became known.
    owners: Vec<(String, OwnerKind)>,
    /// In creation order.
    repos: Vec<Repo>,
    rate_limit: RateLimit,
    /// Pending rate-limit answers: kind, seconds, how many requests still get it.
    rate_limited: Vec<(RateLimitKind, u64, usize)>,
    faults: Faults,
    log: Vec<GhRequest>,
    /// The last issue id handed out.
    last_id: u64,
    /// The mock's clock (epoch seconds) for creation and push times.
    clock: u64,
    sarif_limit: usize,
    /// The most items a page holds (see [`GitHubMock::set_page_size_cap`]).
    page_size_cap: usize,
    uploads: Vec<SarifUpload>,
}

struct Repo {
    id: u64,
    owner: String,
    name: String,
    private: bool,
    fork: bool,
    archived: bool,
    default_branch: String,
    size: u64,
    clone_url: Option<String>,
    created_at: u64,
    pushed_at: u64,
    has_issues: bool,
    /// The private half of the key pair the secrets API seals values for.
    secret_key: SecretKey,
    key_id: String,
    /// Secret name → plaintext and when it was stored.
    secrets: HashMap<String, (String, Instant)>,
    issues: Vec<Value>,
    /// Secret-scanning alerts, numbered from 1.
    alerts: Vec<Alert>,
}

/// A secret-scanning alert: one per secret and repository, with every place it was seen.
struct Alert {
    number: u64,
    secret: String,
    created_at: u64,
    updated_at: u64,
    /// `None` while open, else the resolution and when.
    resolved: Option<(String, u64)>,
    locations: Vec<AlertLocation>,
}

struct AlertLocation {
    path: String,
    line: u64,
    commit_sha: String,
}

/// One accepted SARIF upload.
struct SarifUpload {
    id: String,
    /// `owner/name`.
    repo: String,
    commit_sha: String,
    reference: String,
    sarif: Value,
    /// How many times its status was asked for.
    polls: u32,
    /// Why processing fails; empty when it succeeds.
    errors: Vec<String>,
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

/// `2024-01-01T00:00:00Z` for epoch seconds.
fn iso8601(epoch: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let days = (epoch / 86_400) as i64 + 719_468;
    let seconds = epoch % 86_400;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
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

/// A random version-4 style UUID, as SARIF upload ids are.
fn uuid() -> String {
    let hex: String = (0..32)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("a hex digit"))
        .collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..]
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

/// The first value of a query parameter.
fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The first value of a request header, when it is text.
fn request_header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// What is wrong with the `commit_sha` and `ref` of a SARIF upload, in the words of GitHub's
/// schema validation (which answers 422).
fn upload_field_problems(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    match body["commit_sha"].as_str() {
        None => problems.push("\"commit_sha\" wasn't supplied.".to_string()),
        Some(sha) => {
            if sha.len() < 40 {
                problems.push(format!(
                    "At least 40 characters are required; only {} were supplied.",
                    sha.len()
                ));
            }
            if sha.len() > 40 {
                problems.push(format!(
                    "Only 40 characters are allowed; {} were supplied.",
                    sha.len()
                ));
            }
            if sha.is_empty() || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                problems.push(format!("{sha} does not match /^[0-9a-f]+$/."));
            }
        }
    }
    match body["ref"].as_str() {
        None => problems.push("\"ref\" wasn't supplied.".to_string()),
        Some(reference)
            if !["refs/heads/", "refs/tags/", "refs/pull/"]
                .iter()
                .any(|prefix| reference.starts_with(prefix)) =>
        {
            problems.push(format!(
                "{reference} does not match /^refs\\/(heads|tags|pull)\\/.*$/."
            ));
        }
        Some(_) => {}
    }
    if !body["sarif"].is_string() {
        problems.push("\"sarif\" wasn't supplied.".to_string());
    }
    problems
}

/// Decodes the `sarif` field of an upload: base64, then gzip, then a JSON SARIF 2.1.0 log.
/// `Err` is the status and message to answer with.
fn decode_sarif(encoded: &str, limit: usize) -> Result<Value, (u16, String)> {
    let invalid = |why: &str| (400, format!("Invalid request.\n\nsarif: {why}"));
    let gzip = BASE64
        .decode(encoded)
        .map_err(|_| invalid("not valid base64"))?;
    if gzip.len() > limit {
        return Err((
            413,
            format!(
                "The SARIF upload is too large: {} bytes of gzip, at most {limit} allowed.",
                gzip.len()
            ),
        ));
    }
    let mut json = Vec::new();
    MultiGzDecoder::new(gzip.as_slice())
        .read_to_end(&mut json)
        .map_err(|_| invalid("not valid gzip"))?;
    let sarif: Value =
        serde_json::from_slice(&json).map_err(|_| invalid("the decompressed file is not JSON"))?;
    if sarif["version"] != "2.1.0" {
        return Err(invalid("version must be \"2.1.0\""));
    }
    if !sarif["runs"].is_array() {
        return Err(invalid("runs must be an array"));
    }
    Ok(sarif)
}

/// Why GitHub would fail to process a SARIF log that passed upload validation: results without
/// a location, regions with a line or column below 1.
fn sarif_processing_errors(sarif: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let runs = sarif["runs"].as_array().map_or(&[][..], Vec::as_slice);
    for (i, run) in runs.iter().enumerate() {
        let results = run["results"].as_array().map_or(&[][..], Vec::as_slice);
        for (j, result) in results.iter().enumerate() {
            let locations = result["locations"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            if locations.is_empty() {
                errors.push(format!(
                    "locationFromSarifResult: expected at least one location (runs[{i}].results[{j}])"
                ));
            }
            for (k, location) in locations.iter().enumerate() {
                let region = &location["physicalLocation"]["region"];
                for field in ["startLine", "startColumn", "endLine", "endColumn"] {
                    if let Some(value) = region[field].as_i64()
                        && value < 1
                    {
                        errors.push(format!(
                            "instance.runs[{i}].results[{j}].locations[{k}].physicalLocation.region.{field} must have a minimum value of 1"
                        ));
                    }
                }
            }
        }
    }
    errors
}

/// Sorts a listing by the `sort` and `direction` parameters as GitHub documents them: `sort`
/// defaults to `default_sort`, `direction` to ascending for `full_name` and descending
/// otherwise. `key` gives an item's `(name, created, updated)`; ties keep creation order.
fn sort_listing<T>(
    items: &mut [T],
    request: &Request,
    default_sort: &str,
    key: impl Fn(&T) -> (String, u64, u64),
) {
    let sort = query(request, "sort").unwrap_or_else(|| default_sort.to_string());
    match sort.as_str() {
        "full_name" => items.sort_by_key(|item| key(item).0),
        "updated" | "pushed" => items.sort_by_key(|item| key(item).2),
        _ => items.sort_by_key(|item| key(item).1),
    }
    let ascending = match query(request, "direction").as_deref() {
        Some("asc") => true,
        Some("desc") => false,
        _ => sort == "full_name",
    };
    if !ascending {
        items.reverse();
    }
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

    fn find_repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .iter()
            .find(|r| r.owner == owner && r.name == name)
    }

    fn owner_kind(&self, login: &str) -> Option<OwnerKind> {
        self.owners
            .iter()
            .find(|(name, _)| name == login)
            .map(|(_, kind)| *kind)
    }

    /// Advances the clock by a minute and returns it.
    fn tick(&mut self) -> u64 {
        self.clock += 60;
        self.clock
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
            ("GET", ["orgs", org, "repos"]) => self.list_repos(org, true, request),
            ("GET", ["users", user, "repos"]) => self.list_repos(user, false, request),
            ("GET", ["repos", owner, repo]) => match self.find_repo(owner, repo) {
                Some(repo) => json_reply(200, self.repo_json(repo)),
                None => not_found(),
            },
            ("GET", ["repos", owner, repo, "actions", "secrets", "public-key"]) => {
                self.public_key(owner, repo)
            }
            ("PUT", ["repos", owner, repo, "actions", "secrets", name]) => {
                self.put_secret(owner, repo, name, request)
            }
            ("POST", ["repos", owner, repo, "issues"]) => self.create_issue(owner, repo, request),
            ("POST", ["repos", owner, repo, "code-scanning", "sarifs"]) => {
                self.upload_sarif(owner, repo, request)
            }
            ("GET", ["repos", owner, repo, "code-scanning", "sarifs", id]) => {
                self.sarif_status(owner, repo, id)
            }
            ("GET", ["orgs", org, "secret-scanning", "alerts"]) => {
                if self.owner_kind(org) != Some(OwnerKind::Organization) {
                    return not_found();
                }
                self.list_alerts(request, |repo| repo.owner == *org)
            }
            ("GET", ["repos", owner, repo, "secret-scanning", "alerts"]) => {
                if self.find_repo(owner, repo).is_none() {
                    return not_found();
                }
                self.list_alerts(request, |r| r.owner == *owner && r.name == *repo)
            }
            ("GET", ["repos", owner, repo, "secret-scanning", "alerts", number]) => {
                match self.find_alert(owner, repo, number) {
                    Some((repo, alert)) => json_reply(200, self.alert_json(repo, alert)),
                    None => not_found(),
                }
            }
            ("PATCH", ["repos", owner, repo, "secret-scanning", "alerts", number]) => {
                self.update_alert(owner, repo, number, request)
            }
            (
                "GET",
                [
                    "repos",
                    owner,
                    repo,
                    "secret-scanning",
                    "alerts",
                    number,
                    "locations",
                ],
            ) => match self.find_alert(owner, repo, number) {
                Some((repo, alert)) => {
                    let locations = alert
                        .locations
                        .iter()
                        .map(|location| self.location_json(repo, &alert.secret, location))
                        .collect();
                    self.paginate(request, locations)
                }
                None => not_found(),
            },
            _ => not_found(),
        }
    }

    /// One page of `items` as GitHub pages lists: `per_page` (default 30, at most 100) and
    /// `page` (from 1), with a `link` header of absolute URLs (`prev`, `next`, `last`, `first`
    /// as they apply) unless everything is on the first page.
    fn paginate(&self, request: &Request, items: Vec<Value>) -> Reply {
        let per_page = query(request, "per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .map_or(30, |n| n.min(100))
            .min(self.page_size_cap);
        let page = query(request, "page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(1);
        let last = items.len().div_ceil(per_page).max(1);
        let body: Vec<Value> = items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        let mut rels = Vec::new();
        if page > 1 {
            rels.push((page - 1, "prev"));
        }
        if page < last {
            rels.push((page + 1, "next"));
            rels.push((last, "last"));
        }
        if page > 1 {
            rels.push((1, "first"));
        }
        // As on GitHub, a page carries a (weak) ETag of its content, and a request naming it
        // in `If-None-Match` gets 304 without a body, not counted against the rate limit.
        let body = Value::Array(body);
        let etag = format!(
            "W/\"{}\"",
            hex::encode(Sha256::digest(body.to_string().as_bytes()))
        );
        let mut template = if request_header(request, "if-none-match") == Some(etag.as_str()) {
            ResponseTemplate::new(304)
        } else {
            ResponseTemplate::new(200).set_body_json(body)
        };
        template = template.insert_header("etag", etag.as_str());
        if !rels.is_empty() {
            let link = rels
                .iter()
                .map(|(n, rel)| format!("<{}>; rel=\"{rel}\"", self.page_url(request, *n)))
                .collect::<Vec<_>>()
                .join(", ");
            template = template.insert_header("link", link.as_str());
        }
        let status = if request_header(request, "if-none-match") == Some(etag.as_str()) {
            304
        } else {
            200
        };
        (status, template)
    }

    /// The absolute URL of the request with its `page` parameter set to `page`, every other
    /// parameter kept as sent.
    fn page_url(&self, request: &Request, page: usize) -> String {
        let mut parameters: Vec<String> = request
            .url
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        let page_parameter = format!("page={page}");
        match parameters
            .iter_mut()
            .find(|p| p.split('=').next() == Some("page"))
        {
            Some(parameter) => *parameter = page_parameter,
            None => parameters.push(page_parameter),
        }
        format!(
            "{}{}?{}",
            self.base,
            request.url.path(),
            parameters.join("&")
        )
    }

    /// A repository as `GET /repos/{o}/{r}` and the listings show it.
    fn repo_json(&self, repo: &Repo) -> Value {
        let full_name = format!("{}/{}", repo.owner, repo.name);
        let owner_id = self
            .owners
            .iter()
            .position(|(login, _)| *login == repo.owner)
            .map_or(0, |i| 9_000 + i as u64);
        let kind = self
            .owner_kind(&repo.owner)
            .unwrap_or(OwnerKind::Organization);
        let clone_url = repo
            .clone_url
            .clone()
            .unwrap_or_else(|| format!("{}/{full_name}.git", self.base));
        json!({
            "id": repo.id,
            "name": repo.name,
            "full_name": full_name,
            "owner": {"login": repo.owner, "id": owner_id, "type": kind.api_name()},
            "private": repo.private,
            "visibility": if repo.private { "private" } else { "public" },
            "fork": repo.fork,
            "archived": repo.archived,
            "disabled": false,
            "default_branch": repo.default_branch,
            "html_url": format!("{}/{full_name}", self.base),
            "url": format!("{}/repos/{full_name}", self.base),
            "clone_url": clone_url,
            "ssh_url": format!("git@127.0.0.1:{full_name}.git"),
            "size": repo.size,
            "has_issues": repo.has_issues,
            "created_at": iso8601(repo.created_at),
            "updated_at": iso8601(repo.pushed_at),
            "pushed_at": iso8601(repo.pushed_at),
        })
    }

    /// `GET /orgs/{org}/repos` (`org_route`) and `GET /users/{user}/repos`, with `type`, `sort`,
    /// `direction` and pagination.
    fn list_repos(&self, login: &str, org_route: bool, request: &Request) -> Reply {
        let Some(kind) = self.owner_kind(login) else {
            return not_found();
        };
        if org_route && kind != OwnerKind::Organization {
            return not_found();
        }
        let repo_type = query(request, "type")
            .unwrap_or_else(|| if org_route { "all" } else { "owner" }.to_string());
        let keep = |repo: &Repo| match repo_type.as_str() {
            "public" => !repo.private,
            "private" => repo.private,
            "forks" => repo.fork,
            "sources" => !repo.fork,
            // The token's user belongs to every organization but owns no other user's repos.
            "member" => org_route,
            _ => true,
        };
        let mut repos: Vec<&Repo> = self
            .repos
            .iter()
            .filter(|repo| repo.owner == login && keep(repo))
            .collect();
        let default_sort = if org_route { "created" } else { "full_name" };
        sort_listing(&mut repos, request, default_sort, |repo| {
            (
                format!("{}/{}", repo.owner, repo.name),
                repo.created_at,
                repo.pushed_at,
            )
        });
        let items = repos.iter().map(|repo| self.repo_json(repo)).collect();
        self.paginate(request, items)
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

    /// `POST /repos/{o}/{r}/code-scanning/sarifs`: 422 for a bad `commit_sha` or `ref` (GitHub's
    /// schema validation), 400 for a `sarif` that is not base64 of gzip of a SARIF 2.1.0 log,
    /// 413 above the size limit, 403 for an archived repository, else 202 and the log is kept.
    fn upload_sarif(&mut self, owner: &str, name: &str, request: &Request) -> Reply {
        let Some(repo) = self.find_repo(owner, name) else {
            return not_found();
        };
        if repo.archived {
            return message(403, "Repository was archived so is read-only.");
        }
        let Ok(body) = request.body_json::<Value>() else {
            return message(400, "Problems parsing JSON");
        };
        let problems = upload_field_problems(&body);
        if !problems.is_empty() {
            let text = format!("Invalid request.\n\n{}", problems.join("\n"));
            return message(422, &text);
        }
        let sarif = match decode_sarif(body["sarif"].as_str().unwrap_or_default(), self.sarif_limit)
        {
            Ok(sarif) => sarif,
            Err((status, text)) => return message(status, &text),
        };
        let id = uuid();
        let url = format!(
            "{}/repos/{owner}/{name}/code-scanning/sarifs/{id}",
            self.base
        );
        self.uploads.push(SarifUpload {
            id: id.clone(),
            repo: format!("{owner}/{name}"),
            commit_sha: body["commit_sha"].as_str().unwrap_or_default().to_string(),
            reference: body["ref"].as_str().unwrap_or_default().to_string(),
            errors: sarif_processing_errors(&sarif),
            sarif,
            polls: 0,
        });
        json_reply(202, json!({"id": id, "url": url}))
    }

    /// `GET /repos/{o}/{r}/code-scanning/sarifs/{id}`: `pending` on the first poll, then
    /// `complete`, or `failed` with the processing errors.
    fn sarif_status(&mut self, owner: &str, name: &str, id: &str) -> Reply {
        let full_name = format!("{owner}/{name}");
        let analyses_url = format!(
            "{}/repos/{full_name}/code-scanning/analyses?sarif_id={id}",
            self.base
        );
        let Some(upload) = self
            .uploads
            .iter_mut()
            .find(|upload| upload.id == id && upload.repo == full_name)
        else {
            return not_found();
        };
        upload.polls += 1;
        let body = if upload.polls == 1 {
            json!({"processing_status": "pending", "analyses_url": null, "errors": null})
        } else if upload.errors.is_empty() {
            json!({"processing_status": "complete", "analyses_url": analyses_url, "errors": null})
        } else {
            json!({"processing_status": "failed", "analyses_url": null, "errors": upload.errors})
        };
        json_reply(200, body)
    }

    fn find_alert(&self, owner: &str, name: &str, number: &str) -> Option<(&Repo, &Alert)> {
        let repo = self.find_repo(owner, name)?;
        let number: u64 = number.parse().ok()?;
        let alert = repo.alerts.iter().find(|alert| alert.number == number)?;
        Some((repo, alert))
    }

    /// An alert as the secret-scanning API shows it, full secret included.
    fn alert_json(&self, repo: &Repo, alert: &Alert) -> Value {
        let full_name = format!("{}/{}", repo.owner, repo.name);
        let url = format!(
            "{}/repos/{full_name}/secret-scanning/alerts/{}",
            self.base, alert.number
        );
        let kind = self
            .owner_kind(&repo.owner)
            .unwrap_or(OwnerKind::Organization);
        let (state, resolution, resolved_at) = match &alert.resolved {
            None => ("open", Value::Null, Value::Null),
            Some((resolution, at)) => ("resolved", json!(resolution), json!(iso8601(*at))),
        };
        json!({
            "number": alert.number,
            "created_at": iso8601(alert.created_at),
            "updated_at": iso8601(alert.updated_at),
            "url": url,
            "html_url": format!(
                "{}/{full_name}/security/secret-scanning/{}",
                self.base, alert.number
            ),
            "locations_url": format!("{url}/locations"),
            "state": state,
            "resolution": resolution,
            "resolved_at": resolved_at,
            "resolved_by": null,
            "secret_type": "openai_api_key",
            "secret_type_display_name": "OpenAI API Key",
            "secret": alert.secret,
            "validity": "unknown",
            "publicly_leaked": false,
            "multi_repo": false,
            "push_protection_bypassed": false,
            "repository": {
                "id": repo.id,
                "name": repo.name,
                "full_name": full_name,
                "owner": {"login": repo.owner, "type": kind.api_name()},
                "html_url": format!("{}/{full_name}", self.base),
                "private": repo.private,
            },
        })
    }

    /// A location as `…/alerts/{n}/locations` shows it. Columns are 1-based and span the
    /// secret; `blob_sha` is derived from the commit and path, not a real blob id.
    fn location_json(&self, repo: &Repo, secret: &str, location: &AlertLocation) -> Value {
        let api = format!("{}/repos/{}/{}", self.base, repo.owner, repo.name);
        let blob_sha = hex::encode(
            &Sha256::digest(format!("{}:{}", location.commit_sha, location.path))[..20],
        );
        json!({
            "type": "commit",
            "details": {
                "path": location.path,
                "start_line": location.line,
                "end_line": location.line,
                "start_column": 1,
                "end_column": 1 + secret.chars().count(),
                "blob_sha": blob_sha,
                "blob_url": format!("{api}/git/blobs/{blob_sha}"),
                "commit_sha": location.commit_sha,
                "commit_url": format!("{api}/git/commits/{}", location.commit_sha),
            },
        })
    }

    /// The alerts of the repositories `in_scope` accepts, filtered by `state` and `secret_type`
    /// (comma-separated), sorted (`created` or `updated`, newest first by default), paginated.
    fn list_alerts(&self, request: &Request, in_scope: impl Fn(&Repo) -> bool) -> Reply {
        let state = query(request, "state");
        let secret_types = query(request, "secret_type");
        let type_matches = secret_types
            .as_deref()
            .is_none_or(|types| types.split(',').any(|t| t.trim() == "openai_api_key"));
        let mut alerts: Vec<(&Repo, &Alert)> = self
            .repos
            .iter()
            .filter(|repo| in_scope(repo))
            .flat_map(|repo| repo.alerts.iter().map(move |alert| (repo, alert)))
            .filter(|(_, alert)| match state.as_deref() {
                Some("open") => alert.resolved.is_none(),
                Some("resolved") => alert.resolved.is_some(),
                _ => true,
            })
            .filter(|_| type_matches)
            .collect();
        let sort = if query(request, "sort").as_deref() == Some("updated") {
            "updated"
        } else {
            "created"
        };
        sort_listing(&mut alerts, request, sort, |(_, alert)| {
            (String::new(), alert.created_at, alert.updated_at)
        });
        let items = alerts
            .iter()
            .map(|(repo, alert)| self.alert_json(repo, alert))
            .collect();
        self.paginate(request, items)
    }

    /// `PATCH /repos/{o}/{r}/secret-scanning/alerts/{n}`: `{"state":"resolved","resolution":…}`
    /// or `{"state":"open"}`.
    fn update_alert(&mut self, owner: &str, name: &str, number: &str, request: &Request) -> Reply {
        let Ok(body) = request.body_json::<Value>() else {
            return message(400, "Problems parsing JSON");
        };
        let now = self.tick();
        let Some(repo) = self.repo(owner, name) else {
            return not_found();
        };
        let Some(alert) = number
            .parse::<u64>()
            .ok()
            .and_then(|number| repo.alerts.iter_mut().find(|a| a.number == number))
        else {
            return not_found();
        };
        match (body["state"].as_str(), body["resolution"].as_str()) {
            (Some("open"), _) => alert.resolved = None,
            (
                Some("resolved"),
                Some(resolution @ ("false_positive" | "wont_fix" | "revoked" | "used_in_tests")),
            ) => alert.resolved = Some((resolution.to_string(), now)),
            (Some("resolved"), _) => {
                return unprocessable("SecretScanningAlert", "resolution", "invalid");
            }
            _ => return unprocessable("SecretScanningAlert", "state", "invalid"),
        }
        alert.updated_at = now;
        let number = alert.number;
        let (repo, alert) = self
            .find_alert(owner, name, &number.to_string())
            .expect("the alert just updated");
        json_reply(200, self.alert_json(repo, alert))
    }

    /// Takes one pending rate-limit answer, if any: its kind and seconds.
    fn take_rate_limit(&mut self) -> Option<(RateLimitKind, u64)> {
        let (kind, seconds, remaining) = self.rate_limited.first_mut()?;
        let taken = (*kind, *seconds);
        *remaining -= 1;
        if *remaining == 0 {
            self.rate_limited.remove(0);
        }
        Some(taken)
    }

    /// The `x-ratelimit-*` headers; `count` counts this request against the limit.
    fn rate_limit_headers(&mut self, template: ResponseTemplate, count: bool) -> ResponseTemplate {
        let rate = &mut self.rate_limit;
        if count {
            rate.used += 1;
        }
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

/// The answer to a request hit by a rate-limit scenario, headers included.
fn rate_limited(kind: RateLimitKind, seconds: u64, limit: u64, request_id: &str) -> Reply {
    let now = unix_now();
    match kind {
        RateLimitKind::Primary403 | RateLimitKind::Primary429 => {
            let status = if kind == RateLimitKind::Primary403 {
                403
            } else {
                429
            };
            let text = format!(
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for \
                 help, please include the request ID {request_id} and timestamp {} UTC.",
                iso8601(now).trim_end_matches('Z').replace('T', " ")
            );
            let template = ResponseTemplate::new(status)
                .set_body_json(json!({"message": text, "documentation_url": PRIMARY_DOCS}))
                .insert_header("x-ratelimit-limit", limit.to_string().as_str())
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-used", limit.to_string().as_str())
                .insert_header("x-ratelimit-reset", (now + seconds).to_string().as_str())
                .insert_header("x-ratelimit-resource", "core");
            (status, template)
        }
        RateLimitKind::Secondary | RateLimitKind::Secondary429 => {
            let status = if kind == RateLimitKind::Secondary {
                403
            } else {
                429
            };
            let text = format!(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you \
                 try again. If you reach out to GitHub Support for help, please include the \
                 request ID {request_id}."
            );
            let template = ResponseTemplate::new(status)
                .set_body_json(json!({"message": text, "documentation_url": SECONDARY_DOCS}))
                .insert_header("retry-after", seconds.to_string().as_str());
            (status, template)
        }
    }
}

/// The wiremock responder: rate-limit scenarios first, then injected faults, then
/// authentication, then the routes.
struct Responder {
    github: Arc<Mutex<GitHub>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let request_id = github_request_id();
        let mut github = self.github.lock().expect("mock state");
        let method = request.method.as_str();
        let path = request.url.path();
        let scenario = github.take_rate_limit();
        let (status, template) = match scenario {
            Some((kind, seconds)) => {
                let limit = github.rate_limit.limit;
                rate_limited(kind, seconds, limit, &request_id)
            }
            None => match github.faults.take(method, path) {
                Some((status, body)) => json_reply(status, body),
                None if !github.authorized(request) => message(401, "Bad credentials"),
                None => github.route(request),
            },
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
        });
        let template = match scenario {
            // The scenario set its own rate-limit headers.
            Some((RateLimitKind::Primary403 | RateLimitKind::Primary429, _)) => template,
            Some(_) => github.rate_limit_headers(template, false),
            // GitHub does not count a 304 against the rate limit.
            None => github.rate_limit_headers(template, status != 304),
        };
        template.insert_header("x-github-request-id", request_id.as_str())
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
                owners: Vec::new(),
                repos: Vec::new(),
                rate_limit: RateLimit {
                    limit: 5_000,
                    used: 0,
                    reset: unix_now() + 3_600,
                },
                rate_limited: Vec::new(),
                faults: Faults::default(),
                log: Vec::new(),
                last_id: 1_000_000,
                clock: EPOCH_START,
                sarif_limit: SARIF_GZIP_LIMIT,
                page_size_cap: 100,
                uploads: Vec::new(),
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

    /// Adds the repository `owner/name` with GitHub's defaults ([`RepoSpec::new`]);
    /// `has_issues: false` makes issue creation answer 410.
    pub fn add_repo(&self, owner: &str, name: &str, has_issues: bool) {
        self.add_repo_with(RepoSpec {
            has_issues,
            ..RepoSpec::new(owner, name)
        });
    }

    /// Adds a repository, created one minute after the previous one (and pushed to at the same
    /// time), with a fresh secrets key pair. Its owner becomes an organization unless
    /// [`GitHubMock::add_user`] made it a user. Panics if it exists already.
    pub fn add_repo_with(&self, spec: RepoSpec) {
        let key_id: String = (0..18)
            .map(|_| char::from_digit(fastrand::u32(..10), 10).expect("a digit"))
            .collect();
        let mut github = self.github();
        assert!(
            github.find_repo(&spec.owner, &spec.name).is_none(),
            "{}/{} was added twice",
            spec.owner,
            spec.name
        );
        if github.owner_kind(&spec.owner).is_none() {
            github
                .owners
                .push((spec.owner.clone(), OwnerKind::Organization));
        }
        let created_at = github.tick();
        let id = 500_000 + github.repos.len() as u64;
        github.repos.push(Repo {
            id,
            owner: spec.owner,
            name: spec.name,
            private: spec.private,
            fork: spec.fork,
            archived: spec.archived,
            default_branch: spec.default_branch,
            size: spec.size,
            clone_url: spec.clone_url,
            created_at,
            pushed_at: created_at,
            has_issues: spec.has_issues,
            secret_key: SecretKey::generate(&mut OsRng),
            key_id,
            secrets: HashMap::new(),
            issues: Vec::new(),
            alerts: Vec::new(),
        });
    }

    /// Makes `login` a known organization (its listing answers 200 even without repositories).
    pub fn add_org(&self, login: &str) {
        self.set_owner_kind(login, OwnerKind::Organization);
    }

    /// Makes `login` a user: `GET /orgs/{login}/…` answers 404, `GET /users/{login}/repos`
    /// lists its repositories.
    pub fn add_user(&self, login: &str) {
        self.set_owner_kind(login, OwnerKind::User);
    }

    fn set_owner_kind(&self, login: &str, kind: OwnerKind) {
        let mut github = self.github();
        match github.owners.iter_mut().find(|(name, _)| name == login) {
            Some(owner) => owner.1 = kind,
            None => github.owners.push((login.to_string(), kind)),
        }
    }

    /// Changes a repository the test added; panics if there is none.
    fn update_repo(&self, owner: &str, name: &str, change: impl FnOnce(&mut Repo)) {
        let mut github = self.github();
        let repo = github
            .repo(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name} in the GitHub mock"));
        change(repo);
    }

    /// Sets the `clone_url` the API reports for `owner/name`.
    pub fn set_clone_url(&self, owner: &str, name: &str, url: &str) {
        self.update_repo(owner, name, |repo| repo.clone_url = Some(url.to_string()));
    }

    /// Records a push to `owner/name`: its `pushed_at` (and `updated_at`) becomes the mock's
    /// clock advanced by a minute, as GitHub moves them on every push to a branch.
    pub fn pushed(&self, owner: &str, name: &str) {
        let mut github = self.github();
        let now = github.tick();
        let repo = github
            .repo(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name} in the GitHub mock"));
        repo.pushed_at = now;
    }

    /// An archived repository is listed as such and refuses SARIF uploads with 403.
    pub fn set_archived(&self, owner: &str, name: &str, archived: bool) {
        self.update_repo(owner, name, |repo| repo.archived = archived);
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

    /// The next `count` requests, whatever their route, are refused by a rate limit of this
    /// kind, before faults and authentication, and change nothing. `seconds` is when the
    /// primary limit resets (`x-ratelimit-reset` = now + seconds) or the secondary
    /// `retry-after`.
    pub fn rate_limit_next(&self, count: usize, kind: RateLimitKind, seconds: u64) {
        if count > 0 {
            self.github().rate_limited.push((kind, seconds, count));
        }
    }

    /// Serves at most `per_page` items a page whatever the client asks (GitHub's cap is 100),
    /// so a test needs no hundred repositories to see pagination.
    pub fn set_page_size_cap(&self, per_page: usize) {
        self.github().page_size_cap = per_page.max(1);
    }

    /// Lowers (or raises) the gzip size above which SARIF uploads get 413, so a test need not
    /// send 10 MB.
    pub fn set_sarif_size_limit(&self, bytes: usize) {
        self.github().sarif_limit = bytes;
    }

    /// Every accepted SARIF upload, in order: `(owner/name, commit_sha, ref, decoded SARIF)`.
    pub fn sarif_uploads(&self) -> Vec<(String, String, String, Value)> {
        self.github()
            .uploads
            .iter()
            .map(|upload| {
                (
                    upload.repo.clone(),
                    upload.commit_sha.clone(),
                    upload.reference.clone(),
                    upload.sarif.clone(),
                )
            })
            .collect()
    }

    /// Adds an open `openai_api_key` secret-scanning alert for `secret`, seen at `path:line`
    /// in `commit_sha`, and returns its number. As on GitHub there is one alert per secret and
    /// repository: the same secret again adds a location to the existing alert. Panics if the
    /// repository was not added.
    pub fn add_secret_alert(
        &self,
        owner: &str,
        repo: &str,
        secret: &str,
        path: &str,
        line: u64,
        commit_sha: &str,
    ) -> u64 {
        let mut github = self.github();
        let now = github.tick();
        let repo = github
            .repo(owner, repo)
            .unwrap_or_else(|| panic!("add the repository {owner}/{repo} before its alerts"));
        let location = AlertLocation {
            path: path.to_string(),
            line,
            commit_sha: commit_sha.to_string(),
        };
        if let Some(alert) = repo.alerts.iter_mut().find(|a| a.secret == secret) {
            alert.locations.push(location);
            alert.updated_at = now;
            return alert.number;
        }
        let number = repo.alerts.len() as u64 + 1;
        repo.alerts.push(Alert {
            number,
            secret: secret.to_string(),
            created_at: now,
            updated_at: now,
            resolved: None,
            locations: vec![location],
        });
        number
    }

    /// A secret-scanning alert as the API shows it now (e.g. to check it was resolved).
    pub fn secret_alert(&self, owner: &str, repo: &str, number: u64) -> Option<Value> {
        let github = self.github();
        let (repo, alert) = github.find_alert(owner, repo, &number.to_string())?;
        Some(github.alert_json(repo, alert))
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
