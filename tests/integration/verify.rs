//! `--verify` and `ferret verify`: every distinct key is checked once against a loopback OpenAI
//! API (tests/support/openai.rs) and each finding carries the outcome: classification of every
//! documented answer, retries, timeouts, concurrency and budget, the cache, where keys may be
//! sent (never where a scanned `.ferret.toml` or a redirect says), `--fail-on live`, and the
//! status in every report format and scanning command.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use support::git::Repo;
use support::openai::{
    ADMIN_KEYS_PATH, Behaviour, MODELS_PATH, ORGANIZATION, OpenAiMock, PROJECT, Seen, masked,
};
use support::{Record, Run, Shape, Tree, describe_key, fingerprint, project_key};

/// Where a verifying run sends keys (`FERRET_OPENAI_API_BASE`) and keeps its cache
/// (`FERRET_CACHE_DIR`: a private temporary directory, never the user's ~/.cache).
struct Env {
    api_base: String,
    cache: TempDir,
}

impl Env {
    fn new(api_base: impl Into<String>) -> Self {
        Env {
            api_base: api_base.into(),
            cache: tempfile::tempdir().expect("cache directory"),
        }
    }

    fn of(mock: &OpenAiMock) -> Self {
        Self::new(mock.uri())
    }

    /// `ferret ARGS` in `dir`, with this environment and nothing inherited that could send
    /// requests elsewhere (proxies) or read a real cache.
    fn command(&self, dir: &Path, args: &[&str]) -> assert_cmd::Command {
        let mut command = support::ferret_command();
        command
            .args(args)
            .current_dir(dir)
            .env("FERRET_OPENAI_API_BASE", &self.api_base)
            .env("FERRET_CACHE_DIR", self.cache.path())
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_ADMIN_KEY");
        for proxy in support::PROXY_VARIABLES {
            command.env_remove(proxy);
        }
        command
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(self.command(dir, args).output().expect("run ferret"))
    }

    fn run_with_stdin(&self, dir: &Path, args: &[&str], input: String) -> Run {
        let output = self
            .command(dir, args)
            .write_stdin(input)
            .output()
            .expect("run ferret");
        Run::from(output)
    }

    /// The default cache file.
    fn cache_file(&self) -> PathBuf {
        self.cache.path().join("verify.sqlite")
    }
}

/// The usual arguments of a verifying scan of the current directory.
const VERIFY_DIR: [&str; 5] = ["dir", ".", "--verify", "--format", "jsonl"];

/// A tree holding some keys (one file each), a mock OpenAI API that knows them, and a private
/// cache: the setting of most tests.
struct Scenario {
    tree: Tree,
    mock: OpenAiMock,
    env: Env,
    keys: Vec<String>,
}

impl Scenario {
    fn new(keys: &[(&str, Behaviour)]) -> Self {
        let tree = Tree::new();
        for (index, (key, _)) in keys.iter().enumerate() {
            tree.write(&format!("config/app{index}.env"), env_line(key));
        }
        let mock = OpenAiMock::with_keys(keys.iter().cloned());
        let env = Env::of(&mock);
        Scenario {
            tree,
            mock,
            env,
            keys: keys.iter().map(|(key, _)| key.to_string()).collect(),
        }
    }

    /// `ferret dir . --verify --format jsonl EXTRA`; no run may print a full key or panic.
    fn verify(&self, extra: &[&str]) -> Run {
        let args: Vec<&str> = VERIFY_DIR.iter().chain(extra).copied().collect();
        self.run(&args)
    }

    fn run(&self, args: &[&str]) -> Run {
        let run = self.env.run(self.tree.path(), args);
        run.expect_no_panic();
        for key in &self.keys {
            run.expect_key_hidden(key);
        }
        run
    }
}

fn env_line(key: &str) -> String {
    format!("# service settings\nOPENAI_API_KEY={key}\n")
}

/// The one `verification` object of every record of `key` (they must all agree).
#[track_caller]
fn verification_of(records: &[Record], key: &str, run: &Run) -> Value {
    let fingerprint = fingerprint(key);
    let found: Vec<&Value> = records
        .iter()
        .filter(|r| r.fingerprint == fingerprint)
        .map(|r| &r.verification)
        .collect();
    assert!(
        !found.is_empty(),
        "{} not reported; {run}",
        describe_key(key)
    );
    assert!(
        found.iter().all(|v| *v == found[0]),
        "records of {} disagree: {found:?}",
        describe_key(key)
    );
    found[0].clone()
}

