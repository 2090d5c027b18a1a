//! Reading every object of a repository once: each pack is traversed in pack order with
//! gix's delta-tree algorithm (every delta base inflated once, measured ~4x faster than
//! looking objects up one by one), then loose objects not in any pack are read one by one.
//! Trees are traversed last, and only when a blob matched: what attribution needs of them is
//! kept in a [`TreeIndex`] then, so that it need not decode them again.
//!
//! A pack is memory-mapped, and a traversal touches all of it, so left alone the whole pack
//! would count as resident memory of ferret for the whole scan (a 10 GB pack: 10 GB RSS, which
//! a container's memory limit counts). While a pack is traversed, a trimmer hands the pages
//! already read back to the page cache a few times a second; touching one again costs a minor
//! fault, not a read.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::ObjectId;
use gix::odb::pack;

use super::attribution::{CommitMap, commit_facts};
use super::tree_index::{self, TreeIndex};
use super::{GitError, GitOptions, MatchedObject, pack_walk, scan_object};
use crate::sources::{ScanContext, Warning};

/// What reading every object produced.
pub(crate) struct ScannedObjects {
    pub matched: Vec<MatchedObject>,
    /// Every blob scanned (only when asked for).
    pub blob_ids: Vec<ObjectId>,
    pub skipped_blobs: u64,
    /// Every commit id seen (only collected for `--unreachable`, to walk dangling commits).
    pub commit_ids: Vec<ObjectId>,
    pub objects: u64,
    pub bytes: u64,
    pub warnings: Vec<Warning>,
    /// The packs' trees, kept for the matched blobs (none when no blob matched).
    pub trees: Option<TreeIndex>,
    /// Every commit read, for the attribution walk.
    pub commits: CommitMap,
    /// How long traversing the trees took.
    pub trees_took: Duration,
}

#[derive(Default)]
struct Shared {
    matched: Vec<MatchedObject>,
    blob_ids: Vec<ObjectId>,
    skipped_blobs: u64,
    commit_ids: Vec<ObjectId>,
    commits: CommitMap,
    objects: u64,
    bytes: u64,
}

/// How often the trimmer drops the pack pages that were read.
const TRIM_INTERVAL: Duration = Duration::from_millis(250);

/// A pack file's read-only memory map, shared with the trimmer.
#[derive(Clone)]
struct PackMap(Arc<memmap2::Mmap>);

impl Deref for PackMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Why a pack could not be opened.
#[derive(Debug, thiserror::Error)]
enum PackError {
    #[error(transparent)]
    Gix(#[from] gix::Error),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A pack and its index.
struct Pack {
    index: pack::index::File,
    data: pack::data::File<PackMap>,
    map: PackMap,
}

impl Pack {
    fn open(index_path: &Path, hash_kind: gix::hash::Kind) -> Result<Self, PackError> {
        let pack_path = index_path.with_extension("pack");
        let index = pack::index::File::at(index_path, hash_kind)?;
        let io = |source| PackError::Io {
            path: pack_path.clone(),
            source,
        };
        let file = std::fs::File::open(&pack_path).map_err(io)?;
        // SAFETY: the map is read-only; git never rewrites a pack file in place (new packs get
        // new names), so its bytes do not change under us.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let map = PackMap(Arc::new(map));
        let data = pack::data::File::from_data(map.clone(), pack_path, hash_kind)?;
        Ok(Pack { index, data, map })
    }

    /// Runs `work` while a thread keeps dropping the map's resident pages.
    fn with_trimmed_map<R>(&self, work: impl FnOnce() -> R) -> R {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(TRIM_INTERVAL)
                {
                    // SAFETY: for a read-only file mapping, MADV_DONTNEED only unmaps pages; the
                    // next access maps them again from the page cache with the same bytes.
                    let _ = unsafe {
                        self.map
                            .0
                            .unchecked_advise(memmap2::UncheckedAdvice::DontNeed)
                    };
                }
            });
            let result = work();
            drop(stop);
            result
        })
    }
}

