//! What revoking one leak takes: the organization's inventory (read once per run, only as far
//! as the leaks need it), the key proven to be the leak ([`super::identity`]), and the one call
//! that kills it.

use std::collections::HashMap;

use futures::StreamExt;

use super::admin::{AdminError, AdminKey, KeyOwner, ProjectKey};
use super::identity::{Evidence, Identity, identify};
use super::{RevokeError, Revoker};
use crate::finding::{Finding, Revocation, RevocationStatus};
use crate::store::ledger::{Action, Target};
use crate::verify::openai::Endpoint;

/// Projects whose keys are listed at the same time when the leak's project is unknown: each
/// project's pages come one after another, so this bounds the requests in flight.
const PROJECTS_AT_ONCE: usize = 16;

/// The organization as the admin key sees it, read once per run as far as needed.
#[derive(Default)]
pub(super) struct Inventory {
    /// The ids of the organization's active projects, once listed.
    projects: Option<Vec<String>>,
    /// Each project's keys, once listed.
    pub(super) keys: HashMap<String, Vec<ProjectKey>>,
    admin_keys: Option<Vec<AdminKey>>,
}

/// What revoking one key takes: one call on one target.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub action: Action,
    pub target: Target,
    /// Other keys that die with it (a service account's other keys).
    pub others: Vec<String>,
}

/// A plan, or an outcome that needs no call (not ours, ambiguous, skipped).
pub(super) enum Planned {
    Act(Plan),
    Settled(Revocation),
}

