//! `ferret ci github` and `--format github`: what each GitHub Actions event makes ferret scan,
//! on real repositories, with event payloads of the shapes GitHub writes to
//! `GITHUB_EVENT_PATH` (`fixtures/github-events/*.json`, with `@NAME@` placeholders for the
//! commit ids and flags of each scenario); the annotations on stdout, the step summary and the
//! SARIF file.

use crate::support;

use support::git::Repo;
use support::{Run, Tree, ferret_command, fingerprint, project_key};

const PULL_REQUEST: &str = include_str!("../../fixtures/github-events/pull_request.json");
const PUSH: &str = include_str!("../../fixtures/github-events/push.json");
const SCHEDULE: &str = include_str!("../../fixtures/github-events/schedule.json");
const NULL_SHA: &str = "0000000000000000000000000000000000000000";

/// The Actions variables a run of the tests must not inherit from a real Actions job.
const ACTIONS_VARIABLES: [&str; 4] = [
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_WORKSPACE",
    "GITHUB_STEP_SUMMARY",
];

/// A payload template with its placeholders filled.
fn payload(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    let unfilled = regex::Regex::new("@[A-Z_]+@").expect("valid regex");
    assert!(!unfilled.is_match(&text), "unfilled placeholder in {text}");
    serde_json::from_str::<serde_json::Value>(&text).expect("the payload is JSON");
    text
}

/// A push payload: `ref`, `before`, `after` and the `created`/`deleted`/`forced` flags.
fn push_payload(git_ref: &str, before: &str, after: &str, forced: bool) -> String {
    let created = (before == NULL_SHA).to_string();
    let deleted = (after == NULL_SHA).to_string();
    payload(
        PUSH,
        &[
            ("REF", git_ref),
            ("BEFORE", before),
            ("AFTER", after),
            ("CREATED", &created),
            ("DELETED", &deleted),
            ("FORCED", &forced.to_string()),
        ],
    )
}

/// `ferret ci github` for a push of `git_ref` from `before` to `after`.
fn push(repo: &Repo, git_ref: &str, before: &str, after: &str, forced: bool) -> CiRun {
    ci(
        repo,
        "push",
        &push_payload(git_ref, before, after, forced),
        &[],
    )
}

/// A pull request payload from `base` to `head`.
fn pull_request_payload(base: &str, head: &str) -> String {
    payload(
        PULL_REQUEST,
        &[
            ("BASE", base),
            ("HEAD", head),
            ("OLD_HEAD", base),
            ("MERGE", NULL_SHA),
        ],
    )
}

/// One run of `ferret ci github` as the runner starts it: the event's name and payload, the
/// checkout as workspace, a step summary file.
struct CiRun {
    run: Run,
    summary: String,
    /// Where the run may write extra files (`--sarif`).
    files: Tree,
}

fn ci(repo: &Repo, event: &str, payload: &str, args: &[&str]) -> CiRun {
    let files = Tree::new();
    let event_path = files.write("event.json", payload);
    let summary_path = files.join("step_summary.md");
    let mut command = ferret_command();
    for name in ACTIONS_VARIABLES {
        command.env_remove(name);
    }
    let output = command
        .args(["ci", "github"])
        .args(args)
        .current_dir(files.path())
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_WORKSPACE", repo.path())
        .env("GITHUB_STEP_SUMMARY", &summary_path)
        .output()
        .expect("run ferret");
    let summary = std::fs::read_to_string(&summary_path).unwrap_or_default();
    CiRun {
        run: Run::from(output),
        summary,
        files,
    }
}

impl CiRun {
    /// The decision line on stderr: `ferret: ci: scanning WHAT (WHY)`.
    #[track_caller]
    fn decision(&self) -> &str {
        self.run
            .stderr
            .lines()
            .find_map(|line| line.strip_prefix("ferret: ci: scanning "))
            .unwrap_or_else(|| panic!("no decision on stderr; {}", self.run))
    }

