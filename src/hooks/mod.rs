//! Hooks: telling the people and systems who need to know. For each event (a key found,
//! verified live, rotated, revoked, or not revoked) the operator's `[[hooks]]` run in order: a
//! command (the event as JSON on stdin), a signed webhook, or a GitHub built-in (store a
//! replacement key as an Actions secret, open an issue).
//!
//! Events carry the leaked key redacted, always. Only a `rotated` event given to a hook that
//! delivers the replacement (a command listening to `rotated`, `github-actions-secret`) carries
//! the new key, and nothing a hook prints comes back out unredacted. A failing hook is
//! reported and recorded; it never stops the others, or the revocation of other keys.

mod github;

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;

use crate::config::{EventKind, Hook};
use crate::finding::Finding;
use crate::report::{FindingRecord, ReportOptions};
use crate::secret::Secret;

/// Attempts of one webhook delivery.
const WEBHOOK_ATTEMPTS: u32 = 3;
const WEBHOOK_FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// What is kept of a command's stderr for the report.
const MAX_HOOK_OUTPUT: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum HookSetupError {
    #[error("hook `{hook}`: `argv` is empty")]
    NoArgv { hook: String },
    #[error("hook `{hook}`")]
    Url {
        hook: String,
        #[source]
        source: crate::http::HttpError,
    },
}

/// Why one run of a hook failed. It is reported and recorded (its text, with its causes, is the
/// run's `detail` in the report and the ledger); it never stops the other hooks.
#[derive(Debug, thiserror::Error)]
pub enum HookRunError {
    #[error("cannot run `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}` failed")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}` timed out after {timeout:?}")]
    TimedOut { program: String, timeout: Duration },
    /// The command exited unsuccessfully; the last line of its stderr.
    #[error("`{program}` {status}: {last_line}")]
    Exited {
        program: String,
        status: std::process::ExitStatus,
        last_line: String,
    },
    #[error("the signing secret ${0} is not set")]
    NoSigningSecret(String),
    /// The webhook answered with a status that is not retried.
    #[error("HTTP {status}")]
    WebhookRefused { status: u16 },
    #[error("{last} after {attempts} attempts")]
    WebhookGaveUp {
        last: DeliveryFailure,
        attempts: u32,
    },
    #[error("no repository: set `repository` in the hook")]
    NoRepository,
    #[error("no repository: set `repository` in the hook (or run in GitHub Actions)")]
    NoRepositoryFound,
    #[error("no replacement key in this event")]
    NoReplacementKey,
    #[error(transparent)]
    GitHub(#[from] crate::github::GitHubError),
    #[error("the repository's public key is not 32 bytes of base64")]
    BadPublicKey,
    #[error("sealing failed")]
    Seal,
    /// A GitHub hook was set to listen to an event about no finding (`usage_anomaly`).
    #[error("this hook acts on findings; `{0}` events are for command and webhook hooks")]
    NotAFindingEvent(&'static str),
}

/// How one attempt to deliver a webhook failed. The HTTP client's error is left out: it names
/// the URL, which may carry a token of the receiver's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryFailure {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("timeout")]
    Timeout,
    #[error("request failed")]
    RequestFailed,
}

/// One event, as the hooks hear it.
pub struct Event<'a> {
    pub kind: EventKind,
    pub finding: &'a Finding,
    /// The replacement key (`rotated` only).
    pub new_key: Option<&'a Secret>,
    /// `owner/name` of the GitHub repository the leak was found in, when known.
    pub repository: Option<&'a str>,
}

/// How one hook run went.
#[derive(Clone, Debug)]
pub struct HookOutcome {
    pub hook: String,
    pub ok: bool,
    pub detail: Option<String>,
    /// The hook was given the replacement key (so its success counts as a delivery).
    pub delivered_key: bool,
}

pub struct Hooks {
    hooks: Vec<Hook>,
    http: reqwest::Client,
    github: github::GitHubHooks,
}

