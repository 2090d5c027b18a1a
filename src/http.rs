//! The one HTTP client ferret talks to services with, and what every call shares: which API
//! bases a key may be sent to (https, or plain http to loopback only), no redirects, bounded
//! answers, and failures described in a few words.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Why an API base or the client was refused. Messages show a base's scheme, host and port
/// only: whatever else an operator put in it (a path, credentials) may hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "API base `{0}` is not allowed: keys are sent over https, or plain http to a loopback address only"
    )]
    InsecureBase(String),
    #[error(
        "API base `{origin}` is not allowed: it has {part}; a base is a scheme, host, port and path only"
    )]
    ExtraParts { origin: String, part: &'static str },
    #[error("an API base is not a URL")]
    BadBase(#[source] url::ParseError),
    #[error("cannot start the HTTP client")]
    Client(#[source] reqwest::Error),
    // The variable's value is not shown: a proxy URL may carry a password.
    #[error("a proxy variable (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) is not a proxy URL")]
    Proxy(#[source] reqwest::Error),
}

/// Checks that keys may be sent to `base`, and normalises it. A base carries no user name or
/// password (the HTTP client would send them as a second `Authorization` header, and
/// `https://api.openai.com@evil.example` reads like OpenAI), no query and no fragment.
pub fn checked_api_base(base: &str) -> Result<String, HttpError> {
    let url = checked_transport(base)?;
    let part = if !url.username().is_empty() || url.password().is_some() {
        Some("a user name or password")
    } else if url.query().is_some() {
        Some("a query")
    } else if url.fragment().is_some() {
        Some("a fragment")
    } else {
        None
    };
    if let Some(part) = part {
        return Err(HttpError::ExtraParts {
            origin: origin(&url),
            part,
        });
    }
    Ok(base.trim_end_matches('/').to_string())
}

/// Checks that secrets may be sent to `url` (a webhook, whose query may be its own token):
/// https, or plain http to a loopback address.
pub fn checked_transport(url: &str) -> Result<reqwest::Url, HttpError> {
    let url = reqwest::Url::parse(url).map_err(HttpError::BadBase)?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(HttpError::InsecureBase(origin(&url))),
    }
}

/// Whether `url`'s host is a loopback address (or `localhost`).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `scheme://host:port` of a URL: what a message may show of it.
fn origin(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => format!("{}:", url.scheme()),
    }
}

/// The HTTP client every provider call uses: no redirects (a key must never follow one off
/// the configured host), a per-request timeout, ferret's user agent, and the proxies of
/// [`proxies_from_env`].
pub fn client(timeout: Duration) -> Result<reqwest::Client, HttpError> {
    // Several crates may link rustls; the first provider installed wins, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().no_proxy();
    for proxy in proxies_from_env()? {
        builder = builder.proxy(proxy);
    }
    builder
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("ferret/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(HttpError::Client)
}

/// Hosts no proxy ever sees: loopback bases are plain HTTP, and a proxy would read the keys,
/// tokens and admin keys sent there (and could answer for the server).
const NEVER_PROXIED: &str = "localhost,127.0.0.0/8,::1";

/// The proxies the environment names, as curl reads them: `HTTPS_PROXY` for https, `HTTP_PROXY`
/// for http, `ALL_PROXY` for either when its own is unset (upper case first, then lower case),
/// none for the hosts of `NO_PROXY` and never for a loopback address.
fn proxies_from_env() -> Result<Vec<reqwest::Proxy>, HttpError> {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    };
    let all = var(&["ALL_PROXY", "all_proxy"]);
    // Under CGI, HTTP_PROXY is a request header anyone can set (httpoxy): not read there.
    let http = match std::env::var_os("REQUEST_METHOD") {
        Some(_) => var(&["http_proxy"]),
        None => var(&["HTTP_PROXY", "http_proxy"]),
    };
    let http = http.or_else(|| all.clone());
    let https = var(&["HTTPS_PROXY", "https_proxy"]).or(all);
    let mut no_proxy = NEVER_PROXIED.to_string();
    if let Some(list) = var(&["NO_PROXY", "no_proxy"]) {
        no_proxy = format!("{list},{no_proxy}");
    }
    let mut proxies = Vec::new();
    if let Some(url) = http {
        let proxy = reqwest::Proxy::http(url.as_str()).map_err(HttpError::Proxy)?;
        proxies.push(proxy.no_proxy(reqwest::NoProxy::from_string(&no_proxy)));
    }
    if let Some(url) = https {
        let proxy = reqwest::Proxy::https(url.as_str()).map_err(HttpError::Proxy)?;
        proxies.push(proxy.no_proxy(reqwest::NoProxy::from_string(&no_proxy)));
    }
    Ok(proxies)
}

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {} MiB; not read", .0 >> 20)]
    TooLarge(usize),
    /// The connection failed or timed out in the middle of the body.
    #[error("{0}")]
    Cut(String),
}

/// Reads an answer's body, refusing one larger than `max` bytes (the rest is never read: the
/// connection is dropped), and failing on a body cut off in transit.
pub async fn read_body(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > max => {
                return Err(BodyError::TooLarge(max));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(err) => return Err(BodyError::Cut(transport_error(&err))),
        }
    }
}

/// A failed request in a few words, with what went wrong underneath: a timeout, a refused
/// connection, a TLS handshake that failed (a certificate nobody trusts, a server that does not
/// speak TLS), an answer that is not HTTP or was cut off.
pub fn transport_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timeout".to_string();
    }
    // The innermost cause says what happened; reqwest's own message only names the URL.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = None;
    let mut next = std::error::Error::source(err);
    while let Some(error) = next {
        if let Some(tls) = tls_error(error) {
            return format!("TLS handshake failed: {tls}");
        }
        cause = Some(error);
        next = error.source();
    }
    let what = if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "the answer was cut off"
    } else {
        "request failed"
    };
    match cause {
        Some(cause) => format!("{what}: {}", shorten(&cause.to_string())),
        None => what.to_string(),
    }
}

/// The TLS error an error is or wraps (rustls' errors reach the HTTP client inside
/// `io::Error`s, whose `source` skips what they wrap).
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = error;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = current.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// A header's value, when it is text.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After` in seconds (what the providers send); HTTP dates are not used by these APIs.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, "retry-after")?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Keeps provider messages short in reports.
pub fn shorten(message: &str) -> String {
    const MAX: usize = 200;
    match message.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_string(),
    }
}