    /// The `::error …` annotations on stdout.
    fn annotations(&self) -> Vec<&str> {
        self.run
            .stdout
            .lines()
            .filter(|l| l.starts_with("::"))
            .collect()
    }

    /// Whether some annotation reports `key` (by its fingerprint, which every one carries).
    fn reports(&self, key: &str) -> bool {
        let fp = fingerprint(key);
        self.annotations().iter().any(|a| a.contains(&fp))
    }
}

/// `main` with an old key in its history; `feature` branched from it adds a new key in its
/// second commit. Returns (repo, main tip, feature tip, old key, new key).
fn repo_with_feature_branch() -> (Repo, String, String, String, String) {
    let mut repo = Repo::new();
    let old_key = project_key();
    repo.write("README.md", "# widgets\n");
    repo.write("legacy.env", format!("OPENAI_API_KEY={old_key}\n"));
    repo.commit_all("init with a key, long ago");
    repo.git(&["rm", "-q", "legacy.env"]);
    let main = repo.commit_all("remove the key");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("src/app.py", "print('hello')\n");
    repo.commit_all("app");
    let new_key = project_key();
    repo.write(
        "config/.env",
        format!("# model\nOPENAI_API_KEY={new_key}\n"),
    );
    let feature = repo.commit_all("configure the model");
    (repo, main, feature, old_key, new_key)
}

#[test]
fn pull_request_scans_base_to_head_and_annotates_with_the_redacted_key() {
    let (repo, main, feature, old_key, new_key) = repo_with_feature_branch();
    let result = ci(
        &repo,
        "pull_request",
        &pull_request_payload(&main, &feature),
        &["--sarif", "results.sarif"],
    );
    let run = &result.run;
    run.expect_code(1).expect_key_hidden(&new_key);
    assert_eq!(
        result.decision(),
        format!("{main}..{feature} (pull_request)")
    );
    assert!(result.reports(&new_key), "{run}");
    assert!(
        !result.reports(&old_key),
        "the base's history is not the PR's: {run}"
    );

    let annotations = result.annotations();
    assert_eq!(annotations.len(), 1, "{run}");
    let redacted = format!("{}…{}", &new_key[..12], &new_key[new_key.len() - 4..]);
    let expected_start = format!(
        "::error file=config/.env,line=2,col=16,title=openai-project-key::OpenAI project API key \
         {redacted} found in commit {feature}."
    );
    assert!(
        annotations[0].starts_with(&expected_start),
        "{}\nnot\n{expected_start}",
        annotations[0]
    );

    // The step summary: heading, what was scanned, one row.
    let summary = &result.summary;
    assert!(
        summary.contains("### ferret: 1 secret found in 1 location(s)"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("Scanned {main}..{feature} (pull_request).")),
        "{summary}"
    );
    let row = format!(
        "| `openai-project-key` | `{redacted}` | `config/.env:2` | `{}` | unverified |",
        &feature[..12]
    );
    assert!(summary.contains(&row), "{summary}\nhas no row\n{row}");
    assert!(!summary.contains(&new_key));

    // SARIF for code scanning, beside the annotations.
    let sarif: serde_json::Value = serde_json::from_slice(
        &std::fs::read(result.files.join("results.sarif")).expect("SARIF written"),
    )
    .expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "config/.env"
    );
}

