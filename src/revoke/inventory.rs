//! Every key of the operator's organizations, for `ferret keys list` and `ferret keys audit`:
//! OpenAI's project keys (of users and of service accounts, with `owner_project_access=any` so
//! none is hidden) and admin keys, Anthropic's keys by workspace, each with its owner and
//! whether that owner is still a member of the organization and of the key's project, and
//! what ferret's ledger knows about it (leaked, revoked, rotated, replacement of which key).
//!
//! Nothing here holds a full key: the APIs show keys redacted, and a value that does not look
//! redacted is redacted again before it is kept.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::ProviderAdmin;
use super::admin::{AdminApi, AdminError, Flavor, KeyOwner, Member, ProjectKey};
use crate::finding::RevocationStatus;
use crate::fs::now_seconds;
use crate::secret::Secret;
use crate::store::ledger::{Ledger, Recorded};

/// The rule name under which the ledger records a scheduled rotation (`ferret keys rotate`),
/// as opposed to a leak's rule.
pub const SCHEDULED_ROTATION: &str = "scheduled-rotation";

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot list the keys of the {provider} organization")]
    Admin {
        provider: &'static str,
        #[source]
        source: AdminError,
    },
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error(transparent)]
    Ledger(#[from] crate::store::StoreError),
    #[error("cannot start the listing")]
    Runtime(#[source] std::io::Error),
}

/// Where the keys are listed from.
pub struct InventoryOptions {
    /// OpenAI's Administration API (`OPENAI_ADMIN_KEY`).
    pub openai: Option<ProviderAdmin>,
    /// Anthropic's Admin API (`ANTHROPIC_ADMIN_KEY`).
    pub anthropic: Option<ProviderAdmin>,
    /// The revocation ledger, read only (a missing ledger knows nothing).
    pub ledger: Option<PathBuf>,
    pub request_timeout: Duration,
}

/// What kind of key a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// An OpenAI project key owned by a user.
    UserKey,
    /// An OpenAI project key owned by a service account.
    ServiceAccountKey,
    /// An OpenAI admin key.
    AdminKey,
    /// An Anthropic API key.
    AnthropicKey,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::UserKey => "user_key",
            KeyKind::ServiceAccountKey => "service_account_key",
            KeyKind::AdminKey => "admin_key",
            KeyKind::AnthropicKey => "anthropic_key",
        }
    }
}

/// Who owns a key.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Owner {
    /// `user` or `service_account`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// One thing the ledger records about a key.
#[derive(Clone, Debug, Serialize)]
pub struct Known {
    /// `leaked` (a leak ferret found and dealt with), `rotated` (`ferret keys rotate`) or
    /// `replacement` (this key replaced another).
    pub event: &'static str,
    /// The revocation's status (`revoked`, `failed`, `skipped`…).
    pub status: String,
    /// The leak's rule (`openai-project-key`…), or `scheduled-rotation`.
    pub rule: String,
    /// The fingerprint the ledger keys it by (SHA-256 of the leaked key).
    pub fingerprint: String,
    /// The key this one replaced, or the key that replaced this one.
    pub other_key: Option<String>,
    pub detail: Option<String>,
    /// Unix seconds of the ledger's record.
    pub at: i64,
    /// Where the leak was seen (`path:line`, with its commit and repository), from the scan
    /// reports given to `ferret keys list --report`: the ledger records no place.
    pub places: Vec<String>,
}

/// One key of an organization.
#[derive(Clone, Debug, Serialize)]
pub struct KeyRecord {
    /// `openai` or `anthropic`.
    pub provider: &'static str,
    pub kind: KeyKind,
    pub id: String,
    pub name: Option<String>,
    /// The key as the API shows it (never the full key).
    pub redacted: String,
    /// The project (OpenAI) or workspace (Anthropic; `default` for the default workspace).
    pub project: Option<String>,
    pub project_name: Option<String>,
    pub owner: Owner,
    /// Whether the owner (a user) is still a member of the organization; `None`: not known
    /// (a service account, or a provider whose members are not read).
    pub owner_in_organization: Option<bool>,
    /// Whether the owner (a user) is still a member of the key's project.
    pub owner_in_project: Option<bool>,
    /// Unix seconds.
    pub created_at: Option<i64>,
    /// Unix seconds; `None`: never used (or not shown by the provider).
    pub last_used_at: Option<i64>,
    /// Whether the provider shows last use at all (Anthropic does not).
    pub shows_last_use: bool,
    /// Still in the organization; `false`: only the ledger remembers it (revoked by ferret).
    pub listed: bool,
    /// What ferret's ledger records about it.
    pub ferret: Vec<Known>,
}