/// At most this many object directories are followed through `info/alternates` (git's own
/// limit on alternate nesting is 5 levels; this also stops cycles).
const MAX_OBJECT_DIRS: usize = 16;

/// The repository's object directory and those its `info/alternates` borrow from (a
/// `git clone --shared` keeps most of its history there).
fn object_dirs(objects_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![objects_dir.to_path_buf()];
    let mut next = 0;
    while next < dirs.len() && dirs.len() < MAX_OBJECT_DIRS {
        if let Ok(text) = std::fs::read_to_string(dirs[next].join("info/alternates")) {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                // Relative entries are relative to the directory that lists them.
                let dir = dirs[next].join(line);
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        next += 1;
    }
    dirs
}

fn pack_indices(objects_dir: &std::path::Path) -> Vec<PathBuf> {
    let mut indices: Vec<PathBuf> = std::fs::read_dir(objects_dir.join("pack"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|ext| ext == "idx"))
                .collect()
        })
        .unwrap_or_default();
    indices.sort();
    indices
}

/// The warning for an object not scanned for its size.
fn too_large(id: ObjectId, size: u64, limit: u64) -> String {
    format!(
        "object {id} ({size} bytes) not scanned: larger than the limit of {limit} bytes \
         (--max-object-size)"
    )
}

/// Reads every object of the repository (and of the object directories it borrows from) once,
/// scanning blobs, commits and tags.
pub(crate) fn scan_all_objects(
    repo: &gix::Repository,
    options: &GitOptions,
    context: &ScanContext<'_>,
) -> Result<ScannedObjects, GitError> {
    let objects_dirs = object_dirs(repo.objects.store_ref().path());
    let hash_kind = repo.object_hash();
    let recorder = Recorder {
        context: *context,
        hash_kind,
        options,
        shared: Mutex::new(Shared::default()),
    };
    let mut warnings = Vec::new();
    let mut warn = |text: String| context.warn(text, &mut warnings);
    if is_partial_clone(&objects_dirs) {
        warn(
            "partial clone: objects never fetched from its promisor remote are not scanned \
             (clone without --filter to scan everything)"
                .to_string(),
        );
    }
    let packs = open_packs(&objects_dirs, hash_kind, &mut warn);
    let tree_entries = scan_packs(&packs, options, &recorder, &mut warn);
    scan_loose(
        &objects_dirs,
        hash_kind,
        &packs,
        options,
        &recorder,
        &mut warn,
    );
    let shared = recorder
        .shared
        .into_inner()
        .expect("no panics while locked");
    let wanted = super::attribution::wanted_blobs(&shared.matched);
    let started = std::time::Instant::now();
    let trees = if wanted.is_empty() {
        if let Some(progress) = &options.progress {
            progress.done(tree_entries.iter().map(|e| e.len() as u64).sum());
        }
        None
    } else {
        Some(keep_trees(&packs, tree_entries, wanted, options, &mut warn))
    };
    Ok(ScannedObjects {
        matched: shared.matched,
        blob_ids: shared.blob_ids,
        skipped_blobs: shared.skipped_blobs,
        commit_ids: shared.commit_ids,
        objects: shared.objects,
        bytes: shared.bytes,
        warnings,
        trees,
        commits: shared.commits,
        trees_took: started.elapsed(),
    })
}

/// Scans each object as it is read, from any thread, and counts it.
struct Recorder<'a> {
    context: ScanContext<'a>,
    hash_kind: gix::hash::Kind,
    options: &'a GitOptions,
    shared: Mutex<Shared>,
}

