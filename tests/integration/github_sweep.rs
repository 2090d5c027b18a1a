//! `ferret github` and `ferret merge`: org-wide sweeps against a loopback GitHub API
//! (tests/support/github.rs: paginated listings with absolute `link` URLs, rate limits, SARIF
//! upload, secret-scanning alerts) and a real smart-HTTP git server on loopback
//! (tests/support/git_server.rs) serving repositories built in the test: every key found with its
//! repository, a repository that 404s recorded while the sweep goes on, incremental sweeps that
//! scan no old blob, shards that partition the repositories and merge back into the unsharded
//! report, and a token that never lands in a mirror, a log or a report.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use serde_json::Value;
use tempfile::TempDir;

use support::git::Repo;
use support::git_server::{GitServer, basic_authorization};
use support::github::{GitHubMock, RateLimitKind, RepoSpec};
use support::{Killable, Run, fingerprint, project_key, strs};

const TOKEN: &str = "ghp_sweeptokenforthemocksonly0000";
const ORG: &str = "acme";

/// An organization on the GitHub mock whose repositories live on the git server.
struct Org {
    github: GitHubMock,
    git: GitServer,
    private: TempDir,
    /// Work repositories, pushed to the git server.
    work: Vec<(String, Repo)>,
}

impl Org {
    fn new() -> Self {
        let github = GitHubMock::start(TOKEN);
        github.add_org(ORG);
        Org {
            github,
            git: GitServer::start_with_token(TOKEN),
            private: tempfile::tempdir().expect("temporary directory"),
            work: Vec::new(),
        }
    }

