//! Revocation of Anthropic and OpenRouter keys, with the steps OpenAI's keys take (steps.rs):
//! the ledger's record before and after the one destructive call, an interrupted run's open
//! step finished only on evidence of this run, the leak checked until it is dead. There is no
//! rotation: neither API can mint a replacement the way an OpenAI service account can.
//!
//! - Anthropic (`ANTHROPIC_ADMIN_KEY`): the organization answering the leak's verification
//!   (`anthropic-organization-id`) must be the admin key's (`GET /v1/organizations/me`), and
//!   exactly one active key's `partial_key_hint` must fit the leak; it is then deactivated
//!   (`POST /v1/organizations/api_keys/{id}` `{"status": "inactive"}`), the Admin API's only
//!   revocation.
//! - OpenRouter (`OPENROUTER_MANAGEMENT_KEY`): answers name no organization, so the leak's own
//!   record (`GET /api/v1/key`, asked with the leak) gives its label and creator, and exactly
//!   one enabled key of the management key's account must have both
//!   ([`super::identity::identify_openrouter`]); it is then deleted
//!   (`DELETE /api/v1/keys/{hash}`).

use std::collections::HashMap;

use super::anthropic::AnthropicKey;
use super::identity::{Evidence, Identity, OwnWords, identify, identify_openrouter};
use super::notify::HookContext;
use super::openrouter::{OpenRouterKey, OwnRecord, own_record};
use super::plan::{Plan, Planned, unproven};
use super::steps::{Listed, Revoked, judge_against_plan, judge_revoking, revoked_the_leak};
use super::{ProviderAdmin, RevokeError, Revoker, Route};
use crate::error::chain;
use crate::finding::{Finding, Revocation, RevocationStatus};
use crate::provider::VerifierId;
use crate::secret::Fingerprint;
use crate::store::ledger::{Action, Step, StepResult, Target};
use crate::verify::Check;

/// What the other providers' administration APIs have answered in this run (read once).
#[derive(Default)]
pub(super) struct Inventory {
    anthropic_organization: Option<String>,
    anthropic_keys: Option<Vec<AnthropicKey>>,
    openrouter_keys: Option<Vec<OpenRouterKey>>,
    /// The leaks' own records, read before revocation (a deleted key no longer answers).
    pub(super) openrouter_own: HashMap<Fingerprint, OwnRecord>,
}

impl Route {
    /// The variable naming the provider's administration key.
    fn admin_variable(self) -> &'static str {
        match self {
            Route::Anthropic => "ANTHROPIC_ADMIN_KEY",
            Route::OpenRouter => "OPENROUTER_MANAGEMENT_KEY",
            Route::OpenAi(_) => "OPENAI_ADMIN_KEY",
        }
    }

    /// The verification that tells the leak is dead.
    fn check(self) -> Option<&'static Check> {
        match self {
            Route::Anthropic => Check::for_verifier(VerifierId::Anthropic),
            Route::OpenRouter => Check::for_verifier(VerifierId::OpenRouter),
            Route::OpenAi(endpoint) => Some(endpoint.check()),
        }
    }
}

impl Revoker {
    fn admin_of(&self, route: Route) -> Option<&ProviderAdmin> {
        match route {
            Route::Anthropic => self.options.anthropic.as_ref(),
            Route::OpenRouter => self.options.openrouter.as_ref(),
            Route::OpenAi(_) => None,
        }
    }

    /// Revokes an Anthropic or OpenRouter leak (nothing when the operator gave no key for it).
    pub(super) async fn revoke_other(
        &mut self,
        finding: &Finding,
        route: Route,
        live: bool,
        hooks: &HookContext<'_>,
    ) -> Revoked {
        if self.admin_of(route).is_none() {
            return Revoked::Nothing;
        }
        let revoked = match self.try_revoke_other(finding, route, live, hooks).await {
            Ok(revoked) => revoked,
            Err(err) => Revoked::Now(Revocation::new(RevocationStatus::Failed, chain(&err))),
        };
        for api in [&self.anthropic, &self.openrouter].into_iter().flatten() {
            self.record_calls_of(api, &finding.fingerprint);
        }
        revoked
    }

