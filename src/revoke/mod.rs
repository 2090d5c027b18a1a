//! Closing the loop on live keys: hooks hear about every finding, and with `--revoke` each live
//! leaked key is found in the operator's OpenAI organization, optionally replaced (rotation),
//! revoked, and confirmed dead, exactly once.
//!
//! Exactly once rests on the ledger ([`crate::store::ledger`]): the intent of every remote
//! change is written before the call and its outcome after it; a key whose final status is
//! recorded is never touched again, and a step begun by a run that died is reconciled first
//! (a delete is repeated on its recorded target, where a 404 means it had already happened).

mod admin;
pub mod matching;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{DeliveryFailure, EventKind, Hook, RevokeSettings, RotationSettings};
use crate::finding::{Finding, Replacement, Revocation, RevocationStatus, VerificationStatus};
use crate::hooks::{Event, HookOutcome, Hooks};
use crate::rules::Rule;
use crate::secret::{Fingerprint, Secret};
use crate::store::ledger::{Action, Ledger, Step, StepResult, Target};
use crate::verify::Outcome;
use crate::verify::openai::Endpoint;
use admin::{AdminApi, AdminError, AdminKey, KeyOwner, ProjectKey};
use matching::{Hints, Resolution};

/// Longest wait between two checks that a revoked key is dead.
const MAX_CONFIRM_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "rotation is on but no hook receives the new key: add a `github-actions-secret` hook, or \
         a `command` hook listening to `rotated`"
    )]
    NoDelivery,
    #[error(transparent)]
    Hooks(#[from] crate::hooks::HookSetupError),
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    #[error(transparent)]
    Ledger(#[from] crate::store::StoreError),
    #[error("cannot start the revoker: {0}")]
    Runtime(String),
}

/// How `--revoke` runs.
pub struct RevokeOptions {
    /// OpenAI's API base (checked: https, or http to loopback).
    pub api_base: String,
    /// The operator's admin key (`OPENAI_ADMIN_KEY`).
    pub admin_key: Secret,
    pub ledger: PathBuf,
    /// Plan only: read the organization, change nothing, write nothing, run no hook.
    pub dry_run: bool,
    pub settings: RevokeSettings,
    pub rotation: RotationSettings,
    pub request_timeout: Duration,
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

struct Revoker {
    options: RevokeOptions,
    api: AdminApi,
    /// For confirming that revoked keys are dead.
    http: reqwest::Client,
    /// `None` in a dry run without a ledger yet.
    ledger: Option<Ledger>,
    inventory: Inventory,
}

/// The organization as the admin key sees it, read once per run when first needed.
#[derive(Default)]
struct Inventory {
    project_keys: Option<Vec<ProjectKey>>,
    admin_keys: Option<Vec<AdminKey>>,
}

impl Remediation {
    pub fn new(
        hooks: Vec<Hook>,
        revoke: Option<RevokeOptions>,
        repository: Option<String>,
        request_timeout: Duration,
    ) -> Result<Self, SetupError> {
        let http = crate::verify::http_client(request_timeout)?;
        let hooks = Hooks::new(hooks, http.clone())?;
        let revoker = match revoke {
            Some(options) => {
                if options.rotation.enabled && !hooks.delivers_keys() {
                    return Err(SetupError::NoDelivery);
                }
                let ledger = if options.dry_run {
                    Ledger::open_read_only(&options.ledger)?
                } else {
                    Some(Ledger::open(&options.ledger)?)
                };
                let api = AdminApi::new(
                    http.clone(),
                    options.api_base.clone(),
                    options.admin_key.clone(),
                );
                Some(Revoker {
                    options,
                    api,
                    http: http.clone(),
                    ledger,
                    inventory: Inventory::default(),
                })
            }
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SetupError::Runtime(e.to_string()))?;
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
            let endpoint = rules
                .iter()
                .find(|r| r.id == finding.rule_id)
                .and_then(|r| r.verifier.as_deref())
                .and_then(Endpoint::for_verifier);
            let context = HookContext {
                hooks,
                repository: repository.as_deref(),
                dry_run: revoker.as_ref().is_some_and(|r| r.options.dry_run),
                warn,
            };
            runtime.block_on(handle(&context, revoker.as_mut(), finding, endpoint));
            handled.insert(finding.fingerprint.clone(), finding.revocation.clone());
        }
    }
}

/// One finding: `found`, then for a live key `verified_live`, revocation, and `revoked` or
/// `failed`. A key that is no longer live still gets what the ledger knows about it, and an
/// interrupted run's unfinished steps for it are completed.
async fn handle(
    context: &HookContext<'_>,
    revoker: Option<&mut Revoker>,
    finding: &mut Finding,
    endpoint: Option<Endpoint>,
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
    let (Some(revoker), Some(endpoint)) = (revoker, endpoint) else {
        return;
    };
    let revocation = match revoker.revoke(finding, endpoint, live, context).await {
        Revoked::Now(revocation) => revocation,
        Revoked::Earlier(revocation) => {
            finding.revocation = Some(revocation);
            return;
        }
        Revoked::Nothing => return,
    };
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
        warn(err.to_string());
    }
}