    /// A repository with one commit of `files`, listed by the API and served by git.
    fn add_repo(&mut self, name: &str, files: &[(&str, String)]) {
        let bare = self.git.add_repo(ORG, name);
        let repo = Repo::new();
        for (path, text) in files {
            repo.write(path, text);
        }
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "first"]);
        repo.git(&["push", "-q", bare.to_str().expect("UTF-8 path"), "main"]);
        self.github.add_repo_with(RepoSpec {
            clone_url: Some(self.git.url(ORG, name)),
            ..RepoSpec::new(ORG, name)
        });
        self.work.push((name.to_string(), repo));
    }

    /// Commits `files` in a repository and pushes (with `--force` when `force`).
    fn push(&self, name: &str, files: &[(&str, String)]) {
        let repo = self.repo(name);
        for (path, text) in files {
            repo.write(path, text);
        }
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "more"]);
        self.push_head(name, false);
    }

    fn push_head(&self, name: &str, force: bool) {
        let bare = self.git.root().join(ORG).join(format!("{name}.git"));
        let mut args = vec!["push", "-q"];
        if force {
            args.push("--force");
        }
        args.extend([bare.to_str().expect("UTF-8 path"), "main"]);
        self.repo(name).git(&args);
        // GitHub moves the repository's pushed_at on every push.
        self.github.pushed(ORG, name);
    }

    fn repo(&self, name: &str) -> &Repo {
        &self
            .work
            .iter()
            .find(|(n, _)| n == name)
            .expect("a repository of the test")
            .1
    }

    fn cache(&self) -> PathBuf {
        self.private.path().join("cache")
    }

    fn state(&self, name: &str) -> PathBuf {
        self.private.path().join(name)
    }

    /// `ferret ARGS` against the mocks; nothing inherited could reach elsewhere.
    fn run(&self, args: &[&str]) -> Run {
        let run = Run::from(self.command(args).output().expect("run ferret"));
        run.expect_no_panic();
        assert!(
            !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
            "the token was printed"
        );
        run
    }

    /// The command [`Org::run`] runs.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ferret"));
        command
            .args(args)
            .current_dir(self.private.path())
            .env("FERRET_GITHUB_API_BASE", self.github.uri())
            .env("FERRET_GITHUB_GIT_BASE", self.git.base_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("FERRET_CACHE_DIR", self.cache())
            .env("FERRET_STATE_DIR", self.private.path().join("state"))
            .env("RUST_BACKTRACE", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GITHUB_REPOSITORY")
            .stdin(Stdio::null());
        for proxy in support::PROXY_VARIABLES {
            command.env_remove(proxy);
        }
        command
    }

    /// `ferret github --org acme ARGS` as JSONL on stdout.
    fn sweep(&self, extra: &[&str]) -> Run {
        let mut args = vec!["github", "--org", ORG, "--format", "jsonl", "--no-progress"];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

fn env_file(key: &str) -> String {
    format!("OPENAI_API_KEY={key}\n")
}

/// `(repository, path)` of every record of `key` in a JSONL report.
fn places(run: &Run, key: &str) -> Vec<(String, String)> {
    let fingerprint = fingerprint(key);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSONL"))
        .filter(|r| r["fingerprint"] == fingerprint.as_str())
        .map(|r| {
            (
                r["repository"].as_str().unwrap_or_default().to_string(),
                r["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Every file under `dir`, read as text where it is.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files.push((path, bytes));
            }
        }
    }
    files
}

#[test]
fn every_key_is_found_across_pages_despite_rate_limits_and_a_repository_that_404s() {
    let mut org = Org::new();
    let keys: Vec<String> = (0..5).map(|_| project_key()).collect();
    for (i, key) in keys.iter().enumerate() {
        org.add_repo(
            &format!("service-{i}"),
            &[(&format!("cfg/{i}.env"), env_file(key))],
        );
    }
    // Listed by the API, but the git server has no such repository.
    org.github.add_repo_with(RepoSpec {
        clone_url: Some(org.git.url(ORG, "gone")),
        ..RepoSpec::new(ORG, "gone")
    });
    org.github.set_page_size_cap(2);
    org.github.rate_limit_next(1, RateLimitKind::Secondary, 1);

    let run = org.sweep(&[]);
    run.expect_code(2);
    for (i, key) in keys.iter().enumerate() {
        run.expect_key_hidden(key);
        assert_eq!(
            places(&run, key),
            vec![(format!("{ORG}/service-{i}"), format!("cfg/{i}.env"))],
            "{run}"
        );
    }
    let record: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    let url = record["url"].as_str().unwrap_or_default();
    assert!(
        url.contains("/acme/service-") && url.contains("/blob/") && url.ends_with("#L1"),
        "{url}"
    );
    assert!(
        run.stderr.contains("acme/gone"),
        "the failure is listed: {run}"
    );
    assert!(run.stderr.contains("swept 5 repositories"), "{run}");
    assert!(run.stderr.contains("1 failed"), "{run}");
    assert!(
        run.stderr.contains("rate limit"),
        "the wait is reported: {run}"
    );
    let pages = org
        .github
        .requests()
        .iter()
        .filter(|r| r.path == format!("/orgs/{ORG}/repos") && r.status == 200)
        .count();
    assert_eq!(pages, 3, "six repositories, two per page");

    // The token went to the git server, and nowhere on disk.
    let presented = org.git.requests();
    assert!(
        presented
            .iter()
            .all(|(_, _, auth, _)| auth.as_deref() == Some(basic_authorization(TOKEN).as_str())),
        "every git request carried the token"
    );
    for (path, bytes) in files_under(&org.cache()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN)
                && !String::from_utf8_lossy(&bytes).contains(&basic_authorization(TOKEN)),
            "{} holds the token",
            path.display()
        );
    }
}

#[test]
fn a_sweep_on_a_terminal_counts_repositories_of_the_total() {
    let mut org = Org::new();
    org.add_repo("one", &[("a.txt", "nothing\n".to_string())]);
    org.add_repo("two", &[(".env", env_file(&project_key()))]);
    let shown = support::on_a_terminal(&org.command(&["github", "--org", ORG]));
    assert_eq!(shown.code, 1, "{shown}");
    assert!(shown.stdout.contains("/2 repositories"), "{shown}");
    assert!(shown.stdout.contains("ETA"), "{shown}");
    let piped = org.sweep(&[]);
    assert!(
        !piped.stderr.contains("/2 repositories"),
        "no bar when piped: {piped}"
    );
}

#[test]
fn a_second_sweep_since_the_last_scans_no_old_blob_and_finds_what_is_new() {
    let mut org = Org::new();
    let old = project_key();
    org.add_repo("api", &[(".env", env_file(&old))]);
    org.add_repo("web", &[("README.md", "hello\n".to_string())]);
    let state = org.state("sweep.sqlite");
    let state = state.to_str().unwrap();

    let first = org.sweep(&["--state", state, "--since-last"]);
    first.expect_code(1);
    assert_eq!(places(&first, &old).len(), 1, "{first}");

    let second = org.sweep(&["--state", state, "--since-last"]);
    second.expect_code(1);
    assert_eq!(
        places(&second, &old).len(),
        1,
        "an old finding stays reported: {second}"
    );
    assert!(
        second.stderr.contains("(2 unchanged since the last sweep")
            && second.stderr.contains("scanned 0 objects"),
        "{second}"
    );

    let new = project_key();
    org.push("web", &[("deploy.env", env_file(&new))]);
    let third = org.sweep(&["--state", state, "--since-last"]);
    third.expect_code(1);
    assert_eq!(
        places(&third, &new),
        vec![(format!("{ORG}/web"), "deploy.env".to_string())]
    );
    assert_eq!(places(&third, &old).len(), 1);
    assert!(third.stderr.contains("(1 unchanged"), "{third}");
    let skipped: u64 = third
        .stderr
        .split("skipped ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        skipped >= 1,
        "web's first blob is not scanned again: {third}"
    );

    // History rewritten without the key: its blob is no longer reachable.
    org.repo("api").git(&["rm", "-q", ".env"]);
    org.repo("api")
        .git(&["commit", "-q", "--amend", "--allow-empty", "-m", "first"]);
    org.push_head("api", true);
    let fourth = org.sweep(&["--state", state, "--since-last"]);
    fourth.expect_code(1);
    assert!(places(&fourth, &old).is_empty(), "{fourth}");
    assert!(
        fourth.stderr.contains("1 fixed since the last sweep"),
        "{fourth}"
    );
}

#[test]
fn shards_partition_the_repositories_and_merge_into_the_unsharded_report() {
    let mut org = Org::new();
    let shared = project_key();
    for i in 0..7 {
        let own = project_key();
        let mut files = vec![(".env", env_file(&own))];
        if i % 3 == 0 {
            files.push(("shared.env", env_file(&shared)));
        }
        org.add_repo(&format!("repo-{i}"), &files);
    }
    let whole = org.sweep(&[]);
    whole.expect_code(1);
    let whole_path = org.private.path().join("whole.jsonl");
    std::fs::write(&whole_path, &whole.stdout).unwrap();

    let mut shard_files = Vec::new();
    let mut repositories: Vec<String> = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let run = org.sweep(&["--shard", &shard]);
        assert!(run.code == 0 || run.code == 1, "{run}");
        for line in run.stdout.lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            let repository = record["repository"].as_str().unwrap().to_string();
            if !repositories.contains(&repository) {
                repositories.push(repository);
            }
        }
        let path = org.private.path().join(format!("shard-{k}.jsonl"));
        std::fs::write(&path, &run.stdout).unwrap();
        shard_files.push(path);
    }
    repositories.sort();
    let mut expected: Vec<String> = (0..7).map(|i| format!("{ORG}/repo-{i}")).collect();
    expected.sort();
    assert_eq!(
        repositories, expected,
        "each repository in exactly one shard's report"
    );

    let mut args = vec!["merge".to_string()];
    args.extend(shard_files.iter().map(|p| p.to_string_lossy().into_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let merged = org.run(&args);
    merged.expect_code(0);
    assert!(!whole.stdout.is_empty());
    assert_eq!(
        merged.stdout, whole.stdout,
        "merged shards = the unsharded report"
    );
}

#[test]
fn sarif_per_repository_is_written_and_uploaded_and_alerts_join_the_pipeline() {
    let mut org = Org::new();
    let key = project_key();
    org.add_repo("api", &[(".env", env_file(&key))]);
    let alerted = project_key();
    let sha = "a".repeat(40);
    org.github
        .add_secret_alert(ORG, "api", &alerted, "old/settings.py", 7, &sha);
    let dir = org.private.path().join("sarif");

    let run = org.sweep(&[
        "--sarif-dir",
        dir.to_str().unwrap(),
        "--upload-sarif",
        "--include-alerts",
    ]);
    run.expect_code(1).expect_key_hidden(&alerted);
    assert_eq!(
        places(&run, &alerted),
        vec![(format!("{ORG}/api"), "old/settings.py".to_string())],
        "{run}"
    );
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(dir.join("acme__api.sarif")).expect("SARIF file"))
            .unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(2)
    );
    let uploads = org.github.sarif_uploads();
    assert_eq!(uploads.len(), 1, "{run}");
    let head = org.repo("api").git(&["rev-parse", "HEAD"]);
    assert_eq!(uploads[0].0, format!("{ORG}/api"));
    assert_eq!(uploads[0].1, head);
    assert_eq!(uploads[0].2, "refs/heads/main");
    assert_eq!(uploads[0].3["version"], "2.1.0");
}

