//! GitHub Actions: what to scan for the event that started a workflow run.
//!
//! The runner puts the event's name in `GITHUB_EVENT_NAME` and its webhook payload in the file
//! `GITHUB_EVENT_PATH` names. From them:
//! - `pull_request`, `pull_request_target`: the pull request's commits, `base.sha..head.sha`;
//!   `merge_group`: `base_sha..head_sha`.
//! - `push`: the pushed commits, `before..after`. A new branch or tag has no `before` (it is
//!   all zeros): its commits that are not on the default branch are scanned
//!   (`<default branch>..after`), or the full history when the pushed branch is the default
//!   branch itself or the default branch is not in the clone. A force push whose old tip is
//!   still in the clone scans `before..after`, which is exactly what the new tip adds; one
//!   whose old tip is gone (the usual case: a clone only has what the refs reach now) is
//!   scanned like a new branch. A push that deletes a branch scans nothing.
//! - every other event (`schedule`, `workflow_dispatch`, `release`…): the full history.
//!
//! When a commit the event names is missing from the clone (a shallow checkout, a pruned force
//! push), the decision falls back to a broader scan and says why, as a warning: a CI check that
//! fails with "BASE and HEAD are the same" or "unknown revision" is a check people switch off.

use std::fmt;

use gix::ObjectId;
use serde::Deserialize;

/// How to get the commits a range scan needs into the clone.
const FETCH_HINT: &str = "check out with actions/checkout's fetch-depth: 0 (and, for \
                          pull_request_target, ref: the pull request's head sha)";

#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("the {event} event payload is not the JSON GitHub writes")]
    Payload {
        event: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the {event} event payload has no `{field}`")]
    MissingField { event: String, field: &'static str },
}

/// What a CI run scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanPlan {
    /// What the commits of `base..head` introduce.
    Range { base: ObjectId, head: ObjectId },
    /// Every object of the repository.
    FullHistory,
    /// Nothing: the event brings no commits (a deleted branch).
    Nothing,
}

/// `BASE..HEAD` (full ids), `the full history`, `nothing`.
impl fmt::Display for ScanPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanPlan::Range { base, head } => write!(f, "{base}..{head}"),
            ScanPlan::FullHistory => f.write_str("the full history"),
            ScanPlan::Nothing => f.write_str("nothing"),
        }
    }
}

/// What to scan, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub plan: ScanPlan,
    /// The event, and for pushes what kind: `pull_request`, `push creating refs/heads/x:
    /// commits not on main`…
    pub reason: String,
    /// Set when the event's own range could not be used: why, and what is scanned instead.
    pub fallback: Option<String>,
}

impl Decision {
    fn new(plan: ScanPlan, reason: impl Into<String>) -> Self {
        Decision {
            plan,
            reason: reason.into(),
            fallback: None,
        }
    }

    fn falling_back(mut self, why: String) -> Self {
        self.fallback = Some(why);
        self
    }
}

/// The parts of an event payload the decision reads; everything else GitHub sends is ignored.
#[derive(Debug, Default, Deserialize)]
struct Payload {
    pull_request: Option<PullRequest>,
    merge_group: Option<MergeGroup>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    forced: bool,
    repository: Option<Repository>,
}

#[derive(Debug, Deserialize)]
struct PullRequest {
    base: Tip,
    head: Tip,
}

#[derive(Debug, Deserialize)]
struct Tip {
    sha: String,
}

#[derive(Debug, Deserialize)]
struct MergeGroup {
    base_sha: String,
    head_sha: String,
}

#[derive(Debug, Deserialize)]
struct Repository {
    default_branch: Option<String>,
}

/// Decides what to scan in `repo` (the checkout) for the event `event` with `payload` (the
/// contents of `GITHUB_EVENT_PATH`).
pub fn decide(repo: &gix::Repository, event: &str, payload: &[u8]) -> Result<Decision, CiError> {
    let payload: Payload = serde_json::from_slice(payload).map_err(|source| CiError::Payload {
        event: event.to_string(),
        source,
    })?;
    let missing = |field| CiError::MissingField {
        event: event.to_string(),
        field,
    };
    match event {
        "pull_request" | "pull_request_target" => {
            let pr = payload
                .pull_request
                .ok_or_else(|| missing("pull_request"))?;
            Ok(range_or_full(repo, &pr.base.sha, &pr.head.sha, event))
        }
        "merge_group" => {
            let group = payload.merge_group.ok_or_else(|| missing("merge_group"))?;
            Ok(range_or_full(repo, &group.base_sha, &group.head_sha, event))
        }
        "push" => {
            let after = payload.after.clone().ok_or_else(|| missing("after"))?;
            Ok(push(repo, &payload, &after))
        }
        other => Ok(Decision::new(ScanPlan::FullHistory, other)),
    }
}

