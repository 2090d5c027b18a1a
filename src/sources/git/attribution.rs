//! Attribution: which commit and path introduced each matched object.
//!
//! Runs only when the object scan matched something. Every commit reachable from a ref (and,
//! with `--unreachable`, every commit in the object database) is visited oldest first; each
//! commit's tree is walked depth first, skipping trees already seen in an older commit, so
//! every tree of the history is visited once. The first commit in which a matched blob
//! appears at a path is the one that introduced it there. The refs that contain each
//! introducing commit are found by walking from it towards its descendants.
//!
//! A whole-history scan hands over what its pack traversal kept ([`Kept`]): every commit's
//! tree and parents, and every tree's subtrees and matched-blob entries ([`TreeIndex`]), so the
//! walk runs from memory; anything not kept is read from the object database.

use std::collections::HashMap;

use gix::ObjectId;
use gix::object::Kind;
use gix::prelude::Find;

use super::tree_index::TreeIndex;
use super::{GitError, GitOptions, MatchedObject, read_commit_info, read_object};
use crate::error::Chain;
use crate::finding::{CommitInfo, Match};
use crate::matcher::LocatedMatch;
use crate::sources::Warning;

/// Path shown for a secret in a commit message.
pub const COMMIT_MESSAGE_PATH: &str = "(commit message)";

#[derive(Default)]
pub(crate) struct Attributed {
    pub matches: Vec<Match>,
    pub inline_allowed: usize,
    /// The first [`ALLOWED_LISTED`] of those, for `ci github` to list what a pull request's
    /// own `ferret:allow` lines drop.
    pub allowed: Vec<Match>,
    pub warnings: Vec<Warning>,
}

/// How many matches on `ferret:allow` lines a scan keeps to list.
pub const ALLOWED_LISTED: usize = 100;

/// Where an object was first seen: at `path` in `commit` (none for a ref pointing straight at
/// a blob).
struct Sighting {
    path: String,
    commit: Option<ObjectId>,
}

/// Ref tips: commits to walk from (with the ref names), plus refs that point straight at a
/// blob or tag object.
struct Tips {
    commits: Vec<(String, ObjectId)>,
    direct: HashMap<ObjectId, String>,
}

/// What the object scan kept of each commit it read, so that the walk need not read them again.
pub(crate) type CommitMap = gix::hashtable::HashMap<ObjectId, CommitFacts>;

/// A commit's tree, parents and committer time.
pub(crate) struct CommitFacts {
    tree: ObjectId,
    parents: Box<[ObjectId]>,
    time: i64,
}

/// The facts of a commit object's bytes, if they parse.
pub(crate) fn commit_facts(data: &[u8], hash_kind: gix::hash::Kind) -> Option<CommitFacts> {
    let commit = gix::objs::CommitRef::from_bytes(data, hash_kind).ok()?;
    Some(CommitFacts {
        tree: commit.tree(),
        parents: commit.parents().collect(),
        time: commit.committer().map(|c| c.seconds()).unwrap_or(0),
    })
}

/// What the object scan kept for attribution (nothing when it did not read every object).
#[derive(Default)]
pub(crate) struct Kept {
    /// The trees, for the matched blobs (none when no blob matched).
    pub trees: Option<TreeIndex>,
    pub commits: CommitMap,
}

/// A commit of the walk: its tree and parents.
pub(crate) struct WalkedCommit {
    pub id: ObjectId,
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
}

fn ref_tips(repo: &gix::Repository, warn: &mut dyn FnMut(String)) -> Result<Tips, GitError> {
    let mut tips = Tips {
        commits: Vec::new(),
        direct: HashMap::new(),
    };
    let platform = repo.references().map_err(GitError::Refs)?;
    let all = platform.all().map_err(GitError::Refs)?;
    for reference in all {
        let mut reference = match reference {
            Ok(reference) => reference,
            Err(err) => {
                warn(format!("unreadable ref skipped: {}", Chain(&err)));
                continue;
            }
        };
        let name = reference.name().as_bstr().to_string();
        // An annotated tag object itself is reachable (its message is scanned).
        if let Some(id) = reference.target().try_id() {
            tips.direct.insert(id.to_owned(), name.clone());
        }
        match reference.peel_to_id() {
            Ok(id) => match repo.find_header(id).map(|h| h.kind()) {
                Ok(Kind::Commit) => tips.commits.push((name, id.detach())),
                Ok(_) => {
                    tips.direct.insert(id.detach(), name);
                }
                Err(err) => warn(format!("{name}: target missing, skipped: {}", Chain(&err))),
            },
            Err(err) => warn(format!(
                "{name}: cannot be resolved, skipped: {}",
                Chain(&err)
            )),
        }
    }
    if let Ok(head) = repo.head_id() {
        tips.commits.push(("HEAD".to_string(), head.detach()));
    }
    Ok(tips)
}

