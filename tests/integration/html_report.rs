//! The HTML report: `--format html` (and `-o FILE.html`) on scans and `ferret merge`, `ferret
//! report` over other tools' reports written by hand in their documented shapes (gitleaks JSON,
//! TruffleHog JSON lines, Kingfisher JSON, a third-party SARIF), and the page itself opened in
//! headless Chromium through chromedriver: no console error, no request, counts that match the
//! input, filters, sorting, row details, hostile values shown as text, the page without script,
//! and 20,000 findings.
//!
//! The browser tests need Debian's `chromium` and `chromium-driver` (.ci/run installs them).
//! Where they are missing the browser test says so and passes, unless
//! `FERRET_BROWSER_TESTS=required` (set by .ci/run once the install worked).

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::git::Repo;
use support::{Shape, Tree, fingerprint, project_key, random_alnum};

/// The findings a page embeds for its script.
fn page_data(html: &str) -> Value {
    let start = html
        .find("<script type=\"application/json\" id=\"data\">")
        .expect("the page embeds its data");
    let json = &html[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    serde_json::from_str(json).expect("the embedded data is JSON")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the report was written")
}

fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

/// The page's finding whose first location is at `path`.
fn finding_at<'a>(data: &'a Value, path: &str) -> &'a Value {
    data["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["l"].as_array().unwrap().iter().any(|l| l[1] == path))
        .unwrap_or_else(|| panic!("no finding at {path}"))
}

