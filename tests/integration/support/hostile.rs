//! Hostile HTTP servers on loopback, for tests/hostile_services.rs and tests/no_leak.rs: raw TCP
//! on std threads (no HTTP library that would tidy up what a broken server sends), each
//! connection answered with one scripted misbehaviour: an answer that never comes or comes a
//! byte at a time, bytes that are not HTTP, JSON cut in the middle, a body cut off before its
//! `Content-Length`, a body that never ends, a redirect, an answer that echoes the credential it
//! was sent, or TLS with a certificate nobody trusts.
//!
//! Every connection's bytes are kept (decrypted, for TLS), so a test can ask whether a secret
//! ever reached the server; nothing here prints what it received.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Acceptor;

/// The most an endless body sends before the server gives up on a client that keeps reading.
pub const ENDLESS_CAP: u64 = 1 << 30;

/// How a server answers every request.
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    /// Holds the request this long, then answers `200 {}`: past any sane client timeout.
    Stall(Duration),
    /// Sends `200` headers at once, then the body one byte every 200 ms for this long.
    Dribble(Duration),
    /// Bytes that are not HTTP at all.
    Garbage,
    /// A well-framed answer with this status whose JSON body stops in the middle.
    TruncatedJson(u16),
    /// This status and a `Content-Length` of 2000, then 1000 bytes, then the connection closes.
    CutOff(u16),
    /// This status and a chunked body that never ends (up to [`ENDLESS_CAP`]).
    Endless(u16),
    /// This status (301, 302, 307, 308) and `Location: <url>`, the request's path appended.
    Redirect(u16, String),
    /// This status and a JSON error body, with every credential the request carried copied into
    /// the body's message (after 148 characters), into `openai-organization`,
    /// `openai-project` and `x-request-id`, and into every field a client might show.
    Echo(u16),
    /// This status and JSON body, nothing odd: the control case.
    Json(u16, String),
    /// `200`, this JSON body and a `link` header whose `next` page is this URL.
    Page { body: String, next: String },
}

/// One connection as the server saw it.
#[derive(Clone)]
pub struct Received {
    /// `GET /v1/models`, or empty when the bytes were not an HTTP request.
    pub request_line: String,
    /// Everything the client sent (after TLS decryption).
    pub bytes: Vec<u8>,
}

