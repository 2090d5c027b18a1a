//! `ferret git --range BASE..HEAD`: only what the commits of a pull request introduce.
//!
//! A blob counts as introduced by a commit when it sits at a path where none of the commit's
//! parents had it (so a merge of the base branch into the pull request introduces nothing the
//! base already had). Each introduced blob is scanned once, attributed to the oldest commit of
//! the range that introduced it, and the range's commit messages are scanned too.

use std::collections::HashMap;

use gix::ObjectId;
use gix::object::Kind;
use gix::prelude::Find;

use super::attribution::{
    Attributed, COMMIT_MESSAGE_PATH, WalkedCommit, parents_first, push_match,
};
use super::{GitError, GitScan, TreeEntry, read_commit_info, read_object, read_tree};
use crate::sources::{ScanContext, Warning};

/// Where a missing base usually comes from, and the fix.
const SHALLOW_HINT: &str = " (a shallow or force-pushed checkout? fetch more history, e.g. \
                            actions/checkout with fetch-depth: 0, or git fetch --unshallow)";

fn resolve(repo: &gix::Repository, what: &'static str, spec: &str) -> Result<ObjectId, GitError> {
    repo.rev_parse_single(format!("{spec}^{{commit}}").as_str())
        .map(|id| id.detach())
        .map_err(|_| GitError::MissingRevision {
            what,
            spec: spec.to_string(),
            hint: SHALLOW_HINT,
        })
}

/// Blobs of `new` that `old` does not have at the same path, as (path, blob).
fn changed_blobs(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: ObjectId,
    prefix: &str,
    out: &mut Vec<(String, ObjectId)>,
) -> Result<(), GitError> {
    if old == Some(new) {
        return Ok(());
    }
    let before: HashMap<String, (bool, ObjectId)> = match old {
        Some(old) => read_tree(repo, old)?
            .into_iter()
            .map(|e| (e.name, (e.is_tree, e.id)))
            .collect(),
        None => HashMap::new(),
    };
    for TreeEntry { name, is_tree, id } in read_tree(repo, new)? {
        let previous = before.get(&name);
        if previous.is_some_and(|(_, old_id)| *old_id == id) {
            continue;
        }
        let path = format!("{prefix}{name}");
        if is_tree {
            let old_subtree = previous
                .filter(|(was_tree, _)| *was_tree)
                .map(|(_, id)| *id);
            changed_blobs(repo, old_subtree, id, &(path + "/"), out)?;
        } else {
            out.push((path, id));
        }
    }
    Ok(())
}

/// The blob at `path` in `tree`, if any.
fn blob_at(repo: &gix::Repository, tree: ObjectId, path: &str) -> Option<ObjectId> {
    let mut current = tree;
    let mut parts = path.split('/').peekable();
    while let Some(part) = parts.next() {
        let entry = read_tree(repo, current)
            .ok()?
            .into_iter()
            .find(|e| e.name == part)?;
        match (parts.peek().is_some(), entry.is_tree) {
            (true, true) => current = entry.id,
            (false, false) => return Some(entry.id),
            _ => return None,
        }
    }
    None
}

fn commit_tree_and_parents(
    repo: &gix::Repository,
    id: ObjectId,
) -> Result<(ObjectId, Vec<ObjectId>, i64), GitError> {
    let mut buf = Vec::new();
    let data = read_object(repo, id, "commit", &mut buf)?;
    let commit = gix::objs::CommitRef::from_bytes(data, repo.object_hash()).map_err(|source| {
        GitError::Object {
            what: "commit",
            id,
            source,
        }
    })?;
    let time = commit.committer().map(|c| c.seconds()).unwrap_or(0);
    Ok((commit.tree(), commit.parents().collect(), time))
}

/// A blob a commit of the range introduced at a path.
struct Introduced {
    blob: ObjectId,
    path: String,
    commit: ObjectId,
}

pub fn scan_range(
    repo: &gix::Repository,
    range: &str,
    context: &ScanContext<'_>,
) -> Result<GitScan, GitError> {
    let (base_spec, head_spec) = range
        .split_once("..")
        .filter(|(b, h)| !b.is_empty() && !h.is_empty() && !h.starts_with('.'))
        .ok_or_else(|| GitError::BadRange(range.to_string()))?;
    let base = resolve(repo, "base", base_spec)?;
    let head = resolve(repo, "head", head_spec)?;
    let mut scan = GitScan::default();
    if base == head {
        scan.nothing_to_scan = Some(format!(
            "nothing to scan: the range {range} is empty (base and head are both {head})"
        ));
        return Ok(scan);
    }
    let commits = range_commits(repo, base, head)?;
    if commits.is_empty() {
        scan.nothing_to_scan = Some(format!(
            "nothing to scan: the range {range} has no commits ({head_spec} is an ancestor of {base_spec})"
        ));
        return Ok(scan);
    }
    let mut out = Attributed::default();
    let introduced = introduced_blobs(repo, &commits, context, &mut out.warnings)?;
    scan_introduced(repo, &introduced, context, &mut scan, &mut out);
    scan_messages(repo, &commits, context, &mut out);
    scan.matches = out.matches;
    scan.inline_allowed = out.inline_allowed;
    scan.inline_allowed_listed = out.allowed;
    scan.warnings = out.warnings;
    Ok(scan)
}

