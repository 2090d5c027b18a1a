//! `ferret rules list | check [DIR]`, and extra rule directories (`--rules`) in scans.

use crate::support;

use support::{BUILTIN_RULE_IDS as BUILTIN_IDS, Tree};

/// A rule for a made-up `acme_` token: 32 hex digits.
const ACME_RULE: &str = r#"
[[rule]]
id = "acme-token"
name = "ACME API token"
severity = "high"
keywords = ["acme_"]
pattern = 'acme_[0-9a-f]{32}'
examples = ['ACME_TOKEN=«acme_{hex:32}»']
counterexamples = ['acme_{hex:16}']
"#;

#[test]
fn list_shows_every_builtin_rule() {
    let run = Tree::new().ferret(&["rules", "list"]);
    run.expect_code(0);
    let ids: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(ids, BUILTIN_IDS, "{run}");
    assert!(
        run.stdout.lines().next().unwrap().starts_with("ID"),
        "{run}"
    );
    let admin = run
        .stdout
        .lines()
        .find(|l| l.starts_with("openai-admin-key"))
        .unwrap();
    assert!(
        admin.contains("critical") && admin.contains("openai-admin"),
        "{run}"
    );
}

#[test]
fn list_includes_a_rule_directory() {
    let tree = Tree::new();
    tree.write("rules/acme.toml", ACME_RULE);
    let run = tree.ferret(&["rules", "list", "--rules", "rules"]);
    run.expect_code(0);
    let last = run.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("acme-token") && last.contains("high"),
        "{run}"
    );
    assert_eq!(
        run.stdout.lines().count(),
        1 + BUILTIN_IDS.len() + 1,
        "{run}"
    );
}

#[test]
fn check_passes_for_the_builtin_rules() {
    let run = Tree::new().ferret(&["rules", "check"]);
    run.expect_code(0);
    assert!(!run.stdout.contains("FAIL"), "{run}");
    let summary = run.stdout.lines().last().unwrap();
    assert!(
        summary.starts_with(&format!("{} rules, ", BUILTIN_IDS.len()))
            && summary.contains(", 0 failed"),
        "{run}"
    );
}

#[test]
fn check_of_a_directory_runs_its_examples_too() {
    let tree = Tree::new();
    tree.write("good/acme.toml", ACME_RULE);
    let run = tree.ferret(&["rules", "check", "good"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with(&format!("{} rules, ", BUILTIN_IDS.len() + 1)),
        "{run}"
    );

    // An example its own rule does not find, and a counterexample it does.
    tree.write(
        "bad/broken.toml",
        ACME_RULE
            .replace("acme-token", "acme-broken")
            .replace("«acme_{hex:32}»", "«acme_{hex:31}»")
            .replace("'acme_{hex:16}'", "'acme_{hex:32}'"),
    );
    let run = tree.ferret(&["rules", "check", "bad"]);
    run.expect_code(1);
    let failures: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failures.len(), 2, "{run}");
    assert!(
        failures.iter().all(|l| l.starts_with("FAIL acme-broken: ")),
        "{run}"
    );
    assert!(failures.iter().any(|l| l.contains("not found")), "{run}");
    assert!(
        failures.iter().any(|l| l.contains("counterexample")),
        "{run}"
    );
    assert!(
        run.stdout.lines().last().unwrap().contains(", 2 failed"),
        "{run}"
    );
}

#[test]
fn malformed_rule_files_are_errors_naming_the_problem() {
    let tree = Tree::new();
    let cases = [
        ("syntax", "[[rule]]\nid = \"x\"\nname = \n", "x.toml:3:"),
        (
            "regex",
            &ACME_RULE.replace("[0-9a-f]{32}", "[0-9a-f{32}"),
            "rule `acme-token`: pattern",
        ),
        (
            "duplicate",
            &ACME_RULE.replace("acme-token", "openai-project-key"),
            "`openai-project-key` is already defined",
        ),
        (
            "unknown-field",
            &format!("{ACME_RULE}colour = 'red'\n"),
            "x.toml:",
        ),
        // A misspelt verifier: never a rule whose keys are silently left unverified (16.11).
        (
            "misspelt-verifier",
            &format!("{ACME_RULE}verifier = 'opnai'\n"),
            "unknown verifier `opnai`",
        ),
    ];
    for (dir, text, expected) in cases {
        tree.write(&format!("{dir}/x.toml"), text);
        for args in [
            vec!["rules", "check", dir],
            vec!["rules", "list", "--rules", dir],
            vec!["dir", ".", "--rules", dir],
        ] {
            let run = tree.ferret(&args);
            run.expect_code(2);
            assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {run}");
            assert!(run.stderr.contains(expected), "{args:?}: {run}");
        }
    }
}

#[test]
fn a_rule_directory_adds_rules_to_scans_and_reports() {
    let tree = Tree::new();
    let rules = Tree::new();
    rules.write("acme.toml", ACME_RULE);
    let token = format!(
        "acme_{}",
        (0..32)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap())
            .collect::<String>()
    );
    tree.write("config.ini", format!("[acme]\ntoken = {token}\n"));
    let rules_dir = rules.path().to_str().unwrap();

    let run = tree.ferret(&["dir", ".", "--rules", rules_dir, "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(records.len(), 1, "{run}");
    assert_eq!(
        (
            records[0].rule.as_str(),
            records[0].severity.as_str(),
            records[0].line,
            records[0].column
        ),
        ("acme-token", "high", 2, 9),
        "{run}"
    );
    assert!(!run.stdout.contains(&token), "{run}");

    let run = tree.ferret(&["dir", ".", "--rules", rules_dir, "--format", "sarif"]);
    run.expect_code(1);
    let sarif = run.json();
    let rule_ids: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rule_ids.last(), Some(&"acme-token"), "{run}");
    let acme = BUILTIN_IDS.len();
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][acme]["properties"]["security-severity"],
        "8.0"
    );
    assert_eq!(sarif["runs"][0]["results"][0]["ruleIndex"], acme);

    // Without the directory, the token is nobody's business.
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(0);
}
