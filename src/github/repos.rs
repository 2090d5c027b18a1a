//! Which repositories a sweep covers: an organization's or a user's (every page), or named
//! ones.
//! Listings read against an earlier sweep's pages are in [`super::listing`].

use octocrab::Page;
use serde::{Deserialize, Serialize};

use super::{GitHub, GitHubError, split_repository};

/// A repository as the REST API describes it (the fields a sweep uses).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RepoInfo {
    /// `owner/name`.
    pub full_name: String,
    pub clone_url: String,
    pub html_url: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub archived: bool,
    /// When something was last pushed to any of its branches (ISO 8601), as the listing says.
    #[serde(default)]
    pub pushed_at: Option<String>,
}

impl GitHub {
    /// Every repository of an organization the token can see.
    pub async fn org_repos(
        &self,
        org: &str,
        on_wait: &dyn Fn(String),
    ) -> Result<Vec<RepoInfo>, GitHubError> {
        self.all_pages(&format!("/orgs/{org}/repos?type=all&per_page=100"), on_wait)
            .await
    }

    /// Every repository of a user.
    pub async fn user_repos(
        &self,
        user: &str,
        on_wait: &dyn Fn(String),
    ) -> Result<Vec<RepoInfo>, GitHubError> {
        self.all_pages(
            &format!("/users/{user}/repos?type=all&per_page=100"),
            on_wait,
        )
        .await
    }

    /// One repository, `owner/name`.
    pub async fn repo(
        &self,
        full_name: &str,
        on_wait: &dyn Fn(String),
    ) -> Result<RepoInfo, GitHubError> {
        let (owner, name) = split_repository(full_name)?;
        let client = self.client().await?;
        let route = format!("/repos/{owner}/{name}");
        self.with_rate_limits(on_wait, || client.get(route.as_str(), None::<&()>))
            .await
    }

    /// Every item of a paginated list, following the `link` header's `next` URLs.
    pub(crate) async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        on_wait: &dyn Fn(String),
    ) -> Result<Vec<T>, GitHubError> {
        let client = self.client().await?;
        let mut page: Page<T> = self
            .with_rate_limits(on_wait, || client.get(route, None::<&()>))
            .await?;
        let mut items = std::mem::take(&mut page.items);
        while let Some(next) = page.next.take() {
            // A page elsewhere would get no token, but its list of repositories would be
            // believed: only the API's own pages are read.
            if !self.on_api_host(&next) {
                return Err(GitHubError::OffHostPage(
                    next.authority().map_or("?", |a| a.as_str()).to_string(),
                ));
            }
            let next = Some(next);
            let fetched: Option<Page<T>> = self
                .with_rate_limits(on_wait, || client.get_page(&next))
                .await?;
            let Some(fetched) = fetched else { break };
            page = fetched;
            items.append(&mut page.items);
        }
        Ok(items)
    }
}