/// The verification status of `key` in the run's JSONL report.
#[track_caller]
fn status_of(run: &Run, key: &str) -> String {
    let verification = verification_of(&run.records(), key, run);
    verification["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no status in {verification}; {run}"))
        .to_string()
}

/// The most requests the mock was answering at one time, each answer having been held back for
/// `delay`: a request is certainly still open while less than `delay` has passed since it
/// arrived, so this never overstates (scheduling noise can only lower it).
fn most_in_flight(seen: &[Seen], delay: Duration) -> usize {
    seen.iter()
        .map(|s| {
            seen.iter()
                .filter(|o| o.at <= s.at && s.at < o.at + delay)
                .count()
        })
        .max()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Classification

#[test]
fn live_keys_of_every_inference_shape_are_checked_on_models_with_org_project_and_request_id() {
    let keys: Vec<String> = [
        Shape::Legacy,
        Shape::Project74,
        Shape::ServiceAccount74,
        Shape::NoProject,
    ]
    .iter()
    .map(|shape| shape.key())
    .collect();
    let s = Scenario::new(
        &keys
            .iter()
            .map(|k| (k.as_str(), Behaviour::valid()))
            .collect::<Vec<_>>(),
    );
    let run = s.verify(&[]);
    run.expect_code(1);
    let records = run.records();
    for key in &keys {
        let seen = s.mock.seen_for(key);
        assert_eq!(seen.len(), 1, "{}: {seen:?}", describe_key(key));
        assert_eq!(seen[0].path(), MODELS_PATH, "{}", describe_key(key));
        let verification = verification_of(&records, key, &run);
        assert_eq!(verification["status"], "live", "{verification}");
        assert_eq!(verification["organization"], ORGANIZATION, "{verification}");
        assert_eq!(verification["project"], PROJECT, "{verification}");
        assert_eq!(
            verification["request_id"], seen[0].request_id,
            "{verification}"
        );
    }
    assert_eq!(s.mock.request_count(), keys.len());
}

#[test]
fn admin_key_is_checked_on_the_admin_keys_endpoint() {
    let key = Shape::Admin.key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    let run = s.verify(&[]);
    run.expect_code(1);
    let targets: Vec<String> = s
        .mock
        .seen_for(&key)
        .into_iter()
        .map(|seen| seen.target)
        .collect();
    assert_eq!(targets, [format!("{ADMIN_KEYS_PATH}?limit=1")], "{run}");
    let verification = verification_of(&run.records(), &key, &run);
    assert_eq!(verification["status"], "live", "{verification}");
    assert_eq!(verification["organization"], ORGANIZATION, "{verification}");
}

#[test]
fn key_the_api_does_not_know_is_invalid() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::Invalid)]);
    let run = s.verify(&[]);
    run.expect_code(1);
    let verification = verification_of(&run.records(), &key, &run);
    assert_eq!(verification["status"], "invalid", "{verification}");
    assert!(verification.get("organization").is_none(), "{verification}");
    assert_eq!(
        s.mock.requests_for(&key),
        1,
        "an invalid key is not retried"
    );
}

#[test]
fn key_of_a_deactivated_account_is_invalid() {
    let key = Shape::Legacy.key();
    let s = Scenario::new(&[(&key, Behaviour::Deactivated)]);
    let run = s.verify(&[]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "invalid");
    assert_eq!(s.mock.requests_for(&key), 1);
}

#[test]
fn key_missing_a_scope_is_restricted_whatever_the_status_and_error_shape() {
    let cases = [(403, false), (403, true), (401, false), (401, true)];
    let keys: Vec<String> = cases.iter().map(|_| project_key()).collect();
    let s = Scenario::new(
        &keys
            .iter()
            .zip(cases)
            .map(|(key, (status, bare))| (key.as_str(), Behaviour::Restricted { status, bare }))
            .collect::<Vec<_>>(),
    );
    let run = s.verify(&[]);
    run.expect_code(1);
    for (key, (status, bare)) in keys.iter().zip(cases) {
        assert_eq!(
            status_of(&run, key),
            "restricted",
            "HTTP {status}, bare-string error {bare}; {run}"
        );
        assert_eq!(s.mock.requests_for(key), 1);
    }
}

