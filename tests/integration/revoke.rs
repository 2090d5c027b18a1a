//! `--revoke` and `ferret revoke`: live leaked keys are found in the organization through the
//! Administration API of a loopback OpenAI organization that keeps state
//! (tests/support/openai_org.rs), rotated through hooks (a loopback GitHub that unseals the
//! Actions secret it receives, tests/support/github.rs), revoked exactly once and confirmed dead,
//! with every step in the SQLite ledger; runs that are killed in the middle are completed by the
//! next one.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tempfile::TempDir;

use support::github::GitHubMock;
use support::openai_org::{FAST_CONFIRM, OpenAiOrg};
use support::{
    Killable, Run, Served, Shape, Tree, describe_key, fingerprint, marker, random_b64url, strs,
};

const GITHUB_TOKEN: &str = "ghs_testtokenforthemockonly";

/// One organization with ferret's admin key, a tree of leaks, and a private directory for the
/// ledger, the operator's config and the verification cache.
struct Setup {
    org: OpenAiOrg,
    admin_key: String,
    project: String,
    tree: Tree,
    private: TempDir,
    github: Option<GitHubMock>,
    env: Vec<(String, String)>,
}

impl Setup {
    fn new() -> Self {
        let org = OpenAiOrg::start();
        let admin_key = Shape::Admin.key();
        org.add_admin_key(&admin_key, "ferret");
        let project = org.add_project("Production");
        let setup = Setup {
            org,
            admin_key,
            project,
            tree: Tree::new(),
            private: tempfile::tempdir().expect("temporary directory"),
            github: None,
            env: Vec::new(),
        };
        setup.config("");
        setup
    }

    /// A user-owned key of the project, leaked in the tree; returns (key, id).
    fn leak_user_key(&self, file: &str) -> (String, String) {
        let key = Shape::Project74.key();
        let id = self.org.add_user_key(&self.project, &key, 1_700_000_000);
        self.leak(file, &key);
        (key, id)
    }

    fn leak(&self, file: &str, key: &str) {
        let path = self.tree.join(file);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!("OPENAI_API_KEY={key}\n"));
        self.tree.write(file, text);
    }

    /// The operator's config: [`FAST_CONFIRM`] plus `extra`.
    fn config(&self, extra: &str) {
        std::fs::write(self.config_path(), format!("{FAST_CONFIRM}{extra}")).expect("config");
    }

    fn config_path(&self) -> PathBuf {
        self.private.path().join("ops.toml")
    }

    fn ledger_path(&self) -> PathBuf {
        self.private.path().join("state/ledger.sqlite")
    }

    fn with_github(&mut self, owner: &str, name: &str) -> &GitHubMock {
        let github = GitHubMock::start(GITHUB_TOKEN);
        github.add_repo(owner, name, true);
        self.github = Some(github);
        self.github.as_ref().expect("just set")
    }

    /// `ferret ARGS` against the mocks, with nothing inherited that could reach elsewhere.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ferret"));
        command
            .args(args)
            .current_dir(self.tree.path())
            .env("FERRET_OPENAI_API_BASE", self.org.uri())
            .env("OPENAI_ADMIN_KEY", &self.admin_key)
            .env("FERRET_CACHE_DIR", self.private.path().join("cache"))
            .env(
                "FERRET_STATE_DIR",
                self.private.path().join("default-state"),
            )
            .env("RUST_BACKTRACE", "1")
            .env_remove("GITHUB_REPOSITORY")
            .env_remove("OPENAI_API_KEY");
        for proxy in support::PROXY_VARIABLES {
            command.env_remove(proxy);
        }
        match &self.github {
            Some(github) => command
                .env("FERRET_GITHUB_API_BASE", github.uri())
                .env("GITHUB_TOKEN", GITHUB_TOKEN),
            None => command.env_remove("GITHUB_TOKEN"),
        };
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        let output = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ferret");
        Run::from(output)
    }

    /// `ferret dir . --verify --revoke --yes` with the ledger and config, JSONL on stdout.
    fn revoke(&self, extra: &[&str]) -> Run {
        let mut args = self.revoke_args();
        args.extend(extra.iter().map(|a| a.to_string()));
        let run = self.run(&strs(&args));
        run.expect_no_panic();
        for key in self.org.created_key_values() {
            run.expect_key_hidden(&key);
        }
        run
    }

    /// The arguments of [`Setup::revoke`]: `dir . --verify --revoke --yes`, JSONL, with the
    /// ledger and the operator's config.
    fn revoke_args(&self) -> Vec<String> {
        let ledger = self.ledger_path();
        let config = self.config_path();
        [
            "dir",
            ".",
            "--verify",
            "--revoke",
            "--yes",
            "--format",
            "jsonl",
            "--ledger",
            ledger.to_str().expect("UTF-8 path"),
            "--config",
            config.to_str().expect("UTF-8 path"),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    }

    fn ledger(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.ledger_path()).expect("the ledger exists")
    }

    /// `SELECT …` on the ledger, each row's columns as text.
    fn query(&self, sql: &str) -> Vec<Vec<String>> {
        support::query_sqlite(&self.ledger_path(), sql)
    }

    /// How many requests with this method reached a path starting with `prefix`.
    fn requests(&self, method: &str, prefix: &str) -> usize {
        self.org
            .requests()
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .count()
    }
}

/// The `revocation` object of `key`'s finding in a JSONL report (`Null` when absent).
#[track_caller]
fn revocation_of(run: &Run, key: &str) -> Value {
    finding(run, key)["revocation"].clone()
}

/// Asserts the status of `key`'s revocation and that its detail mentions `detail`; returns it.
#[track_caller]
fn expect_revocation(run: &Run, key: &str, status: &str, detail: &str) -> Value {
    let revocation = revocation_of(run, key);
    assert_eq!(revocation["status"], status, "{run}");
    let text = revocation["detail"].as_str().unwrap_or_default();
    assert!(
        text.contains(detail),
        "detail {text:?} lacks {detail:?}; {run}"
    );
    revocation
}

#[track_caller]
fn finding(run: &Run, key: &str) -> Value {
    let fingerprint = fingerprint(key);
    run.stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}; {run}")))
        .find(|record| record["fingerprint"] == fingerprint.as_str())
        .unwrap_or_else(|| panic!("no finding for {}; {run}", describe_key(key)))
}

