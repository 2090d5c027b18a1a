//! Fail closed (issue 17): no run exits 0 when something it was asked to read could not be
//! read. Unreadable paths named on the command line and met during the walk, in every format;
//! shallow clones in `git` and `ci github` (with GitHub-shaped events).
//! The tests run ferret as an unprivileged user when they run as root (root reads any file
//! whatever its mode), with `setpriv`.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::git::Repo;
use support::{Run, Tree, ferret_in, project_key};

const SCHEDULE: &str = include_str!("../../fixtures/github-events/schedule.json");

/// `ferret ci github ARGS` as the runner starts it for `event` (payload `payload`) in the
/// checkout `workspace`; returns the run and the step summary.
fn ci(workspace: &Path, event: &str, payload: &str, args: &[&str]) -> (Run, String) {
    let files = Tree::new();
    let event_path = files.write("event.json", payload);
    let summary_path = files.join("step_summary.md");
    let mut command = support::ferret_command();
    command.env_remove("GITHUB_WORKSPACE");
    let output = command
        .args(["ci", "github"])
        .args(args)
        .current_dir(files.path())
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_WORKSPACE", workspace)
        .env("GITHUB_STEP_SUMMARY", &summary_path)
        .output()
        .expect("run ferret");
    let summary = std::fs::read_to_string(&summary_path).unwrap_or_default();
    (Run::from(output), summary)
}

/// `ferret ARGS` in `tree`, as a user that file modes apply to.
fn unprivileged(tree: &Tree, args: &[&str]) -> Run {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut command = if root {
        // The unprivileged user must reach the tree (temporary directories are their owner's).
        std::fs::set_permissions(tree.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod tree");
        let mut command = assert_cmd::Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("ferret"));
        command
    } else {
        assert_cmd::Command::cargo_bin("ferret").expect("ferret binary is built")
    };
    command
        .args(args)
        .current_dir(tree.path())
        .env("RUST_BACKTRACE", "1")
        .env("HOME", tree.path())
        .timeout(support::RUN_TIMEOUT);
    Run::from(command.output().expect("run ferret"))
}

fn lock(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
}

fn unlock(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn an_unreadable_file_named_on_the_command_line_exits_two_in_every_format() {
    let tree = Tree::new();
    tree.write("open.env", "nothing here\n");
    let locked = tree.write("locked.env", format!("K={}\n", project_key()));
    lock(&locked);
    for format in ["text", "json", "jsonl", "sarif", "github", "html"] {
        let run = unprivileged(
            &tree,
            &["dir", "locked.env", "open.env", "--format", format],
        );
        run.expect_code(2);
        assert!(
            run.stderr.contains("locked.env") && run.stderr.contains("cannot read"),
            "{format}: {run}"
        );
        if format == "github" {
            assert!(run.stderr.contains("::warning"), "{format}: {run}");
        }
    }
    unlock(&locked, 0o644);
}

#[test]
fn an_unreadable_root_is_named_not_a_ferretignore_in_it() {
    let tree = Tree::new();
    let dir = tree.write("secrets/app.env", format!("K={}\n", project_key()));
    let dir = dir.parent().expect("parent").to_path_buf();
    lock(&dir);
    let run = unprivileged(&tree, &["dir", "secrets"]);
    unlock(&dir, 0o755);
    run.expect_code(2);
    assert!(run.stderr.contains("secrets"), "{run}");
    assert!(!run.stderr.contains(".ferretignore"), "{run}");
    assert!(
        !run.stderr.contains("ferret: error"),
        "a warning, not an error; {run}"
    );
}

#[test]
fn unreadable_files_met_during_the_walk_warn_and_fail_on_unreadable_makes_it_two() {
    let tree = Tree::new();
    tree.write("readme.md", "nothing here\n");
    let locked = tree.write("deep/locked.env", format!("K={}\n", project_key()));
    lock(&locked);
    let run = unprivileged(&tree, &["dir", "."]);
    run.expect_code(0);
    assert!(run.stderr.contains("locked.env"), "{run}");
    assert!(run.stderr.contains("incomplete"), "{run}");

    let run = unprivileged(&tree, &["dir", ".", "--fail-on-unreadable"]);
    run.expect_code(2);
    assert!(run.stderr.contains("locked.env"), "{run}");
    unlock(&locked, 0o644);
}

/// A repository of three commits and a `--depth 1` clone of it (what `actions/checkout` makes
/// by default); the clone is under the returned tree.
fn shallow_clone() -> (Repo, Tree, std::path::PathBuf) {
    let mut repo = Repo::new();
    for index in 0..3 {
        repo.write(&format!("f{index}.txt"), format!("{index}\n"));
        repo.commit_all("commit");
    }
    let clones = Tree::new();
    let clone = clones.join("shallow");
    let url = format!("file://{}", repo.path().display());
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url])
        .arg(&clone)
        .status()
        .expect("git clone");
    assert!(status.success());
    (repo, clones, clone)
}