impl Recorder<'_> {
    fn record(&self, id: ObjectId, kind: gix::object::Kind, data: &[u8]) {
        use gix::object::Kind;
        let options = self.options;
        if let Some(progress) = &options.progress {
            progress.done(1);
        }
        // Trees hold no secrets: their names are the paths that findings are reported at. (A
        // tree here is a loose one, or the pack's first object: see `pack_walk::plan`.)
        if kind == Kind::Tree {
            return;
        }
        if kind == Kind::Blob && options.skip_blobs.as_ref().is_some_and(|s| s.contains(&id)) {
            self.shared
                .lock()
                .expect("no panics while locked")
                .skipped_blobs += 1;
            return;
        }
        let found = scan_object(&self.context, id, kind, data);
        let facts = (kind == Kind::Commit)
            .then(|| commit_facts(data, self.hash_kind))
            .flatten();
        let mut shared = self.shared.lock().expect("no panics while locked");
        if let Some(facts) = facts {
            shared.commits.insert(id, facts);
        }
        shared.objects += 1;
        shared.bytes += data.len() as u64;
        if options.unreachable && kind == Kind::Commit {
            shared.commit_ids.push(id);
        }
        if options.collect_blob_ids && kind == Kind::Blob {
            shared.blob_ids.push(id);
        }
        if let Some(found) = found {
            shared.matched.push(found);
        }
    }
}

/// Whether `repo` is a partial clone (see [`is_partial_clone`]).
pub(crate) fn repo_is_partial_clone(repo: &gix::Repository) -> bool {
    is_partial_clone(&object_dirs(repo.objects.store_ref().path()))
}

/// Whether the repository is a partial clone (a promisor pack): some objects were never
/// fetched.
fn is_partial_clone(objects_dirs: &[PathBuf]) -> bool {
    objects_dirs.iter().any(|dir| {
        std::fs::read_dir(dir.join("pack")).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|ext| ext == "promisor"))
        })
    })
}

/// Every pack of the object directories that can be opened; `warn` hears about the others.
fn open_packs(
    objects_dirs: &[PathBuf],
    hash_kind: gix::hash::Kind,
    warn: &mut dyn FnMut(String),
) -> Vec<Pack> {
    let mut packs = Vec::new();
    for index_path in objects_dirs.iter().flat_map(|dir| pack_indices(dir)) {
        match Pack::open(&index_path, hash_kind) {
            Ok(pack) => packs.push(pack),
            Err(err) => warn(format!(
                "{}: skipped: {}",
                index_path.display(),
                crate::error::Chain(&err)
            )),
        }
    }
    packs
}

/// Traverses each pack's blobs, commits and tags in pack order (an object in several packs is
/// scanned in the first one); returns each pack's tree entries, for [`keep_trees`].
fn scan_packs(
    packs: &[Pack],
    options: &GitOptions,
    recorder: &Recorder<'_>,
    warn: &mut dyn FnMut(String),
) -> Vec<Vec<pack::index::Entry>> {
    let interrupt = AtomicBool::new(false);
    if let Some(progress) = &options.progress {
        let objects: u64 = packs.iter().map(|p| u64::from(p.index.num_objects())).sum();
        progress.more_to_do(objects);
    }
    let mut tree_entries = Vec::with_capacity(packs.len());
    for (position, pack) in packs.iter().enumerate() {
        let earlier = &packs[..position];
        let outcome = pack.with_trimmed_map(|| {
            let plan = pack_walk::plan(&pack.index, &pack.data, options.max_object_size)?;
            pack_walk::traverse(
                &pack.index,
                &pack.data,
                plan.others,
                options.max_object_size,
                (options.threads > 0).then_some(options.threads),
                &interrupt,
                |kind, data, id| {
                    if !earlier.iter().any(|p| p.index.lookup(id).is_some()) {
                        recorder.record(id, kind, data);
                    }
                },
            )?;
            Ok::<_, gix::Error>((plan.trees, plan.left_out))
        });
        match outcome {
            Ok((trees, left_out)) => {
                tree_entries.push(trees);
                for object in &left_out.oversized {
                    warn(too_large(object.id, object.size, options.max_object_size));
                }
                if left_out.dependents > 0 {
                    warn(format!(
                        "{} objects stored as deltas of those were not scanned either",
                        left_out.dependents
                    ));
                }
            }
            Err(err) => {
                // Its trees, if attribution needs them, are read from the object database.
                tree_entries.push(Vec::new());
                warn(format!(
                    "{}: pack could not be read completely, some objects were not scanned: {}",
                    pack.data.path().display(),
                    crate::error::Chain(&err)
                ));
            }
        }
    }
    tree_entries
}