/// What a finding is, whichever run reported it: key, repository, path, commit, line.
type Place = (String, String, String, String, u64);

/// Every finding location of a JSONL report.
fn findings_of(jsonl: &str) -> Vec<Place> {
    let mut places: Vec<Place> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSONL"))
        .map(|r| {
            let text = |field: &str| r[field].as_str().unwrap_or_default().to_string();
            (
                text("fingerprint"),
                text("repository"),
                text("path"),
                text("commit"),
                r["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    places.sort();
    places
}

/// A finding a sweep state remembers as open: fingerprint, repository, path, commit.
type OpenFinding = (String, String, String, String);

/// The open findings a sweep state remembers.
fn open_in_state(state: &Path) -> Vec<OpenFinding> {
    let db = rusqlite::Connection::open(state).expect("the state exists");
    let mut statement = db
        .prepare(
            "SELECT f.fingerprint, r.name, f.path, f.commit_id FROM findings f
             JOIN repositories r ON r.id = f.repository WHERE f.status = 'open'",
        )
        .expect("valid SQL");
    let mut open: Vec<_> = statement
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .expect("query runs")
        .map(|row| row.expect("row reads"))
        .collect();
    open.sort();
    open
}

/// `--state DIR/sweep.sqlite --cache DIR/mirrors`: a sweep whose state and mirrors are in DIR.
fn kept_in(dir: &Path) -> Vec<String> {
    vec![
        "--state".to_string(),
        path_text(&dir.join("sweep.sqlite")),
        "--cache".to_string(),
        path_text(&dir.join("mirrors")),
    ]
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("UTF-8 path").to_string()
}

/// Copies a directory tree (a state and its mirrors), for one more run from the same start.
fn copy_tree(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

#[test]
fn a_sweep_killed_anywhere_loses_no_finding_on_the_next_since_last() {
    let mut org = Org::new();
    let old = project_key();
    let doomed = project_key();
    org.add_repo("api", &[(".env", env_file(&old))]);
    org.add_repo("web", &[("README.md", "hello\n".to_string())]);
    org.add_repo("ops", &[("deploy/.env", env_file(&doomed))]);

    // Where every run of the loop starts: a completed sweep's state, mirrors and report.
    let start = org.private.path().join("start");
    std::fs::create_dir_all(&start).unwrap();
    let mut args = kept_in(&start);
    args.extend(["-o".to_string(), path_text(&start.join("report.jsonl"))]);
    let first = org.sweep(&strs(&args));
    first.expect_code(1);
    let earlier_report = std::fs::read_to_string(start.join("report.jsonl")).unwrap();
    assert_eq!(findings_of(&earlier_report).len(), 2);

    // Then the organization moves: new keys in two repositories, one key rewritten away.
    let new = project_key();
    let another = project_key();
    org.push("web", &[("deploy.env", env_file(&new))]);
    org.push(
        "api",
        &[("src/settings.py", format!("KEY = \"{another}\"\n"))],
    );
    org.repo("ops").git(&["rm", "-q", "deploy/.env"]);
    org.repo("ops")
        .git(&["commit", "-q", "--amend", "--allow-empty", "-m", "first"]);
    org.push_head("ops", true);

    // What a sweep from nothing finds now: every later sweep must report exactly this.
    let fresh = org.private.path().join("fresh");
    let clean = org.sweep(&strs(&kept_in(&fresh)));
    clean.expect_code(1);
    let expected = findings_of(&clean.stdout);
    assert_eq!(expected.len(), 3, "{clean}");
    let expected_open: Vec<_> = expected
        .iter()
        .map(|(f, r, p, c, _)| (f.clone(), r.clone(), p.clone(), c.clone()))
        .collect();

    let run_from = |dir: &Path| -> std::process::Command {
        let mut args: Vec<String> = ["github", "--org", ORG, "--format", "jsonl", "--no-progress"]
            .map(String::from)
            .to_vec();
        args.extend(kept_in(&dir.join("start")));
        args.extend(["--since-last", "-o"].map(String::from));
        args.push(path_text(&dir.join("start/report.jsonl")));
        org.command(&strs(&args))
    };
    // How long an uninterrupted incremental sweep takes, to spread the kills over it.
    let timed = tempfile::tempdir().unwrap();
    copy_tree(&start, timed.path());
    let began = Instant::now();
    let uninterrupted = run_from(timed.path()).output().expect("run ferret");
    let duration = began.elapsed();
    assert_eq!(uninterrupted.status.code(), Some(1));

    const KILLS: u32 = 16;
    // Two at a time: each run has a state, mirrors and report of its own.
    std::thread::scope(|scope| {
        for first in [1, 2] {
            let (start, run_from) = (&start, &run_from);
            let (expected, expected_open) = (&expected, &expected_open);
            let earlier_report = &earlier_report;
            scope.spawn(move || {
                for i in (first..=KILLS).step_by(2) {
                    let after = duration * i / (KILLS + 1);
                    kill_sweep_and_rerun(
                        after,
                        duration,
                        start,
                        run_from,
                        (expected, expected_open),
                        earlier_report,
                    );
                }
            });
        }
    });
}

/// One iteration: a copy of the starting state killed `after` into an incremental sweep, then
/// a rerun to completion and one more sweep that must find everything unchanged.
fn kill_sweep_and_rerun(
    after: std::time::Duration,
    duration: std::time::Duration,
    start: &Path,
    run_from: &(dyn Fn(&Path) -> std::process::Command + Sync),
    (expected, expected_open): (&[Place], &[OpenFinding]),
    earlier_report: &str,
) {
    let context = format!("killed after {after:?} of {duration:?}");
    let dir = tempfile::tempdir().unwrap();
    copy_tree(start, dir.path());
    let report = dir.path().join("start/report.jsonl");
    let child = Killable::spawn(&mut run_from(dir.path()));
    std::thread::sleep(after);
    child.kill();
    // The report of the last sweep stays whole until a new one is complete.
    let left = std::fs::read_to_string(&report).unwrap_or_default();
    let whole = findings_of(&left) == expected || left == earlier_report;
    assert!(whole, "{context}: a torn report:\n{left}");

    let rerun = Run::from(run_from(dir.path()).output().expect("run ferret"));
    rerun.expect_code(1);
    let reported = std::fs::read_to_string(&report).expect("the report");
    assert_eq!(findings_of(&reported), expected, "{context}: {rerun}");
    let state = dir.path().join("start/sweep.sqlite");
    assert_eq!(open_in_state(&state), expected_open, "{context}");

    // The state is whole: one more sweep finds every repository unchanged and still
    // reports every finding.
    let again = Run::from(run_from(dir.path()).output().expect("run ferret"));
    again.expect_code(1);
    assert!(
        again.stderr.contains("(3 unchanged since the last sweep")
            && again.stderr.contains("scanned 0 objects"),
        "{context}: {again}"
    );
    let reported = std::fs::read_to_string(&report).expect("the report");
    assert_eq!(findings_of(&reported), expected, "{context}: {again}");
}

#[test]
fn a_mirror_left_locked_by_a_killed_fetch_is_cloned_anew() {
    let mut org = Org::new();
    let old = project_key();
    org.add_repo("api", &[(".env", env_file(&old))]);
    let state = org.state("sweep.sqlite");
    let state = state.to_str().unwrap();
    org.sweep(&["--state", state, "--since-last"])
        .expect_code(1);

    // What git leaves when it is killed while updating refs: its lock files, for ever.
    let mirror = org.cache().join("mirrors/acme/api.git");
    assert!(mirror.join("HEAD").is_file(), "the mirror is there");
    std::fs::write(mirror.join("packed-refs.lock"), "").unwrap();
    std::fs::create_dir_all(mirror.join("refs/heads")).unwrap();
    std::fs::write(mirror.join("refs/heads/main.lock"), "").unwrap();
    std::fs::write(mirror.join("config.lock"), "").unwrap();

    let new = project_key();
    org.push("api", &[("deploy.env", env_file(&new))]);
    let run = org.sweep(&["--state", state, "--since-last"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("acme/api: the mirror could not be fetched")
            && run.stderr.contains("cloned it anew"),
        "{run}"
    );
    assert_eq!(
        places(&run, &new),
        vec![(format!("{ORG}/api"), "deploy.env".to_string())]
    );
    assert_eq!(places(&run, &old).len(), 1, "{run}");
    assert!(
        !mirror.join("config.lock").exists(),
        "the mirror was replaced"
    );
}

#[test]
fn nothing_planted_in_a_cached_mirror_runs_or_redirects_git() {
    use std::os::unix::fs::PermissionsExt;
    let mut org = Org::new();
    let old = project_key();
    org.add_repo("api", &[(".env", env_file(&old))]);
    org.sweep(&[]).expect_code(1);

    // A shared cache hands back a mirror with a hook, a credential helper and a proxy planted.
    let mirror = org.cache().join("mirrors/acme/api.git");
    let ran = org.private.path().join("planted-ran");
    let hook = mirror.join("hooks/reference-transaction");
    std::fs::write(&hook, format!("#!/bin/sh\nenv > '{}'\n", ran.display())).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = mirror.join("config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[credential]\n\thelper = \"!touch '{}'\"\n[http]\n\tproxy = http://127.0.0.1:9\n\tsslVerify = false\n",
        ran.display()
    ));
    std::fs::write(&config, text).unwrap();

    let new = project_key();
    org.push("api", &[("deploy.env", env_file(&new))]);
    let run = org.sweep(&[]);
    run.expect_code(1);
    assert!(!ran.exists(), "something planted in the mirror ran; {run}");
    assert_eq!(
        places(&run, &new).len(),
        1,
        "fetched past the planted proxy; {run}"
    );
    assert!(!run.stderr.contains("cloned it anew"), "{run}");
    let config = std::fs::read_to_string(&config).unwrap();
    for planted in ["credential", "proxy", "sslVerify"] {
        assert!(!config.contains(planted), "{planted} kept: {config}");
    }
}

/// How many git requests asked for `owner/name`'s repository since `from` (an index into the
/// git server's log).
fn git_requests_for(org: &Org, name: &str, from: usize) -> usize {
    let prefix = format!("/{ORG}/{name}.git/");
    org.git.requests()[from..]
        .iter()
        .filter(|(_, target, _, _)| target.starts_with(&prefix))
        .count()
}

/// The listing page requests of the GitHub mock since `from`: status and `If-None-Match`.
fn listing_requests(org: &Org, from: usize) -> Vec<(u16, Option<String>)> {
    org.github.requests()[from..]
        .iter()
        .filter(|r| r.path == format!("/orgs/{ORG}/repos"))
        .map(|r| (r.status, r.header("if-none-match").map(str::to_string)))
        .collect()
}

#[test]
fn an_unpushed_repository_is_not_fetched_yet_keeps_its_findings_and_a_pushed_one_is() {
    let mut org = Org::new();
    let old = project_key();
    org.add_repo("api", &[(".env", env_file(&old))]);
    org.add_repo("web", &[("README.md", "hello\n".to_string())]);
    // One repository a page: api's page stays the same, web's changes with its pushed_at.
    org.github.set_page_size_cap(1);
    let state = org.state("sweep.sqlite");
    let state = state.to_str().unwrap();
    let first = org.sweep(&["--state", state, "--since-last"]);
    first.expect_code(1);
    assert_eq!(places(&first, &old).len(), 1, "{first}");

    let new = project_key();
    org.push("web", &[("deploy.env", env_file(&new))]);
    let (git_from, api_from) = (org.git.requests().len(), org.github.requests().len());
    let second = org.sweep(&["--state", state, "--since-last"]);
    second.expect_code(1);
    assert_eq!(
        places(&second, &old),
        vec![(format!("{ORG}/api"), ".env".to_string())],
        "an unfetched repository still reports its findings: {second}"
    );
    assert_eq!(
        places(&second, &new),
        vec![(format!("{ORG}/web"), "deploy.env".to_string())]
    );
    assert_eq!(
        git_requests_for(&org, "api", git_from),
        0,
        "api not fetched"
    );
    assert!(git_requests_for(&org, "web", git_from) > 0, "web fetched");
    let pages = listing_requests(&org, api_from);
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(
        pages.iter().all(|(_, etag)| etag.is_some()),
        "both pages asked for with their ETag: {pages:?}"
    );
    assert_eq!(
        pages.iter().map(|(status, _)| *status).collect::<Vec<_>>(),
        vec![304, 200],
        "api's page did not change, web's did"
    );
    assert!(
        second
            .stderr
            .contains("(1 unchanged since the last sweep, 1 of them not fetched")
            && second.stderr.contains("2 listing pages, 1 not modified"),
        "{second}"
    );

    // --verify-all-refs fetches every repository, and finds nothing new in api.
    let git_from = org.git.requests().len();
    let third = org.sweep(&["--state", state, "--since-last", "--verify-all-refs"]);
    third.expect_code(1);
    assert!(git_requests_for(&org, "api", git_from) > 0, "api fetched");
    assert!(
        third
            .stderr
            .contains("(2 unchanged since the last sweep, 0 of them not fetched")
            && third.stderr.contains("scanned 0 objects"),
        "{third}"
    );
    assert_eq!(places(&third, &old).len(), 1, "{third}");
}

#[test]
fn a_secondary_rate_limit_on_a_conditional_page_is_waited_out_and_a_stale_fetch_is_redone() {
    let mut org = Org::new();
    let old = project_key();
    org.add_repo("api", &[(".env", env_file(&old))]);
    let state = org.state("sweep.sqlite");
    let state = state.to_str().unwrap();
    org.sweep(&["--state", state, "--since-last"])
        .expect_code(1);

    // The next request is refused with retry-after: 0; the sweep asks again at once.
    org.github
        .rate_limit_next(1, RateLimitKind::Secondary429, 0);
    let api_from = org.github.requests().len();
    let git_from = org.git.requests().len();
    let run = org.sweep(&["--state", state, "--since-last"]);
    run.expect_code(1);
    assert_eq!(places(&run, &old).len(), 1, "{run}");
    assert!(run.stderr.contains("rate limit"), "the wait is told: {run}");
    let pages = listing_requests(&org, api_from);
    assert_eq!(
        pages.iter().map(|(status, _)| *status).collect::<Vec<_>>(),
        vec![429, 304],
        "{pages:?}"
    );
    assert_eq!(git_requests_for(&org, "api", git_from), 0, "not fetched");

    // A last fetch older than --max-age is fetched again, pushed_at or not.
    let git_from = org.git.requests().len();
    let run = org.sweep(&["--state", state, "--since-last", "--max-age", "0s"]);
    run.expect_code(1);
    assert!(git_requests_for(&org, "api", git_from) > 0, "api fetched");
    assert_eq!(places(&run, &old).len(), 1, "{run}");
}