impl Hooks {
    /// Checks the hooks and prepares their clients. `http` must not follow redirects.
    pub fn new(hooks: Vec<Hook>, http: reqwest::Client) -> Result<Self, HookSetupError> {
        for hook in &hooks {
            match hook {
                Hook::Command { argv, .. } if argv.is_empty() => {
                    return Err(HookSetupError::NoArgv { hook: hook.name() });
                }
                Hook::Webhook { url, .. } => {
                    crate::http::checked_transport(url).map_err(|source| HookSetupError::Url {
                        hook: hook.name(),
                        source,
                    })?;
                }
                _ => {}
            }
        }
        Ok(Hooks {
            hooks,
            http,
            github: github::GitHubHooks::from_env(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Whether any hook runs on `kind`.
    pub fn listens_to(&self, kind: EventKind) -> bool {
        self.hooks.iter().any(|h| h.listens_to(kind))
    }

    /// Whether some hook would receive a replacement key.
    pub fn delivers_keys(&self) -> bool {
        self.hooks.iter().any(Hook::receives_new_key)
    }

    /// Runs every hook listening to the event, in order.
    pub async fn fire(&self, event: &Event<'_>) -> Vec<HookOutcome> {
        let mut outcomes = Vec::new();
        for hook in self.hooks.iter().filter(|h| h.listens_to(event.kind)) {
            let with_key = event.kind == EventKind::Rotated && hook.receives_new_key();
            let result = self.run(hook, event, with_key).await;
            let detail = |text: String| Some(hide_secrets(text, event));
            outcomes.push(match result {
                Ok(note) => HookOutcome {
                    hook: hook.name(),
                    ok: true,
                    detail: note.and_then(detail),
                    delivered_key: with_key,
                },
                Err(err) => HookOutcome {
                    hook: hook.name(),
                    ok: false,
                    detail: detail(crate::error::chain(&err)),
                    delivered_key: false,
                },
            });
        }
        outcomes
    }

    async fn run(
        &self,
        hook: &Hook,
        event: &Event<'_>,
        with_key: bool,
    ) -> Result<Option<String>, HookRunError> {
        match hook {
            Hook::Command { argv, timeout, .. } => {
                run_command(argv, &event_json(event, with_key), timeout.0).await
            }
            Hook::Webhook {
                url,
                secret_env,
                timeout,
                ..
            } => {
                let secret = std::env::var(secret_env)
                    .ok()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| HookRunError::NoSigningSecret(secret_env.clone()))?;
                let body = event_json(event, false);
                post_webhook(
                    &self.http,
                    url,
                    secret.as_bytes(),
                    &body,
                    event.kind,
                    timeout.0,
                )
                .await
            }
            Hook::GithubActionsSecret {
                repository,
                secret_name,
            } => {
                // Only where the operator said: the leak's own repository may be anyone's copy.
                let repository = repository.as_deref().ok_or(HookRunError::NoRepository)?;
                let key = event.new_key.ok_or(HookRunError::NoReplacementKey)?;
                self.github
                    .store_actions_secret(repository, secret_name, key)
                    .await
                    .map(Some)
            }
            Hook::GithubIssue {
                repository, labels, ..
            } => {
                let repository = target_repository(repository.as_deref(), event)?;
                self.github
                    .open_issue(&repository, labels, event)
                    .await
                    .map(Some)
            }
        }
    }
}

impl Hooks {
    /// Runs every hook listening to `kind` with `body`, an event about no finding (a usage
    /// anomaly, which names a key by id and never holds one): commands get it on stdin,
    /// webhooks signed; GitHub hooks, which act on findings, report that they cannot.
    pub async fn fire_json(&self, kind: EventKind, body: &[u8]) -> Vec<HookOutcome> {
        let mut outcomes = Vec::new();
        for hook in self.hooks.iter().filter(|h| h.listens_to(kind)) {
            let result = match hook {
                Hook::Command { argv, timeout, .. } => run_command(argv, body, timeout.0).await,
                Hook::Webhook {
                    url,
                    secret_env,
                    timeout,
                    ..
                } => match std::env::var(secret_env).ok().filter(|s| !s.is_empty()) {
                    Some(secret) => {
                        post_webhook(&self.http, url, secret.as_bytes(), body, kind, timeout.0)
                            .await
                    }
                    None => Err(HookRunError::NoSigningSecret(secret_env.clone())),
                },
                Hook::GithubActionsSecret { .. } | Hook::GithubIssue { .. } => {
                    Err(HookRunError::NotAFindingEvent(kind.as_str()))
                }
            };
            outcomes.push(HookOutcome {
                hook: hook.name(),
                ok: result.is_ok(),
                detail: match result {
                    Ok(note) => note,
                    Err(err) => Some(crate::error::chain(&err)),
                },
                delivered_key: false,
            });
        }
        outcomes
    }
}

/// The repository a GitHub hook acts on: configured, else where the leak was found, else the
/// repository of the GitHub Actions run.
fn target_repository(configured: Option<&str>, event: &Event) -> Result<String, HookRunError> {
    let found_in = event
        .finding
        .locations
        .iter()
        .find_map(|l| l.repository.as_ref().map(|r| r.full_name.clone()));
    configured
        .map(str::to_string)
        .or(found_in)
        .or_else(|| event.repository.map(str::to_string))
        .or_else(|| {
            std::env::var("GITHUB_REPOSITORY")
                .ok()
                .filter(|r| !r.is_empty())
        })
        .ok_or(HookRunError::NoRepositoryFound)
}

/// The event as JSON: the finding as reports show it (redacted), its locations, what
/// verification and revocation said, and (only when `with_key`) the replacement key.
pub fn event_json(event: &Event, with_key: bool) -> Vec<u8> {
    // The key redacted wherever else it shows (a file or author name), as reports do.
    let clean = crate::report::clean::Redactor::new([&event.finding.secret]);
    let finding = &clean.finding(event.finding);
    let options = ReportOptions::default();
    let locations: Vec<Value> = finding
        .locations
        .iter()
        .map(|location| {
            let record = FindingRecord::new(finding, location, &options);
            json!({
                "path": record.path,
                "line": record.line,
                "column": record.column,
                "commit": record.commit,
                "author": record.author,
                "date": record.date,
            })
        })
        .collect();
    let mut value = json!({
        "event": event.kind,
        "time": now_rfc3339(),
        "rule": finding.rule_id,
        "rule_name": finding.rule_name,
        "severity": finding.severity.as_str(),
        "fingerprint": finding.fingerprint,
        "secret": finding.secret.redacted(),
        "locations": locations,
        "verification": finding.verification,
        "revocation": finding.revocation,
        "exposure": finding.exposure,
        "repository": event.repository,
    });
    if with_key && let Some(key) = event.new_key {
        value["new_key"] = Value::String(key.expose_str());
    }
    serde_json::to_vec(&value).expect("JSON values serialize")
}

fn now_rfc3339() -> String {
    gix::date::Time::now_utc()
        .format(gix::date::time::format::ISO8601_STRICT)
        .unwrap_or_default()
}

/// Neither the leaked key nor the replacement may come out of a hook's output.
fn hide_secrets(text: String, event: &Event) -> String {
    let mut text = text.replace(
        &event.finding.secret.expose_str(),
        &event.finding.secret.redacted(),
    );
    if let Some(key) = event.new_key {
        text = text.replace(&key.expose_str(), &key.redacted());
    }
    text
}

/// Runs `argv` with `input` on stdin; fails on a non-zero exit or the timeout.
async fn run_command(
    argv: &[String],
    input: &[u8],
    timeout: Duration,
) -> Result<Option<String>, HookRunError> {
    let program = argv[0].clone();
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HookRunError::Spawn {
            program: program.clone(),
            source,
        })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let run = async {
        // A command that does not read its input is not an error.
        let _ = stdin.write_all(input).await;
        drop(stdin);
        child.wait_with_output().await
    };
    let output = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => return Err(HookRunError::Wait { program, source }),
        Err(_) => return Err(HookRunError::TimedOut { program, timeout }),
    };
    if output.status.success() {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last_line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(HookRunError::Exited {
        program,
        status: output.status,
        last_line: last_line.chars().take(MAX_HOOK_OUTPUT).collect(),
    })
}

/// POSTs `body` with `X-Ferret-Signature: sha256=<hex HMAC-SHA256 of the body>`, retrying
/// server errors and network failures.
async fn post_webhook(
    client: &reqwest::Client,
    url: &str,
    secret: &[u8],
    body: &[u8],
    kind: EventKind,
    timeout: Duration,
) -> Result<Option<String>, HookRunError> {
    let signature = webhook_signature(secret, body);
    let event_name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("x-ferret-event", &event_name)
            .header("x-ferret-signature", &signature)
            .body(body.to_vec())
            .send()
            .await;
        let failure = match sent {
            Ok(response) if response.status().is_success() => return Ok(None),
            Ok(response) => {
                let status = response.status();
                if !(status.is_server_error() || status.as_u16() == 429) {
                    return Err(HookRunError::WebhookRefused {
                        status: status.as_u16(),
                    });
                }
                DeliveryFailure::Status(status.as_u16())
            }
            Err(err) if err.is_timeout() => DeliveryFailure::Timeout,
            Err(_) => DeliveryFailure::RequestFailed,
        };
        if attempt >= WEBHOOK_ATTEMPTS {
            return Err(HookRunError::WebhookGaveUp {
                last: failure,
                attempts: attempt,
            });
        }
        tokio::time::sleep(WEBHOOK_FIRST_BACKOFF * 2u32.pow(attempt - 1)).await;
    }
}

/// `sha256=` and the hex HMAC-SHA256 of the exact body bytes.
pub fn webhook_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