/// What running hooks for an event needs.
struct HookContext<'a> {
    hooks: &'a Hooks,
    repository: Option<&'a str>,
    /// A dry run runs no hook.
    dry_run: bool,
    warn: &'a dyn Fn(String),
}

impl HookContext<'_> {
    /// Runs the hooks listening to `kind`, warns about failures and records every run in the
    /// ledger (when one is open for writing).
    async fn notify(
        &self,
        kind: EventKind,
        finding: &Finding,
        new_key: Option<&Secret>,
        ledger: Option<&Ledger>,
    ) -> Vec<HookOutcome> {
        if self.dry_run || !self.hooks.listens_to(kind) {
            return Vec::new();
        }
        let event = Event {
            kind,
            finding,
            new_key,
            repository: self.repository,
        };
        let outcomes = self.hooks.fire(&event).await;
        let event_name = kind.as_str();
        for outcome in &outcomes {
            if !outcome.ok {
                (self.warn)(format!(
                    "hook {} failed on {event_name} for {}: {}",
                    outcome.hook,
                    finding.secret.redacted(),
                    outcome.detail.as_deref().unwrap_or("no detail")
                ));
            }
            if let Some(ledger) = ledger
                && let Err(err) = ledger.record_hook(
                    &finding.fingerprint,
                    event_name,
                    &outcome.hook,
                    outcome.ok,
                    outcome.detail.as_deref(),
                )
            {
                (self.warn)(err.to_string());
            }
        }
        outcomes
    }
}

/// What a revocation attempt came to.
enum Revoked {
    /// This run acted (or planned, or found it could not act).
    Now(Revocation),
    /// The ledger records the key as revoked by an earlier run: nothing was done.
    Earlier(Revocation),
    /// The key is not live and nothing was pending for it.
    Nothing,
}

/// What revoking one key takes: one call on one target.
#[derive(Clone, Debug)]
struct Plan {
    action: Action,
    target: Target,
    /// Other keys that die with it (a service account's other keys).
    others: Vec<String>,
}

impl Plan {
    fn describe(&self) -> String {
        let target = &self.target;
        let project = target.project.as_deref().unwrap_or("?");
        let key = target.key_id.as_deref().unwrap_or("?");
        match self.action {
            Action::DeleteServiceAccount => {
                let mut text = format!(
                    "delete service account {} of project {project} (owner of key {key})",
                    target.service_account.as_deref().unwrap_or("?")
                );
                if !self.others.is_empty() {
                    text.push_str(&format!(", which also revokes {}", self.others.join(", ")));
                }
                text
            }
            Action::DeleteAdminKey => format!("delete admin key {key}"),
            _ => format!("delete key {key} of project {project}"),
        }
    }