    async fn try_revoke_other(
        &mut self,
        finding: &Finding,
        route: Route,
        live: bool,
        hooks: &HookContext<'_>,
    ) -> Result<Revoked, RevokeError> {
        let fingerprint = &finding.fingerprint;
        let steps = match self.recorded_steps(finding, live, hooks)? {
            Ok(steps) => steps,
            Err(earlier) => return Ok(Revoked::Earlier(earlier)),
        };
        if !self.options.dry_run
            && let Some(revocation) = self.reconcile_other(finding, route, live, &steps).await?
        {
            return Ok(Revoked::Now(revocation));
        }
        if !live {
            return Ok(Revoked::Nothing);
        }
        let plan = match self.plan_other(finding, route).await? {
            Planned::Act(plan) => plan,
            Planned::Settled(revocation) => return Ok(Revoked::Now(revocation)),
        };
        if self.options.dry_run {
            let detail = format!("would {}", plan.describe());
            return Ok(Revoked::Now(
                plan.revocation(RevocationStatus::Planned, Some(detail)),
            ));
        }
        let (step, result) = self
            .delete_step(fingerprint, plan.action, &plan.target)
            .await?;
        Ok(Revoked::Now(
            self.confirm_other(finding, route, true, step, &plan, result)
                .await?,
        ))
    }

    /// Finishes what an interrupted run began for this leak; returns the final outcome when a
    /// step revoked (or had revoked) it.
    async fn reconcile_other(
        &mut self,
        finding: &Finding,
        route: Route,
        live: bool,
        steps: &[Step],
    ) -> Result<Option<Revocation>, RevokeError> {
        let mut revoking = None;
        for step in steps {
            let result = match step.result {
                Some(result) => result,
                None => {
                    let listed = self.listed_other(step).await?;
                    let verdict = match judge_revoking(listed, live) {
                        Some(verdict) => verdict,
                        None => judge_against_plan(step, &self.plan_other(finding, route).await?),
                    };
                    self.carry_out(step, verdict).await?
                }
            };
            revoking = revoked_the_leak(step, result).or(revoking);
        }
        let Some((step, plan, result)) = revoking else {
            return Ok(None);
        };
        let revocation = self
            .confirm_other(finding, route, live, step, &plan, result)
            .await?;
        Ok(Some(revocation))
    }

    /// Whether the key of an open step is still active: Anthropic is asked for that one key
    /// (an inactive or unknown key is gone), OpenRouter's enabled keys are listed.
    async fn listed_other(&mut self, step: &Step) -> Result<Listed, RevokeError> {
        let id = step.target.key_id.as_deref().unwrap_or_default();
        match step.action {
            Action::DeactivateAnthropicKey => {
                let api = self.anthropic.as_ref().ok_or(RevokeError::NoAdminKey(
                    "an interrupted run deactivated an Anthropic key: ANTHROPIC_ADMIN_KEY is needed",
                ))?;
                match api.anthropic_key(id).await {
                    Ok(key) if key.status.as_deref() == Some("active") => Ok(Listed::Yes),
                    Ok(_) => Ok(Listed::Gone),
                    Err(err) if err.status() == Some(404) => Ok(Listed::Gone),
                    Err(err) => Err(err.into()),
                }
            }
            _ => {
                let keys = self.openrouter_keys().await?;
                Ok(if keys.iter().any(|k| k.hash == id) {
                    Listed::Yes
                } else {
                    Listed::Gone
                })
            }
        }
    }

    /// [`Self::confirm_at`] with the provider's own verification.
    async fn confirm_other(
        &self,
        finding: &Finding,
        route: Route,
        live: bool,
        step: i64,
        plan: &Plan,
        result: StepResult,
    ) -> Result<Revocation, RevokeError> {
        let base = self
            .admin_of(route)
            .map(|a| a.api_base.clone())
            .unwrap_or_default();
        let check = route
            .check()
            .ok_or(RevokeError::NoAdminKey("no verification for this key"))?;
        self.confirm_at(finding, (&base, check), live, step, plan, result)
            .await
    }