#[test]
fn key_without_quota_is_quota_exceeded_and_not_retried() {
    let (with_code, type_only) = (project_key(), Shape::Legacy.key());
    let s = Scenario::new(&[
        (&with_code, Behaviour::Quota { with_code: true }),
        (&type_only, Behaviour::Quota { with_code: false }),
    ]);
    let run = s.verify(&[]);
    run.expect_code(1);
    for key in [&with_code, &type_only] {
        assert_eq!(status_of(&run, key), "quota_exceeded", "{run}");
        assert_eq!(s.mock.requests_for(key), 1, "{}", describe_key(key));
    }
}

// ---------------------------------------------------------------------------------------------
// Retries, timeouts, unreachable API

#[test]
fn rate_limited_key_is_asked_again_after_retry_after_and_is_live() {
    let key = project_key();
    let s = Scenario::new(&[(
        &key,
        Behaviour::Sequence(vec![
            Behaviour::RateLimited {
                retry_after_secs: 1,
            },
            Behaviour::valid(),
        ]),
    )]);
    let run = s.verify(&[]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "live", "{run}");
    let seen = s.mock.seen_for(&key);
    assert_eq!(seen.len(), 2, "{seen:?}");
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "asked again after {waited:?}, before Retry-After: 1"
    );
}

#[test]
fn key_rate_limited_on_every_attempt_is_an_error_after_the_retries() {
    let key = project_key();
    let s = Scenario::new(&[(
        &key,
        Behaviour::RateLimited {
            retry_after_secs: 1,
        },
    )]);
    let run = s.verify(&[]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "error", "{run}");
    assert_eq!(s.mock.requests_for(&key), 3, "one request and 2 retries");
}

#[test]
fn server_error_then_success_is_live() {
    let key = project_key();
    let s = Scenario::new(&[(
        &key,
        Behaviour::Sequence(vec![Behaviour::ServerError(500), Behaviour::valid()]),
    )]);
    let run = s.verify(&[]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "live", "{run}");
    assert_eq!(s.mock.requests_for(&key), 2);
}

#[test]
fn api_unavailable_on_every_attempt_is_an_error_never_invalid() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::ServerError(503))]);
    let run = s.verify(&[]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "error", "{run}");
    assert_eq!(s.mock.requests_for(&key), 3, "one request and 2 retries");
}

#[test]
fn answer_slower_than_the_timeout_is_an_error_that_says_timeout() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid().after(Duration::from_secs(5)))]);
    let run = s.verify(&["--verify-timeout", "1s", "--verify-retries", "1"]);
    run.expect_code(1);
    let verification = verification_of(&run.records(), &key, &run);
    assert_eq!(verification["status"], "error", "{verification}");
    let detail = verification["detail"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        detail.contains("timeout") || detail.contains("timed out"),
        "{verification}"
    );
    assert_eq!(s.mock.requests_for(&key), 2, "a timeout is retried");
}

#[test]
fn api_that_refuses_connections_gives_an_error() {
    let closed = support::providers::closed_base();
    let tree = Tree::new();
    let key = project_key();
    tree.write("app.env", env_line(&key));
    let env = Env::new(closed.clone());
    let run = env.run(tree.path(), &VERIFY_DIR);
    run.expect_code(1).expect_key_hidden(&key);
    assert_eq!(status_of(&run, &key), "error", "{run}");
}

#[test]
fn verification_on_a_terminal_counts_keys_and_a_stream_shows_no_bar() {
    let mock = OpenAiMock::start();
    let env = Env::of(&mock);
    let tree = Tree::new();
    for i in 0..3 {
        tree.write(&format!("app{i}.env"), env_line(&project_key()));
    }
    let command = |args: &[&str]| {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ferret"));
        command
            .args(args)
            .current_dir(tree.path())
            .env("FERRET_OPENAI_API_BASE", &env.api_base)
            .env("FERRET_CACHE_DIR", env.cache.path());
        command
    };
    let shown = support::on_a_terminal(&command(&VERIFY_DIR));
    assert_eq!(shown.code, 1, "{shown}");
    assert!(shown.stdout.contains("/3 keys verified"), "{shown}");
    let streamed = support::on_a_terminal(&command(&["log", "app0.env", "--verify"]));
    assert!(!streamed.stdout.contains("keys verified"), "{streamed}");
}

