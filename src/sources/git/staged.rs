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
use crate::matcher::{LocatedMatch, Matcher};
use crate::sources::Warning;
use crate::sources::contents::{self, ArchiveLimits};

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

pub fn scan_staged(
    repo: &gix::Repository,
    matcher: &Matcher,
    archives: &ArchiveLimits,
    on_warning: &(dyn Fn(&Warning) + Sync),
) -> Result<GitScan, GitError> {
    let index = repo
        .index_or_empty()
        .map_err(|e| GitError::git("cannot read the index", e))?;
    let mut head = HashMap::new();
    if let Ok(tree) = repo.head_tree_id() {
        tree_blobs(repo, tree.detach(), "", &mut head)?;
    }
    let mut out = Attributed {
        matches: Vec::new(),
        inline_allowed: 0,
        warnings: Vec::new(),
    };
    let mut scan = GitScan::default();
    let mut new_buf = Vec::new();
    let mut old_buf = Vec::new();
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
                Warning::report(
                    format!("{shown}: staged blob missing, skipped"),
                    on_warning,
                    &mut out.warnings,
                );
                continue;
            }
        };
        scan.objects += 1;
        scan.bytes += staged.len() as u64;
        let mut warn = |text: String| Warning::report(text, on_warning, &mut out.warnings);
        let matches = contents::locate_in_blob(matcher, staged, &shown, archives, &mut warn);
        if matches.is_empty() {
            continue;
        }
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
            contents::locate_in_blob(matcher, old_data, &shown, archives, &mut warn)
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
                push_match(&mut out, m, &shown, None);
            }
        }
    }
    scan.matches = out.matches;
    scan.inline_allowed = out.inline_allowed;
    scan.warnings = out.warnings;
    Ok(scan)
}
