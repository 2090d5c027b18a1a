//! Self-tests of the stateful loopback mocks (support/openai_org.rs and support/github.rs),
//! driven with a plain HTTP client, and of the loopback git server (support/git_server.rs),
//! driven with the git CLI: they pin the behaviour the revocation and sweep tests rely on.

use crate::support;

use std::io::Write;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use crypto_box::PublicKey;
use crypto_box::aead::OsRng;
use serde_json::{Value, json};
use support::git_server::{GitServer, basic_authorization, git_client};
use support::github::{GitHubMock, RateLimitKind, RepoSpec};
use support::openai::masked;
use support::openai_org::OpenAiOrg;
use support::{Shape, Tree, fingerprint, marker, project_key};

/// A synchronous HTTP client for the tests, over reqwest's async one.
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// A response, its body parsed (`Null` when empty).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// The `id`s of a list's page.
    fn ids(&self) -> Vec<&str> {
        self.body["data"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|o| o["id"].as_str().expect("an id"))
            .collect()
    }
}

impl Http {
    fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Http {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Sends a request with this `Authorization` header and JSON body, if any.
    fn try_send(
        &self,
        method: &str,
        url: &str,
        authorization: Option<&str>,
        body: Option<Value>,
        timeout: Duration,
    ) -> reqwest::Result<Answer> {
        self.runtime.block_on(async {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
            let mut request = self.client.request(method, url).timeout(timeout);
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await?;
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("a JSON body")
            };
            Ok(Answer {
                status,
                headers,
                body,
            })
        })
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.try_send(method, url, authorization, body, Duration::from_secs(30))
            .expect("the mock answers")
    }
}

/// An organization with one admin key, and a client bound to it.
struct OrgFixture {
    org: OpenAiOrg,
    http: Http,
    admin_key: String,
}

impl OrgFixture {
    fn new() -> Self {
        let org = OpenAiOrg::start();
        let admin_key = Shape::Admin.key();
        org.add_admin_key(&admin_key, "ferret revoker");
        OrgFixture {
            org,
            http: Http::new(),
            admin_key,
        }
    }