#[test]
fn keys_left_unverified_are_told_once_per_api_host_not_once_per_key() {
    let closed = support::providers::closed_base();
    let tree = Tree::new();
    let keys: Vec<String> = (0..3).map(|_| project_key()).collect();
    for (i, key) in keys.iter().enumerate() {
        tree.write(&format!("app{i}.env"), env_line(key));
    }
    let env = Env::new(closed.clone());
    let run = env.run(
        tree.path(),
        &[&VERIFY_DIR[..], &["--verify-retries", "0"]].concat(),
    );
    run.expect_code(1);
    let told: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("left unverified"))
        .collect();
    assert_eq!(told.len(), 1, "{run}");
    assert!(
        told[0].starts_with(&format!(
            "ferret: warning: {}: 3 keys left unverified (status error: ",
            closed.trim_start_matches("http://")
        )),
        "{run}"
    );

    // A SARIF report carries it too, in a batch scan and at the end of a stream.
    for scan in [
        &["dir", ".", "--verify"][..],
        &["log", "app0.env", "--verify"],
    ] {
        let args = [scan, &["--verify-retries", "0", "--format", "sarif"]].concat();
        let run = env.run(tree.path(), &args);
        run.expect_code(1);
        let log: serde_json::Value = serde_json::from_str(&run.stdout).expect("SARIF");
        let told = &log["runs"][0]["invocations"][0]["toolExecutionNotifications"];
        assert!(
            told.to_string().contains("left unverified (status error: "),
            "{run}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Once per key, concurrency, budget

#[test]
fn the_same_key_in_five_files_is_checked_once() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    for index in 1..5 {
        s.tree.write(
            &format!("service{index}/settings.py"),
            format!("KEY = '{key}'\n"),
        );
    }
    let run = s.verify(&[]);
    run.expect_code(1);
    let records = run.records();
    let statuses: Vec<&Value> = records
        .iter()
        .filter(|r| r.fingerprint == fingerprint(&key))
        .map(|r| &r.verification["status"])
        .collect();
    assert_eq!(statuses, ["live"; 5], "{records:?}");
    assert_eq!(s.mock.requests_for(&key), 1);
}

/// Six keys in one file, each answered after `delay`.
fn six_slow_keys(delay: Duration) -> Scenario {
    let keys: Vec<String> = (0..6).map(|_| project_key()).collect();
    let s = Scenario::new(
        &keys
            .iter()
            .map(|k| (k.as_str(), Behaviour::valid().after(delay)))
            .collect::<Vec<_>>(),
    );
    let all: String = keys.iter().map(|k| env_line(k)).collect();
    s.tree.write("config/all.env", all);
    s
}

#[test]
fn no_more_than_verify_concurrency_requests_are_in_flight() {
    let delay = Duration::from_secs(1);
    let s = six_slow_keys(delay);
    let started = Instant::now();
    let run = s.verify(&["--verify-concurrency", "2"]);
    let took = started.elapsed();
    run.expect_code(1);
    for key in &s.keys {
        assert_eq!(status_of(&run, key), "live", "{run}");
    }
    let seen = s.mock.seen();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(
        most_in_flight(&seen, delay) <= 2,
        "more than 2 requests open at once: {seen:?}"
    );
    assert!(
        took >= 3 * delay,
        "6 one-second answers, 2 at a time, in {took:?}"
    );
}

#[test]
fn with_enough_concurrency_every_request_is_in_flight_at_once() {
    let delay = Duration::from_secs(2);
    let s = six_slow_keys(delay);
    let run = s.verify(&["--verify-concurrency", "8"]);
    run.expect_code(1);
    let seen = s.mock.seen();
    assert_eq!(seen.len(), 6, "{seen:?}");
    for key in &s.keys {
        assert_eq!(s.mock.requests_for(key), 1);
        assert_eq!(status_of(&run, key), "live", "{run}");
    }
    assert_eq!(
        most_in_flight(&seen, delay),
        6,
        "all six should be asked before the first answer: {seen:?}"
    );
}

#[test]
fn keys_not_checked_within_the_budget_stay_unverified() {
    let keys = [project_key(), Shape::Legacy.key()];
    let slow = || Behaviour::valid().after(Duration::from_secs(10));
    let s = Scenario::new(&[(&keys[0], slow()), (&keys[1], slow())]);
    let started = Instant::now();
    let run = s.verify(&["--verify-budget", "1s"]);
    let took = started.elapsed();
    run.expect_code(1);
    for key in &keys {
        assert_eq!(status_of(&run, key), "unverified", "{run}");
    }
    assert!(
        took < Duration::from_secs(6),
        "a 1 s budget, yet the run took {took:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cache

#[test]
fn second_run_is_answered_from_the_cache_and_no_verify_cache_asks_again() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);

    assert_eq!(status_of(s.verify(&[]).expect_code(1), &key), "live");
    assert_eq!(s.mock.requests_for(&key), 1);

    let cached = s.verify(&[]);
    cached.expect_code(1);
    assert_eq!(status_of(&cached, &key), "live", "{cached}");
    assert_eq!(s.mock.requests_for(&key), 1, "the second run asked the API");

    let uncached = s.verify(&["--no-verify-cache"]);
    uncached.expect_code(1);
    assert_eq!(status_of(&uncached, &key), "live", "{uncached}");
    assert_eq!(
        s.mock.requests_for(&key),
        2,
        "--no-verify-cache did not ask"
    );
}

#[test]
fn the_cache_file_never_holds_a_key() {
    let (live, invalid) = (project_key(), Shape::Legacy.key());
    let s = Scenario::new(&[(&live, Behaviour::valid()), (&invalid, Behaviour::Invalid)]);
    s.verify(&[]).expect_code(1);
    assert!(s.env.cache_file().is_file(), "no cache at the default path");

    // The database and any journal or WAL file next to it.
    let mut files = 0;
    for entry in std::fs::read_dir(s.env.cache.path()).expect("cache directory") {
        let path = entry.expect("entry").path();
        if !path.is_file() {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).expect("read cache file");
        for key in [&live, &invalid] {
            for needle in [key.as_bytes(), &key.as_bytes()[key.len() - 40..]] {
                assert!(
                    !contains(&bytes, needle),
                    "{} holds (part of) {}",
                    path.display(),
                    describe_key(key)
                );
            }
            // A keyed hash: not the plain SHA-256 every report shows as the fingerprint.
            let digest = fingerprint(key);
            let raw = hex_bytes(&digest);
            assert!(
                !contains(&bytes, digest.as_bytes()) && !contains(&bytes, &raw),
                "{} is keyed by the plain fingerprint of {}",
                path.display(),
                describe_key(key)
            );
        }
    }
    assert!(files >= 1);

    // The cache still works: nothing is asked again.
    s.verify(&[]).expect_code(1);
    assert_eq!(s.mock.request_count(), 2);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn verify_cache_names_the_cache_file() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    let elsewhere = tempfile::tempdir().expect("temporary directory");
    let file = elsewhere.path().join("mine.sqlite");
    let file_arg = file.to_str().expect("UTF-8 path");
    s.verify(&["--verify-cache", file_arg]).expect_code(1);
    assert!(file.is_file(), "no cache written to --verify-cache");
    assert!(
        !s.env.cache_file().exists(),
        "the default cache was written"
    );
    s.verify(&["--verify-cache", file_arg]).expect_code(1);
    assert_eq!(s.mock.requests_for(&key), 1);
}

#[test]
fn cached_results_expire_after_the_ttl() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    s.verify(&["--verify-cache-ttl", "1s"]).expect_code(1);
    std::thread::sleep(Duration::from_millis(2100));
    let run = s.verify(&["--verify-cache-ttl", "1s"]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "live");
    assert_eq!(s.mock.requests_for(&key), 2, "an expired result was used");
}

