//! `ferret dir`: every file under the given paths, walked in parallel with the `ignore` crate.
//!
//! By default every file is scanned, hidden and gitignored ones included (a key in an ignored
//! `.env` is still a plaintext key on that disk); only `.git` internals are skipped, since git
//! history is `ferret git`'s job. Symlinks are not followed unless asked, and a followed
//! symlink loop is detected and reported, never walked forever.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::contents;
use super::{ScanContext, Warning, display_path};
use crate::finding::Match;
use crate::matcher::ChunkScanner;
use crate::matchset::MatchSet;

#[derive(Clone, Debug, Default)]
pub struct DirOptions {
    /// Honour `.gitignore`, `.ignore` and git's exclude files.
    pub gitignore: bool,
    /// Follow symbolic links.
    pub follow_links: bool,
    /// Walker threads (0: one per core).
    pub threads: usize,
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
    /// At most `matchset::MAX_LOCATIONS_PER_KEY` locations of each key; the rest counted.
    pub matches: MatchSet,
    /// Matches on lines marked `ferret:allow`.
    pub inline_allowed: usize,
    pub warnings: Vec<Warning>,
    /// Files and directories met during the walk that could not be read (each also a warning).
    pub unreadable: u64,
    pub files: u64,
    pub bytes: u64,
}

/// How a report names a file found under `root`: relative to the working directory `cwd` when
/// it is under it, whatever the number of roots, so that one file has one name in every run
/// and a workflow annotation lands on it. A file outside the working directory is named
/// relative to its root when that is the only one, else as the walk reached it.
pub fn report_path(root: &Path, path: &Path, several_roots: bool, cwd: Option<&Path>) -> String {
    if let Some(rel) = under_cwd(path, cwd) {
        return display_path(rel);
    }
    match path.strip_prefix(root) {
        Ok(rel) if !several_roots && !rel.as_os_str().is_empty() => display_path(rel),
        _ => display_path(path),
    }
}

/// `path` relative to the working directory, when it is under it.
fn under_cwd<'p>(path: &'p Path, cwd: Option<&Path>) -> Option<&'p Path> {
    if path.is_absolute() {
        let rel = path.strip_prefix(cwd?).ok()?;
        (!rel.as_os_str().is_empty()).then_some(rel)
    } else {
        let up = path
            .components()
            .any(|c| c == std::path::Component::ParentDir);
        (!up).then_some(path)
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

/// Scans every file under `roots`; the context's `on_warning` hears about each problem as it
/// happens.
pub fn scan_dirs(
    roots: &[PathBuf],
    options: &DirOptions,
    context: &ScanContext<'_>,
    progress: &dyn Progress,
) -> DirScan {
    if roots.is_empty() {
        return DirScan::default();
    }
    let walk = Walk {
        roots,
        options,
        context,
        progress,
        canonical_roots: roots
            .iter()
            .filter_map(|r| std::fs::canonicalize(r).ok())
            .collect(),
        seen_files: Mutex::new(std::collections::HashSet::new()),
        cwd: std::env::current_dir().ok(),
        result: Mutex::new(DirScan::default()),
    };
    walker(roots, options).build_parallel().run(|| {
        let mut scanner = ChunkScanner::new(context.matcher);
        let walk = &walk;
        Box::new(move |entry| walk.visit(entry, &mut scanner))
    });
    walk.result.into_inner().expect("no panics while locked")
}

/// The parallel walk over `roots` (not empty) that `options` ask for: hidden and ignored files
/// included unless `gitignore`, `.git` internals never.
fn walker(roots: &[PathBuf], options: &DirOptions) -> WalkBuilder {
    let mut builder = WalkBuilder::new(&roots[0]);
    for root in &roots[1..] {
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
    builder
}

/// One directory scan, shared by the walker's threads.
struct Walk<'a> {
    roots: &'a [PathBuf],
    options: &'a DirOptions,
    context: &'a ScanContext<'a>,
    progress: &'a dyn Progress,
    /// The roots as the file system resolves them, to tell paths through symlinks.
    canonical_roots: Vec<PathBuf>,
    /// The working directory, which report paths are relative to.
    cwd: Option<PathBuf>,
    /// Files scanned so far (device, inode), when links are followed.
    seen_files: Mutex<std::collections::HashSet<(u64, u64)>>,
    result: Mutex<DirScan>,
}

impl Walk<'_> {
    /// Tells `on_warning` about a problem and keeps it for the result.
    fn warn(&self, text: String) {
        let warning = Warning(text);
        (self.context.on_warning)(&warning);
        self.result
            .lock()
            .expect("no panics while locked")
            .warnings
            .push(warning);
    }

    /// One entry of the walk: a regular file is scanned, anything else skipped.
    fn visit(
        &self,
        entry: Result<ignore::DirEntry, ignore::Error>,
        scanner: &mut ChunkScanner<'_>,
    ) -> WalkState {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                // A file deleted since the walk saw it is not one left unread.
                if err
                    .io_error()
                    .is_some_and(|e| e.kind() != ErrorKind::NotFound)
                {
                    self.result
                        .lock()
                        .expect("no panics while locked")
                        .unreadable += 1;
                }
                self.warn(crate::error::chain(&err));
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
            self.warn(format!("{}: skipped, not a regular file", path.display()));
            return WalkState::Continue;
        }
        let root = self
            .roots
            .iter()
            .find(|root| path.starts_with(root))
            .unwrap_or(&self.roots[0]);
        if self.options.follow_links
            && !first_sighting(&entry, root, &self.canonical_roots, &self.seen_files)
        {
            return WalkState::Continue;
        }
        let shown = report_path(root, path, self.roots.len() > 1, self.cwd.as_deref());
        self.scan_file(&entry, &shown, scanner);
        WalkState::Continue
    }

    /// Scans one regular file, reported as `shown`.
    fn scan_file(&self, entry: &ignore::DirEntry, shown: &str, scanner: &mut ChunkScanner<'_>) {
        let path = entry.path();
        // Capped per key already within the file: one file may hold millions of one key.
        let mut found = MatchSet::default();
        let mut allowed = 0;
        let no_follow = !self.options.follow_links && entry.depth() > 0;
        let scanned = open_regular(path, no_follow).and_then(|file| {
            contents::scan_file(
                file,
                shown,
                self.context.archives,
                scanner,
                &mut |m| {
                    if m.inline_allowed {
                        allowed += 1;
                    } else {
                        found.push(Match {
                            rule: m.rule,
                            location: crate::sources::location_of(&m, shown, None),
                            secret: m.secret,
                        });
                    }
                },
                &mut |text| self.warn(text),
            )
        });
        // The scanner counts the bytes: asking the file system (one more statx per file)
        // cost a tenth of a tree scan.
        let bytes = match scanned {
            Ok(bytes) => bytes,
            Err(err) => {
                if err.kind() != ErrorKind::NotFound {
                    self.result
                        .lock()
                        .expect("no panics while locked")
                        .unreadable += 1;
                }
                self.warn(format!("{}: {}", path.display(), crate::error::Chain(&err)));
                0
            }
        };
        self.progress.file_done(bytes);
        let mut result = self.result.lock().expect("no panics while locked");
        result.files += 1;
        result.bytes += bytes;
        result.inline_allowed += allowed;
        result.matches.merge(found);
    }
}
