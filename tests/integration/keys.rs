//! `ferret keys list|audit|rotate` against a loopback OpenAI organization that keeps state
//! (tests/support/openai_org.rs, with its members) and a loopback Anthropic organization
//! (tests/support/key_admins.rs): every kind of key listed with its owner and what the ledger
//! knows, each `[policy]` rule firing (and a clean key not), SARIF fit for code scanning, and
//! scheduled rotation through the rotation path: a dry run that changes nothing, a rotation
//! that delivers before it deletes, a delivery failure that holds the old key, and runs killed
//! with kill -9 and rerun to exactly one replacement and one revocation.

use crate::support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tempfile::TempDir;

use support::key_admins::AnthropicOrg;
use support::openai_org::{FAST_CONFIRM, OpenAiOrg};
use support::providers::Kind;
use support::{Run, Shape, Tree};

const DAY: i64 = 86_400;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// An organization with ferret's admin key and one project, and a private directory for the
/// operator's config, the ledger and what the hooks receive.
struct Setup {
    org: OpenAiOrg,
    admin_key: String,
    project: String,
    private: TempDir,
    anthropic: Option<(AnthropicOrg, String)>,
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
            private: tempfile::tempdir().expect("temporary directory"),
            anthropic: None,
        };
        setup.config("");
        setup
    }

    /// The operator's config (`ops.toml`): [`FAST_CONFIRM`] plus `extra`.
    fn config(&self, extra: &str) {
        std::fs::write(self.config_path(), format!("{FAST_CONFIRM}{extra}")).expect("config");
    }

    fn config_path(&self) -> PathBuf {
        self.private.path().join("ops.toml")
    }

    fn ledger_path(&self) -> PathBuf {
        self.private.path().join("state/ledger.sqlite")
    }

    fn events_path(&self) -> PathBuf {
        self.private.path().join("events.jsonl")
    }

    /// A config whose command hook appends every `rotated` event (with the new key) to
    /// `events.jsonl` and exits with `status`.
    fn delivering_config(&self, status: u8) {
        let script = format!(
            "cat >> '{}'; echo >> '{}'; exit {status}",
            self.events_path().display(),
            self.events_path().display()
        );
        self.config(&format!(
            "[rotation]\nenabled = true\n\n[[hooks]]\ntype = \"command\"\nevents = [\"rotated\"]\n\
             argv = [\"sh\", \"-c\", {}]\n",
            serde_json::to_string(&script).expect("a string")
        ));
    }

    /// The events the hook received.
    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.events_path())
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("one JSON event a line"))
            .collect()
    }

    /// A key of the project owned by the organization's owner, created `age_days` ago.
    fn user_key(&self, age_days: i64) -> (String, String) {
        let key = Shape::Project74.key();
        let id = self
            .org
            .add_user_key(&self.project, &key, now() - age_days * DAY);
        (key, id)
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = support::isolated_ferret(self.private.path(), self.private.path());
        command
            .args(args)
            .env("FERRET_OPENAI_API_BASE", self.org.uri())
            .env("OPENAI_ADMIN_KEY", &self.admin_key);
        if let Some((anthropic, admin)) = &self.anthropic {
            command
                .env("FERRET_ANTHROPIC_API_BASE", anthropic.uri())
                .env("ANTHROPIC_ADMIN_KEY", admin);
        }
        command
    }

    /// `ferret keys ARGS --config ops.toml`; no key the organization holds may appear.
    fn keys(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = vec!["keys"];
        all.extend(args);
        all.extend(["--config", "ops.toml"]);
        let run = Run::from(
            self.command(&all)
                .stdin(Stdio::null())
                .output()
                .expect("run ferret"),
        );
        run.expect_no_panic();
        run.expect_key_hidden(&self.admin_key);
        for key in self.org.created_key_values() {
            run.expect_key_hidden(&key);
        }
        run
    }

    /// `ferret keys rotate ARGS --ledger … --format json`.
    fn rotate(&self, args: &[&str]) -> Run {
        let ledger = self.ledger_path();
        let mut all = vec!["rotate", "--format", "json", "--ledger"];
        all.push(ledger.to_str().expect("UTF-8 path"));
        all.extend(args);
        self.keys(&all)
    }

    /// `SELECT …` on the ledger, each row's columns as text.
    fn query(&self, sql: &str) -> Vec<Vec<String>> {
        support::query_sqlite(&self.ledger_path(), sql)
    }
}