#[test]
fn pull_request_target_and_merge_group_scan_their_ranges() {
    let (repo, main, feature, _, new_key) = repo_with_feature_branch();
    let result = ci(
        &repo,
        "pull_request_target",
        &pull_request_payload(&main, &feature),
        &[],
    );
    assert_eq!(
        result.decision(),
        format!("{main}..{feature} (pull_request_target)")
    );
    assert!(result.reports(&new_key), "{}", result.run);

    let merge_group = serde_json::json!({
        "action": "checks_requested",
        "merge_group": {
            "head_sha": feature,
            "head_ref": "refs/heads/gh-readonly-queue/main/pr-42-0123456789abcdef0123456789abcdef01234567",
            "base_sha": main,
            "base_ref": "refs/heads/main",
            "head_commit": { "id": feature, "tree_id": NULL_SHA, "message": "Merge" }
        },
        "repository": { "name": "widgets", "full_name": "acme/widgets", "default_branch": "main" }
    });
    let result = ci(&repo, "merge_group", &merge_group.to_string(), &[]);
    assert_eq!(
        result.decision(),
        format!("{main}..{feature} (merge_group)")
    );
    result.run.expect_code(1);
}

#[test]
fn push_to_a_branch_scans_before_to_after() {
    let (mut repo, _, feature, old_key, new_key) = repo_with_feature_branch();
    let newer_key = project_key();
    repo.write("notes.md", format!("try {newer_key}\n"));
    let after = repo.commit_all("notes");
    let result = push(&repo, "refs/heads/feature", &feature, &after, false);
    result.run.expect_code(1);
    assert_eq!(
        result.decision(),
        format!("{feature}..{after} (push to refs/heads/feature)")
    );
    assert!(result.reports(&newer_key), "{}", result.run);
    assert!(!result.reports(&new_key) && !result.reports(&old_key));
    assert!(!result.run.stderr.contains("::warning"), "{}", result.run);
}

#[test]
fn push_creating_a_branch_scans_its_commits_not_on_the_default_branch() {
    let (repo, main, feature, old_key, new_key) = repo_with_feature_branch();
    // actions/checkout with fetch-depth: 0 leaves the default branch as origin/main.
    repo.git(&["update-ref", "refs/remotes/origin/main", &main]);
    repo.git(&["branch", "-q", "-D", "main"]);
    let result = push(&repo, "refs/heads/feature", NULL_SHA, &feature, false);
    result.run.expect_code(1);
    assert_eq!(
        result.decision(),
        format!("{main}..{feature} (push creating refs/heads/feature: commits not on main)")
    );
    assert!(result.reports(&new_key), "{}", result.run);
    assert!(!result.reports(&old_key), "{}", result.run);
    assert!(!result.run.stderr.contains("::warning"), "{}", result.run);

    // A new branch at a commit main already has brings nothing: exit 0, not an error.
    let result = push(&repo, "refs/heads/release", NULL_SHA, &main, false);
    result.run.expect_code(0);
    assert_eq!(
        result.decision(),
        format!("{main}..{main} (push creating refs/heads/release: commits not on main)")
    );
    assert!(
        result.summary.contains("### ferret: no secrets found"),
        "{}",
        result.summary
    );
}

#[test]
fn first_push_of_the_default_branch_scans_the_full_history() {
    let (repo, main, _, old_key, _) = repo_with_feature_branch();
    let result = push(&repo, "refs/heads/main", NULL_SHA, &main, false);
    result.run.expect_code(1);
    assert_eq!(
        result.decision(),
        "the full history (push creating refs/heads/main, the default branch)"
    );
    assert!(result.reports(&old_key), "{}", result.run);
}

