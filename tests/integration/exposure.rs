//! `--exposure` (and `--revoke`, which implies it): what a live leaked key did and cost while
//! it was exposed, computed by the loopback OpenAI organization from usage a test seeds per
//! key, model and day (tests/support/openai_usage.rs), read across pages, with the project's
//! cost as a labelled upper bound when the costs endpoint refuses the key filter; and an
//! OpenRouter key's own spend.

use crate::support;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tempfile::TempDir;

use support::key_admins::{AnthropicOrg, AnthropicUsage, OpenRouterAccount};
use support::openai_org::{FAST_CONFIRM, OpenAiOrg};
use support::openai_usage::Used;
use support::providers::Kind;
use support::{Run, Shape, Tree};

const DAY: i64 = 86_400;

fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    i64::try_from(since.as_secs()).expect("seconds")
}

/// `ferret dir . --verify ARGS` in `tree` with `env`, nothing else reachable.
fn ferret(tree: &Tree, private: &TempDir, env: &[(&str, String)], args: &[&str]) -> Run {
    let config = private.path().join("ops.toml");
    // A test's own additions (hooks) sit in `extra.toml` beside it.
    let extra = std::fs::read_to_string(private.path().join("extra.toml")).unwrap_or_default();
    std::fs::write(&config, format!("{FAST_CONFIRM}{extra}")).expect("config");
    let ledger = private.path().join("ledger.sqlite");
    let mut command = support::isolated_ferret(tree.path(), private.path());
    command
        .args(["dir", ".", "--verify", "--config"])
        .arg(&config)
        .arg("--ledger")
        .arg(&ledger)
        .args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let run = Run::from(command.output().expect("run ferret"));
    run.expect_no_panic();
    run
}

/// Sets a file's modification time (the window's start outside git).
fn touch(tree: &Tree, file: &str, at: i64) {
    let status = std::process::Command::new("touch")
        .arg("-d")
        .arg(format!("@{at}"))
        .arg(tree.join(file))
        .status()
        .expect("touch");
    assert!(status.success());
}

fn used(kind: &'static str, key: &str, project: &str, model: &'static str, at: i64) -> Used {
    Used {
        kind,
        key_id: key.to_string(),
        project_id: project.to_string(),
        model,
        at,
        requests: 0,
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        cost_usd: 0.0,
    }
}

