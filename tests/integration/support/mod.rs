//! What every integration test shares: synthetic OpenAI keys of every shape, temporary trees,
//! running the `ferret` binary, and reading its reports.
//!
//! No key may be committed, not even a fake one that looks real (the repository is scanned by
//! ferret itself and by other scanners), so keys are built at run time from random parts and a
//! marker that is itself split in two. Failure messages never print a full key either: they
//! show fingerprints, or the run's output with every key masked.

mod faults;
pub mod git;
pub mod git_server;
pub mod github;
pub mod hostile;
pub mod key_admins;
pub mod openai;
pub mod openai_org;
pub mod openai_usage;
pub mod providers;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every built-in rule, in the order `ferret rules list` and SARIF reports give them.
pub const BUILTIN_RULE_IDS: [&str; 18] = [
    "openai-legacy-key",
    "openai-project-key",
    "openai-service-account-key",
    "openai-no-project-key",
    "openai-admin-key",
    "anthropic-api-key",
    "anthropic-admin-key",
    "google-api-key",
    "huggingface-token",
    "groq-api-key",
    "xai-api-key",
    "openrouter-api-key",
    "azure-openai-api-key",
    "mistral-api-key",
    "cohere-api-key",
    "replicate-api-token",
    "deepseek-api-key",
    "google-gemini-auth-key",
];

/// The base64 of "OpenAI" that every OpenAI key carries, assembled so no grep finds it here.
pub fn marker() -> String {
    ["T3Bl", "bkFJ"].concat()
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[fastrand::usize(..alphabet.len())] as char)
        .collect()
}

/// `len` random letters and digits.
pub fn random_alnum(len: usize) -> String {
    random_from(ALNUM, len)
}

/// `len` random base64url characters (letters, digits, `-`, `_`).
pub fn random_b64url(len: usize) -> String {
    random_from(B64URL, len)
}

/// Every key shape of reference/APIS.md §A that ferret detects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `sk-` + 20 + marker + 20, letters and digits.
    Legacy,
    /// `sk-proj-` + 74 + marker + 74 (current project keys).
    Project74,
    /// `sk-proj-` + 58 + marker + 58.
    Project58,
    /// `sk-proj-` + 20 + marker + 20 (early 2024 project keys).
    Project20,
    /// `sk-svcacct-` + 74 + marker + 74.
    ServiceAccount74,
    /// `sk-svcacct-` + 46 + marker + 46.
    ServiceAccount46,
    /// `sk-None-` + 74 + marker + 74.
    NoProject,
    /// `sk-admin-` + 58 + marker + 58.
    Admin,
}

impl Shape {
    pub const ALL: [Shape; 8] = [
        Shape::Legacy,
        Shape::Project74,
        Shape::Project58,
        Shape::Project20,
        Shape::ServiceAccount74,
        Shape::ServiceAccount46,
        Shape::NoProject,
        Shape::Admin,
    ];

    /// The id of the rule that must report this shape.
    pub fn rule(self) -> &'static str {
        match self {
            Shape::Legacy => "openai-legacy-key",
            Shape::Project74 | Shape::Project58 | Shape::Project20 => "openai-project-key",
            Shape::ServiceAccount74 | Shape::ServiceAccount46 => "openai-service-account-key",
            Shape::NoProject => "openai-no-project-key",
            Shape::Admin => "openai-admin-key",
        }
    }

    /// A fresh random key of this shape.
    pub fn key(self) -> String {
        let (prefix, half, alphabet) = match self {
            Shape::Legacy => ("sk-", 20, ALNUM),
            Shape::Project74 => ("sk-proj-", 74, B64URL),
            Shape::Project58 => ("sk-proj-", 58, B64URL),
            Shape::Project20 => ("sk-proj-", 20, B64URL),
            Shape::ServiceAccount74 => ("sk-svcacct-", 74, B64URL),
            Shape::ServiceAccount46 => ("sk-svcacct-", 46, B64URL),
            Shape::NoProject => ("sk-None-", 74, B64URL),
            Shape::Admin => ("sk-admin-", 58, B64URL),
        };
        format!(
            "{prefix}{}{}{}",
            random_from(alphabet, half),
            marker(),
            random_from(alphabet, half)
        )
    }
}

