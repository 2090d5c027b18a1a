//! The GitHub built-in hooks, on octocrab: storing a replacement key as a repository's Actions
//! secret (sealed with the repository's public key, a libsodium sealed box, so only GitHub can
//! open it) and opening an issue about a leak.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use octocrab::models::repos::secrets::CreateRepositorySecret;
use serde_json::json;

use super::{Event, HookRunError};
use crate::github::{GitHub, split_repository};
use crate::secret::Secret;

/// The hooks' calls, on the shared GitHub client.
pub struct GitHubHooks {
    github: GitHub,
}

impl GitHubHooks {
    pub fn from_env() -> Self {
        GitHubHooks {
            github: GitHub::from_env(),
        }
    }

    /// Seals `key` with the repository's public key and stores it as the secret `name`.
    pub async fn store_actions_secret(
        &self,
        repository: &str,
        name: &str,
        key: &Secret,
    ) -> Result<String, HookRunError> {
        let (owner, repo) = split_repository(repository)?;
        let client = self.github.client().await?;
        let repository_handler = client.repos(owner, repo);
        let secrets = repository_handler.secrets();
        let public_key = secrets
            .get_public_key()
            .await
            .map_err(|e| self.github.error(e))?;
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
            .map_err(|e| self.github.error(e))?;
        Ok(format!("stored as {repository} secret {name}"))
    }

    /// Opens an issue about the event in `repository`; the key is shown redacted.
    pub async fn open_issue(
        &self,
        repository: &str,
        labels: &[String],
        event: &Event<'_>,
    ) -> Result<String, HookRunError> {
        let (owner, repo) = split_repository(repository)?;
        let client = self.github.client().await?;
        // The key redacted wherever else it shows (a file or author name), as reports do.
        let clean = crate::report::clean::Redactor::new([&event.finding.secret]);
        let finding = &clean.finding(event.finding);
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
        if let Some(exposure) = &finding.exposure {
            body.push_str(&format!("Exposure: {}.\n", exposure.summary()));
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
            .map_err(|e| self.github.error(e))?;
        Ok(format!(
            "opened {}",
            created["html_url"].as_str().unwrap_or(repository)
        ))
    }
}

/// A libsodium sealed box of `plaintext` for the base64 X25519 `public_key`, base64.
fn seal(public_key: &str, plaintext: &[u8]) -> Result<String, HookRunError> {
    let bytes: [u8; 32] = BASE64
        .decode(public_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(HookRunError::BadPublicKey)?;
    let sealed = crypto_box::PublicKey::from(bytes)
        .seal(&mut crypto_box::aead::OsRng, plaintext)
        .map_err(|_| HookRunError::Seal)?;
    Ok(BASE64.encode(sealed))
}