/// Every key found, and what was read to find them.
#[derive(Debug, Default, Serialize)]
pub struct Inventory {
    pub keys: Vec<KeyRecord>,
    /// The providers listed (`openai`, `anthropic`).
    pub providers: Vec<&'static str>,
    /// Unix seconds when the listing was read.
    pub read_at: i64,
}

/// Lists every key of the organizations whose admin keys are given.
pub fn list(options: &InventoryOptions) -> Result<Inventory, InventoryError> {
    let http = crate::http::client(options.request_timeout)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(InventoryError::Runtime)?;
    let mut inventory = Inventory {
        read_at: now_seconds(),
        ..Inventory::default()
    };
    if let Some(admin) = &options.openai {
        let api = AdminApi::new(
            http.clone(),
            admin.api_base.clone(),
            admin.admin_key.clone(),
        );
        let keys = runtime
            .block_on(openai_keys(&api))
            .map_err(|source| InventoryError::Admin {
                provider: "OpenAI",
                source,
            })?;
        inventory.keys.extend(keys);
        inventory.providers.push("openai");
    }
    if let Some(admin) = &options.anthropic {
        let api = AdminApi::with_flavor(
            Flavor::Anthropic,
            http,
            admin.api_base.clone(),
            admin.admin_key.clone(),
        );
        let keys =
            runtime
                .block_on(anthropic_keys(&api))
                .map_err(|source| InventoryError::Admin {
                    provider: "Anthropic",
                    source,
                })?;
        inventory.keys.extend(keys);
        inventory.providers.push("anthropic");
    }
    if let Some(path) = &options.ledger
        && let Some(ledger) = Ledger::open_read_only(path)?
    {
        add_knowledge(&mut inventory.keys, &ledger.outcomes()?);
    }
    Ok(inventory)
}

/// The keys of one OpenAI organization: each project's keys, then the admin keys.
async fn openai_keys(api: &AdminApi) -> Result<Vec<KeyRecord>, AdminError> {
    let members: HashSet<String> = ids(api.organization_users().await?);
    let mut records = Vec::new();
    for project in api.projects().await? {
        let in_project: HashSet<String> = ids(api.project_users(&project.id).await?);
        for key in api.project_keys(&project.id).await? {
            let mut record = project_key(&key, project.name.clone());
            if let Some(user) = record
                .owner
                .id
                .clone()
                .filter(|_| record.owner.kind == "user")
            {
                record.owner_in_organization = Some(members.contains(&user));
                record.owner_in_project = Some(in_project.contains(&user));
            }
            records.push(record);
        }
    }
    for key in api.admin_keys().await? {
        let owner = key.owner.clone().unwrap_or_default();
        let in_organization = owner.id.as_ref().map(|id| members.contains(id));
        records.push(KeyRecord {
            provider: "openai",
            kind: KeyKind::AdminKey,
            id: key.id,
            name: key.name,
            redacted: redacted(&key.redacted_value),
            project: None,
            project_name: None,
            owner: Owner {
                kind: "user".into(),
                id: owner.id,
                name: owner.name,
                email: owner.email,
            },
            owner_in_organization: in_organization,
            owner_in_project: None,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            shows_last_use: true,
            listed: true,
            ferret: Vec::new(),
        });
    }
    Ok(records)
}

fn ids(members: Vec<Member>) -> HashSet<String> {
    members.into_iter().map(|m| m.id).collect()
}

fn project_key(key: &ProjectKey, project_name: Option<String>) -> KeyRecord {
    let (kind, owner) = match &key.owner {
        KeyOwner::User { user } => {
            let user = user.clone().unwrap_or_default();
            let owner = Owner {
                kind: "user".into(),
                id: user.id,
                name: user.name,
                email: user.email,
            };
            (KeyKind::UserKey, owner)
        }
        KeyOwner::ServiceAccount { service_account } => {
            let owner = Owner {
                kind: "service_account".into(),
                id: Some(service_account.id.clone()),
                name: Some(service_account.name.clone()).filter(|n| !n.is_empty()),
                email: None,
            };
            (KeyKind::ServiceAccountKey, owner)
        }
    };
    KeyRecord {
        provider: "openai",
        kind,
        id: key.id.clone(),
        name: key.name.clone(),
        redacted: redacted(&key.redacted_value),
        project: Some(key.project.clone()),
        project_name,
        owner,
        owner_in_organization: None,
        owner_in_project: None,
        created_at: key.created_at,
        last_used_at: key.last_used_at,
        shows_last_use: true,
        listed: true,
        ferret: Vec::new(),
    }
}

