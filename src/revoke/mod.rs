//! Closing the loop on live keys: hooks hear about every finding, and with `--revoke` each live
//! leaked key is found in the operator's OpenAI organization, optionally replaced (rotation),
//! revoked, and confirmed dead, exactly once, and only when it is proven to be the leak.
//! Anthropic keys (deactivated through the Admin API) and OpenRouter keys (deleted through the
//! key management API) follow the same steps without rotation (`others`).
//!
//! - [`identity`]: the proof that a key of the organization is the leak (organization,
//!   project, redaction, exactly one fit) before any destructive call.
//! - `plan`: the organization's inventory and what revoking one leak takes.
//! - `steps`: exactly once: the ledger's record before and after each call, reconciling what
//!   an interrupted run began (as evidence checked against the organization, never as orders),
//!   rotation, and confirmation that the leak is dead.
//! - `notify`: hooks for each event, recorded in the ledger.
//! - `admin`: the Administration API client (and, in other flavors, Anthropic's Admin API and
//!   OpenRouter's key management API: `anthropic`, `openrouter`).
//! - `others`: revocation of Anthropic and OpenRouter keys.
//! - [`inventory`]: every key of the organizations with its owner and what the ledger knows
//!   (`ferret keys list` and `ferret keys audit`).
//! - [`scheduled`]: rotation of keys chosen by age or id through the same steps
//!   (`ferret keys rotate`).
//!
//! Exactly once rests on the ledger ([`crate::store::ledger`]), held by one run at a time: the
//! intent of every remote change is written before the call and its outcome after it; a key
//! whose final status is recorded is not touched again while it stays dead.