impl Received {
    pub fn carries(&self, secret: &str) -> bool {
        contains(&self.bytes, secret.as_bytes())
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

struct Shared {
    misbehaviour: Mutex<Misbehaviour>,
    /// Paths answered otherwise: (path prefix, misbehaviour), the first match wins.
    routes: Mutex<Vec<(String, Misbehaviour)>>,
    received: Mutex<Vec<Received>>,
    /// Body bytes written by every connection.
    sent: AtomicU64,
    /// TLS handshakes that failed.
    handshake_failures: AtomicU64,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// A server answering every connection with one misbehaviour.
pub struct HostileServer {
    shared: Arc<Shared>,
    acceptor: Acceptor,
}

impl HostileServer {
    /// Plain HTTP on `ip` (`127.0.0.1`, `127.0.0.2`: two loopback hosts), any port.
    pub fn start(ip: &str, misbehaviour: Misbehaviour) -> Self {
        Self::start_inner(ip, misbehaviour, None)
    }

    /// HTTPS on `ip` with `certificate`, answering inside TLS as [`HostileServer::start`] does.
    pub fn start_tls(ip: &str, misbehaviour: Misbehaviour, certificate: &TestCertificate) -> Self {
        Self::start_inner(ip, misbehaviour, Some(certificate.server_config()))
    }

    fn start_inner(
        ip: &str,
        misbehaviour: Misbehaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let shared = Arc::new(Shared {
            misbehaviour: Mutex::new(misbehaviour),
            routes: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            sent: AtomicU64::new(0),
            handshake_failures: AtomicU64::new(0),
            tls,
        });
        let acceptor = {
            let shared = shared.clone();
            Acceptor::start(ip, move |stream, stopping| serve(&shared, stream, stopping))
        };
        HostileServer { shared, acceptor }
    }

    /// `http://IP:PORT` (or `https://` for a TLS server).
    pub fn uri(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.acceptor.address())
    }

    /// The same server named `localhost` (for certificates, which name `localhost`).
    pub fn localhost_uri(&self) -> String {
        self.uri()
            .replace(&self.acceptor.address().ip().to_string(), "localhost")
    }

    /// Requests whose path starts with `prefix` are answered with `misbehaviour` instead (the
    /// first route added that matches wins).
    pub fn route(&self, prefix: &str, misbehaviour: Misbehaviour) {
        lock(&self.shared.routes).push((prefix.to_string(), misbehaviour));
    }

    /// Every connection so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// How many connections carried `secret` anywhere in what they sent.
    pub fn received_carrying(&self, secret: &str) -> usize {
        self.received().iter().filter(|r| r.carries(secret)).count()
    }

    /// Body bytes the server managed to write, all connections together.
    pub fn body_bytes_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    pub fn handshake_failures(&self) -> u64 {
        self.shared.handshake_failures.load(Ordering::SeqCst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn serve(shared: &Shared, stream: TcpStream, stopping: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    match &shared.tls {
        None => answer(shared, stream, stopping),
        Some(config) => {
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(connection, stream);
            while tls.conn.is_handshaking() {
                if tls.conn.complete_io(&mut tls.sock).is_err() {
                    shared.handshake_failures.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            answer(shared, tls, stopping);
        }
    }
}

/// Reads one request (head and `Content-Length` body), records it, and misbehaves.
fn answer(shared: &Shared, mut stream: impl Read + Write, stopping: &AtomicBool) {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break Some(at + 4);
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break None,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
        }
        // Not a request (a TLS handshake, say): answered at once, as an HTTP server would.
        if !bytes[0].is_ascii_uppercase() || bytes.len() > 1 << 20 {
            break None;
        }
    };
    if let Some(end) = head_end {
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while bytes.len() < end + length {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            }
        }
    }
    let request_line = match head_end {
        Some(_) => String::from_utf8_lossy(&bytes)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        None => String::new(),
    };
    let credentials = credentials(&bytes);
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    lock(&shared.received).push(Received {
        request_line,
        bytes,
    });
    let routed = lock(&shared.routes)
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()))
        .map(|(_, misbehaviour)| misbehaviour.clone());
    let misbehaviour = routed.unwrap_or_else(|| lock(&shared.misbehaviour).clone());
    let _ = misbehave(
        &mut stream,
        &misbehaviour,
        &path,
        &credentials,
        &shared.sent,
        stopping,
    );
    let _ = stream.flush();
}

/// The values of the request's credential headers (`Authorization` without its scheme,
/// `x-api-key`, `x-goog-api-key`).
fn credentials(request: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(request)
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            match name.as_str() {
                "authorization" => {
                    Some(value.split_once(' ').map_or(value, |(_, v)| v).to_string())
                }
                "x-api-key" | "x-goog-api-key" => Some(value.to_string()),
                _ => None,
            }
        })
        .collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        401 => "Unauthorized",
        _ => "Whatever",
    }
}

