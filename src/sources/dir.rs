//! `ferret dir`: every file under the given paths, walked in parallel with the `ignore` crate.
//!
//! By default every file is scanned, hidden and gitignored ones included (a key in an ignored
//! `.env` is still a plaintext key on that disk); only `.git` internals are skipped, since git
//! history is `ferret git`'s job. Symlinks are not followed unless asked, and a followed
//! symlink loop is detected and reported, never walked forever.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::contents::{self, ArchiveLimits};
use super::{Warning, display_path};
use crate::finding::Match;
use crate::matcher::{ChunkScanner, Matcher};

#[derive(Clone, Debug, Default)]
pub struct DirOptions {
    /// Honour `.gitignore`, `.ignore` and git's exclude files.
    pub gitignore: bool,
    /// Follow symbolic links.
    pub follow_links: bool,
    /// Walker threads (0: one per core).
    pub threads: usize,
    /// How far archives are opened.
    pub archives: ArchiveLimits,
}

/// Progress counters a caller can display while the walk runs.
pub trait Progress: Sync {
    fn file_done(&self, bytes: u64);
}

impl Progress for () {
    fn file_done(&self, _bytes: u64) {}
}

/// What a directory scan found.
#[derive(Debug, Default)]
pub struct DirScan {
    pub matches: Vec<Match>,
    /// Matches on lines marked `ferret:allow`.
    pub inline_allowed: usize,
    pub warnings: Vec<Warning>,
    pub files: u64,
    pub bytes: u64,
}

/// How a report names a file found under `root`.
fn report_path(root: &Path, path: &Path, several_roots: bool) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if !several_roots && !rel.as_os_str().is_empty() => display_path(rel),
        _ => display_path(path),
    }
}

/// With links followed, one file can be reached by several paths: it is scanned once, under
/// its own path when that is inside a root (paths through a symlink to it are skipped), else
/// under the first path that reached it.
fn first_sighting(
    entry: &ignore::DirEntry,
    root: &Path,
    canonical_roots: &[PathBuf],
    seen: &Mutex<std::collections::HashSet<(u64, u64)>>,
) -> bool {
    if let Ok(target) = std::fs::canonicalize(entry.path()) {
        let direct = std::fs::canonicalize(root)
            .ok()
            .zip(entry.path().strip_prefix(root).ok())
            .map(|(root, rel)| root.join(rel));
        if direct.as_ref() != Some(&target)
            && canonical_roots.iter().any(|root| target.starts_with(root))
        {
            return false;
        }
    }
    #[cfg(unix)]
    if let Ok(metadata) = entry.metadata() {
        use std::os::unix::fs::MetadataExt;
        let id = (metadata.dev(), metadata.ino());
        return seen.lock().expect("no panics while locked").insert(id);
    }
    true
}

/// Opens a file the walk saw as a regular file without blocking (a named pipe swapped in for it
/// since would hang `open` until a writer came) and, with `no_follow`, without following a
/// symlink swapped in for it (to a device that never ends, say).
fn open_regular(path: &Path, no_follow: bool) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        options.custom_flags(if no_follow {
            flags | libc::O_NOFOLLOW
        } else {
            flags
        });
    }
    #[cfg(not(unix))]
    let _ = no_follow;
    options.open(path)
}

/// Scans every file under `roots`; `on_warning` hears about each problem as it happens.
pub fn scan_dirs(
    roots: &[PathBuf],
    options: &DirOptions,
    matcher: &Matcher,
    progress: &dyn Progress,
    on_warning: &(dyn Fn(&Warning) + Sync),
) -> DirScan {
    let Some((first, rest)) = roots.split_first() else {
        return DirScan::default();
    };
    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let respect = options.gitignore;
    builder
        .hidden(false)
        .parents(respect)
        .ignore(respect)
        .git_ignore(respect)
        .git_global(respect)
        .git_exclude(respect)
        .require_git(false)
        .follow_links(options.follow_links)
        .threads(options.threads)
        .filter_entry(|entry| entry.file_name() != ".git");

    let result = Mutex::new(DirScan::default());
    let several_roots = roots.len() > 1;
    let canonical_roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    let seen_files = Mutex::new(std::collections::HashSet::new());
    builder.build_parallel().run(|| {
        let mut scanner = ChunkScanner::new(matcher);
        let result = &result;
        let (canonical_roots, seen_files) = (&canonical_roots, &seen_files);
        Box::new(move |entry| {
            let warn = |text: String| {
                let warning = Warning(text);
                on_warning(&warning);
                result
                    .lock()
                    .expect("no panics while locked")
                    .warnings
                    .push(warning);
            };
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    warn(err.to_string());
                    return WalkState::Continue;
                }
            };
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            if file_type.is_dir() || file_type.is_symlink() {
                // A symlink reaches here only when links are not followed.
                return WalkState::Continue;
            }
            let path = entry.path();
            if !file_type.is_file() {
                warn(format!("{}: skipped, not a regular file", path.display()));
                return WalkState::Continue;
            }
            let root = roots
                .iter()
                .find(|root| path.starts_with(root))
                .unwrap_or(first);
            if options.follow_links && !first_sighting(&entry, root, canonical_roots, seen_files) {
                return WalkState::Continue;
            }
            let shown = report_path(root, path, several_roots);
            let mut found = Vec::new();
            let mut allowed = 0;
            let no_follow = !options.follow_links && entry.depth() > 0;
            let scanned = open_regular(path, no_follow).and_then(|file| {
                contents::scan_file(
                    file,
                    &shown,
                    &options.archives,
                    &mut scanner,
                    &mut |m| {
                        if m.inline_allowed {
                            allowed += 1;
                        } else {
                            found.push(Match {
                                rule: m.rule,
                                location: crate::sources::location_of(&m, &shown, None),
                                secret: m.secret,
                            });
                        }
                    },
                    &mut |text| warn(text),
                )
            });
            // The scanner counts the bytes: asking the file system (one more statx per file)
            // cost a tenth of a tree scan.
            let bytes = match scanned {
                Ok(bytes) => bytes,
                Err(err) => {
                    warn(format!("{}: {err}", path.display()));
                    0
                }
            };
            progress.file_done(bytes);
            let mut result = result.lock().expect("no panics while locked");
            result.files += 1;
            result.bytes += bytes;
            result.inline_allowed += allowed;
            result.matches.append(&mut found);
            WalkState::Continue
        })
    });
    result.into_inner().expect("no panics while locked")
}