/// The commits of `base..head`, parents first, so a blob is attributed to the commit of the
/// range that added it.
fn range_commits(
    repo: &gix::Repository,
    base: ObjectId,
    head: ObjectId,
) -> Result<Vec<WalkedCommit>, GitError> {
    let walk_error = |source| GitError::Walk {
        what: "the range",
        source,
    };
    let walk = repo
        .rev_walk([head])
        .with_hidden([base])
        .all()
        .map_err(walk_error)?;
    let mut commits = Vec::new();
    for info in walk {
        let info = info.map_err(walk_error)?;
        let (tree, parents, time) = commit_tree_and_parents(repo, info.id)?;
        commits.push((
            time,
            WalkedCommit {
                id: info.id,
                tree,
                parents,
            },
        ));
    }
    Ok(parents_first(commits))
}

/// The oldest introduction of each blob at each path, by the commits (parents first).
fn introduced_blobs(
    repo: &gix::Repository,
    commits: &[WalkedCommit],
    context: &ScanContext<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Introduced>, GitError> {
    let mut introduced = Vec::new();
    let mut known: std::collections::HashSet<(ObjectId, String)> = Default::default();
    for WalkedCommit {
        id: commit,
        tree,
        parents,
    } in commits
    {
        let parent_trees: Vec<ObjectId> = parents
            .iter()
            .filter_map(|p| commit_tree_and_parents(repo, *p).ok().map(|(t, _, _)| t))
            .collect();
        if parent_trees.len() < parents.len() {
            context.warn(
                format!(
                    "commit {commit}: a parent is missing (shallow clone?), all its files count as new"
                ),
                warnings,
            );
        }
        let mut changed = Vec::new();
        changed_blobs(repo, parent_trees.first().copied(), *tree, "", &mut changed)?;
        for (path, blob) in changed {
            let in_other_parent = parent_trees[1.min(parent_trees.len())..]
                .iter()
                .any(|t| blob_at(repo, *t, &path) == Some(blob));
            if !in_other_parent && known.insert((blob, path.clone())) {
                introduced.push(Introduced {
                    blob,
                    path,
                    commit: *commit,
                });
            }
        }
    }
    Ok(introduced)
}

/// Scans each introduced blob once and attributes its matches to every introduction.
fn scan_introduced(
    repo: &gix::Repository,
    introduced: &[Introduced],
    context: &ScanContext<'_>,
    scan: &mut GitScan,
    out: &mut Attributed,
) {
    let mut scanned: HashMap<ObjectId, Vec<crate::matcher::LocatedMatch>> = HashMap::new();
    let mut buf = Vec::new();
    for Introduced { blob, path, commit } in introduced {
        if !scanned.contains_key(blob) {
            let matches = match repo.objects.try_find(blob, &mut buf) {
                Ok(Some(data)) if data.kind == Kind::Blob => {
                    scan.objects += 1;
                    scan.bytes += data.data.len() as u64;
                    context.locate_in_blob(
                        data.data,
                        &format_args!("{path} (blob {blob})"),
                        &mut |text| context.warn(text, &mut out.warnings),
                    )
                }
                _ => {
                    context.warn(
                        format!("{path}: blob {blob} is missing, skipped"),
                        &mut out.warnings,
                    );
                    Vec::new()
                }
            };
            scanned.insert(*blob, matches);
        }
        let matches = &scanned[blob];
        if !matches.is_empty() {
            let info = read_commit_info(repo, *commit);
            for m in matches {
                push_match(out, m, path, info.clone());
            }
        }
    }
}

/// Scans the commit messages of the range.
fn scan_messages(
    repo: &gix::Repository,
    commits: &[WalkedCommit],
    context: &ScanContext<'_>,
    out: &mut Attributed,
) {
    let mut buf = Vec::new();
    for WalkedCommit { id: commit, .. } in commits {
        if let Ok(Some(data)) = repo.objects.try_find(commit, &mut buf) {
            let matches = context.matcher.locate_all(data.data);
            if !matches.is_empty() {
                let info = read_commit_info(repo, *commit);
                for m in &matches {
                    push_match(out, m, COMMIT_MESSAGE_PATH, info.clone());
                }
            }
        }
    }
}
