//! `ferret git`: secrets in a repository's history, read through gix.
//!
//! Three ways in, one per daily path:
//! - [`scan_history`]: every object in the object database is decoded once (packs are
//!   traversed in pack order, so each delta chain is inflated once) and every blob, commit and
//!   tag scanned; only objects that matched are then attributed to the commit and path that
//!   introduced them ([`attribution`]), so a clean repository never pays for a history walk.
//! - [`scan_range`]: only blobs that the commits of `A..B` introduce (a pull request).
//! - [`scan_staged`]: only lines the index adds over `HEAD` (a pre-commit hook).

mod attribution;
mod objects;
mod pack_walk;
mod range;
mod staged;
mod tree_index;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gix::ObjectId;

use super::{ScanContext, Warning};
use crate::finding::CommitInfo;
use crate::matcher::LocatedMatch;
use crate::matchset::{MAX_LOCATIONS_PER_KEY, Omitted};
use crate::progress::Progress;
use crate::secret::Secret;

pub use range::scan_range;
pub use staged::scan_staged;

/// Why a git scan could not run; gix's error, when there is one, is the source.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{}: not a git repository", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: gix::Error,
    },
    /// An object the scan needs could not be read or decoded (`what`: `tree`, `commit`).
    #[error("{what} {id}")]
    Object {
        what: &'static str,
        id: ObjectId,
        #[source]
        source: gix::Error,
    },
    #[error("{what} {id} is missing")]
    MissingObject { what: &'static str, id: ObjectId },
    #[error("cannot list refs")]
    Refs(#[source] gix::Error),
    /// Walking the commits (`what`: `history`, `the range`) failed.
    #[error("cannot walk {what}")]
    Walk {
        what: &'static str,
        #[source]
        source: gix::Error,
    },
    #[error("cannot read the index")]
    Index(#[source] gix::Error),
    #[error("{what} `{spec}` is not in this repository{hint}")]
    MissingRevision {
        what: &'static str,
        spec: String,
        hint: &'static str,
    },
    #[error("--range needs the form BASE..HEAD, got `{0}`")]
    BadRange(String),
}

/// What a git scan covers.
#[derive(Clone, Debug)]
pub enum Target {
    /// Every object of the history ([`scan_history`]).
    History(GitOptions),
    /// What the commits of `BASE..HEAD` introduce ([`scan_range`]).
    Range(String),
    /// The lines the index adds over `HEAD` ([`scan_staged`]).
    Staged,
}

/// Objects larger than this are not scanned by default (`--max-object-size`): each object is
/// held whole in memory while it is scanned, a few at a time.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 256 << 20;

/// At most this many refs are listed as containing a finding's commit (in name order, so
/// branches before tags).
pub(crate) const MAX_REFS_LISTED: usize = 100;

#[derive(Clone, Debug)]
pub struct GitOptions {
    /// Also report objects no ref reaches (dangling commits, dropped stashes, lost blobs).
    pub unreachable: bool,
    /// Threads for object decoding (0: one per core).
    pub threads: usize,
    /// Blobs scanned by an earlier sweep and known to hold nothing: not scanned again.
    pub skip_blobs: Option<Arc<ObjectIdSet>>,
    /// Return the id of every blob scanned ([`GitScan::scanned_blobs`]), for incremental sweeps.
    pub collect_blob_ids: bool,
    /// Objects larger than this (bytes, inflated) are skipped with a warning.
    pub max_object_size: u64,
    /// Hears how many objects there are to read (the packs' objects, then each loose object
    /// found) and each one read.
    pub progress: Option<Arc<dyn Progress>>,
}

impl Default for GitOptions {
    fn default() -> Self {
        GitOptions {
            unreachable: false,
            threads: 0,
            skip_blobs: None,
            collect_blob_ids: false,
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            progress: None,
        }
    }
}

/// A set of object ids.
pub type ObjectIdSet = gix::hashtable::HashSet<ObjectId>;

/// What a git scan found.
#[derive(Debug, Default)]
pub struct GitScan {
    pub matches: Vec<crate::finding::Match>,
    /// Matches on lines marked `ferret:allow`.
    pub inline_allowed: usize,
    /// The first of those (`attribution::ALLOWED_LISTED`), to list.
    pub inline_allowed_listed: Vec<crate::finding::Match>,
    pub warnings: Vec<Warning>,
    /// Distinct objects scanned (blobs, commits, tags), and their bytes.
    pub objects: u64,
    pub bytes: u64,
    /// Blobs left out because an earlier sweep scanned them.
    pub skipped_blobs: u64,
    /// Every blob scanned (only with [`GitOptions::collect_blob_ids`]).
    pub scanned_blobs: Vec<ObjectId>,
    /// Objects (blobs, commits, tags) with matches, attributed or not.
    pub matched_objects: Vec<ObjectId>,
    /// Set when there was nothing to scan (an empty range), with the reason.
    pub nothing_to_scan: Option<String>,
    /// Places of a key in one object past [`MAX_LOCATIONS_PER_KEY`], counted once per object.
    pub omitted: Omitted,
}

/// Opens the repository at or above `path`.
pub fn open(path: &Path) -> Result<gix::Repository, GitError> {
    gix::discover(path).map_err(|source| GitError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Set when the repository is shallow (history cut at a depth, what `actions/checkout` makes
/// by default): a scan sees only what the clone has, so the caller warns with this text.
pub fn shallow_warning(repo: &gix::Repository) -> Option<String> {
    // A shallow file that cannot be read counts as shallow: say so rather than nothing.
    if !repo.is_shallow().unwrap_or(true) {
        return None;
    }
    // The walk stops at the shallow boundary; a commit it cannot read ends the count there.
    let commits = repo
        .head_id()
        .ok()
        .and_then(|head| head.ancestors().all().ok())
        .map_or(0, |walk| walk.take_while(Result::is_ok).count());
    Some(format!(
        "history is shallow: {commits} commits; use fetch-depth: 0 (actions/checkout) or \
         git fetch --unshallow to scan all of it"
    ))
}

/// Set when the repository is a partial clone (`--filter`): a range scan sees only the
/// objects that were fetched. (A history scan says so itself.)
pub fn partial_warning(repo: &gix::Repository) -> Option<String> {
    objects::repo_is_partial_clone(repo).then(|| {
        "partial clone: objects never fetched from its promisor remote are not scanned (clone \
         without --filter, e.g. actions/checkout without filter:, to scan everything)"
            .to_string()
    })
}

/// The directory whose `.ferret.toml` and `.ferretignore` apply to a repository.
pub fn config_root(repo: &gix::Repository) -> PathBuf {
    repo.workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.git_dir().to_path_buf())
}

/// One scanned object with matches.
#[derive(Debug)]
pub(crate) struct MatchedObject {
    pub id: ObjectId,
    pub kind: gix::object::Kind,
    /// At most [`MAX_LOCATIONS_PER_KEY`] of each key, the first in the object.
    pub matches: Vec<LocatedMatch>,
    /// The places in the object past that bound, counted.
    pub omitted: Omitted,
}

/// Keeps the first [`MAX_LOCATIONS_PER_KEY`] places of each key in one object and counts the
/// rest: a blob of a million lines of one key would otherwise hold a million locations, each
/// attributed to its commits (1.4 KB apiece), the bound `dir` has (docs/limits.md).
fn cap_per_key(matches: Vec<LocatedMatch>) -> (Vec<LocatedMatch>, Omitted) {
    let mut omitted = Omitted::default();
    if matches.len() <= MAX_LOCATIONS_PER_KEY {
        return (matches, omitted);
    }
    let mut seen: HashMap<(usize, &Secret), usize> = HashMap::new();
    let keep: Vec<bool> = matches
        .iter()
        .map(|m| {
            let count = seen.entry((m.rule, &m.secret)).or_default();
            *count += 1;
            *count <= MAX_LOCATIONS_PER_KEY
        })
        .collect();
    for ((rule, secret), count) in seen {
        if count > MAX_LOCATIONS_PER_KEY {
            omitted.add(rule, secret, (count - MAX_LOCATIONS_PER_KEY) as u64);
        }
    }
    let kept = matches
        .into_iter()
        .zip(keep)
        .filter_map(|(m, keep)| keep.then_some(m))
        .collect();
    (kept, omitted)
}

/// Scans an object's bytes (a blob's archives opened); `None` when nothing matched.
pub(crate) fn scan_object(
    context: &ScanContext<'_>,
    id: ObjectId,
    kind: gix::object::Kind,
    data: &[u8],
) -> Option<MatchedObject> {
    let matches = if kind == gix::object::Kind::Blob {
        context.locate_in_blob(data, &format_args!("blob {id}"), &mut |text| {
            (context.on_warning)(&Warning(text))
        })
    } else {
        context.matcher.locate_all(data)
    };
    let (matches, omitted) = cap_per_key(matches);
    (!matches.is_empty()).then_some(MatchedObject {
        id,
        kind,
        matches,
        omitted,
    })
}

/// An entry of a tree object.
pub(crate) struct TreeEntry {
    pub name: String,
    pub is_tree: bool,
    pub id: ObjectId,
}

/// Reads an object's bytes into `buf`; `what` names it in errors (`tree`, `commit`).
pub(crate) fn read_object<'b>(
    repo: &gix::Repository,
    id: ObjectId,
    what: &'static str,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], GitError> {
    use gix::prelude::Find;
    let data = repo
        .objects
        .try_find(&id, buf)
        .map_err(|source| GitError::Object { what, id, source })?
        .ok_or(GitError::MissingObject { what, id })?;
    Ok(data.data)
}

/// Reads a tree's entries, leaving out submodules (their history is their own repository's).
pub(crate) fn read_tree(
    repo: &gix::Repository,
    tree: ObjectId,
) -> Result<Vec<TreeEntry>, GitError> {
    let mut buf = Vec::new();
    let data = read_object(repo, tree, "tree", &mut buf)?;
    let mut entries = Vec::new();
    for entry in gix::objs::TreeRefIter::from_bytes(data, repo.object_hash()) {
        let entry = entry.map_err(|source| GitError::Object {
            what: "tree",
            id: tree,
            source,
        })?;
        if entry.mode.is_commit() {
            continue;
        }
        entries.push(TreeEntry {
            name: entry.filename.to_string(),
            is_tree: entry.mode.is_tree(),
            id: entry.oid.to_owned(),
        });
    }
    Ok(entries)
}

/// Author, date and id of the commit `id`, if it can be read.
pub(crate) fn read_commit_info(repo: &gix::Repository, id: ObjectId) -> Option<CommitInfo> {
    let mut buf = Vec::new();
    let data = read_object(repo, id, "commit", &mut buf).ok()?;
    let commit = gix::objs::CommitRef::from_bytes(data, repo.object_hash()).ok()?;
    Some(commit_info(id, &commit))
}

/// Author, date and id of a commit.
pub(crate) fn commit_info(id: ObjectId, commit: &gix::objs::CommitRef<'_>) -> CommitInfo {
    let (author, date) = match commit.author() {
        Ok(signature) => (
            format!("{} <{}>", signature.name, signature.email),
            signature
                .time()
                .ok()
                .and_then(|t| t.format(gix::date::time::format::ISO8601_STRICT).ok())
                .unwrap_or_default(),
        ),
        Err(_) => (String::new(), String::new()),
    };
    CommitInfo {
        id: id.to_string(),
        author,
        date,
        refs: Vec::new(),
    }
}

/// Scans `target` in `repo`.
pub fn scan(
    repo: &gix::Repository,
    target: &Target,
    context: &ScanContext<'_>,
) -> Result<GitScan, GitError> {
    match target {
        Target::History(options) => scan_history(repo, options, context),
        Target::Range(range) => scan_range(repo, range, context),
        Target::Staged => scan_staged(repo, context),
    }
}

/// Whole history: every blob, commit and tag in the object database, each scanned once;
/// matched ones attributed to the commit and path that introduced them.
pub fn scan_history(
    repo: &gix::Repository,
    options: &GitOptions,
    context: &ScanContext<'_>,
) -> Result<GitScan, GitError> {
    let started = std::time::Instant::now();
    let scanned = objects::scan_all_objects(repo, options, context)?;
    let scanned_at = started.elapsed();
    let scan = GitScan {
        objects: scanned.objects,
        bytes: scanned.bytes,
        warnings: scanned.warnings,
        skipped_blobs: scanned.skipped_blobs,
        scanned_blobs: scanned.blob_ids,
        ..GitScan::default()
    };
    let extra_tips = if options.unreachable {
        scanned.commit_ids
    } else {
        Vec::new()
    };
    let attributed = attribute_into(
        scan,
        repo,
        scanned.matched,
        attribution::Kept {
            trees: scanned.trees,
            commits: scanned.commits,
        },
        &extra_tips,
        options,
        context.on_warning,
    );
    report_timings(
        scanned_at - scanned.trees_took,
        scanned.trees_took,
        started.elapsed() - scanned_at,
    );
    attributed
}

/// With `FERRET_GIT_TIMINGS` set, how long reading the objects, traversing the trees for
/// attribution and attributing the matches took, on stderr: what `bench/history.sh` quotes to
/// say how much of a run attribution is.
fn report_timings(
    objects: std::time::Duration,
    trees: std::time::Duration,
    attribution: std::time::Duration,
) {
    if std::env::var_os("FERRET_GIT_TIMINGS").is_some() {
        eprintln!(
            "ferret: timings: objects {:.2} s, trees {:.2} s, attribution {:.2} s",
            objects.as_secs_f64(),
            trees.as_secs_f64(),
            attribution.as_secs_f64()
        );
    }
}

/// Scans only the given objects (those that held secrets when last swept, in a repository
/// whose refs have not moved since) and attributes what they still hold.
pub fn rescan_objects(
    repo: &gix::Repository,
    ids: &[ObjectId],
    options: &GitOptions,
    context: &ScanContext<'_>,
) -> Result<GitScan, GitError> {
    use gix::prelude::Find;
    let mut scan = GitScan::default();
    let mut matched = Vec::new();
    let mut buf = Vec::new();
    for &id in ids {
        match repo.objects.try_find(&id, &mut buf) {
            Ok(Some(data)) => {
                scan.objects += 1;
                scan.bytes += data.data.len() as u64;
                matched.extend(scan_object(context, id, data.kind, data.data));
            }
            // Pruned since: what it held is gone with it.
            Ok(None) => {}
            Err(err) => context.warn(
                format!(
                    "object {id}: unreadable, skipped: {}",
                    crate::error::Chain(&err)
                ),
                &mut scan.warnings,
            ),
        }
    }
    attribute_into(
        scan,
        repo,
        matched,
        attribution::Kept::default(),
        &[],
        options,
        context.on_warning,
    )
}

/// Attributes matched objects to commits and paths, into `scan`, with what the object scan
/// `kept` of trees and commits.
fn attribute_into(
    mut scan: GitScan,
    repo: &gix::Repository,
    matched: Vec<MatchedObject>,
    kept: attribution::Kept,
    extra_tips: &[ObjectId],
    options: &GitOptions,
    on_warning: &(dyn Fn(&Warning) + Sync),
) -> Result<GitScan, GitError> {
    scan.matched_objects = matched.iter().map(|m| m.id).collect();
    if matched.is_empty() {
        return Ok(scan);
    }
    let mut matched = matched;
    for object in &mut matched {
        scan.omitted.merge(std::mem::take(&mut object.omitted));
    }
    let attributed = attribution::attribute(repo, matched, kept, extra_tips, options, on_warning)?;
    scan.warnings.extend(attributed.warnings);
    scan.inline_allowed = attributed.inline_allowed;
    scan.inline_allowed_listed = attributed.allowed;
    scan.matches = attributed.matches;
    Ok(scan)
}

/// Every ref and the object it points at, sorted: what a sweep compares with the last one.
pub fn ref_targets(repo: &gix::Repository) -> Result<Vec<(String, ObjectId)>, GitError> {
    let platform = repo.references().map_err(GitError::Refs)?;
    let mut tips = Vec::new();
    for reference in platform.all().map_err(GitError::Refs)? {
        let Ok(reference) = reference else { continue };
        if let Some(id) = reference.try_id() {
            tips.push((reference.name().as_bstr().to_string(), id.detach()));
        }
    }
    tips.sort();
    Ok(tips)
}
