//! Verification: asking each key's provider whether the key is live, once per distinct key,
//! concurrently within a bound, a per-request timeout and an overall budget.
//!
//! A rule's `verifier` names a [`Check`]: a provider, one cheap read-only request and how to read
//! its answer (OpenAI's in [`openai`], every other provider's in [`providers`]). Secrets leave
//! the machine only here, and only to the API base the operator configured for that provider
//! (environment or the operator's own config file; never a config file found in the scanned
//! tree), over HTTPS unless the base is a loopback address, and never along a redirect.

mod cache;
mod check;
pub mod openai;
mod providers;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;

use crate::finding::{Finding, Verification, VerificationStatus};
use crate::http::{BodyError, read_body, shorten, transport_error};
use crate::progress::Progress;
use crate::provider::ApiBases;
use crate::rules::Rule;
use crate::secret::{Fingerprint, Secret};
use cache::Cache;
pub use check::{Auth, Check, Method, Outcome};

/// Largest answer read from a provider: an error body is a few hundred bytes, a list of models
/// some tens of KiB. A larger answer makes the key's verification an `error`.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// First retry delay when the server gives none; doubled on each further retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest `Retry-After` honoured; a longer one ends the key's retries.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error("cannot start the verifier")]
    Runtime(#[source] std::io::Error),
}

/// How verification runs.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Where each provider's keys are sent.
    pub api_bases: ApiBases,
    pub concurrency: usize,
    pub request_timeout: Duration,
    /// After this, keys not verified yet are left `unverified`.
    pub budget: Option<Duration>,
    /// Retries after rate limits, server errors and network failures.
    pub retries: u32,
    /// Ask every key anew: cached answers are not read (fresh ones are still written).
    pub fresh: bool,
    /// The SQLite cache file, if caching is on.
    pub cache: Option<PathBuf>,
    pub cache_ttl: Duration,
    /// Hears how many keys there are to ask about and each answer.
    pub progress: Option<Arc<dyn Progress>>,
}

/// The default cache file: `$FERRET_CACHE_DIR/verify.sqlite`, else under the XDG cache home.
pub fn default_cache_path() -> Option<PathBuf> {
    Some(crate::fs::cache_dir()?.join("verify.sqlite"))
}

pub struct Verifier {
    options: VerifyOptions,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    cache: Option<Cache>,
    /// Results of this run, so a key seen again (in a stream) is not asked twice.
    seen: Mutex<HashMap<Fingerprint, Verification>>,
    /// Distinct keys left without an answer, by API host and why: told once at the end of the
    /// run ([`Verifier::unanswered`]) instead of once per key.
    unanswered: Mutex<BTreeMap<(String, String), usize>>,
}

impl Verifier {
    /// `on_warning` hears about a cache that cannot be used (verification then runs without it).
    pub fn new(options: VerifyOptions, on_warning: &dyn Fn(String)) -> Result<Self, VerifyError> {
        let client = crate::http::client(options.request_timeout)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(VerifyError::Runtime)?;
        let cache =
            options
                .cache
                .as_deref()
                .and_then(|path| match Cache::open(path, options.cache_ttl) {
                    Ok(cache) => Some(cache),
                    Err(err) => {
                        on_warning(format!(
                            "{}; verifying without a cache",
                            crate::error::Chain(&err)
                        ));
                        None
                    }
                });
        Ok(Verifier {
            options,
            client,
            runtime,
            cache,
            seen: Mutex::new(HashMap::new()),
            unanswered: Mutex::new(BTreeMap::new()),
        })
    }