fn strs(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn a_scan_writes_one_offline_page_inferred_from_the_extension() {
    let tree = Tree::new();
    let (key, admin) = (project_key(), Shape::Admin.key());
    tree.write("app/.env", format!("OPENAI_API_KEY={key}\n"));
    tree.write("deploy/values.yaml", format!("value: {key}\n"));
    let hostile = "<img src=x onerror=alert(1)>.env";
    tree.write(hostile, format!("KEY={admin}\n"));
    tree.ferret(&["dir", ".", "-o", "report.html"])
        .expect_code(1);
    let html = read(&tree.join("report.html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    );
    assert!(
        !html.contains(&key) && !html.contains(&admin),
        "keys are redacted"
    );
    assert!(
        !html.contains("<img src=x"),
        "a file name is markup-escaped"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.env"));
    // Nothing to fetch: no src attribute, no stylesheet or import, no CSS url().
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(!style.contains("url(") && !style.contains("@import"));
    assert!(!html.contains(" src=\"") && !html.contains("rel=\"stylesheet\""));
    let data = page_data(&html);
    assert_eq!(data["findings"].as_array().unwrap().len(), 2);
    let shared = finding_at(&data, "app/.env");
    assert_eq!(shared["f"], fingerprint(&key));
    assert_eq!(shared["l"].as_array().unwrap().len(), 2);
    assert_eq!(finding_at(&data, hostile)["p"], "openai");
    assert!(html.contains("data-secrets=\"2\" data-places=\"3\""));

    // --format html to standard output; --show-secrets shows the keys.
    let run = tree.ferret(&["dir", "app", "--format", "html", "--show-secrets"]);
    run.expect_code(1);
    assert!(run.stdout.contains(&key) && run.stdout.ends_with("</html>\n"));
}

/// A repository where two keys were committed, and ferret's JSONL report of it.
struct Leaks {
    repo: Repo,
    commit: String,
    project: String,
    legacy: String,
}

fn leaks() -> Leaks {
    let mut repo = Repo::new();
    let (project, legacy) = (project_key(), Shape::Legacy.key());
    repo.write(
        "app/.env",
        format!("# settings\nOPENAI_API_KEY={project}\n"),
    );
    repo.write("config.py", format!("KEY = \"{legacy}\"\n"));
    let commit = repo.commit_all("add settings");
    Leaks {
        repo,
        commit,
        project,
        legacy,
    }
}

/// gitleaks' JSON report (report/finding.go: `RuleID`, `Secret`, `File`, `StartLine`, `Commit`,
/// `Author`, `Email`, `Date`, `Fingerprint` = commit:file:rule:line), with or without
/// `--redact`.
fn gitleaks_report(l: &Leaks, redact: bool) -> String {
    let finding = |rule: &str, secret: &str, file: &str, line: u64, column: u64| {
        let fields = [
            ("RuleID", json!(rule)),
            ("Description", json!("Found an OpenAI API Key")),
            ("StartLine", json!(line)),
            ("EndLine", json!(line)),
            ("StartColumn", json!(column)),
            ("EndColumn", json!(column + secret.len() as u64)),
            ("Match", json!(if redact { "REDACTED" } else { secret })),
            ("Secret", json!(if redact { "REDACTED" } else { secret })),
            ("File", json!(file)),
            ("SymlinkFile", json!("")),
            ("Commit", json!(l.commit)),
            ("Entropy", json!(4.85)),
            ("Author", json!("Ada Lovelace")),
            ("Email", json!("ada@example.com")),
            ("Date", json!("2024-01-01T00:01:00Z")),
            ("Message", json!("add settings")),
            ("Tags", json!([])),
            (
                "Fingerprint",
                json!(format!("{}:{file}:{rule}:{line}", l.commit)),
            ),
        ];
        Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    let report = json!([
        finding("openai-api-key", &l.project, "app/.env", 2, 16),
        finding("openai-api-key", &l.legacy, "config.py", 1, 8),
    ]);
    serde_json::to_string_pretty(&report).unwrap()
}

/// TruffleHog's JSON lines (pkg/output/json.go; SourceMetadata.Data.Git from
/// proto/source_metadata.proto): the legacy key, verified live.
fn trufflehog_report(l: &Leaks) -> String {
    let result = json!({
        "SourceMetadata": {"Data": {"Git": {
            "commit": l.commit, "file": "config.py", "email": "Ada Lovelace <ada@example.com>",
            "repository": "https://github.com/acme/settings.git",
            "timestamp": "2024-01-01 00:01:00 +0000 UTC", "line": 1}}},
        "SourceID": 1, "SourceType": 16, "SourceName": "trufflehog - git",
        "DetectorType": 1009, "DetectorName": "OpenAI",
        "DetectorDescription": "OpenAI API keys", "DecoderName": "PLAIN",
        "Verified": true, "VerificationFromCache": false,
        "Raw": l.legacy, "RawV2": "", "Redacted": "",
        "ExtraData": {"id": "user-1"}, "StructuredData": null
    });
    let log = json!({"level": "info-0", "msg": "finished scanning", "chunks": 4});
    format!("{result}\n{log}\n")
}

/// Kingfisher 2.x JSON (`{"findings": [{"rule", "finding"}], "metadata"}`): the project key
/// and an AWS key only Kingfisher looks for, the latter validated inactive.
fn kingfisher_report(l: &Leaks, aws: &str) -> String {
    let git = |path: &str, line: u64| {
        json!({
            "repository_url": "https://github.com/acme/settings.git",
            "commit": {"id": l.commit, "url": "https://github.com/acme/settings/commit/x",
                       "date": "2024-01-01",
                       "committer": {"name": "Ada Lovelace", "email": "ada@example.com"},
                       "author": {"name": "Ada Lovelace", "email": "ada@example.com"}},
            "file": {"path": path,
                     "url": format!("https://github.com/acme/settings/blob/{}/{path}#L{line}", l.commit),
                     "git_command": "git show"}
        })
    };
    let report = json!({
        "findings": [
            {"rule": {"title": "OPENAI API KEY", "name": "OpenAI API Key", "id": "kingfisher.openai.1",
                      "description": "OpenAI API key"},
             "finding": {"snippet": l.project, "fingerprint": "14085685380484734428",
                         "confidence": "high", "entropy": "5.71",
                         "validation": {"outcome": "not_attempted", "status": "Not Attempted", "response": ""},
                         "language": "Unknown", "line": 2, "column_start": 15, "column_end": 179,
                         "path": "./app/.env", "git_metadata": git("app/.env", 2)}},
            {"rule": {"title": "AWS", "name": "AWS Secret Access Key", "id": "kingfisher.aws.2",
                      "description": "AWS key"},
             "finding": {"snippet": aws, "fingerprint": "977",
                         "confidence": "medium", "entropy": "4.9",
                         "validation": {"outcome": "verified_inactive", "status": "Inactive Credential",
                                        "response": "InvalidClientTokenId"},
                         "language": "Python", "line": 9, "column_start": 4, "column_end": 44,
                         "path": "deploy/aws.py", "git_metadata": git("deploy/aws.py", 9)}}
        ],
        "metadata": {"kingfisher_version": "2.14.0", "summary": {"findings": 2}}
    });
    // Kingfisher prints a run summary after the report when it writes to standard output.
    format!(
        "{report}\n{}\n",
        json!({"findings": 2, "rules_applied": 488})
    )
}

/// A SARIF 2.1.0 log of another tool, without the secret: merged by its own fingerprint.
fn other_sarif() -> String {
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "OtherScanner", "rules": [
                {"id": "slack-webhook", "name": "Slack webhook",
                 "properties": {"security-severity": "7.5"}}]}},
            "versionControlProvenance": [{"repositoryUri": "https://github.com/acme/settings",
                                          "revisionId": "0123456789abcdef0123456789abcdef01234567"}],
            "results": [{"ruleId": "slack-webhook", "level": "error",
                         "message": {"text": "a Slack webhook"},
                         "locations": [{"physicalLocation": {
                             "artifactLocation": {"uri": "ops/notify%20me.sh"},
                             "region": {"startLine": 4, "startColumn": 1}}}],
                         "partialFingerprints": {"primaryLocationLineHash": "39fa2a1d:1"}}]
        }]
    })
    .to_string()
}

