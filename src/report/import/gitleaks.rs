//! gitleaks' JSON report (`gitleaks git|dir -f json`): an array of findings with `RuleID`,
//! `Description`, `StartLine`, `StartColumn`, `Secret` (`REDACTED`, or cut with `...`, under
//! `--redact`), `File`, `SymlinkFile`, `Commit`, `Author`, `Email`, `Date`, `Link` and
//! `Fingerprint` (`commit:file:rule:line`). gitleaks does not verify keys.

use serde_json::Value;

use super::ferret::secret_and_shown;
use super::{author, number, relative, text, web_url};
use crate::finding::Verification;
use crate::report::page::{Place, Sighting};

pub fn read(value: &Value) -> Result<Sighting, String> {
    let rule = text(value, "/RuleID").ok_or("a gitleaks finding without a RuleID")?;
    let (secret, shown) = secret_and_shown(text(value, "/Secret").unwrap_or_default());
    let path = text(value, "/File")
        .or_else(|| text(value, "/SymlinkFile"))
        .unwrap_or_default();
    Ok(Sighting {
        tool: "gitleaks".to_string(),
        secret,
        fingerprint: None,
        tool_key: text(value, "/Fingerprint"),
        shown,
        rule_name: text(value, "/Description").unwrap_or_else(|| rule.clone()),
        rule,
        severity: None,
        place: Place {
            repository: None,
            path: relative(path),
            line: number(value, "/StartLine").unwrap_or(0),
            column: number(value, "/StartColumn").unwrap_or(0),
            commit: text(value, "/Commit"),
            author: author(text(value, "/Author"), text(value, "/Email")),
            date: text(value, "/Date"),
            url: web_url(text(value, "/Link")),
            note: None,
        },
        verification: Verification::default(),
        revocation: None,
        exposure: None,
    })
}
