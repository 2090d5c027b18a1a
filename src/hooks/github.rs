//! The GitHub built-in hooks, on octocrab: storing a replacement key as a repository's Actions
//! secret (sealed with the repository's public key, a libsodium sealed box, so only GitHub can
//! open it) and opening an issue about a leak.
//!
//! The token comes from `GITHUB_TOKEN` and the API from `FERRET_GITHUB_API_BASE` (GitHub
//! Enterprise Server, tests), both set by the operator.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use octocrab::Octocrab;
use octocrab::models::repos::secrets::CreateRepositorySecret;
use serde_json::json;
use tokio::sync::OnceCell;

use super::Event;
use crate::secret::Secret;

/// Where the GitHub API is unless the operator says otherwise.
pub const DEFAULT_GITHUB_API_BASE: &str = "https://api.github.com";

pub struct GitHub {
    base: String,
    token: Option<String>,
    /// Built on first use, inside the runtime octocrab needs.
    client: OnceCell<Result<Octocrab, String>>,
}

impl GitHub {
    pub fn from_env() -> Self {
        let base = std::env::var("FERRET_GITHUB_API_BASE")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| DEFAULT_GITHUB_API_BASE.to_string());
        GitHub {
            base,
            token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&Octocrab, String> {
        let built = self
            .client
            .get_or_init(|| async {
                let token = self
                    .token
                    .clone()
                    .ok_or("GITHUB_TOKEN is not set".to_string())?;
                crate::verify::checked_api_base(&self.base).map_err(|e| e.to_string())?;
                Octocrab::builder()
                    .base_uri(self.base.as_str())
                    .map_err(|e| format!("FERRET_GITHUB_API_BASE: {e}"))?
                    .personal_token(token)
                    .build()
                    .map_err(|e| format!("cannot start the GitHub client: {e}"))
            })
            .await;
        built.as_ref().map_err(Clone::clone)
    }

    /// Seals `key` with the repository's public key and stores it as the secret `name`.
    pub async fn store_actions_secret(
        &self,
        repository: &str,
        name: &str,
        key: &Secret,
    ) -> Result<String, String> {
        let (owner, repo) = split_repository(repository)?;
        let client = self.client().await?;
        let repository_handler = client.repos(owner, repo);
        let secrets = repository_handler.secrets();
        let public_key = secrets.get_public_key().await.map_err(describe)?;
        let sealed = seal(&public_key.key, key.expose())?;
        secrets
            .create_or_update_secret(
                name,
                &CreateRepositorySecret {
                    key_id: &public_key.key_id,
                    encrypted_value: &sealed,
                },
            )
            .await
            .map_err(describe)?;
        Ok(format!("stored as {repository} secret {name}"))
    }

    /// Opens an issue about the event in `repository`; the key is shown redacted.
    pub async fn open_issue(
        &self,
        repository: &str,
        labels: &[String],
        event: &Event<'_>,
    ) -> Result<String, String> {
        let (owner, repo) = split_repository(repository)?;
        let client = self.client().await?;
        let finding = event.finding;
        let status = finding
            .revocation
            .as_ref()
            .map_or(finding.verification.status_name(), |r| r.status_name());
        let title = format!(
            "Leaked {} {} ({status})",
            finding.rule_name,
            finding.secret.redacted()
        );
        let mut body = format!(
            "ferret found a leaked key, `{}` (rule `{}`, fingerprint `{}`).\n\n\
             Verification: **{}**.\n",
            finding.secret.redacted(),
            finding.rule_id,
            finding.fingerprint,
            finding.verification.status_name(),
        );
        if let Some(revocation) = &finding.revocation {
            body.push_str(&format!("Revocation: **{}**", revocation.status_name()));
            if let Some(detail) = &revocation.detail {
                body.push_str(&format!(" ({detail})"));
            }
            body.push_str(".\n");
        }
        body.push_str("\nSeen at:\n");
        for location in &finding.locations {
            body.push_str(&format!("- `{}:{}`", location.path, location.line));
            if let Some(commit) = &location.commit {
                body.push_str(&format!(" in commit {}", commit.id));
            }
            body.push('\n');
        }
        body.push_str(
            "\nRemove the key from the code and its history, and use the replacement from your \
             secret store.\n",
        );
        let created: serde_json::Value = client
            .post(
                format!("/repos/{owner}/{repo}/issues"),
                Some(&json!({ "title": title, "body": body, "labels": labels })),
            )
            .await
            .map_err(describe)?;
        Ok(format!(
            "opened {}",
            created["html_url"].as_str().unwrap_or(repository)
        ))
    }
}

fn split_repository(repository: &str) -> Result<(&str, &str), String> {
    repository
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| format!("`{repository}` is not OWNER/NAME"))
}

/// A libsodium sealed box of `plaintext` for the base64 X25519 `public_key`, base64.
fn seal(public_key: &str, plaintext: &[u8]) -> Result<String, String> {
    let bytes: [u8; 32] = BASE64
        .decode(public_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the repository's public key is not 32 bytes of base64")?;
    let sealed = crypto_box::PublicKey::from(bytes)
        .seal(&mut crypto_box::aead::OsRng, plaintext)
        .map_err(|_| "sealing failed".to_string())?;
    Ok(BASE64.encode(sealed))
}

/// An octocrab error in one line: GitHub's status and message when it answered.
fn describe(err: octocrab::Error) -> String {
    match err {
        octocrab::Error::GitHub { source, .. } => {
            format!(
                "GitHub: HTTP {}: {}",
                source.status_code.as_u16(),
                source.message
            )
        }
        other => format!("GitHub: {other}"),
    }
}
