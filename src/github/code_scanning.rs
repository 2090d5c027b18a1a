//! Uploading a repository's SARIF to GitHub code scanning: gzip, then base64, posted with the
//! commit and ref it describes (`POST /repos/{owner}/{repo}/code-scanning/sarifs`).

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::json;

use super::{GitHub, GitHubError, split_repository};

#[derive(Deserialize)]
struct Receipt {
    id: String,
}

impl GitHub {
    /// Uploads `sarif` (a SARIF 2.1.0 document) for `commit_sha` on `git_ref`; returns the
    /// upload's id.
    pub async fn upload_sarif(
        &self,
        repository: &str,
        commit_sha: &str,
        git_ref: &str,
        sarif: &[u8],
        on_wait: &dyn Fn(String),
    ) -> Result<String, GitHubError> {
        let (owner, name) = split_repository(repository)?;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(sarif)
            .and_then(|()| gzip.try_finish())
            .map_err(GitHubError::Compress)?;
        let body = json!({
            "commit_sha": commit_sha,
            "ref": git_ref,
            "sarif": BASE64.encode(gzip.get_ref()),
            "tool_name": "ferret",
        });
        let client = self.client().await?;
        let route = format!("/repos/{owner}/{name}/code-scanning/sarifs");
        let receipt: Receipt = self
            .with_rate_limits(on_wait, || client.post(route.as_str(), Some(&body)))
            .await?;
        Ok(receipt.id)
    }
}