    /// The revocation record this plan leads to, with the given status.
    fn revocation(&self, status: RevocationStatus, detail: Option<String>) -> Revocation {
        let mut revocation = Revocation::new(status, detail);
        revocation.key_id = self.target.key_id.clone();
        revocation.project = self.target.project.clone();
        if self.action == Action::DeleteServiceAccount {
            revocation.service_account = self.target.service_account.clone();
            revocation.also_revoked = self.others.clone();
        }
        revocation
    }
}

impl Revoker {
    /// The ledger, unless this is a dry run (which writes nothing).
    fn writable_ledger(&self) -> Option<&Ledger> {
        self.ledger.as_ref().filter(|_| !self.options.dry_run)
    }

    async fn revoke(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        live: bool,
        hooks: &HookContext<'_>,
    ) -> Revoked {
        let revoked = match self.try_revoke(finding, endpoint, live, hooks).await {
            Ok(revoked) => revoked,
            Err(reason) => Revoked::Now(Revocation::new(RevocationStatus::Failed, reason)),
        };
        self.record_calls(&finding.fingerprint);
        revoked
    }

    async fn try_revoke(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        live: bool,
        hooks: &HookContext<'_>,
    ) -> Result<Revoked, String> {
        let fingerprint = &finding.fingerprint;
        if let Some(ledger) = &self.ledger {
            if let Some(recorded) = ledger.outcome(fingerprint).map_err(|e| e.to_string())?
                && recorded.is_done()
            {
                return Ok(Revoked::Earlier(recorded));
            }
            let steps = ledger.steps(fingerprint).map_err(|e| e.to_string())?;
            if !self.options.dry_run
                && let Some(revocation) = self.reconcile(finding, endpoint, &steps).await?
            {
                return Ok(Revoked::Now(revocation));
            }
        }
        if !live {
            return Ok(Revoked::Nothing);
        }
        Ok(Revoked::Now(
            self.revoke_live(finding, endpoint, hooks).await?,
        ))
    }

    /// Finds the live key in the organization, rotates it if asked, revokes it, confirms.
    async fn revoke_live(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        hooks: &HookContext<'_>,
    ) -> Result<Revocation, String> {
        let fingerprint = &finding.fingerprint;
        let plan = match self.plan(finding, endpoint).await? {
            Ok(plan) => plan,
            Err(revocation) => return Ok(revocation),
        };
        let rotate = self.options.rotation.enabled && plan.action != Action::DeleteAdminKey;
        if self.options.dry_run {
            let detail = if rotate {
                format!(
                    "would create a replacement service account, deliver its key, then {}",
                    plan.describe()
                )
            } else {
                format!("would {}", plan.describe())
            };
            return Ok(plan.revocation(RevocationStatus::Planned, Some(detail)));
        }
        // Read before this run's own rotation adds to the ledger.
        let stale = match self.writable_ledger() {
            Some(ledger) => {
                stale_replacements(&ledger.steps(fingerprint).map_err(|e| e.to_string())?)
            }
            None => Vec::new(),
        };
        let mut replacement = None;
        let mut undelivered = None;
        if rotate {
            let (created, failure) = self.rotate(finding, &plan, hooks).await?;
            if let Some(reason) = failure {
                if self.options.rotation.on_delivery_failure == DeliveryFailure::Hold {
                    let target = Target {
                        project: plan.target.project.clone(),
                        key_id: Some(created.key_id.clone()),
                        service_account: Some(created.service_account.clone()),
                    };
                    // If this fails the report still names the unused replacement.
                    let deleted = self
                        .delete_step(fingerprint, Action::DeleteReplacement, &target)
                        .await;
                    let mut revocation = plan.revocation(
                        RevocationStatus::Failed,
                        Some(format!(
                            "held: the replacement key was not delivered ({reason}); the leaked \
                             key is still live"
                        )),
                    );
                    if deleted.is_err() {
                        revocation.replacement = Some(created);
                    }
                    return Ok(revocation);
                }
                undelivered = Some(reason);
            }
            replacement = Some(created);
        }
        let mut notes = Vec::new();
        for target in &stale {
            if let Err(reason) = self
                .delete_step(fingerprint, Action::DeleteReplacement, target)
                .await
            {
                notes.push(format!(
                    "the replacement {} of an interrupted run could not be deleted: {reason}",
                    target.service_account.as_deref().unwrap_or("?")
                ));
            }
        }
        let result = self
            .delete_step(fingerprint, plan.action, &plan.target)
            .await?;
        let mut revocation = self.confirm(finding, endpoint, &plan, result).await;
        revocation.replacement = replacement;
        if let Some(reason) = undelivered {
            // Security first (the default): the leak is closed even though its replacement
            // did not reach its consumers.
            notes.push(format!("the replacement key was not delivered: {reason}"));
        }
        if !notes.is_empty() {
            notes.splice(0..0, revocation.detail.take());
            revocation.detail = Some(notes.join("; "));
        }
        Ok(revocation)
    }

