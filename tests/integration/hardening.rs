//! Hardening of issue 16: what ferret sends out and where (API bases, proxies), what it costs
//! (threads, memory per finding), and what it prints or writes (redaction of every field,
//! control characters, report destinations, the hook's temporary file). Each test runs the
//! real binary against temporary trees, real git and loopback servers.

use crate::support;

use std::path::Path;

use tempfile::TempDir;

use support::git::Repo;
use support::git_server::GitServer;
use support::github::{GitHubMock, RepoSpec};
use support::hostile::{HostileServer, Misbehaviour};

use support::{Run, Shape, Tree};

/// `ferret ARGS` in `tree`, with a private cache and state under `private`, every provider's
/// base at a closed port, no proxy inherited, and `env` on top.
fn ferret(tree: &Path, private: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = support::isolated_ferret(tree, private);
    command.args(args);
    for (variable, value) in env {
        command.env(variable, value);
    }
    let run = Run::from(command.output().expect("run ferret"));
    run.expect_no_panic();
    run
}

fn scratch() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

// ---------------------------------------------------------------------------------------------
// 16.10: API bases carry no user name, password, query or fragment

#[test]
fn an_api_base_with_userinfo_query_or_fragment_is_refused_and_nothing_is_sent() {
    let server = HostileServer::start("127.0.0.1", Misbehaviour::Json(200, "{}".into()));
    let tree = Tree::new();
    let key = Shape::Project74.key();
    tree.write("app.env", format!("OPENAI_API_KEY={key}\n"));
    let private = scratch();
    let address = server.uri().trim_start_matches("http://").to_string();
    let password = format!("{}:hunter2hunter2", "user");
    for base in [
        format!("http://api.openai.com@{address}"),
        format!("http://{password}@{address}"),
        format!("http://{address}/v1?key=1"),
        format!("http://{address}/#fragment"),
    ] {
        let env = [("FERRET_OPENAI_API_BASE", base.as_str())];
        let args = [
            "dir",
            ".",
            "--verify",
            "--format",
            "jsonl",
            "--no-verify-cache",
        ];
        let run = ferret(tree.path(), private.path(), &env, &args);
        run.expect_code(2).expect_key_hidden(&key);
        assert!(
            run.stderr.contains("FERRET_OPENAI_API_BASE"),
            "the error names the setting; {run}"
        );
        assert!(
            !run.stderr.contains("hunter2") && !run.stderr.contains("key=1"),
            "the error shows no more of the base than its origin; {run}"
        );
    }
    assert!(
        server.received().is_empty(),
        "a refused base was asked anyway"
    );
}

// ---------------------------------------------------------------------------------------------
// 16.4: a loopback base never goes through a proxy (ferret's HTTP client, octocrab's, git)

const TOKEN: &str = "ghp_hardeningtokenforthemocksonly0";