#[test]
fn a_shallow_clone_is_named_in_git_and_ci_github() {
    let (_repo, _clones, clone) = shallow_clone();
    let run = ferret_in(&clone, &["git", "."]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("history is shallow: 1 commits")
            && run.stderr.contains("fetch-depth: 0"),
        "{run}"
    );

    let (run, _) = ci(&clone, "schedule", SCHEDULE, &[]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("::warning title=ferret::history is shallow: 1 commits"),
        "{run}"
    );
}

#[test]
fn ci_github_mode_full_refuses_a_shallow_clone_unless_allowed() {
    let (_repo, _clones, clone) = shallow_clone();
    let (run, _) = ci(&clone, "schedule", SCHEDULE, &["--mode", "full"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("::error title=ferret::") && run.stderr.contains("--allow-shallow"),
        "{run}"
    );

    let (run, _) = ci(
        &clone,
        "schedule",
        SCHEDULE,
        &["--mode", "full", "--allow-shallow"],
    );
    run.expect_code(0);
    assert!(run.stderr.contains("history is shallow"), "{run}");

    // A full clone says nothing of the kind.
    let (repo, ..) = shallow_clone();
    let (run, _) = ci(repo.path(), "schedule", SCHEDULE, &["--mode", "full"]);
    run.expect_code(0);
    assert!(!run.stderr.contains("shallow"), "{run}");
}

/// A deflated zip of `(name, contents)` entries.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, contents) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        zip.write_all(contents).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

#[test]
fn ferretignore_lines_ferret_cannot_use_are_warnings_naming_file_and_line() {
    let tree = Tree::new();
    let key = project_key();
    tree.write("config/app.env", format!("K={key}\n"));
    let full = support::fingerprint(&key);
    tree.write(
        ".ferretignore",
        format!(
            "# accepted\nconfig/app.env\n{}\n*.env\nnot-a-fingerprint\n",
            &full[..12]
        ),
    );
    let run = tree.ferret(&["dir", "."]);
    run.expect_code(1);
    for line in [2, 3, 4, 5] {
        assert!(
            run.stderr.contains(&format!(".ferretignore:{line}: ")),
            "line {line}; {run}"
        );
    }
    assert!(run.stderr.contains("short fingerprint"), "{run}");
    assert!(run.stderr.contains("[allowlist] paths"), "{run}");

    // A full fingerprint is used, and the run says what it suppressed.
    tree.write(".ferretignore", format!("{full}  # the test key\n"));
    let run = tree.ferret(&["dir", "."]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("suppressed 1 (1 by .ferretignore)"),
        "{run}"
    );
    assert!(!run.stderr.contains("warning"), "{run}");
}

#[test]
fn an_allowlisted_archive_covers_its_members() {
    let tree = Tree::new();
    let key = project_key();
    let env = format!("K={key}\n");
    tree.write(
        "dist/bundle.zip",
        zip_of(&[("config/.env", env.as_bytes())]),
    );
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(
        run.records()[0].path,
        "dist/bundle.zip!config/.env",
        "{run}"
    );

    tree.write(
        ".ferret.toml",
        "[allowlist]\npaths = [\"dist/bundle.zip\"]\n",
    );
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("suppressed 1 (1 by [allowlist] paths)"),
        "{run}"
    );
}

#[test]
fn a_sarif_baseline_works_by_fingerprint_and_another_tools_is_refused_by_name() {
    let tree = Tree::new();
    let key = project_key();
    tree.write("app.env", format!("K={key}\n"));
    let run = tree.ferret(&["dir", ".", "-o", "base.sarif"]);
    run.expect_code(1);
    let run = tree.ferret(&["dir", ".", "--baseline", "base.sarif"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("suppressed 1 (1 by --baseline)"),
        "{run}"
    );

    tree.write(
        "other.sarif",
        r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
            "results": [{"ruleId": "r", "message": {"text": "m"}}]}]}"#,
    );
    let run = tree.ferret(&["dir", ".", "--baseline", "other.sarif"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("other.sarif") && run.stderr.contains("SARIF"),
        "{run}"
    );
}