    /// `method` on `path` (from `/v1`) with `key` as the Bearer token.
    fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Answer {
        let answer = self.http.send(
            method,
            &format!("{}{path}", self.org.uri()),
            Some(&format!("Bearer {key}")),
            body,
        );
        let id = answer.header("x-request-id");
        assert!(
            id.len() == 36
                && id.starts_with("req_")
                && id[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "bad x-request-id {id}"
        );
        answer
    }

    fn admin(&self, method: &str, path: &str) -> Answer {
        self.call(method, path, &self.admin_key, None)
    }

    fn models(&self, key: &str) -> u16 {
        self.call("GET", "/v1/models", key, None).status
    }
}

#[test]
fn lists_page_by_exclusive_cursor_and_hide_archived_projects() {
    let f = OrgFixture::new();
    let a = f.org.add_project("alpha");
    let b = f.org.add_project("beta");
    let c = f.org.add_project("gamma");
    f.org.archive_project(&b);

    let first = f.admin("GET", "/v1/organization/projects?limit=1");
    assert_eq!(first.status, 200);
    assert_eq!(first.ids(), [a.as_str()]);
    assert_eq!(
        (
            first.body["first_id"].as_str(),
            first.body["has_more"].as_bool()
        ),
        (Some(a.as_str()), Some(true))
    );
    let second = f.admin(
        "GET",
        &format!("/v1/organization/projects?limit=1&after={a}"),
    );
    assert_eq!(
        second.ids(),
        [c.as_str()],
        "the archived project is skipped"
    );
    assert_eq!(second.body["has_more"], false);
    let empty = f.admin("GET", &format!("/v1/organization/projects?after={c}"));
    assert_eq!(empty.body["data"], json!([]));
    assert_eq!(
        (&empty.body["first_id"], &empty.body["last_id"]),
        (&Value::Null, &Value::Null)
    );
    let all = f.admin("GET", "/v1/organization/projects?include_archived=true");
    assert_eq!(all.ids(), [a.as_str(), b.as_str(), c.as_str()]);
    assert_eq!(all.body["data"][1]["status"], "archived");
    assert_eq!(
        f.admin("GET", &format!("/v1/organization/projects/{b}"))
            .body["id"],
        b.as_str()
    );

    // Keys: the default page is 20, `limit` is clamped to 100.
    let ids: Vec<String> = (0..25)
        .map(|i| f.org.add_user_key(&a, &project_key(), 1_700_000_000 + i))
        .collect();
    let keys = format!("/v1/organization/projects/{a}/api_keys");
    let page = f.admin("GET", &keys);
    assert_eq!(
        (page.ids().len(), page.body["has_more"].as_bool()),
        (20, Some(true))
    );
    assert_eq!(page.body["last_id"], ids[19].as_str());
    let rest = f.admin("GET", &format!("{keys}?after={}", ids[19]));
    assert_eq!(
        rest.ids(),
        ids[20..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(f.admin("GET", &format!("{keys}?limit=500")).ids().len(), 25);
}

#[test]
fn key_lists_honour_owner_project_access_and_admin_routes_need_an_admin_key() {
    let f = OrgFixture::new();
    let project = f.org.add_project("app");
    let (active_value, inactive_value) = (project_key(), project_key());
    let active = f.org.add_user_key(&project, &active_value, 1_700_000_000);
    let inactive = f.org.add_user_key(&project, &inactive_value, 1_700_000_100);
    f.org.set_owner_inactive(&inactive);

    let keys = format!("/v1/organization/projects/{project}/api_keys");
    assert_eq!(f.admin("GET", &keys).ids(), [active.as_str()]);
    assert_eq!(
        f.admin("GET", &format!("{keys}?owner_project_access=inactive"))
            .ids(),
        [inactive.as_str()]
    );
    let any = f.admin("GET", &format!("{keys}?owner_project_access=any"));
    assert_eq!(any.ids(), [active.as_str(), inactive.as_str()]);
    let object = &any.body["data"][0];
    let redacted = format!(
        "{}...{}",
        &active_value[..8],
        &active_value[active_value.len() - 4..]
    );
    assert_eq!(object["redacted_value"], redacted.as_str());
    assert_eq!(
        (&object["object"], &object["owner"]["type"]),
        (&json!("organization.project.api_key"), &json!("user"))
    );
    assert_eq!(object["owner_project_access"], "active");
    assert_eq!(
        f.org.requests().last().map(|r| r.query.as_str()),
        Some("owner_project_access=any")
    );

    // A project key is refused with the bare-string error; unknown keys and no key get 401s.
    let refused = f.call("GET", "/v1/organization/projects", &active_value, None);
    assert_eq!(refused.status, 403);
    assert!(
        refused.body["error"]
            .as_str()
            .expect("a bare string")
            .contains("Missing scopes: api.management.read")
    );
    let stranger = project_key();
    let unknown = f.call("GET", "/v1/organization/projects", &stranger, None);
    assert_eq!(
        (unknown.status, &unknown.body["error"]["code"]),
        (401, &json!("invalid_api_key"))
    );
    let message = unknown.body["error"]["message"]
        .as_str()
        .expect("a message");
    assert!(message.contains(&masked(&stranger)) && !message.contains(&stranger));
    let anonymous = f.http.send(
        "GET",
        &format!("{}/v1/organization/projects", f.org.uri()),
        None,
        None,
    );
    assert_eq!(
        (anonymous.status, &anonymous.body["error"]["code"]),
        (401, &Value::Null)
    );
    assert_eq!(
        f.call("GET", "/v1/models", &f.admin_key, None).status,
        403,
        "admin keys cannot list models"
    );
    let missing = f.admin("GET", "/v1/organization/projects/proj_missing/api_keys");
    assert_eq!(
        (missing.status, &missing.body["error"]["type"]),
        (404, &json!("invalid_request_error"))
    );
}

#[test]
fn a_deleted_user_key_dies_after_the_revocation_lag() {
    let f = OrgFixture::new();
    let project = f.org.add_project("app");
    let leaked = project_key();
    let id = f.org.add_user_key(&project, &leaked, 1_700_000_000);
    f.org.set_revocation_lag(2);

    let models = f.call("GET", "/v1/models", &leaked, None);
    assert_eq!(models.status, 200);
    assert_eq!(models.header("openai-project"), project);
    assert_eq!(models.header("openai-organization"), f.org.organization().1);
    assert!(
        models
            .headers
            .contains_key("x-ratelimit-remaining-requests")
    );
    let key_path = format!("/v1/organization/projects/{project}/api_keys/{id}");
    assert!(
        f.admin("GET", &key_path).body["last_used_at"].is_i64(),
        "a use is recorded"
    );

    let deleted = f.admin("DELETE", &key_path);
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.body,
        json!({"object": "organization.project.api_key.deleted", "id": id, "deleted": true})
    );
    assert!(!f.org.key_is_live(&leaked));
    assert_eq!(
        [f.models(&leaked), f.models(&leaked), f.models(&leaked)],
        [200, 200, 401]
    );
    assert_eq!(f.admin("DELETE", &key_path).status, 404);
    assert_eq!(f.admin("GET", &key_path).status, 404);
    assert_eq!(f.org.deleted_keys(), [id.as_str()]);

    let audit = f.admin(
        "GET",
        &format!("/v1/organization/audit_logs?event_types[]=api_key.deleted&resource_ids[]={id}"),
    );
    assert_eq!(audit.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(audit.body["data"][0]["api_key.deleted"]["id"], id.as_str());
    assert_eq!(audit.body["data"][0]["project"]["id"], project.as_str());
    let future = f.admin(
        "GET",
        "/v1/organization/audit_logs?effective_at[gte]=99999999999",
    );
    assert_eq!(future.body["data"], json!([]));
}

#[test]
fn service_account_keys_die_only_with_their_account() {
    let f = OrgFixture::new();
    let project = f.org.add_project("app");
    let values = vec![Shape::ServiceAccount74.key(), Shape::ServiceAccount74.key()];
    let (account, keys) = f.org.add_service_account(&project, "ci", &values);

    let refused = f.admin(
        "DELETE",
        &format!("/v1/organization/projects/{project}/api_keys/{}", keys[0]),
    );
    assert_eq!(
        (refused.status, &refused.body["error"]["type"]),
        (400, &json!("invalid_request_error"))
    );
    assert_eq!(f.models(&values[0]), 200);

    let listed = f.admin(
        "GET",
        &format!("/v1/organization/projects/{project}/api_keys?owner_project_access=any"),
    );
    assert_eq!(
        listed.body["data"][0]["owner"]["service_account"]["id"],
        account.as_str()
    );
    let deleted = f.admin(
        "DELETE",
        &format!("/v1/organization/projects/{project}/service_accounts/{account}"),
    );
    assert_eq!(
        deleted.body,
        json!({"object": "organization.project.service_account.deleted", "id": account, "deleted": true})
    );
    assert_eq!([f.models(&values[0]), f.models(&values[1])], [401, 401]);
    assert_eq!(f.org.deleted_service_accounts(), [account.as_str()]);
    assert!(f.org.service_accounts(&project).is_empty() && f.org.deleted_keys().is_empty());
    assert_eq!(
        f.org.audit_log()[0]["service_account.deleted"]["id"],
        account.as_str()
    );
}

#[test]
fn creating_a_service_account_mints_a_live_key() {
    let f = OrgFixture::new();
    let project = f.org.add_project("app");
    let path = format!("/v1/organization/projects/{project}/service_accounts");

    let created = f.call(
        "POST",
        &path,
        &f.admin_key,
        Some(json!({"name": "ferret-rotation"})),
    );
    assert_eq!(created.status, 200);
    assert_eq!(
        (&created.body["object"], &created.body["role"]),
        (
            &json!("organization.project.service_account"),
            &json!("member")
        )
    );
    let value = created.body["api_key"]["value"]
        .as_str()
        .expect("a full key");
    assert!(
        value.starts_with("sk-svcacct-")
            && value.len() == 167
            && value[85..].starts_with(&marker())
    );
    assert_eq!(f.org.created_key_values(), [value.to_string()]);
    assert!(f.org.key_is_live(value));
    assert_eq!(f.models(value), 200);
    let id = created.body["id"].as_str().expect("an id");
    assert_eq!(
        f.org.service_accounts(&project),
        [(id.to_string(), "ferret-rotation".to_string())]
    );
    assert_eq!(
        f.admin("GET", &format!("{path}/{id}")).body["name"],
        "ferret-rotation"
    );
    assert_eq!(f.org.audit_log()[0]["type"], "service_account.created");

    let bare = f.call(
        "POST",
        &path,
        &f.admin_key,
        Some(json!({"name": "bare", "create_service_account_only": true})),
    );
    assert_eq!(
        (&bare.body["api_key"], &bare.body["role"]),
        (&Value::Null, &json!("none"))
    );
    assert_eq!(f.admin("GET", &path).ids().len(), 2);

    f.org.archive_project(&project);
    assert_eq!(
        f.call("POST", &path, &f.admin_key, Some(json!({"name": "late"})))
            .status,
        400
    );
    assert_eq!(
        f.models(value),
        401,
        "keys of archived projects stop working"
    );
}

#[test]
fn faults_change_nothing_and_delays_come_after_the_change() {
    let f = OrgFixture::new();
    let project = f.org.add_project("app");
    let leaked = project_key();
    let id = f.org.add_user_key(&project, &leaked, 1_700_000_000);
    let key_path = format!("/v1/organization/projects/{project}/api_keys/{id}");

    f.org.fail_next("DELETE", "/v1/organization/projects/", 1, 503, json!({"error": {"message": "overloaded", "type": "server_error", "param": null, "code": null}}));
    let failed = f.admin("DELETE", &key_path);
    assert_eq!(
        (failed.status, &failed.body["error"]["message"]),
        (503, &json!("overloaded"))
    );
    assert!(f.org.key_is_live(&leaked));

    // The client gives up before the answer, yet the key is deleted.
    f.org.delay(
        "DELETE",
        "/v1/organization/projects/",
        Duration::from_secs(2),
    );
    let url = format!("{}{key_path}", f.org.uri());
    let auth = format!("Bearer {}", f.admin_key);
    let gave_up = f.http.try_send(
        "DELETE",
        &url,
        Some(&auth),
        None,
        Duration::from_millis(200),
    );
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    assert!(!f.org.key_is_live(&leaked));
    assert_eq!(f.org.deleted_keys(), [id]);
    let statuses: Vec<u16> = f.org.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200]);

    // An admin key that deletes itself is refused from then on.
    let admin_id = f.admin("GET", "/v1/organization/admin_api_keys").ids()[0].to_string();
    let gone = f.admin(
        "DELETE",
        &format!("/v1/organization/admin_api_keys/{admin_id}"),
    );
    assert_eq!(
        gone.body,
        json!({"id": admin_id, "object": "organization.admin_api_key.deleted", "deleted": true})
    );
    assert_eq!(f.org.deleted_admin_keys(), [admin_id]);
    assert_eq!(f.admin("GET", "/v1/organization/projects").status, 401);
}

/// A GitHub mock with the repository `acme/app`, and a client.
fn github_with_repo() -> (GitHubMock, Http, String) {
    let token = format!("ghp_{}", support::random_alnum(36));
    let github = GitHubMock::start(&token);
    github.add_repo("acme", "app", true);
    (github, Http::new(), token)
}

#[test]
fn github_secrets_are_opened_with_the_repo_key() {
    let (github, http, token) = github_with_repo();
    let base = format!("{}/repos/acme/app/actions/secrets", github.uri());
    let bearer = format!("Bearer {token}");

    let public = http.send("GET", &format!("{base}/public-key"), Some(&bearer), None);
    assert_eq!(public.status, 200);
    for header in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "x-github-request-id",
    ] {
        assert!(public.headers.contains_key(header), "no {header}");
    }
    assert_eq!(public.header("x-ratelimit-resource"), "core");
    let key_id = public.body["key_id"]
        .as_str()
        .expect("a key id")
        .to_string();
    let key = BASE64
        .decode(public.body["key"].as_str().expect("a key"))
        .expect("base64");
    let key = PublicKey::try_from(key.as_slice()).expect("a 32-byte key");
    let seal = |plaintext: &str| {
        BASE64.encode(key.seal(&mut OsRng, plaintext.as_bytes()).expect("sealed"))
    };