    /// Finishes what an interrupted run began; returns the final outcome when the leaked key
    /// turned out to be revoked already.
    async fn reconcile(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        steps: &[Step],
    ) -> Result<Option<Revocation>, String> {
        let mut revoking: Option<(Plan, StepResult)> = None;
        for step in steps {
            let result = match step.result {
                Some(result) => result,
                None => self.redo(&finding.fingerprint, step).await?,
            };
            if step.action.revokes_leak() && matches!(result, StepResult::Ok | StepResult::NotFound)
            {
                let plan = Plan {
                    action: step.action,
                    target: step.target.clone(),
                    others: Vec::new(),
                };
                revoking = Some((plan, result));
            }
        }
        let Some((plan, result)) = revoking else {
            return Ok(None);
        };
        Ok(Some(self.confirm(finding, endpoint, &plan, result).await))
    }

    /// Repeats a step an interrupted run began (a delete of an object already gone answers
    /// 404); a replacement it created, whose key nobody recorded, is deleted.
    async fn redo(&mut self, fingerprint: &Fingerprint, step: &Step) -> Result<StepResult, String> {
        let target = &step.target;
        if step.action == Action::CreateReplacement {
            let project = target.project.as_deref().unwrap_or_default();
            let name = replacement_name(target.key_id.as_deref().unwrap_or_default());
            let accounts = self
                .api
                .service_accounts(project)
                .await
                .map_err(|e| e.to_string())?;
            for account in accounts.iter().filter(|a| a.name == name) {
                let lost = Target {
                    project: Some(project.to_string()),
                    key_id: None,
                    service_account: Some(account.id.clone()),
                };
                self.delete_step(fingerprint, Action::DeleteReplacement, &lost)
                    .await?;
            }
            self.finish(
                step.id,
                StepResult::Abandoned,
                None,
                Some("begun by an interrupted run"),
                None,
            )?;
            return Ok(StepResult::Abandoned);
        }
        let (result, request_id, detail) = outcome_of(self.call(step.action, target).await);
        self.finish(
            step.id,
            result,
            request_id.as_deref(),
            detail.as_deref(),
            None,
        )?;
        Ok(result)
    }