fn misbehave(
    stream: &mut impl Write,
    misbehaviour: &Misbehaviour,
    path: &str,
    credentials: &[String],
    sent: &AtomicU64,
    stopping: &AtomicBool,
) -> std::io::Result<()> {
    const REQUEST_ID: &str = "x-request-id: req_hostile\r\n";
    let json_head = |status: u16, extra: &str, length: usize| {
        format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\n{extra}\
             content-length: {length}\r\nconnection: close\r\n\r\n",
            reason(status)
        )
    };
    match misbehaviour {
        Misbehaviour::Stall(delay) => {
            let until = Instant::now() + *delay;
            while Instant::now() < until && !stopping.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            stream.write_all(json_head(200, REQUEST_ID, 2).as_bytes())?;
            stream.write_all(b"{}")
        }
        Misbehaviour::Dribble(duration) => {
            let body = format!("{{\"object\":\"list\",\"data\":[{}]}}", " ".repeat(10_000));
            stream.write_all(json_head(200, REQUEST_ID, body.len()).as_bytes())?;
            stream.flush()?;
            let until = Instant::now() + *duration;
            for byte in body.as_bytes() {
                if Instant::now() >= until || stopping.load(Ordering::SeqCst) {
                    break;
                }
                stream.write_all(&[*byte])?;
                stream.flush()?;
                sent.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        }
        Misbehaviour::Garbage => {
            let garbage: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            stream.write_all(b"\x16\x03\x01GARBAGE\0\xff")?;
            stream.write_all(&garbage)
        }
        Misbehaviour::TruncatedJson(status) => {
            let body = br#"{"object":"list","data":[{"id":"proj_abc","name":"Pro"#;
            stream.write_all(json_head(*status, REQUEST_ID, body.len()).as_bytes())?;
            stream.write_all(body)
        }
        Misbehaviour::CutOff(status) => {
            stream.write_all(json_head(*status, REQUEST_ID, 2000).as_bytes())?;
            let half = format!("{{\"object\":\"list\",\"data\":[{}", " ".repeat(975));
            stream.write_all(&half.as_bytes()[..1000])?;
            sent.fetch_add(1000, Ordering::SeqCst);
            Ok(())
        }
        Misbehaviour::Endless(status) => {
            stream.write_all(
                format!(
                    "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\n\
                     transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                    reason(*status)
                )
                .as_bytes(),
            )?;
            let chunk = format!("{:x}\r\n{}\r\n", 65536, "[".repeat(65536));
            stream.write_all(b"8\r\n{\"data\":\r\n")?;
            while sent.load(Ordering::SeqCst) < ENDLESS_CAP && !stopping.load(Ordering::SeqCst) {
                stream.write_all(chunk.as_bytes())?;
                sent.fetch_add(65536, Ordering::SeqCst);
            }
            Ok(())
        }
        Misbehaviour::Redirect(status, location) => stream.write_all(
            format!(
                "HTTP/1.1 {status} {}\r\nlocation: {location}{path}\r\ncontent-length: 0\r\n\
                 connection: close\r\n\r\n",
                reason(*status)
            )
            .as_bytes(),
        ),
        Misbehaviour::Echo(status) => {
            let echoed = credentials.join(" ");
            let body = serde_json::json!({
                "error": {
                    // Long enough that a report's shortened message would cut through it.
                    "message": format!("Incorrect API key provided{}: {echoed}", ".".repeat(120)),
                    "type": echoed,
                    "code": echoed,
                },
                "message": echoed,
                "detail": echoed,
                "name": echoed,
                "id": echoed,
                "data": echoed,
                "owner": {"id": echoed},
            })
            .to_string();
            let value = echoed.replace(['\r', '\n'], "");
            let extra = format!(
                "openai-organization: {value}\r\nopenai-project: {value}\r\nrequest-id: \
                 {value}\r\nx-request-id: {value}\r\n"
            );
            stream.write_all(json_head(*status, &extra, body.len()).as_bytes())?;
            stream.write_all(body.as_bytes())
        }
        Misbehaviour::Json(status, body) => {
            stream.write_all(json_head(*status, REQUEST_ID, body.len()).as_bytes())?;
            stream.write_all(body.as_bytes())
        }
        Misbehaviour::Page { body, next } => {
            let link = format!("{REQUEST_ID}link: <{next}>; rel=\"next\"\r\n");
            stream.write_all(json_head(200, &link, body.len()).as_bytes())?;
            stream.write_all(body.as_bytes())
        }
    }
}

/// A certificate authority made for one test, and a server certificate it signed for
/// `localhost` and `127.0.0.1`.
pub struct TestCertificate {
    ca_pem: String,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivatePkcs8KeyDer<'static>,
}

impl TestCertificate {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("the CA certificate");
        let server_key = KeyPair::generate().expect("a server key");
        let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server params")
            .signed_by(&server_key, &ca)
            .expect("the server certificate");
        TestCertificate {
            ca_pem: ca.pem(),
            chain: vec![server.der().clone(), ca.der().clone()],
            key: rustls::pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        }
    }

    /// The CA in PEM, for `SSL_CERT_FILE` (a client that trusts it accepts the server).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key().into())
            .expect("the server certificate is usable");
        Arc::new(config)
    }
}

impl Default for TestCertificate {
    fn default() -> Self {
        Self::new()
    }
}