#[test]
fn report_joins_other_tools_findings_by_secret() {
    let l = leaks();
    let aws = format!("{}{}", random_alnum(20), random_alnum(20));
    let dir = l.repo.path();
    l.repo
        .ferret(&["git", ".", "-o", "ferret.jsonl"])
        .expect_code(1);
    std::fs::write(dir.join("gitleaks.json"), gitleaks_report(&l, false)).unwrap();
    std::fs::write(dir.join("redacted.json"), gitleaks_report(&l, true)).unwrap();
    std::fs::write(dir.join("trufflehog.jsonl"), trufflehog_report(&l)).unwrap();
    std::fs::write(dir.join("kingfisher.json"), kingfisher_report(&l, &aws)).unwrap();
    std::fs::write(dir.join("other.sarif"), other_sarif()).unwrap();
    let inputs = [
        "ferret.jsonl",
        "gitleaks.json",
        "redacted.json",
        "trufflehog.jsonl",
        "kingfisher.json",
        "other.sarif",
    ];
    let mut args = vec!["report", "-o", "all.html"];
    args.extend(inputs);
    l.repo.ferret(&args).expect_code(0);
    let html = read(&dir.join("all.html"));
    for secret in [&l.project, &l.legacy, &aws] {
        assert!(!html.contains(secret.as_str()), "secrets are redacted");
    }
    let data = page_data(&html);
    assert_eq!(data["findings"].as_array().unwrap().len(), 4, "{data:#}");
    let mut tools = strs(&data["tools"]);
    tools.sort();
    assert_eq!(
        tools,
        [
            "ferret",
            "gitleaks",
            "kingfisher",
            "otherscanner",
            "trufflehog"
        ]
    );

    // The legacy key: ferret's rule, TruffleHog's verdict, found by three tools at one place.
    let legacy = finding_at(&data, "config.py");
    assert_eq!(legacy["f"], fingerprint(&l.legacy));
    assert_eq!(legacy["r"], "openai-legacy-key");
    assert_eq!(legacy["st"], "live");
    assert_eq!(legacy["c"][0][0], "trufflehog");
    assert_eq!(strs(&legacy["t"]), ["ferret", "gitleaks", "trufflehog"]);
    assert_eq!(legacy["l"].as_array().unwrap().len(), 1);
    // Linked to the line on GitHub (in the data as 1: the script rebuilds the address).
    assert_eq!(legacy["l"][0][0], "acme/settings");
    assert_eq!(legacy["l"][0][7], 1);
    let link = format!(
        "https://github.com/acme/settings/blob/{}/config.py#L1",
        l.commit
    );
    assert!(html.contains(&format!(
        "<a href=\"{link}\">acme/settings: config.py:1</a>"
    )));

    // The project key: the redacted gitleaks report joins it by place.
    let project = finding_at(&data, "app/.env");
    assert_eq!(project["f"], fingerprint(&l.project));
    assert_eq!(strs(&project["t"]), ["ferret", "gitleaks", "kingfisher"]);
    assert_eq!(project["sv"], "critical");
    assert_eq!(project["l"].as_array().unwrap().len(), 1);
    assert!(project["s"].as_str().unwrap().contains('…'));

    let aws_finding = finding_at(&data, "deploy/aws.py");
    assert_eq!(aws_finding["f"], fingerprint(&aws));
    assert_eq!(
        (aws_finding["st"].as_str(), aws_finding["p"].as_str()),
        (Some("invalid"), Some("aws"))
    );
    assert_eq!(aws_finding["l"][0][0], "acme/settings");

    let slack = finding_at(&data, "ops/notify me.sh");
    assert_eq!(slack["f"], Value::Null);
    assert_eq!(
        (slack["sv"].as_str(), slack["p"].as_str()),
        (Some("high"), Some("slack"))
    );
    assert!(html.contains(
        "href=\"https://github.com/acme/settings/blob/0123456789abcdef0123456789abcdef01234567/ops/notify me.sh#L4\""
    ));

    // Each input is named with its tool; --show-secrets shows the keys the reports hold.
    assert!(html.contains("trufflehog.jsonl (trufflehog)"));
    let run = l
        .repo
        .ferret(&["report", "gitleaks.json", "--show-secrets"]);
    run.expect_code(0);
    assert!(run.stdout.contains(&l.project));
}