    /// Looks the key up in the organization and decides what to do; the inner `Err` is a final
    /// outcome that needs no call (not ours, ambiguous, skipped).
    async fn plan(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
    ) -> Result<Result<Plan, Revocation>, String> {
        let secret = finding.secret.expose_str();
        let hints = Hints {
            project: finding.verification.project.as_deref(),
            first_seen: first_seen(finding),
        };
        let not_ours = Revocation::new(
            RevocationStatus::NotOurs,
            "no key of this organization fits it: tell its owner (a legacy user key or another \
             organization's key is revoked by its owner)"
                .to_string(),
        );
        let ambiguous = |ids: Vec<String>| {
            Revocation::new(
                RevocationStatus::Ambiguous,
                format!(
                    "several keys fit ({}): revoke the right one by hand",
                    ids.join(", ")
                ),
            )
        };
        if endpoint == Endpoint::AdminKeys {
            let own = self.options.admin_key.expose_str();
            if secret == own {
                return Ok(Err(Revocation::new(
                    RevocationStatus::Skipped,
                    "this is the admin key ferret is using: replace it, then revoke it by hand"
                        .to_string(),
                )));
            }
            let keys = self.admin_keys().await?;
            let resolution = matching::resolve(
                keys,
                &secret,
                hints,
                |k| &k.redacted_value,
                |_| None,
                |k| k.created_at,
            );
            return Ok(match resolution {
                // Ids are compared through the redaction: never risk deleting our own key.
                Resolution::One(key) if matching::redaction_fits(&key.redacted_value, &own) => {
                    Err(Revocation::new(
                        RevocationStatus::Skipped,
                        format!(
                            "{} may be the admin key ferret is using: revoke it by hand",
                            key.id
                        ),
                    ))
                }
                Resolution::One(key) => Ok(Plan {
                    action: Action::DeleteAdminKey,
                    target: Target {
                        project: None,
                        key_id: Some(key.id),
                        service_account: None,
                    },
                    others: Vec::new(),
                }),
                Resolution::Ambiguous(keys) => {
                    Err(ambiguous(keys.into_iter().map(|k| k.id).collect()))
                }
                Resolution::NoMatch => Err(not_ours),
            });
        }
        let allow_service_accounts =
            self.options.settings.delete_service_accounts || self.options.rotation.enabled;
        let keys = self.project_keys().await?;
        let key = match matching::resolve(
            keys,
            &secret,
            hints,
            |k| &k.redacted_value,
            |k| Some(k.project.as_str()),
            |k| k.created_at,
        ) {
            Resolution::One(key) => key,
            Resolution::Ambiguous(keys) => {
                return Ok(Err(ambiguous(keys.into_iter().map(|k| k.id).collect())));
            }
            Resolution::NoMatch => return Ok(Err(not_ours)),
        };
        let mut target = Target {
            project: Some(key.project.clone()),
            key_id: Some(key.id.clone()),
            service_account: None,
        };
        let KeyOwner::ServiceAccount { service_account } = &key.owner else {
            return Ok(Ok(Plan {
                action: Action::DeleteKey,
                target,
                others: Vec::new(),
            }));
        };
        target.service_account = Some(service_account.id.clone());
        let others = keys
            .iter()
            .filter(|k| k.id != key.id && k.service_account() == Some(&service_account.id))
            .map(|k| k.id.clone())
            .collect();
        let plan = Plan {
            action: Action::DeleteServiceAccount,
            target,
            others,
        };
        if allow_service_accounts {
            return Ok(Ok(plan));
        }
        let detail = format!(
            "a service-account key is revoked only with its whole service account (would {}); \
             allow it with [revoke] delete_service_accounts = true, or turn on [rotation]",
            plan.describe()
        );
        Ok(Err(plan.revocation(RevocationStatus::Skipped, Some(detail))))
    }

    async fn project_keys(&mut self) -> Result<&[ProjectKey], String> {
        if self.inventory.project_keys.is_none() {
            let mut keys = Vec::new();
            for project in self.api.projects().await.map_err(|e| e.to_string())? {
                let listed = self.api.project_keys(&project.id).await;
                keys.extend(listed.map_err(|e| e.to_string())?);
            }
            self.inventory.project_keys = Some(keys);
        }
        Ok(self.inventory.project_keys.as_deref().unwrap_or_default())
    }

