//! Scheduled rotation (`ferret keys rotate`): keys chosen by age or by id, not leaks, go
//! through the rotation path leaks take ([`super::steps`]): a replacement service account is
//! created in the key's project, its key delivered through the operator's hooks, and only then
//! is the old key deleted (a service account's key with its service account) and its absence
//! from the organization confirmed. A replacement that could not be delivered is deleted and
//! the old key kept (held), whatever `[rotation] on_delivery_failure` says for leaks: a key
//! that has not leaked is not worth an outage.
//!
//! Identity: the key is the organization's own listing's, read in this run, by project and id;
//! a service account's key is rotated only when it is the account's one key (deleting the
//! account would revoke the others). The ledger keys each rotation by a fingerprint of the
//! project and key id (under the rule [`SCHEDULED_ROTATION`]) and records it as begun before
//! the first change, so a run killed anywhere is finished by the next, which reconciles the
//! open steps exactly as for a leak: a delete whose key is gone counts as done, a replacement
//! whose creation was cut off is found by its name and deleted.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::admin::ProjectKey;
use super::inventory::SCHEDULED_ROTATION;
use super::notify::HookContext;
use super::plan::{Plan, Planned, deletion_plan};
use super::steps::{
    Listed, Verdict, judge_delete_replacement, listed, revoked_the_leak, stale_replacements,
};
use super::{RevokeError, RevokeOptions, Revoker, SetupError};
use crate::config::{DeliveryFailure, EventKind, Hook, RevokeSettings, RotationSettings};
use crate::error::chain;
use crate::finding::{Finding, Revocation, RevocationStatus, Verification, VerificationStatus};
use crate::fs::now_seconds;
use crate::hooks::Hooks;
use crate::rules::Severity;
use crate::secret::{Fingerprint, Secret};
use crate::store::ledger::{Action, Step, StepResult};

/// How `ferret keys rotate` runs.
pub struct RotateOptions {
    /// OpenAI's API base (checked: https, or http to loopback).
    pub api_base: String,
    /// `OPENAI_ADMIN_KEY`.
    pub admin_key: Secret,
    pub ledger: PathBuf,
    pub wait_for_ledger: bool,
    /// Plan only: read the organization, change nothing, write nothing, run no hook.
    pub dry_run: bool,
    pub settings: RevokeSettings,
    pub hooks: Vec<Hook>,
    /// `owner/name` for GitHub hooks that name none.
    pub repository: Option<String>,
    pub request_timeout: Duration,
}

/// Which keys to rotate.
#[derive(Clone, Debug)]
pub enum Selection {
    /// Every project key created longer ago than this.
    OlderThan(Duration),
    /// These key ids (`key_…`).
    Keys(Vec<String>),
}

/// What became of one key.
#[derive(Clone, Debug, Serialize)]
pub struct Rotation {
    pub key_id: String,
    pub project: Option<String>,
    /// The key as the organization shows it.
    pub redacted: String,
    /// Unix seconds.
    pub created_at: Option<i64>,
    /// `status` `planned` (dry run), `revoked` (rotated), `already_revoked` (an interrupted
    /// run's delete had taken effect), `failed` (held or not done), `skipped` or `not_ours`;
    /// `replacement` names the new service account and key.
    pub revocation: Revocation,
}

/// A key to rotate: listed in this run, or only in the ledger (an unfinished rotation).
struct Candidate {
    project: String,
    key_id: String,
    redacted: String,
    listed: Option<ProjectKey>,
}

/// Rotates the selected keys (and finishes rotations an interrupted run began); `warn` hears
/// about hook failures.
pub fn rotate(
    options: RotateOptions,
    selection: &Selection,
    warn: &dyn Fn(String),
) -> Result<Vec<Rotation>, SetupError> {
    let http = crate::http::client(options.request_timeout)?;
    if let Some(hook) = options.hooks.iter().find(|h| h.delivers_anywhere()) {
        return Err(SetupError::DeliveryWithoutRepository(hook.name()));
    }
    let hooks = Hooks::new(options.hooks, http.clone())?;
    let revoke = RevokeOptions {
        api_base: options.api_base,
        admin_key: Some(options.admin_key),
        anthropic: None,
        openrouter: None,
        ledger: options.ledger,
        wait_for_ledger: options.wait_for_ledger,
        dry_run: options.dry_run,
        settings: options.settings,
        // A dry run delivers nothing, so it needs no delivering hook to show the plan.
        rotation: RotationSettings {
            enabled: !options.dry_run,
            on_delivery_failure: DeliveryFailure::Hold,
        },
        request_timeout: options.request_timeout,
        exposure: false,
        revoke: true,
    };
    let mut revoker = Revoker::new(revoke, &hooks, http, warn)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SetupError::Runtime)?;
    let context = HookContext {
        hooks: &hooks,
        repository: options.repository.as_deref(),
        dry_run: options.dry_run,
        warn,
    };
    Ok(runtime.block_on(revoker.rotate_all(selection, &context)))
}