#[test]
fn every_input_shape_reads_alone_and_unknown_input_is_refused() {
    let l = leaks();
    let dir = l.repo.path();
    // Kingfisher 1.x: an array of {id, matches}; ferret's own SARIF and JSON array.
    let old = json!([{"id": "kingfisher.openai.1", "matches": [
        {"rule": {"name": "OpenAI API Key", "id": "kingfisher.openai.1"},
         "finding": {"snippet": l.legacy, "fingerprint": "1", "confidence": "high",
                     "validation": {"status": "Active Credential", "response": "200 OK"},
                     "line": 1, "column_start": 7, "path": "config.py", "git_metadata": null}}]}]);
    std::fs::write(dir.join("old.json"), old.to_string()).unwrap();
    l.repo
        .ferret(&["git", ".", "-o", "ferret.sarif"])
        .expect_code(1);
    l.repo
        .ferret(&["git", ".", "-o", "ferret.json"])
        .expect_code(1);
    for (input, tool, secrets) in [
        ("old.json", "kingfisher", 1),
        ("ferret.sarif", "ferret", 2),
        ("ferret.json", "ferret", 2),
    ] {
        let run = l.repo.ferret(&["report", input]);
        run.expect_code(0);
        let data = page_data(&run.stdout);
        assert_eq!(strs(&data["tools"]), [tool], "{input}");
        assert_eq!(
            data["findings"].as_array().unwrap().len(),
            secrets,
            "{input}"
        );
    }
    let old = page_data(&l.repo.ferret(&["report", "old.json"]).stdout);
    assert_eq!(old["findings"][0]["st"], "live");

    // The SARIF's commit data and ferret's fingerprint come through.
    let sarif = page_data(&l.repo.ferret(&["report", "ferret.sarif"]).stdout);
    let from_sarif = finding_at(&sarif, "config.py");
    assert_eq!(from_sarif["f"], fingerprint(&l.legacy));
    assert_eq!(from_sarif["l"][0][4], l.commit.as_str());

    std::fs::write(dir.join("other.json"), "{\"hello\": \"world\"}\n").unwrap();
    let run = l.repo.ferret(&["report", "ferret.json", "other.json"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("other.json: not a report ferret can read"),
        "{run}"
    );
    assert!(run.stderr.contains("line 1"), "{run}");
    l.repo.ferret(&["report", "missing.json"]).expect_code(2);
}

#[test]
fn merge_writes_html_from_shards() {
    let tree = Tree::new();
    let (a, b) = (project_key(), project_key());
    tree.write("one/a.env", format!("K={a}\n"));
    tree.write("two/b.env", format!("K={b}\n"));
    tree.ferret(&["dir", "one", "-o", "one.jsonl", "--show-secrets"])
        .expect_code(1);
    tree.ferret(&["dir", "two", "-o", "two.sarif"])
        .expect_code(1);
    tree.ferret(&["merge", "one.jsonl", "two.sarif", "-o", "merged.html"])
        .expect_code(0);
    let data = page_data(&read(&tree.join("merged.html")));
    assert_eq!(data["findings"].as_array().unwrap().len(), 2);
    let run = tree.ferret(&["merge", "one.jsonl", "--format", "html", "--show-secrets"]);
    run.expect_code(0);
    assert!(run.stdout.contains(&a));
}

// ---- The page in a browser ----------------------------------------------------------------

/// A finding of the browser page, as a ferret JSONL record written with --show-secrets.
struct Sample {
    rule: &'static str,
    status: &'static str,
    revocation: Option<&'static str>,
    repository: &'static str,
    path: String,
    date: &'static str,
    author: String,
    places: usize,
}

fn sample(
    rule: &'static str,
    status: &'static str,
    repository: &'static str,
    path: &str,
    date: &'static str,
) -> Sample {
    Sample {
        rule,
        status,
        revocation: None,
        repository,
        path: path.to_string(),
        date,
        author: "Ada Lovelace <ada@example.com>".to_string(),
        places: 1,
    }
}

const HOSTILE_PATH: &str =
    "<img src=x onerror=\"window.pwned=1\">/<script>window.pwned=2</script>.env";

/// Twelve secrets across statuses, providers, repositories and months; one found in three
/// places, one with an exposure block, one at a hostile path by a hostile author.
fn samples() -> Vec<Sample> {
    let mut samples = vec![
        sample(
            "openai-project-key",
            "live",
            "acme/api",
            "config/.env",
            "2024-05-02T10:00:00+00:00",
        ),
        sample(
            "openai-project-key",
            "live",
            "acme/api",
            "deploy/values.yaml",
            "2024-03-11T09:00:00+00:00",
        ),
        sample(
            "openai-admin-key",
            "live",
            "acme/web",
            "ops/admin.sh",
            "2023-11-20T08:00:00+00:00",
        ),
        sample(
            "anthropic-api-key",
            "restricted",
            "acme/web",
            "src/claude.ts",
            "2024-01-15T12:00:00+00:00",
        ),
        sample(
            "groq-api-key",
            "quota_exceeded",
            "acme/ml",
            "nb/train.ipynb",
            "2024-02-01T12:00:00+00:00",
        ),
        sample(
            "openai-legacy-key",
            "invalid",
            "acme/api",
            "old/settings.py",
            "2023-06-30T12:00:00+00:00",
        ),
        sample(
            "openai-legacy-key",
            "invalid",
            "acme/ml",
            "old/keys.txt",
            "2023-07-04T12:00:00+00:00",
        ),
        sample(
            "openai-service-account-key",
            "unverified",
            "acme/api",
            "ci/pipeline.yml",
            "2024-04-01T12:00:00+00:00",
        ),
        sample(
            "anthropic-api-key",
            "unverified",
            "acme/web",
            "README.md",
            "2024-04-09T12:00:00+00:00",
        ),
        sample(
            "openai-project-key",
            "unverified",
            "acme/ml",
            "tests/fixture.json",
            "2024-06-01T12:00:00+00:00",
        ),
        sample(
            "groq-api-key",
            "error",
            "acme/ml",
            "docs/setup.md",
            "2024-06-12T12:00:00+00:00",
        ),
        sample(
            "openai-project-key",
            "unverified",
            "acme/web",
            HOSTILE_PATH,
            "2024-06-20T12:00:00+00:00",
        ),
    ];
    samples[0].revocation = Some("revoked");
    samples[2].revocation = Some("failed");
    samples[1].places = 3;
    samples[11].author = "Mallory <script>window.pwned=3</script>".to_string();
    samples
}

/// A key for a rule, made now.
fn key_for(rule: &str) -> String {
    match rule {
        "openai-admin-key" => Shape::Admin.key(),
        "openai-legacy-key" => Shape::Legacy.key(),
        "openai-service-account-key" => Shape::ServiceAccount74.key(),
        "anthropic-api-key" => format!("sk-ant-api03-{}-{}AA", random_alnum(60), random_alnum(30)),
        "groq-api-key" => format!("gsk_{}", random_alnum(52)),
        _ => project_key(),
    }
}

fn sample_records(samples: &[Sample]) -> Vec<Value> {
    let mut records = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let key = key_for(s.rule);
        for place in 0..s.places {
            let commit = fingerprint(&format!("commit {i} {place}"))[..40].to_string();
            let path = if place == 0 {
                s.path.clone()
            } else {
                format!("mirror{place}/{}", s.path)
            };
            let mut record = json!({
                "repository": s.repository, "rule": s.rule, "rule_name": s.rule,
                "severity": if s.rule.starts_with("groq") { "high" } else { "critical" },
                "fingerprint": fingerprint(&key), "secret": key, "path": path,
                "line": 3 + place, "column": 9, "commit": commit, "author": s.author,
                "date": s.date,
                "url": format!("https://github.com/{}/blob/{commit}/{path}#L3", s.repository),
                "verification": {"status": s.status, "organization": "org-acme"}
            });
            if let Some(revocation) = s.revocation {
                record["revocation"] = json!({"status": revocation, "key_id": "key_abc"});
            }
            if i == 0 {
                record["exposure"] = json!({"requests": 1200, "cost_usd": 310.5,
                    "window": {"from": "2024-05-02", "to": "2024-05-05"}});
            }
            records.push(record);
        }
    }
    records
}

