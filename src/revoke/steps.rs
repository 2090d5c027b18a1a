//! Exactly once: every change to the organization is recorded in the ledger before the call
//! and after it; what an interrupted run began is reconciled on the next; a replacement is
//! created and delivered before the leak dies; and the leak is checked until it is dead.
//!
//! The ledger is evidence, not orders. A step an interrupted run left open is redone only for a
//! leak that verified live in this run, and only on a target that the organization's inventory,
//! read in this run, still lists and proves to be the leak ([`super::identity`]); a target the
//! inventory no longer lists counts as done. A revocation whose leak still works after every
//! check is marked `unconfirmed`: the next run plans from the organization again instead of
//! trusting that step.

use std::time::Duration;

use super::admin::AdminError;
use super::notify::HookContext;
use super::plan::{Plan, Planned};
use super::{RevokeError, Revoker};
use crate::config::{DeliveryFailure, EventKind};
use crate::finding::{Finding, Replacement, Revocation, RevocationStatus, VerificationStatus};
use crate::secret::Fingerprint;
use crate::store::ledger::{Action, Step, StepResult, Target};
use crate::verify::Outcome;
use crate::verify::openai::Endpoint;

/// Longest wait between two checks that a revoked key is dead.
const MAX_CONFIRM_DELAY: Duration = Duration::from_secs(30);

/// Prefix of the names of the service accounts that replace leaked keys.
const REPLACEMENT_PREFIX: &str = "ferret-replacement-";

/// What a revocation attempt came to.
pub(super) enum Revoked {
    /// This run acted (or planned, or found it could not act).
    Now(Revocation),
    /// The ledger records the key as revoked by an earlier run, and it is dead: nothing was
    /// done.
    Earlier(Revocation),
    /// The key is not live and nothing was pending for it.
    Nothing,
}

/// Whether a step's target is still in the organization.
enum Listed {
    Yes,
    /// Gone: deleted (by the step, or by anyone).
    Gone,
    /// Not the organization's at all (a project it does not have).
    Foreign(String),
}