mod admin;
mod anthropic;
pub mod identity;
pub mod inventory;
mod notify;
mod openrouter;
mod others;
mod plan;
pub mod scheduled;
mod steps;
mod usage;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{EventKind, Hook, RevokeSettings, RotationSettings};
use crate::finding::{Finding, Revocation, RevocationStatus};
use crate::hooks::Hooks;
use crate::provider::VerifierId;
use crate::rules::Rule;
use crate::secret::{Fingerprint, Secret};
use crate::store::ledger::Ledger;
use crate::verify::openai::Endpoint;
use admin::Flavor;
pub use admin::{AdminApi, AdminError};
use notify::HookContext;
use plan::Inventory;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "rotation is on but no hook receives the new key: add a `github-actions-secret` hook, or \
         a `command` hook listening to `rotated`"
    )]
    NoDelivery,
    #[error(
        "hook `{0}`: rotation delivers the new key only where you say: set `repository = \
         \"owner/name\"` (the leak's own repository may be anyone's copy)"
    )]
    DeliveryWithoutRepository(String),
    #[error(transparent)]
    Hooks(#[from] crate::hooks::HookSetupError),
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error(transparent)]
    Ledger(#[from] crate::store::StoreError),
    #[error("cannot start the revoker")]
    Runtime(#[source] std::io::Error),
}

/// Why revoking one key stopped before an outcome: reported as its `failed` revocation.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error(transparent)]
    Admin(#[from] admin::AdminError),
    #[error(transparent)]
    Ledger(#[from] crate::store::StoreError),
    #[error("no ledger is open for writing")]
    NoLedger,
    #[error("cannot create the replacement")]
    Replacement(#[source] admin::AdminError),
    #[error("{0}")]
    NoAdminKey(&'static str),
}

/// How `--revoke` runs.
pub struct RevokeOptions {
    /// OpenAI's API base (checked: https, or http to loopback).
    pub api_base: String,
    /// The operator's admin key (`OPENAI_ADMIN_KEY`); without it OpenAI keys are not revoked.
    pub admin_key: Option<Secret>,
    /// Anthropic's Admin API (`ANTHROPIC_ADMIN_KEY`), if the operator gave a key.
    pub anthropic: Option<ProviderAdmin>,
    /// OpenRouter's key management API (`OPENROUTER_MANAGEMENT_KEY`), if given.
    pub openrouter: Option<ProviderAdmin>,
    pub ledger: PathBuf,
    /// Wait for another run holding the ledger, instead of stopping.
    pub wait_for_ledger: bool,
    /// Plan only: read the organization, change nothing, write nothing, run no hook.
    pub dry_run: bool,
    pub settings: RevokeSettings,
    pub rotation: RotationSettings,
    pub request_timeout: Duration,
    /// Read what each live key proven to be the organization's did and cost (`--exposure`).
    pub exposure: bool,
    /// `false`: `--exposure` alone, which looks keys up as a dry run and reports no revocation.
    pub revoke: bool,
}

/// Another provider's administration key and where its API is.
pub struct ProviderAdmin {
    /// Checked: https, or http to loopback.
    pub api_base: String,
    pub admin_key: Secret,
}

/// Which revoker a finding's rule leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    OpenAi(Endpoint),
    Anthropic,
    OpenRouter,
}

impl Route {
    fn for_verifier(verifier: VerifierId) -> Option<Route> {
        match verifier {
            VerifierId::Anthropic => Some(Route::Anthropic),
            VerifierId::OpenRouter => Some(Route::OpenRouter),
            other => Endpoint::for_verifier(other).map(Route::OpenAi),
        }
    }
}

/// What happens to findings once they are verified: hooks for each event and, with a
/// [`Revoker`], revocation of the live ones.
pub struct Remediation {
    runtime: tokio::runtime::Runtime,
    hooks: Hooks,
    revoker: Option<Revoker>,
    /// `owner/name` of the GitHub repository scanned, for GitHub hooks.
    repository: Option<String>,
    /// Keys already handled in this run (a stream sees a key many times), with their outcome.
    handled: HashMap<Fingerprint, Option<Revocation>>,
}

/// Revocation of live keys in the organization of the admin key.
struct Revoker {
    options: RevokeOptions,
    /// OpenAI's Administration API (never called without `options.admin_key`).
    api: AdminApi,
    /// Anthropic's Admin API and OpenRouter's key management API, when their keys are given.
    anthropic: Option<AdminApi>,
    openrouter: Option<AdminApi>,
    /// For confirming that revoked keys are dead.
    http: reqwest::Client,
    /// `None` in a dry run without a ledger yet. Held (locked) for the whole run otherwise.
    ledger: Option<Ledger>,
    inventory: Inventory,
    others: others::Inventory,
}

impl Remediation {
    pub fn new(
        hooks: Vec<Hook>,
        revoke: Option<RevokeOptions>,
        repository: Option<String>,
        request_timeout: Duration,
        on_wait: &dyn Fn(String),
    ) -> Result<Self, SetupError> {
        let http = crate::http::client(request_timeout)?;
        let rotating = revoke.as_ref().is_some_and(|r| r.rotation.enabled);
        if rotating && let Some(hook) = hooks.iter().find(|h| h.delivers_anywhere()) {
            return Err(SetupError::DeliveryWithoutRepository(hook.name()));
        }
        let hooks = Hooks::new(hooks, http.clone())?;
        let revoker = match revoke {
            Some(options) => Some(Revoker::new(options, &hooks, http.clone(), on_wait)?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SetupError::Runtime)?;
        Ok(Remediation {
            runtime,
            hooks,
            revoker,
            repository,
            handled: HashMap::new(),
        })
    }

    /// Whether there is anything to do at all.
    pub fn is_active(&self) -> bool {
        self.revoker.is_some() || !self.hooks.is_empty()
    }

    /// Runs the hooks for each verified finding and revokes the live ones; `warn` hears about
    /// failures (each is also in the finding's `revocation` and in the ledger).
    pub fn process(&mut self, findings: &mut [Finding], rules: &[Rule], warn: &dyn Fn(String)) {
        let Remediation {
            runtime,
            hooks,
            revoker,
            repository,
            handled,
        } = self;
        for finding in findings.iter_mut() {
            if let Some(outcome) = handled.get(&finding.fingerprint) {
                finding.revocation = outcome.clone();
                continue;
            }
            let route = rules
                .iter()
                .find(|r| r.id == finding.rule_id)
                .and_then(|r| r.verifier)
                .and_then(Route::for_verifier);
            let context = HookContext {
                hooks,
                repository: repository.as_deref(),
                dry_run: revoker.as_ref().is_some_and(|r| r.options.dry_run),
                warn,
            };
            runtime.block_on(handle(&context, revoker.as_mut(), finding, route));
            handled.insert(finding.fingerprint.clone(), finding.revocation.clone());
        }
    }
}

impl Revoker {
    fn new(
        options: RevokeOptions,
        hooks: &Hooks,
        http: reqwest::Client,
        on_wait: &dyn Fn(String),
    ) -> Result<Self, SetupError> {
        if options.rotation.enabled && !hooks.delivers_keys() {
            return Err(SetupError::NoDelivery);
        }
        let ledger = if options.dry_run {
            Ledger::open_read_only(&options.ledger)?
        } else {
            Some(Ledger::open_exclusive(
                &options.ledger,
                options.wait_for_ledger,
                on_wait,
            )?)
        };
        let api = AdminApi::new(
            http.clone(),
            options.api_base.clone(),
            options.admin_key.clone().unwrap_or_else(|| Secret::new("")),
        );
        let other = |flavor, admin: &Option<ProviderAdmin>| {
            admin.as_ref().map(|a| {
                AdminApi::with_flavor(
                    flavor,
                    http.clone(),
                    a.api_base.clone(),
                    a.admin_key.clone(),
                )
            })
        };
        Ok(Revoker {
            anthropic: other(Flavor::Anthropic, &options.anthropic),
            openrouter: other(Flavor::OpenRouter, &options.openrouter),
            options,
            api,
            http,
            ledger,
            inventory: Inventory::default(),
            others: others::Inventory::default(),
        })
    }

    /// The ledger, unless this is a dry run (which writes nothing).
    fn writable_ledger(&self) -> Option<&Ledger> {
        self.ledger.as_ref().filter(|_| !self.options.dry_run)
    }
}

/// One finding: `found`, then for a live key `verified_live`, revocation, and `revoked` or
/// `failed`. A key that is no longer live still gets what the ledger knows about it, and an
/// interrupted run's unfinished steps for it are reconciled.
/// What a dry run says about a key whose verification could not tell whether it is live (no
/// network, a budget run out): nothing is planned without a live answer, and the report says
/// so instead of saying nothing.
fn dry_run_without_answer(revoker: &Revoker, finding: &Finding) -> Option<Revocation> {
    let options = &revoker.options;
    if !(options.dry_run && options.revoke && finding.verification.is_undetermined()) {
        return None;
    }
    let why = match &finding.verification.detail {
        Some(detail) => format!("{}: {detail}", finding.verification.status_name()),
        None => finding.verification.status_name().to_string(),
    };
    Some(Revocation::new(
        RevocationStatus::Skipped,
        format!(
            "dry run: could not find out whether the key is live ({why}); only a live key is \
             looked up with the admin key and revoked, so nothing is planned for it"
        ),
    ))
}

async fn handle(
    context: &HookContext<'_>,
    revoker: Option<&mut Revoker>,
    finding: &mut Finding,
    route: Option<Route>,
) {
    let warn = context.warn;
    let ledger = revoker.as_deref().and_then(Revoker::writable_ledger);
    context
        .notify(EventKind::Found, finding, None, ledger)
        .await;
    let live = finding.verification.is_live();
    if live {
        context
            .notify(EventKind::VerifiedLive, finding, None, ledger)
            .await;
    }
    let (Some(revoker), Some(route)) = (revoker, route) else {
        return;
    };
    if let Some(unknown) = dry_run_without_answer(revoker, finding) {
        finding.revocation = Some(unknown);
        return;
    }
    let revoked = match route {
        Route::OpenAi(endpoint) if revoker.options.admin_key.is_some() => {
            revoker.revoke(finding, endpoint, live, context).await
        }
        // Without the operator's admin key for it, a provider's keys are left alone.
        Route::OpenAi(_) => return,
        other => revoker.revoke_other(finding, other, live, context).await,
    };
    let revocation = match revoked {
        steps::Revoked::Now(revocation) => revocation,
        steps::Revoked::Earlier(revocation) => {
            finding.revocation = Some(revocation);
            return;
        }
        steps::Revoked::Nothing => return,
    };
    // Read before the hooks hear the outcome, so that they carry it too.
    if live && revoker.options.exposure {
        finding.revocation = Some(revocation.clone());
        finding.exposure = revoker.exposure(finding, route).await.map(Box::new);
    }
    // `--exposure` without `--revoke` plans only to find the key: no revocation to report.
    if !revoker.options.revoke {
        finding.revocation = None;
        return;
    }
    if revocation.status == RevocationStatus::Planned {
        finding.revocation = Some(revocation);
        return;
    }
    let kind = if revocation.is_done() {
        EventKind::Revoked
    } else {
        warn(format!(
            "{} not revoked ({}): {}",
            finding.secret.redacted(),
            revocation.status_name(),
            revocation.detail.as_deref().unwrap_or("no detail")
        ));
        EventKind::Failed
    };
    finding.revocation = Some(revocation.clone());
    context
        .notify(kind, finding, None, revoker.writable_ledger())
        .await;
    // Recorded last: a run killed before this point announces the outcome again on the next
    // run (at least once), where recording it first could lose the announcement.
    if let Some(ledger) = revoker.writable_ledger()
        && let Err(err) = ledger.record_outcome(
            &finding.fingerprint,
            &finding.rule_id,
            &finding.secret.redacted(),
            &revocation,
        )
    {
        warn(crate::error::chain(&err));
    }
}