#[test]
fn paths_are_relative_to_the_working_directory_whatever_the_number_of_roots() {
    let tree = Tree::new();
    let (a, b) = (project_key(), support::Shape::Legacy.key());
    tree.write("tree/src/settings.py", format!("KEY = '{a}'\n"));
    tree.write("tree/k8s/secret.yaml", format!("key: {b}\n"));
    let paths = |run: &Run| {
        let mut paths: Vec<String> = run.records().into_iter().map(|r| r.path).collect();
        paths.sort();
        paths
    };
    let absolute = tree.join("tree/src");
    let absolute = absolute.to_str().expect("UTF-8 path");
    for args in [
        &["dir", "tree/src", "--format", "jsonl"][..],
        &["dir", "./tree/src", "--format", "jsonl"][..],
        &["dir", absolute, "--format", "jsonl"][..],
    ] {
        let run = tree.ferret(args);
        run.expect_code(1);
        assert_eq!(paths(&run), ["tree/src/settings.py"], "{args:?}: {run}");
    }
    let run = tree.ferret(&["dir", "tree/src", "tree/k8s", "--format", "jsonl"]);
    assert_eq!(
        paths(&run),
        ["tree/k8s/secret.yaml", "tree/src/settings.py"],
        "{run}"
    );
    let run = tree.ferret(&["dir", "tree/src", "--format", "github"]);
    assert!(run.stdout.contains("file=tree/src/settings.py,"), "{run}");

    // The scanned directory's own allowlist is relative to that directory, as before.
    tree.write(
        "tree/src/.ferret.toml",
        "[allowlist]\npaths = [\"settings.py\"]\n",
    );
    let run = tree.ferret(&["dir", "tree/src"]);
    run.expect_code(0);
    assert!(run.stderr.contains("by [allowlist] paths"), "{run}");
}

/// A gzip of `contents`.
fn gzip_of(contents: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(contents).expect("gzip write");
    gz.finish().expect("gzip")
}

#[test]
fn log_and_stdin_open_what_dir_opens() {
    let tree = Tree::new();
    let (a, b) = (project_key(), support::Shape::Legacy.key());
    tree.write("app.log.1.gz", gzip_of(format!("boot\nK={a}\n").as_bytes()));
    let bundle = zip_of(&[("config/.env", format!("K={b}\n").as_bytes())]);

    let run = tree.ferret(&["log", "app.log.1.gz", "--format", "jsonl"]);
    run.expect_code(1).expect_key_hidden(&a);
    let records = run.records();
    assert_eq!(records.len(), 1, "{run}");
    assert!(records[0].path.starts_with("app.log.1.gz"), "{run}");
    assert_eq!(records[0].line, 2, "{run}");

    let output = support::ferret_command()
        .args(["stdin", "--format", "jsonl"])
        .current_dir(tree.path())
        .write_stdin(bundle.clone())
        .output()
        .expect("run ferret");
    let run = Run::from(output);
    run.expect_code(1).expect_key_hidden(&b);
    assert_eq!(run.records()[0].path, "stdin!config/.env", "{run}");

    // --archive-depth 0 keeps them raw bytes, as in `dir`.
    let run = tree.ferret(&["log", "app.log.1.gz", "--archive-depth", "0"]);
    run.expect_code(0);
}

#[test]
fn a_malformed_ferret_toml_in_the_checkout_fails_ci_github_with_an_annotation() {
    let mut repo = Repo::new();
    repo.write("app.env", format!("K={}\n", project_key()));
    repo.write(".ferret.toml", "[allowlist]\npath = [\"app.env\"]\n");
    repo.commit_all("silence it");
    let (run, _) = ci(repo.path(), "schedule", SCHEDULE, &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("::error title=ferret::") && run.stderr.contains(".ferret.toml:2:"),
        "{run}"
    );
}

const PULL_REQUEST: &str = include_str!("../../fixtures/github-events/pull_request.json");