    /// The one key of the provider's organization (or account) proven to be the leak.
    async fn plan_other(
        &mut self,
        finding: &Finding,
        route: Route,
    ) -> Result<Planned, RevokeError> {
        match route {
            Route::Anthropic => self.plan_anthropic(finding).await,
            Route::OpenRouter => self.plan_openrouter(finding).await,
            Route::OpenAi(_) => Err(RevokeError::NoAdminKey(route.admin_variable())),
        }
    }

    async fn plan_anthropic(&mut self, finding: &Finding) -> Result<Planned, RevokeError> {
        let api = self
            .anthropic
            .as_ref()
            .ok_or(RevokeError::NoAdminKey("ANTHROPIC_ADMIN_KEY is not set"))?;
        if self.others.anthropic_organization.is_none() {
            self.others.anthropic_organization = Some(api.anthropic_organization().await?);
        }
        if self.others.anthropic_keys.is_none() {
            self.others.anthropic_keys = Some(api.anthropic_keys().await?);
        }
        let evidence = Evidence {
            leak_organization: finding.verification.organization.as_deref(),
            leak_project: None,
            admin_organization: self.others.anthropic_organization.as_deref(),
        };
        let keys = self.others.anthropic_keys.as_deref().unwrap_or_default();
        let secret = finding.secret.expose_str();
        Ok(match identify(keys, &secret, evidence) {
            Identity::One(key) => Planned::Act(Plan {
                action: Action::DeactivateAnthropicKey,
                target: Target {
                    project: key.workspace_id,
                    key_id: Some(key.id),
                    service_account: None,
                },
                others: Vec::new(),
            }),
            other => Planned::Settled(unproven(other, |k| k.id.clone())),
        })
    }

    async fn plan_openrouter(&mut self, finding: &Finding) -> Result<Planned, RevokeError> {
        let base = self
            .admin_of(Route::OpenRouter)
            .map(|a| a.api_base.clone())
            .ok_or(RevokeError::NoAdminKey(
                "OPENROUTER_MANAGEMENT_KEY is not set",
            ))?;
        let own = match own_record(&self.http, &base, &finding.secret).await {
            Ok(own) => own,
            Err(why) => {
                return Ok(Planned::Settled(Revocation::new(
                    RevocationStatus::Ambiguous,
                    format!(
                        "the key's own record could not be read ({why}): nothing proves which key it is"
                    ),
                )));
            }
        };
        self.others
            .openrouter_own
            .insert(finding.fingerprint.clone(), own.clone());
        if own.is_management_key {
            return Ok(Planned::Settled(Revocation::new(
                RevocationStatus::Skipped,
                "a management key: delete it by hand in OpenRouter's settings".to_string(),
            )));
        }
        let keys = self.openrouter_keys().await?;
        let words = OwnWords {
            label: own.label.as_deref(),
            creator: own.creator_user_id.as_deref(),
        };
        let secret = finding.secret.expose_str();
        Ok(
            match identify_openrouter(&keys, &secret, words, |k| k.creator_user_id.as_deref()) {
                Identity::One(key) => Planned::Act(Plan {
                    action: Action::DeleteOpenRouterKey,
                    target: Target {
                        project: None,
                        key_id: Some(key.hash),
                        service_account: None,
                    },
                    others: Vec::new(),
                }),
                other => Planned::Settled(unproven(other, |k| k.hash.clone())),
            },
        )
    }

    /// The management key's account's enabled keys, listed once per run.
    async fn openrouter_keys(&mut self) -> Result<Vec<OpenRouterKey>, RevokeError> {
        if self.others.openrouter_keys.is_none() {
            let api = self.openrouter.as_ref().ok_or(RevokeError::NoAdminKey(
                "OPENROUTER_MANAGEMENT_KEY is not set",
            ))?;
            self.others.openrouter_keys = Some(api.openrouter_keys().await?);
        }
        Ok(self.others.openrouter_keys.clone().unwrap_or_default())
    }
}