#[test]
fn errors_are_not_cached() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::ServerError(503))]);
    let args = ["--verify-retries", "0"];
    assert_eq!(status_of(s.verify(&args).expect_code(1), &key), "error");
    assert_eq!(status_of(s.verify(&args).expect_code(1), &key), "error");
    assert_eq!(s.mock.requests_for(&key), 2, "the error was cached");
}

// ---------------------------------------------------------------------------------------------
// Where keys may be sent

#[test]
fn a_scanned_ferret_toml_cannot_send_keys_elsewhere() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    let thief = OpenAiMock::with_keys([(key.as_str(), Behaviour::valid())]);
    s.tree.write(
        ".ferret.toml",
        format!("[verify]\napi_base = \"{}\"\n", thief.uri()),
    );
    let run = s.verify(&[]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "live", "{run}");
    assert_eq!(s.mock.requests_for(&key), 1);
    assert_eq!(thief.request_count(), 0, "the tree's api_base was used");
    assert!(
        run.stderr.contains("api_base") || run.stderr.contains(".ferret.toml"),
        "no warning about the ignored setting; {run}"
    );
}

#[test]
fn redirects_are_not_followed() {
    let key = project_key();
    let target = OpenAiMock::with_keys([(key.as_str(), Behaviour::valid())]);
    let s = Scenario::new(&[(
        &key,
        Behaviour::Redirect(format!("{}{MODELS_PATH}", target.uri())),
    )]);
    let run = s.verify(&[]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "error", "{run}");
    assert_eq!(target.request_count(), 0, "the redirect was followed");
}

