//! Kingfisher's JSON and JSON lines (`kingfisher scan --format json|jsonl`). Kingfisher 2.x
//! writes `{"findings": [{"rule": {...}, "finding": {...}}], "audit": …, "metadata": …}`;
//! earlier versions wrote an array of `{"id": RULE, "matches": [{"rule", "finding"}]}`. A
//! match has `rule.id` and `rule.name`, and `finding` with `snippet` (the secret, or
//! `[REDACTED:…]` under `--redact`), `fingerprint`, `validation.status` (`Active Credential`,
//! `Inactive Credential`, `Not Attempted`…; 2.x adds `validation.outcome`), `line`,
//! `column_start`, `path`, and `git_metadata` (`repository_url`, `commit.id`, `commit.date`,
//! `commit.author.name|email`, `file.path`, `file.url`) for findings from git history.

use serde_json::Value;

use super::ferret::secret_and_shown;
use super::{author, number, relative, repository_name, shorten, text, verdict, web_url};
use crate::finding::{Verification, VerificationStatus};
use crate::report::page::{Place, Sighting};

/// The matches of a `findings` array (2.x), or of old-style `{id, matches}` findings.
pub fn read_findings(findings: &[Value]) -> Result<Vec<Sighting>, String> {
    let mut sightings = Vec::new();
    for finding in findings {
        match finding["matches"].as_array() {
            Some(matches) => {
                for m in matches {
                    sightings.push(read_match(m)?);
                }
            }
            None => sightings.push(read_match(finding)?),
        }
    }
    Ok(sightings)
}

pub fn read_match(value: &Value) -> Result<Sighting, String> {
    let rule = text(value, "/rule/id").ok_or("a Kingfisher match without rule.id")?;
    let finding = &value["finding"];
    if !finding.is_object() {
        return Err("a Kingfisher match without a finding".to_string());
    }
    let (secret, shown) = secret_and_shown(text(finding, "/snippet").unwrap_or_default());
    let git = &finding["git_metadata"];
    let path = text(finding, "/path")
        .or_else(|| text(git, "/file/path"))
        .unwrap_or_default();
    Ok(Sighting {
        tool: "kingfisher".to_string(),
        secret,
        fingerprint: None,
        tool_key: text(finding, "/fingerprint"),
        shown,
        rule_name: text(value, "/rule/name").unwrap_or_else(|| rule.clone()),
        rule,
        severity: None,
        place: Place {
            repository: text(git, "/repository_url")
                .as_deref()
                .and_then(repository_name),
            path: relative(path),
            line: number(finding, "/line").unwrap_or(0),
            column: number(finding, "/column_start").unwrap_or(0),
            commit: text(git, "/commit/id"),
            author: author(
                text(git, "/commit/author/name"),
                text(git, "/commit/author/email"),
            ),
            date: text(git, "/commit/date"),
            url: web_url(text(git, "/file/url")),
            note: None,
        },
        verification: verification(&finding["validation"]),
        revocation: None,
        exposure: None,
    })
}

fn verification(validation: &Value) -> Verification {
    let outcome = text(validation, "/outcome").unwrap_or_default();
    let status = text(validation, "/status").unwrap_or_default();
    let response = text(validation, "/response").map(|r| shorten(r, 300));
    let verdict_of = match (outcome.as_str(), status.as_str()) {
        ("verified_active", _) | (_, "Active Credential") => VerificationStatus::Live,
        ("verified_inactive", _)
        | (_, "Inactive Credential")
        | (_, "Invalid Cryptographic Material") => VerificationStatus::Invalid,
        (_, "Inconclusive Validation") => VerificationStatus::Error,
        _ => VerificationStatus::Unverified,
    };
    // "Not Attempted" says nothing a reader needs; other statuses are worth their words.
    let detail = match verdict_of {
        VerificationStatus::Unverified if status.is_empty() || status == "Not Attempted" => None,
        VerificationStatus::Unverified => Some(status),
        _ => response.or(Some(status)).filter(|d| !d.is_empty()),
    };
    verdict(verdict_of, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacted_snippets_are_not_secrets_and_statuses_map() {
        let m = json!({"rule": {"id": "kingfisher.openai.1", "name": "OpenAI API Key"},
            "finding": {"snippet": "[REDACTED:bb58202c]", "fingerprint": "42",
                        "validation": {"status": "Inconclusive Validation", "response": "HTTP 500"},
                        "line": 2, "path": "./a/.env"}});
        let sighting = read_match(&m).unwrap();
        assert!(sighting.secret.is_none());
        assert_eq!(sighting.shown, "[REDACTED:bb58202c]");
        assert_eq!(sighting.tool_key.as_deref(), Some("42"));
        assert_eq!(sighting.place.path, "a/.env");
        assert_eq!(sighting.verification.status_name(), "error");
        assert_eq!(sighting.verification.detail.as_deref(), Some("HTTP 500"));
        assert!(read_match(&json!({"rule": {}, "finding": {}})).is_err());
    }
}
