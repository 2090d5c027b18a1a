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

use super::admin::{AdminApi, AdminError, AdminKey, ProjectKey, ServiceAccount};
use super::notify::HookContext;
use super::plan::{Plan, Planned};
use super::{RevokeError, Revoker};
use crate::config::{DeliveryFailure, EventKind};
use crate::error::chain;
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
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Listed {
    Yes,
    /// Gone: deleted (by the step, or by anyone).
    Gone,
    /// Not the organization's at all (a project it does not have).
    Foreign(String),
}

/// What becomes of a step an interrupted run left open.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Its target is gone: the interrupted call had taken effect (recorded `not_found`, with
    /// this note).
    Gone(&'static str),
    /// The evidence of this run proves the call right: it is made again.
    Redo,
    /// Not redone (recorded `abandoned`), and why.
    Abandon(String),
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
            Err(err) => Revoked::Now(Revocation::new(RevocationStatus::Failed, chain(&err))),
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
        let steps = match self.recorded_steps(finding, live, hooks)? {
            Ok(steps) => steps,
            Err(earlier) => return Ok(Revoked::Earlier(earlier)),
        };
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
                        chain(&err)
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
    pub(super) async fn hold(
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
            revoking = revoked_the_leak(step, result).or(revoking);
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
        let verdict = match step.action {
            Action::CreateReplacement => return self.redo_create_replacement(finding, step).await,
            Action::DeleteReplacement => {
                let accounts = self.accounts_of(step).await?;
                judge_delete_replacement(step, &accounts)
            }
            _ => {
                let listed = self.listed(step).await?;
                match judge_revoking(listed, live) {
                    Some(verdict) => verdict,
                    None => judge_against_plan(step, &self.plan(finding, endpoint).await?),
                }
            }
        };
        self.carry_out(step, verdict).await
    }

    /// Records the verdict on an open step, making its call again first when it is redone.
    pub(super) async fn carry_out(
        &mut self,
        step: &Step,
        verdict: Verdict,
    ) -> Result<StepResult, RevokeError> {
        let (result, request_id, detail) = match verdict {
            Verdict::Gone(note) => (StepResult::NotFound, None, Some(note.to_string())),
            Verdict::Redo => outcome_of(&self.call(step.action, &step.target).await),
            Verdict::Abandon(why) => (
                StepResult::Abandoned,
                None,
                Some(format!("not redone: {why}")),
            ),
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

    /// Whether the target of a step on the leak is still in the organization's inventory
    /// (reading as much of it as the step needs).
    async fn listed(&mut self, step: &Step) -> Result<Listed, RevokeError> {
        if step.action == Action::DeleteAdminKey {
            let keys = self.admin_keys().await?;
            return Ok(listed(step, &[], &[], &keys));
        }
        let projects = self.projects().await?;
        let project = step.target.project.as_deref().unwrap_or_default();
        let keys = if projects.iter().any(|p| p == project) {
            self.project_keys(Some(project)).await?
        } else {
            Vec::new()
        };
        Ok(listed(step, &projects, &keys, &[]))
    }

    /// The service accounts of a step's project (none when the organization has no such
    /// active project).
    pub(super) async fn accounts_of(
        &mut self,
        step: &Step,
    ) -> Result<Vec<ServiceAccount>, RevokeError> {
        let project = step.target.project.as_deref().unwrap_or_default();
        Ok(if self.has_project(project).await? {
            self.api.service_accounts(project).await?
        } else {
            Vec::new()
        })
    }

    /// An open creation of a replacement: whatever it created (found by the replacement's fixed
    /// name) has a key nobody recorded, and is deleted.
    pub(super) async fn redo_create_replacement(
        &mut self,
        finding: &Finding,
        step: &Step,
    ) -> Result<StepResult, RevokeError> {
        let accounts = self.accounts_of(step).await?;
        for lost in lost_replacements(step, &accounts) {
            self.delete_step(&finding.fingerprint, Action::DeleteReplacement, &lost)
                .await?;
        }
        let note = "begun by an interrupted run";
        self.finish(step.id, StepResult::Abandoned, None, Some(note), None)?;
        Ok(StepResult::Abandoned)
    }

    /// Whether `project` is one of the organization's active projects.
    async fn has_project(&mut self, project: &str) -> Result<bool, RevokeError> {
        Ok(self.projects().await?.iter().any(|p| p == project))
    }

    /// Creates the replacement service account in the leaked key's project and delivers its
    /// key through the hooks; returns it, and why delivery failed if it did.
    pub(super) async fn rotate(
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
                let detail = chain(&err);
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
    pub(super) async fn delete_step(
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

    pub(super) fn finish(
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
            Action::DeactivateAnthropicKey => match &self.anthropic {
                Some(api) => api.deactivate_anthropic_key(key_id).await,
                None => Err(AdminError::NotConfigured("ANTHROPIC_ADMIN_KEY")),
            },
            Action::DeleteOpenRouterKey => match &self.openrouter {
                Some(api) => api.delete_openrouter_key(key_id).await,
                None => Err(AdminError::NotConfigured("OPENROUTER_MANAGEMENT_KEY")),
            },
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
        let base = self.options.api_base.clone();
        self.confirm_at(finding, (&base, endpoint.check()), live, step, plan, result)
            .await
    }

    /// [`Self::confirm_step`] with the check (and its API base) that tells the leak is dead.
    pub(super) async fn confirm_at(
        &self,
        finding: &Finding,
        (api_base, check): (&str, &crate::verify::Check),
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
        if !live || self.is_dead_at(finding, api_base, check).await {
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

    /// Checks the leaked key with `check` at `api_base`, with backoff, until it is refused.
    pub(super) async fn is_dead_at(
        &self,
        finding: &Finding,
        api_base: &str,
        check: &crate::verify::Check,
    ) -> bool {
        let settings = &self.options.settings;
        let mut delay = settings.confirm_first_delay.0;
        for _ in 0..settings.confirm_checks.max(1) {
            tokio::time::sleep(delay).await;
            let outcome =
                crate::verify::check_once(&self.http, api_base, check, &finding.secret).await;
            if let Outcome::Done(verification) = outcome
                && verification.status == VerificationStatus::Invalid
            {
                return true;
            }
            delay = (delay * 2).min(MAX_CONFIRM_DELAY);
        }
        false
    }

    /// What the ledger holds of `finding`'s key: the steps recorded so far, or (`Err`) the
    /// outcome of an earlier run that finished with it, when the key no longer answers live.
    /// A key the ledger calls done that answers live again is looked up anew, with a warning.
    pub(super) fn recorded_steps(
        &self,
        finding: &Finding,
        live: bool,
        hooks: &HookContext<'_>,
    ) -> Result<Result<Vec<Step>, Revocation>, RevokeError> {
        let Some(ledger) = &self.ledger else {
            return Ok(Ok(Vec::new()));
        };
        if let Some(recorded) = ledger.outcome(&finding.fingerprint)?
            && recorded.is_done()
        {
            if !live {
                return Ok(Err(recorded));
            }
            (hooks.warn)(format!(
                "{}: the ledger records it {}, but it answers live now: looking it up again",
                finding.secret.redacted(),
                recorded.status_name()
            ));
        }
        Ok(Ok(ledger.steps(&finding.fingerprint)?))
    }

    /// Writes the Administration API calls made so far into the ledger.
    fn record_calls(&self, fingerprint: &Fingerprint) {
        self.record_calls_of(&self.api, fingerprint);
    }

    /// Writes the calls `api` made so far into the ledger.
    pub(super) fn record_calls_of(&self, api: &AdminApi, fingerprint: &Fingerprint) {
        let calls = api.take_calls();
        if let Some(ledger) = self.writable_ledger() {
            let rows = calls.iter().map(|call| {
                let id = call.request_id.as_deref();
                (call.method.as_str(), call.path.as_str(), call.status, id)
            });
            // A lost call record is not worth failing the revocation for.
            let _ = ledger.record_calls(Some(fingerprint), rows);
        }
    }
}

/// Whether the target of a step on the leak is listed: an admin key among `admin_keys`; a
/// project key among `project_keys` (a service account's, with that account) in one of
/// `projects`, the organization's active projects.
pub(super) fn listed(
    step: &Step,
    projects: &[String],
    project_keys: &[ProjectKey],
    admin_keys: &[AdminKey],
) -> Listed {
    let key_id = step.target.key_id.as_deref().unwrap_or_default();
    if step.action == Action::DeleteAdminKey {
        return if admin_keys.iter().any(|k| k.id == key_id) {
            Listed::Yes
        } else {
            Listed::Gone
        };
    }
    let project = step.target.project.as_deref().unwrap_or_default();
    if !projects.iter().any(|p| p == project) {
        return Listed::Foreign(format!(
            "project {project} is not an active project of this organization"
        ));
    }
    let account = step.target.service_account.as_deref();
    let listed = project_keys.iter().any(|k| {
        k.id == key_id
            && k.project == project
            && (step.action != Action::DeleteServiceAccount
                || k.service_account().map(String::as_str) == account)
    });
    if listed { Listed::Yes } else { Listed::Gone }
}

/// An open step that revokes the leak, by what the inventory says: done if its target is gone;
/// abandoned if the target is not the organization's, or the leak is not live now (nothing
/// then proves the target is the leak). `None`: planning decides ([`judge_against_plan`]).
pub(super) fn judge_revoking(listed: Listed, live: bool) -> Option<Verdict> {
    match listed {
        Listed::Gone => Some(Verdict::Gone(
            "gone: the interrupted run's call had taken effect",
        )),
        Listed::Foreign(why) => Some(Verdict::Abandon(why)),
        Listed::Yes if !live => Some(Verdict::Abandon(
            "the leaked key is not live now".to_string(),
        )),
        Listed::Yes => None,
    }
}

/// An open step that revokes a listed, live leak: redone only when this run's plan is the same
/// call on the same target.
pub(super) fn judge_against_plan(step: &Step, planned: &Planned) -> Verdict {
    match planned {
        Planned::Act(plan) if plan.action == step.action && plan.target == step.target => {
            Verdict::Redo
        }
        Planned::Act(plan) => Verdict::Abandon(format!(
            "the evidence points elsewhere: {}",
            plan.describe()
        )),
        Planned::Settled(revocation) => Verdict::Abandon(format!(
            "the evidence does not prove it is the leak ({}: {})",
            revocation.status_name(),
            revocation.detail.as_deref().unwrap_or("no detail")
        )),
    }
}

/// An open delete of a replacement: repeated only on a service account the project still has
/// under a replacement's name.
pub(super) fn judge_delete_replacement(step: &Step, accounts: &[ServiceAccount]) -> Verdict {
    let id = step.target.service_account.as_deref().unwrap_or_default();
    match accounts.iter().find(|a| a.id == id) {
        None => Verdict::Gone("already gone"),
        Some(account) if !account.name.starts_with(REPLACEMENT_PREFIX) => Verdict::Abandon(
            format!("{id} is not named as a replacement ({})", account.name),
        ),
        Some(_) => Verdict::Redo,
    }
}

/// The service accounts an open creation of a replacement may have made: those of its project
/// named as its replacement.
fn lost_replacements(step: &Step, accounts: &[ServiceAccount]) -> Vec<Target> {
    let name = replacement_name(step.target.key_id.as_deref().unwrap_or_default());
    accounts
        .iter()
        .filter(|a| a.name == name)
        .map(|account| Target {
            project: Some(step.target.project.clone().unwrap_or_default()),
            key_id: None,
            service_account: Some(account.id.clone()),
        })
        .collect()
}

/// The step, plan and result by which `step` revoked the leak (or found it revoked), if it
/// did.
pub(super) fn revoked_the_leak(step: &Step, result: StepResult) -> Option<(i64, Plan, StepResult)> {
    let revoked = matches!(result, StepResult::Ok | StepResult::NotFound);
    (step.action.revokes_leak() && revoked).then(|| {
        let plan = Plan {
            action: step.action,
            target: step.target.clone(),
            others: Vec::new(),
        };
        (step.id, plan, result)
    })
}

/// Replacements created by runs that died before revoking the leak they replace: each may or
/// may not have reached its consumers, and its key is known to nobody else, so once a newer
/// one is delivered (or the leak is revoked without one) they are deleted.
pub(super) fn stale_replacements(steps: &[Step]) -> Vec<Target> {
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
            Some(chain(err)),
        ),
    }
}

#[cfg(test)]
mod tests {
    //! Reconciliation's decisions against fake inventories and ledgers: which open steps are
    //! done, redone or abandoned, and which replacements are stale.

    use super::*;
    use crate::revoke::admin::KeyOwner;
    use crate::store::ledger::Ledger;

    fn target(project: Option<&str>, key: Option<&str>, account: Option<&str>) -> Target {
        Target {
            project: project.map(str::to_string),
            key_id: key.map(str::to_string),
            service_account: account.map(str::to_string),
        }
    }

    fn step(id: i64, action: Action, target: Target, result: Option<StepResult>) -> Step {
        Step {
            id,
            action,
            target,
            result,
        }
    }

    /// A key of `project` as the organization lists it, owned by a user or by `account`.
    fn project_key(project: &str, id: &str, account: Option<&str>) -> ProjectKey {
        let owner = match account {
            Some(account) => KeyOwner::ServiceAccount {
                service_account: ServiceAccount {
                    id: account.to_string(),
                    name: String::new(),
                },
            },
            None => KeyOwner::User { user: None },
        };
        ProjectKey {
            id: id.to_string(),
            redacted_value: "sk-proj-Ab…cd".to_string(),
            owner,
            name: None,
            created_at: None,
            last_used_at: None,
            project: project.to_string(),
        }
    }

    fn admin_key(id: &str) -> AdminKey {
        AdminKey {
            id: id.to_string(),
            redacted_value: "sk-admin-Ab…cd".to_string(),
            ..AdminKey::default()
        }
    }

    fn account(id: &str, name: &str) -> ServiceAccount {
        ServiceAccount {
            id: id.to_string(),
            name: name.to_string(),
        }
    }

    fn projects(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|p| p.to_string()).collect()
    }

    fn plan(action: Action, target: Target) -> Plan {
        Plan {
            action,
            target,
            others: Vec::new(),
        }
    }

    #[test]
    fn a_step_target_is_listed_gone_or_foreign_by_the_inventory() {
        let delete_key = step(
            1,
            Action::DeleteKey,
            target(Some("proj_1"), Some("key_1"), None),
            None,
        );
        let active = projects(&["proj_1", "proj_2"]);
        let keys = [project_key("proj_1", "key_1", None)];
        assert_eq!(listed(&delete_key, &active, &keys, &[]), Listed::Yes);
        assert_eq!(listed(&delete_key, &active, &[], &[]), Listed::Gone);
        // The same key id in another project is not the target.
        let elsewhere = [project_key("proj_2", "key_1", None)];
        assert_eq!(listed(&delete_key, &active, &elsewhere, &[]), Listed::Gone);
        let Listed::Foreign(why) = listed(&delete_key, &projects(&["proj_2"]), &keys, &[]) else {
            panic!("a project the organization does not have is foreign");
        };
        assert!(why.contains("proj_1 is not an active project"), "{why}");

        // A service account is the target only while it still owns the key.
        let delete_account = step(
            2,
            Action::DeleteServiceAccount,
            target(Some("proj_1"), Some("key_1"), Some("svc_1")),
            None,
        );
        let owned = [project_key("proj_1", "key_1", Some("svc_1"))];
        let moved = [project_key("proj_1", "key_1", Some("svc_2"))];
        assert_eq!(listed(&delete_account, &active, &owned, &[]), Listed::Yes);
        assert_eq!(listed(&delete_account, &active, &moved, &[]), Listed::Gone);

        // An admin key is looked for among the admin keys only.
        let delete_admin = step(
            3,
            Action::DeleteAdminKey,
            target(None, Some("admin_1"), None),
            None,
        );
        let admin_keys = [admin_key("admin_1")];
        assert_eq!(listed(&delete_admin, &[], &[], &admin_keys), Listed::Yes);
        assert_eq!(
            listed(&delete_admin, &active, &keys, &[admin_key("admin_2")]),
            Listed::Gone
        );
    }

    #[test]
    fn an_open_revoking_step_is_done_when_gone_and_abandoned_without_proof() {
        for live in [true, false] {
            assert_eq!(
                judge_revoking(Listed::Gone, live),
                Some(Verdict::Gone(
                    "gone: the interrupted run's call had taken effect"
                ))
            );
            assert_eq!(
                judge_revoking(Listed::Foreign("not ours".into()), live),
                Some(Verdict::Abandon("not ours".into()))
            );
        }
        // Listed but not live now: nothing proves the target is the leak.
        assert_eq!(
            judge_revoking(Listed::Yes, false),
            Some(Verdict::Abandon("the leaked key is not live now".into()))
        );
        // Listed and live: planning decides.
        assert_eq!(judge_revoking(Listed::Yes, true), None);
    }

    #[test]
    fn an_open_revoking_step_is_redone_only_when_planning_proves_the_same_call() {
        let target_1 = target(Some("proj_1"), Some("key_1"), None);
        let open = step(1, Action::DeleteKey, target_1.clone(), None);
        let same = Planned::Act(plan(Action::DeleteKey, target_1.clone()));
        assert_eq!(judge_against_plan(&open, &same), Verdict::Redo);

        let other_key = Planned::Act(plan(
            Action::DeleteKey,
            target(Some("proj_1"), Some("key_2"), None),
        ));
        let Verdict::Abandon(why) = judge_against_plan(&open, &other_key) else {
            panic!("another key is not redone");
        };
        assert!(why.starts_with("the evidence points elsewhere: "), "{why}");
        assert!(why.contains("key_2"), "{why}");

        // The same key, but now with its whole service account: not the call that was begun.
        let other_action = Planned::Act(plan(
            Action::DeleteServiceAccount,
            target(Some("proj_1"), Some("key_1"), Some("svc_1")),
        ));
        assert!(matches!(
            judge_against_plan(&open, &other_action),
            Verdict::Abandon(_)
        ));

        let ambiguous = Planned::Settled(Revocation::new(
            RevocationStatus::Ambiguous,
            "2 keys fit it".to_string(),
        ));
        let Verdict::Abandon(why) = judge_against_plan(&open, &ambiguous) else {
            panic!("an unproven leak is not acted on");
        };
        assert!(
            why.starts_with("the evidence does not prove it is the leak"),
            "{why}"
        );
        assert!(why.contains("2 keys fit it"), "{why}");
    }

    #[test]
    fn an_open_replacement_delete_is_redone_only_on_a_replacement() {
        let open = step(
            1,
            Action::DeleteReplacement,
            target(Some("proj_1"), None, Some("svc_9")),
            None,
        );
        assert_eq!(
            judge_delete_replacement(&open, &[account("svc_1", "billing")]),
            Verdict::Gone("already gone")
        );
        let Verdict::Abandon(why) = judge_delete_replacement(&open, &[account("svc_9", "billing")])
        else {
            panic!("an account not named as a replacement is not deleted");
        };
        assert_eq!(why, "svc_9 is not named as a replacement (billing)");
        let replacement = account("svc_9", &replacement_name("key_1"));
        assert_eq!(
            judge_delete_replacement(&open, &[replacement]),
            Verdict::Redo
        );
    }

    #[test]
    fn an_open_replacement_creation_finds_what_it_may_have_made_by_name() {
        let open = step(
            1,
            Action::CreateReplacement,
            target(Some("proj_1"), Some("key_1"), None),
            None,
        );
        let accounts = [
            account("svc_1", &replacement_name("key_1")),
            account("svc_2", &replacement_name("key_2")),
            account("svc_3", "billing"),
            account("svc_4", &replacement_name("key_1")),
        ];
        assert_eq!(
            lost_replacements(&open, &accounts),
            vec![
                target(Some("proj_1"), None, Some("svc_1")),
                target(Some("proj_1"), None, Some("svc_4")),
            ]
        );
        assert!(lost_replacements(&open, &accounts[1..3]).is_empty());
    }

    #[test]
    fn only_a_done_revoking_step_revoked_the_leak() {
        let on_key = target(Some("proj_1"), Some("key_1"), None);
        for action in [
            Action::DeleteKey,
            Action::DeleteServiceAccount,
            Action::DeleteAdminKey,
        ] {
            let done = step(7, action, on_key.clone(), None);
            for result in [StepResult::Ok, StepResult::NotFound] {
                let (id, plan, kept) = revoked_the_leak(&done, result).expect("revoked");
                assert_eq!((id, plan.action, kept), (7, action, result));
                assert_eq!(plan.target, on_key);
            }
            for result in [
                StepResult::Failed,
                StepResult::Abandoned,
                StepResult::Unconfirmed,
            ] {
                assert!(revoked_the_leak(&done, result).is_none(), "{result:?}");
            }
        }
        for action in [Action::CreateReplacement, Action::DeleteReplacement] {
            let other = step(8, action, on_key.clone(), None);
            assert!(revoked_the_leak(&other, StepResult::Ok).is_none());
        }
    }

    /// A replacement the run created for key_1's leak, as service account `account`.
    fn created(id: i64, account: &str) -> Step {
        step(
            id,
            Action::CreateReplacement,
            target(Some("proj_1"), Some("key_1"), Some(account)),
            Some(StepResult::Ok),
        )
    }

    /// The delete of the leak key_1 itself.
    fn revoking(id: i64, result: Option<StepResult>) -> Step {
        step(
            id,
            Action::DeleteKey,
            target(Some("proj_1"), Some("key_1"), None),
            result,
        )
    }

    /// The service accounts of stale replacements.
    fn stale_accounts(steps: &[Step]) -> Vec<String> {
        stale_replacements(steps)
            .into_iter()
            .map(|t| t.service_account.unwrap_or_default())
            .collect()
    }

    #[test]
    fn replacements_of_runs_that_died_before_revoking_are_stale() {
        // Created, and the run died before revoking (or revoking failed, or stayed open).
        assert_eq!(stale_accounts(&[created(1, "svc_1")]), ["svc_1"]);
        for result in [
            None,
            Some(StepResult::Failed),
            Some(StepResult::Unconfirmed),
        ] {
            let steps = [created(1, "svc_1"), revoking(2, result)];
            assert_eq!(stale_accounts(&steps), ["svc_1"], "{result:?}");
        }
        // Two interrupted rotations: both replacements are stale.
        let steps = [created(1, "svc_1"), created(2, "svc_2")];
        assert_eq!(stale_accounts(&steps), ["svc_1", "svc_2"]);
        // A creation that failed, or never finished, made nothing known.
        let failed = step(
            1,
            Action::CreateReplacement,
            target(Some("proj_1"), Some("key_1"), None),
            Some(StepResult::Failed),
        );
        let open = step(
            2,
            Action::CreateReplacement,
            target(Some("proj_1"), Some("key_1"), None),
            None,
        );
        assert!(stale_replacements(&[failed, open]).is_empty());
    }

    #[test]
    fn a_deleted_replacement_and_the_one_before_the_revocation_are_not_stale() {
        let deleted = |id, account, result| {
            step(
                id,
                Action::DeleteReplacement,
                target(Some("proj_1"), None, Some(account)),
                Some(result),
            )
        };
        // Deleted since, or found gone.
        for result in [StepResult::Ok, StepResult::NotFound] {
            let steps = [
                created(1, "svc_1"),
                created(2, "svc_2"),
                deleted(3, "svc_1", result),
            ];
            assert_eq!(stale_accounts(&steps), ["svc_2"]);
        }
        let steps = [created(1, "svc_1"), deleted(2, "svc_1", StepResult::Failed)];
        assert_eq!(stale_accounts(&steps), ["svc_1"]);
        // The replacement created before the leak was revoked is the one kept.
        for result in [StepResult::Ok, StepResult::NotFound] {
            let steps = [created(1, "svc_1"), revoking(2, Some(result))];
            assert!(stale_replacements(&steps).is_empty());
        }
    }

    #[test]
    fn a_ledger_an_interrupted_rotation_left_is_judged_from_its_steps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/ledger.sqlite");
        let fingerprint = Fingerprint("cd".repeat(32));
        let on_key = target(Some("proj_1"), Some("key_1"), None);
        {
            // The interrupted run: a replacement made and delivered, the delete begun, then
            // the process died before its outcome was written.
            let ledger = Ledger::open_exclusive(&path, false, &|_| {}).unwrap();
            let create = ledger
                .begin(&fingerprint, Action::CreateReplacement, &on_key)
                .unwrap();
            let made = target(Some("proj_1"), Some("key_9"), Some("svc_9"));
            ledger
                .finish(create, StepResult::Ok, Some("req_1"), None, Some(&made))
                .unwrap();
            ledger
                .begin(&fingerprint, Action::DeleteKey, &on_key)
                .unwrap();
        }
        let ledger = Ledger::open_exclusive(&path, false, &|_| {}).unwrap();
        let steps = ledger.steps(&fingerprint).unwrap();
        assert_eq!(steps.len(), 2);
        let open = &steps[1];
        assert_eq!((open.action, open.result), (Action::DeleteKey, None));
        // Its replacement counts as stale while the leak is not known to be revoked.
        let stale = stale_replacements(&steps);
        assert_eq!(
            stale,
            [target(Some("proj_1"), Some("key_9"), Some("svc_9"))]
        );

        // The organization no longer lists the key: the interrupted delete took effect.
        let active = projects(&["proj_1"]);
        let others = [project_key("proj_1", "key_2", None)];
        let verdict = judge_revoking(listed(open, &active, &others, &[]), false);
        assert_eq!(
            verdict,
            Some(Verdict::Gone(
                "gone: the interrupted run's call had taken effect"
            ))
        );
        ledger
            .finish(open.id, StepResult::NotFound, None, Some("gone"), None)
            .unwrap();
        let steps = ledger.steps(&fingerprint).unwrap();
        let revoked = revoked_the_leak(&steps[1], steps[1].result.unwrap());
        assert!(
            revoked.is_some_and(|(id, _, result)| id == open.id && result == StepResult::NotFound)
        );
        // The leak is revoked: the replacement made before it is the one kept.
        assert!(stale_replacements(&steps).is_empty());

        // Had the key still been listed and live, only planning could have allowed a redo.
        let listed_again = [project_key("proj_1", "key_1", None)];
        assert_eq!(
            judge_revoking(listed(open, &active, &listed_again, &[]), true),
            None
        );
    }
}