#[test]
fn force_push_whose_old_tip_is_gone_falls_back_to_the_commits_not_on_main() {
    let (repo, main, feature, old_key, new_key) = repo_with_feature_branch();
    repo.git(&["update-ref", "refs/remotes/origin/main", &main]);
    // The tip before the force push: a commit the clone never had.
    let gone = "5f1c3e2d4b6a79881726354453627180918a7b6c";
    let result = push(&repo, "refs/heads/feature", gone, &feature, true);
    let run = &result.run;
    run.expect_code(1);
    assert_eq!(
        result.decision(),
        format!("{main}..{feature} (force push to refs/heads/feature: commits not on main)")
    );
    let warning = format!(
        "::warning title=ferret::the old tip {gone} of refs/heads/feature is not in this clone \
         (a force push rewrote it), so the commits of refs/heads/feature that are not on main \
         are scanned"
    );
    assert!(run.stderr.contains(&warning), "{run}");
    assert!(
        result.reports(&new_key) && !result.reports(&old_key),
        "{run}"
    );

    // The same push without `forced`: the old tip is missing because the checkout is shallow.
    let result = push(&repo, "refs/heads/feature", gone, &feature, false);
    assert_eq!(
        result.decision(),
        format!("{main}..{feature} (push to refs/heads/feature: commits not on main)")
    );
    assert!(
        result
            .run
            .stderr
            .contains("is not in this clone (a shallow checkout? ")
            && result.run.stderr.contains("fetch-depth: 0"),
        "{}",
        result.run
    );

    // Without the default branch in the clone either: the full history, saying why.
    repo.git(&["update-ref", "-d", "refs/remotes/origin/main"]);
    repo.git(&["branch", "-q", "-D", "main"]);
    let result = push(&repo, "refs/heads/feature", gone, &feature, true);
    result.run.expect_code(1);
    assert_eq!(
        result.decision(),
        "the full history (force push to refs/heads/feature)"
    );
    assert!(
        result
            .run
            .stderr
            .contains("the default branch main is not in this clone"),
        "{}",
        result.run
    );
    assert!(result.reports(&new_key) && result.reports(&old_key));
}

#[test]
fn force_push_whose_old_tip_is_still_there_scans_what_the_new_tip_adds() {
    let (mut repo, main, _, _, rewritten_key) = repo_with_feature_branch();
    // The old tip stays reachable (a backup ref); the branch is rewritten from main.
    repo.git(&["branch", "-q", "backup"]);
    let old_tip = repo.head();
    repo.git(&["reset", "-q", "--hard", &main]);
    let fresh_key = project_key();
    repo.write("config/.env", format!("OPENAI_API_KEY={fresh_key}\n"));
    let new_tip = repo.commit_all("configure the model, rewritten");
    let result = push(&repo, "refs/heads/feature", &old_tip, &new_tip, true);
    result.run.expect_code(1);
    assert_eq!(
        result.decision(),
        format!("{old_tip}..{new_tip} (force push to refs/heads/feature)")
    );
    assert!(result.reports(&fresh_key), "{}", result.run);
    assert!(!result.reports(&rewritten_key), "{}", result.run);
}

#[test]
fn push_deleting_a_branch_scans_nothing() {
    let (repo, _, feature, _, _) = repo_with_feature_branch();
    let result = push(&repo, "refs/heads/feature", &feature, NULL_SHA, false);
    result.run.expect_code(0);
    assert_eq!(
        result.decision(),
        "nothing (push deleting refs/heads/feature)"
    );
    assert!(result.annotations().is_empty(), "{}", result.run);
}

#[test]
fn schedule_and_workflow_dispatch_scan_the_full_history() {
    let (repo, _, _, old_key, new_key) = repo_with_feature_branch();
    let result = ci(&repo, "schedule", SCHEDULE, &[]);
    result.run.expect_code(1);
    assert_eq!(result.decision(), "the full history (schedule)");
    assert!(
        result.reports(&old_key) && result.reports(&new_key),
        "{}",
        result.run
    );
    assert!(
        result
            .summary
            .contains("### ferret: 2 secrets found in 2 location(s)"),
        "{}",
        result.summary
    );
    // The old key's annotation points at the commit that added it, in a file no longer there.
    let legacy: Vec<&str> = result
        .annotations()
        .into_iter()
        .filter(|a| a.contains("file=legacy.env,line=1,col=16,"))
        .collect();
    assert_eq!(legacy.len(), 1, "{}", result.run);

    let dispatch = r#"{"inputs": {}, "ref": "refs/heads/main", "workflow": ".github/workflows/ferret.yml",
        "repository": {"name": "widgets", "full_name": "acme/widgets", "default_branch": "main"},
        "sender": {"login": "ada", "id": 1001, "type": "User"}}"#;
    let result = ci(&repo, "workflow_dispatch", dispatch, &[]);
    assert_eq!(result.decision(), "the full history (workflow_dispatch)");
    // --mode full whatever the event.
    let result = ci(
        &repo,
        "pull_request",
        &pull_request_payload(NULL_SHA, NULL_SHA),
        &["--mode", "full"],
    );
    assert_eq!(result.decision(), "the full history (--mode full)");
    result.run.expect_code(1);
}

