//! Self-tests of the stateful loopback mocks (support/openai_org.rs and support/github.rs),
//! driven with a plain HTTP client: they pin the API behaviour the revocation tests rely on.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use crypto_box::PublicKey;
use crypto_box::aead::OsRng;
use serde_json::{Value, json};
use support::github::GitHubMock;
use support::openai::masked;
use support::openai_org::OpenAiOrg;
use support::{Shape, marker, project_key};

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
