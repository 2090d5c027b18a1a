//! Hostile services: the APIs ferret talks to (OpenAI's verification and Administration API,
//! every other provider's verification, GitHub's REST API and git over HTTP, webhook receivers)
//! answering slowly, with bytes that are not HTTP, with JSON cut in the middle, with bodies cut
//! off or never ending, with redirects to another host, echoing the credential they were sent,
//! or over TLS nobody can trust (tests/support/hostile.rs). Whatever they do, ferret records
//! the outcome (a verification `error` with its reason, a `failed` revocation in the ledger, a
//! one-line error), goes on with the rest of the scan, exits with the code DESIGN.md gives,
//! never panics, reads no more than it must, and no key, admin key or token ever reaches
//! another host or comes back out.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use support::git::Repo;
use support::git_server::{GitServer, basic_authorization};
use support::github::{GitHubMock, RepoSpec};
use support::hostile::{HostileServer, Misbehaviour, Received, TestCertificate, contains};
use support::providers::{API_BASE_VARIABLES, Kind};
use support::{Run, Shape, Tree, describe_key, fingerprint};

const GITHUB_TOKEN: &str = "ghp_hostiletokenforthemocksonly00";

/// The other host of every test: a redirect's target, which must never hear from ferret.
const OTHER_HOST: &str = "127.0.0.2";

/// Far past every timeout a test gives ferret.
const FOREVER: Duration = Duration::from_secs(120);

/// Longest a run against a hostile server may take: its timeouts, retries and backoff.
const BOUNDED: Duration = Duration::from_secs(60);

/// Arguments that keep a verifying run short against a server that does not answer.
const QUICK_VERIFY: [&str; 4] = ["--verify-timeout", "1s", "--verify-retries", "1"];

/// A tree of leaked keys, a private state and cache directory, and the secrets no output may
/// show.
struct Scene {
    tree: Tree,
    private: TempDir,
    secrets: Vec<String>,
    env: Vec<(String, String)>,
}

impl Scene {
    fn new() -> Self {
        Scene {
            tree: Tree::new(),
            private: tempfile::tempdir().expect("temporary directory"),
            secrets: vec![GITHUB_TOKEN.to_string()],
            env: Vec::new(),
        }
    }

    /// Writes `line` into `file` and remembers `key` as one no output may show.
    fn leak(&mut self, file: &str, line: &str, key: &str) {
        self.tree.write(file, format!("{line}\n"));
        self.secrets.push(key.to_string());
    }

    /// An OpenAI project key in `file`.
    fn leak_openai(&mut self, file: &str) -> String {
        let key = Shape::Project74.key();
        self.leak(file, &format!("OPENAI_API_KEY={key}"), &key);
        key
    }

    fn set(&mut self, variable: &str, value: impl Into<String>) {
        self.env.push((variable.to_string(), value.into()));
    }

    fn ledger(&self) -> PathBuf {
        self.private.path().join("state/ledger.sqlite")
    }

    /// `ferret dir . --format jsonl` with `config` as the operator's config file.
    fn scan_with_config(&self, config: &str) -> Run {
        let path = self.private.path().join("ops.toml");
        std::fs::write(&path, config).expect("the operator's config");
        let path = path.to_str().expect("UTF-8 path");
        self.run(&["dir", ".", "--format", "jsonl", "--config", path])
    }

    /// `ferret ARGS` in the tree; every provider's base points at a closed port unless the
    /// scene set it. Asserts no panic and no secret in the output, and that it took less than
    /// [`BOUNDED`].
    fn run(&self, args: &[&str]) -> Run {
        let mut command = support::isolated_ferret(self.tree.path(), self.private.path());
        command.args(args);
        for (variable, value) in &self.env {
            command.env(variable, value);
        }
        let started = Instant::now();
        let run = Run::from(command.output().expect("run ferret"));
        let took = started.elapsed();
        run.expect_no_panic();
        for secret in &self.secrets {
            run.expect_key_hidden(secret);
        }
        assert!(took < BOUNDED, "the run took {took:?}; {run}");
        run
    }