/// `n` findings of one location each, as a sweep of many repositories would give.
fn many_records(n: usize) -> Vec<Value> {
    let statuses = ["live", "invalid", "unverified", "unverified", "restricted"];
    (0..n)
        .map(|i| {
            let key = project_key();
            let repository = format!("acme/service-{}", i % 40);
            let commit = format!("{:040x}", 0xabc000 + i);
            let path = format!("services/part{}/config/settings-{i}.env", i % 17);
            let line = 2 + i % 50;
            json!({
                "repository": repository, "rule": "openai-project-key",
                "rule_name": "OpenAI project API key", "severity": "critical",
                "fingerprint": fingerprint(&key),
                "secret": format!("{}…{}", &key[..12], &key[key.len() - 4..]),
                "path": path, "line": line, "column": 16, "commit": commit,
                "author": format!("Developer {} <dev{}@example.com>", i % 97, i % 97),
                "date": format!("20{:02}-{:02}-{:02}T10:00:00+00:00", 18 + i % 7, 1 + i % 12, 1 + i % 28),
                "refs": ["refs/heads/main"],
                "url": format!("https://github.com/{repository}/blob/{commit}/{path}#L{line}"),
                "verification": {"status": statuses[i % statuses.len()]}
            })
        })
        .collect()
}

#[test]
fn the_page_works_in_a_real_browser() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let tree = Tree::new();
    let samples = samples();
    let records = sample_records(&samples);
    tree.write("sweep.jsonl", jsonl(&records));
    let legacy = Shape::Legacy.key();
    // A gitleaks report that also saw the invalid legacy key, to show the "Found by" column.
    let gitleaks = json!([{"RuleID": "openai-api-key", "Description": "OpenAI", "StartLine": 3,
        "StartColumn": 9, "Secret": legacy, "File": "extra/gitleaks-only.py", "Commit": "",
        "Author": "", "Email": "", "Date": "", "Fingerprint": "x"}]);
    tree.write("gitleaks.json", gitleaks.to_string());
    tree.ferret(&[
        "report",
        "sweep.jsonl",
        "gitleaks.json",
        "-o",
        "report.html",
        "--title",
        "Weekly sweep",
    ])
    .expect_code(0);
    tree.write("many.jsonl", jsonl(&many_records(20_000)));
    let started = Instant::now();
    tree.ferret(&["report", "many.jsonl", "-o", "many.html"])
        .expect_code(0);
    let written_in = started.elapsed();
    let size = std::fs::metadata(tree.join("many.html")).unwrap().len();
    println!(
        "html_report: 20,000 findings: {size} bytes ({} per finding), written in {written_in:.1?}",
        size / 20_000
    );

    let expected = Expected::of(&samples);
    browser.run(|client| async move {
        let page = Page::open(&client, &tree.join("report.html")).await;
        page.check_counts(&expected).await;
        page.check_filters_and_sorting(&samples).await;
        page.check_hostile_values_are_text().await;
        page.check_details().await;
        page.screenshot("report.png").await;
        page.check_quiet().await;
        page.check_without_script(samples.len() + 1).await;
        let many = Page::open(&client, &tree.join("many.html")).await;
        many.check_large().await;
        many.check_quiet().await;
    });
}