/// The active keys of an Anthropic organization, by workspace.
async fn anthropic_keys(api: &AdminApi) -> Result<Vec<KeyRecord>, AdminError> {
    let keys = api.anthropic_keys().await?;
    Ok(keys
        .into_iter()
        .map(|key| KeyRecord {
            provider: "anthropic",
            kind: KeyKind::AnthropicKey,
            redacted: redacted(key.partial_key_hint.as_deref().unwrap_or("?")),
            project: Some(key.workspace_id.unwrap_or_else(|| "default".into())),
            project_name: None,
            owner: Owner {
                kind: "user".into(),
                id: key.created_by.map(|c| c.id),
                name: None,
                email: None,
            },
            owner_in_organization: None,
            owner_in_project: None,
            created_at: key
                .created_at
                .as_deref()
                .and_then(crate::exposure::parse_rfc3339),
            last_used_at: None,
            shows_last_use: false,
            listed: true,
            ferret: Vec::new(),
            id: key.id,
            name: key.name,
        })
        .collect())
}

/// The key as shown, redacted again if it does not look redacted (an API must never get a
/// full key into a listing).
fn redacted(shown: &str) -> String {
    let looks_redacted = shown.contains("...") || shown.contains('…') || shown.len() <= 24;
    if looks_redacted {
        shown.to_string()
    } else {
        Secret::new(shown).redacted()
    }
}

/// Adds what the ledger records to the keys it names; a key ferret revoked, which the
/// organization no longer lists, is added as an unlisted record.
fn add_knowledge(keys: &mut Vec<KeyRecord>, outcomes: &[Recorded]) {
    let mut index: HashMap<String, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.id.clone(), i))
        .collect();
    for recorded in outcomes {
        let revocation = &recorded.revocation;
        let Some(key_id) = revocation.key_id.clone() else {
            continue;
        };
        let scheduled = recorded.rule == SCHEDULED_ROTATION;
        let replacement = revocation.replacement.as_ref().map(|r| r.key_id.clone());
        let known = Known {
            event: if scheduled { "rotated" } else { "leaked" },
            status: revocation.status_name().to_string(),
            rule: recorded.rule.clone(),
            fingerprint: recorded.fingerprint.0.clone(),
            other_key: replacement.clone(),
            detail: revocation.detail.clone(),
            at: recorded.updated_at,
            places: Vec::new(),
        };
        let at = match index.get(&key_id) {
            Some(&at) => at,
            None if revocation.is_done() => {
                keys.push(gone(&key_id, recorded));
                index.insert(key_id.clone(), keys.len() - 1);
                keys.len() - 1
            }
            None => continue,
        };
        keys[at].ferret.push(known);
        if let Some(new) = replacement
            && let Some(&at) = index.get(&new)
            && matches!(
                revocation.status,
                RevocationStatus::Revoked | RevocationStatus::AlreadyRevoked
            )
        {
            keys[at].ferret.push(Known {
                event: "replacement",
                status: revocation.status_name().to_string(),
                rule: recorded.rule.clone(),
                fingerprint: recorded.fingerprint.0.clone(),
                other_key: Some(key_id.clone()),
                detail: None,
                at: recorded.updated_at,
                places: Vec::new(),
            });
        }
    }
}

/// A key the ledger records as revoked that the organization no longer lists.
fn gone(key_id: &str, recorded: &Recorded) -> KeyRecord {
    let provider = if recorded.rule.starts_with("anthropic") {
        "anthropic"
    } else {
        "openai"
    };
    KeyRecord {
        provider,
        kind: if provider == "anthropic" {
            KeyKind::AnthropicKey
        } else if recorded.revocation.service_account.is_some() {
            KeyKind::ServiceAccountKey
        } else if recorded.rule.contains("admin") {
            KeyKind::AdminKey
        } else {
            KeyKind::UserKey
        },
        id: key_id.to_string(),
        name: None,
        redacted: redacted(&recorded.redacted),
        project: recorded.revocation.project.clone(),
        project_name: None,
        owner: Owner::default(),
        owner_in_organization: None,
        owner_in_project: None,
        created_at: None,
        last_used_at: None,
        shows_last_use: false,
        listed: false,
        ferret: Vec::new(),
    }
}