#[test]
fn suppressions_a_pull_request_adds_are_listed_as_notices_and_in_the_summary() {
    let mut repo = Repo::new();
    repo.write("README.md", "# app\n");
    let base = repo.commit_all("base");
    let key = project_key();
    repo.write("src/app.env", format!("K={key}\n"));
    repo.write(".ferretignore", format!("{}\n", support::fingerprint(&key)));
    let other = support::Shape::Legacy.key();
    repo.write("src/other.py", format!("KEY = '{other}'  # ferret:allow\n"));
    let head = repo.commit_all("add keys and silence them");
    let null = "0000000000000000000000000000000000000000";
    let payload = PULL_REQUEST
        .replace("@BASE@", &base)
        .replace("@HEAD@", &head)
        .replace("@OLD_HEAD@", &base)
        .replace("@MERGE@", null);
    let (run, summary) = ci(repo.path(), "pull_request", &payload, &[]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(
            "::notice file=src/app.env,line=1,title=ferret::suppressed by this pull request: \
             src/app.env:1, openai-project-key, .ferretignore"
        ),
        "{run}"
    );
    assert!(
        summary.contains("Suppressed by this pull request"),
        "{summary}"
    );
    assert!(summary.contains("`src/app.env:1`"), "{summary}");
    // A `ferret:allow` the pull request adds is listed where it is, not only counted.
    assert!(
        run.stderr.contains(
            "::notice file=src/other.py,line=1,title=ferret::suppressed by this pull request: \
             src/other.py:1, openai-legacy-key, ferret:allow on the line"
        ),
        "{run}"
    );
    assert!(
        summary.contains("- `src/other.py:1`, openai-legacy-key, ferret:allow on the line"),
        "{summary}"
    );
    assert!(!summary.contains("more key(s)"), "{summary}");
    assert!(
        summary.contains("Suppressed: 2 (1 by ferret:allow, 1 by .ferretignore)"),
        "{summary}"
    );
}

#[test]
fn a_range_scan_of_a_partial_clone_says_so() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    let base = repo.commit_all("base");
    repo.write("b.txt", "b\n");
    let head = repo.commit_all("head");
    repo.git(&["config", "uploadpack.allowFilter", "true"]);
    let clones = Tree::new();
    let clone = clones.join("partial");
    let url = format!("file://{}", repo.path().display());
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--filter=blob:none", &url])
        .arg(&clone)
        .status()
        .expect("git clone");
    assert!(status.success());
    let run = ferret_in(&clone, &["git", ".", "--range", &format!("{base}..{head}")]);
    run.expect_code(0);
    assert!(run.stderr.contains("partial clone"), "{run}");
}

/// The warnings of a SARIF log's (first) run, as code scanning reads them.
fn sarif_warnings(sarif: &str) -> Vec<String> {
    let log: serde_json::Value = serde_json::from_str(sarif).expect("SARIF is JSON");
    let invocations = log["runs"][0]["invocations"]
        .as_array()
        .expect("invocations");
    assert_eq!(invocations[0]["executionSuccessful"], true, "{sarif}");
    let notifications = invocations[0]["toolExecutionNotifications"].as_array();
    notifications
        .into_iter()
        .flatten()
        .map(|n| {
            assert_eq!(n["level"], "warning", "{sarif}");
            n["message"]["text"].as_str().expect("text").to_string()
        })
        .collect()
}

#[test]
fn a_sarif_report_says_what_the_run_could_not_read() {
    // Code scanning reads the SARIF, not the run's stderr: an incomplete scan says so there.
    let tree = Tree::new();
    tree.write("readme.md", "nothing here\n");
    let locked = tree.write("deep/locked.env", format!("K={}\n", project_key()));
    lock(&locked);
    let run = unprivileged(&tree, &["dir", ".", "--format", "sarif"]);
    run.expect_code(0);
    let warnings = sarif_warnings(&run.stdout);
    assert!(
        warnings.iter().any(|w| w.contains("locked.env")),
        "{warnings:?}"
    );
    unlock(&locked, 0o644);

    let (_repo, _clones, clone) = shallow_clone();
    let run = ferret_in(
        &clone,
        &["git", ".", "--format", "sarif", "-o", "shallow.sarif"],
    );
    run.expect_code(0);
    let shallow = std::fs::read_to_string(clone.join("shallow.sarif")).expect("report");
    let warnings = sarif_warnings(&shallow);
    assert!(
        warnings.iter().any(|w| w.contains("history is shallow")),
        "{warnings:?}"
    );

    // A complete run has no notifications; merged shards keep each shard's.
    let clean = Tree::new();
    clean.write("readme.md", "nothing here\n");
    let run = clean.ferret(&["dir", ".", "--format", "sarif"]);
    run.expect_code(0);
    assert!(sarif_warnings(&run.stdout).is_empty(), "{run}");
    clean.write("a.sarif", &shallow);
    clean.write("b.sarif", &run.stdout);
    let run = clean.ferret(&["merge", "a.sarif", "b.sarif"]);
    run.expect_code(0);
    let merged = sarif_warnings(&run.stdout);
    assert!(
        merged.iter().any(|w| w.contains("history is shallow")),
        "{run}"
    );
}
