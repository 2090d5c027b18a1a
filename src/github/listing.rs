//! Repository listings read with conditional requests: every page is asked for with the ETag an
//! earlier sweep kept (`If-None-Match`), and a page that answers 304 Not Modified (which GitHub
//! does not count against the rate limit) is taken from that earlier copy. The primary rate
//! limit is honoured before it is hit: when an answer says no request remains, the next page
//! waits for the reset (and only then).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use octocrab::{FromResponse, Octocrab};
use serde::{Deserialize, Serialize};

use super::repos::RepoInfo;
use super::{GitHub, GitHubError, MAX_RATE_LIMIT_WAIT};

/// Items GitHub puts on a listing page when asked for the most.
const PER_PAGE: usize = 100;

/// One page of a listing as it was last read: where, its ETag, the next page, its repositories.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CachedPage {
    pub url: String,
    pub etag: String,
    pub next: Option<String>,
    pub items: Vec<RepoInfo>,
}

/// A listing read page by page.
#[derive(Debug, Default)]
pub struct Listing {
    pub repos: Vec<RepoInfo>,
    /// Every page read, to keep for the next listing.
    pub pages: Vec<CachedPage>,
    /// Pages answered 304 (taken from the earlier copy).
    pub not_modified: usize,
}

/// What GitHub answered for one page.
enum Answer {
    NotModified {
        next: Option<String>,
    },
    Fresh {
        etag: Option<String>,
        next: Option<String>,
        items: Vec<RepoInfo>,
        /// When no request remains: the epoch second the primary limit resets.
        exhausted_until: Option<u64>,
    },
}

impl GitHub {
    /// Every repository of an organization, read against `earlier` pages.
    pub async fn org_repos_listing(
        &self,
        org: &str,
        earlier: &[CachedPage],
        on_wait: &dyn Fn(String),
    ) -> Result<Listing, GitHubError> {
        // Oldest first: a new repository lands on the last page and leaves the others as they
        // were (and 304).
        let route = format!("/orgs/{org}/repos?type=all&sort=created&direction=asc&per_page=100");
        self.conditional_pages(&route, earlier, on_wait).await
    }

    /// Every repository of a user, read against `earlier` pages.
    pub async fn user_repos_listing(
        &self,
        user: &str,
        earlier: &[CachedPage],
        on_wait: &dyn Fn(String),
    ) -> Result<Listing, GitHubError> {
        let route = format!("/users/{user}/repos?type=all&sort=created&direction=asc&per_page=100");
        self.conditional_pages(&route, earlier, on_wait).await
    }

    /// Reads a listing from `route` on, following each page's `next` link on the API's host.
    async fn conditional_pages(
        &self,
        route: &str,
        earlier: &[CachedPage],
        on_wait: &dyn Fn(String),
    ) -> Result<Listing, GitHubError> {
        let client = self.client().await?;
        let earlier: HashMap<&str, &CachedPage> =
            earlier.iter().map(|p| (p.url.as_str(), p)).collect();
        let mut listing = Listing::default();
        let mut visited = HashSet::new();
        let mut url = route.to_string();
        let mut exhausted_until = None;
        // A `next` link back to a page already read would never end.
        while visited.insert(url.clone()) {
            if let Some(reset) = exhausted_until.take() {
                wait_for_reset(reset, on_wait).await?;
            }
            let cached = earlier.get(url.as_str()).copied();
            let etag = cached.map(|c| c.etag.as_str());
            let answer = self
                .with_rate_limits(on_wait, || fetch_page(client, &url, etag))
                .await?;
            let page = match answer {
                Answer::NotModified { next } => {
                    listing.not_modified += 1;
                    not_modified(&url, cached, next)?
                }
                Answer::Fresh {
                    etag,
                    next,
                    items,
                    exhausted_until: until,
                } => {
                    exhausted_until = until;
                    CachedPage {
                        url: url.clone(),
                        etag: etag.unwrap_or_default(),
                        next,
                        items,
                    }
                }
            };
            listing.repos.extend(page.items.iter().cloned());
            let next = page.next.clone();
            listing.pages.push(page);
            let Some(next) = next else { break };
            if next.starts_with("http") {
                let uri: http::Uri = next.parse().map_err(GitHubError::BadBase)?;
                // A page elsewhere would get no token, but its repositories would be believed.
                if !self.on_api_host(&uri) {
                    return Err(GitHubError::OffHostPage(
                        uri.authority().map_or("?", |a| a.as_str()).to_string(),
                    ));
                }
            }
            url = next;
        }
        Ok(listing)
    }
}