/// Every commit reachable from `tips`, parents before children (oldest first among commits
/// that do not descend from one another). The commits the object scan kept (`known`) are walked
/// from memory, breadth first from the tips as gix's walk goes (the order breaks ties in
/// [`parents_first`]); without them, or where history is rewritten (a shallow clone's cut,
/// `refs/replace/`), gix walks the object database.
fn commits_oldest_first(
    repo: &gix::Repository,
    tips: Vec<ObjectId>,
    known: &mut CommitMap,
    rewritten: bool,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<WalkedCommit>, GitError> {
    if known.is_empty() || rewritten || repo.is_shallow().unwrap_or(true) {
        return walk_with_gix(repo, tips, known, warn);
    }
    let mut next = std::collections::VecDeque::new();
    let mut seen = gix::hashtable::HashSet::default();
    for tip in tips {
        if seen.insert(tip) {
            next.push_back(tip);
        }
    }
    let mut commits = Vec::new();
    let mut buf = Vec::new();
    let mut incomplete = false;
    while let Some(id) = next.pop_front() {
        let Some(facts) = known.remove(&id).or_else(|| {
            read_object(repo, id, "commit", &mut buf)
                .ok()
                .and_then(|data| commit_facts(data, repo.object_hash()))
        }) else {
            if !std::mem::replace(&mut incomplete, true) {
                warn(format!(
                    "history is incomplete (shallow or partial clone?), part of it was not \
                     attributed: commit {id} is missing or unreadable"
                ));
            }
            continue;
        };
        for parent in &facts.parents {
            if seen.insert(*parent) {
                next.push_back(*parent);
            }
        }
        let walked = WalkedCommit {
            id,
            tree: facts.tree,
            parents: facts.parents.into_vec(),
        };
        commits.push((facts.time, walked));
    }
    Ok(parents_first(commits))
}

/// [`commits_oldest_first`] through gix's walk of the object database.
fn walk_with_gix(
    repo: &gix::Repository,
    tips: Vec<ObjectId>,
    known: &mut CommitMap,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<WalkedCommit>, GitError> {
    let walk = repo.rev_walk(tips).all().map_err(|source| GitError::Walk {
        what: "history",
        source,
    })?;
    let mut commits = Vec::new();
    let mut buf = Vec::new();
    let mut walk_errors = 0;
    for info in walk {
        let info = match info {
            Ok(info) => info,
            Err(err) => {
                walk_errors += 1;
                if walk_errors == 1 {
                    warn(format!(
                        "history is incomplete (shallow or partial clone?), part of it was not \
                         attributed: {}",
                        Chain(&err)
                    ));
                }
                continue;
            }
        };
        if let Some(facts) = known.remove(&info.id) {
            let walked = WalkedCommit {
                id: info.id,
                tree: facts.tree,
                parents: facts.parents.into_vec(),
            };
            commits.push((facts.time, walked));
            continue;
        }
        match repo.objects.try_find(&info.id, &mut buf) {
            Ok(Some(data)) => {
                match gix::objs::CommitRef::from_bytes(data.data, repo.object_hash()) {
                    Ok(commit) => {
                        let time = commit.committer().map(|c| c.seconds()).unwrap_or(0);
                        let walked = WalkedCommit {
                            id: info.id,
                            tree: commit.tree(),
                            parents: commit.parents().collect(),
                        };
                        commits.push((time, walked));
                    }
                    Err(err) => warn(format!(
                        "commit {}: unreadable, skipped: {}",
                        info.id,
                        Chain(&err)
                    )),
                }
            }
            _ => warn(format!("commit {}: missing, skipped", info.id)),
        }
    }
    Ok(parents_first(commits))
}

/// Orders commits so that every commit comes after its parents, taking the oldest ready commit
/// first. Commit times alone are not enough: a rebase writes a whole branch within one second,
/// and clocks can be wrong, while the blob must be attributed to the commit that added it.
pub(crate) fn parents_first(commits: Vec<(i64, WalkedCommit)>) -> Vec<WalkedCommit> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    let index: HashMap<ObjectId, usize> = commits
        .iter()
        .enumerate()
        .map(|(i, (_, c))| (c.id, i))
        .collect();
    let mut waiting_on = vec![0usize; commits.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); commits.len()];
    for (i, (_, commit)) in commits.iter().enumerate() {
        for parent in &commit.parents {
            if let Some(&p) = index.get(parent) {
                waiting_on[i] += 1;
                children[p].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<(i64, usize)>> = (0..commits.len())
        .filter(|&i| waiting_on[i] == 0)
        .map(|i| Reverse((commits[i].0, i)))
        .collect();
    let mut order = Vec::with_capacity(commits.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &child in &children[i] {
            waiting_on[child] -= 1;
            if waiting_on[child] == 0 {
                ready.push(Reverse((commits[child].0, child)));
            }
        }
    }
    let mut slots: Vec<Option<WalkedCommit>> = commits.into_iter().map(|(_, c)| Some(c)).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// For each of `targets`, the refs whose tips descend from it (or are it).
fn refs_containing(
    commits: &[WalkedCommit],
    tips: &[(String, ObjectId)],
    targets: &gix::hashtable::HashSet<ObjectId>,
) -> HashMap<ObjectId, Vec<String>> {
    let mut children: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    for commit in commits {
        for parent in &commit.parents {
            children.entry(*parent).or_default().push(commit.id);
        }
    }
    let mut tips_at: HashMap<ObjectId, Vec<&str>> = HashMap::new();
    for (name, id) in tips {
        tips_at.entry(*id).or_default().push(name);
    }
    let mut out = HashMap::new();
    for &target in targets {
        let mut seen = gix::hashtable::HashSet::default();
        let mut stack = vec![target];
        let mut refs: Vec<String> = Vec::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(names) = tips_at.get(&id) {
                refs.extend(names.iter().map(|n| n.to_string()));
            }
            if let Some(kids) = children.get(&id) {
                stack.extend(kids);
            }
        }
        refs.sort();
        refs.dedup();
        out.insert(target, refs);
    }
    out
}

/// Walks the trees of `commits` once, recording where each wanted id (`trees.wanted()`) first
/// appears. Trees come from `trees` where the pack traversal kept them, else from the object
/// database.
fn find_blobs(
    repo: &gix::Repository,
    commits: &[WalkedCommit],
    trees: &mut TreeIndex,
    warn: &mut dyn FnMut(String),
) -> HashMap<ObjectId, Vec<Sighting>> {
    let mut seen: Vec<bool> = Vec::new();
    let mut found: HashMap<ObjectId, Vec<Sighting>> = HashMap::new();
    // Paths stay bytes until a wanted blob needs one: a history has tens of millions of tree
    // entries, and formatting each one's path was a fifth of the walk.
    let mut stack: Vec<(u32, Vec<u8>)> = Vec::new();
    for walked in commits {
        let commit = walked.id;
        stack.push((trees.slot(walked.tree), Vec::new()));
        while let Some((slot, prefix)) = stack.pop() {
            seen.resize(trees.len(), false);
            if std::mem::replace(&mut seen[slot as usize], true) {
                continue;
            }
            // A tree the traversal did not keep is read now (and not kept: it is visited once).
            let read = if trees.get(slot).is_some() {
                None
            } else {
                match trees.read(repo, slot) {
                    Ok(tree) => Some(tree),
                    Err(_) => {
                        let tree = trees.id(slot);
                        warn(format!(
                            "tree {tree} (in commit {commit}): missing, skipped"
                        ));
                        continue;
                    }
                }
            };
            seen.resize(trees.len(), false);
            let Some(tree) = read.as_ref().or_else(|| trees.get(slot)) else {
                continue;
            };
            if tree.corrupt {
                warn(format!("tree {}: corrupt, partly skipped", trees.id(slot)));
            }
            for (child, name) in tree.subtrees() {
                if !seen[child as usize] {
                    let mut path = prefix.clone();
                    path.extend_from_slice(name);
                    path.push(b'/');
                    stack.push((child, path));
                }
            }
            for (id, name) in &tree.wanted {
                let path = crate::sources::quote_path(&[&prefix[..], name].concat());
                let sightings = found.entry(*id).or_default();
                if !sightings.iter().any(|s| s.path == path) {
                    sightings.push(Sighting {
                        path,
                        commit: Some(commit),
                    });
                }
            }
        }
    }
    found
}

/// Memory for the delta-base cache of the tree walk. Trees delta against each other heavily:
/// measured on git/git, this cache makes the walk 2.7x faster than none (gix's default LRU
/// hardly helps).
const TREE_WALK_PACK_CACHE_BYTES: usize = 256 << 20;

/// Attributes `matched` to the commits and paths that introduced them, with what the object
/// scan `kept` (see [`TreeIndex`]); what it did not keep is read from the object database.
pub(crate) fn attribute(
    repo: &gix::Repository,
    matched: Vec<MatchedObject>,
    kept: Kept,
    extra_tips: &[ObjectId],
    options: &GitOptions,
    on_warning: &(dyn Fn(&Warning) + Sync),
) -> Result<Attributed, GitError> {
    let mut repo = repo.clone();
    // Without kept trees, the walk reads every tree from the object database.
    let Kept {
        trees,
        commits: mut known_commits,
    } = kept;
    if trees.is_none() {
        repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                TREE_WALK_PACK_CACHE_BYTES,
            ))
        });
    }
    let repo = &repo;
    let mut warnings = Vec::new();
    let mut warn = |text: String| Warning::report(text, on_warning, &mut warnings);
    let tips = ref_tips(repo, &mut warn)?;
    let mut walk_from: Vec<ObjectId> = tips.commits.iter().map(|(_, id)| *id).collect();
    walk_from.extend_from_slice(extra_tips);
    let started = std::time::Instant::now();
    let rewritten = tips
        .commits
        .iter()
        .map(|(name, _)| name)
        .chain(tips.direct.values())
        .any(|name| name.starts_with("refs/replace/"));
    let commits = commits_oldest_first(repo, walk_from, &mut known_commits, rewritten, &mut warn)?;
    drop(known_commits);
    let walked_commits = started.elapsed();
    let mut trees = trees.unwrap_or_else(|| TreeIndex::new(wanted_blobs(&matched)));
    // With no blob to place, the trees need no walk (commit messages need only the commits).
    let sightings = if trees.wanted().is_empty() {
        HashMap::new()
    } else {
        find_blobs(repo, &commits, &mut trees, &mut warn)
    };
    drop(trees);
    if std::env::var_os("FERRET_GIT_TIMINGS").is_some() {
        eprintln!(
            "ferret: timings: attribution: {} commits walked in {:.2} s, their trees in {:.2} s",
            commits.len(),
            walked_commits.as_secs_f64(),
            (started.elapsed() - walked_commits).as_secs_f64()
        );
    }
    let introducing: gix::hashtable::HashSet<ObjectId> = sightings
        .values()
        .flatten()
        .filter_map(|s| s.commit)
        .chain(
            matched
                .iter()
                .filter(|m| m.kind == Kind::Commit)
                .map(|m| m.id),
        )
        .collect();
    let refs = listed_refs(&commits, &tips.commits, &introducing, &mut warn);
    let mut places = Places {
        sightings,
        tips: &tips,
        reachable_commits: commits.iter().map(|c| c.id).collect(),
        unreachable: options.unreachable,
    };
    let mut infos = CommitInfos {
        repo,
        refs,
        known: HashMap::new(),
    };
    let mut out = Attributed::default();
    for object in matched {
        for place in places.of(&object) {
            let commit = place.commit.and_then(|id| infos.get(id));
            for m in &object.matches {
                push_match(&mut out, m, &place.path, commit.clone());
            }
        }
    }
    out.warnings = warnings;
    Ok(out)
}

