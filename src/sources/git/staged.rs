//! `ferret git --staged`: what a commit would add, for a pre-commit hook.
//!
//! Every index entry whose blob differs from `HEAD`'s at that path is scanned as staged (the
//! index content counts, not the working tree, so partial staging is honoured). Only matches
//! on lines the change adds are reported: a line that already existed in the `HEAD` version
//! of the file is history's problem, reported by a full `ferret git`, and must not block
//! today's commit. Inside a staged archive, where lines cannot be compared, a match counts as
//! added unless `HEAD`'s archive at that path held the same secret in the same entry. Works
//! before the first commit (no `HEAD`: everything staged is new).

use std::collections::{HashMap, HashSet};

use gix::ObjectId;
use gix::prelude::Find;

use super::attribution::{Attributed, push_match};
use super::{GitError, GitScan, read_tree};
use crate::matcher::LocatedMatch;
use crate::sources::ScanContext;

/// Every blob path of a tree, recursively.
fn tree_blobs(
    repo: &gix::Repository,
    tree: ObjectId,
    prefix: &str,
    out: &mut HashMap<Vec<u8>, ObjectId>,
) -> Result<(), GitError> {
    for entry in read_tree(repo, tree)? {
        let path = format!("{prefix}{}", entry.name);
        if entry.is_tree {
            tree_blobs(repo, entry.id, &(path + "/"), out)?;
        } else {
            out.insert(path.into_bytes(), entry.id);
        }
    }
    Ok(())
}

/// The line of `text` around byte `offset`.
fn line_at(text: &[u8], offset: usize) -> &[u8] {
    let start = memchr::memrchr(b'\n', &text[..offset]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &text[offset..]).map_or(text.len(), |i| offset + i);
    let line = &text[start..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub fn scan_staged(repo: &gix::Repository, context: &ScanContext<'_>) -> Result<GitScan, GitError> {
    let index = repo.index_or_empty().map_err(GitError::Index)?;
    let mut head = HashMap::new();
    if let Ok(tree) = repo.head_tree_id() {
        tree_blobs(repo, tree.detach(), "", &mut head)?;
    }
    let mut out = Attributed::default();
    let mut scan = GitScan::default();
    let mut new_buf = Vec::new();
    for entry in index.entries() {
        if entry.stage_raw() != 0 || entry.mode.is_submodule() || entry.mode.is_sparse() {
            continue;
        }
        let path = entry.path(&index);
        let old = head.get(path.as_ref() as &[u8]).copied();
        if old == Some(entry.id) {
            continue;
        }
        let shown = crate::sources::quote_path(path.as_ref());
        let staged = match repo.objects.try_find(&entry.id, &mut new_buf) {
            Ok(Some(data)) => data.data,
            _ => {
                context.warn(
                    format!("{shown}: staged blob missing, skipped"),
                    &mut out.warnings,
                );
                continue;
            }
        };
        scan.objects += 1;
        scan.bytes += staged.len() as u64;
        push_added(repo, context, staged, old, &shown, &mut out);
    }
    scan.matches = out.matches;
    scan.inline_allowed = out.inline_allowed;
    scan.inline_allowed_listed = out.allowed;
    scan.warnings = out.warnings;
    Ok(scan)
}

/// Adds the matches of a staged blob that its `HEAD` version (`old`) does not hold: on a line
/// `old` does not have, or (in an archive) a secret `old`'s same entry does not hold.
fn push_added(
    repo: &gix::Repository,
    context: &ScanContext<'_>,
    staged: &[u8],
    old: Option<ObjectId>,
    shown: &str,
    out: &mut Attributed,
) {
    let mut warn = |text: String| context.warn(text, &mut out.warnings);
    let matches = context.locate_in_blob(staged, &shown, &mut warn);
    if matches.is_empty() {
        return;
    }
    let mut old_buf = Vec::new();
    let old_data = match old {
        Some(old) => match repo.objects.try_find(&old, &mut old_buf) {
            Ok(Some(data)) => data.data,
            _ => &[],
        },
        None => &[],
    };
    let old_lines: HashSet<&[u8]> = old_data
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    let old_archive_matches: Vec<LocatedMatch> = if matches.iter().any(|m| m.entry.is_some()) {
        context.locate_in_blob(old_data, &shown, &mut warn)
    } else {
        Vec::new()
    };
    for m in &matches {
        let added = match m.entry {
            Some(_) => !old_archive_matches
                .iter()
                .any(|old| old.entry == m.entry && old.secret == m.secret),
            None => !old_lines.contains(line_at(staged, m.offset as usize)),
        };
        if added {
            push_match(out, m, shown, None);
        }
    }
}
