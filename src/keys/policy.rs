//! `ferret keys audit`: the organizations' keys held to the operator's `[policy]`. Each
//! violation is a record with a stable rule id (the SARIF `ruleId`), a severity and the key it
//! is about (none for an organization-wide rule such as the admin key count).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::PolicySettings;
use crate::revoke::inventory::{Inventory, KeyKind, KeyRecord};
use crate::rules::Severity;

/// One rule of `[policy]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    /// Stable: code scanning tracks alerts by it.
    pub id: &'static str,
    /// The `[policy]` setting that turns it on.
    pub setting: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub description: &'static str,
}

pub const MAX_AGE: PolicyRule = PolicyRule {
    id: "ferret/keys/max-age",
    setting: "max_age",
    name: "Key older than the rotation policy allows",
    severity: Severity::Medium,
    description: "The key was created longer ago than `max_age`: rotate it (`ferret keys rotate`).",
};

pub const UNUSED: PolicyRule = PolicyRule {
    id: "ferret/keys/unused",
    setting: "unused_for",
    name: "Key unused for longer than the policy allows",
    severity: Severity::Low,
    description: "The key has not been used for `unused_for` (or never, since it was made that \
                  long ago): delete it if nothing needs it.",
};

pub const ADMIN_KEYS_MAX: PolicyRule = PolicyRule {
    id: "ferret/keys/admin-keys-max",
    setting: "admin_keys_max",
    name: "More admin keys than the policy allows",
    severity: Severity::High,
    description: "The organization has more admin keys than `admin_keys_max`: each can create \
                  and delete every key; delete those nothing needs.",
};

pub const OWNER_LEFT_ORGANIZATION: PolicyRule = PolicyRule {
    id: "ferret/keys/owner-left-organization",
    setting: "owner_left",
    name: "Key of a user who left the organization",
    severity: Severity::High,
    description: "The key's owner is no longer a member of the organization, but the key still \
                  works: replace it with a service account's key and delete it.",
};

pub const OWNER_LEFT_PROJECT: PolicyRule = PolicyRule {
    id: "ferret/keys/owner-left-project",
    setting: "owner_left",
    name: "Key of a user who left its project",
    severity: Severity::Medium,
    description: "The key's owner is no longer a member of the key's project, but the key \
                  still works there: replace it and delete it.",
};

/// Every rule, in a fixed order (SARIF rule indices follow it).
pub const RULES: [PolicyRule; 5] = [
    MAX_AGE,
    UNUSED,
    ADMIN_KEYS_MAX,
    OWNER_LEFT_ORGANIZATION,
    OWNER_LEFT_PROJECT,
];

/// One key (or organization) breaking one rule.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    pub rule: &'static str,
    pub severity: &'static str,
    /// `openai` or `anthropic`.
    pub provider: &'static str,
    /// The key, or `None` for a rule about the whole organization.
    pub key_id: Option<String>,
    pub redacted: Option<String>,
    pub kind: Option<&'static str>,
    pub project: Option<String>,
    pub owner: Option<String>,
    pub message: String,
    /// The `[policy]` setting broken (`max_age`…), to place the violation in the config file.
    pub setting: &'static str,
}

impl Violation {
    pub fn policy_rule(&self) -> PolicyRule {
        *RULES
            .iter()
            .find(|r| r.id == self.rule)
            .expect("violations name known rules")
    }

    fn of_key(rule: PolicyRule, key: &KeyRecord, message: String) -> Self {
        Violation {
            rule: rule.id,
            severity: rule.severity.as_str(),
            provider: key.provider,
            key_id: Some(key.id.clone()),
            redacted: Some(key.redacted.clone()),
            kind: Some(key.kind.as_str()),
            project: key.project.clone(),
            owner: owner_text(key),
            message,
            setting: rule.setting,
        }
    }
}

