//! A real smart-HTTP git server on loopback: the installed `git http-backend`, run as a CGI
//! program behind a small HTTP/1.1 server on std threads, serving the bare repositories of a
//! temporary directory. Tests clone from it (and may push to it) with the git CLI or with
//! ferret, exactly as from github.com over HTTPS, minus TLS.
//!
//! - [`GitServer::start`] accepts every request; [`GitServer::start_with_token`] demands
//!   `Authorization: Basic base64("x-access-token:" + token)` (how GitHub takes a token over
//!   HTTPS) and answers 401 with `WWW-Authenticate: Basic realm="git"` otherwise.
//! - A repository nobody added answers 404 (http-backend's own answer), the "repository that
//!   404s on clone" case.
//! - Faults: [`GitServer::fail_next`] answers the next requests 500 without running git;
//!   [`GitServer::cut_next_fetch`] sends only half of the next pack transfers
//!   (`POST …/git-upload-pack`) and then closes the connection, a network failure mid-clone.
//! - Every request is logged with its `Authorization` header, so a test can compare the token
//!   that was presented (never print it).
//!
//! Requests may come with `Content-Length` or chunked bodies (git chunks large POSTs) and with
//! `Content-Encoding: gzip` (passed to http-backend, which inflates). Answers are buffered and
//! sent with `Content-Length`; connections are kept alive between requests.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tempfile::TempDir;

use super::{Acceptor, PROXY_VARIABLES};

/// How long a kept-alive connection may stay idle before its thread gives up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The user name http-backend is told about when a token was presented.
const TOKEN_USER: &str = "x-access-token";

/// The `Authorization` header value that presents `token` the way GitHub accepts it over
/// HTTPS: `Basic base64("x-access-token:" + token)`.
pub fn basic_authorization(token: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{TOKEN_USER}:{token}")))
}

/// The git CLI set up for talking to a loopback server: no proxy, no credential helper, no
/// prompt (a refused clone fails at once instead of waiting for a password).
pub fn git_client() -> Command {
    let mut command = Command::new("git");
    for variable in PROXY_VARIABLES {
        command.env_remove(variable);
    }
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env_remove("SSH_ASKPASS")
        .args(["-c", "credential.helper=", "-c", "core.askPass="]);
    command
}

/// One request the server answered.
struct Logged {
    method: String,
    target: String,
    authorization: Option<String>,
    status: u16,
}

/// What the accepting thread and the connection threads share.
struct Shared {
    root: PathBuf,
    /// The `Authorization` value demanded, or `None` to accept everything.
    authorization: Option<String>,
    log: Mutex<Vec<Logged>>,
    /// How many more requests get 500.
    failures: Mutex<usize>,
    /// How many more pack transfers are cut off halfway.
    cuts: Mutex<usize>,
}

/// The request line and headers of one request.
struct Head {
    method: String,
    /// Path and query, as sent.
    target: String,
    version: String,
    /// Names in lowercase.
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_body(&self) -> bool {
        self.is_chunked()
            || self
                .header("content-length")
                .is_some_and(|length| length.trim() != "0")
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    }

    /// Whether the client wants the connection kept after this request.
    fn keep_alive(&self) -> bool {
        let connection = self
            .header("connection")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if self.version == "HTTP/1.0" {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        }
    }
}

/// An answer to send.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn text(status: u16, text: &str) -> Self {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: text.as_bytes().to_vec(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// A smart-HTTP git server on a loopback address (`127.0.0.1` unless [`GitServer::start_on`]),
/// serving the bare repositories under a temporary root as `http://IP:PORT/{owner}/{name}.git`.
/// Stops when dropped.
pub struct GitServer {
    shared: Arc<Shared>,
    acceptor: Acceptor,
    // Dropped last, after the acceptor stopped.
    root: TempDir,
}

impl GitServer {
    /// Starts a server that accepts every request.
    pub fn start() -> Self {
        Self::start_inner("127.0.0.1", None)
    }

    /// Starts a server on another loopback address (`127.0.0.2`: another host to a client)
    /// that accepts every request.
    pub fn start_on(ip: &str) -> Self {
        Self::start_inner(ip, None)
    }

    /// Starts a server that demands `Authorization: Basic base64("x-access-token:" + token)`.
    pub fn start_with_token(token: &str) -> Self {
        Self::start_inner("127.0.0.1", Some(basic_authorization(token)))
    }