/// What the summary must say about [`samples`] plus the gitleaks-only key.
struct Expected {
    counts: BTreeMap<String, usize>,
}

impl Expected {
    fn of(samples: &[Sample]) -> Self {
        let mut counts = BTreeMap::new();
        let mut add = |key: String| *counts.entry(key).or_insert(0) += 1;
        for s in samples {
            add(format!("status:{}", s.status));
            if let Some(r) = s.revocation {
                add(format!("status:{r}"));
            }
            let provider = s.rule.split('-').next().unwrap();
            add(format!("provider:{provider}"));
            add("tool:ferret".to_string());
        }
        add("status:unverified".to_string());
        add("provider:openai".to_string());
        add("tool:gitleaks".to_string());
        counts.insert("status:ambiguous".to_string(), 0);
        counts.insert("exposure:keys".to_string(), 1);
        counts.insert("exposure:requests".to_string(), 1200);
        Expected { counts }
    }
}

/// An open page and the client showing it.
struct Page<'c> {
    client: &'c fantoccini::Client,
}

impl<'c> Page<'c> {
    async fn open(client: &'c fantoccini::Client, path: &Path) -> Page<'c> {
        let url = format!("file://{}", path.display());
        client.goto(&url).await.expect("the page opens");
        let page = Page { client };
        page.until(
            "the script has rendered the table",
            "return document.documentElement.getAttribute('data-ready') === '1'",
            Value::Bool(true),
        )
        .await;
        page
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {script}: {e}"))
    }

    /// Polls a script until it returns `want` (bounded: the page reacts in milliseconds).
    async fn until(&self, what: &str, script: &str, want: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.js(script).await;
            if got == want {
                return got;
            }
            assert!(Instant::now() < deadline, "{what}: got {got}, want {want}");
            tokio::task::yield_now().await;
        }
    }

    async fn rows(&self) -> Value {
        self.js("return document.querySelectorAll('#rows > tr:not(.detail)').length")
            .await
    }

    async fn until_rows(&self, what: &str, n: usize) {
        self.until(
            what,
            "return document.querySelectorAll('#rows > tr:not(.detail)').length",
            json!(n),
        )
        .await;
    }

    async fn cells(&self, column: &str) -> Vec<String> {
        let script = format!(
            "return Array.from(document.querySelectorAll('#rows > tr:not(.detail) td.{column}')).map(c => c.textContent)"
        );
        serde_json::from_value(self.js(&script).await).unwrap()
    }

    async fn check_counts(&self, expected: &Expected) {
        let counts: BTreeMap<String, f64> = serde_json::from_value(
            self.js(
                "const c = {}; document.querySelectorAll('[data-count]').forEach(li => \
                 c[li.getAttribute('data-count')] = Number(li.querySelector('b').textContent)); return c",
            )
            .await,
        )
        .unwrap();
        for (key, n) in &expected.counts {
            assert_eq!(
                counts.get(key),
                Some(&(*n as f64)),
                "count {key} in {counts:?}"
            );
        }
        let total = self
            .js("return document.getElementById('total').getAttribute('data-secrets')")
            .await;
        assert_eq!(total, "13");
        assert_eq!(self.rows().await, 13);
        let repositories = self
            .js("return document.querySelectorAll('#repositories tbody tr').length")
            .await;
        assert_eq!(repositories, 3);
        let bars = self
            .js("return document.querySelectorAll('#chart svg g').length")
            .await;
        assert_eq!(bars, 13, "one bar a month from 2023-06 to 2024-06");
    }

    async fn select(&self, id: &str, value: &str) {
        use fantoccini::Locator;
        let select = self.client.find(Locator::Id(id)).await.unwrap();
        select.select_by_value(value).await.unwrap();
    }

    async fn type_filter(&self, text: &str) {
        let script = format!(
            "const q = document.getElementById('q'); q.value = {}; q.dispatchEvent(new Event('input')); return true",
            json!(text)
        );
        self.js(&script).await;
    }