    let rotated = Shape::ServiceAccount74.key();
    let put = |authorization: &str, body: Value| {
        http.send(
            "PUT",
            &format!("{base}/OPENAI_API_KEY"),
            Some(authorization),
            Some(body),
        )
    };
    let first = put(
        &bearer,
        json!({"encrypted_value": seal(&rotated), "key_id": key_id}),
    );
    assert_eq!((first.status, &first.body), (201, &json!({})));
    assert_eq!(
        github.secret("acme", "app", "OPENAI_API_KEY").map(|s| s.0),
        Some(rotated.clone())
    );
    let again = put(
        &format!("token {token}"),
        json!({"encrypted_value": seal("next"), "key_id": key_id}),
    );
    assert_eq!((again.status, &again.body), (204, &Value::Null));
    assert_eq!(
        github
            .secret("acme", "app", "OPENAI_API_KEY")
            .map(|s| s.0)
            .as_deref(),
        Some("next")
    );

    // A wrong or missing key id, or a value not sealed for the repository's key.
    let refused = [
        json!({"encrypted_value": seal("x"), "key_id": "1"}),
        json!({"encrypted_value": seal("x")}),
        json!({"encrypted_value": BASE64.encode(b"not sealed"), "key_id": key_id}),
    ];
    for body in refused {
        assert_eq!(put(&bearer, body).status, 422);
    }
    let denied = put(
        "Bearer wrong",
        json!({"encrypted_value": seal("x"), "key_id": key_id}),
    );
    assert_eq!(
        (denied.status, &denied.body["message"]),
        (401, &json!("Bad credentials"))
    );
    let puts: Vec<u16> = github
        .secret_puts()
        .into_iter()
        .map(|(repo, name, status)| {
            assert_eq!(
                (repo.as_str(), name.as_str()),
                ("acme/app", "OPENAI_API_KEY")
            );
            status
        })
        .collect();
    assert_eq!(puts, [201, 204, 422, 422, 422, 401]);
    assert!(
        github
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
    let elsewhere = http.send(
        "GET",
        &format!(
            "{}/repos/acme/other/actions/secrets/public-key",
            github.uri()
        ),
        Some(&bearer),
        None,
    );
    assert_eq!(
        (elsewhere.status, &elsewhere.body["message"]),
        (404, &json!("Not Found"))
    );
}

#[test]
fn github_issues_are_created_unless_disabled() {
    let (github, http, token) = github_with_repo();
    github.add_repo("acme", "quiet", false);
    let bearer = format!("Bearer {token}");
    let issue =
        json!({"title": "Leaked OpenAI key revoked", "body": "details", "labels": ["security"]});
    let post = |repo: &str| {
        http.send(
            "POST",
            &format!("{}/repos/acme/{repo}/issues", github.uri()),
            Some(&bearer),
            Some(issue.clone()),
        )
    };

    let created = post("app");
    assert_eq!(created.status, 201);
    assert_eq!(
        (&created.body["number"], &created.body["labels"]),
        (&json!(1), &json!([{"name": "security"}]))
    );
    assert_eq!(
        created.body["html_url"],
        "https://github.com/acme/app/issues/1"
    );
    assert_eq!(
        github.issues("acme", "app"),
        std::slice::from_ref(&created.body)
    );
    let disabled = post("quiet");
    assert_eq!(
        (disabled.status, &disabled.body["message"]),
        (410, &json!("Issues are disabled for this repo"))
    );
    assert!(github.issues("acme", "quiet").is_empty());
    assert_eq!(post("missing").status, 404);

    github.fail_next(
        "POST",
        "/repos/acme/app/issues",
        1,
        502,
        json!({"message": "Server Error"}),
    );
    assert_eq!(post("app").status, 502);
    assert_eq!(github.issues("acme", "app").len(), 1);
}

/// The `link` header of an answer as `(rel, url)` pairs, in order; empty without one.
fn links(answer: &Answer) -> Vec<(String, String)> {
    let Some(link) = answer.headers.get("link") else {
        return Vec::new();
    };
    link.to_str()
        .expect("an ASCII link header")
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; rel=").expect("<url>; rel=\"…\"");
            let url = url.trim_start_matches('<').trim_end_matches('>');
            (rel.trim_matches('"').to_string(), url.to_string())
        })
        .collect()
}