/// The matched blobs: what attribution places in trees.
pub(crate) fn wanted_blobs(matched: &[MatchedObject]) -> gix::hashtable::HashSet<ObjectId> {
    matched
        .iter()
        .filter(|m| m.kind == Kind::Blob)
        .map(|m| m.id)
        .collect()
}

/// For each introducing commit, the refs that contain it, at most [`super::MAX_REFS_LISTED`]
/// (a commit that 100,000 tags contain would repeat every name at each of its locations).
fn listed_refs(
    commits: &[WalkedCommit],
    tips: &[(String, ObjectId)],
    introducing: &gix::hashtable::HashSet<ObjectId>,
    warn: &mut dyn FnMut(String),
) -> HashMap<ObjectId, Vec<String>> {
    let mut refs = refs_containing(commits, tips, introducing);
    for (id, names) in refs.iter_mut() {
        if names.len() > super::MAX_REFS_LISTED {
            warn(format!(
                "commit {id} is in {} refs: reports list the first {}",
                names.len(),
                super::MAX_REFS_LISTED
            ));
            names.truncate(super::MAX_REFS_LISTED);
        }
    }
    refs
}

/// Where each matched object is reported.
struct Places<'a> {
    /// Where the walk saw each matched blob first.
    sightings: HashMap<ObjectId, Vec<Sighting>>,
    tips: &'a Tips,
    reachable_commits: gix::hashtable::HashSet<ObjectId>,
    /// `--unreachable`: objects no ref reaches are reported too.
    unreachable: bool,
}