/// Traverses each pack's trees (`tree_entries`, from [`scan_packs`]) and keeps what attribution
/// needs of them to place the `wanted` blobs. A tree not kept (its pack failed to read) is read
/// from the object database by the walk that needs it, which says so if it cannot be read.
fn keep_trees(
    packs: &[Pack],
    tree_entries: Vec<Vec<pack::index::Entry>>,
    wanted: gix::hashtable::HashSet<ObjectId>,
    options: &GitOptions,
    warn: &mut dyn FnMut(String),
) -> TreeIndex {
    let interrupt = AtomicBool::new(false);
    let index = Mutex::new(TreeIndex::new(wanted));
    let wanted = index.lock().expect("not poisoned").wanted().clone();
    for (pack, entries) in packs.iter().zip(tree_entries) {
        let hash_kind = pack.index.object_hash();
        // The trees not kept are read from the object database by the walk, more slowly.
        let outcome = pack.with_trimmed_map(|| {
            pack_walk::traverse(
                &pack.index,
                &pack.data,
                entries,
                options.max_object_size,
                (options.threads > 0).then_some(options.threads),
                &interrupt,
                |kind, data, id| {
                    // The pack's first object may come along, whatever its kind (see
                    // `pack_walk::plan`); it was read with the others.
                    if kind == gix::object::Kind::Tree {
                        if let Some(progress) = &options.progress {
                            progress.done(1);
                        }
                        // Parsed outside the lock: the lock only gives slots.
                        let parsed = tree_index::parse(data, hash_kind, &wanted);
                        index
                            .lock()
                            .expect("no panics while locked")
                            .keep(id, parsed);
                    }
                },
            )
        });
        if let Err(err) = outcome {
            warn(format!(
                "{}: trees could not be traversed, attribution reads them one by one: {}",
                pack.data.path().display(),
                crate::error::Chain(&err)
            ));
        }
    }
    index.into_inner().expect("no panics while locked")
}

/// Reads the loose objects that no pack holds.
fn scan_loose(
    objects_dirs: &[PathBuf],
    hash_kind: gix::hash::Kind,
    packs: &[Pack],
    options: &GitOptions,
    recorder: &Recorder<'_>,
    warn: &mut dyn FnMut(String),
) {
    let mut buf = Vec::new();
    let mut seen_loose = gix::hashtable::HashSet::default();
    for dir in objects_dirs {
        let loose = gix::odb::loose::Store::at(dir, hash_kind);
        for id in loose.iter() {
            let id = match id {
                Ok(id) => id,
                Err(err) => {
                    warn(format!("loose object: {}", crate::error::Chain(&err)));
                    continue;
                }
            };
            if packs.iter().any(|p| p.index.lookup(id).is_some()) || !seen_loose.insert(id) {
                continue;
            }
            if let Ok(Some((size, _))) = loose.try_header(&id)
                && size > options.max_object_size
            {
                warn(too_large(id, size, options.max_object_size));
                continue;
            }
            if let Some(progress) = &options.progress {
                progress.more_to_do(1);
            }
            match loose.try_find(&id, &mut buf) {
                Ok(Some(data)) => recorder.record(id, data.kind, data.data),
                Ok(None) => {}
                Err(err) => warn(format!(
                    "loose object {id}: unreadable, skipped: {}",
                    crate::error::Chain(&err)
                )),
            }
        }
    }
}