    /// Verifies every distinct secret of `findings` whose rule names a known verifier, once,
    /// and sets each finding's `verification`.
    pub fn verify_findings(&self, findings: &mut [Finding], rules: &[Rule]) {
        let check_of = |finding: &Finding| {
            let rule = rules.iter().find(|r| r.id == finding.rule_id)?;
            Check::for_verifier(rule.verifier?)
        };
        // Held for the whole call: verification of one batch runs at a time anyway.
        let mut seen = self.seen.lock().expect("no panics while locked");
        let mut pending: Vec<(Fingerprint, Secret, &'static Check)> = Vec::new();
        for finding in findings.iter() {
            let Some(check) = check_of(finding) else {
                continue;
            };
            let api_base = self.options.api_bases.get(check.provider);
            if seen.contains_key(&finding.fingerprint)
                || pending.iter().any(|(fp, _, _)| *fp == finding.fingerprint)
            {
                continue;
            }
            let cached = self
                .cache
                .as_ref()
                .filter(|_| !self.options.fresh)
                .and_then(|c| c.get(api_base, &finding.secret));
            match cached {
                Some(verification) => {
                    seen.insert(finding.fingerprint.clone(), verification);
                }
                None => pending.push((finding.fingerprint.clone(), finding.secret.clone(), check)),
            }
        }
        // Keys the budget left unverified are not remembered: a later batch may ask again.
        let mut unverified = HashMap::new();
        for (fingerprint, secret, check, verification) in self.ask(pending) {
            let api_base = self.options.api_bases.get(check.provider);
            if let Some(cache) = &self.cache {
                cache.put(api_base, &secret, &verification);
            }
            self.count_unanswered(api_base, &verification);
            if verification.status == VerificationStatus::Unverified {
                unverified.insert(fingerprint, verification);
            } else {
                seen.insert(fingerprint, verification);
            }
        }
        for finding in findings.iter_mut() {
            let known = seen.get(&finding.fingerprint);
            if let Some(verification) = known.or_else(|| unverified.get(&finding.fingerprint)) {
                finding.verification = verification.clone();
            }
        }
    }

    /// Counts a key the provider at `api_base` could not tell about (`error`, or `unverified`
    /// because the budget ran out).
    fn count_unanswered(&self, api_base: &str, verification: &Verification) {
        let why = match verification.status {
            VerificationStatus::Error => format!(
                "status error: {}",
                verification.detail.as_deref().unwrap_or("no answer")
            ),
            VerificationStatus::Unverified => "--verify-budget ran out".to_string(),
            _ => return,
        };
        let host = reqwest::Url::parse(api_base)
            .ok()
            .and_then(|url| {
                let host = url.host_str()?.to_string();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| api_base.to_string());
        *self
            .unanswered
            .lock()
            .expect("no panics while locked")
            .entry((host, why))
            .or_default() += 1;
    }

    /// One line per API host and reason for the keys this run could not verify so far, e.g.
    /// `api.openai.com: 14 keys left unverified (status error: connection failed)`.
    pub fn unanswered(&self) -> Vec<String> {
        let unanswered = self.unanswered.lock().expect("no panics while locked");
        unanswered
            .iter()
            .map(|((host, why), &count)| {
                let keys = if count == 1 { "key" } else { "keys" };
                format!("{host}: {count} {keys} left unverified ({why})")
            })
            .collect()
    }

    /// Drops what this run and the cache know about a key (it was just revoked).
    pub fn forget(&self, secret: &Secret) {
        self.seen
            .lock()
            .expect("no panics while locked")
            .remove(&secret.fingerprint());
        if let Some(cache) = &self.cache {
            // Entries are keyed by API base; a key was only ever asked about at its provider's.
            for api_base in self.options.api_bases.all() {
                cache.remove(api_base, secret);
            }
        }
    }

    /// Asks the provider about each key, at most `concurrency` at a time, until the budget ends;
    /// keys not answered by then come back `unverified`.
    fn ask(
        &self,
        pending: Vec<(Fingerprint, Secret, &'static Check)>,
    ) -> Vec<(Fingerprint, Secret, &'static Check, Verification)> {
        if pending.is_empty() {
            return Vec::new();
        }
        let options = &self.options;
        let client = &self.client;
        let progress = options.progress.as_deref();
        if let Some(progress) = progress {
            progress.more_to_do(pending.len() as u64);
        }
        let unanswered = pending.clone();
        let mut answered = self.runtime.block_on(async {
            let deadline = options.budget.map(|b| tokio::time::Instant::now() + b);
            let mut answers = futures::stream::iter(pending)
                .map(|(fingerprint, secret, check)| async move {
                    let verification = verify_one(client, options, check, &secret).await;
                    (fingerprint, secret, check, verification)
                })
                .buffer_unordered(options.concurrency.max(1));
            let mut answered = Vec::new();
            loop {
                let next = match deadline {
                    Some(deadline) => match tokio::time::timeout_at(deadline, answers.next()).await
                    {
                        Ok(next) => next,
                        Err(_) => break,
                    },
                    None => answers.next().await,
                };
                match next {
                    Some(answer) => {
                        if let Some(progress) = progress {
                            progress.done(1);
                        }
                        answered.push(answer);
                    }
                    None => break,
                }
            }
            answered
        });
        for (fingerprint, secret, check) in unanswered {
            if !answered.iter().any(|(fp, _, _, _)| *fp == fingerprint) {
                let mut verification = Verification::with_status(VerificationStatus::Unverified);
                verification.detail = Some("verification budget ran out".into());
                answered.push((fingerprint, secret, check, verification));
            }
        }
        answered
    }
}

/// One key: request, classify, retry while the answer says nothing about the key.
async fn verify_one(
    client: &reqwest::Client,
    options: &VerifyOptions,
    check: &Check,
    secret: &Secret,
) -> Verification {
    let api_base = options.api_bases.get(check.provider);
    let mut attempt = 0;
    loop {
        let outcome = check_once(client, api_base, check, secret).await;
        match outcome {
            Outcome::Done(verification) => return without_secret(verification, secret),
            Outcome::Retry { after, detail } => {
                let delay = after.unwrap_or(FIRST_BACKOFF * 2u32.saturating_pow(attempt));
                if attempt >= options.retries || delay > MAX_RETRY_AFTER {
                    let mut verification = Verification::with_status(VerificationStatus::Error);
                    verification.detail = Some(detail);
                    return without_secret(verification, secret);
                }
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

/// Asks the provider about a key once and classifies the answer (also used by revocation to
/// confirm that a revoked key is dead).
pub(crate) async fn check_once(
    client: &reqwest::Client,
    api_base: &str,
    check: &Check,
    secret: &Secret,
) -> Outcome {
    let url = check.url(api_base);
    let mut request = match check.method {
        Method::Get => client.get(url),
        Method::Post => client.post(url),
    };
    let (name, value) = match check.auth {
        Auth::Bearer => (reqwest::header::AUTHORIZATION.as_str(), secret.bearer()),
        Auth::Header(name) => (name, secret.header_value()),
    };
    let Some(value) = value else {
        return not_a_header_value();
    };
    request = request.header(name, value);
    for (name, value) in check.headers {
        request = request.header(*name, *value);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => {
            return Outcome::Retry {
                after: None,
                detail: transport_error(&err),
            };
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    match read_body(response, MAX_BODY_BYTES).await {
        Ok(body) => check.classify(status, &headers, &without_key(body, secret)),
        // A body cut off in transit may come whole next time.
        Err(BodyError::Cut(detail)) => Outcome::Retry {
            after: None,
            detail,
        },
        Err(too_large) => {
            let mut verification = Verification::with_status(VerificationStatus::Error);
            verification.detail = Some(too_large.to_string());
            Outcome::Done(verification)
        }
    }
}

/// A secret that cannot travel in an HTTP header (a custom rule matched control characters) is
/// no key any provider issued, but that is the provider's call to make: `error`, not `invalid`.
fn not_a_header_value() -> Outcome {
    let mut verification = Verification::with_status(VerificationStatus::Error);
    verification.detail = Some("the secret cannot be sent in an HTTP header".into());
    Outcome::Done(verification)
}

/// The body with every copy of the key replaced by its redaction and every piece of it
/// ([`Secret::scrub`]) by `…`, before anything reads it (a message shortened for the report
/// could otherwise keep a piece of the key; an answer may echo it in halves).
fn without_key(body: Vec<u8>, secret: &Secret) -> Vec<u8> {
    secret.scrub(&body)
}

/// A provider (or something pretending to be one) might echo the key into any text of its
/// answer, a header or the body: no field of the result may carry it.
fn without_secret(mut verification: Verification, secret: &Secret) -> Verification {
    for text in [
        &mut verification.organization,
        &mut verification.project,
        &mut verification.request_id,
        &mut verification.detail,
    ]
    .into_iter()
    .flatten()
    {
        *text = shorten(&secret.scrub_str(text));
    }
    verification
}