impl Places<'_> {
    /// The places of `object`: where its blob was first seen (or the ref naming it), its
    /// commit's message, its tag's message; none for an object reported nowhere.
    fn of(&mut self, object: &MatchedObject) -> Vec<Sighting> {
        let at = |path: String, commit: Option<ObjectId>| vec![Sighting { path, commit }];
        match object.kind {
            Kind::Blob => match self.sightings.remove(&object.id) {
                Some(places) => places,
                None => match self.tips.direct.get(&object.id) {
                    Some(name) => at(name.clone(), None),
                    None if self.unreachable => {
                        at(format!("(unreachable blob {})", object.id), None)
                    }
                    None => Vec::new(),
                },
            },
            Kind::Commit if self.reachable_commits.contains(&object.id) || self.unreachable => {
                at(COMMIT_MESSAGE_PATH.to_string(), Some(object.id))
            }
            Kind::Tag if self.tips.direct.contains_key(&object.id) || self.unreachable => {
                let name = self
                    .tips
                    .direct
                    .get(&object.id)
                    .cloned()
                    .unwrap_or_else(|| object.id.to_string());
                at(format!("(tag message {name})"), None)
            }
            _ => Vec::new(),
        }
    }
}

/// Each introducing commit's author, date and refs, read once.
struct CommitInfos<'a> {
    repo: &'a gix::Repository,
    /// The refs containing each introducing commit (taken once its info is read).
    refs: HashMap<ObjectId, Vec<String>>,
    known: HashMap<ObjectId, CommitInfo>,
}

impl CommitInfos<'_> {
    fn get(&mut self, id: ObjectId) -> Option<CommitInfo> {
        if let Some(info) = self.known.get(&id) {
            return Some(info.clone());
        }
        let mut info = read_commit_info(self.repo, id)?;
        info.refs = self.refs.remove(&id).unwrap_or_default();
        self.known.insert(id, info.clone());
        Some(info)
    }
}

/// Adds one located match at a path, unless its line is marked `ferret:allow`.
pub(crate) fn push_match(
    out: &mut Attributed,
    m: &LocatedMatch,
    path: &str,
    commit: Option<CommitInfo>,
) {
    let found = Match {
        rule: m.rule,
        secret: m.secret.clone(),
        location: crate::sources::location_of(m, path, commit),
    };
    if !m.inline_allowed {
        out.matches.push(found);
        return;
    }
    out.inline_allowed += 1;
    if out.allowed.len() < ALLOWED_LISTED {
        out.allowed.push(found);
    }
}
