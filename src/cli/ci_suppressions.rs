//! What a pull request silences itself (`ferret ci github` on a range): `.ferret.toml`,
//! `.ferretignore` and `ferret:allow` come from the head, so a pull request could hide its own
//! leak. Those suppressions still apply (teams rely on them), but each finding that the head's
//! suppressions drop and the base's would not is listed, as a notice annotation and in the step
//! summary, for a reviewer to see.

use std::path::Path;

use anyhow::Context;

use super::ScanArgs;
use crate::config::{CONFIG_FILE_NAME, Config};
use crate::finding::{Finding, Match};
use crate::rules::Rule;
use crate::suppress::{IGNORE_FILE_NAME, Reason, Suppressions};

/// One finding location a pull request's own suppressions drop.
pub struct Silenced {
    pub path: String,
    pub line: u64,
    pub rule: String,
    pub reason: &'static str,
}

impl std::fmt::Display for Silenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}, {}, {}",
            self.path, self.line, self.rule, self.reason
        )
    }
}

/// The suppressions the scan would have had at `base`: the base commit's `.ferret.toml` and
/// `.ferretignore` (the operator's `--config` and `--baseline` are the same for both).
fn base_suppressions(
    repo: &gix::Repository,
    base: gix::ObjectId,
    args: &ScanArgs,
) -> anyhow::Result<Suppressions> {
    let config = match &args.config {
        Some(path) => Config::load_operator(path)?,
        None => match file_at(repo, base, CONFIG_FILE_NAME)? {
            Some(text) => Config::parse(Path::new(CONFIG_FILE_NAME), &text).unwrap_or_default(),
            None => Config::default(),
        },
    };
    let mut suppressions = Suppressions::from_config(&config).unwrap_or_default();
    if let Some(text) = file_at(repo, base, IGNORE_FILE_NAME)? {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let path = dir.path().join(IGNORE_FILE_NAME);
        std::fs::write(&path, text).context("cannot write a temporary file")?;
        suppressions.add_ignore_file(&path)?;
    }
    if let Some(baseline) = &args.baseline {
        suppressions.add_baseline(baseline)?;
    }
    Ok(suppressions)
}

/// The text of the file at the top of `commit`'s tree, if it has one.
fn file_at(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let tree = repo
        .find_commit(commit)
        .with_context(|| format!("cannot read commit {commit}"))?
        .tree()
        .with_context(|| format!("cannot read the tree of {commit}"))?;
    let Some(entry) = tree.find_entry(name) else {
        return Ok(None);
    };
    let blob = entry
        .object()
        .with_context(|| format!("cannot read {name} at {commit}"))?;
    Ok(Some(String::from_utf8_lossy(&blob.data).into_owned()))
}

/// Why `suppressions` drop `finding` at `path`, if they do.
fn reason(suppressions: &Suppressions, finding: &Finding, path: &str) -> Option<Reason> {
    suppressions
        .suppresses_secret(finding)
        .or_else(|| suppressions.suppresses_path(path).then_some(Reason::Path))
}

/// The finding locations among `matches` that `head` suppresses and the base's suppressions
/// would not have.
pub fn silenced_by_pull_request(
    repo: &gix::Repository,
    base: gix::ObjectId,
    args: &ScanArgs,
    rules: &[Rule],
    matches: &[Match],
    head: &Suppressions,
) -> anyhow::Result<Vec<Silenced>> {
    let base = base_suppressions(repo, base, args)?;
    let mut silenced = Vec::new();
    for finding in Finding::group(rules, matches.to_vec()) {
        for location in &finding.locations {
            let Some(by) = reason(head, &finding, &location.path) else {
                continue;
            };
            if reason(&base, &finding, &location.path).is_none() {
                silenced.push(Silenced {
                    path: location.path.clone(),
                    line: location.line,
                    rule: finding.rule_id.clone(),
                    reason: by.describe(),
                });
            }
        }
    }
    Ok(silenced)
}