impl Plan {
    pub fn describe(&self) -> String {
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
            Action::DeactivateAnthropicKey => match &target.project {
                Some(workspace) => {
                    format!("deactivate Anthropic key {key} of workspace {workspace}")
                }
                None => format!("deactivate Anthropic key {key}"),
            },
            Action::DeleteOpenRouterKey => format!("delete OpenRouter key {key}"),
            _ => format!("delete key {key} of project {project}"),
        }
    }

    /// The revocation record this plan leads to, with the given status.
    pub fn revocation(&self, status: RevocationStatus, detail: Option<String>) -> Revocation {
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

/// The outcome for a leak that is not proven to be one key of the organization.
pub(super) fn unproven<T>(identity: Identity<T>, id: impl Fn(&T) -> String) -> Revocation {
    match identity {
        Identity::NotOurs(reason) => Revocation::new(RevocationStatus::NotOurs, reason),
        Identity::Unproven(reason) => Revocation::new(RevocationStatus::Ambiguous, reason),
        Identity::Ambiguous(keys) => {
            let ids: Vec<String> = keys.iter().map(id).collect();
            let mut revocation = Revocation::new(
                RevocationStatus::Ambiguous,
                format!(
                    "{} keys fit it ({}): nothing tells which is the leak; revoke the right \
                     one by hand",
                    ids.len(),
                    ids.join(", ")
                ),
            );
            revocation.candidates = ids;
            revocation
        }
        Identity::One(_) => unreachable!("a proven key is acted on"),
    }
}

/// What deleting a project key takes: a user's key is deleted itself; a service account's key
/// only with its service account, which revokes the `others` keys of `keys` that the account
/// owns too (the API deletes no service-account key alone).
pub(super) fn deletion_plan(key: &ProjectKey, keys: &[ProjectKey]) -> Plan {
    let mut target = Target {
        project: Some(key.project.clone()),
        key_id: Some(key.id.clone()),
        service_account: None,
    };
    let KeyOwner::ServiceAccount { service_account } = &key.owner else {
        return Plan {
            action: Action::DeleteKey,
            target,
            others: Vec::new(),
        };
    };
    target.service_account = Some(service_account.id.clone());
    let others = keys
        .iter()
        .filter(|k| k.id != key.id && k.service_account() == Some(&service_account.id))
        .map(|k| k.id.clone())
        .collect();
    Plan {
        action: Action::DeleteServiceAccount,
        target,
        others,
    }
}

impl Revoker {
    /// Looks the leak up in the organization and decides what to do.
    pub(super) async fn plan(
        &mut self,
        finding: &Finding,
        endpoint: Endpoint,
    ) -> Result<Planned, RevokeError> {
        if endpoint == Endpoint::AdminKeys {
            return self.plan_admin_key(finding).await;
        }
        let secret = finding.secret.expose_str();
        let project = finding.verification.project.clone();
        let projects = self.projects().await?;
        if let Some(project) = project.as_deref()
            && !projects.iter().any(|p| p == project)
        {
            let reason = match finding.verification.organization.as_deref() {
                Some(org) if Some(org) != self.api.organization().as_deref() => format!(
                    "it belongs to organization `{org}` (project {project}), not the admin key's: \
                     tell its owner"
                ),
                _ => format!("project {project} is not an active project of this organization"),
            };
            return Ok(Planned::Settled(Revocation::new(
                RevocationStatus::NotOurs,
                reason,
            )));
        }
        let keys = self.project_keys(project.as_deref()).await?;
        let admin_organization = self.api.organization();
        let evidence = Evidence {
            leak_organization: finding.verification.organization.as_deref(),
            leak_project: project.as_deref(),
            admin_organization: admin_organization.as_deref(),
        };
        let key = match identify(&keys, &secret, evidence) {
            Identity::One(key) => key,
            other => return Ok(Planned::Settled(unproven(other, |k| k.id.clone()))),
        };
        Ok(self.plan_project_key(&key, &keys))
    }

    /// Deleting a proven project key: the key itself, or its service account with every key
    /// the account has (only when the operator allows it).
    fn plan_project_key(&self, key: &ProjectKey, keys: &[ProjectKey]) -> Planned {
        let plan = deletion_plan(key, keys);
        if plan.action == Action::DeleteKey
            || self.options.settings.delete_service_accounts
            || self.options.rotation.enabled
        {
            return Planned::Act(plan);
        }
        let detail = format!(
            "a service-account key is revoked only with its whole service account (would {}); \
             allow it with [revoke] delete_service_accounts = true, or turn on [rotation]",
            plan.describe()
        );
        Planned::Settled(plan.revocation(RevocationStatus::Skipped, Some(detail)))
    }

    /// Deleting a proven admin key, never the one ferret is using.
    async fn plan_admin_key(&mut self, finding: &Finding) -> Result<Planned, RevokeError> {
        let secret = finding.secret.expose_str();
        let own = self
            .options
            .admin_key
            .as_ref()
            .map(|k| k.expose_str())
            .ok_or(RevokeError::NoAdminKey("no OpenAI admin key"))?;
        if *secret == *own {
            return Ok(Planned::Settled(Revocation::new(
                RevocationStatus::Skipped,
                "this is the admin key ferret is using: replace it, then revoke it by hand"
                    .to_string(),
            )));
        }
        let keys = self.admin_keys().await?;
        let admin_organization = self.api.organization();
        let evidence = Evidence {
            leak_organization: finding.verification.organization.as_deref(),
            leak_project: None,
            admin_organization: admin_organization.as_deref(),
        };
        let key = match identify(&keys, &secret, evidence) {
            Identity::One(key) => key,
            other => return Ok(Planned::Settled(unproven(other, |k| k.id.clone()))),
        };
        // Compared through the redaction too: never risk deleting ferret's own key.
        if super::identity::redaction_fits(&key.redacted_value, &own) {
            return Ok(Planned::Settled(Revocation::new(
                RevocationStatus::Skipped,
                format!(
                    "{} may be the admin key ferret is using: revoke it by hand",
                    key.id
                ),
            )));
        }
        Ok(Planned::Act(Plan {
            action: Action::DeleteAdminKey,
            target: Target {
                project: None,
                key_id: Some(key.id),
                service_account: None,
            },
            others: Vec::new(),
        }))
    }

    /// The organization's active projects (listing them also names the organization).
    pub(super) async fn projects(&mut self) -> Result<Vec<String>, RevokeError> {
        if self.inventory.projects.is_none() {
            let projects = self.api.projects().await?;
            self.inventory.projects = Some(projects.into_iter().map(|p| p.id).collect());
        }
        Ok(self.inventory.projects.clone().unwrap_or_default())
    }

    /// The keys of `project`, or of every project when it is not known.
    pub(super) async fn project_keys(
        &mut self,
        project: Option<&str>,
    ) -> Result<Vec<ProjectKey>, RevokeError> {
        let projects = match project {
            Some(project) => vec![project.to_string()],
            None => self.projects().await?,
        };
        // Projects not listed yet, read a few at a time: each project's pages follow one
        // another (a cursor), but projects are independent.
        let missing: Vec<&String> = projects
            .iter()
            .filter(|p| !self.inventory.keys.contains_key(*p))
            .collect();
        let api = &self.api;
        let listed: Vec<(String, Result<Vec<ProjectKey>, AdminError>)> =
            futures::stream::iter(missing)
                .map(|project| async move { (project.clone(), api.project_keys(project).await) })
                .buffer_unordered(PROJECTS_AT_ONCE)
                .collect()
                .await;
        for (project, keys) in listed {
            self.inventory.keys.insert(project, keys?);
        }
        let mut keys = Vec::new();
        for project in &projects {
            keys.extend(self.inventory.keys[project].iter().cloned());
        }
        Ok(keys)
    }

    pub(super) async fn admin_keys(&mut self) -> Result<Vec<AdminKey>, RevokeError> {
        if self.inventory.admin_keys.is_none() {
            self.inventory.admin_keys = Some(self.api.admin_keys().await?);
        }
        Ok(self.inventory.admin_keys.clone().unwrap_or_default())
    }
}