impl Revoker {
    pub(super) async fn revoke(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        live: bool,
        hooks: &HookContext<'_>,
    ) -> Revoked {
        let revoked = match self.try_revoke(finding, endpoint, live, hooks).await {
            Ok(revoked) => revoked,
            Err(err) => Revoked::Now(Revocation::new(RevocationStatus::Failed, causes(&err))),
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
    ) -> Result<Revoked, RevokeError> {
        let fingerprint = &finding.fingerprint;
        let mut steps = Vec::new();
        if let Some(ledger) = &self.ledger {
            if let Some(recorded) = ledger.outcome(fingerprint)?
                && recorded.is_done()
            {
                if !live {
                    return Ok(Revoked::Earlier(recorded));
                }
                (hooks.warn)(format!(
                    "{}: the ledger records it {}, but it answers live now: looking it up again",
                    finding.secret.redacted(),
                    recorded.status_name()
                ));
            }
            steps = ledger.steps(fingerprint)?;
        }
        if !self.options.dry_run
            && let Some(revocation) = self.reconcile(finding, endpoint, live, &steps).await?
        {
            return Ok(Revoked::Now(revocation));
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
    ) -> Result<Revocation, RevokeError> {
        let fingerprint = &finding.fingerprint;
        let plan = match self.plan(finding, endpoint).await? {
            Planned::Act(plan) => plan,
            Planned::Settled(revocation) => return Ok(revocation),
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
            Some(ledger) => stale_replacements(&ledger.steps(fingerprint)?),
            None => Vec::new(),
        };
        let mut replacement = None;
        let mut notes = Vec::new();
        if rotate {
            let (created, failure) = self.rotate(finding, &plan, hooks).await?;
            if let Some(reason) = failure {
                if self.options.rotation.on_delivery_failure == DeliveryFailure::Hold {
                    return self.hold(fingerprint, &plan, created, &reason).await;
                }
                // Security first (the default): the leak is closed even though its
                // replacement did not reach its consumers.
                notes.push(format!("the replacement key was not delivered: {reason}"));
            }
            replacement = Some(created);
        }
        for target in &stale {
            if let Err(err) = self
                .delete_step(fingerprint, Action::DeleteReplacement, target)
                .await
            {
                notes.insert(
                    0,
                    format!(
                        "the replacement {} of an interrupted run could not be deleted: {}",
                        target.service_account.as_deref().unwrap_or("?"),
                        causes(&err)
                    ),
                );
            }
        }
        let (step, result) = self
            .delete_step(fingerprint, plan.action, &plan.target)
            .await?;
        let mut revocation = self
            .confirm_step(finding, endpoint, true, step, &plan, result)
            .await?;
        revocation.replacement = replacement;
        if !notes.is_empty() {
            notes.splice(0..0, revocation.detail.take());
            revocation.detail = Some(notes.join("; "));
        }
        Ok(revocation)
    }

    /// With `on_delivery_failure = "hold"`: the undelivered replacement is deleted and the leak
    /// left live.
    async fn hold(
        &mut self,
        fingerprint: &Fingerprint,
        plan: &Plan,
        created: Replacement,
        reason: &str,
    ) -> Result<Revocation, RevokeError> {
        let target = Target {
            project: plan.target.project.clone(),
            key_id: Some(created.key_id.clone()),
            service_account: Some(created.service_account.clone()),
        };
        let deleted = self
            .delete_step(fingerprint, Action::DeleteReplacement, &target)
            .await;
        let mut revocation = plan.revocation(
            RevocationStatus::Failed,
            Some(format!(
                "held: the replacement key was not delivered ({reason}); the leaked key is still \
                 live"
            )),
        );
        // If the delete failed, the report still names the unused replacement.
        if deleted.is_err() {
            revocation.replacement = Some(created);
        }
        Ok(revocation)
    }

    /// Finishes what an interrupted run began; returns the final outcome when a step revoked
    /// (or had revoked) the leak.
    async fn reconcile(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        live: bool,
        steps: &[Step],
    ) -> Result<Option<Revocation>, RevokeError> {
        let mut revoking: Option<(i64, Plan, StepResult)> = None;
        for step in steps {
            let result = match step.result {
                Some(result) => result,
                None => self.redo(finding, endpoint, live, step).await?,
            };
            if step.action.revokes_leak() && matches!(result, StepResult::Ok | StepResult::NotFound)
            {
                let plan = Plan {
                    action: step.action,
                    target: step.target.clone(),
                    others: Vec::new(),
                };
                revoking = Some((step.id, plan, result));
            }
        }
        let Some((step, plan, result)) = revoking else {
            return Ok(None);
        };
        let revocation = self
            .confirm_step(finding, endpoint, live, step, &plan, result)
            .await?;
        Ok(Some(revocation))
    }

    /// Completes a step an interrupted run began, if the evidence of this run allows it.
    async fn redo(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        live: bool,
        step: &Step,
    ) -> Result<StepResult, RevokeError> {
        match step.action {
            Action::CreateReplacement => self.redo_create_replacement(finding, step).await,
            Action::DeleteReplacement => self.redo_delete_replacement(step).await,
            _ => self.redo_revoking(finding, endpoint, live, step).await,
        }
    }

    /// An open delete of the leak: done if its target is gone; repeated only when the leak is
    /// live now and the inventory proves the target is the leak; abandoned otherwise.
    async fn redo_revoking(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
        live: bool,
        step: &Step,
    ) -> Result<StepResult, RevokeError> {
        let why_not = match self.listed(step).await? {
            Listed::Gone => {
                let note = "gone: the interrupted run's call had taken effect";
                self.finish(step.id, StepResult::NotFound, None, Some(note), None)?;
                return Ok(StepResult::NotFound);
            }
            Listed::Foreign(reason) => reason,
            Listed::Yes if !live => "the leaked key is not live now".to_string(),
            Listed::Yes => match self.plan(finding, endpoint).await? {
                Planned::Act(plan) if plan.action == step.action && plan.target == step.target => {
                    let (result, request_id, detail) =
                        outcome_of(&self.call(step.action, &step.target).await);
                    self.finish(
                        step.id,
                        result,
                        request_id.as_deref(),
                        detail.as_deref(),
                        None,
                    )?;
                    return Ok(result);
                }
                Planned::Act(plan) => format!("the evidence points elsewhere: {}", plan.describe()),
                Planned::Settled(revocation) => format!(
                    "the evidence does not prove it is the leak ({}: {})",
                    revocation.status_name(),
                    revocation.detail.as_deref().unwrap_or("no detail")
                ),
            },
        };
        let note = format!("not redone: {why_not}");
        self.finish(step.id, StepResult::Abandoned, None, Some(&note), None)?;
        Ok(StepResult::Abandoned)
    }

    /// Whether the target of a step on the leak is still in the organization's inventory.
    async fn listed(&mut self, step: &Step) -> Result<Listed, RevokeError> {
        let key_id = step.target.key_id.as_deref().unwrap_or_default();
        if step.action == Action::DeleteAdminKey {
            let keys = self.admin_keys().await?;
            return Ok(if keys.iter().any(|k| k.id == key_id) {
                Listed::Yes
            } else {
                Listed::Gone
            });
        }
        let project = step.target.project.as_deref().unwrap_or_default();
        if !self.has_project(project).await? {
            return Ok(Listed::Foreign(format!(
                "project {project} is not an active project of this organization"
            )));
        }
        let keys = self.project_keys(Some(project)).await?;
        let account = step.target.service_account.as_deref();
        let listed = keys.iter().any(|k| {
            k.id == key_id
                && (step.action != Action::DeleteServiceAccount
                    || k.service_account().map(String::as_str) == account)
        });
        Ok(if listed { Listed::Yes } else { Listed::Gone })
    }

    /// An open creation of a replacement: whatever it created (found by the replacement's fixed
    /// name) has a key nobody recorded, and is deleted.
    async fn redo_create_replacement(
        &mut self,
        finding: &Finding,
        step: &Step,
    ) -> Result<StepResult, RevokeError> {
        let project = step.target.project.as_deref().unwrap_or_default();
        if self.has_project(project).await? {
            let name = replacement_name(step.target.key_id.as_deref().unwrap_or_default());
            let accounts = self.api.service_accounts(project).await?;
            for account in accounts.iter().filter(|a| a.name == name) {
                let lost = Target {
                    project: Some(project.to_string()),
                    key_id: None,
                    service_account: Some(account.id.clone()),
                };
                self.delete_step(&finding.fingerprint, Action::DeleteReplacement, &lost)
                    .await?;
            }
        }
        let note = "begun by an interrupted run";
        self.finish(step.id, StepResult::Abandoned, None, Some(note), None)?;
        Ok(StepResult::Abandoned)
    }

    /// An open delete of a replacement: repeated only on a service account the organization
    /// still has under a replacement's name.
    async fn redo_delete_replacement(&mut self, step: &Step) -> Result<StepResult, RevokeError> {
        let project = step.target.project.as_deref().unwrap_or_default();
        let id = step.target.service_account.as_deref().unwrap_or_default();
        let accounts = if self.has_project(project).await? {
            self.api.service_accounts(project).await?
        } else {
            Vec::new()
        };
        let (result, request_id, detail) = match accounts.iter().find(|a| a.id == id) {
            None => (StepResult::NotFound, None, Some("already gone".to_string())),
            Some(account) if !account.name.starts_with(REPLACEMENT_PREFIX) => (
                StepResult::Abandoned,
                None,
                Some(format!(
                    "not redone: {id} is not named as a replacement ({})",
                    account.name
                )),
            ),
            Some(_) => outcome_of(&self.call(step.action, &step.target).await),
        };
        self.finish(
            step.id,
            result,
            request_id.as_deref(),
            detail.as_deref(),
            None,
        )?;
        Ok(result)
    }

    /// Whether `project` is one of the organization's active projects.
    async fn has_project(&mut self, project: &str) -> Result<bool, RevokeError> {
        Ok(self.projects().await?.iter().any(|p| p == project))
    }

    /// Creates the replacement service account in the leaked key's project and delivers its
    /// key through the hooks; returns it, and why delivery failed if it did.
    async fn rotate(
        &mut self,
        finding: &Finding,
        plan: &Plan,
        hooks: &HookContext<'_>,
    ) -> Result<(Replacement, Option<String>), RevokeError> {
        let project = plan.target.project.clone().unwrap_or_default();
        let intent = Target {
            project: Some(project.clone()),
            key_id: plan.target.key_id.clone(),
            service_account: None,
        };
        let ledger = self.ledger.as_ref().ok_or(RevokeError::NoLedger)?;
        let step = ledger.begin(&finding.fingerprint, Action::CreateReplacement, &intent)?;
        let name = replacement_name(intent.key_id.as_deref().unwrap_or_default());
        let (account, request_id) = match self.api.create_service_account(&project, &name).await {
            Ok(created) => created,
            Err(err) => {
                let detail = err.to_string();
                self.finish(
                    step,
                    StepResult::Failed,
                    err.request_id(),
                    Some(&detail),
                    None,
                )?;
                return Err(RevokeError::Replacement(err));
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

    /// Records the intent, makes the call, records the outcome; returns the step's id and
    /// result (a failed call is an error).
    async fn delete_step(
        &mut self,
        fingerprint: &Fingerprint,
        action: Action,
        target: &Target,
    ) -> Result<(i64, StepResult), RevokeError> {
        let ledger = self.ledger.as_ref().ok_or(RevokeError::NoLedger)?;
        let step = ledger.begin(fingerprint, action, target)?;
        let outcome = self.call(action, target).await;
        let (result, request_id, detail) = outcome_of(&outcome);
        self.finish(step, result, request_id.as_deref(), detail.as_deref(), None)?;
        match outcome {
            Err(err) if result == StepResult::Failed => Err(err.into()),
            _ => Ok((step, result)),
        }
    }

    fn finish(
        &self,
        step: i64,
        result: StepResult,
        request_id: Option<&str>,
        detail: Option<&str>,
        created: Option<&Target>,
    ) -> Result<(), RevokeError> {
        let ledger = self.ledger.as_ref().ok_or(RevokeError::NoLedger)?;
        Ok(ledger.finish(step, result, request_id, detail, created)?)
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

    /// Confirms that the step `step` killed the leak; if the leak still works after every
    /// check, the step is marked `unconfirmed` in the ledger, so that the next run looks the
    /// leak up again instead of trusting it.
    async fn confirm_step(
        &self,
        finding: &Finding,
        endpoint: Endpoint,
        live: bool,
        step: i64,
        plan: &Plan,
        result: StepResult,
    ) -> Result<Revocation, RevokeError> {
        let status = match result {
            StepResult::NotFound => RevocationStatus::AlreadyRevoked,
            _ => RevocationStatus::Revoked,
        };
        // Verified dead in this run already: no need to ask again.
        if !live || self.is_dead(finding, endpoint).await {
            return Ok(plan.revocation(status, None));
        }
        let checks = self.options.settings.confirm_checks.max(1);
        let detail = format!(
            "{} was done, but the leaked key still worked after {checks} checks: either \
             revocation is slow, or that was not the leak; the next run looks the key up in the \
             organization again",
            plan.describe()
        );
        let ledger = self.ledger.as_ref().ok_or(RevokeError::NoLedger)?;
        ledger.set_result(step, StepResult::Unconfirmed, &detail)?;
        Ok(plan.revocation(RevocationStatus::Failed, Some(detail)))
    }

    /// Checks the leaked key again, with backoff, until the provider refuses it.
    async fn is_dead(&self, finding: &Finding, endpoint: Endpoint) -> bool {
        let settings = &self.options.settings;
        let mut delay = settings.confirm_first_delay.0;
        for _ in 0..settings.confirm_checks.max(1) {
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
                return true;
            }
            delay = (delay * 2).min(MAX_CONFIRM_DELAY);
        }
        false
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
    format!("{REPLACEMENT_PREFIX}{key_id}")
}

/// A call's result as a step outcome: a 404 means the object was already gone.
fn outcome_of(
    result: &Result<Option<String>, AdminError>,
) -> (StepResult, Option<String>, Option<String>) {
    match result {
        Ok(request_id) => (StepResult::Ok, request_id.clone(), None),
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

/// An error with its causes, as a revocation's detail.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