    async fn admin_keys(&mut self) -> Result<&[AdminKey], String> {
        if self.inventory.admin_keys.is_none() {
            let keys = self.api.admin_keys().await.map_err(|e| e.to_string())?;
            self.inventory.admin_keys = Some(keys);
        }
        Ok(self.inventory.admin_keys.as_deref().unwrap_or_default())
    }

    /// Creates the replacement service account in the leaked key's project and delivers its
    /// key through the hooks; returns it, and why delivery failed if it did.
    async fn rotate(
        &mut self,
        finding: &Finding,
        plan: &Plan,
        hooks: &HookContext<'_>,
    ) -> Result<(Replacement, Option<String>), String> {
        let project = plan.target.project.clone().unwrap_or_default();
        let intent = Target {
            project: Some(project.clone()),
            key_id: plan.target.key_id.clone(),
            service_account: None,
        };
        let ledger = self.ledger.as_ref().ok_or("no ledger")?;
        let step = ledger
            .begin(&finding.fingerprint, Action::CreateReplacement, &intent)
            .map_err(|e| e.to_string())?;
        let name = replacement_name(intent.key_id.as_deref().unwrap_or_default());
        let (account, request_id) = match self.api.create_service_account(&project, &name).await {
            Ok(created) => created,
            Err(err) => {
                self.finish(
                    step,
                    StepResult::Failed,
                    err.request_id(),
                    Some(&err.to_string()),
                    None,
                )?;
                return Err(format!("cannot create the replacement: {err}"));
            }
        };
        let made = Target {
            project: Some(project),
            key_id: Some(account.key_id.clone()),
            service_account: Some(account.id.clone()),
        };
        self.finish(
            step,
            StepResult::Ok,
            request_id.as_deref(),
            None,
            Some(&made),
        )?;
        let replacement = Replacement {
            service_account: account.id,
            key_id: account.key_id,
        };
        let outcomes = hooks
            .notify(
                EventKind::Rotated,
                finding,
                Some(&account.key),
                self.writable_ledger(),
            )
            .await;
        let failures: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.ok)
            .map(|o| format!("{}: {}", o.hook, o.detail.as_deref().unwrap_or("failed")))
            .collect();
        let failure = if !failures.is_empty() {
            Some(failures.join("; "))
        } else if !outcomes.iter().any(|o| o.delivered_key) {
            Some("no hook received it".to_string())
        } else {
            None
        };
        Ok((replacement, failure))
    }

    /// Records the intent, makes the call, records the outcome.
    async fn delete_step(
        &mut self,
        fingerprint: &Fingerprint,
        action: Action,
        target: &Target,
    ) -> Result<StepResult, String> {
        let ledger = self.ledger.as_ref().ok_or("no ledger")?;
        let step = ledger
            .begin(fingerprint, action, target)
            .map_err(|e| e.to_string())?;
        let (result, request_id, detail) = outcome_of(self.call(action, target).await);
        self.finish(step, result, request_id.as_deref(), detail.as_deref(), None)?;
        match result {
            StepResult::Failed => Err(detail.unwrap_or_else(|| "failed".into())),
            result => Ok(result),
        }
    }

    fn finish(
        &self,
        step: i64,
        result: StepResult,
        request_id: Option<&str>,
        detail: Option<&str>,
        created: Option<&Target>,
    ) -> Result<(), String> {
        self.ledger
            .as_ref()
            .ok_or("no ledger")?
            .finish(step, result, request_id, detail, created)
            .map_err(|e| e.to_string())
    }

    async fn call(&self, action: Action, target: &Target) -> Result<Option<String>, AdminError> {
        let project = target.project.as_deref().unwrap_or_default();
        let key_id = target.key_id.as_deref().unwrap_or_default();
        let account = target.service_account.as_deref().unwrap_or_default();
        match action {
            Action::DeleteKey => self.api.delete_project_key(project, key_id).await,
            Action::DeleteServiceAccount | Action::DeleteReplacement => {
                self.api.delete_service_account(project, account).await
            }
            Action::DeleteAdminKey => self.api.delete_admin_key(key_id).await,
            Action::CreateReplacement => unreachable!("replacements are created by rotate()"),
        }
    }

    /// Checks the leaked key again, with backoff, until the provider refuses it.
    async fn confirm(
        &self,
        finding: &Finding,
        endpoint: Endpoint,
        plan: &Plan,
        result: StepResult,
    ) -> Revocation {
        let status = match result {
            StepResult::NotFound => RevocationStatus::AlreadyRevoked,
            _ => RevocationStatus::Revoked,
        };
        let settings = &self.options.settings;
        let checks = settings.confirm_checks.max(1);
        let mut delay = settings.confirm_first_delay.0;
        for _ in 0..checks {
            tokio::time::sleep(delay).await;
            let outcome = crate::verify::check_once(
                &self.http,
                &self.options.api_base,
                endpoint.check(),
                &finding.secret,
            )
            .await;
            if let Outcome::Done(verification) = outcome
                && verification.status == VerificationStatus::Invalid
            {
                return plan.revocation(status, None);
            }
            delay = (delay * 2).min(MAX_CONFIRM_DELAY);
        }
        plan.revocation(
            RevocationStatus::Failed,
            Some(format!(
                "deleted, but the key still worked after {checks} checks; rerun to confirm"
            )),
        )
    }

    /// Writes the Administration API calls made so far into the ledger.
    fn record_calls(&self, fingerprint: &Fingerprint) {
        let calls = self.api.take_calls();
        if let Some(ledger) = self.writable_ledger() {
            for call in calls {
                // A lost call record is not worth failing the revocation for.
                let _ = ledger.record_call(
                    Some(fingerprint),
                    &call.method,
                    &call.path,
                    call.status,
                    call.request_id.as_deref(),
                );
            }
        }
    }
}