/// The commit `sha` names, if the clone has it.
fn commit(repo: &gix::Repository, sha: &str) -> Option<ObjectId> {
    let id = ObjectId::from_hex(sha.as_bytes()).ok()?;
    repo.find_commit(id).ok().map(|c| c.id)
}

/// `0000…`: the "no commit" of push payloads (a new ref's `before`, a deleted ref's `after`).
fn is_null(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

/// `base..head` when both are in the clone, else the full history of the clone.
fn range_or_full(repo: &gix::Repository, base: &str, head: &str, reason: &str) -> Decision {
    match (commit(repo, base), commit(repo, head)) {
        (Some(base), Some(head)) => Decision::new(ScanPlan::Range { base, head }, reason),
        (base_found, _) => {
            let (which, sha) = if base_found.is_some() {
                ("head", head)
            } else {
                ("base", base)
            };
            Decision::new(ScanPlan::FullHistory, reason).falling_back(format!(
                "the {which} commit {sha} of the {reason} event is not in this clone, so the \
                 full history of the clone is scanned instead; {FETCH_HINT}"
            ))
        }
    }
}

fn push(repo: &gix::Repository, payload: &Payload, after: &str) -> Decision {
    let git_ref = payload.git_ref.as_deref().unwrap_or("the pushed ref");
    if payload.deleted || is_null(after) {
        return Decision::new(ScanPlan::Nothing, format!("push deleting {git_ref}"));
    }
    let Some(after_id) = commit(repo, after) else {
        return Decision::new(ScanPlan::FullHistory, "push").falling_back(format!(
            "the pushed commit {after} is not in this clone, so the full history of the clone \
             is scanned instead; {FETCH_HINT}"
        ));
    };
    let kind = if payload.forced { "force push" } else { "push" };
    let before = payload.before.as_deref().unwrap_or("");
    let created = before.is_empty() || is_null(before);
    if !created && let Some(before_id) = commit(repo, before) {
        let plan = ScanPlan::Range {
            base: before_id,
            head: after_id,
        };
        return Decision::new(plan, format!("{kind} to {git_ref}"));
    }
    // A new ref, or an old tip the clone no longer has: what the ref brings that the default
    // branch does not have.
    let what = if created {
        format!("{kind} creating {git_ref}")
    } else {
        format!("{kind} to {git_ref}")
    };
    let mut problems = Vec::new();
    if !created {
        let cause = if payload.forced {
            "a force push rewrote it".to_string()
        } else {
            format!("a shallow checkout? {FETCH_HINT}")
        };
        problems.push(format!(
            "the old tip {before} of {git_ref} is not in this clone ({cause})"
        ));
    }
    let default = payload
        .repository
        .as_ref()
        .and_then(|r| r.default_branch.as_deref());
    let full = "the full history is scanned".to_string();
    let (plan, reason, scope) = match default {
        Some(branch) if git_ref == format!("refs/heads/{branch}") => (
            ScanPlan::FullHistory,
            format!("{what}, the default branch"),
            full,
        ),
        Some(branch) => match default_branch_tip(repo, branch) {
            Some(tip) => (
                ScanPlan::Range {
                    base: tip,
                    head: after_id,
                },
                format!("{what}: commits not on {branch}"),
                format!("the commits of {git_ref} that are not on {branch} are scanned"),
            ),
            None => {
                problems.push(format!(
                    "the default branch {branch} is not in this clone ({FETCH_HINT})"
                ));
                (ScanPlan::FullHistory, what, full)
            }
        },
        None => {
            problems.push("the event payload names no default branch".to_string());
            (ScanPlan::FullHistory, what, full)
        }
    };
    let decision = Decision::new(plan, reason);
    if problems.is_empty() {
        decision
    } else {
        decision.falling_back(format!("{}, so {scope}", problems.join("; ")))
    }
}

/// The default branch's tip as the clone knows it: `origin/<branch>` (what actions/checkout
/// fetches), else a local branch of that name.
fn default_branch_tip(repo: &gix::Repository, branch: &str) -> Option<ObjectId> {
    [
        format!("refs/remotes/origin/{branch}"),
        format!("refs/heads/{branch}"),
    ]
    .iter()
    .find_map(|name| {
        let reference = repo.try_find_reference(name.as_str()).ok()??;
        Some(reference.into_fully_peeled_id().ok()?.detach())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_shas_are_all_zeros() {
        assert!(is_null("0000000000000000000000000000000000000000"));
        assert!(!is_null(""));
        assert!(!is_null("6113728f27ae82c7b1a177c8d03f9e96e0adf246"));
    }
}