    /// `ferret dir . --verify --format jsonl` with quick timeouts, and `extra`.
    fn verify(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "dir",
            ".",
            "--verify",
            "--format",
            "jsonl",
            "--no-verify-cache",
        ];
        args.extend(QUICK_VERIFY);
        args.extend(extra);
        self.run(&args)
    }
}

/// Asserts `key`'s verification status, and that its detail says `because` (lowercased).
#[track_caller]
fn expect_verification(run: &Run, key: &str, status: &str, because: &str) {
    let verification = run.verification_of(key);
    assert_eq!(
        verification["status"],
        status,
        "{}: {verification}; {run}",
        describe_key(key)
    );
    let detail = verification["detail"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        detail.contains(because),
        "{}: the detail does not say `{because}`: {verification}",
        describe_key(key)
    );
}

/// The `revocation` object of `key`'s finding in a JSONL report.
#[track_caller]
fn revocation_of(run: &Run, key: &str) -> Value {
    let fingerprint = fingerprint(key);
    let records: Vec<Value> = run
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|r| r["fingerprint"] == fingerprint.as_str())
        .collect();
    assert!(
        !records.is_empty(),
        "{} not reported; {run}",
        describe_key(key)
    );
    records[0]["revocation"].clone()
}

/// What the hostile server got, described without secrets for a failure message.
fn paths(received: &[Received]) -> Vec<String> {
    received.iter().map(|r| r.request_line.clone()).collect()
}

/// A broken answer, and what each client must say about it (`None`: not tried there).
struct Broken {
    answer: Misbehaviour,
    /// A key's verification: `error`, and this in its detail.
    verification: Option<&'static str>,
    /// A revocation through the Administration API: `failed`, and this in its detail.
    admin: Option<&'static str>,
    /// `ferret github`: exit code 2, and this in its one-line error.
    github: Option<&'static str>,
}

/// Every broken answer the tests give each client.
fn broken_answers() -> Vec<Broken> {
    let broken = |answer, verification, admin, github| Broken {
        answer,
        verification,
        admin,
        github,
    };
    use Misbehaviour::*;
    let timeout = Some("timeout");
    vec![
        broken(Stall(FOREVER), timeout, timeout, timeout),
        broken(Dribble(FOREVER), timeout, timeout, timeout),
        broken(
            Garbage,
            Some("request failed"),
            Some("request failed"),
            Some("request failed"),
        ),
        broken(
            CutOff(200),
            Some("cut off"),
            Some("cut off"),
            Some("cut off"),
        ),
        broken(
            Endless(200),
            Some("larger than"),
            Some("larger than"),
            Some("larger than"),
        ),
        // A 200 cut-off JSON body is read by its status: a test of its own.
        broken(
            TruncatedJson(200),
            None,
            Some("unreadable answer"),
            Some("unreadable answer"),
        ),
        broken(
            TruncatedJson(503),
            Some("server error 503"),
            Some("http 503"),
            None,
        ),
        broken(
            Echo(500),
            Some("server error 500"),
            Some("http 500"),
            Some("http 500"),
        ),
        // An echoing 401 is an invalid key to verification: a test of its own.
        broken(Echo(401), None, Some("http 401"), Some("http 401")),
        broken(
            Echo(200),
            None,
            Some("unexpected answer"),
            // The listing is read by ferret itself (ETags, 304s), so it names the bad answer.
            Some("unreadable answer"),
        ),
    ]
}

/// The broken answers a client is given, each with what it must say (`said` picks it).
fn broken_answers_to(
    said: fn(&Broken) -> Option<&'static str>,
) -> Vec<(Misbehaviour, &'static str)> {
    broken_answers()
        .into_iter()
        .filter_map(|broken| said(&broken).map(|because| (broken.answer, because)))
        .collect()
}