#[test]
fn an_openai_keys_exposure_is_read_across_pages_with_the_period_before_and_its_cost() {
    let org = OpenAiOrg::start();
    let admin = Shape::Admin.key();
    org.add_admin_key(&admin, "ferret");
    let project = org.add_project("Production");
    let key = Shape::Project74.key();
    let id = org.add_user_key(&project, &key, 1_700_000_000);
    let other = org.add_user_key(&project, &Shape::Project74.key(), 1_700_000_000);
    org.add_key_created_event(&id, &project, &["api.model.read", "api.model.request"]);
    let tree = Tree::new();
    tree.write(".env", format!("OPENAI_API_KEY={key}\n"));
    let today = now() / DAY * DAY;
    // Public since the first minute of the day before yesterday.
    touch(&tree, ".env", today - 2 * DAY + 60);
    let seed = |mut u: Used, requests, input, output, cost| {
        u.requests = requests;
        u.input_tokens = input;
        u.output_tokens = output;
        u.cached_tokens = input / 100;
        u.cost_usd = cost;
        org.add_usage(u);
    };
    let (c, e) = ("completions", "embeddings");
    seed(
        used(c, &id, &project, "gpt-4o", today - 2 * DAY + 3600),
        100,
        400_000,
        100_000,
        5.0,
    );
    seed(
        used(c, &id, &project, "gpt-4o", today - DAY + 3600),
        200,
        800_000,
        200_000,
        10.0,
    );
    let small = "text-embedding-3-small";
    seed(
        used(e, &id, &project, small, today - DAY + 7200),
        30,
        50_000,
        0,
        0.5,
    );
    // Images count requests (and images), not tokens.
    seed(
        used("images", &id, &project, "dall-e-3", today - DAY + 9000),
        7,
        7,
        0,
        0.3,
    );
    // The period before: a trickle.
    seed(
        used(c, &id, &project, "gpt-4o", today - 4 * DAY + 3600),
        10,
        10_000,
        2_000,
        0.1,
    );
    // Another key of the project: not this key's usage, but the project's cost.
    seed(
        used(c, &other, &project, "gpt-4o", today - DAY + 3600),
        50,
        1,
        1,
        100.0,
    );
    org.set_usage_page_size(2);
    let private = TempDir::new().expect("private directory");
    let env = [
        ("FERRET_OPENAI_API_BASE", org.uri()),
        ("OPENAI_ADMIN_KEY", admin),
    ];

    // --exposure alone: the costs endpoint takes the key filter; nothing is revoked.
    org.set_costs_take_key_filter(true);
    let text = ferret(&tree, &private, &env, &["--exposure", "--format", "text"]);
    text.expect_code(1);
    assert!(text.stdout.contains("exposure     live "), "{text}");
    assert!(text.stdout.contains("M tokens (most on gpt-4o)"), "{text}");
    assert!(text.stdout.contains("about $15.80"), "{text}");
    assert!(!text.stdout.contains("revoked"), "{text}");
    assert!(org.key_is_live(&key) && org.deleted_keys().is_empty());

    // --revoke implies it; here the costs endpoint refuses the key filter.
    org.set_costs_take_key_filter(false);
    let run = ferret(
        &tree,
        &private,
        &env,
        &["--revoke", "--yes", "--format", "jsonl"],
    );
    let record = run.record_of(&key);
    assert_eq!(record["revocation"]["status"], "revoked", "{run}");
    let exposure = &record["exposure"];
    assert_eq!(exposure["provider"], "openai");
    assert_eq!(exposure["key_id"], id.as_str());
    assert_eq!(exposure["window"]["first_seen"], "file_mtime");
    assert_eq!(exposure["window"]["until"], "revocation");
    let totals = &exposure["totals"];
    assert_eq!(totals["requests"], 337, "{exposure}");
    assert_eq!(totals["input_tokens"], 1_250_000, "images are no tokens");
    assert_eq!(totals["output_tokens"], 300_000);
    assert_eq!(totals["cached_tokens"], 12_500);
    assert_eq!(totals["cost_upper_bound_usd"], 115.8);
    assert_eq!(exposure["before"]["input_tokens"], 10_000, "{exposure}");
    assert_eq!(exposure["before"]["requests"], 10);
    let days: Vec<(String, String)> = exposure["usage"]
        .as_array()
        .expect("usage rows")
        .iter()
        .map(|r| {
            (
                r["day"].as_str().unwrap_or_default().into(),
                r["model"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(days.len(), 4, "{days:?}");
    assert!(
        days.iter().any(|(_, model)| model == "dall-e-3"),
        "{days:?}"
    );
    assert_eq!(exposure["cost"]["scope"], "project");
    assert_eq!(exposure["cost"]["upper_bound"], true);
    assert_eq!(exposure["reach"]["project"], project.as_str());
    assert_eq!(exposure["reach"]["owner_type"], "user");
    assert_eq!(
        exposure["reach"]["scopes"],
        serde_json::json!(["api.model.read", "api.model.request"])
    );
    // Every usage page was read, each asked for this key only.
    let usage: Vec<_> = org
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/organization/usage/completions"))
        .collect();
    assert!(
        usage.iter().any(|r| r.query.contains("page=page_2")),
        "{usage:?}"
    );
    assert!(usage.iter().all(|r| r.query.contains(&id)));
}

#[test]
fn an_openrouter_keys_exposure_is_its_own_spend() {
    let management = Kind::OpenRouter.key();
    let account = OpenRouterAccount::start(&management);
    let key = Kind::OpenRouter.key();
    account.add_key(&key);
    let tree = Tree::new();
    tree.write(".env", format!("{}\n", Kind::OpenRouter.line(&key)));
    let private = TempDir::new().expect("private directory");
    let env = [
        ("FERRET_OPENROUTER_API_BASE", account.uri()),
        ("OPENROUTER_MANAGEMENT_KEY", management),
    ];
    // A command hook hears the revocation with the exposure in its event.
    let events = private.path().join("events.json");
    let hook = format!(
        "[[hooks]]\ntype = \"command\"\nargv = [\"sh\", \"-c\", \"cat > '{}'\"]\n\
         events = [\"revoked\"]\n",
        events.display()
    );
    std::fs::write(private.path().join("extra.toml"), hook).expect("hook config");
    let run = ferret(
        &tree,
        &private,
        &env,
        &["--revoke", "--yes", "--format", "jsonl"],
    );
    let record = run.record_of(&key);
    assert_eq!(record["revocation"]["status"], "revoked", "{run}");
    let cost: &Value = &record["exposure"]["cost"];
    assert_eq!(cost["scope"], "key_lifetime", "{run}");
    assert_eq!(cost["usd"], 12.5);
    assert_eq!(cost["upper_bound"], false);
    let event: Value =
        serde_json::from_slice(&std::fs::read(&events).expect("the hook ran")).expect("JSON");
    assert_eq!(event["exposure"]["cost"]["usd"], 12.5, "{event}");
}

#[test]
fn ferret_exposure_reads_a_report_and_revokes_nothing() {
    let org = OpenAiOrg::start();
    let admin = Shape::Admin.key();
    org.add_admin_key(&admin, "ferret");
    let project = org.add_project("Production");
    let key = Shape::Project74.key();
    let id = org.add_user_key(&project, &key, 1_700_000_000);
    let today = now() / DAY * DAY;
    let mut row = used(
        "completions",
        &id,
        &project,
        "gpt-4o-mini",
        today - DAY + 60,
    );
    row.requests = 7;
    row.input_tokens = 700;
    org.add_usage(row);
    org.set_costs_take_key_filter(true);
    let tree = Tree::new();
    tree.write(".env", format!("OPENAI_API_KEY={key}\n"));
    touch(&tree, ".env", today - DAY);
    let private = TempDir::new().expect("private directory");
    let report = private.path().join("report.jsonl");
    let scan = support::ferret_in(
        tree.path(),
        &[
            "dir",
            ".",
            "--show-secrets",
            "--format",
            "jsonl",
            "-o",
            report.to_str().expect("UTF-8"),
        ],
    );
    scan.expect_code(1);
    let mut command = support::isolated_ferret(tree.path(), private.path());
    command
        .args(["exposure", "--input"])
        .arg(&report)
        .args(["--format", "jsonl"])
        .env("OPENAI_ADMIN_KEY", &admin)
        .env("FERRET_OPENAI_API_BASE", org.uri());
    let run = Run::from(command.output().expect("run ferret"));
    run.expect_no_panic();
    let record = run.record_of(&key);
    assert_eq!(record["exposure"]["totals"]["requests"], 7, "{run}");
    assert_eq!(record["exposure"]["cost"]["scope"], "key");
    assert!(record["revocation"].is_null(), "{run}");
    assert!(org.key_is_live(&key) && org.deleted_keys().is_empty());
}

#[test]
fn an_anthropic_keys_exposure_is_its_usage_report_and_its_workspaces_cost() {
    let admin = Kind::AnthropicAdmin.key();
    let org = AnthropicOrg::start(&admin);
    let key = Kind::Anthropic.key();
    let id = org.add_key(&key, Some("wrkspc_01Prod"));
    let today = now() / DAY * DAY;
    let seed = |key_id: &str, workspace: &str, model, at, input, output, cents| {
        org.add_usage(AnthropicUsage {
            key_id: key_id.to_string(),
            workspace: Some(workspace.to_string()),
            model,
            at,
            uncached_input_tokens: input,
            cache_read_input_tokens: 10,
            output_tokens: output,
            cost_cents: cents,
        });
    };
    seed(
        &id,
        "wrkspc_01Prod",
        "claude-sonnet-4-5",
        today - 2 * DAY + 60,
        1_000,
        500,
        150.0,
    );
    seed(
        &id,
        "wrkspc_01Prod",
        "claude-sonnet-4-5",
        today - DAY + 60,
        2_000,
        700,
        250.0,
    );
    seed(
        &id,
        "wrkspc_01Prod",
        "claude-haiku-4-5",
        today - DAY + 120,
        300,
        30,
        5.0,
    );
    seed(
        "apikey_01Other",
        "wrkspc_01Prod",
        "claude-sonnet-4-5",
        today - DAY + 60,
        9,
        9,
        1000.0,
    );
    seed(
        "apikey_01Else",
        "wrkspc_01Else",
        "claude-sonnet-4-5",
        today - DAY + 60,
        9,
        9,
        7000.0,
    );
    let tree = Tree::new();
    tree.write(".env", format!("{}\n", Kind::Anthropic.line(&key)));
    touch(&tree, ".env", today - 2 * DAY + 30);
    let private = TempDir::new().expect("private directory");
    let env = [
        ("FERRET_ANTHROPIC_API_BASE", org.uri()),
        ("ANTHROPIC_ADMIN_KEY", admin),
    ];
    let run = ferret(
        &tree,
        &private,
        &env,
        &["--revoke", "--yes", "--format", "jsonl"],
    );
    let record = run.record_of(&key);
    assert_eq!(record["revocation"]["status"], "revoked", "{run}");
    let exposure = &record["exposure"];
    assert_eq!(exposure["provider"], "anthropic", "{run}");
    assert_eq!(exposure["totals"]["input_tokens"], 3_330, "{exposure}");
    assert_eq!(exposure["totals"]["output_tokens"], 1_230);
    assert_eq!(exposure["totals"]["cached_tokens"], 30);
    assert!(exposure["totals"]["requests"].is_null());
    assert_eq!(exposure["usage"].as_array().map(Vec::len), Some(3));
    assert_eq!(exposure["cost"]["scope"], "workspace");
    assert_eq!(exposure["cost"]["usd"], 14.05);
    assert_eq!(exposure["cost"]["upper_bound"], true);
    assert_eq!(exposure["reach"]["workspace"], "wrkspc_01Prod");
    // Every page of the usage report was read, for this key only.
    let pages: Vec<_> = org
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/organizations/usage_report/messages")
        .collect();
    assert!(pages.len() >= 3, "{pages:?}");
}