impl Revoker {
    async fn rotate_all(
        &mut self,
        selection: &Selection,
        context: &HookContext<'_>,
    ) -> Vec<Rotation> {
        let (candidates, mut rotations) = match self.candidates(selection).await {
            Ok(found) => found,
            Err(err) => {
                let failed = Revocation::new(RevocationStatus::Failed, chain(&err));
                return vec![Rotation {
                    key_id: "*".into(),
                    project: None,
                    redacted: String::new(),
                    created_at: None,
                    revocation: failed,
                }];
            }
        };
        for candidate in candidates {
            let finding = scheduled_finding(&candidate);
            let revocation = match self.rotate_one(&candidate, &finding, context).await {
                Ok(revocation) => revocation,
                Err(err) => {
                    let mut failed = Revocation::new(RevocationStatus::Failed, chain(&err));
                    failed.key_id = Some(candidate.key_id.clone());
                    failed.project = Some(candidate.project.clone());
                    failed
                }
            };
            self.announce(&finding, &revocation, context).await;
            self.record_calls_of(&self.api, &finding.fingerprint);
            rotations.push(Rotation {
                key_id: candidate.key_id.clone(),
                project: Some(candidate.project.clone()),
                redacted: candidate.redacted.clone(),
                created_at: candidate.listed.as_ref().and_then(|k| k.created_at),
                revocation,
            });
        }
        rotations
    }

    /// The keys the selection names and the rotations the ledger records as begun and not
    /// finished; named keys the organization does not list are reported as not ours.
    async fn candidates(
        &mut self,
        selection: &Selection,
    ) -> Result<(Vec<Candidate>, Vec<Rotation>), RevokeError> {
        let keys = self.project_keys(None).await?;
        let now = now_seconds();
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut unknown = Vec::new();
        match selection {
            Selection::OlderThan(age) => {
                let cutoff = now - i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
                for key in keys
                    .iter()
                    .filter(|k| k.created_at.is_some_and(|c| c < cutoff))
                {
                    candidates.push(listed_candidate(key));
                }
            }
            Selection::Keys(ids) => {
                for id in ids {
                    match keys.iter().find(|k| k.id == *id) {
                        Some(key) => candidates.push(listed_candidate(key)),
                        None => unknown.push(not_listed(id)),
                    }
                }
            }
        }
        if let Some(ledger) = &self.ledger {
            for recorded in ledger.outcomes()? {
                let revocation = &recorded.revocation;
                let begun = recorded.rule == SCHEDULED_ROTATION
                    && revocation.status == RevocationStatus::Planned;
                let (Some(key_id), Some(project)) = (&revocation.key_id, &revocation.project)
                else {
                    continue;
                };
                if !begun || candidates.iter().any(|c| c.key_id == *key_id) {
                    continue;
                }
                let listed = keys
                    .iter()
                    .find(|k| k.id == *key_id && k.project == *project)
                    .cloned();
                unknown.retain(|r: &Rotation| r.key_id != *key_id);
                candidates.push(Candidate {
                    project: project.clone(),
                    key_id: key_id.clone(),
                    redacted: recorded.redacted.clone(),
                    listed,
                });
            }
        }
        Ok((candidates, unknown))
    }