/// The earlier copy of a page answered 304, with the `next` link of the answer if it has one.
/// A full last page may have grown a next one since: that one is asked for too.
fn not_modified(
    url: &str,
    cached: Option<&CachedPage>,
    next: Option<String>,
) -> Result<CachedPage, GitHubError> {
    let Some(cached) = cached else {
        return Err(GitHubError::Status {
            status: 304,
            message: "Not Modified, for a page never read".to_string(),
        });
    };
    let next = next
        .or_else(|| cached.next.clone())
        .or_else(|| (cached.items.len() >= PER_PAGE).then(|| following_page(url)));
    Ok(CachedPage {
        next,
        ..cached.clone()
    })
}

/// Asks for one page, with `If-None-Match` when there is an earlier ETag. A status other than
/// 200 or 304 is octocrab's error (with its headers, for the rate-limit waits).
async fn fetch_page(client: &Octocrab, url: &str, etag: Option<&str>) -> octocrab::Result<Answer> {
    let mut headers = http::HeaderMap::new();
    if let Some(value) = etag.and_then(|e| http::HeaderValue::from_str(e).ok()) {
        headers.insert(http::header::IF_NONE_MATCH, value);
    }
    let response = client._get_with_headers(url, Some(headers)).await?;
    let next = next_link(response.headers());
    if response.status() == http::StatusCode::NOT_MODIFIED {
        // Nothing of the body is used; read it so the connection can be used again.
        let _ = response.into_body().collect().await;
        return Ok(Answer::NotModified { next });
    }
    let response = octocrab::map_github_error(response).await?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let exhausted_until = (header("x-ratelimit-remaining").as_deref() == Some("0"))
        .then(|| header("x-ratelimit-reset")?.trim().parse::<u64>().ok())
        .flatten();
    let items = Vec::<RepoInfo>::from_response(response).await?;
    Ok(Answer::Fresh {
        etag,
        next,
        items,
        exhausted_until,
    })
}

/// The `rel="next"` URL of a `link` header.
fn next_link(headers: &http::HeaderMap) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

/// `url` with its `page` parameter one more (2 when it has none).
fn following_page(url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut page = 1;
    let mut parameters: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| match p.strip_prefix("page=") {
            Some(n) => {
                page = n.parse().unwrap_or(1);
                false
            }
            None => true,
        })
        .map(str::to_string)
        .collect();
    parameters.push(format!("page={}", page + 1));
    format!("{path}?{}", parameters.join("&"))
}

/// Waits until the primary rate limit resets at epoch second `reset` (one second more: the
/// reset is whole seconds), telling `on_wait`; a reset too far away fails the listing.
async fn wait_for_reset(reset: u64, on_wait: &dyn Fn(String)) -> Result<(), GitHubError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let wait = Duration::from_secs(reset.saturating_sub(now) + 1);
    if wait > MAX_RATE_LIMIT_WAIT {
        return Err(GitHubError::RateLimited {
            status: 200,
            message: "no request remains".to_string(),
            reset_in: wait,
        });
    }
    on_wait(format!(
        "GitHub rate limit used up; waiting {}s for its reset",
        wait.as_secs()
    ));
    tokio::time::sleep(wait).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_and_following_pages() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::LINK,
            "<https://api.github.com/orgs/a/repos?page=1>; rel=\"prev\", \
             <https://api.github.com/orgs/a/repos?page=3>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/orgs/a/repos?page=3")
        );
        assert_eq!(
            following_page("/orgs/a/repos?per_page=100"),
            "/orgs/a/repos?per_page=100&page=2"
        );
        assert_eq!(
            following_page("https://h/orgs/a/repos?page=4&per_page=100"),
            "https://h/orgs/a/repos?per_page=100&page=5"
        );
    }
}