#[test]
fn shallow_pull_request_checkout_falls_back_to_the_full_clone_with_a_warning() {
    let (repo, _, feature, _, new_key) = repo_with_feature_branch();
    let missing_base = "9e2a6d1f0c3b4a5e6f708192a3b4c5d6e7f80912";
    let result = ci(
        &repo,
        "pull_request",
        &pull_request_payload(missing_base, &feature),
        &[],
    );
    let run = &result.run;
    run.expect_code(1);
    assert_eq!(result.decision(), "the full history (pull_request)");
    assert!(
        run.stderr.contains(&format!(
            "::warning title=ferret::the base commit {missing_base} of the pull_request event is \
             not in this clone"
        )),
        "{run}"
    );
    assert!(run.stderr.contains("fetch-depth: 0"), "{run}");
    assert!(result.reports(&new_key), "{run}");
}

#[test]
fn outside_actions_and_bad_payloads_are_one_line_errors() {
    let (repo, ..) = repo_with_feature_branch();
    let mut command = ferret_command();
    for name in ACTIONS_VARIABLES {
        command.env_remove(name);
    }
    let run = Run::from(
        command
            .args(["ci", "github"])
            .current_dir(repo.path())
            .output()
            .expect("run ferret"),
    );
    run.expect_code(2);
    assert!(run.stderr.contains("GITHUB_EVENT_NAME is not set"), "{run}");

    let result = ci(&repo, "push", "{not json", &[]);
    result.run.expect_code(2);
    assert!(
        result.run.stderr.contains("push event payload"),
        "{}",
        result.run
    );
    let result = ci(&repo, "pull_request", "{}", &[]);
    result.run.expect_code(2);
    assert!(
        result.run.stderr.contains("has no `pull_request`"),
        "{}",
        result.run
    );
}

#[test]
fn format_github_escapes_paths_and_annotates_findings_outside_files() {
    let mut repo = Repo::new();
    let in_file = project_key();
    let in_message = project_key();
    repo.write("odd, name: 100%.env", format!("K={in_file}\n"));
    repo.commit_all(&format!("add settings\n\nkey was {in_message}"));
    let run = repo.ferret(&["git", ".", "--format", "github"]);
    run.expect_code(1).expect_key_hidden(&in_file);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run}");
    let file_line = lines
        .iter()
        .find(|l| l.contains(&fingerprint(&in_file)))
        .expect("file annotation");
    assert!(
        file_line.starts_with(
            "::error file=odd%2C name%3A 100%25.env,line=1,col=3,title=openai-project-key::"
        ),
        "{file_line}"
    );
    let message_line = lines
        .iter()
        .find(|l| l.contains(&fingerprint(&in_message)))
        .expect("commit message annotation");
    assert!(
        message_line.starts_with("::error title=openai-project-key::(commit message):"),
        "{message_line}"
    );
}

#[test]
fn clean_range_writes_a_clean_summary_and_no_annotation() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    let base = repo.commit_all("a");
    repo.write("b.txt", "b\n");
    let head = repo.commit_all("b");
    let result = ci(
        &repo,
        "pull_request",
        &pull_request_payload(&base, &head),
        &[],
    );
    result.run.expect_code(0);
    assert!(result.annotations().is_empty(), "{}", result.run);
    assert_eq!(
        result.summary.trim_end(),
        format!("### ferret: no secrets found\n\nScanned {base}..{head} (pull_request).")
    );
}