#[test]
fn loopback_bases_never_go_through_a_proxy_for_the_http_client_or_git() {
    // The proxy answers `{}` to everything: through it, a key would read as live.
    let proxy = HostileServer::start("127.0.0.1", Misbehaviour::Json(200, "{}".into()));
    let proxy_uri = proxy.uri();
    let mut env: Vec<(&str, &str)> = support::PROXY_VARIABLES
        .iter()
        .map(|variable| (*variable, proxy_uri.as_str()))
        .collect();

    // Verification against a loopback base nothing listens on: an error, not `live`.
    let tree = Tree::new();
    let key = Shape::Project74.key();
    tree.write("app.env", format!("OPENAI_API_KEY={key}\n"));
    let private = scratch();
    let args = [
        "dir",
        ".",
        "--verify",
        "--format",
        "jsonl",
        "--no-verify-cache",
    ];
    let run = ferret(tree.path(), private.path(), &env, &args);
    run.expect_key_hidden(&key);
    assert_eq!(run.verification_of(&key)["status"], "error", "{run}");

    // A sweep: GitHub's API (octocrab) and git, both on loopback.
    let git = GitServer::start_with_token(TOKEN);
    let bare = git.add_repo("acme", "app");
    let work = Repo::new();
    let swept = Shape::Project74.key();
    work.write(".env", format!("OPENAI_API_KEY={swept}\n"));
    work.git(&["add", "-A"]);
    work.git(&["commit", "-q", "-m", "first"]);
    work.git(&["push", "-q", bare.to_str().expect("UTF-8 path"), "main"]);
    let github = GitHubMock::start(TOKEN);
    github.add_org("acme");
    github.add_repo_with(RepoSpec {
        clone_url: Some(git.url("acme", "app")),
        ..RepoSpec::new("acme", "app")
    });
    let api = github.uri();
    let git_base = git.base_url();
    env.extend([
        ("GITHUB_TOKEN", TOKEN),
        ("FERRET_GITHUB_API_BASE", api.as_str()),
        ("FERRET_GITHUB_GIT_BASE", git_base.as_str()),
    ]);
    let args = [
        "github",
        "--org",
        "acme",
        "--format",
        "jsonl",
        "--no-progress",
    ];
    let run = ferret(private.path(), private.path(), &env, &args);
    run.expect_key_hidden(&swept);
    assert_eq!(run.records_of(&swept).len(), 1, "{run}");
    assert!(
        proxy.received().is_empty(),
        "the proxy was asked: {:?}",
        proxy
            .received()
            .iter()
            .map(|r| r.request_line.clone())
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------------
// 16.3: thread counts beyond what is useful are capped with a warning

#[test]
fn a_huge_thread_count_is_capped_with_a_warning_and_the_scan_finishes() {
    let tree = Tree::new();
    let key = Shape::Project74.key();
    for n in 0..50 {
        tree.write(&format!("d{}/f{n}.txt", n % 7), "nothing here\n");
    }
    tree.write("app.env", format!("OPENAI_API_KEY={key}\n"));
    // With a timeout: uncapped, this count spun for half an hour.
    let output = support::ferret_command()
        .args(["dir", ".", "--format", "jsonl", "--threads", "100000"])
        .current_dir(tree.path())
        .output()
        .expect("run ferret");
    let run = Run::from(output);
    run.expect_code(1).expect_key_hidden(&key);
    assert_eq!(run.records_of(&key).len(), 1, "{run}");
    assert!(
        run.stderr.contains("warning: --threads 100000"),
        "the cap is announced; {run}"
    );
}

// ---------------------------------------------------------------------------------------------
// 16.8: full keys go only into a regular file

#[test]
fn a_report_with_full_keys_is_refused_into_a_fifo_or_through_a_symlink() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let tree = Tree::new();
    let key = Shape::Project74.key();
    tree.write("app.env", format!("OPENAI_API_KEY={key}\n"));
    let elsewhere = scratch();
    let private = scratch();

    // A named pipe someone else made, with a reader waiting (opened without blocking, so a
    // writer would get through at once).
    let fifo = elsewhere.path().join("report.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the pipe's reading end");
    // A link to a file someone else reads.
    let target = elsewhere.path().join("target.txt");
    std::fs::write(&target, "theirs\n").expect("the link's target");
    let link = tree.join("report.json");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");

    for destination in [&fifo, &link] {
        let destination = destination.to_str().expect("UTF-8 path");
        let args = [
            "dir",
            ".",
            "--show-secrets",
            "--format",
            "json",
            "-o",
            destination,
        ];
        let run = ferret(tree.path(), private.path(), &[], &args);
        run.expect_code(2).expect_key_hidden(&key);
        assert!(run.stderr.contains("not a regular file"), "{run}");
    }
    let mut piped = Vec::new();
    let _ = reader.read_to_end(&mut piped);
    assert!(piped.is_empty(), "the report went into the pipe");
    let theirs = std::fs::read_to_string(&target).expect("the link's target");
    assert_eq!(theirs, "theirs\n", "the report went through the link");

    // Without full keys a redacted report may still go to a pipe (the control case).
    let link = link.to_str().expect("UTF-8 path");
    let run = ferret(tree.path(), private.path(), &[], &["dir", ".", "-o", link]);
    run.expect_code(1).expect_key_hidden(&key);
}

// ---------------------------------------------------------------------------------------------
// 16.9: `ferret hook install` writes through no planted link

#[test]
fn hook_install_follows_no_link_planted_at_a_temporary_name() {
    use std::os::unix::fs::PermissionsExt;

    let repo = Repo::new();
    let outside = scratch();
    let target = outside.path().join("victim.sh");
    std::fs::write(&target, "theirs\n").expect("the link's target");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // A tracked hooks directory carrying links at the names a hook installer might use.
    std::fs::create_dir_all(repo.path().join(".githooks")).expect("hooks directory");
    for name in [
        ".pre-commit.ferret-tmp",
        "pre-commit.tmp",
        ".pre-commit.tmp",
    ] {
        let link = repo.path().join(".githooks").join(name);
        std::os::unix::fs::symlink(&target, link).expect("symlink");
    }
    repo.git(&["config", "core.hooksPath", ".githooks"]);

    repo.ferret(&["hook", "install"]).expect_code(0);
    let hook = repo.path().join(".githooks/pre-commit");
    let script = std::fs::read_to_string(&hook).expect("the hook is written");
    assert!(script.contains("ferret-managed-hook"));
    let mode = std::fs::metadata(&hook).expect("hook").permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_to_string(&target).expect("the link's target"),
        "theirs\n",
        "the hook was written through the link"
    );
    let mode = std::fs::metadata(&target)
        .expect("target")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the link's target was made executable");
    let leftovers: Vec<_> = std::fs::read_dir(repo.path().join(".githooks"))
        .expect("hooks directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".pre-commit.ferret-") && name != ".pre-commit.ferret-tmp")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

// ---------------------------------------------------------------------------------------------
// 16.6: no piece of a key from a provider's answer reaches a report or the cache

#[test]
fn an_answer_echoing_the_key_in_pieces_leaves_no_piece_in_reports_or_the_cache() {
    let tree = Tree::new();
    let key = Shape::Project74.key();
    tree.write("app.env", format!("OPENAI_API_KEY={key}\n"));
    let half = key.len() / 2;
    let message = format!(
        "Incorrect API key provided: {} and then {}; prefix {}",
        &key[..half],
        &key[half..],
        &key[..40]
    );
    let body = serde_json::json!({
        "error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
    });
    let server = HostileServer::start("127.0.0.1", Misbehaviour::Json(401, body.to_string()));
    let private = scratch();
    let cache = private.path().join("verify.sqlite");
    let cache_arg = cache.to_str().expect("UTF-8 path");
    let base = server.uri();
    let env = [("FERRET_OPENAI_API_BASE", base.as_str())];
    let mut outputs = Vec::new();
    for format in ["jsonl", "text", "sarif", "github"] {
        let args = [
            "dir",
            ".",
            "--verify",
            "--format",
            format,
            "--verify-cache",
            cache_arg,
        ];
        let run = ferret(tree.path(), private.path(), &env, &args);
        run.expect_code(1).expect_key_hidden(&key);
        if format == "jsonl" {
            let verification = run.verification_of(&key);
            assert_eq!(verification["status"], "invalid", "{run}");
            assert!(verification["detail"].is_string(), "{verification}");
        }
        outputs.push(run.stdout.into_bytes());
        outputs.push(run.stderr.into_bytes());
    }
    assert!(!server.received().is_empty(), "the server was never asked");
    outputs.push(std::fs::read(&cache).expect("the cache was written"));
    // 13: the redaction itself shows the kind prefix and four characters (12).
    for piece in key.as_bytes().windows(13) {
        assert!(
            !outputs
                .iter()
                .any(|output| support::hostile::contains(output, piece)),
            "a piece of the key came out"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 16.5: no full key in any field without --show-secrets; config errors name the setting

const FORMATS: [&str; 6] = ["text", "json", "jsonl", "sarif", "github", "html"];

/// A repository whose key is also its file's name, its directory's, its author's name and a
/// branch's name, committed on that branch.
fn repo_named_after(key: &str) -> Repo {
    let mut repo = Repo::new();
    repo.write(
        &format!("{key}/{key}.env"),
        format!("OPENAI_API_KEY={key}\n"),
    );
    repo.git(&["checkout", "-q", "-b", key]);
    repo.git(&["config", "user.name", key]);
    repo.commit_all("settings");
    repo
}

#[test]
fn a_key_in_a_path_author_or_branch_name_is_redacted_in_every_format_hook_and_summary() {
    let key = Shape::Project74.key();
    let repo = repo_named_after(&key);
    let private = scratch();
    let events = private.path().join("events.jsonl");
    let config = private.path().join("ops.toml");
    std::fs::write(
        &config,
        format!(
            "[[hooks]]\ntype = \"command\"\nargv = [\"sh\", \"-c\", \"cat >> '{}'\"]\n\
             events = [\"found\"]\n",
            events.display()
        ),
    )
    .expect("the operator's config");
    let config = config.to_str().expect("UTF-8 path");
    for command in ["dir", "git"] {
        for format in FORMATS {
            let args = [command, ".", "--format", format, "--config", config];
            let run = ferret(repo.path(), private.path(), &[], &args);
            run.expect_code(1).expect_key_hidden(&key);
            assert!(
                run.stdout.contains("sk-proj-"),
                "the finding is reported; {run}"
            );
        }
    }
    let events = std::fs::read_to_string(&events).expect("the hook ran");
    assert!(
        !events.is_empty() && !events.contains(&key),
        "a hook got the key"
    );

    // The step summary of `ferret ci github`.
    let files = scratch();
    let event = files.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"inputs": {}, "ref": "refs/heads/main", "repository": {"full_name": "acme/app"}}"#,
    )
    .expect("event payload");
    let summary = files.path().join("summary.md");
    let event_path = event.to_str().expect("UTF-8 path");
    let summary_path = summary.to_str().expect("UTF-8 path");
    let workspace = repo.path().to_str().expect("UTF-8 path");
    let env = [
        ("GITHUB_EVENT_NAME", "workflow_dispatch"),
        ("GITHUB_EVENT_PATH", event_path),
        ("GITHUB_WORKSPACE", workspace),
        ("GITHUB_STEP_SUMMARY", summary_path),
    ];
    let run = ferret(files.path(), private.path(), &env, &["ci", "github"]);
    run.expect_code(1).expect_key_hidden(&key);
    let summary = std::fs::read_to_string(&summary).expect("the step summary");
    assert!(summary.contains("sk-proj-"), "{summary}");
    assert!(!summary.contains(&key), "the step summary shows the key");

    // With --show-secrets the key is shown: the control case.
    let run = ferret(
        repo.path(),
        private.path(),
        &[],
        &["dir", ".", "--show-secrets"],
    );
    assert!(run.stdout.contains(&key), "{run}");
}

#[test]
fn config_errors_name_the_setting_and_never_show_its_value() {
    let key = Shape::Project74.key();
    let tree = Tree::new();
    tree.write("app.env", "nothing\n");
    let private = scratch();
    for (config, setting) in [
        (format!("[allowlist]\nregexes = ['({key}']\n"), "regexes"),
        (format!("[allowlist]\npaths = ['[{key}']\n"), "paths"),
        (format!("[allowlist]\nregexes = \"{key}\"\n"), ""),
        (
            format!("[allowlist]\nfingerprints = [\"a\", {{ x = \"{key}\" }}]\n"),
            "",
        ),
    ] {
        tree.write(".ferret.toml", &config);
        let run = ferret(tree.path(), private.path(), &[], &["dir", "."]);
        run.expect_code(2).expect_key_hidden(&key);
        assert!(run.stderr.contains(".ferret.toml:"), "{run}");
        assert!(run.stderr.contains(setting), "{run}");
        // Not even most of it.
        assert!(!run.stderr.contains(&key[..30]), "{run}");
    }
}

// ---------------------------------------------------------------------------------------------
// 16.7: control characters from outside are escaped in text output, on stderr, in summaries

#[test]
fn newlines_and_escapes_from_outside_forge_no_line_and_reach_no_terminal() {
    let key = Shape::Project74.key();
    // A provider message that tries to forge a report line and a workflow command.
    let forged = "bad key\n::error file=x::forged\n  secret       sk-proj-forged\x1b[2J";
    let body = serde_json::json!({"error": {"message": forged, "code": "invalid_api_key"}});
    let server = HostileServer::start("127.0.0.1", Misbehaviour::Json(401, body.to_string()));
    let mut repo = Repo::new();
    repo.write("app.env", format!("OPENAI_API_KEY={key}\n"));
    // An author name with a clipboard write (OSC 52) and a screen clear.
    let author = "Mallory \u{1b}]52;c;ZWNobyBoaQ==\u{7}\u{1b}[2J\u{202e}";
    repo.git(&["config", "user.name", author]);
    repo.commit_all("settings");
    let private = scratch();
    let base = server.uri();
    let env = [("FERRET_OPENAI_API_BASE", base.as_str())];
    for format in ["text", "github"] {
        let args = [
            "git",
            ".",
            "--verify",
            "--no-verify-cache",
            "--format",
            format,
        ];
        let run = ferret(repo.path(), private.path(), &env, &args);
        run.expect_code(1).expect_key_hidden(&key);
        for output in [&run.stdout, &run.stderr] {
            assert!(
                !output.chars().any(|c| c.is_control() && c != '\n'),
                "a control character was printed; {run}"
            );
            assert!(!output.contains('\u{202e}'), "{run}");
            assert!(
                !output.lines().any(|l| l.starts_with("::error file=x")),
                "a workflow command was forged; {run}"
            );
            assert!(
                !output
                    .lines()
                    .any(|l| l.trim_start().starts_with("secret       sk-proj-forged")),
                "a report line was forged; {run}"
            );
        }
        if format == "text" {
            assert!(run.stdout.contains("Mallory"), "the author is shown; {run}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 16.2: locations of one key past a cap are counted, not held

/// The cap of src/matchset.rs, as README documents it.
const MAX_LOCATIONS_PER_KEY: usize = 1000;

/// A log of 500 more lines of `key` than the cap keeps.
fn past_the_cap(key: &str) -> String {
    (0..MAX_LOCATIONS_PER_KEY + 500)
        .map(|_| format!("k={key}\n"))
        .collect()
}

/// A JSONL report of [`past_the_cap`] lists the first lines, as many as the cap keeps, and
/// counts the 500 others on each record.
fn expect_the_first_lines_kept(run: &Run, key: &str) {
    run.expect_code(1).expect_key_hidden(key);
    let records = run.records_of(key);
    assert_eq!(records.len(), MAX_LOCATIONS_PER_KEY, "{}", run.stderr);
    assert!(records.iter().all(|r| r["omitted_locations"] == 500));
    assert_eq!(records[0]["line"], 1);
    assert_eq!(
        records[MAX_LOCATIONS_PER_KEY - 1]["line"],
        MAX_LOCATIONS_PER_KEY as u64
    );
}

#[test]
fn locations_of_one_key_past_the_cap_are_counted_and_reported_as_left_out() {
    let key = Shape::Project74.key();
    let lines = MAX_LOCATIONS_PER_KEY + 500;
    let tree = Tree::new();
    tree.write("big.log", past_the_cap(&key));
    let private = scratch();

    let run = ferret(
        tree.path(),
        private.path(),
        &[],
        &["dir", ".", "--format", "jsonl"],
    );
    expect_the_first_lines_kept(&run, &key);

    let run = ferret(tree.path(), private.path(), &[], &["dir", "."]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("… and 500 more location(s), not listed"),
        "{run}"
    );
    assert!(
        run.stdout.contains(&format!("in {lines} location(s)")),
        "{run}"
    );

    // A stream's single document holds as much, no more.
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ferret"));
    let output = command
        .args(["stdin", "--format", "json"])
        .current_dir(tree.path())
        .stdin(std::fs::File::open(tree.join("big.log")).expect("the log"))
        .output()
        .expect("run ferret");
    let run = Run::from(output);
    run.expect_code(1).expect_key_hidden(&key);
    let records = run.json();
    let records = records.as_array().expect("a JSON array");
    assert_eq!(records.len(), MAX_LOCATIONS_PER_KEY);
    assert!(records.iter().all(|r| r["omitted_locations"] == 500));
}

#[test]
fn in_git_history_a_blob_keeps_the_first_locations_of_a_key_and_counts_the_rest() {
    // A blob of many lines of one key once held every line through attribution (1.4 KB each:
    // 16 MB of such lines, 137 MB).
    let key = Shape::Project74.key();
    let mut repo = Repo::new();
    repo.write("big.log", past_the_cap(&key));
    repo.commit_all("a log");
    let private = scratch();
    let run = ferret(
        repo.path(),
        private.path(),
        &[],
        &["git", ".", "--format", "jsonl"],
    );
    expect_the_first_lines_kept(&run, &key);
}