/// Who owns a key, as one text (`Ada <ada@example.com>`, `service account deploy-bot`).
pub fn owner_text(key: &KeyRecord) -> Option<String> {
    let owner = &key.owner;
    let who = owner.name.clone().or_else(|| owner.id.clone());
    match (owner.kind.as_str(), who, &owner.email) {
        ("service_account", Some(who), _) => Some(format!("service account {who}")),
        (_, Some(who), Some(email)) => Some(format!("{who} <{email}>")),
        (_, who, email) => who.or_else(|| email.clone()),
    }
}

/// Every violation of `policy` by the keys of `inventory` (evaluated at `now`, Unix seconds),
/// most severe first.
pub fn audit(inventory: &Inventory, policy: &PolicySettings, now: i64) -> Vec<Violation> {
    let mut violations = Vec::new();
    let listed: Vec<&KeyRecord> = inventory.keys.iter().filter(|k| k.listed).collect();
    for key in &listed {
        check_key(key, policy, now, &mut violations);
    }
    if let Some(max) = policy.admin_keys_max {
        let mut admin: BTreeMap<&str, Vec<&KeyRecord>> = BTreeMap::new();
        for key in listed.iter().filter(|k| k.kind == KeyKind::AdminKey) {
            admin.entry(key.provider).or_default().push(key);
        }
        for (provider, keys) in admin.into_iter().filter(|(_, k)| k.len() > max) {
            let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
            violations.push(Violation {
                rule: ADMIN_KEYS_MAX.id,
                severity: ADMIN_KEYS_MAX.severity.as_str(),
                provider,
                key_id: None,
                redacted: None,
                kind: Some(KeyKind::AdminKey.as_str()),
                project: None,
                owner: None,
                message: format!(
                    "{} admin keys ({}), more than admin_keys_max = {max}",
                    keys.len(),
                    ids.join(", ")
                ),
                setting: ADMIN_KEYS_MAX.setting,
            });
        }
    }
    violations.sort_by_key(|v| std::cmp::Reverse(v.policy_rule().severity));
    violations
}

fn check_key(key: &KeyRecord, policy: &PolicySettings, now: i64, out: &mut Vec<Violation>) {
    let age = key.created_at.map(|c| now - c);
    if let (Some(max), Some(age)) = (policy.max_age, age)
        && age > seconds(max)
    {
        out.push(Violation::of_key(
            MAX_AGE,
            key,
            format!(
                "{} is {} old, more than max_age = {}",
                key.id,
                days(age),
                days(seconds(max))
            ),
        ));
    }
    if let Some(unused) = policy.unused_for.filter(|_| key.shows_last_use) {
        let limit = seconds(unused);
        let message = match key.last_used_at {
            Some(last) if now - last > limit => Some(format!(
                "{} was last used {} ago, more than unused_for = {}",
                key.id,
                days(now - last),
                days(limit)
            )),
            None if age.is_some_and(|a| a > limit) => Some(format!(
                "{} was never used in the {} since it was made (unused_for = {})",
                key.id,
                days(age.unwrap_or_default()),
                days(limit)
            )),
            _ => None,
        };
        if let Some(message) = message {
            out.push(Violation::of_key(UNUSED, key, message));
        }
    }
    if policy.owner_left == Some(false) {
        return;
    }
    let owner = owner_text(key).unwrap_or_else(|| "its owner".into());
    if key.owner_in_organization == Some(false) {
        let message = format!(
            "{} belongs to {owner}, who is no longer a member of the organization",
            key.id
        );
        out.push(Violation::of_key(OWNER_LEFT_ORGANIZATION, key, message));
    } else if key.owner_in_project == Some(false) {
        let message = format!(
            "{} belongs to {owner}, who is no longer a member of project {}",
            key.id,
            key.project.as_deref().unwrap_or("?")
        );
        out.push(Violation::of_key(OWNER_LEFT_PROJECT, key, message));
    }
}

fn seconds(duration: crate::units::Duration) -> i64 {
    i64::try_from(duration.0.as_secs()).unwrap_or(i64::MAX)
}

/// `95d`, or `5h` under a day.
pub fn days(seconds: i64) -> String {
    if seconds >= 86_400 {
        format!("{}d", seconds / 86_400)
    } else {
        format!("{}h", seconds.max(0) / 3_600)
    }
}