    fn start_inner(ip: &str, authorization: Option<String>) -> Self {
        let root = tempfile::tempdir().expect("a root for the git server");
        let shared = Arc::new(Shared {
            root: root.path().to_path_buf(),
            authorization,
            log: Mutex::new(Vec::new()),
            failures: Mutex::new(0),
            cuts: Mutex::new(0),
        });
        let acceptor = {
            let shared = shared.clone();
            Acceptor::start(ip, move |stream, _| serve_connection(&shared, stream))
        };
        GitServer {
            shared,
            acceptor,
            root,
        }
    }

    /// The directory holding `{owner}/{name}.git`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `http://IP:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.acceptor.address())
    }

    /// The clone URL of `owner/name`: `http://IP:PORT/{owner}/{name}.git`.
    pub fn url(&self, owner: &str, name: &str) -> String {
        format!("{}/{owner}/{name}.git", self.base_url())
    }

    /// Creates the empty bare repository `owner/name` (initial branch `main`, pushes over HTTP
    /// allowed) and returns its path, which a test may also push to directly.
    pub fn add_repo(&self, owner: &str, name: &str) -> PathBuf {
        let path = self.root().join(owner).join(format!("{name}.git"));
        std::fs::create_dir_all(&path).expect("the repository directory");
        for args in [
            &["init", "-q", "--bare", "--initial-branch=main"][..],
            &["config", "http.receivepack", "true"][..],
        ] {
            let output = Command::new("git")
                .args(args)
                .current_dir(&path)
                .output()
                .expect("git runs");
            assert!(
                output.status.success(),
                "git {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        path
    }

    /// Every request answered so far, in order: method, path and query, the `Authorization`
    /// header as sent (compare it, never print it), status.
    pub fn requests(&self) -> Vec<(String, String, Option<String>, u16)> {
        lock(&self.shared.log)
            .iter()
            .map(|r| {
                (
                    r.method.clone(),
                    r.target.clone(),
                    r.authorization.clone(),
                    r.status,
                )
            })
            .collect()
    }

    /// The next `count` requests (after authentication) are answered 500 without running git.
    pub fn fail_next(&self, count: usize) {
        *lock(&self.shared.failures) += count;
    }

    /// The next `count` pack transfers (answers to `POST …/git-upload-pack` that carry a pack,
    /// not the protocol v2 `ls-refs` before them) send their headers, with the full
    /// `Content-Length`, and half of their body, then the connection is closed: the clone or
    /// fetch fails mid-transfer. They are logged with status 200.
    pub fn cut_next_fetch(&self, count: usize) {
        *lock(&self.shared.cuts) += count;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Counts one down from `counter` if it is above 0; whether it was.
    fn take(counter: &Mutex<usize>) -> bool {
        let mut remaining = lock(counter);
        let take = *remaining > 0;
        if take {
            *remaining -= 1;
        }
        take
    }

    /// Whether this answer is a pack transfer to cut off.
    fn cut(&self, head: &Head, path: &str, answer: &Answer) -> bool {
        let pack = head.method == "POST"
            && path.ends_with("/git-upload-pack")
            && answer.body.windows(4).any(|w| w == b"PACK");
        pack && Self::take(&self.cuts)
    }

    fn record(&self, head: &Head, status: u16) {
        lock(&self.log).push(Logged {
            method: head.method.clone(),
            target: head.target.clone(),
            authorization: head.header("authorization").map(str::to_string),
            status,
        });
    }
}

/// Answers the requests of one connection until the client closes it, asks to, or idles.
fn serve_connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "127.0.0.1".to_string(), |a| a.ip().to_string());
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Some(head) = read_head(&mut reader) {
        match serve_request(shared, &head, &peer, &mut reader, &mut writer) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Answers one request; `Ok(true)` when the connection may serve another.
fn serve_request(
    shared: &Shared,
    head: &Head,
    peer: &str,
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> std::io::Result<bool> {
    let (path, query) = head
        .target
        .split_once('?')
        .unwrap_or((head.target.as_str(), ""));
    let keep_alive = head.keep_alive();

    let authorized = match &shared.authorization {
        None => true,
        Some(expected) => head.header("authorization") == Some(expected.as_str()),
    };
    if !authorized {
        let mut answer = Answer::text(401, "Authentication required\n");
        answer
            .headers
            .push(("WWW-Authenticate".into(), "Basic realm=\"git\"".into()));
        shared.record(head, 401);
        // An unread body would be taken for the next request: close instead.
        let keep = keep_alive && !head.has_body();
        write_answer(writer, &answer, !keep, None)?;
        return Ok(keep);
    }

    if head
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let body = read_body(reader, head)?;

    let answer = if Shared::take(&shared.failures) {
        Answer::text(500, "Internal Server Error\n")
    } else {
        run_backend(shared, head, path, query, peer, body)
    };
    shared.record(head, answer.status);
    if shared.cut(head, path, &answer) {
        write_answer(writer, &answer, false, Some(answer.body.len() / 2))?;
        return Ok(false);
    }
    write_answer(writer, &answer, !keep_alive, None)?;
    Ok(keep_alive)
}

/// Reads a request line and headers; `None` at the end of the connection or on garbage.
fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut line = String::new();
    // Tolerates blank lines between requests, as HTTP/1.1 asks.
    while line.trim().is_empty() {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next().unwrap_or("HTTP/1.1").to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Some(Head {
        method,
        target,
        version,
        headers,
    })
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// Reads the request body: chunked, `Content-Length`, or none.
fn read_body(reader: &mut impl BufRead, head: &Head) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if head.is_chunked() {
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size.trim(), 16).map_err(|_| invalid("chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    }
    if let Some(length) = head.header("content-length") {
        let length: usize = length
            .trim()
            .parse()
            .map_err(|_| invalid("content length"))?;
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Runs `git http-backend` for one request and turns its CGI output into an answer.
fn run_backend(
    shared: &Shared,
    head: &Head,
    path: &str,
    query: &str,
    peer: &str,
    body: Vec<u8>,
) -> Answer {
    let mut command = Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &shared.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", &shared.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &head.method)
        .env("QUERY_STRING", query)
        .env("PATH_INFO", path)
        .env("REMOTE_ADDR", peer)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if shared.authorization.is_some() {
        command.env("REMOTE_USER", TOKEN_USER);
    }
    if head.method == "POST" || !body.is_empty() {
        command.env("CONTENT_LENGTH", body.len().to_string());
    }
    for (header, variable) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(value) = head.header(header) {
            command.env(variable, value);
        }
    }
    let Ok(mut child) = command.spawn() else {
        return Answer::text(500, "git http-backend did not start\n");
    };
    let stdin = child.stdin.take();
    // Fed on a thread of its own so a backend that answers while reading cannot deadlock.
    let feeder = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&body);
        }
    });
    let output = child.wait_with_output();
    let _ = feeder.join();
    match output {
        Ok(output) => parse_cgi(&output.stdout),
        Err(_) => Answer::text(500, "git http-backend failed\n"),
    }
}

/// Splits CGI output into status (from `Status:`, else 200), headers and body.
fn parse_cgi(output: &[u8]) -> Answer {
    let crlf = output.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = output.windows(2).position(|w| w == b"\n\n");
    let (head_end, body_start) = match (crlf, lf) {
        (Some(c), Some(l)) if l + 2 < c + 4 => (l, l + 2),
        (Some(c), _) => (c, c + 4),
        (None, Some(l)) => (l, l + 2),
        (None, None) => return Answer::text(500, "malformed CGI output\n"),
    };
    let mut answer = Answer {
        status: 200,
        headers: Vec::new(),
        body: output[body_start..].to_vec(),
    };
    for line in String::from_utf8_lossy(&output[..head_end]).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("status") {
            answer.status = value
                .split_whitespace()
                .next()
                .and_then(|code| code.parse().ok())
                .unwrap_or(500);
        } else if !name.eq_ignore_ascii_case("content-length")
            && !name.eq_ignore_ascii_case("transfer-encoding")
        {
            answer.headers.push((name.to_string(), value.to_string()));
        }
    }
    answer
}

/// Writes an answer with `Content-Length`; `cut_at` sends only that much of the body.
fn write_answer(
    writer: &mut TcpStream,
    answer: &Answer,
    close: bool,
    cut_at: Option<usize>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    let sent = cut_at.unwrap_or(answer.body.len());
    writer.write_all(&answer.body[..sent])?;
    writer.flush()
}