#[test]
fn plain_http_api_base_off_loopback_is_refused() {
    let tree = Tree::new();
    let key = project_key();
    tree.write("app.env", env_line(&key));
    let env = Env::new("http://example.com");
    let run = env.run(tree.path(), &VERIFY_DIR);
    run.expect_code(2).expect_key_hidden(&key);
    assert_eq!(
        run.stderr.trim().lines().count(),
        1,
        "not a one-line error; {run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
}

#[test]
fn without_verify_nothing_is_sent_and_keys_are_unverified() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    let run = s.run(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "unverified");
    assert_eq!(s.mock.request_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Exit codes

#[test]
fn fail_on_live_passes_invalid_keys_and_fails_on_a_live_one() {
    let (a, b) = (project_key(), Shape::Legacy.key());
    let s = Scenario::new(&[(&a, Behaviour::Invalid), (&b, Behaviour::Deactivated)]);
    let run = s.verify(&["--fail-on", "live"]);
    run.expect_code(0);
    assert_eq!(run.records().len(), 2, "the findings are still reported");

    let live = Shape::ServiceAccount74.key();
    s.mock.add_key(&live, Behaviour::valid());
    s.tree.write("deploy/live.env", env_line(&live));
    let run = s.verify(&["--fail-on", "live"]);
    run.expect_code(1).expect_key_hidden(&live);
    assert_eq!(status_of(&run, &live), "live");
}

#[test]
fn fail_on_live_counts_restricted_and_quota_exceeded_keys_as_live() {
    for (behaviour, status) in [
        (
            Behaviour::Restricted {
                status: 403,
                bare: false,
            },
            "restricted",
        ),
        (Behaviour::Quota { with_code: true }, "quota_exceeded"),
    ] {
        let key = project_key();
        let s = Scenario::new(&[(&key, behaviour)]);
        let run = s.verify(&["--fail-on", "live"]);
        run.expect_code(1);
        assert_eq!(status_of(&run, &key), status);
    }
}

#[test]
fn fail_on_live_fails_when_verification_cannot_tell_unless_allowed() {
    // No network: every check ends in `error`. A gate that cannot tell must not pass.
    let closed = support::providers::closed_base();
    let tree = Tree::new();
    let key = project_key();
    tree.write("app.env", env_line(&key));
    let env = Env::new(closed.clone());
    let args = [
        "dir",
        ".",
        "--verify",
        "--format",
        "jsonl",
        "--fail-on",
        "live",
    ];
    let run = env.run(tree.path(), &args);
    run.expect_code(1).expect_key_hidden(&key);
    assert_eq!(status_of(&run, &key), "error", "{run}");
    assert!(run.stderr.contains("--allow-unverified"), "{run}");

    let mut allowed = args.to_vec();
    allowed.push("--allow-unverified");
    let run = env.run(tree.path(), &allowed);
    run.expect_code(0).expect_key_hidden(&key);
    assert_eq!(run.records().len(), 1, "still reported; {run}");

    // A budget that runs out leaves keys `unverified`: the same.
    let s = Scenario::new(&[(&key, Behaviour::valid().after(Duration::from_secs(5)))]);
    let run = s.verify(&["--fail-on", "live", "--verify-budget", "50ms"]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "unverified", "{run}");
}

// ---------------------------------------------------------------------------------------------
// `ferret verify`, the other scanning commands, the other formats

#[test]
fn verify_command_checks_an_earlier_report_written_with_show_secrets() {
    let (live, invalid) = (project_key(), Shape::Legacy.key());
    let s = Scenario::new(&[(&live, Behaviour::valid()), (&invalid, Behaviour::Invalid)]);
    s.tree.write("more/dup.env", env_line(&live));
    let report = s.tree.join("findings.jsonl");
    let report_arg = report.to_str().expect("UTF-8 path");
    // The report holds full keys by design; only the file does, never the terminal.
    let scan = s.env.run(
        s.tree.path(),
        &["dir", "config", "more", "--show-secrets", "-o", report_arg],
    );
    scan.expect_code(1)
        .expect_key_hidden(&live)
        .expect_key_hidden(&invalid);
    assert_eq!(s.mock.request_count(), 0, "the scan itself must not verify");

    let run = s.run(&["verify", "--input", report_arg, "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(status_of(&run, &live), "live");
    assert_eq!(status_of(&run, &invalid), "invalid");
    assert_eq!(s.mock.requests_for(&live), 1);
    assert_eq!(s.mock.requests_for(&invalid), 1);

    let run = s.run(&[
        "verify",
        "--input",
        report_arg,
        "--fail-on",
        "live",
        "-o",
        "verified.jsonl",
    ]);
    run.expect_code(1);
    assert!(run.stdout.is_empty(), "{run}");
    let written = std::fs::read_to_string(s.tree.join("verified.jsonl")).expect("-o report");
    let records = support::parse_jsonl(&written);
    assert_eq!(
        verification_of(&records, &live, &run)["status"],
        "live",
        "{records:?}"
    );
    assert!(
        !written.contains(live.as_str()) && !written.contains(invalid.as_str()),
        "the verified report shows a full key without --show-secrets"
    );
    assert_eq!(s.mock.request_count(), 2, "the cache was not used");
}

#[test]
fn verify_command_refuses_a_redacted_report() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    let report = s.tree.join("findings.jsonl");
    let report_arg = report.to_str().expect("UTF-8 path");
    s.run(&["dir", "config", "-o", report_arg]).expect_code(1);
    let redacted = std::fs::read_to_string(&report).expect("report");
    assert!(redacted.contains('…'), "the report is not redacted");

    let run = s.run(&["verify", "--input", report_arg]);
    run.expect_code(2);
    assert!(run.stderr.contains("--show-secrets"), "{run}");
    assert_eq!(s.mock.request_count(), 0);
}

#[test]
fn stdin_verify_reports_the_status() {
    let key = project_key();
    let mock = OpenAiMock::with_keys([(key.as_str(), Behaviour::valid())]);
    let env = Env::of(&mock);
    let tree = Tree::new();
    let input = format!("10:00:00 INFO boot\n10:00:01 DEBUG OPENAI_API_KEY={key}\n");
    let run = env.run_with_stdin(
        tree.path(),
        &["stdin", "--verify", "--format", "jsonl"],
        input,
    );
    run.expect_code(1).expect_key_hidden(&key);
    assert_eq!(status_of(&run, &key), "live", "{run}");
    assert_eq!(mock.requests_for(&key), 1);
}

#[test]
fn git_verify_reports_the_status_of_a_committed_key() {
    let (live, invalid) = (project_key(), Shape::Legacy.key());
    let mock = OpenAiMock::with_keys([(live.as_str(), Behaviour::valid())]);
    let env = Env::of(&mock);
    let mut repo = Repo::new();
    repo.write("README.md", "hello\n");
    repo.commit_all("init");
    repo.write("config/.env", env_line(&live));
    repo.write("old.py", format!("KEY = '{invalid}'\n"));
    repo.commit_all("add settings");
    repo.git(&["rm", "-q", "old.py"]);
    repo.commit_all("remove old key");

    let run = env.run(repo.path(), &["git", ".", "--verify", "--format", "jsonl"]);
    run.expect_code(1)
        .expect_key_hidden(&live)
        .expect_key_hidden(&invalid);
    assert_eq!(status_of(&run, &live), "live", "{run}");
    assert_eq!(status_of(&run, &invalid), "invalid", "{run}");
    assert!(run.records().iter().all(|r| r.commit.is_some()));
    assert_eq!(mock.request_count(), 2);
}

#[test]
fn log_verify_reports_the_status() {
    let key = Shape::ServiceAccount46.key();
    let s = Scenario::new(&[(&key, Behaviour::Quota { with_code: true })]);
    s.tree
        .write("logs/app.log", format!("boot\nusing key {key}\n"));
    let run = s.run(&["log", "logs/app.log", "--verify", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(status_of(&run, &key), "quota_exceeded", "{run}");
}

#[test]
fn text_report_shows_the_status() {
    let key = project_key();
    let s = Scenario::new(&[(
        &key,
        Behaviour::Restricted {
            status: 403,
            bare: true,
        },
    )]);
    let run = s.run(&["dir", ".", "--verify"]);
    run.expect_code(1);
    // `status  restricted`, possibly followed by the reason (`restricted: Missing scopes…`).
    let status_word = |line: &str| {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("status") => words
                .next()
                .map(|word| word.trim_end_matches([':', ',', ';']).to_string()),
            _ => None,
        }
    };
    let statuses: Vec<String> = run.stdout.lines().filter_map(status_word).collect();
    assert_eq!(statuses, ["restricted"], "{run}");
}

#[test]
fn sarif_results_carry_the_status() {
    let (live, invalid) = (project_key(), Shape::Legacy.key());
    let s = Scenario::new(&[(&live, Behaviour::valid()), (&invalid, Behaviour::Invalid)]);
    let run = s.run(&["dir", ".", "--verify", "--format", "sarif"]);
    run.expect_code(1);
    let sarif = run.json();
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{run}");
    for key in [&live, &invalid] {
        let result = results
            .iter()
            .find(|r| r["properties"]["fingerprint"] == fingerprint(key))
            .unwrap_or_else(|| panic!("no result for {}; {run}", describe_key(key)));
        let status = result["properties"]["verification"]["status"]
            .as_str()
            .unwrap_or_default();
        let expected = if key == &live { "live" } else { "invalid" };
        assert_eq!(status, expected, "{run}");
        let message = result["message"]["text"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "message {message:?}");
    }
}

#[test]
fn durations_take_ms_s_m_h_or_plain_seconds() {
    let key = project_key();
    let s = Scenario::new(&[(&key, Behaviour::valid())]);
    for duration in ["1500ms", "2s", "1m", "1h", "10"] {
        let run = s.verify(&["--no-verify-cache", "--verify-timeout", duration]);
        assert_eq!(run.code, 1, "--verify-timeout {duration}; {run}");
    }
    for option in ["--verify-budget", "--verify-cache-ttl"] {
        let run = s.verify(&[option, "1m"]);
        assert_eq!(run.code, 1, "{option} 1m; {run}");
    }
    let run = s.verify(&["--verify-timeout", "ten seconds"]);
    run.expect_code(2);
}

// ---------------------------------------------------------------------------------------------
// The mock itself answers like the documented API (reference/APIS.md §B).

/// `GET target` on `base` over plain HTTP/1.1: status, lowercase headers, JSON body.
fn get(base: &str, target: &str, key: Option<&str>) -> (u16, Vec<(String, String)>, Value) {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect to the mock");
    let auth = key
        .map(|key| format!("Authorization: Bearer {key}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a full response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_lowercase(), value.trim().to_string()))
        .collect();
    (
        status,
        headers,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_mock_answers_like_the_documented_api() {
    let (valid, admin, unknown) = (project_key(), Shape::Admin.key(), Shape::Legacy.key());
    let mock = OpenAiMock::with_keys([
        (valid.as_str(), Behaviour::valid()),
        (admin.as_str(), Behaviour::valid()),
    ]);
    let base = mock.uri();

    let (status, headers, body) = get(&base, MODELS_PATH, Some(&valid));
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["object"], "model");
    assert_eq!(header(&headers, "openai-organization"), Some(ORGANIZATION));
    assert_eq!(header(&headers, "openai-version"), Some("2020-10-01"));
    assert!(header(&headers, "openai-processing-ms").is_some());
    for kind in ["limit", "remaining", "reset"] {
        for unit in ["requests", "tokens"] {
            let name = format!("x-ratelimit-{kind}-{unit}");
            assert!(header(&headers, &name).is_some(), "{name}");
        }
    }
    let id = header(&headers, "x-request-id").expect("x-request-id");
    assert!(
        id.len() == 36 && id.starts_with("req_") && id[4..].chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );

    let (status, headers, body) = get(&base, MODELS_PATH, None);
    assert_eq!(status, 401);
    assert!(header(&headers, "x-request-id").is_some());
    assert_eq!(body["error"]["code"], Value::Null);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("You didn't provide an API key")
    );

    let (status, _, body) = get(&base, MODELS_PATH, Some(&unknown));
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let echo = masked(&unknown);
    assert_eq!(echo.len(), unknown.len());
    assert!(echo.starts_with(&unknown[..8]) && echo.ends_with(&unknown[unknown.len() - 4..]));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&echo)
    );

    let admin_list = format!("{ADMIN_KEYS_PATH}?limit=1");
    let (status, _, body) = get(&base, &admin_list, Some(&admin));
    assert_eq!(status, 200);
    assert_eq!(body["has_more"], false);
    assert_eq!(body["first_id"], Value::Null);
    let (status, _, body) = get(&base, &admin_list, Some(&valid));
    assert_eq!(status, 403);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("Missing scopes: api.management.read")
    );

    assert_eq!(mock.requests_for(&valid), 2);
    assert_eq!(mock.requests_for(&admin), 1);
    assert_eq!(mock.request_count(), 5);
}