/// Asserts that ferret stopped reading answers early: even an endless body (a server writes
/// what the client's and the kernel's buffers take) came to far less than it offered.
#[track_caller]
fn expect_bounded_reads(server: &HostileServer) {
    let sent = server.body_bytes_sent();
    assert!(sent < 256 << 20, "ferret read {sent} bytes of answers");
}

/// OpenAI's answer of a live key: an empty list of models.
fn models_list() -> Misbehaviour {
    Misbehaviour::Json(200, r#"{"object":"list","data":[]}"#.to_string())
}

/// A redirect's target on the other host: it answers everything, and must hear nothing.
fn other_host() -> HostileServer {
    HostileServer::start(OTHER_HOST, models_list())
}

#[track_caller]
fn expect_untouched(target: &HostileServer, secrets: &[String]) {
    let received = target.received();
    for secret in secrets {
        assert!(
            !received.iter().any(|r| r.carries(secret)),
            "{} reached the other host",
            describe_key(secret)
        );
    }
    assert!(
        received.is_empty(),
        "a redirect was followed: {:?}",
        paths(&received)
    );
}

// ---------------------------------------------------------------------------------------------
// Verification: OpenAI's and every other provider's

/// A tree with an OpenAI key and a key of every other provider that ferret verifies, every
/// provider's API base pointing at `server`.
fn every_provider_at(server: &HostileServer) -> (Scene, String, Vec<(Kind, String)>) {
    let mut scene = Scene::new();
    let openai = scene.leak_openai("openai.env");
    let mut others = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| k.api().is_some()) {
        let key = kind.key();
        scene.leak(&format!("{}.env", kind.rule()), &kind.line(&key), &key);
        others.push((kind, key));
    }
    for variable in API_BASE_VARIABLES {
        scene.set(variable, server.uri());
    }
    (scene, openai, others)
}

#[test]
fn every_providers_verification_survives_every_broken_answer_with_an_error_and_its_reason() {
    for (misbehaviour, because) in broken_answers_to(|b| b.verification) {
        let server = HostileServer::start("127.0.0.1", misbehaviour.clone());
        let (scene, openai, others) = every_provider_at(&server);
        let run = scene.verify(&[]);
        run.expect_code(1);
        expect_verification(&run, &openai, "error", because);
        for (_, key) in &others {
            expect_verification(&run, key, "error", because);
        }
        // Every key asked once, and once more after the failure (--verify-retries 1).
        let asked = server.received().len();
        assert!(
            asked <= 2 * (1 + others.len()),
            "{misbehaviour:?}: {asked} requests"
        );
        expect_bounded_reads(&server);
    }
}

#[test]
fn a_cut_off_json_body_is_read_by_its_status_and_never_says_a_key_is_fine_where_the_body_decides() {
    let server = HostileServer::start("127.0.0.1", Misbehaviour::TruncatedJson(200));
    let (scene, openai, others) = every_provider_at(&server);
    let run = scene.verify(&[]);
    run.expect_code(1);
    // OpenAI's and most providers' 200 says the key works, whatever the body.
    assert_eq!(run.verification_of(&openai)["status"], "live", "{run}");
    // Where a 200 body says whether the key is disabled or out of credit, a body that cannot be
    // read says nothing.
    let body_decides = [Kind::Xai, Kind::OpenRouter, Kind::Cohere, Kind::DeepSeek];
    for (kind, key) in &others {
        if body_decides.contains(kind) {
            expect_verification(&run, key, "error", "not json");
        } else {
            assert_eq!(run.verification_of(key)["status"], "live", "{kind:?}");
        }
    }
}