    /// One key: what an interrupted run left is finished first; then, if the key is still
    /// listed, a replacement is made and delivered before the key is deleted.
    async fn rotate_one(
        &mut self,
        candidate: &Candidate,
        finding: &Finding,
        context: &HookContext<'_>,
    ) -> Result<Revocation, RevokeError> {
        if !self.options.dry_run
            && let Some(done) = self.finish_interrupted(candidate, finding).await?
        {
            return Ok(done);
        }
        let Some(key) = &candidate.listed else {
            let (status, detail) = if self.options.dry_run {
                (
                    RevocationStatus::Planned,
                    "would finish a rotation an interrupted run began (the key is no longer \
                     listed)",
                )
            } else {
                (
                    RevocationStatus::AlreadyRevoked,
                    "gone from the organization before this run rotated it",
                )
            };
            let mut gone = Revocation::new(status, detail.to_string());
            gone.key_id = Some(candidate.key_id.clone());
            gone.project = Some(candidate.project.clone());
            return Ok(gone);
        };
        let plan = match self.rotation_plan(key).await? {
            Planned::Act(plan) => plan,
            Planned::Settled(settled) => return Ok(settled),
        };
        let detail = format!(
            "would create a replacement service account in project {}, deliver its key through \
             the rotation hooks, then {}",
            candidate.project,
            plan.describe()
        );
        if self.options.dry_run {
            return Ok(plan.revocation(RevocationStatus::Planned, Some(detail)));
        }
        let ledger = self.ledger.as_ref().ok_or(RevokeError::NoLedger)?;
        // Recorded before the first change: a run killed from here on is finished by the next.
        let begun = plan.revocation(
            RevocationStatus::Planned,
            Some("rotation begun, not finished".to_string()),
        );
        ledger.record_outcome(
            &finding.fingerprint,
            SCHEDULED_ROTATION,
            &candidate.redacted,
            &begun,
        )?;
        let stale = stale_replacements(&ledger.steps(&finding.fingerprint)?);
        let mut announced = finding.clone();
        announced.revocation = Some(plan.revocation(RevocationStatus::Planned, Some(detail)));
        let (created, failure) = self.rotate(&announced, &plan, context).await?;
        if let Some(reason) = failure {
            return self
                .hold(&finding.fingerprint, &plan, created, &reason)
                .await;
        }
        let mut notes = Vec::new();
        for target in &stale {
            if let Err(err) = self
                .delete_step(&finding.fingerprint, Action::DeleteReplacement, target)
                .await
            {
                notes.push(format!(
                    "the replacement {} of an interrupted run could not be deleted: {}",
                    target.service_account.as_deref().unwrap_or("?"),
                    chain(&err)
                ));
            }
        }
        let (step, result) = self
            .delete_step(&finding.fingerprint, plan.action, &plan.target)
            .await?;
        let mut revocation = self.confirm_gone(step, &plan, result).await?;
        revocation.replacement = Some(created);
        if !notes.is_empty() {
            notes.splice(0..0, revocation.detail.take());
            revocation.detail = Some(notes.join("; "));
        }
        Ok(revocation)
    }

    /// Deleting the key: a user's key itself, a service account's key with its account when
    /// that is the account's only key.
    async fn rotation_plan(&mut self, key: &ProjectKey) -> Result<Planned, RevokeError> {
        // A service account's other keys would go with it: the project's listing tells.
        let keys = match key.service_account() {
            Some(_) => self.project_keys(Some(&key.project)).await?,
            None => Vec::new(),
        };
        let plan = deletion_plan(key, &keys);
        if plan.others.is_empty() {
            return Ok(Planned::Act(plan));
        }
        let detail = format!(
            "its service account {} also owns {}: deleting it would revoke them too; rotate \
             them together by hand",
            plan.target.service_account.as_deref().unwrap_or_default(),
            plan.others.join(", ")
        );
        Ok(Planned::Settled(
            plan.revocation(RevocationStatus::Skipped, Some(detail)),
        ))
    }

    /// Reconciles the steps an interrupted run left open; returns the outcome when one of them
    /// had deleted (or found gone) the key.
    async fn finish_interrupted(
        &mut self,
        candidate: &Candidate,
        finding: &Finding,
    ) -> Result<Option<Revocation>, RevokeError> {
        let Some(ledger) = &self.ledger else {
            return Ok(None);
        };
        let steps = ledger.steps(&finding.fingerprint)?;
        let mut revoking = None;
        for step in &steps {
            let result = match step.result {
                Some(result) => result,
                None => self.redo_scheduled(candidate, finding, step).await?,
            };
            revoking = revoked_the_leak(step, result).or(revoking);
        }
        let Some((step, plan, result)) = revoking else {
            return Ok(None);
        };
        let mut revocation = self.confirm_gone(step, &plan, result).await?;
        revocation.replacement = kept_replacement(&steps, step);
        Ok(Some(revocation))
    }

    /// An open step: a delete of the key is redone only while the organization still lists
    /// that very key under the same owner (this run's listing), and counts as done when it is
    /// gone.
    async fn redo_scheduled(
        &mut self,
        candidate: &Candidate,
        finding: &Finding,
        step: &Step,
    ) -> Result<StepResult, RevokeError> {
        let verdict = match step.action {
            Action::CreateReplacement => {
                return self.redo_create_replacement(finding, step).await;
            }
            Action::DeleteReplacement => {
                let accounts = self.accounts_of(step).await?;
                judge_delete_replacement(step, &accounts)
            }
            _ => {
                let projects = self.projects().await?;
                let keys = self.fresh_keys(&candidate.project).await?;
                match listed(step, &projects, &keys, &[]) {
                    Listed::Gone => {
                        Verdict::Gone("gone: the interrupted run's call had taken effect")
                    }
                    Listed::Foreign(why) => Verdict::Abandon(why),
                    Listed::Yes => match &candidate.listed {
                        Some(key) => match self.rotation_plan(key).await? {
                            Planned::Act(plan)
                                if plan.action == step.action && plan.target == step.target =>
                            {
                                Verdict::Redo
                            }
                            _ => Verdict::Abandon(
                                "the key's owner is no longer the one the step was for".into(),
                            ),
                        },
                        None => Verdict::Abandon("the key is not listed".into()),
                    },
                }
            }
        };
        self.carry_out(step, verdict).await
    }

