//! GitHub's own secret-scanning alerts of type `openai_api_key`: the keys GitHub already found
//! in an organization, fed into the same verify, revoke and rotate pipeline as ferret's finds.

use serde::Deserialize;

use super::{GitHub, GitHubError, split_repository};

/// One open alert, with where GitHub saw the key.
#[derive(Clone, Debug)]
pub struct OpenAiAlert {
    pub number: u64,
    /// The full key, as the alerts API returns it.
    pub secret: String,
    /// `owner/name`.
    pub repository: String,
    pub repository_url: String,
    pub locations: Vec<AlertLocation>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AlertLocation {
    pub path: String,
    pub start_line: u64,
    #[serde(default)]
    pub start_column: Option<u64>,
    #[serde(default)]
    pub commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct Alert {
    number: u64,
    #[serde(default)]
    secret: Option<String>,
    repository: AlertRepository,
}

#[derive(Deserialize)]
struct AlertRepository {
    full_name: String,
    html_url: String,
}

#[derive(Deserialize)]
struct Location {
    #[serde(rename = "type")]
    kind: String,
    details: serde_json::Value,
}

impl GitHub {
    /// The organization's open `openai_api_key` alerts (every page) and their commit locations.
    pub async fn openai_alerts(
        &self,
        org: &str,
        on_wait: &dyn Fn(String),
    ) -> Result<Vec<OpenAiAlert>, GitHubError> {
        let alerts: Vec<Alert> = self
            .all_pages(
                &format!(
                    "/orgs/{org}/secret-scanning/alerts?state=open&secret_type=openai_api_key&per_page=100"
                ),
                on_wait,
            )
            .await?;
        let client = self.client().await?;
        let mut found = Vec::new();
        for alert in alerts {
            let Some(secret) = alert.secret.filter(|s| !s.is_empty()) else {
                continue;
            };
            let (owner, name) = split_repository(&alert.repository.full_name)?;
            let route = format!(
                "/repos/{owner}/{name}/secret-scanning/alerts/{}/locations",
                alert.number
            );
            let locations: Vec<Location> = self
                .with_rate_limits(on_wait, || client.get(route.as_str(), None::<&()>))
                .await?;
            found.push(OpenAiAlert {
                number: alert.number,
                secret,
                repository: alert.repository.full_name,
                repository_url: alert.repository.html_url,
                locations: locations
                    .into_iter()
                    .filter(|l| l.kind == "commit")
                    .filter_map(|l| serde_json::from_value(l.details).ok())
                    .collect(),
            });
        }
        Ok(found)
    }
}
