//! `--revoke` for Anthropic keys (deactivated through the Admin API with `ANTHROPIC_ADMIN_KEY`)
//! and OpenRouter keys (deleted through the key management API with
//! `OPENROUTER_MANAGEMENT_KEY`), against loopback mocks that keep state
//! (tests/support/key_admins.rs): revoked exactly once across runs, a run killed between the
//! call and its record completed by the next, keys of other organizations and keys nothing
//! tells apart left alone, a dry run touching nothing.

use crate::support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use support::key_admins::{AnthropicOrg, OpenRouterAccount};
use support::openai_org::FAST_CONFIRM;
use support::providers::Kind;
use support::{Run, Tree};

/// A tree of leaks, a private directory (ledger, config, cache), and the variables that point
/// ferret at the mocks.
struct Setup {
    tree: Tree,
    private: TempDir,
    env: Vec<(String, String)>,
}

impl Setup {
    fn new(env: &[(&str, String)]) -> Self {
        let private = tempfile::tempdir().expect("temporary directory");
        std::fs::write(private.path().join("ops.toml"), FAST_CONFIRM).expect("config");
        Setup {
            tree: Tree::new(),
            private,
            env: env
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        }
    }

    fn leak(&self, file: &str, kind: Kind, key: &str) {
        let path = self.tree.join(file);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!("{}\n", kind.line(key)));
        self.tree.write(file, text);
    }

    fn ledger(&self) -> PathBuf {
        self.private.path().join("state/ledger.sqlite")
    }

    fn command(&self, extra: &[&str]) -> std::process::Command {
        let ledger = self.ledger();
        let config = self.private.path().join("ops.toml");
        let mut args = vec![
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
        ];
        args.extend_from_slice(extra);
        let mut command = support::isolated_ferret(self.tree.path(), self.private.path());
        command.args(&args).env(
            "FERRET_STATE_DIR",
            self.private.path().join("default-state"),
        );
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    fn revoke(&self, extra: &[&str]) -> Run {
        let run = Run::from(self.command(extra).output().expect("run ferret"));
        run.expect_no_panic();
        run
    }

    /// The ledger's finished steps: `(action, key_id, result)`.
    fn steps(&self) -> Vec<(String, String, Option<String>)> {
        let ledger = rusqlite::Connection::open(self.ledger()).expect("the ledger exists");
        let mut statement = ledger
            .prepare("SELECT action, key_id, result FROM steps ORDER BY id")
            .expect("valid SQL");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("query runs")
            .map(|row| row.expect("row reads"))
            .collect()
    }
}

fn revocation(run: &Run, key: &str) -> Value {
    run.record_of(key)["revocation"].clone()
}

fn anthropic() -> (AnthropicOrg, Setup) {
    let admin = Kind::AnthropicAdmin.key();
    let org = AnthropicOrg::start(&admin);
    let setup = Setup::new(&[
        ("FERRET_ANTHROPIC_API_BASE", org.uri()),
        ("ANTHROPIC_ADMIN_KEY", admin),
    ]);
    (org, setup)
}

fn openrouter() -> (OpenRouterAccount, Setup) {
    let management = Kind::OpenRouter.key();
    let account = OpenRouterAccount::start(&management);
    let setup = Setup::new(&[
        ("FERRET_OPENROUTER_API_BASE", account.uri()),
        ("OPENROUTER_MANAGEMENT_KEY", management),
    ]);
    (account, setup)
}

#[test]
fn an_anthropic_key_is_deactivated_once_across_two_runs() {
    let (org, setup) = anthropic();
    let key = Kind::Anthropic.key();
    let id = org.add_key(&key, Some("wrkspc_01Prod"));
    setup.leak(".env", Kind::Anthropic, &key);

    let first = setup.revoke(&[]);
    first.expect_code(1);
    first.expect_key_hidden(&key);
    let revoked = revocation(&first, &key);
    assert_eq!(revoked["status"], "revoked", "{first}");
    assert_eq!(revoked["key_id"], id.as_str());
    assert_eq!(revoked["project"], "wrkspc_01Prod");
    assert_eq!(org.deactivated(), std::slice::from_ref(&id));
    assert!(!org.key_is_active(&key));
    let posts: Vec<_> = org
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, format!("/v1/organizations/api_keys/{id}"));
    assert_eq!(
        posts[0].body,
        Some(serde_json::json!({"status": "inactive"}))
    );
    assert_eq!(
        setup.steps(),
        [(
            "deactivate_anthropic_key".to_string(),
            id.clone(),
            Some("ok".to_string())
        )]
    );

    let second = setup.revoke(&[]);
    second.expect_code(1);
    assert_eq!(revocation(&second, &key)["status"], "revoked", "{second}");
    assert_eq!(org.deactivated(), [id], "deactivated exactly once");
}