/// Replacements created by runs that died before revoking the leak they replace: each may or
/// may not have reached its consumers, and its key is known to nobody else, so once a newer
/// one is delivered (or the leak is revoked without one) they are deleted.
fn stale_replacements(steps: &[Step]) -> Vec<Target> {
    let mut stale: Vec<Target> = Vec::new();
    for step in steps {
        let done = matches!(step.result, Some(StepResult::Ok | StepResult::NotFound));
        match step.action {
            Action::CreateReplacement
                if step.result == Some(StepResult::Ok) && step.target.service_account.is_some() =>
            {
                stale.push(step.target.clone());
            }
            Action::DeleteReplacement if done => {
                stale.retain(|t| t.service_account != step.target.service_account);
            }
            // A replacement created before the leak was revoked is the one kept.
            action if action.revokes_leak() && done => stale.clear(),
            _ => {}
        }
    }
    stale
}

/// The name of the service account that replaces key `key_id`: fixed, so an interrupted run's
/// replacement can be found again.
fn replacement_name(key_id: &str) -> String {
    format!("ferret-replacement-{key_id}")
}

/// A call's result as a step outcome: a 404 means the object was already gone.
fn outcome_of(
    result: Result<Option<String>, AdminError>,
) -> (StepResult, Option<String>, Option<String>) {
    match result {
        Ok(request_id) => (StepResult::Ok, request_id, None),
        Err(err) if err.status() == Some(404) => (
            StepResult::NotFound,
            err.request_id().map(str::to_string),
            Some("already gone".into()),
        ),
        Err(err) => (
            StepResult::Failed,
            err.request_id().map(str::to_string),
            Some(err.to_string()),
        ),
    }
}

/// When the leak was first committed (Unix seconds), from its locations' commit dates.
fn first_seen(finding: &Finding) -> Option<i64> {
    finding
        .locations
        .iter()
        .filter_map(|l| l.commit.as_ref())
        .filter_map(|c| gix::date::parse(&c.date, None).ok())
        .map(|t| t.seconds)
        .min()
}