/// A current-shape project key, the most common kind.
pub fn project_key() -> String {
    Shape::Project74.key()
}

/// A project key whose halves (and so the whole key) end in `last` (`-` or `_`).
pub fn project_key_ending_in(last: char) -> String {
    format!(
        "sk-proj-{}{last}{}{}{last}",
        random_b64url(73),
        marker(),
        random_b64url(73)
    )
}

/// The contract's fingerprint: SHA-256 of the secret, lowercase hex.
pub fn fingerprint(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What a failure message may say about a key: its fingerprint's first twelve digits.
pub fn describe_key(key: &str) -> String {
    format!("<key fp {}>", &fingerprint(key)[..12])
}

/// Replaces everything that looks like a key with [`describe_key`], so output can go into a
/// failure message.
pub fn mask_keys(text: &str) -> String {
    let pattern = format!("sk-[A-Za-z0-9_-]{{10,}}{}[A-Za-z0-9_-]{{10,}}", marker());
    Regex::new(&pattern)
        .expect("valid regex")
        .replace_all(text, |caps: &regex::Captures| describe_key(&caps[0]))
        .into_owned()
}

/// The proxy variables a test run must not inherit (a loopback mock must be reached directly).
pub const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// A wiremock server on loopback answering every request with one responder, with the tokio
/// runtime it needs: the tests are synchronous (they run the binary and wait), and the server
/// answers on a thread of its own.
pub struct Served {
    // Declared before the runtime so the server is dropped first.
    server: wiremock::MockServer,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    /// Starts the server; `responder` is made knowing the server's base URL.
    pub fn start<R: wiremock::Respond + 'static>(responder: impl FnOnce(&str) -> R) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for the mock");
        let server = runtime.block_on(async {
            let server = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::any())
                .respond_with(responder(&server.uri()))
                .mount(&server)
                .await;
            server
        });
        Served { server, runtime }
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every request received, in order.
    pub fn received(&self) -> Vec<wiremock::Request> {
        self.runtime
            .block_on(self.server.received_requests())
            .expect("request recording is on")
    }
}

/// A child process in a process group of its own, so that `kill -9` takes what it started
/// (git, hooks) down with it, as an out-of-memory killer or a cancelled CI job does.
pub struct Killable(std::process::Child);

impl Killable {
    /// Starts `command` with no standard input and its output thrown away.
    pub fn spawn(command: &mut std::process::Command) -> Self {
        use std::os::unix::process::CommandExt;
        let child = command
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the process");
        Killable(child)
    }

    /// Whether it has ended on its own.
    pub fn exited(&mut self) -> bool {
        self.0.try_wait().expect("poll the process").is_some()
    }

    /// `kill -9` on the whole group, then reaps the process.
    pub fn kill(mut self) {
        let group = format!("-{}", self.0.id());
        // The group may be gone already (the process ended by itself).
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .status();
        self.0.wait().expect("reap the process");
    }
}

/// A TCP listener on a loopback address that serves each connection on a thread of its own
/// until it is dropped: the base of the raw servers (git, hostile). `serve` is told whether
/// the server is stopping, so a long answer can end early.
pub struct Acceptor {
    address: std::net::SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Acceptor {
    /// Listens on `ip` (`127.0.0.1`, `127.0.0.2`…), any port.
    pub fn start(
        ip: &str,
        serve: impl Fn(std::net::TcpStream, &AtomicBool) + Send + Sync + 'static,
    ) -> Self {
        let listener = std::net::TcpListener::bind((ip, 0)).expect("a loopback port");
        let address = listener.local_addr().expect("the bound address");
        let stopping = Arc::new(AtomicBool::new(false));
        let serve = Arc::new(serve);
        let thread = {
            let stopping = stopping.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (serve, stopping) = (serve.clone(), stopping.clone());
                    std::thread::spawn(move || serve(stream, &stopping));
                }
            })
        };
        Acceptor {
            address,
            stopping,
            thread: Some(thread),
        }
    }

    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the flag.
        let _ = std::net::TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A temporary directory holding the tree a test scans.