/// The `name`s of a JSON array of repositories.
fn names(answer: &Answer) -> Vec<String> {
    answer
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|repo| repo["name"].as_str().expect("a name").to_string())
        .collect()
}

#[test]
fn github_repo_listings_page_with_absolute_links() {
    let (github, http, token) = github_with_repo();
    for name in ["b", "c", "d", "e"] {
        github.add_repo_with(RepoSpec {
            fork: name == "c",
            private: name == "d",
            ..RepoSpec::new("acme", name)
        });
    }
    github.set_archived("acme", "e", true);
    github.set_clone_url("acme", "app", "http://127.0.0.1:9/acme/app.git");
    github.add_repo("other", "elsewhere", true);
    let bearer = format!("Bearer {token}");
    let base = github.uri();
    let get = |url: &str| http.send("GET", url, Some(&bearer), None);
    let page_url = |page: u32| format!("{base}/orgs/acme/repos?type=all&per_page=2&page={page}");

    // Three pages, followed by their absolute `next` links; newest first (GitHub's default
    // sort=created, direction=desc).
    let mut url = format!("{base}/orgs/acme/repos?type=all&per_page=2");
    let mut listed = Vec::new();
    let mut rels = Vec::new();
    loop {
        let page = get(&url);
        assert_eq!(page.status, 200);
        listed.extend(names(&page));
        let page_links = links(&page);
        rels.push(page_links.clone());
        match page_links.into_iter().find(|(rel, _)| rel == "next") {
            Some((_, next)) => url = next,
            None => break,
        }
    }
    assert_eq!(listed, ["e", "d", "c", "b", "app"]);
    let expected = |pairs: &[(&str, u32)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(rel, page)| (rel.to_string(), page_url(*page)))
            .collect()
    };
    assert_eq!(
        rels,
        [
            expected(&[("next", 2), ("last", 3)]),
            expected(&[("prev", 1), ("next", 3), ("last", 3), ("first", 1)]),
            expected(&[("prev", 2), ("first", 1)]),
        ]
    );
    let followed: Vec<String> = github
        .requests()
        .iter()
        .filter(|r| r.path == "/orgs/acme/repos")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        followed,
        [
            "type=all&per_page=2",
            "type=all&per_page=2&page=2",
            "type=all&per_page=2&page=3"
        ]
    );

    // One page: no link header. Creation order on request; `type` filters.
    let all = get(&format!(
        "{base}/orgs/acme/repos?sort=created&direction=asc"
    ));
    assert!(all.headers.get("link").is_none());
    assert_eq!(names(&all), ["app", "b", "c", "d", "e"]);
    let app = &all.body[0];
    assert_eq!(app["full_name"], "acme/app");
    assert_eq!(
        app["owner"],
        json!({"login": "acme", "id": 9000, "type": "Organization"})
    );
    assert_eq!(app["clone_url"], "http://127.0.0.1:9/acme/app.git");
    assert_eq!(app["html_url"], format!("{base}/acme/app"));
    assert_eq!(app["url"], format!("{base}/repos/acme/app"));
    assert_eq!(app["default_branch"], "main");
    let flags = |name: &str| {
        let repo = &all.body[names(&all).iter().position(|n| n == name).expect(name)];
        (
            repo["fork"].as_bool(),
            repo["private"].as_bool(),
            repo["archived"].as_bool(),
        )
    };
    assert_eq!(flags("c"), (Some(true), Some(false), Some(false)));
    assert_eq!(flags("d"), (Some(false), Some(true), Some(false)));
    assert_eq!(flags("e"), (Some(false), Some(false), Some(true)));
    assert_eq!(
        names(&get(&format!("{base}/orgs/acme/repos?type=forks"))),
        ["c"]
    );
    assert_eq!(
        names(&get(&format!("{base}/orgs/acme/repos?type=private"))),
        ["d"]
    );

    // A repository's own page, with the fields a sweep reads.
    let repo = get(&format!("{base}/repos/acme/d"));
    assert_eq!(repo.status, 200);
    for field in [
        "id",
        "full_name",
        "private",
        "visibility",
        "fork",
        "archived",
        "disabled",
        "default_branch",
        "size",
        "pushed_at",
        "clone_url",
        "ssh_url",
        "html_url",
    ] {
        assert!(!repo.body[field].is_null(), "no {field}");
    }
    assert_eq!(
        (&repo.body["visibility"], &repo.body["clone_url"]),
        (&json!("private"), &json!(format!("{base}/acme/d.git")))
    );
    assert_eq!(get(&format!("{base}/repos/acme/nothing")).status, 404);

    // Users: sorted by full name by default; not an organization; unknown accounts 404.
    github.add_user("ada");
    github.add_repo("ada", "zeta", true);
    github.add_repo("ada", "alpha", true);
    let user = get(&format!("{base}/users/ada/repos?type=all"));
    assert_eq!(names(&user), ["alpha", "zeta"]);
    assert_eq!(user.body[0]["owner"]["type"], "User");
    assert_eq!(get(&format!("{base}/orgs/ada/repos")).status, 404);
    assert_eq!(get(&format!("{base}/users/acme/repos")).status, 200);
    for missing in ["orgs/nobody/repos", "users/nobody/repos"] {
        let answer = get(&format!("{base}/{missing}"));
        assert_eq!(
            (answer.status, &answer.body["message"]),
            (404, &json!("Not Found"))
        );
    }
    assert!(
        github
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none() && !r.query.contains(&token))
    );
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[test]
fn github_rate_limits_refuse_the_next_requests_and_change_nothing() {
    let (github, http, token) = github_with_repo();
    let bearer = format!("Bearer {token}");
    let repo_url = format!("{}/repos/acme/app", github.uri());
    let get = || http.send("GET", &repo_url, Some(&bearer), None);

    github.rate_limit_next(2, RateLimitKind::Primary403, 1);
    github.rate_limit_next(1, RateLimitKind::Primary429, 2);
    let before = unix_now();
    for status in [403, 403, 429] {
        let refused = get();
        assert_eq!(refused.status, status);
        assert_eq!(refused.header("x-ratelimit-remaining"), "0");
        let reset: u64 = refused.header("x-ratelimit-reset").parse().expect("epoch");
        assert!(
            (before + 1..=unix_now() + 2).contains(&reset),
            "reset {reset}"
        );
        let message = refused.body["message"].as_str().expect("a message");
        assert!(
            message.starts_with("API rate limit exceeded for "),
            "{message}"
        );
        assert_eq!(
            refused.body["documentation_url"],
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
        );
        assert!(refused.headers.get("retry-after").is_none());
    }
    let served = get();
    assert_eq!(served.status, 200);
    assert_ne!(served.header("x-ratelimit-remaining"), "0");

    // Secondary: any route, before authentication; nothing is created.
    github.rate_limit_next(1, RateLimitKind::Secondary, 1);
    github.rate_limit_next(1, RateLimitKind::Secondary429, 3);
    let issue = json!({"title": "t"});
    let issues_url = format!("{repo_url}/issues");
    let secondary = http.send("POST", &issues_url, Some(&bearer), Some(issue.clone()));
    let unauthenticated = http.send("GET", &repo_url, None, None);
    for (answer, status, retry_after) in [(&secondary, 403, "1"), (&unauthenticated, 429, "3")] {
        assert_eq!(answer.status, status);
        assert_eq!(answer.header("retry-after"), retry_after);
        assert_ne!(answer.header("x-ratelimit-remaining"), "0");
        let message = answer.body["message"].as_str().expect("a message");
        assert!(
            message.starts_with("You have exceeded a secondary rate limit"),
            "{message}"
        );
    }
    assert!(github.issues("acme", "app").is_empty());
    let created = http.send("POST", &issues_url, Some(&bearer), Some(issue));
    assert_eq!(created.status, 201);
    let statuses: Vec<u16> = github.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 403, 429, 200, 403, 429, 201]);
}