#[test]
fn an_answer_echoing_the_key_into_headers_and_body_never_brings_any_piece_of_it_out() {
    for status in [200, 401, 403, 500] {
        let server = HostileServer::start("127.0.0.1", Misbehaviour::Echo(status));
        let (scene, openai, others) = every_provider_at(&server);
        let keys: Vec<&String> = std::iter::once(&openai)
            .chain(others.iter().map(|(_, k)| k))
            .collect();
        let cache = scene.private.path().join("verify.sqlite");
        let cache_arg = cache.to_str().expect("UTF-8 path");
        let mut outputs = Vec::new();
        for format in ["jsonl", "json", "text", "sarif", "github"] {
            let run = scene.run(&[
                "dir",
                ".",
                "--verify",
                "--format",
                format,
                "--verify-cache",
                cache_arg,
                "--verify-timeout",
                "1s",
                "--verify-retries",
                "0",
            ]);
            outputs.push(run.stdout.into_bytes());
            outputs.push(run.stderr.into_bytes());
        }
        assert!(
            server.received_carrying(&openai) >= 1,
            "the server was never asked: the test proves nothing"
        );
        outputs.push(std::fs::read(&cache).expect("the cache was written"));
        // Not the key, and not a piece of it longer than its redaction shows: a message
        // shortened for the report must not keep half a key either.
        for key in keys {
            for piece in key.as_bytes().windows(24) {
                assert!(
                    !outputs.iter().any(|output| contains(output, piece)),
                    "HTTP {status}: a piece of {} came out",
                    describe_key(key)
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Redirects: a key never follows one off the configured host

#[test]
fn no_key_follows_a_redirect_to_another_host() {
    for status in [301, 302, 307, 308] {
        let target = other_host();
        let redirector =
            HostileServer::start("127.0.0.1", Misbehaviour::Redirect(status, target.uri()));
        let (scene, openai, others) = every_provider_at(&redirector);
        let run = scene.verify(&[]);
        run.expect_code(1);
        expect_verification(&run, &openai, "error", "not followed");
        for (_, key) in &others {
            expect_verification(&run, key, "error", "not followed");
        }
        assert!(redirector.received_carrying(&openai) >= 1);
        expect_untouched(&target, &scene.secrets);
    }
}

#[test]
fn the_admin_key_follows_no_redirect_and_the_failed_revocation_is_in_the_ledger() {
    let target = other_host();
    let revoking = revoke_against(Misbehaviour::Redirect(307, target.uri()), &[".env"]);
    revoking.expect_failed("http 307");
    assert!(revoking.server.received_carrying(&revoking.admin_key) >= 1);
    expect_untouched(&target, &revoking.scene.secrets);
}

#[test]
fn a_webhook_follows_no_redirect_and_its_failure_is_reported() {
    let target = other_host();
    let redirector = HostileServer::start("127.0.0.1", Misbehaviour::Redirect(308, target.uri()));
    let mut scene = Scene::new();
    let key = scene.leak_openai(".env");
    scene.set("HOOK_SECRET", "signing-secret");
    let run = scene.scan_with_config(&format!(
        "[[hooks]]\ntype = \"webhook\"\nurl = \"{}/events\"\nsecret_env = \"HOOK_SECRET\"\n",
        redirector.uri()
    ));
    run.expect_code(1);
    assert_eq!(run.records().len(), 1, "{run}");
    assert!(
        run.stderr.contains("HTTP 308"),
        "the hook's failure is not reported; {run}"
    );
    assert_eq!(redirector.received().len(), 1, "one delivery, not retried");
    expect_untouched(&target, &[key]);
}

#[test]
fn the_github_token_follows_no_redirect_and_no_link_to_another_host() {
    let target = other_host();
    let mut scene = Scene::new();
    scene.set("GITHUB_TOKEN", GITHUB_TOKEN);
    scene.set("FERRET_GITHUB_TIMEOUT", "2s");
    let cache = scene.private.path().join("mirrors");
    let sweep = |scene: &Scene| {
        scene.run(&[
            "github",
            "--org",
            "acme",
            "--format",
            "jsonl",
            "--cache",
            cache.to_str().expect("UTF-8 path"),
        ])
    };

    let redirector = HostileServer::start("127.0.0.1", Misbehaviour::Redirect(301, target.uri()));
    scene.set("FERRET_GITHUB_API_BASE", redirector.uri());
    let run = sweep(&scene);
    run.expect_code(2);
    assert!(run.stderr.contains("301"), "{run}");
    assert_eq!(run.stderr.trim().lines().count(), 1, "not one line; {run}");
    assert!(redirector.received_carrying(GITHUB_TOKEN) >= 1);

    // A first page whose `link` sends the next page elsewhere.
    let pager = HostileServer::start(
        "127.0.0.1",
        Misbehaviour::Page {
            body: "[]".to_string(),
            next: format!("{}/orgs/acme/repos?page=2", target.uri()),
        },
    );
    scene.set("FERRET_GITHUB_API_BASE", pager.uri());
    let run = sweep(&scene);
    run.expect_code(2);
    assert!(run.stderr.contains("not followed"), "{run}");
    expect_untouched(&target, &scene.secrets);
}

#[test]
fn git_follows_no_redirect_with_the_token_and_the_sweep_records_the_failure() {
    // The other host serves the repository for real: a git that followed the redirect would
    // clone it from there, token and all.
    let elsewhere = GitServer::start_on(OTHER_HOST);
    let bare = elsewhere.add_repo("acme", "app");
    let work = Repo::new();
    let key = Shape::Project74.key();
    work.write(".env", format!("OPENAI_API_KEY={key}\n"));
    work.git(&["add", "-A"]);
    work.git(&["commit", "-q", "-m", "first"]);
    work.git(&["push", "-q", bare.to_str().expect("UTF-8 path"), "main"]);

    // The clone URL is at the git host that goes with the API, so git is given the token; it
    // answers with a redirect to the other host.
    let redirector = HostileServer::start(
        "127.0.0.1",
        Misbehaviour::Redirect(301, elsewhere.base_url()),
    );
    let github = GitHubMock::start(GITHUB_TOKEN);
    github.add_org("acme");
    github.add_repo_with(RepoSpec {
        clone_url: Some(format!("{}/acme/app.git", redirector.uri())),
        ..RepoSpec::new("acme", "app")
    });
    let mut scene = Scene::new();
    scene.secrets.push(key.clone());
    scene.set("GITHUB_TOKEN", GITHUB_TOKEN);
    scene.set("FERRET_GITHUB_API_BASE", github.uri());
    // The git host that goes with the API: the token may be sent there (and only there).
    scene.set("FERRET_GITHUB_GIT_BASE", redirector.uri());
    let state = scene.private.path().join("sweep.sqlite");
    let run = scene.run(&[
        "github",
        "--org",
        "acme",
        "--format",
        "jsonl",
        "--state",
        state.to_str().expect("UTF-8 path"),
    ]);
    let token = basic_authorization(GITHUB_TOKEN);
    assert!(
        redirector.received().iter().any(|r| r.carries(&token)),
        "git was not given the token: the test proves nothing"
    );
    for (method, target, authorization, _) in elsewhere.requests() {
        assert_ne!(
            authorization.as_deref(),
            Some(token.as_str()),
            "the token reached the other host with {method} {target}"
        );
    }
    assert!(
        elsewhere.requests().is_empty(),
        "git followed the redirect: {:?}",
        elsewhere
            .requests()
            .iter()
            .map(|r| &r.1)
            .collect::<Vec<_>>()
    );
    run.expect_code(2);
    assert!(run.stderr.contains("acme/app: not swept"), "{run}");
    let state = rusqlite::Connection::open(&state).expect("the sweep state");
    let error: String = state
        .query_row(
            "SELECT last_error FROM repositories WHERE name = 'acme/app'",
            [],
            |row| row.get(0),
        )
        .expect("the failure is in the sweep state");
    assert!(!error.is_empty());
}

// ---------------------------------------------------------------------------------------------
// TLS: an https base that cannot be trusted fails, and never falls back to plain HTTP

#[test]
fn https_to_a_plain_http_server_fails_the_key_with_a_tls_error_and_sends_nothing_in_clear() {
    let plain = HostileServer::start("127.0.0.1", models_list());
    let mut scene = Scene::new();
    let key = scene.leak_openai(".env");
    scene.set(
        "FERRET_OPENAI_API_BASE",
        plain.uri().replace("http://", "https://"),
    );
    let run = scene.verify(&[]);
    run.expect_code(1);
    expect_verification(&run, &key, "error", "tls");
    assert!(!plain.received().is_empty(), "nothing tried the server");
    assert!(
        plain.received().iter().all(|r| r.request_line.is_empty()),
        "a plain HTTP request was sent: {:?}",
        paths(&plain.received())
    );
    assert_eq!(plain.received_carrying(&key), 0);
}

#[test]
fn a_certificate_nobody_trusts_fails_every_client_and_a_trusted_one_works() {
    let certificate = TestCertificate::new();
    let models = models_list();
    let server = HostileServer::start_tls("127.0.0.1", models, &certificate);
    let mut scene = Scene::new();
    let key = scene.leak_openai(".env");
    let admin_key = Shape::Admin.key();
    scene.secrets.push(admin_key.clone());
    scene.set("FERRET_OPENAI_API_BASE", server.localhost_uri());
    scene.set("FERRET_GITHUB_API_BASE", server.localhost_uri());
    scene.set("GITHUB_TOKEN", GITHUB_TOKEN);

    // Verification.
    let run = scene.verify(&[]);
    run.expect_code(1);
    expect_verification(&run, &key, "error", "tls handshake failed");
    expect_verification(&run, &key, "error", "certificate");
    // GitHub.
    let run = scene.run(&["github", "--repo", "acme/app", "--format", "jsonl"]);
    run.expect_code(2);
    assert!(run.stderr.to_lowercase().contains("tls"), "{run}");
    assert!(server.handshake_failures() >= 2);
    assert!(server.received().is_empty(), "a request got through");

    // The control: a client that trusts the CA gets through, so the failures above are the
    // certificate's.
    let ca = scene.private.path().join("ca.pem");
    std::fs::write(&ca, certificate.ca_pem()).expect("the CA file");
    scene.set("SSL_CERT_FILE", ca.to_str().expect("UTF-8 path"));
    let run = scene.verify(&[]);
    run.expect_code(1);
    assert_eq!(run.verification_of(&key)["status"], "live", "{run}");
    assert_eq!(server.received_carrying(&key), 1);
}

// ---------------------------------------------------------------------------------------------
// The Administration API misbehaving during --revoke

#[test]
fn every_broken_admin_answer_fails_that_revocation_in_the_ledger_and_the_run_goes_on() {
    for (misbehaviour, because) in broken_answers_to(|b| b.admin) {
        let revoking = revoke_against(misbehaviour, &["a/.env", "b/.env"]);
        revoking.expect_failed(because);
        expect_bounded_reads(&revoking.server);
    }
}

/// A `--verify --revoke` run over an OpenAI key in each of `files`, against a server whose
/// `/v1/models` says every key is live and whose Administration API answers with `admin_api`.
struct Revoking {
    server: HostileServer,
    scene: Scene,
    keys: Vec<String>,
    admin_key: String,
    ledger: PathBuf,
    run: Run,
}

fn revoke_against(admin_api: Misbehaviour, files: &[&str]) -> Revoking {
    let server = HostileServer::start("127.0.0.1", admin_api);
    server.route("/v1/models", models_list());
    let mut scene = Scene::new();
    let keys = files.iter().map(|file| scene.leak_openai(file)).collect();
    let admin_key = Shape::Admin.key();
    scene.secrets.push(admin_key.clone());
    scene.set("FERRET_OPENAI_API_BASE", server.uri());
    scene.set("OPENAI_ADMIN_KEY", &admin_key);
    let ledger = scene.ledger();
    let run = scene.verify(&[
        "--revoke",
        "--yes",
        "--ledger",
        ledger.to_str().expect("UTF-8 path"),
    ]);
    run.expect_code(1);
    Revoking {
        server,
        scene,
        keys,
        admin_key,
        ledger,
        run,
    }
}

impl Revoking {
    /// Every key's revocation `failed` saying `because`, in the report and in the ledger, and
    /// no key (the admin key included) in the ledger.
    #[track_caller]
    fn expect_failed(&self, because: &str) {
        let run = &self.run;
        for key in &self.keys {
            let revocation = revocation_of(run, key);
            assert_eq!(revocation["status"], "failed", "{run}");
            let detail = revocation["detail"].as_str().unwrap_or_default();
            assert!(
                detail.to_lowercase().contains(because),
                "the detail does not say `{because}`: {revocation}"
            );
            assert_eq!(
                ledger_status(&self.ledger, key).as_deref(),
                Some("failed"),
                "the ledger does not record the failure"
            );
        }
        let stored = std::fs::read(&self.ledger).expect("the ledger");
        for secret in self.keys.iter().chain([&self.admin_key]) {
            assert!(
                !contains(&stored, secret.as_bytes()),
                "{} is in the ledger",
                describe_key(secret)
            );
        }
    }
}

/// The final status the ledger records for `key`.
fn ledger_status(ledger: &Path, key: &str) -> Option<String> {
    let connection = rusqlite::Connection::open(ledger).expect("the ledger");
    connection
        .query_row(
            "SELECT status FROM keys WHERE fingerprint = ?1",
            [fingerprint(key)],
            |row| row.get(0),
        )
        .ok()
}

// ---------------------------------------------------------------------------------------------
// GitHub misbehaving

#[test]
fn every_broken_github_answer_is_a_one_line_error_naming_the_cause() {
    for (misbehaviour, because) in broken_answers_to(|b| b.github) {
        let server = HostileServer::start("127.0.0.1", misbehaviour.clone());
        let mut scene = Scene::new();
        scene.set("GITHUB_TOKEN", GITHUB_TOKEN);
        scene.set("FERRET_GITHUB_API_BASE", server.uri());
        scene.set("FERRET_GITHUB_TIMEOUT", "1s");
        let run = scene.run(&["github", "--org", "acme", "--format", "jsonl"]);
        run.expect_code(2);
        let stderr = run.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "{misbehaviour:?}: {run}");
        assert!(
            stderr.to_lowercase().contains(because),
            "{misbehaviour:?}: the error does not say `{because}`; {run}"
        );
        // Not even a piece of the token an answer echoed (a shortened message could cut it).
        for piece in GITHUB_TOKEN.as_bytes().windows(12) {
            assert!(
                !contains(stderr.as_bytes(), piece),
                "{misbehaviour:?}: {run}"
            );
        }
        expect_bounded_reads(&server);
    }
}

#[test]
fn a_github_hook_against_a_broken_github_fails_alone_and_the_scan_reports_everything() {
    for misbehaviour in [Misbehaviour::Endless(201), Misbehaviour::Echo(500)] {
        let server = HostileServer::start("127.0.0.1", misbehaviour.clone());
        let mut scene = Scene::new();
        let first = scene.leak_openai("a/.env");
        let second = scene.leak_openai("b/.env");
        scene.set("GITHUB_TOKEN", GITHUB_TOKEN);
        scene.set("FERRET_GITHUB_API_BASE", server.uri());
        scene.set("FERRET_GITHUB_TIMEOUT", "2s");
        let run = scene.scan_with_config(
            "[[hooks]]\ntype = \"github-issue\"\nrepository = \"acme/app\"\nevents = [\"found\"]\n",
        );
        run.expect_code(1);
        for key in [&first, &second] {
            assert_eq!(
                run.verification_of(key)["status"],
                "unverified",
                "{misbehaviour:?}"
            );
        }
        let failures = run
            .stderr
            .lines()
            .filter(|l| l.contains("hook github-issue failed"))
            .count();
        assert_eq!(failures, 2, "{misbehaviour:?}: {run}");
        assert!(server.received_carrying(GITHUB_TOKEN) >= 2);
    }
}