    async fn sort(&self, column: &str) {
        use fantoccini::Locator;
        let css = format!("th[data-sort='{column}'] button");
        self.client
            .find(Locator::Css(&css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn check_filters_and_sorting(&self, samples: &[Sample]) {
        let live = samples.iter().filter(|s| s.status == "live").count();
        self.select("f-status", "live").await;
        self.until_rows("status filter: live", live).await;
        let statuses = self.cells("status").await;
        assert!(
            statuses.iter().all(|s| s.starts_with("live")),
            "{statuses:?}"
        );
        self.select("f-status", "revoked").await;
        self.until_rows("status filter: revoked", 1).await;
        self.select("f-status", "").await;
        self.select("f-repo", "acme/ml").await;
        self.until_rows("repository filter", 4).await;
        self.select("f-repo", "").await;
        self.select("f-provider", "anthropic").await;
        self.until_rows("provider filter", 2).await;
        self.select("f-provider", "").await;
        self.select("f-tool", "gitleaks").await;
        self.until_rows("tool filter", 1).await;
        self.select("f-tool", "").await;

        self.type_filter("nb/TRAIN").await;
        self.until_rows("text filter on a path", 1).await;
        assert_eq!(self.cells("rule").await, ["groq-api-key"]);
        self.type_filter("mirror2/").await;
        self.until_rows("text filter on a second location", 1).await;
        self.type_filter("no such thing").await;
        self.until_rows("a filter nothing matches", 0).await;
        let shown = self
            .js("return document.getElementById('shown').textContent")
            .await;
        assert_eq!(shown, "No finding matches.");
        self.type_filter("").await;
        self.until_rows("filter cleared", 13).await;

        self.sort("date").await;
        self.until(
            "sorted by date",
            "return document.querySelector('th[data-sort=date]').getAttribute('aria-sort')",
            json!("ascending"),
        )
        .await;
        let dates = self.cells("date").await;
        assert_eq!(dates[0], "2023-06-30 12:00", "{dates:?}");
        assert_eq!(dates.last().unwrap(), "", "no date sorts last: {dates:?}");
        self.sort("date").await;
        self.until(
            "sorted by date, newest first",
            "return document.querySelector('#rows td.date').textContent",
            json!("2024-06-20 12:00"),
        )
        .await;
        self.sort("rule").await;
        let rules = self.cells("rule").await;
        let mut sorted = rules.clone();
        sorted.sort();
        assert_eq!(rules, sorted);
    }

    async fn check_hostile_values_are_text(&self) {
        self.type_filter("mallory").await;
        self.until_rows("the hostile row", 1).await;
        assert_eq!(
            self.cells("where").await,
            [format!("acme/web: {HOSTILE_PATH}:3")]
        );
        assert_eq!(
            self.cells("author").await,
            ["Mallory <script>window.pwned=3</script>"]
        );
        let injected = self
            .js("return [typeof window.pwned, document.querySelectorAll('img, #rows script').length, document.title]")
            .await;
        assert_eq!(injected, json!(["undefined", 0, "Weekly sweep"]));
        self.type_filter("").await;
        self.until_rows("filter cleared", 13).await;
    }

    async fn check_details(&self) {
        use fantoccini::Locator;
        self.select("f-status", "revoked").await;
        self.until_rows("the revoked key", 1).await;
        self.client
            .find(Locator::Css("#rows button.toggle"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let detail = self
            .until(
                "the row opens",
                "return document.querySelectorAll('#rows tr.detail').length",
                json!(1),
            )
            .await;
        assert_eq!(detail, 1);
        let text = self
            .js("return document.querySelector('#rows tr.detail').textContent")
            .await;
        let text = text.as_str().unwrap();
        for expected in [
            "Revocation",
            "key_abc",
            "Exposure",
            "1200",
            "What to do",
            "org-acme",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        self.select("f-status", "").await;
        self.select("f-repo", "acme/api").await;
        self.sort("date").await;
        self.until_rows("acme/api", 4).await;
        // The secret found in three places: all of them in its details.
        self.type_filter("deploy/values").await;
        self.until_rows("the key in three places", 1).await;
        self.client
            .find(Locator::Css("#rows button.toggle"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.until(
            "three locations",
            "return document.querySelectorAll('#rows tr.detail table tr').length",
            json!(4),
        )
        .await;
        self.type_filter("").await;
        self.until_rows("the whole repository", 4).await;
        self.select("f-repo", "").await;
        self.until_rows("everything", 13).await;
    }

    async fn screenshot(&self, name: &str) {
        self.client.set_window_size(1400, 1700).await.unwrap();
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = artifacts();
        std::fs::write(dir.join(name), &png).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }

    /// No console error, and no request but the page itself.
    async fn check_quiet(&self) {
        let errors: Vec<Value> = log(self.client, "browser")
            .await
            .into_iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .collect();
        assert!(errors.is_empty(), "console errors: {errors:#?}");
        let resources = self
            .js("return performance.getEntriesByType('resource').length")
            .await;
        assert_eq!(resources, 0, "resources fetched by the page");
        for entry in log(self.client, "performance").await {
            let message: Value = serde_json::from_str(entry["message"].as_str().unwrap()).unwrap();
            let params = &message["message"]["params"];
            if message["message"]["method"] == "Network.requestWillBeSent" {
                let url = params["request"]["url"].as_str().unwrap_or_default();
                let document = params["documentURL"].as_str().unwrap_or_default();
                // The browser's own new-tab page (chrome://) is not the report's doing; a
                // report page may load itself and nothing else.
                if !document.starts_with("chrome://") {
                    assert!(document.starts_with("file://"), "a request from {document}");
                    assert!(
                        url == document || url.starts_with("data:"),
                        "{document} asked for {url}"
                    );
                }
            }
        }
    }

    /// With script off the static table holds every finding, the hostile path as text.
    async fn check_without_script(&self, findings: usize) {
        cdp(
            self.client,
            "Emulation.setScriptExecutionDisabled",
            json!({"value": true}),
        )
        .await;
        self.client.refresh().await.unwrap();
        let check = "return [document.documentElement.getAttribute('data-ready'), \
             document.querySelectorAll('#static > tbody > tr:not(.detail)').length, \
             document.getElementById('findings').offsetParent === null, \
             document.getElementById('static').textContent.includes('window.pwned=2'), \
             document.querySelectorAll('img').length]";
        // The driver's own scripts still run while the page's are off.
        self.until(
            "the page without script",
            check,
            json!([null, findings, true, true, 0]),
        )
        .await;
        self.screenshot("report-without-script.png").await;
        cdp(
            self.client,
            "Emulation.setScriptExecutionDisabled",
            json!({"value": false}),
        )
        .await;
    }

    async fn check_large(&self) {
        assert_eq!(self.rows().await, 100, "the first page of 100 rows");
        let ready = self
            .js("return Number(document.documentElement.getAttribute('data-ready-ms'))")
            .await;
        let rendered = self
            .js("return Number(document.getElementById('findings').getAttribute('data-render-ms'))")
            .await;
        let started = Instant::now();
        self.type_filter("settings-1999.").await;
        self.until(
            "a text filter over 20,000",
            "return document.getElementById('findings').getAttribute('data-matching')",
            json!("1"),
        )
        .await;
        let filtered_in = started.elapsed();
        self.select("f-status", "live").await;
        self.type_filter("").await;
        self.until(
            "a status filter over 20,000",
            "return document.getElementById('findings').getAttribute('data-matching')",
            json!("4000"),
        )
        .await;
        self.sort("author").await;
        self.until(
            "sorting 4,000",
            "return document.querySelector('th[data-sort=author]').getAttribute('aria-sort')",
            json!("ascending"),
        )
        .await;
        let sorted_ms = self
            .js("return Number(document.getElementById('findings').getAttribute('data-render-ms'))")
            .await;
        println!(
            "html_report: 20,000 findings: usable {ready} ms after navigation (first render {rendered} ms), text filter seen after {filtered_in:.0?} (120 ms debounce), sort of 4,000 {sorted_ms} ms"
        );
        assert!(
            ready.as_f64().unwrap() < 10_000.0,
            "the page took {ready} ms to open"
        );
        assert!(
            filtered_in < Duration::from_secs(3),
            "filtering took {filtered_in:?}"
        );
        assert!(rendered.as_f64().unwrap() < 2_000.0 && sorted_ms.as_f64().unwrap() < 2_000.0);
    }
}

/// Where the tests leave screenshots: target/html-report/.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- chromedriver and WebDriver -----------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, with the browser profile it uses.
struct Browser {
    driver: support::Killable,
    port: u16,
    profile: tempfile::TempDir,
}

fn browser_or_skip() -> Option<Browser> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        let required = std::env::var("FERRET_BROWSER_TESTS").is_ok_and(|v| v == "required");
        assert!(
            !required,
            "FERRET_BROWSER_TESTS=required but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        println!(
            "SKIPPED: html_report browser test: {CHROMIUM} and {CHROMEDRIVER} are needed \
             (apt-get install chromium chromium-driver; .ci/run installs them)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let driver = support::Killable::spawn(
        std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::yield_now();
    }
    Some(Browser {
        driver,
        port,
        profile: tempfile::tempdir().unwrap(),
    })
}

impl Browser {
    /// One browser session for `test`, closed afterwards whatever happens.
    fn run<F, Fut>(self, test: F)
    where
        F: FnOnce(fantoccini::Client) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(self.connect());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(test(client.clone()))
        }));
        let _ = runtime.block_on(client.close());
        self.driver.kill();
        drop(self.profile);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    async fn connect(&self) -> fantoccini::Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1150",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", self.profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        fantoccini::ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a chromedriver session")
    }
}

/// A chromedriver command beyond the W3C ones: POST /session/{id}/{path}.
#[derive(Debug)]
struct Post {
    path: &'static str,
    body: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Post {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// The browser's log of a kind (`browser`: the console; `performance`: DevTools events),
/// entries since the last read.
async fn log(client: &fantoccini::Client, kind: &'static str) -> Vec<Value> {
    let entries = client
        .issue_cmd(Post {
            path: "se/log",
            body: json!({"type": kind}),
        })
        .await
        .expect("chromedriver's log");
    serde_json::from_value(entries).unwrap_or_default()
}

/// A Chrome DevTools Protocol command through chromedriver.
async fn cdp(client: &fantoccini::Client, cmd: &str, params: Value) {
    client
        .issue_cmd(Post {
            path: "goog/cdp/execute",
            body: json!({"cmd": cmd, "params": params}),
        })
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
}