/// The record of key `id` in a JSON array of records with an `id` or `key_id`.
fn by_id<'a>(records: &'a Value, id: &str) -> &'a Value {
    records
        .as_array()
        .expect("an array")
        .iter()
        .find(|r| r["id"] == id || r["key_id"] == id)
        .unwrap_or_else(|| panic!("no record of {id} in {records:#}"))
}

#[test]
fn list_shows_every_kind_of_key_with_owner_project_last_use_and_ledger_knowledge() {
    let mut setup = Setup::new();
    let anthropic_admin = Kind::AnthropicAdmin.key();
    let anthropic = AnthropicOrg::start(&anthropic_admin);
    let anthropic_key = Kind::Anthropic.key();
    let anthropic_id = anthropic.add_key(&anthropic_key, Some("wrkspc_research"));
    setup.anthropic = Some((anthropic, anthropic_admin));

    let (user_key, user_id) = setup.user_key(10);
    setup.org.set_last_used(&user_id, Some(now() - 2 * DAY));
    let service_key = Shape::ServiceAccount74.key();
    let (account, service_ids) = setup.org.add_service_account(
        &setup.project,
        "deploy-bot",
        std::slice::from_ref(&service_key),
    );
    // A key leaked, found, rotated and revoked by `ferret dir . --verify --revoke`.
    setup.delivering_config(0);
    let tree = Tree::new();
    let (leaked, leaked_id) = setup.user_key(30);
    tree.write(".env", format!("OPENAI_API_KEY={leaked}\n"));
    let config = setup.config_path();
    let ledger = setup.ledger_path();
    let revoked = Run::from(
        setup
            .command(&[
                "dir",
                tree.path().to_str().expect("UTF-8 path"),
                "--verify",
                "--revoke",
                "--yes",
                "--format",
                "jsonl",
                "--config",
                config.to_str().expect("UTF-8 path"),
                "--ledger",
                ledger.to_str().expect("UTF-8 path"),
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run ferret"),
    );
    revoked.expect_code(1);
    assert_eq!(
        setup.org.deleted_keys(),
        std::slice::from_ref(&leaked_id),
        "{revoked}"
    );

    // The scan's own report tells where the leak was: the ledger records no place.
    std::fs::write(setup.private.path().join("scan.jsonl"), &revoked.stdout).expect("report");
    let list = setup.keys(&["list", "--format", "json", "--report", "scan.jsonl"]);
    list.expect_code(0);
    for key in [&user_key, &service_key, &leaked, &anthropic_key] {
        list.expect_key_hidden(key);
    }
    let keys = list.json();
    let user = by_id(&keys, &user_id);
    assert_eq!(user["kind"], "user_key");
    assert_eq!(user["project"], setup.project.as_str());
    assert_eq!(user["project_name"], "Production");
    assert_eq!(user["owner"]["type"], "user");
    assert_eq!(user["owner"]["email"], "ada@example.com");
    assert_eq!(user["owner_in_organization"], true);
    assert_eq!(user["owner_in_project"], true);
    assert!(
        user["last_used_at"]
            .as_i64()
            .is_some_and(|t| t > now() - 3 * DAY)
    );
    assert!(user["redacted"].as_str().unwrap().contains("..."));

    let service = by_id(&keys, &service_ids[0]);
    assert_eq!(service["kind"], "service_account_key");
    assert_eq!(service["owner"]["type"], "service_account");
    assert_eq!(service["owner"]["id"], account.as_str());
    assert_eq!(service["owner"]["name"], "deploy-bot");

    let admin = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "admin_key")
        .expect("the admin key is listed");
    assert_eq!(admin["name"], "ferret");
    assert_eq!(admin["owner"]["name"], "Ada Admin");
    assert!(admin["project"].is_null());

    let claude = by_id(&keys, &anthropic_id);
    assert_eq!(claude["provider"], "anthropic");
    assert_eq!(claude["project"], "wrkspc_research");
    assert_eq!(claude["owner"]["id"], "user_01Mock");
    assert!(claude["created_at"].as_i64().is_some());

    // The ledger's knowledge: the leak is gone from the organization, revoked by ferret and
    // replaced; its replacement says whose it is.
    let gone = by_id(&keys, &leaked_id);
    assert_eq!(gone["listed"], false);
    assert_eq!(gone["ferret"][0]["event"], "leaked");
    assert_eq!(gone["ferret"][0]["status"], "revoked");
    assert_eq!(gone["ferret"][0]["rule"], "openai-project-key");
    assert_eq!(gone["ferret"][0]["places"], serde_json::json!([".env:1"]));
    let replacement_id = gone["ferret"][0]["other_key"]
        .as_str()
        .expect("the replacement is named")
        .to_string();
    let replacement = by_id(&keys, &replacement_id);
    assert_eq!(replacement["listed"], true);
    assert_eq!(replacement["ferret"][0]["event"], "replacement");
    assert_eq!(replacement["ferret"][0]["other_key"], leaked_id.as_str());
    assert!(
        user["ferret"].as_array().unwrap().is_empty(),
        "nothing known of a key ferret never met"
    );

    // The same in text, JSONL and HTML.
    let text = setup.keys(&["list"]);
    text.expect_code(0);
    for id in [&user_id, &service_ids[0], &anthropic_id, &leaked_id] {
        assert!(text.stdout.contains(id.as_str()), "{text}");
    }
    assert!(
        text.stdout.contains(&format!("replacement of {leaked_id}")),
        "{text}"
    );
    assert!(text.stdout.contains("never"), "a never used key; {text}");
    let lines = setup.keys(&["list", "--format", "jsonl"]);
    assert_eq!(
        lines.stdout.lines().count(),
        keys.as_array().unwrap().len(),
        "{lines}"
    );
    let html = setup.keys(&["list", "--format", "html"]);
    html.expect_code(0);
    assert!(html.stdout.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.stdout.contains(&user_id), "{html}");
    assert!(
        !html.stdout.contains("<script"),
        "a table page runs no script"
    );
    for key in [&user_key, &service_key, &leaked, &anthropic_key] {
        html.expect_key_hidden(key);
    }
}

/// An organization with one key for each policy rule, one clean key, and three admin keys.
struct PolicyKeys {
    old: String,
    unused: String,
    never_used: String,
    left_organization: String,
    left_project: String,
    clean: String,
}

const POLICY: &str = "\n[policy]\nmax_age = \"90d\"\nunused_for = \"30d\"\nadmin_keys_max = 2\n";

fn policy_setup() -> (Setup, PolicyKeys) {
    let setup = Setup::new();
    setup.config(POLICY);
    let used = |id: &str, days: i64| setup.org.set_last_used(id, Some(now() - days * DAY));
    let (_, old) = setup.user_key(200);
    used(&old, 1);
    let (_, unused) = setup.user_key(60);
    used(&unused, 45);
    let (_, never_used) = setup.user_key(40);
    let gone = setup.org.add_user("Grace Gone", "grace@example.com");
    setup.org.add_project_member(&setup.project, &gone);
    let left_organization = setup.org.add_key_of_user(
        &setup.project,
        &Shape::Project74.key(),
        now() - 5 * DAY,
        &gone,
    );
    used(&left_organization, 1);
    setup.org.remove_user(&gone);
    let moved = setup.org.add_user("Mo Moved", "mo@example.com");
    let left_project = setup.org.add_key_of_user(
        &setup.project,
        &Shape::Project74.key(),
        now() - 5 * DAY,
        &moved,
    );
    used(&left_project, 1);
    let (_, clean) = setup.user_key(10);
    used(&clean, 1);
    setup.org.add_admin_key(&Shape::Admin.key(), "ci");
    setup
        .org
        .add_admin_key(&Shape::Admin.key(), "old automation");
    let keys = PolicyKeys {
        old,
        unused,
        never_used,
        left_organization,
        left_project,
        clean,
    };
    (setup, keys)
}

/// The rule ids of the violations about key `id`.
fn rules_of(violations: &Value, id: &str) -> Vec<String> {
    let mut rules: Vec<String> = violations
        .as_array()
        .expect("an array")
        .iter()
        .filter(|v| v["key_id"] == id)
        .map(|v| v["rule"].as_str().expect("a rule").to_string())
        .collect();
    rules.sort();
    rules
}

#[test]
fn audit_fires_each_policy_rule_and_not_on_a_clean_key() {
    let (setup, keys) = policy_setup();
    let run = setup.keys(&["audit", "--format", "json"]);
    run.expect_code(1);
    let violations = run.json();
    assert_eq!(rules_of(&violations, &keys.old), ["ferret/keys/max-age"]);
    assert_eq!(rules_of(&violations, &keys.unused), ["ferret/keys/unused"]);
    assert_eq!(
        rules_of(&violations, &keys.never_used),
        ["ferret/keys/unused"]
    );
    assert_eq!(
        rules_of(&violations, &keys.left_organization),
        ["ferret/keys/owner-left-organization"]
    );
    assert_eq!(
        rules_of(&violations, &keys.left_project),
        ["ferret/keys/owner-left-project"]
    );
    assert!(rules_of(&violations, &keys.clean).is_empty(), "{run}");
    let admin: Vec<&Value> = violations
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["rule"] == "ferret/keys/admin-keys-max")
        .collect();
    assert_eq!(admin.len(), 1, "{run}");
    assert!(
        admin[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("3 admin keys")
    );
    assert_eq!(admin[0]["severity"], "high");
    let left = by_id(&violations, &keys.left_organization);
    assert_eq!(left["severity"], "high");
    assert!(
        left["owner"]
            .as_str()
            .unwrap()
            .contains("grace@example.com")
    );

    // The exit code follows --fail-on.
    setup.keys(&["audit", "--fail-on", "high"]).expect_code(1);
    setup
        .keys(&["audit", "--fail-on", "critical"])
        .expect_code(0);
    setup.keys(&["audit", "--fail-on", "never"]).expect_code(0);
    let text = setup.keys(&["audit"]);
    text.expect_code(1);
    assert!(text.stdout.contains("6 policy violations"), "{text}");

    // A policy the keys all keep: exit 0.
    setup.config("\n[policy]\nmax_age = \"365d\"\nowner_left = false\n");
    let clean = setup.keys(&["audit", "--format", "json"]);
    clean.expect_code(0);
    assert_eq!(clean.json(), serde_json::json!([]));
}

#[test]
fn audit_without_a_policy_says_so_instead_of_passing() {
    let (setup, _) = policy_setup();
    setup.config("");
    let run = setup.keys(&["audit"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no [policy] to audit against"), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
}

#[test]
fn audit_sarif_is_fit_for_code_scanning() {
    let (setup, keys) = policy_setup();
    let run = setup.keys(&["audit", "--format", "sarif"]);
    run.expect_code(1);
    let sarif = run.json();
    // Valid against the SARIF 2.1.0 schema (the fixture the report suite uses).
    let errors: Vec<String> = crate::reports::sarif_validator()
        .iter_errors(&sarif)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}; {run}");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "ferret");
    let rules = driver["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "ferret/keys/max-age",
            "ferret/keys/unused",
            "ferret/keys/admin-keys-max",
            "ferret/keys/owner-left-organization",
            "ferret/keys/owner-left-project",
        ]
    );
    for rule in rules {
        for field in ["shortDescription", "fullDescription", "help"] {
            let text = rule[field]["text"].as_str().unwrap_or_default();
            assert!(!text.is_empty() && text.len() <= 1024, "{field} of {rule}");
        }
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .expect("a security-severity string")
            .parse()
            .expect("a number");
        assert!(score > 0.0 && score <= 10.0);
        assert!(
            ["note", "warning", "error"]
                .contains(&rule["defaultConfiguration"]["level"].as_str().unwrap())
        );
    }
    let config_lines: Vec<String> = std::fs::read_to_string(setup.config_path())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let results = runs[0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 6);
    let mut hashes = std::collections::HashSet::new();
    for result in results {
        let rule = result["ruleId"].as_str().expect("ruleId");
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(ids[index], rule);
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let location = &result["locations"][0];
        let physical = &location["physicalLocation"];
        assert_eq!(physical["artifactLocation"]["uri"], "ops.toml");
        let line = physical["region"]["startLine"].as_u64().expect("startLine") as usize;
        assert!(line >= 1);
        // Each result points at the setting of its rule.
        let setting = match rule {
            "ferret/keys/max-age" => "max_age",
            "ferret/keys/unused" => "unused_for",
            "ferret/keys/admin-keys-max" => "admin_keys_max",
            _ => "[policy]",
        };
        assert!(
            config_lines[line - 1].starts_with(setting),
            "{rule} at {line}"
        );
        let logical = location["logicalLocations"][0]["fullyQualifiedName"]
            .as_str()
            .expect("a logical location");
        assert!(logical.starts_with("openai/"), "{logical}");
        let hash = result["partialFingerprints"]["primaryLocationLineHash"]
            .as_str()
            .expect("primaryLocationLineHash");
        let (hex, one) = hash.split_once(':').expect("hex:1");
        assert!(hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()) && one == "1");
        assert!(
            hashes.insert(hash.to_string()),
            "one alert per rule and key"
        );
    }
    let old = results
        .iter()
        .find(|r| r["properties"]["key_id"] == keys.old.as_str())
        .expect("the old key's result");
    assert_eq!(
        old["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        format!("openai/{}/{}", setup.project, keys.old).as_str()
    );
    // Stable: the same audit gives the same fingerprints.
    let again = setup.keys(&["audit", "--format", "sarif"]).json();
    let fingerprints = |log: &Value| -> Vec<String> {
        let mut all: Vec<String> = log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"]["primaryLocationLineHash"].to_string())
            .collect();
        all.sort();
        all
    };
    assert_eq!(fingerprints(&sarif), fingerprints(&again));
}

#[test]
fn rotate_dry_run_plans_and_changes_nothing() {
    let setup = Setup::new();
    setup.delivering_config(0);
    let (old_key, old) = setup.user_key(120);
    let (_, young) = setup.user_key(5);
    let run = setup.rotate(&["--older-than", "90d"]);
    run.expect_code(0);
    let rotations = run.json();
    assert_eq!(rotations.as_array().unwrap().len(), 1, "{run}");
    let planned = by_id(&rotations, &old);
    assert_eq!(planned["revocation"]["status"], "planned");
    assert!(
        planned["revocation"]["detail"]
            .as_str()
            .unwrap()
            .contains("would create a replacement service account"),
        "{run}"
    );
    assert!(!rotations.to_string().contains(&young));
    assert!(
        setup.org.requests().iter().all(|r| r.method == "GET"),
        "a dry run only reads"
    );
    assert!(setup.org.key_is_live(&old_key));
    assert!(setup.events().is_empty(), "no hook ran");
    assert!(!setup.ledger_path().exists(), "nothing written");
    let ledger = setup.ledger_path();
    let text = setup.keys(&[
        "rotate",
        "--older-than",
        "90d",
        "--ledger",
        ledger.to_str().unwrap(),
    ]);
    text.expect_code(0);
    assert!(text.stdout.starts_with("planned"), "{text}");
    assert!(
        text.stdout.contains(&old) && text.stdout.contains("120d old"),
        "{text}"
    );
    assert!(!setup.ledger_path().exists(), "nothing written");
}

#[test]
fn rotate_yes_delivers_a_replacement_then_revokes_the_old_key() {
    let setup = Setup::new();
    setup.delivering_config(0);
    let (old_key, old) = setup.user_key(120);
    let service_key = Shape::ServiceAccount74.key();
    let (account, service_ids) = setup.org.add_service_account(
        &setup.project,
        "deploy-bot",
        std::slice::from_ref(&service_key),
    );
    setup.org.set_created(&service_ids[0], now() - 100 * DAY);
    let (young_key, _) = setup.user_key(5);

    let run = setup.rotate(&["--older-than", "90d", "--yes"]);
    run.expect_code(0);
    let rotations = run.json();
    assert_eq!(rotations.as_array().unwrap().len(), 2, "{run}");
    for id in [&old, &service_ids[0]] {
        let rotation = by_id(&rotations, id);
        assert_eq!(rotation["revocation"]["status"], "revoked", "{run}");
        assert!(rotation["revocation"]["replacement"]["key_id"].is_string());
    }
    // The user's key deleted, the service account's key with its account; both dead.
    assert_eq!(setup.org.deleted_keys(), std::slice::from_ref(&old));
    assert_eq!(
        setup.org.deleted_service_accounts(),
        std::slice::from_ref(&account)
    );
    assert!(!setup.org.key_is_live(&old_key));
    assert!(!setup.org.key_is_live(&service_key));
    assert!(
        setup.org.key_is_live(&young_key),
        "a young key is left alone"
    );
    // Each replacement was delivered (the hook got the new key) and works.
    let events = setup.events();
    assert_eq!(events.len(), 2);
    let minted = setup.org.created_key_values();
    for event in &events {
        assert_eq!(event["event"], "rotated");
        assert_eq!(event["rule"], "scheduled-rotation");
        let new_key = event["new_key"].as_str().expect("the new key is delivered");
        assert!(minted.iter().any(|m| m == new_key));
        assert!(setup.org.key_is_live(new_key));
        let old_id = event["revocation"]["key_id"]
            .as_str()
            .expect("names the old key");
        assert!([&old, &service_ids[0]].contains(&&old_id.to_string()));
    }
    let accounts = setup.org.service_accounts(&setup.project);
    let mut names: Vec<&str> = accounts.iter().map(|(_, n)| n.as_str()).collect();
    names.sort();
    let mut expected = [
        format!("ferret-replacement-{old}"),
        format!("ferret-replacement-{}", service_ids[0]),
    ];
    expected.sort();
    assert_eq!(names, expected);
    // Delivery came before deletion.
    let requests = setup.org.requests();
    let created = requests.iter().position(|r| r.method == "POST").unwrap();
    let deleted = requests.iter().position(|r| r.method == "DELETE").unwrap();
    assert!(created < deleted);

    // Done: a rerun finds nothing old, and the list tells which key replaced which.
    let rerun = setup.rotate(&["--older-than", "90d", "--yes"]);
    rerun.expect_code(0);
    assert_eq!(rerun.json(), serde_json::json!([]));
    let list = setup.keys(&["list", "--format", "json"]).json();
    let gone = by_id(&list, &old);
    assert_eq!(gone["listed"], false);
    assert_eq!(gone["ferret"][0]["event"], "rotated");
    let new_id = gone["ferret"][0]["other_key"].as_str().unwrap();
    assert_eq!(by_id(&list, new_id)["ferret"][0]["event"], "replacement");
}

#[test]
fn rotate_named_keys_and_refuse_what_is_not_a_project_key() {
    let setup = Setup::new();
    setup.delivering_config(0);
    let (_, young) = setup.user_key(5);
    let run = setup.rotate(&[&young, "key_nosuchkey", "--yes"]);
    run.expect_code(1);
    let rotations = run.json();
    assert_eq!(by_id(&rotations, &young)["revocation"]["status"], "revoked");
    assert_eq!(
        by_id(&rotations, "key_nosuchkey")["revocation"]["status"],
        "not_ours"
    );
    assert_eq!(setup.org.deleted_keys(), [young]);
}

#[test]
fn a_replacement_that_cannot_be_delivered_holds_the_old_key() {
    let setup = Setup::new();
    setup.delivering_config(1);
    let (old_key, old) = setup.user_key(120);
    let run = setup.rotate(&["--older-than", "90d", "--yes"]);
    run.expect_code(1);
    let rotation = by_id(&run.json(), &old).clone();
    assert_eq!(rotation["revocation"]["status"], "failed", "{run}");
    assert!(
        rotation["revocation"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("held: the replacement key was not delivered"),
        "{run}"
    );
    assert!(
        setup.org.key_is_live(&old_key),
        "held: the old key still works"
    );
    assert!(setup.org.deleted_keys().is_empty());
    assert_eq!(setup.org.deleted_service_accounts().len(), 1);
    assert!(
        setup.org.service_accounts(&setup.project).is_empty(),
        "the undelivered replacement is deleted"
    );
}

/// Where a rotation run is killed: the request held back (its effect made) and what shows it
/// arrived.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// After the replacement service account is created, before its answer.
    Creation,
    /// After the old key is deleted, before its answer.
    Deletion,
}

#[test]
fn a_rotation_killed_with_kill_9_and_rerun_gives_one_replacement_and_one_revocation() {
    for point in [KillAt::Creation, KillAt::Deletion] {
        let setup = Setup::new();
        setup.delivering_config(0);
        let (old_key, old) = setup.user_key(120);
        let (method, route) = match point {
            KillAt::Creation => ("POST", "service_accounts"),
            KillAt::Deletion => ("DELETE", "api_keys"),
        };
        let prefix = format!("/v1/organization/projects/{}/{route}", setup.project);
        setup.org.delay(method, &prefix, Duration::from_secs(60));
        let ledger = setup.ledger_path();
        let config = setup.config_path();
        let mut child = setup
            .command(&[
                "keys",
                "rotate",
                "--older-than",
                "90d",
                "--yes",
                "--ledger",
                ledger.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ferret");
        let deadline = Instant::now() + Duration::from_secs(60);
        let arrived = || {
            setup
                .org
                .requests()
                .iter()
                .any(|r| r.method == method && r.path.starts_with(&prefix))
        };
        while !arrived() {
            assert!(Instant::now() < deadline, "{point:?}: never reached");
            assert!(
                child.try_wait().expect("wait").is_none(),
                "{point:?}: exited"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        let open = setup.query("SELECT action FROM steps WHERE result IS NULL");
        let expected = match point {
            KillAt::Creation => "create_replacement",
            KillAt::Deletion => "delete_key",
        };
        assert_eq!(open, [[expected.to_string()]], "{point:?}");

        setup.org.delay(method, &prefix, Duration::ZERO);
        let rerun = setup.rotate(&["--older-than", "90d", "--yes"]);
        rerun.expect_code(0);
        let rotation = by_id(&rerun.json(), &old).clone();
        let status = rotation["revocation"]["status"]
            .as_str()
            .unwrap()
            .to_string();
        let expected_status = match point {
            KillAt::Creation => "revoked",
            KillAt::Deletion => "already_revoked",
        };
        assert_eq!(status, expected_status, "{point:?}: {rerun}");

        // One revocation: the old key deleted exactly once, and dead.
        assert_eq!(
            setup.org.deleted_keys(),
            std::slice::from_ref(&old),
            "{point:?}"
        );
        assert!(!setup.org.key_is_live(&old_key));
        // One replacement: the project keeps one service account, the one whose key was last
        // delivered, which works; any other made is deleted.
        let accounts = setup.org.service_accounts(&setup.project);
        assert_eq!(accounts.len(), 1, "{point:?}: {accounts:?}");
        assert_eq!(accounts[0].1, format!("ferret-replacement-{old}"));
        let delivered: Vec<String> = setup
            .events()
            .iter()
            .map(|e| e["new_key"].as_str().unwrap().to_string())
            .collect();
        let last = delivered.last().expect("a replacement was delivered");
        assert!(setup.org.key_is_live(last), "{point:?}");
        for other in setup.org.created_key_values() {
            assert_eq!(setup.org.key_is_live(&other), other == *last, "{point:?}");
        }
        assert_eq!(
            rotation["revocation"]["replacement"]["service_account"],
            accounts[0].0.as_str()
        );
        assert!(
            setup
                .query("SELECT id FROM steps WHERE result IS NULL")
                .is_empty(),
            "{point:?}: no step left open"
        );
        // And a third run has nothing left to do.
        let third = setup.rotate(&["--older-than", "90d", "--yes"]);
        third.expect_code(0);
        assert_eq!(third.json(), serde_json::json!([]), "{point:?}");
        assert_eq!(setup.org.deleted_keys(), std::slice::from_ref(&old));
    }
}