/// base64 of gzip of `bytes`, as the SARIF upload wants its `sarif`.
fn gzip_base64(bytes: &[u8]) -> String {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip in memory");
    BASE64.encode(encoder.finish().expect("gzip in memory"))
}

/// A SARIF 2.1.0 log with one run of `results`.
fn sarif_log(results: Value) -> Value {
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "ferret", "rules": []}}, "results": results}],
    })
}

/// A result at `path` line 3 starting at `column`.
fn sarif_result(path: &str, column: u64) -> Value {
    json!({
        "ruleId": "openai-project-key",
        "message": {"text": "An OpenAI project key."},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": path},
            "region": {"startLine": 3, "startColumn": column, "endLine": 3, "endColumn": 40},
        }}],
    })
}

#[test]
fn github_sarif_uploads_are_validated_kept_and_processed() {
    let (github, http, token) = github_with_repo();
    github.add_repo_with(RepoSpec {
        archived: true,
        ..RepoSpec::new("acme", "old")
    });
    let bearer = format!("Bearer {token}");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let upload_to = |repo: &str, body: Value| {
        let url = format!("{}/repos/acme/{repo}/code-scanning/sarifs", github.uri());
        http.send("POST", &url, Some(&bearer), Some(body))
    };
    let upload = |body: Value| upload_to("app", body);
    let body = |commit_sha: &str, reference: &str, sarif: String| json!({"commit_sha": commit_sha, "ref": reference, "sarif": sarif, "tool_name": "ferret"});
    let poll = |url: &str| http.send("GET", url, Some(&bearer), None);

    let good = sarif_log(json!([sarif_result("config.py", 5)]));
    let accepted = upload(body(
        sha,
        "refs/heads/main",
        gzip_base64(good.to_string().as_bytes()),
    ));
    assert_eq!(accepted.status, 202);
    let id = accepted.body["id"].as_str().expect("an id").to_string();
    let status_url = format!("{}/repos/acme/app/code-scanning/sarifs/{id}", github.uri());
    assert_eq!(accepted.body["url"], status_url);
    assert_eq!(poll(&status_url).body["processing_status"], "pending");
    let complete = poll(&status_url);
    assert_eq!(complete.body["processing_status"], "complete");
    assert!(complete.body["analyses_url"].is_string());
    assert_eq!(
        github.sarif_uploads(),
        [(
            "acme/app".to_string(),
            sha.to_string(),
            "refs/heads/main".to_string(),
            good
        )]
    );

    // Accepted, then failed in processing: no location, a column 0.
    let mut no_location = sarif_result("a.py", 1);
    no_location["locations"] = json!([]);
    let bad = sarif_log(json!([no_location, sarif_result("b.py", 0)]));
    let accepted = upload(body(
        sha,
        "refs/tags/v1",
        gzip_base64(bad.to_string().as_bytes()),
    ));
    assert_eq!(accepted.status, 202);
    let status_url = accepted.body["url"].as_str().expect("a url");
    assert_eq!(poll(status_url).body["processing_status"], "pending");
    let failed = poll(status_url);
    assert_eq!(failed.body["processing_status"], "failed");
    let errors = failed.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0]
            .as_str()
            .expect("text")
            .contains("expected at least one location")
    );
    assert!(errors[1].as_str().expect("text").contains("startColumn"));

    // Refused: schema violations 422, undecodable SARIF 400, too big 413.
    let sarif = gzip_base64(sarif_log(json!([])).to_string().as_bytes());
    let refused = upload(body("abc", "refs/heads/main", sarif.clone()));
    assert_eq!(refused.status, 422);
    let message = refused.body["message"].as_str().expect("a message");
    assert!(message.contains("At least 40 characters are required; only 3 were supplied."));
    assert_eq!(
        upload(body(&sha.to_uppercase(), "refs/heads/main", sarif.clone())).status,
        422
    );
    assert_eq!(upload(body(sha, "main", sarif.clone())).status, 422);
    assert_eq!(
        upload(json!({"commit_sha": sha, "ref": "refs/heads/main"})).status,
        422
    );
    let version_1 = json!({"version": "1.0.0", "runs": []}).to_string();
    for undecodable in [
        "%%% not base64".to_string(),
        BASE64.encode(b"not gzip at all"),
        gzip_base64(b"not json"),
        gzip_base64(version_1.as_bytes()),
    ] {
        let refused = upload(body(sha, "refs/heads/main", undecodable));
        assert_eq!(refused.status, 400);
        assert!(refused.body["message"].is_string());
    }
    github.set_sarif_size_limit(16);
    assert_eq!(
        upload(body(sha, "refs/heads/main", sarif.clone())).status,
        413
    );
    github.set_sarif_size_limit(support::github::SARIF_GZIP_LIMIT);
    assert_eq!(
        upload_to("old", body(sha, "refs/heads/main", sarif.clone())).status,
        403
    );
    assert_eq!(
        upload_to("missing", body(sha, "refs/heads/main", sarif)).status,
        404
    );
    assert_eq!(github.sarif_uploads().len(), 2);
    let unknown = format!("{}/repos/acme/app/code-scanning/sarifs/nope", github.uri());
    assert_eq!(poll(&unknown).status, 404);
}