#[test]
fn a_live_user_key_is_revoked_once_across_two_runs_and_confirmed_dead() {
    let setup = Setup::new();
    // The key keeps working for two more requests after its deletion, as OpenAI's propagation
    // can: ferret must check again until it dies.
    setup.org.set_revocation_lag(2);
    let (key, id) = setup.leak_user_key("app/.env");

    let first = setup.revoke(&[]);
    first.expect_code(1).expect_key_hidden(&key);
    let revocation = revocation_of(&first, &key);
    assert_eq!(revocation["status"], "revoked", "{first}");
    assert_eq!(revocation["key_id"], id.as_str());
    assert_eq!(revocation["project"], setup.project.as_str());
    assert_eq!(setup.org.deleted_keys(), vec![id.clone()]);
    assert!(!setup.org.key_is_live(&key));
    let models_checks = setup
        .org
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/models" && r.key.as_deref() == Some(key.as_str()))
        .count();
    assert!(
        models_checks >= 4,
        "verification, two lagging successes and a refusal: {models_checks} checks"
    );

    let second = setup.revoke(&[]);
    second.expect_code(1);
    assert_eq!(finding(&second, &key)["verification"]["status"], "invalid");
    assert_eq!(
        revocation_of(&second, &key)["status"],
        "revoked",
        "{second}"
    );
    assert_eq!(
        setup.requests("DELETE", "/"),
        1,
        "one DELETE over both runs"
    );

    let fp = fingerprint(&key);
    assert_eq!(
        setup.query("SELECT fingerprint, status FROM keys"),
        vec![vec![fp.clone(), "revoked".to_string()]]
    );
    let steps = setup.query("SELECT action, key_id, result, request_id FROM steps");
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0][..3], ["delete_key", id.as_str(), "ok"]);
    assert!(steps[0][3].starts_with("req_"), "{steps:?}");
    let calls = setup.query("SELECT method, path, status, request_id FROM calls");
    assert!(
        calls.iter().all(|c| c[3].starts_with("req_")),
        "every admin call keeps its request id: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c[0] == "GET" && c[1].contains("owner_project_access=any"))
    );
    let ledger_bytes = std::fs::read(setup.ledger_path()).expect("ledger");
    assert!(
        !String::from_utf8_lossy(&ledger_bytes).contains(&key),
        "the ledger holds no key"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(setup.ledger_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn several_fitting_keys_are_left_for_a_human() {
    let setup = Setup::new();
    let (key, id) = setup.leak_user_key(".env");
    // Another key of the same project whose redacted form (head and last four) is the same.
    let twin = format!(
        "sk-proj-{}{}{}{}",
        random_b64url(74),
        marker(),
        random_b64url(70),
        &key[key.len() - 4..]
    );
    let twin_id = setup.org.add_user_key(&setup.project, &twin, 1_700_000_100);

    let run = setup.revoke(&[]);
    run.expect_code(1);
    let revocation = revocation_of(&run, &key);
    assert_eq!(revocation["status"], "ambiguous", "{run}");
    let detail = revocation["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&id) && detail.contains(&twin_id),
        "{detail}"
    );
    assert_eq!(setup.requests("DELETE", "/"), 0);
    assert!(setup.org.key_is_live(&key) && setup.org.key_is_live(&twin));
    assert!(run.stderr.contains("not revoked (ambiguous)"), "{run}");
}

#[test]
fn a_service_account_key_is_revoked_with_its_account_only_when_allowed() {
    let setup = Setup::new();
    let leaked = Shape::ServiceAccount74.key();
    let sibling = Shape::ServiceAccount74.key();
    let (account, ids) = setup.org.add_service_account(
        &setup.project,
        "deploy-bot",
        &[leaked.clone(), sibling.clone()],
    );
    setup.leak("deploy/.env", &leaked);

    let refused = setup.revoke(&[]);
    refused.expect_code(1);
    expect_revocation(&refused, &leaked, "skipped", "delete_service_accounts");
    assert_eq!(setup.requests("DELETE", "/"), 0);

    setup.config("delete_service_accounts = true\n");
    let allowed = setup.revoke(&[]);
    allowed.expect_code(1);
    let revoked = revocation_of(&allowed, &leaked);
    assert_eq!(revoked["status"], "revoked", "{allowed}");
    assert_eq!(revoked["key_id"], ids[0].as_str());
    assert_eq!(revoked["service_account"], account.as_str());
    assert_eq!(revoked["also_revoked"], serde_json::json!([ids[1]]));
    assert_eq!(setup.org.deleted_service_accounts(), vec![account]);
    assert!(
        setup.org.deleted_keys().is_empty(),
        "no key DELETE (it answers 400)"
    );
    assert!(!setup.org.key_is_live(&leaked) && !setup.org.key_is_live(&sibling));
}

#[test]
fn the_admin_key_ferret_uses_is_never_deleted() {
    let setup = Setup::new();
    let other_admin = Shape::Admin.key();
    let other_id = setup.org.add_admin_key(&other_admin, "old automation");
    setup.leak("ops/.env", &setup.admin_key);
    setup.leak("ops/.env", &other_admin);

    let run = setup.revoke(&[]);
    run.expect_code(1).expect_key_hidden(&setup.admin_key);
    expect_revocation(&run, &setup.admin_key, "skipped", "ferret is using");
    assert_eq!(
        revocation_of(&run, &other_admin)["status"],
        "revoked",
        "{run}"
    );
    assert_eq!(setup.org.deleted_admin_keys(), vec![other_id]);
}

#[test]
fn a_key_of_another_organization_is_not_ours() {
    let setup = Setup::new();
    let foreign = Shape::Project74.key();
    setup.org.add_foreign_key(&foreign);
    setup.leak("vendor/.env", &foreign);

    let run = setup.revoke(&[]);
    run.expect_code(1);
    expect_revocation(&run, &foreign, "not_ours", "owner");
    assert_eq!(setup.requests("DELETE", "/"), 0);
}

#[test]
fn rotation_delivers_the_new_key_to_github_before_the_old_one_dies() {
    let mut setup = Setup::new();
    setup.with_github("acme", "api");
    setup.config(
        "[rotation]\nenabled = true\n\n[[hooks]]\ntype = \"github-actions-secret\"\n\
         repository = \"acme/api\"\nsecret_name = \"OPENAI_API_KEY\"\n\n\
         [[hooks]]\ntype = \"github-issue\"\nrepository = \"acme/api\"\nlabels = [\"security\"]\n",
    );
    let (key, id) = setup.leak_user_key(".env");

    let run = setup.revoke(&[]);
    run.expect_code(1);
    let revocation = revocation_of(&run, &key);
    assert_eq!(revocation["status"], "revoked", "{run}");
    let minted = setup.org.created_key_values();
    assert_eq!(minted.len(), 1, "one replacement");
    let github = setup.github.as_ref().expect("GitHub mock");
    let (stored, stored_at) = github
        .secret("acme", "api", "OPENAI_API_KEY")
        .expect("the replacement was stored as an Actions secret");
    assert!(stored == minted[0], "GitHub holds the replacement key");
    assert!(setup.org.key_is_live(&stored), "the replacement works");
    assert!(!setup.org.key_is_live(&key), "the leak is dead");
    let deleted_at = setup
        .org
        .requests()
        .iter()
        .find(|r| r.method == "DELETE")
        .map(|r| r.at)
        .expect("the leaked key was deleted");
    assert!(stored_at < deleted_at, "delivered before the old key died");
    assert_eq!(setup.org.deleted_keys(), vec![id]);
    let replacement = &revocation["replacement"];
    let accounts = setup.org.service_accounts(&setup.project);
    assert_eq!(accounts.len(), 1);
    assert_eq!(replacement["service_account"], accounts[0].0.as_str());
    assert!(accounts[0].1.starts_with("ferret-replacement-"));
    let ledger = setup.query("SELECT event, ok FROM hook_runs ORDER BY id");
    assert_eq!(
        ledger,
        [["rotated", "1"], ["revoked", "1"]].map(|row| row.map(str::to_string).to_vec())
    );
    let issues = github.issues("acme", "api");
    assert_eq!(issues.len(), 1, "an issue on revocation");
    let issue = issues[0].to_string();
    assert!(
        !issue.contains(&key) && !issue.contains(&stored),
        "redacted"
    );
    assert!(
        issues[0]["title"]
            .as_str()
            .unwrap_or_default()
            .contains("(revoked)")
    );
    assert!(
        issue.contains(&format!("{}…", &key[..12])),
        "names the key redacted: {issue}"
    );
    assert_eq!(issues[0]["labels"][0]["name"], "security");
}

#[test]
fn an_undelivered_replacement_holds_the_revocation_when_configured_to() {
    let mut setup = Setup::new();
    setup.with_github("acme", "api").fail_next(
        "PUT",
        "/repos/acme/api/actions/secrets/",
        10,
        500,
        serde_json::json!({"message": "Server Error"}),
    );
    let hook = "[[hooks]]\ntype = \"github-actions-secret\"\nrepository = \"acme/api\"\n\
                secret_name = \"OPENAI_API_KEY\"\n";
    setup.config(&format!(
        "[rotation]\nenabled = true\non_delivery_failure = \"hold\"\n\n{hook}"
    ));
    let (key, _) = setup.leak_user_key(".env");

    let held = setup.revoke(&[]);
    held.expect_code(1);
    expect_revocation(
        &held,
        &key,
        "failed",
        "held: the replacement key was not delivered",
    );
    assert!(setup.org.key_is_live(&key), "held: the leak still works");
    assert!(setup.org.deleted_keys().is_empty());
    assert_eq!(
        setup.org.deleted_service_accounts().len(),
        1,
        "the undelivered replacement is deleted"
    );
    assert!(setup.org.service_accounts(&setup.project).is_empty());
    assert!(
        held.stderr
            .contains("hook github-actions-secret OPENAI_API_KEY failed"),
        "{held}"
    );

    // The default, security first: revoke anyway and say the delivery failed.
    setup.config(&format!("[rotation]\nenabled = true\n\n{hook}"));
    let revoked = setup.revoke(&[]);
    expect_revocation(&revoked, &key, "revoked", "not delivered");
    assert!(!setup.org.key_is_live(&key));
}

#[test]
fn a_run_killed_between_delete_and_ledger_write_is_completed_by_the_next() {
    let setup = Setup::new();
    let (key, id) = setup.leak_user_key(".env");
    let (other, other_id) = setup.leak_user_key("b/.env");
    // The DELETE takes effect at once; its answer comes only much later.
    setup.org.delay(
        "DELETE",
        "/v1/organization/projects/",
        Duration::from_secs(60),
    );
    let mut child = setup
        .command(&strs(&setup.revoke_args()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferret");
    let deadline = Instant::now() + Duration::from_secs(60);
    while setup.org.deleted_keys().is_empty() {
        assert!(Instant::now() < deadline, "ferret never deleted a key");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    let first_deleted = setup.org.deleted_keys();
    assert_eq!(first_deleted.len(), 1);
    let open = setup.query("SELECT action, key_id FROM steps WHERE result IS NULL");
    assert_eq!(
        open,
        vec![vec!["delete_key".to_string(), first_deleted[0].clone()]]
    );

    setup
        .org
        .delay("DELETE", "/v1/organization/projects/", Duration::ZERO);
    let rerun = setup.revoke(&[]);
    rerun.expect_code(1);
    let (killed_key, survivor) = if first_deleted[0] == id {
        (&key, &other)
    } else {
        (&other, &key)
    };
    assert_eq!(
        revocation_of(&rerun, killed_key)["status"],
        "already_revoked",
        "{rerun}"
    );
    assert_eq!(
        revocation_of(&rerun, survivor)["status"],
        "revoked",
        "{rerun}"
    );
    let mut deleted = setup.org.deleted_keys();
    deleted.sort();
    let mut expected = vec![id, other_id];
    expected.sort();
    assert_eq!(deleted, expected, "each key deleted exactly once");
    assert!(
        setup
            .query("SELECT id FROM steps WHERE result IS NULL")
            .is_empty(),
        "no step left open"
    );
    let statuses = setup.query("SELECT status FROM keys ORDER BY status");
    assert_eq!(
        statuses,
        vec![
            vec!["already_revoked".to_string()],
            vec!["revoked".to_string()]
        ]
    );
}

#[test]
fn a_dry_run_plans_and_touches_nothing() {
    let setup = Setup::new();
    let marker_file = setup.private.path().join("hook-ran");
    setup.config(&format!(
        "[[hooks]]\ntype = \"command\"\nargv = [\"touch\", \"{}\"]\n",
        marker_file.display()
    ));
    let (key, id) = setup.leak_user_key(".env");
    let ledger = setup.ledger_path();
    let config = setup.config_path();
    let run = setup.run(&[
        "dir",
        ".",
        "--verify",
        "--revoke",
        "--dry-run",
        "--format",
        "jsonl",
        "--ledger",
        ledger.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    run.expect_code(1);
    let revocation = revocation_of(&run, &key);
    assert_eq!(revocation["status"], "planned", "{run}");
    assert_eq!(
        revocation["detail"].as_str().unwrap_or_default(),
        format!("would delete key {id} of project {}", setup.project)
    );
    let changes = setup
        .org
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(changes, 0, "only GETs");
    assert!(setup.org.key_is_live(&key));
    assert!(!ledger.exists(), "no ledger written");
    assert!(!marker_file.exists(), "no hook ran");
}

#[test]
fn a_dry_run_without_network_says_per_key_what_it_could_not_find_out() {
    let mut setup = Setup::new();
    let (key, _) = setup.leak_user_key(".env");
    setup.env.push((
        "FERRET_OPENAI_API_BASE".to_string(),
        support::providers::closed_base(),
    ));
    let ledger = setup.ledger_path();
    let config = setup.config_path();
    let args = [
        "dir",
        ".",
        "--verify",
        "--revoke",
        "--dry-run",
        "--verify-retries",
        "0",
        "--ledger",
        ledger.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let run = setup.run(&[&args[..], &["--format", "jsonl"]].concat());
    run.expect_code(1);
    expect_revocation(
        &run,
        &key,
        "skipped",
        "dry run: could not find out whether the key is live (error: connection failed",
    );
    let text = setup.run(&args);
    assert!(
        text.stdout
            .contains("could not find out whether the key is live"),
        "{text}"
    );
    assert!(!ledger.exists(), "no ledger written");
    assert_eq!(
        setup.org.requests().len(),
        0,
        "nothing reached the organization"
    );
}

#[test]
fn a_failing_hook_is_reported_and_does_not_stop_other_keys() {
    let setup = Setup::new();
    let events = setup.private.path().join("events.jsonl");
    setup.config(&format!(
        "[[hooks]]\ntype = \"command\"\nargv = [\"sh\", \"-c\", \"echo cannot reach pager >&2; exit 3\"]\n\
         events = [\"verified_live\"]\n\n\
         [[hooks]]\ntype = \"command\"\nargv = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]\n",
        events.display(),
        events.display()
    ));
    let (first, _) = setup.leak_user_key("a/.env");
    let (second, _) = setup.leak_user_key("b/.env");

    let run = setup.revoke(&[]);
    run.expect_code(1);
    assert_eq!(revocation_of(&run, &first)["status"], "revoked", "{run}");
    assert_eq!(revocation_of(&run, &second)["status"], "revoked", "{run}");
    assert_eq!(
        run.stderr
            .matches("hook command sh failed on verified_live")
            .count(),
        2,
        "{run}"
    );
    assert!(run.stderr.contains("cannot reach pager"), "{run}");
    let failures = setup.query("SELECT event, ok FROM hook_runs WHERE ok = 0");
    assert_eq!(failures.len(), 2, "{failures:?}");

    let text = std::fs::read_to_string(&events).expect("the second hook ran");
    assert!(
        !text.contains(&first) && !text.contains(&second),
        "events are redacted"
    );
    let received: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("one JSON event per run"))
        .collect();
    for key in [&first, &second] {
        let kinds: Vec<&str> = received
            .iter()
            .filter(|e| e["fingerprint"] == fingerprint(key).as_str())
            .map(|e| e["event"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(kinds, ["found", "verified_live", "revoked"]);
    }
    let revoked = received.iter().find(|e| e["event"] == "revoked").unwrap();
    assert_eq!(revoked["revocation"]["status"], "revoked");
    assert_eq!(revoked["locations"][0]["line"], 1);
}

/// A loopback webhook receiver that records what it gets and answers with the given statuses
/// in turn (the last repeats).
fn webhook_receiver(statuses: Vec<u16>) -> Served {
    let answered = AtomicUsize::new(0);
    Served::start(|_| {
        move |_: &wiremock::Request| {
            let n = answered.fetch_add(1, Ordering::SeqCst);
            wiremock::ResponseTemplate::new(statuses[n.min(statuses.len() - 1)])
        }
    })
}

#[test]
fn webhooks_are_signed_over_the_raw_body_and_retried() {
    let receiver = webhook_receiver(vec![503, 200]);
    let mut setup = Setup::new();
    let secret = "shared webhook secret";
    setup
        .env
        .push(("FERRET_WEBHOOK_SECRET".to_string(), secret.to_string()));
    setup.config(&format!(
        "[[hooks]]\ntype = \"webhook\"\nurl = \"{}/ferret\"\nsecret_env = \"FERRET_WEBHOOK_SECRET\"\n\
         events = [\"revoked\"]\n",
        receiver.uri()
    ));
    let (key, id) = setup.leak_user_key(".env");

    let run = setup.revoke(&[]);
    run.expect_code(1);
    assert!(!run.stderr.contains("hook"), "the retry succeeded: {run}");
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one failure, one retry");
    for request in &received {
        let header = request
            .headers
            .get("x-ferret-signature")
            .and_then(|v| v.to_str().ok())
            .expect("signed");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&request.body);
        assert_eq!(
            header,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        let wrong = Hmac::<Sha256>::new_from_slice(b"another secret").unwrap();
        assert_ne!(
            header,
            format!("sha256={}", hex::encode(wrong.finalize().into_bytes()))
        );
        let body = String::from_utf8_lossy(&request.body);
        assert!(!body.contains(&key), "no full key in a webhook");
        let event: Value = serde_json::from_slice(&request.body).expect("JSON");
        assert_eq!(event["event"], "revoked");
        assert_eq!(event["revocation"]["key_id"], id.as_str());
        assert!(event.get("new_key").is_none());
    }
}

#[test]
fn ferret_revoke_reads_a_report_and_refuses_to_delete_unasked() {
    let setup = Setup::new();
    let (key, id) = setup.leak_user_key(".env");
    let report = setup.private.path().join("leaks.jsonl");
    setup
        .run(&["dir", ".", "--show-secrets", "-o", report.to_str().unwrap()])
        .expect_code(1);
    let ledger = setup.ledger_path();
    let config = setup.config_path();
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "revoke",
            "--input",
            report.to_str().unwrap(),
            "--format",
            "jsonl",
            "--ledger",
            ledger.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    let unasked = setup.run(&strs(&args(&[])));
    unasked.expect_code(2);
    assert!(unasked.stderr.contains("--yes"), "{unasked}");
    assert_eq!(
        setup.org.requests().len(),
        0,
        "nothing was asked before confirming"
    );

    let mut no_admin = setup.command(&strs(&args(&["--yes"])));
    no_admin.env_remove("OPENAI_ADMIN_KEY").stdin(Stdio::null());
    let no_admin = Run::from(no_admin.output().expect("run"));
    no_admin.expect_code(2);
    assert!(no_admin.stderr.contains("OPENAI_ADMIN_KEY"), "{no_admin}");

    let run = setup.run(&strs(&args(&["--yes"])));
    run.expect_code(1).expect_key_hidden(&key);
    assert_eq!(revocation_of(&run, &key)["status"], "revoked", "{run}");
    assert_eq!(setup.org.deleted_keys(), vec![id]);
}

#[test]
fn a_scanned_trees_config_cannot_add_hooks_or_revoke_settings() {
    let setup = Setup::new();
    let marker_file: &Path = &setup.private.path().join("pwned");
    setup.tree.write(
        ".ferret.toml",
        format!(
            "[revoke]\ndelete_service_accounts = true\n\n[[hooks]]\ntype = \"command\"\n\
             argv = [\"touch\", \"{}\"]\n",
            marker_file.display()
        ),
    );
    let (key, _) = setup.leak_user_key(".env");
    let run = setup.run(&["dir", ".", "--verify", "--format", "jsonl"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("[revoke], [[hooks]] ignored"),
        "warns about the ignored sections: {run}"
    );
    assert!(
        !marker_file.exists(),
        "a scanned tree's hook must never run"
    );
    assert_eq!(finding(&run, &key)["verification"]["status"], "live");
}

/// The leaks of the kill-point test and what revoking each deletes.
struct KillLeaks {
    /// A user-owned key: its key is deleted.
    user: (String, String),
    /// A service-account key: its service account is deleted.
    service: (String, String),
    /// An admin key other than ferret's: deleted, never rotated.
    admin: (String, String),
}

/// An organization with three leaks, rotation on, and a key that keeps working for one request
/// after its deletion. A command hook appends every event (the new key included) to
/// `events.jsonl`; it is itself a kill point: with `hook-stall` holding `N before` (or `N after`),
/// the N-th hook run waits a minute before (after) appending its event, and says so by creating
/// `hook-stalled`.
fn kill_scenario() -> (Setup, KillLeaks) {
    let setup = Setup::new();
    setup.org.set_revocation_lag(1);
    let dir = setup.private.path();
    let script = format!(
        "n=$(( $(cat '{events}' 2>/dev/null | grep -c .) + 1 )); \
         read at mode < '{stall}' 2>/dev/null; \
         hold() {{ [ \"$n\" = \"$at\" ] && [ \"$mode\" = $1 ] && touch '{reached}' && sleep 60; }}; \
         hold before; cat >> '{events}'; echo >> '{events}'; hold after; exit 0",
        events = dir.join("events.jsonl").display(),
        stall = dir.join("hook-stall").display(),
        reached = dir.join("hook-stalled").display(),
    );
    setup.config(&format!(
        "[rotation]\nenabled = true\n\n[[hooks]]\ntype = \"command\"\nargv = [\"sh\", \"-c\", {}]\n",
        toml_string(&script)
    ));
    let user = setup.leak_user_key("a/.env");
    let service_key = Shape::ServiceAccount74.key();
    let (account, _) = setup.org.add_service_account(
        &setup.project,
        "deploy-bot",
        std::slice::from_ref(&service_key),
    );
    setup.leak("b/.env", &service_key);
    let admin_key = Shape::Admin.key();
    let admin_id = setup.org.add_admin_key(&admin_key, "old automation");
    setup.leak("c/.env", &admin_key);
    let leaks = KillLeaks {
        user,
        service: (service_key, account),
        admin: (admin_key, admin_id),
    };
    (setup, leaks)
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// The events the command hook received, in order.
fn hook_events(setup: &Setup) -> Vec<Value> {
    let text =
        std::fs::read_to_string(setup.private.path().join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("one JSON event per hook run"))
        .collect()
}

/// After a run killed anywhere and a rerun to completion, the ledger and the organization
/// agree: each leak deleted exactly once and dead, every replacement created either delivered
/// and live (the last one delivered for its leak) or deleted, no step left open, every key's
/// outcome recorded and announced.
#[track_caller]
fn expect_exactly_once(setup: &Setup, leaks: &KillLeaks, rerun: &Run, context: &str) {
    let (user_key, user_id) = &leaks.user;
    let (service_key, account) = &leaks.service;
    let (admin_key, admin_id) = &leaks.admin;
    for key in [user_key, service_key, admin_key] {
        let status = &revocation_of(rerun, key)["status"];
        assert!(
            status == "revoked" || status == "already_revoked",
            "{context}: {} ended {status}; {rerun}",
            describe_key(key)
        );
        assert!(!setup.org.key_is_live(key), "{context}: a leak lives");
    }
    assert_eq!(
        &setup.org.deleted_keys(),
        std::slice::from_ref(user_id),
        "{context}"
    );
    assert_eq!(
        &setup.org.deleted_admin_keys(),
        std::slice::from_ref(admin_id),
        "{context}"
    );

    // Replacements: the last key delivered for each rotated leak works; every other is gone.
    let events = hook_events(setup);
    let mut delivered: Vec<(String, String)> = Vec::new();
    for event in events.iter().filter(|e| e["event"] == "rotated") {
        let fingerprint = event["fingerprint"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = event["new_key"].as_str().expect("rotated carries the key");
        delivered.retain(|(f, _)| *f != fingerprint);
        delivered.push((fingerprint, key.to_string()));
    }
    let rotated: Vec<String> = [user_key, service_key].map(|k| fingerprint(k)).to_vec();
    let mut fingerprints: Vec<String> = delivered.iter().map(|(f, _)| f.clone()).collect();
    fingerprints.sort();
    let mut expected = rotated.clone();
    expected.sort();
    assert_eq!(
        fingerprints, expected,
        "{context}: one delivery per rotated leak"
    );
    for minted in setup.org.created_key_values() {
        let kept = delivered.iter().any(|(_, k)| *k == minted);
        assert_eq!(
            setup.org.key_is_live(&minted),
            kept,
            "{context}: replacement {} is {} but {}",
            describe_key(&minted),
            if kept { "the one delivered" } else { "stale" },
            if kept { "dead" } else { "alive" },
        );
    }
    let live_replacements = setup
        .org
        .service_accounts(&setup.project)
        .into_iter()
        .filter(|(_, name)| name.starts_with("ferret-replacement-"))
        .count();
    assert_eq!(
        live_replacements, 2,
        "{context}: one replacement per rotated leak"
    );

    // Service accounts: the leak's deleted once, each deleted replacement once.
    let mut deleted_accounts = setup.org.deleted_service_accounts();
    assert_eq!(
        deleted_accounts.iter().filter(|a| *a == account).count(),
        1,
        "{context}"
    );
    deleted_accounts.sort();
    let before = deleted_accounts.len();
    deleted_accounts.dedup();
    assert_eq!(
        before,
        deleted_accounts.len(),
        "{context}: an account deleted twice"
    );

    // The ledger: nothing open, every deletion the organization saw recorded against its
    // target, every recorded success seen by the organization, every outcome final.
    assert!(
        setup
            .query("SELECT id FROM steps WHERE result IS NULL")
            .is_empty(),
        "{context}: a step left open"
    );
    let steps = setup.query(
        "SELECT action, COALESCE(key_id, ''), COALESCE(service_account, ''), result FROM steps",
    );
    let recorded = |action: &str, id: &str| {
        steps
            .iter()
            .any(|s| s[0] == action && (s[1] == id || s[2] == id) && s[3] != "failed")
    };
    for request in setup.org.requests() {
        if request.method != "DELETE" || request.status != 200 {
            continue;
        }
        let id = request.path.rsplit('/').next().unwrap_or_default();
        let action = if request.path.contains("/admin_api_keys/") {
            "delete_admin_key"
        } else if request.path.contains("/api_keys/") {
            "delete_key"
        } else if id == account {
            "delete_service_account"
        } else {
            "delete_replacement"
        };
        assert!(
            recorded(action, id),
            "{context}: {} {} not in the ledger: {steps:?}",
            request.method,
            request.path
        );
    }
    for step in steps.iter().filter(|s| s[3] == "ok") {
        let id = if step[0] == "delete_service_account" || step[0] == "delete_replacement" {
            &step[2]
        } else {
            &step[1]
        };
        if step[0].starts_with("delete") {
            assert!(
                setup.org.requests().iter().any(|r| r.method == "DELETE"
                    && r.status == 200
                    && r.path.ends_with(id.as_str())),
                "{context}: the ledger says {} {id} succeeded, the organization never saw it",
                step[0]
            );
        }
    }
    let mut statuses = setup.query("SELECT status FROM keys");
    statuses.sort();
    assert_eq!(statuses.len(), 3, "{context}: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| s[0] == "revoked" || s[0] == "already_revoked"),
        "{context}: {statuses:?}"
    );
    for key in [user_key, service_key, admin_key] {
        let fp = fingerprint(key);
        assert!(
            events
                .iter()
                .any(|e| e["fingerprint"] == fp.as_str() && e["event"] == "revoked"),
            "{context}: no `revoked` event for {}",
            describe_key(key)
        );
    }
}

/// Where the kill-point test kills a run.
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// At the N-th request to the organization, after (`true`) or before its effect.
    Request(usize, bool),
    /// In the N-th hook run, after (`true`) or before its effect (delivery).
    Hook(usize, bool),
}

#[test]
fn a_run_killed_at_any_request_or_hook_is_completed_exactly_once_by_the_next() {
    // The requests and hook runs of an uninterrupted run: every one of them is a kill point.
    let (setup, leaks) = kill_scenario();
    let clean = setup.revoke(&[]);
    clean.expect_code(1);
    expect_exactly_once(&setup, &leaks, &clean, "uninterrupted");
    let requests: Vec<(String, String)> = setup
        .org
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let hook_runs: Vec<String> = hook_events(&setup)
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect();
    drop(setup);

    // Killed after each request took effect (before its answer) and before each request that
    // changes something took effect; before and after each hook run's delivery.
    let mut points: Vec<KillPoint> = (1..=requests.len())
        .map(|k| KillPoint::Request(k, true))
        .collect();
    points.extend(
        requests
            .iter()
            .enumerate()
            .filter(|(_, (method, _))| method != "GET")
            .map(|(i, _)| KillPoint::Request(i + 1, false)),
    );
    // Hook runs before the first change are no other kill points than the requests around them.
    for (i, event) in hook_runs.iter().enumerate() {
        if event != "found" && event != "verified_live" {
            points.extend([KillPoint::Hook(i + 1, false), KillPoint::Hook(i + 1, true)]);
        }
    }
    // Two at a time: each has an organization and a ledger of its own.
    let (even, odd): (Vec<_>, Vec<_>) = points.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    std::thread::scope(|scope| {
        for half in [even, odd] {
            let (requests, hook_runs) = (&requests, &hook_runs);
            scope.spawn(move || {
                for (_, point) in half {
                    kill_and_rerun(*point, requests, hook_runs);
                }
            });
        }
    });
}

/// One iteration of the kill-point test: a fresh organization, a run killed at `point`, a rerun
/// to completion, and the checks of [`expect_exactly_once`].
fn kill_and_rerun(point: KillPoint, requests: &[(String, String)], hook_runs: &[String]) {
    let (setup, leaks) = kill_scenario();
    let (what, after) = match point {
        KillPoint::Request(k, after) => {
            setup.org.stall(k, after);
            (
                format!("request {k} ({} {})", requests[k - 1].0, requests[k - 1].1),
                after,
            )
        }
        KillPoint::Hook(k, after) => {
            let mode = if after { "after" } else { "before" };
            std::fs::write(
                setup.private.path().join("hook-stall"),
                format!("{k} {mode}\n"),
            )
            .unwrap();
            (format!("hook run {k} ({})", hook_runs[k - 1]), after)
        }
    };
    let context = format!(
        "killed at {what}, {} its effect",
        if after { "after" } else { "before" }
    );
    let hook_stalled = setup.private.path().join("hook-stalled");
    let mut child = Killable::spawn(&mut setup.command(&strs(&setup.revoke_args())));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !setup.org.stall_reached() && !hook_stalled.exists() && !child.exited() {
        assert!(Instant::now() < deadline, "{context}: never got there");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill();
    setup.org.end_stall();
    let _ = std::fs::remove_file(setup.private.path().join("hook-stall"));
    let rerun = setup.revoke(&[]);
    rerun.expect_code(1);
    expect_exactly_once(&setup, &leaks, &rerun, &context);
}

// ── Identity before destruction, one writer, untrusted state (issue 14) ──

/// `key` with its last four characters replaced by `tail`: a key whose redaction (`sk-proj-`
/// and the last four) collides with another's.
fn with_tail(key: &str, tail: &str) -> String {
    format!("{}{tail}", &key[..key.len() - tail.len()])
}

/// The last four characters of a key.
fn tail(key: &str) -> &str {
    &key[key.len() - 4..]
}

#[test]
fn another_organizations_key_is_not_ours_even_when_its_redaction_collides() {
    let setup = Setup::new();
    let production = Shape::Project74.key();
    let production_id = setup
        .org
        .add_user_key(&setup.project, &production, 1_700_000_000);
    let theirs = with_tail(&Shape::Project74.key(), tail(&production));
    setup
        .org
        .add_key_of_organization(&theirs, "someone-else", "proj_theirs");
    setup.leak(".env", &theirs);
    for run in [setup.revoke(&[]), setup.revoke(&[])] {
        let revocation = expect_revocation(&run, &theirs, "not_ours", "someone-else");
        assert!(revocation.get("key_id").is_none(), "{run}");
    }
    assert_eq!(setup.requests("DELETE", "/"), 0);
    assert!(setup.org.deleted_keys().is_empty());
    assert!(
        setup.org.key_is_live(&production),
        "{production_id} untouched"
    );
}

#[test]
fn commit_dates_never_choose_between_two_fitting_keys() {
    let setup = Setup::new();
    let older = Shape::Project74.key();
    let newer = with_tail(&Shape::Project74.key(), tail(&older));
    let older_id = setup
        .org
        .add_user_key(&setup.project, &older, 1_640_000_000);
    let newer_id = setup
        .org
        .add_user_key(&setup.project, &newer, 1_700_000_000);
    // The leak's commit was amended: author date kept from 2022, committer date 2024.
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(setup.tree.path())
            .env("GIT_AUTHOR_DATE", "2022-01-01T00:00:00+00:00")
            .env("GIT_COMMITTER_DATE", "2024-06-01T00:00:00+00:00")
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    setup.leak(".env", &newer);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "config"]);
    let mut args = setup.revoke_args();
    args[0] = "git".to_string();
    let run = setup.run(&strs(&args));
    let revocation = expect_revocation(&run, &newer, "ambiguous", "2 keys fit");
    let mut candidates: Vec<&str> = revocation["candidates"]
        .as_array()
        .expect("the candidates are listed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    candidates.sort();
    let mut expected = vec![older_id.as_str(), newer_id.as_str()];
    expected.sort();
    assert_eq!(candidates, expected, "{run}");
    assert_eq!(setup.requests("DELETE", "/"), 0);
    assert!(setup.org.key_is_live(&older) && setup.org.key_is_live(&newer));
}

#[test]
fn a_failed_confirmation_is_a_failed_match_and_the_next_run_looks_again() {
    let setup = Setup::new();
    // The leak is missing from the listings; an innocent key of its project fits its
    // redaction. The evidence points at the innocent key, which is deleted; the leak lives on.
    let innocent = Shape::Project74.key();
    let innocent_id = setup
        .org
        .add_user_key(&setup.project, &innocent, 1_700_000_000);
    let leak = with_tail(&Shape::Project74.key(), tail(&innocent));
    let leak_id = setup.org.add_user_key(&setup.project, &leak, 1_700_000_000);
    setup.org.hide_from_lists(&leak_id);
    setup.leak(".env", &leak);
    let first = setup.revoke(&[]);
    expect_revocation(&first, &leak, "failed", "that was not the leak");
    assert_eq!(setup.org.deleted_keys(), vec![innocent_id.clone()]);
    assert_eq!(
        setup.query("SELECT action, key_id, result FROM steps"),
        vec![vec![
            "delete_key".to_string(),
            innocent_id,
            "unconfirmed".to_string()
        ]]
    );

    // The rerun does not re-confirm that step: it lists the organization again, finds no key
    // that fits, and deletes nothing more.
    let lists_before = setup.requests(
        "GET",
        &format!("/v1/organization/projects/{}/api_keys", setup.project),
    );
    let second = setup.revoke(&[]);
    expect_revocation(&second, &leak, "not_ours", "fits");
    let lists_after = setup.requests(
        "GET",
        &format!("/v1/organization/projects/{}/api_keys", setup.project),
    );
    assert!(
        lists_after > lists_before,
        "the rerun planned from the organization"
    );
    assert_eq!(setup.org.deleted_keys().len(), 1);
    assert!(setup.org.key_is_live(&leak));
}

#[test]
fn rotation_delivers_only_to_a_repository_the_operator_named() {
    let setup = Setup::new();
    let (key, _) = setup.leak_user_key(".env");
    setup.config(
        "[rotation]\nenabled = true\n\n[[hooks]]\ntype = \"github-actions-secret\"\n\
         secret_name = \"OPENAI_API_KEY\"\n",
    );
    let run = setup.run(&strs(&setup.revoke_args()));
    run.expect_code(2);
    assert!(run.stderr.contains("repository"), "{run}");
    assert!(
        setup.org.requests().is_empty(),
        "nothing was asked or changed"
    );
    assert!(setup.org.key_is_live(&key));
}

#[test]
fn one_run_at_a_time_acts_on_a_ledger() {
    let setup = Setup::new();
    let (key, id) = setup.leak_user_key(".env");
    // Run A holds its DELETE's answer back for a while; the DELETE takes effect at once.
    setup.org.delay(
        "DELETE",
        "/v1/organization/projects/",
        Duration::from_millis(1500),
    );
    let mut first = Killable::spawn(&mut setup.command(&strs(&setup.revoke_args())));
    let deadline = Instant::now() + Duration::from_secs(30);
    while setup.org.deleted_keys().is_empty() {
        assert!(Instant::now() < deadline, "run A never deleted the key");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Run B stops at once: the ledger is A's.
    let refused = setup.revoke(&[]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("in use by another ferret run"),
        "{refused}"
    );
    // Run C waits for A, then finds the key dead and recorded.
    let waited = setup.revoke(&["--wait-for-ledger"]);
    assert!(first.exited(), "C waited for A to finish");
    waited.expect_code(1);
    assert!(waited.stderr.contains("waiting"), "{waited}");
    assert_eq!(
        revocation_of(&waited, &key)["status"],
        "revoked",
        "{waited}"
    );
    assert_eq!(setup.org.deleted_keys(), vec![id]);
    assert_eq!(setup.requests("DELETE", "/"), 1, "one delete in all");
    first.kill();
}

#[test]
fn sharded_sweeps_do_not_revoke_in_the_shards() {
    let setup = Setup::new();
    let run = setup.run(&[
        "github", "--org", "acme", "--shard", "1/2", "--verify", "--revoke", "--yes",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("ferret revoke --input"), "{run}");
    assert!(setup.org.requests().is_empty());
}

#[test]
fn a_forged_ledger_step_is_evidence_checked_never_an_order() {
    let setup = Setup::new();
    let innocent = Shape::Project74.key();
    let innocent_id = setup
        .org
        .add_user_key(&setup.project, &innocent, 1_700_000_000);
    let (live, live_id) = setup.leak_user_key("a/.env");
    // Never issued: verification says invalid.
    let never_issued = Shape::Project74.key();
    setup.leak("b/.env", &never_issued);
    // A first run (nothing to forge into yet) creates the ledger; then the rows are planted.
    let first = setup.revoke(&[]);
    assert_eq!(revocation_of(&first, &live)["status"], "revoked", "{first}");
    let (other, other_id) = setup.leak_user_key("c/.env");
    {
        let ledger = setup.ledger();
        for (key, target) in [(&never_issued, &innocent_id), (&other, &innocent_id)] {
            ledger
                .execute(
                    "INSERT INTO steps (fingerprint, action, project, key_id, started_at)
                     VALUES (?1, 'delete_key', ?2, ?3, 0)",
                    rusqlite::params![fingerprint(key), setup.project, target],
                )
                .expect("forged row");
        }
    }
    let run = setup.revoke(&[]);
    assert!(
        setup.org.key_is_live(&innocent),
        "the planted target lives; {run}"
    );
    assert!(!setup.org.deleted_keys().contains(&innocent_id));
    assert!(revocation_of(&run, &never_issued).is_null(), "{run}");
    // The live leak behind the second forged row is still revoked, on its own key.
    assert_eq!(
        revocation_of(&run, &other)["key_id"],
        other_id.as_str(),
        "{run}"
    );
    assert_eq!(revocation_of(&run, &other)["status"], "revoked", "{run}");
    let mut deleted = setup.org.deleted_keys();
    deleted.sort();
    let mut expected = vec![live_id, other_id];
    expected.sort();
    assert_eq!(deleted, expected);
    let abandoned = setup.query("SELECT detail FROM steps WHERE result = 'abandoned'");
    assert_eq!(abandoned.len(), 2, "{abandoned:?}");
    assert!(
        abandoned.iter().any(|d| d[0].contains("not live")),
        "{abandoned:?}"
    );
    assert!(
        abandoned.iter().any(|d| d[0].contains("points elsewhere")),
        "{abandoned:?}"
    );
}

#[test]
fn state_that_others_can_write_or_link_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::new();
    let (key, _) = setup.leak_user_key(".env");
    // A ledger that is a symbolic link to somewhere else.
    let elsewhere = setup.private.path().join("elsewhere");
    std::fs::write(&elsewhere, "precious").unwrap();
    std::fs::create_dir_all(setup.ledger_path().parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, setup.ledger_path()).unwrap();
    let linked = setup.run(&strs(&setup.revoke_args()));
    linked.expect_code(2);
    assert!(linked.stderr.contains("symbolic link"), "{linked}");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "precious");
    assert_eq!(setup.requests("DELETE", "/"), 0);

    // A verification cache in a directory anyone can write: not read, a warning, and the gate
    // decides on a fresh answer.
    let shared = setup.private.path().join("shared-cache");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = setup.run(&[
        "dir",
        ".",
        "--verify",
        "--fail-on",
        "live",
        "--verify-cache",
        shared.join("verify.sqlite").to_str().unwrap(),
    ]);
    run.expect_code(1);
    assert!(run.stderr.contains("writable by other users"), "{run}");
    assert_eq!(setup.requests("GET", "/v1/models"), 1);
    assert!(setup.org.key_is_live(&key));
}

#[test]
fn a_records_rule_is_checked_against_its_secret() {
    let mut setup = Setup::new();
    let (key, _) = setup.leak_user_key(".env");
    let report = setup.private.path().join("report.jsonl");
    let scan = setup.run(&["dir", ".", "--format", "jsonl", "--show-secrets"]);
    scan.expect_code(1);
    let forged = scan
        .stdout
        .replace("\"openai-project-key\"", "\"anthropic-api-key\"");
    assert!(forged.contains("anthropic-api-key"), "{scan}");
    std::fs::write(&report, forged).unwrap();
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let anthropic = support::Acceptor::start("127.0.0.1", move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    setup.env.push((
        "FERRET_ANTHROPIC_API_BASE".to_string(),
        format!("http://{}", anthropic.address()),
    ));
    for command in ["verify", "revoke"] {
        let mut args = vec![command, "--input", report.to_str().unwrap(), "--yes"];
        if command == "verify" {
            args.pop();
        }
        let run = setup.run(&args);
        run.expect_code(2);
        assert!(run.stderr.contains("anthropic-api-key"), "{run}");
        assert!(run.stderr.contains("does not match"), "{run}");
        run.expect_key_hidden(&key);
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the key never went to Anthropic"
    );
    assert!(setup.org.requests().is_empty());
}
