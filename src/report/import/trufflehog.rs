//! TruffleHog v3's JSON lines (`trufflehog … --json`): one result a line with `DetectorName`,
//! `DetectorDescription`, `Verified`, `VerificationError` (set when verification could not
//! decide: TruffleHog's "unknown"), `Raw` (the secret), `Redacted`, and `SourceMetadata.Data`
//! holding one source's object (`Git`, `Github`, `Gitlab`, `Filesystem`…) with `commit`,
//! `file`, `email`, `repository`, `timestamp`, `line` and `link` as the source has them.

use serde_json::Value;

use super::ferret::secret_and_shown;
use super::{github_blob_url, number, relative, repository_name, shorten, text, verdict, web_url};
use crate::finding::VerificationStatus;
use crate::report::page::{Place, Sighting};

pub fn read(value: &Value) -> Result<Sighting, String> {
    let detector = text(value, "/DetectorName").ok_or("a TruffleHog result without a detector")?;
    let (secret, mut shown) = secret_and_shown(text(value, "/Raw").unwrap_or_default());
    if secret.is_none() {
        shown = text(value, "/Redacted").unwrap_or(shown);
    }
    Ok(Sighting {
        tool: "trufflehog".to_string(),
        secret,
        fingerprint: None,
        tool_key: None,
        shown,
        rule_name: text(value, "/DetectorDescription").unwrap_or_else(|| detector.clone()),
        rule: detector,
        severity: None,
        place: place(value),
        verification: verification(value),
        revocation: None,
        exposure: None,
    })
}

/// Verified: live. A verification error: TruffleHog could not decide. Otherwise unverified:
/// TruffleHog's "unverified" covers both "refused by the provider" and "not checked".
fn verification(value: &Value) -> crate::finding::Verification {
    if value["Verified"].as_bool() == Some(true) {
        verdict(VerificationStatus::Live, None)
    } else if let Some(error) = text(value, "/VerificationError") {
        verdict(VerificationStatus::Error, Some(shorten(error, 300)))
    } else {
        verdict(VerificationStatus::Unverified, None)
    }
}

/// The place from the one source object under `SourceMetadata.Data`.
fn place(value: &Value) -> Place {
    let source = value
        .pointer("/SourceMetadata/Data")
        .and_then(Value::as_object)
        .and_then(|data| data.values().next())
        .cloned()
        .unwrap_or(Value::Null);
    let remote = text(&source, "/repository");
    let path = relative(text(&source, "/file").unwrap_or_default());
    let line = number(&source, "/line").unwrap_or(0);
    let commit = text(&source, "/commit");
    let url = web_url(text(&source, "/link"))
        .or_else(|| github_blob_url(remote.as_deref()?, commit.as_deref()?, &path, line));
    Place {
        repository: remote.as_deref().and_then(repository_name),
        path,
        line,
        column: 0,
        commit,
        author: text(&source, "/email"),
        date: text(&source, "/timestamp"),
        url,
        note: text(value, "/DecoderName")
            .filter(|d| d != "PLAIN")
            .map(|d| format!("decoded from {}", d.to_ascii_lowercase())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verification_errors_are_undecided_and_github_sources_link() {
        let secret = format!("ghp_{}", "x".repeat(36));
        let result = json!({
            "SourceMetadata": {"Data": {"Github": {
                "link": "https://github.com/acme/api/blob/abc/a.py#L3", "repository":
                "https://github.com/acme/api.git", "commit": "abc", "file": "a.py", "line": 3,
                "email": "Ada <ada@example.com>", "timestamp": "2024-01-01 00:00:00 +0000"}}},
            "DetectorName": "Github", "DecoderName": "BASE64", "Verified": false,
            "VerificationError": "connection refused", "Raw": secret, "Redacted": ""
        });
        let sighting = read(&result).unwrap();
        assert_eq!(sighting.verification.status_name(), "error");
        assert_eq!(sighting.place.repository.as_deref(), Some("acme/api"));
        assert_eq!(sighting.place.line, 3);
        assert_eq!(sighting.place.note.as_deref(), Some("decoded from base64"));
        assert!(sighting.secret.is_some());
        let unverified = read(&json!({"DetectorName": "AWS", "Verified": false, "Raw": ""}));
        assert_eq!(unverified.unwrap().verification.status_name(), "unverified");
    }
}