#[test]
fn github_secret_scanning_alerts_list_by_page_and_locate() {
    let (github, http, token) = github_with_repo();
    github.add_repo_with(RepoSpec {
        private: true,
        ..RepoSpec::new("acme", "lib")
    });
    let bearer = format!("Bearer {token}");
    let base = github.uri();
    let get = |url: &str| http.send("GET", url, Some(&bearer), None);
    let keys: Vec<String> = (0..3).map(|_| project_key()).collect();
    let first = "1111111111111111111111111111111111111111";
    let later = "2222222222222222222222222222222222222222";

    assert_eq!(
        github.add_secret_alert("acme", "app", &keys[0], "config.py", 3, first),
        1
    );
    assert_eq!(
        github.add_secret_alert("acme", "lib", &keys[1], ".env", 1, first),
        1
    );
    assert_eq!(
        github.add_secret_alert("acme", "app", &keys[2], "b.py", 7, later),
        2
    );
    // The same secret again is another location of the same alert.
    assert_eq!(
        github.add_secret_alert("acme", "app", &keys[0], "old.py", 9, later),
        1
    );

    let mut url = format!(
        "{base}/orgs/acme/secret-scanning/alerts?state=open&secret_type=openai_api_key&per_page=2"
    );
    let mut alerts = Vec::new();
    let mut pages = 0;
    loop {
        let page = get(&url);
        assert_eq!(page.status, 200);
        pages += 1;
        alerts.extend(page.body.as_array().expect("a list").iter().cloned());
        match links(&page).into_iter().find(|(rel, _)| rel == "next") {
            Some((_, next)) => url = next,
            None => break,
        }
    }
    assert_eq!(pages, 2);
    // Newest first; compared by fingerprint so no key is ever printed.
    let seen: Vec<(String, u64, String)> = alerts
        .iter()
        .map(|alert| {
            (
                alert["repository"]["full_name"]
                    .as_str()
                    .expect("a name")
                    .to_string(),
                alert["number"].as_u64().expect("a number"),
                fingerprint(alert["secret"].as_str().expect("the secret")),
            )
        })
        .collect();
    let expected: Vec<(String, u64, String)> =
        [("acme/app", 2, 2), ("acme/lib", 1, 1), ("acme/app", 1, 0)]
            .iter()
            .map(|(repo, number, key)| (repo.to_string(), *number, fingerprint(&keys[*key])))
            .collect();
    assert_eq!(seen, expected);
    let lib = &alerts[1];
    for (field, value) in [
        ("state", json!("open")),
        ("secret_type", json!("openai_api_key")),
        ("secret_type_display_name", json!("OpenAI API Key")),
        ("validity", json!("unknown")),
        (
            "url",
            json!(format!("{base}/repos/acme/lib/secret-scanning/alerts/1")),
        ),
        (
            "html_url",
            json!(format!("{base}/acme/lib/security/secret-scanning/1")),
        ),
        (
            "locations_url",
            json!(format!(
                "{base}/repos/acme/lib/secret-scanning/alerts/1/locations"
            )),
        ),
    ] {
        assert_eq!(lib[field], value, "{field}");
    }
    assert!(lib["created_at"].is_string());
    assert_eq!(lib["repository"]["private"], true);
    assert_eq!(lib["repository"]["owner"]["login"], "acme");

    let locations = get(alerts[2]["locations_url"].as_str().expect("a url"));
    assert_eq!(locations.status, 200);
    let places: Vec<(Value, Value, Value, Value)> = locations
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|l| {
            let d = &l["details"];
            assert_eq!(l["type"], "commit");
            assert!(d["blob_sha"].as_str().is_some_and(|s| s.len() == 40));
            (
                d["path"].clone(),
                d["start_line"].clone(),
                d["end_line"].clone(),
                d["commit_sha"].clone(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (json!("config.py"), json!(3), json!(3), json!(first)),
            (json!("old.py"), json!(9), json!(9), json!(later)),
        ]
    );

    // Other secret types match nothing; resolving takes an alert out of the open list.
    let other = get(&format!(
        "{base}/orgs/acme/secret-scanning/alerts?secret_type=github_personal_access_token"
    ));
    assert_eq!(other.body, json!([]));
    let resolved = http.send(
        "PATCH",
        &format!("{base}/repos/acme/app/secret-scanning/alerts/1"),
        Some(&bearer),
        Some(json!({"state": "resolved", "resolution": "revoked"})),
    );
    assert_eq!(resolved.status, 200);
    assert_eq!(
        github
            .secret_alert("acme", "app", 1)
            .map(|a| (a["state"].clone(), a["resolution"].clone())),
        Some((json!("resolved"), json!("revoked")))
    );
    let open = get(&format!(
        "{base}/orgs/acme/secret-scanning/alerts?state=open"
    ));
    assert_eq!(open.body.as_array().map(Vec::len), Some(2));
    assert!(open.headers.get("link").is_none());
    assert_eq!(
        get(&format!("{base}/orgs/nobody/secret-scanning/alerts")).status,
        404
    );
}

/// Runs a prepared git command and returns its output, whatever the outcome.
fn run(command: &mut Command) -> Output {
    command.output().expect("git runs")
}

/// Asserts a git command succeeded.
#[track_caller]
fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "git failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A repository with one commit, pushed into `owner/name` of `server`; returns the work repo
/// and its commit.
fn seeded(server: &GitServer, owner: &str, name: &str) -> (support::git::Repo, String) {
    let mut work = support::git::Repo::new();
    work.write("README.md", "hello\n");
    let head = work.commit_all("first");
    let bare = server.add_repo(owner, name);
    work.git(&["push", "-q", bare.to_str().expect("a UTF-8 path"), "main"]);
    (work, head)
}

/// `git clone URL` into a fresh directory, with `extra` options before `clone`.
fn clone(url: &str, extra: &[&str]) -> (Tree, Output) {
    let dest = Tree::new();
    let output = run(git_client()
        .args(extra)
        .args(["clone", "-q", url, "repo"])
        .current_dir(dest.path()));
    (dest, output)
}

#[test]
fn git_server_serves_clones_and_pushes_and_fails_on_demand() {
    let server = GitServer::start();
    let (mut work, head) = seeded(&server, "acme", "app");
    // Enough tags that the clone's list of wants passes 1 KB, which git sends gzipped.
    for i in 0..80 {
        work.git(&["tag", &format!("release-{i}")]);
    }
    let bare = server.root().join("acme/app.git");
    work.git(&["push", "-q", "--tags", bare.to_str().expect("a UTF-8 path")]);
    let url = server.url("acme", "app");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/acme/app.git"));

    let (dest, output) = clone(&url, &[]);
    assert_ok(&output);
    assert_eq!(
        std::fs::read_to_string(dest.join("repo/README.md")).expect("cloned file"),
        "hello\n"
    );
    let cloned = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dest.join("repo")));
    assert_eq!(String::from_utf8_lossy(&cloned.stdout).trim(), head);

    // A push over HTTP bigger than the post buffer goes as a chunked body.
    let noise: Vec<u8> = (0..300_000).map(|_| fastrand::u8(..)).collect();
    work.write("noise.bin", noise);
    let second = work.commit_all("noise");
    assert_ok(&run(git_client()
        .args(["-c", "http.postBuffer=65536", "push", "-q", &url, "main"])
        .current_dir(work.path())));
    let (dest, output) = clone(&url, &[]);
    assert_ok(&output);
    let cloned = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dest.join("repo")));
    assert_eq!(String::from_utf8_lossy(&cloned.stdout).trim(), second);

    let requests = server.requests();
    assert!(requests.iter().any(|(method, target, _, status)| {
        method == "POST" && target == "/acme/app.git/git-receive-pack" && *status == 200
    }));
    assert!(requests.iter().any(|(method, target, _, status)| {
        method == "GET"
            && target == "/acme/app.git/info/refs?service=git-upload-pack"
            && *status == 200
    }));

    // A repository that does not exist, a server error, a connection cut mid-transfer.
    let (_, missing) = clone(&server.url("acme", "missing"), &[]);
    assert!(!missing.status.success());
    assert_eq!(server.requests().last().map(|r| r.3), Some(404));
    server.fail_next(1);
    let (_, failed) = clone(&url, &[]);
    assert!(!failed.status.success());
    assert_eq!(server.requests().last().map(|r| r.3), Some(500));
    server.cut_next_fetch(1);
    let (_, cut) = clone(&url, &[]);
    assert!(!cut.status.success());
    assert_eq!(
        server.requests().last().map(|r| (r.0.as_str(), r.3)),
        Some(("POST", 200))
    );
    let (_, again) = clone(&url, &[]);
    assert_ok(&again);
}