    /// The project's keys read again (a delete was just made).
    async fn fresh_keys(&mut self, project: &str) -> Result<Vec<ProjectKey>, RevokeError> {
        self.inventory.keys.remove(project);
        self.project_keys(Some(project)).await
    }

    /// Confirms the deleted key is no longer listed; otherwise the step is `unconfirmed` and
    /// the rotation failed (the next run looks again).
    async fn confirm_gone(
        &mut self,
        step: i64,
        plan: &Plan,
        result: StepResult,
    ) -> Result<Revocation, RevokeError> {
        let project = plan.target.project.clone().unwrap_or_default();
        let keys = self.fresh_keys(&project).await?;
        let key_id = plan.target.key_id.as_deref().unwrap_or_default();
        if !keys.iter().any(|k| k.id == key_id) {
            let status = match result {
                StepResult::NotFound => RevocationStatus::AlreadyRevoked,
                _ => RevocationStatus::Revoked,
            };
            return Ok(plan.revocation(status, None));
        }
        let detail = format!(
            "{} was done, but the organization still lists the key; the next run looks again",
            plan.describe()
        );
        let ledger = self.ledger.as_ref().ok_or(RevokeError::NoLedger)?;
        ledger.set_result(step, StepResult::Unconfirmed, &detail)?;
        Ok(plan.revocation(RevocationStatus::Failed, Some(detail)))
    }

    /// Hooks hear the outcome, and the ledger records it (last, as for leaks).
    async fn announce(
        &self,
        finding: &Finding,
        revocation: &Revocation,
        context: &HookContext<'_>,
    ) {
        if self.options.dry_run {
            return;
        }
        let kind = match revocation.status {
            RevocationStatus::Revoked | RevocationStatus::AlreadyRevoked => EventKind::Revoked,
            RevocationStatus::Failed => EventKind::Failed,
            _ => return,
        };
        let mut finding = finding.clone();
        finding.revocation = Some(revocation.clone());
        let ledger = self.writable_ledger();
        context.notify(kind, &finding, None, ledger).await;
        if let Some(ledger) = ledger
            && let Err(err) = ledger.record_outcome(
                &finding.fingerprint,
                SCHEDULED_ROTATION,
                &finding.secret.expose_str(),
                revocation,
            )
        {
            (context.warn)(chain(&err));
        }
    }
}

/// The replacement kept by a rotation whose delete is `revoking`: the last one created before
/// it.
fn kept_replacement(steps: &[Step], revoking: i64) -> Option<crate::finding::Replacement> {
    steps
        .iter()
        .filter(|s| {
            s.id < revoking
                && s.action == Action::CreateReplacement
                && s.result == Some(StepResult::Ok)
        })
        .filter_map(|s| {
            Some(crate::finding::Replacement {
                service_account: s.target.service_account.clone()?,
                key_id: s.target.key_id.clone()?,
            })
        })
        .next_back()
}

fn listed_candidate(key: &ProjectKey) -> Candidate {
    Candidate {
        project: key.project.clone(),
        key_id: key.id.clone(),
        redacted: key.redacted_value.clone(),
        listed: Some(key.clone()),
    }
}

fn not_listed(id: &str) -> Rotation {
    let mut revocation = Revocation::new(
        RevocationStatus::NotOurs,
        format!(
            "{id} is not a project key of this organization (admin keys and other providers' \
             keys are rotated by hand)"
        ),
    );
    revocation.key_id = Some(id.to_string());
    Rotation {
        key_id: id.to_string(),
        project: None,
        redacted: String::new(),
        created_at: None,
        revocation,
    }
}

/// The finding a scheduled rotation goes through the rotation path as: named by the key as the
/// organization shows it (redacted: there is no leaked key), with a fingerprint of its project
/// and id, so the ledger keeps one record per key.
fn scheduled_finding(candidate: &Candidate) -> Finding {
    let identity = format!(
        "ferret keys rotate\0{}\0{}",
        candidate.project, candidate.key_id
    );
    Finding {
        rule_id: SCHEDULED_ROTATION.to_string(),
        rule_name: "Scheduled key rotation".to_string(),
        severity: Severity::Low,
        secret: Secret::new(candidate.redacted.clone()),
        fingerprint: Fingerprint(hex::encode(Sha256::digest(identity.as_bytes()))),
        locations: Vec::new(),
        verification: Verification::with_status(VerificationStatus::Unverified),
        revocation: None,
        omitted_locations: 0,
        exposure: None,
    }
}
