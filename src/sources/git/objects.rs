//! Reading every object of a repository once: each pack is traversed in pack order with
//! gix's delta-tree algorithm (every delta base inflated once, measured ~4x faster than
//! looking objects up one by one), then loose objects not in any pack are read one by one.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use gix::ObjectId;
use gix::odb::pack;

use super::{GitError, GitOptions, MatchedObject, scan_object};
use crate::matcher::Matcher;
use crate::sources::Warning;

/// What reading every object produced.
pub(crate) struct ScannedObjects {
    pub matched: Vec<MatchedObject>,
    /// Every commit id seen (only collected for `--unreachable`, to walk dangling commits).
    pub commit_ids: Vec<ObjectId>,
    pub objects: u64,
    pub bytes: u64,
    pub warnings: Vec<Warning>,
}

#[derive(Default)]
struct Shared {
    matched: Vec<MatchedObject>,
    commit_ids: Vec<ObjectId>,
    objects: u64,
    bytes: u64,
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

pub(crate) fn scan_all_objects(
    repo: &gix::Repository,
    matcher: &Matcher,
    options: &GitOptions,
    on_warning: &(dyn Fn(&Warning) + Sync),
) -> Result<ScannedObjects, GitError> {
    let objects_dir = repo.objects.store_ref().path().to_path_buf();
    let hash_kind = repo.object_hash();
    let shared = Mutex::new(Shared::default());
    let mut warnings = Vec::new();
    let mut warn = |text: String| {
        let warning = Warning(text);
        on_warning(&warning);
        warnings.push(warning);
    };
    let collect_commits = options.unreachable;
    let record = |id: ObjectId, kind: gix::object::Kind, data: &[u8]| {
        use gix::object::Kind;
        let found = match kind {
            Kind::Blob | Kind::Commit | Kind::Tag => scan_object(matcher, id, kind, data),
            Kind::Tree => None,
        };
        let mut shared = shared.lock().expect("no panics while locked");
        shared.objects += 1;
        shared.bytes += data.len() as u64;
        if collect_commits && kind == Kind::Commit {
            shared.commit_ids.push(id);
        }
        if let Some(found) = found {
            shared.matched.push(found);
        }
    };

    let mut bundles: Vec<pack::Bundle> = Vec::new();
    for index_path in pack_indices(&objects_dir) {
        match pack::Bundle::at(&index_path, hash_kind) {
            Ok(bundle) => bundles.push(bundle),
            Err(err) => warn(format!("{}: skipped: {err}", index_path.display())),
        }
    }
    let interrupt = AtomicBool::new(false);
    for (position, bundle) in bundles.iter().enumerate() {
        let earlier = &bundles[..position];
        let outcome = bundle.index.traverse_with_index(
            &bundle.pack,
            |kind, data, entry, _progress| {
                // An object in several packs is scanned in the first one only.
                if !earlier.iter().any(|b| b.index.lookup(&entry.oid).is_some()) {
                    record(entry.oid, kind, data);
                }
                Ok(())
            },
            &mut gix::progress::Discard,
            &interrupt,
            pack::index::traverse::with_index::Options {
                thread_limit: (options.threads > 0).then_some(options.threads),
                check: pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerification,
                alloc_limit_bytes: None,
            },
        );
        if let Err(err) = outcome {
            warn(format!(
                "{}: pack could not be read completely, some objects were not scanned: {err}",
                bundle.pack.path().display()
            ));
        }
    }

    // Loose objects that no pack holds.
    let loose = gix::odb::loose::Store::at(&objects_dir, hash_kind);
    let mut buf = Vec::new();
    for id in loose.iter() {
        let id = match id {
            Ok(id) => id,
            Err(err) => {
                warn(format!("loose object: {err}"));
                continue;
            }
        };
        if bundles.iter().any(|b| b.index.lookup(&id).is_some()) {
            continue;
        }
        match loose.try_find(&id, &mut buf) {
            Ok(Some(data)) => record(id, data.kind, data.data),
            Ok(None) => {}
            Err(err) => warn(format!("loose object {id}: unreadable, skipped: {err}")),
        }
    }
    let shared = shared.into_inner().expect("no panics while locked");
    Ok(ScannedObjects {
        matched: shared.matched,
        commit_ids: shared.commit_ids,
        objects: shared.objects,
        bytes: shared.bytes,
        warnings,
    })
}