pub struct Tree {
    dir: TempDir,
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    pub fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` under the tree.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `contents` to `rel`, creating its directories.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// Runs `ferret ARGS` with the tree as the current directory.
    pub fn ferret(&self, args: &[&str]) -> Run {
        ferret_in(self.path(), args)
    }
}

/// Longest any single run may take before the test fails instead of hanging.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The built binary as an assert_cmd command, with a predictable environment: backtraces on
/// (so a panic could not hide), and a timeout.
pub fn ferret_command() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("ferret").expect("ferret binary is built");
    command
        .env("RUST_BACKTRACE", "1")
        .env_remove("NO_COLOR")
        .timeout(RUN_TIMEOUT);
    command
}

/// Runs `ferret ARGS` in `dir`.
pub fn ferret_in(dir: &Path, args: &[&str]) -> Run {
    let output = ferret_command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run ferret");
    Run::from(output)
}

/// `ferret` in `dir`, cut off from this machine's world: cache and state under `private`, every
/// provider's API base at a closed loopback port, no proxy, no GitHub or OpenAI credentials or
/// CA overrides inherited, stdin empty. Tests that point a provider at a mock set its base
/// after this.
pub fn isolated_ferret(dir: &Path, private: &Path) -> std::process::Command {
    let closed = providers::closed_base();
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ferret"));
    command
        .current_dir(dir)
        .env("FERRET_CACHE_DIR", private.join("cache"))
        .env("FERRET_STATE_DIR", private.join("state"))
        .env("RUST_BACKTRACE", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null());
    for variable in [
        "GITHUB_TOKEN",
        "GITHUB_REPOSITORY",
        "GITHUB_STEP_SUMMARY",
        "OPENAI_ADMIN_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_ADMIN_KEY",
        "OPENROUTER_MANAGEMENT_KEY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "FERRET_GITHUB_API_BASE",
        "NO_PROXY",
        "no_proxy",
    ]
    .into_iter()
    .chain(PROXY_VARIABLES)
    {
        command.env_remove(variable);
    }
    for variable in providers::API_BASE_VARIABLES {
        command.env(variable, &closed);
    }
    command
}

/// Runs a command to completion; panics naming it when it cannot start.
pub fn run_command(command: &mut std::process::Command) -> Run {
    let shown = format!("{command:?}");
    Run::from(
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e}")),
    )
}

/// `name` in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `SELECT …` on the SQLite database at `path`, each row's columns as text.
pub fn query_sqlite(path: &Path, sql: &str) -> Vec<Vec<String>> {
    let database = rusqlite::Connection::open(path).expect("the database exists");
    let mut statement = database.prepare(sql).expect("valid SQL");
    let columns = statement.column_count();
    statement
        .query_map([], |row| {
            (0..columns)
                .map(|i| {
                    let value: rusqlite::types::Value = row.get(i)?;
                    Ok(match value {
                        rusqlite::types::Value::Null => "NULL".to_string(),
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        other => format!("{other:?}"),
                    })
                })
                .collect()
        })
        .expect("query runs")
        .map(|row| row.expect("row reads"))
        .collect()
}

/// A finished run of the binary.
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The run as a failure message may show it: keys masked.
impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            mask_keys(&self.stdout),
            mask_keys(&self.stderr)
        )
    }
}

impl Run {
    /// Asserts the exit code, that stderr shows no panic, and returns the run.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code; {self}");
        self.expect_no_panic();
        self
    }

    #[track_caller]
    pub fn expect_no_panic(&self) -> &Self {
        for text in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!self.stderr.contains(text), "stderr shows a panic; {self}");
        }
        self
    }

    /// Asserts that `key` appears nowhere in stdout or stderr.
    #[track_caller]
    pub fn expect_key_hidden(&self, key: &str) -> &Self {
        assert!(
            !self.stdout.contains(key) && !self.stderr.contains(key),
            "the full key {} was printed; {self}",
            describe_key(key)
        );
        self
    }

    /// The JSONL report on stdout.
    #[track_caller]
    pub fn records(&self) -> Vec<Record> {
        parse_jsonl(&self.stdout)
    }

    /// The `verification` object of `key` in the JSONL report on stdout (every record of it
    /// must agree).
    #[track_caller]
    pub fn verification_of(&self, key: &str) -> Value {
        let fingerprint = fingerprint(key);
        let found: Vec<Value> = self
            .records()
            .into_iter()
            .filter(|r| r.fingerprint == fingerprint)
            .map(|r| r.verification)
            .collect();
        assert!(
            !found.is_empty(),
            "{} not reported; {self}",
            describe_key(key)
        );
        assert!(found.iter().all(|v| *v == found[0]), "{found:?}");
        found[0].clone()
    }

    /// Every record of `key` in the JSONL report on stdout, as JSON.
    #[track_caller]
    pub fn records_of(&self, key: &str) -> Vec<Value> {
        let fingerprint = fingerprint(key);
        self.stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}; {self}")))
            .filter(|r| r["fingerprint"] == fingerprint.as_str())
            .collect()
    }

    /// The one record of `key` in the JSONL report on stdout.
    #[track_caller]
    pub fn record_of(&self, key: &str) -> Value {
        let mut records = self.records_of(key);
        assert_eq!(
            records.len(),
            1,
            "one record of {}; {self}",
            describe_key(key)
        );
        records.remove(0)
    }

    /// `(path, line, column, entry)` of `key`'s one record.
    #[track_caller]
    pub fn place_of(&self, key: &str) -> (String, u64, u64, Option<String>) {
        let record = self.record_of(key);
        (
            record["path"].as_str().unwrap_or_default().to_string(),
            record["line"].as_u64().unwrap_or_default(),
            record["column"].as_u64().unwrap_or_default(),
            record["entry"].as_str().map(str::to_string),
        )
    }

    /// The stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}; {self}"))
    }
}

/// One finding location of a JSON or JSONL report (the DESIGN.md contract).
#[derive(Clone, Deserialize)]
pub struct Record {
    pub rule: String,
    pub rule_name: String,
    pub severity: String,
    pub fingerprint: String,
    pub secret: String,
    pub path: String,
    pub line: u64,
    pub column: u64,
    pub verification: Value,
    /// Git sources only.
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub refs: Vec<String>,
}

/// Everything but the secret, which may be a full key under `--show-secrets`.
impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}:{} fp {}",
            self.rule,
            self.path,
            self.line,
            self.column,
            &self.fingerprint[..self.fingerprint.len().min(12)]
        )
    }
}

/// Parses a JSONL report: one object per non-empty line.
#[track_caller]
pub fn parse_jsonl(text: &str) -> Vec<Record> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSONL finding: {e}: {}", mask_keys(line)))
        })
        .collect()
}

/// Where `key` was reported: `(rule, path, line, column)` for each record with its
/// fingerprint, in report order.
pub fn locations_of(records: &[Record], key: &str) -> Vec<(String, String, u64, u64)> {
    let fingerprint = fingerprint(key);
    records
        .iter()
        .filter(|r| r.fingerprint == fingerprint)
        .map(|r| (r.rule.clone(), r.path.clone(), r.line, r.column))
        .collect()
}

/// The output lines of a live process, read on a thread so a test can wait with a deadline.
pub struct LineReader {
    lines: std::sync::mpsc::Receiver<String>,
}

impl LineReader {
    /// Reads `input` line by line on a thread of its own.
    pub fn spawn(input: impl std::io::Read + Send + 'static) -> Self {
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(input).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        LineReader { lines }
    }

    /// The next line, or `None` if none comes within `timeout` (or the stream ended).
    pub fn next_within(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }
}

/// Borrowed views of owned arguments, for APIs that take `&[&str]`.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Copies an executable for a test to run, in a child process (`cp`): a file this process had
/// open for writing could be inherited by a child another test thread is forking at that
/// moment, and running it would then fail with "Text file busy" (ETXTBSY).
pub fn copy_executable(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("--")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success(), "cp {} {}", from.display(), to.display());
}

/// Runs `command` with its standard streams on a pseudo-terminal (util-linux `script`), with
/// the command's environment and directory; stdout and stderr come back together in `stdout`.
pub fn on_a_terminal(command: &std::process::Command) -> Run {
    let quote = |text: &std::ffi::OsStr| format!("'{}'", text.to_str().expect("UTF-8 argument"));
    let line = std::iter::once(quote(command.get_program()))
        .chain(command.get_args().map(quote))
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = std::process::Command::new("script");
    script
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120");
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        script.current_dir(dir);
    }
    let mut script = assert_cmd::Command::from_std(script);
    script.timeout(RUN_TIMEOUT);
    script.write_stdin("");
    Run::from(script.output().expect("script runs"))
}