#[test]
fn anthropic_keys_of_another_organization_or_told_apart_by_nothing_are_left_alone() {
    let (org, setup) = anthropic();
    let foreign = Kind::Anthropic.key();
    org.add_foreign_key(&foreign);
    setup.leak("a/.env", Kind::Anthropic, &foreign);
    // Two keys of the organization with the same hint: the leak and its twin.
    let leaked = Kind::Anthropic.key();
    let twin = format!("{}{}", &leaked[..16], &Kind::Anthropic.key()[16..]);
    let twin = format!("{}{}", &twin[..twin.len() - 4], &leaked[leaked.len() - 4..]);
    org.add_key(&leaked, None);
    org.add_key(&twin, None);
    setup.leak("b/.env", Kind::Anthropic, &leaked);

    let run = setup.revoke(&[]);
    run.expect_code(1);
    let foreign_outcome = revocation(&run, &foreign);
    assert_eq!(foreign_outcome["status"], "not_ours", "{run}");
    let ambiguous = revocation(&run, &leaked);
    assert_eq!(ambiguous["status"], "ambiguous", "{run}");
    assert_eq!(ambiguous["candidates"].as_array().map(Vec::len), Some(2));
    assert!(org.deactivated().is_empty());
    assert!(org.key_is_active(&foreign) && org.key_is_active(&leaked));
}

#[test]
fn a_dry_run_plans_the_deactivation_and_deletion_and_touches_nothing() {
    let (org, setup) = anthropic();
    let key = Kind::Anthropic.key();
    let id = org.add_key(&key, None);
    setup.leak(".env", Kind::Anthropic, &key);
    let run = setup.revoke(&["--dry-run"]);
    let planned = revocation(&run, &key);
    assert_eq!(planned["status"], "planned", "{run}");
    let detail = planned["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("deactivate Anthropic key {id}")),
        "{detail}"
    );
    assert!(org.requests().iter().all(|r| r.method == "GET"));
    assert!(!setup.ledger().exists(), "a dry run writes no ledger");

    let (account, setup) = openrouter();
    let key = Kind::OpenRouter.key();
    let hash = account.add_key(&key);
    setup.leak(".env", Kind::OpenRouter, &key);
    let run = setup.revoke(&["--dry-run"]);
    let planned = revocation(&run, &key);
    assert_eq!(planned["status"], "planned", "{run}");
    assert_eq!(planned["key_id"], hash.as_str());
    assert!(account.requests().iter().all(|r| r.method == "GET"));
    assert!(account.key_is_live(&key));
}

#[test]
fn an_openrouter_key_is_deleted_once_and_another_accounts_key_is_left_alone() {
    let (account, setup) = openrouter();
    let key = Kind::OpenRouter.key();
    let hash = account.add_key(&key);
    let foreign = Kind::OpenRouter.key();
    account.add_foreign_key(&foreign);
    setup.leak("a/.env", Kind::OpenRouter, &key);
    setup.leak("b/.env", Kind::OpenRouter, &foreign);

    let first = setup.revoke(&[]);
    first.expect_code(1);
    first.expect_key_hidden(&key);
    let revoked = revocation(&first, &key);
    assert_eq!(revoked["status"], "revoked", "{first}");
    assert_eq!(revoked["key_id"], hash.as_str());
    assert_eq!(
        revocation(&first, &foreign)["status"],
        "not_ours",
        "{first}"
    );
    assert_eq!(account.deleted(), std::slice::from_ref(&hash));
    assert!(account.key_is_live(&foreign));
    let deletes: Vec<_> = account
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(deletes, [(format!("/api/v1/keys/{hash}"), 200)]);

    let second = setup.revoke(&[]);
    assert_eq!(revocation(&second, &key)["status"], "revoked", "{second}");
    assert_eq!(account.deleted(), [hash], "deleted exactly once");
}

#[test]
fn a_run_killed_between_deactivation_and_its_record_is_completed_by_the_next() {
    let (org, setup) = anthropic();
    let key = Kind::Anthropic.key();
    let id = org.add_key(&key, None);
    setup.leak(".env", Kind::Anthropic, &key);
    // The deactivation takes effect at once; its answer comes only much later.
    org.delay(
        "POST",
        "/v1/organizations/api_keys/",
        Duration::from_secs(60),
    );
    let mut child = setup
        .command(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferret");
    let deadline = Instant::now() + Duration::from_secs(60);
    while org.deactivated().is_empty() {
        assert!(
            Instant::now() < deadline,
            "ferret never deactivated the key"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    assert_eq!(
        setup.steps(),
        [("deactivate_anthropic_key".to_string(), id.clone(), None)],
        "the intent is recorded, its outcome is not"
    );

    org.delay("POST", "/v1/organizations/api_keys/", Duration::ZERO);
    let rerun = setup.revoke(&[]);
    assert_eq!(
        revocation(&rerun, &key)["status"],
        "already_revoked",
        "{rerun}"
    );
    assert_eq!(
        org.deactivated(),
        std::slice::from_ref(&id),
        "deactivated exactly once"
    );
    assert_eq!(
        setup.steps(),
        [(
            "deactivate_anthropic_key".to_string(),
            id,
            Some("not_found".to_string())
        )]
    );
}

#[test]
fn revoke_without_any_administration_key_says_which_it_needs() {
    let setup = Setup::new(&[]);
    setup.leak(".env", Kind::Anthropic, &Kind::Anthropic.key());
    let run = setup.revoke(&[]);
    run.expect_code(2);
    for variable in [
        "OPENAI_ADMIN_KEY",
        "ANTHROPIC_ADMIN_KEY",
        "OPENROUTER_MANAGEMENT_KEY",
    ] {
        assert!(run.stderr.contains(variable), "{run}");
    }
}