#[test]
fn git_server_with_a_token_demands_it_as_basic_auth() {
    let token = format!("ghs_{}", support::random_alnum(36));
    let server = GitServer::start_with_token(&token);
    let (_work, head) = seeded(&server, "acme", "app");
    let url = server.url("acme", "app");

    let (_, anonymous) = clone(&url, &[]);
    assert!(!anonymous.status.success());
    let wrong = format!(
        "http.extraHeader=Authorization: {}",
        basic_authorization("wrong")
    );
    let (_, refused) = clone(&url, &["-c", &wrong]);
    assert!(!refused.status.success());
    let refusals = server.requests();
    assert!(!refusals.is_empty());
    assert!(refusals.iter().all(|r| r.3 == 401));
    assert!(refusals[0].2.is_none());

    let expected = basic_authorization(&token);
    let header = format!("http.extraHeader=Authorization: {expected}");
    let (dest, output) = clone(&url, &["-c", &header]);
    assert_ok(&output);
    let cloned = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dest.join("repo")));
    assert_eq!(String::from_utf8_lossy(&cloned.stdout).trim(), head);
    let accepted: Vec<_> = server.requests().into_iter().skip(refusals.len()).collect();
    assert!(accepted.len() >= 2);
    assert!(
        accepted
            .iter()
            .all(|r| r.2.as_deref() == Some(expected.as_str()) && r.3 == 200),
        "a request of the authenticated clone lacked the token or failed"
    );
}
