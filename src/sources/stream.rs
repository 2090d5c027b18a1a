//! `ferret stdin` and `ferret log`: line-oriented streams, scanned as they arrive so that each
//! finding is reported the moment its line is complete. `--follow` keeps reading files as they
//! grow, like `tail -F`: a file truncated in place (rotation by copy and truncate) is read again
//! from its start, and a path that names a new file (rotation by rename) is reopened.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use super::contents::{self, ArchiveLimits};
use crate::finding::Match;
use crate::matcher::{ChunkScanner, Matcher};

/// How long `--follow` waits before looking for new data again.
pub const FOLLOW_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Reads `input` to its end, calling `on_match` as each match's line completes. Matches on lines
/// marked `ferret:allow` are counted, not reported; the count is returned.
pub fn scan_stream(
    matcher: &Matcher,
    name: &str,
    mut input: impl Read,
    on_match: &mut dyn FnMut(Match) -> io::Result<()>,
) -> io::Result<usize> {
    let mut scanner = ChunkScanner::new(matcher);
    let mut buf = vec![0u8; 64 * 1024];
    let mut sink = Sink::new(name, on_match);
    loop {
        let read = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        scanner.feed(&buf[..read], |m| sink.push(m));
        sink.take_error()?;
    }
    scanner.finish(|m| sink.push(m));
    sink.take_error()?;
    Ok(sink.allowed)
}

/// Reads `input` like [`scan_stream`], except that a container `dir` would open (gzip, zip,
/// tar, SQLite, told by its first bytes: `cat bundle.zip | ferret stdin`) is read whole, up to
/// [`ArchiveLimits::max_buffered`] bytes, and opened within `limits`; `warn` hears about what
/// could not be opened. A container is not a stream: its findings come when it has been read.
pub fn scan_input(
    matcher: &Matcher,
    name: &str,
    limits: &ArchiveLimits,
    mut input: impl Read,
    on_match: &mut dyn FnMut(Match) -> io::Result<()>,
    warn: &mut dyn FnMut(String),
) -> io::Result<usize> {
    let head = first_bytes(&mut input)?;
    if limits.max_depth == 0 || !contents::is_container(&head) {
        return scan_stream(matcher, name, Cursor::new(head).chain(input), on_match);
    }
    let mut data = head;
    let room = (limits.max_buffered + 1).saturating_sub(data.len() as u64);
    (&mut input).take(room).read_to_end(&mut data)?;
    if data.len() as u64 > limits.max_buffered {
        warn(format!(
            "{name}: an archive larger than {} bytes cannot be held to be opened: scanned as \
             raw bytes (unpack it first)",
            limits.max_buffered
        ));
        return scan_stream(matcher, name, Cursor::new(data).chain(input), on_match);
    }
    let mut sink = Sink::new(name, on_match);
    for m in contents::locate_in_blob(matcher, &data, &name, limits, warn) {
        sink.push(m);
    }
    sink.take_error()?;
    Ok(sink.allowed)
}

/// What the first reads of a stream bring, enough to tell a container by its magic: reading
/// until [`contents::SNIFF_LEN`] bytes would hold back a short line of an open stream (a tar,
/// whose magic sits at 257, comes through a pipe in larger pieces).
fn first_bytes(input: &mut impl Read) -> io::Result<Vec<u8>> {
    const MAGIC_LEN: usize = 4;
    let mut head = vec![0u8; contents::SNIFF_LEN];
    let mut filled = 0;
    while filled < MAGIC_LEN {
        match input.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// Turns located matches into [`Match`]es for one input, remembering the first write error.
struct Sink<'a> {
    name: String,
    on_match: &'a mut dyn FnMut(Match) -> io::Result<()>,
    error: Option<io::Error>,
    allowed: usize,
}

impl<'a> Sink<'a> {
    fn new(name: &str, on_match: &'a mut dyn FnMut(Match) -> io::Result<()>) -> Self {
        Sink {
            name: name.to_string(),
            on_match,
            error: None,
            allowed: 0,
        }
    }

    fn push(&mut self, m: crate::matcher::LocatedMatch) {
        if m.inline_allowed {
            self.allowed += 1;
            return;
        }
        if self.error.is_some() {
            return;
        }
        let found = Match {
            rule: m.rule,
            location: crate::sources::location_of(&m, &self.name, None),
            secret: m.secret,
        };
        if let Err(err) = (self.on_match)(found) {
            self.error = Some(err);
        }
    }

    fn take_error(&mut self) -> io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}

/// One followed log file.
struct Tail<'m> {
    path: PathBuf,
    name: String,
    file: File,
    position: u64,
    scanner: ChunkScanner<'m>,
}

/// The new file at a followed path, when the path now names another file than the one open
/// (log rotation by rename and re-create).
fn replaced(tail: &Tail) -> Option<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let open = tail.file.metadata().ok()?;
        let at_path = std::fs::metadata(&tail.path).ok()?;
        if at_path.is_file() && (open.dev(), open.ino()) != (at_path.dev(), at_path.ino()) {
            return File::open(&tail.path).ok();
        }
    }
    #[cfg(not(unix))]
    let _ = tail;
    None
}

/// An I/O error of the log file at `path`: the path, with the error as its source (and its kind,
/// so that a closed pipe is still told apart).
fn in_file(path: &std::path::Path, source: io::Error) -> io::Error {
    #[derive(Debug, thiserror::Error)]
    #[error("{}", path.display())]
    struct InFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    }
    let kind = source.kind();
    io::Error::new(
        kind,
        InFile {
            path: path.to_path_buf(),
            source,
        },
    )
}

/// Whether a regular file starts a container; the file is left at its start.
fn is_container_file(file: &mut File) -> io::Result<bool> {
    if !file.metadata()?.is_file() {
        // A pipe (`<(cmd)`) cannot be read twice: it is a stream.
        return Ok(false);
    }
    let mut head = vec![0u8; contents::SNIFF_LEN];
    let read = contents::read_up_to(file, &mut head)?;
    file.rewind()?;
    Ok(contents::is_container(&head[..read]))
}

/// One container file, opened as `dir` opens it; returns the `ferret:allow` count.
fn scan_container(
    matcher: &Matcher,
    limits: &ArchiveLimits,
    file: File,
    name: &str,
    on_match: &mut dyn FnMut(Match) -> io::Result<()>,
    warn: &mut dyn FnMut(String),
) -> io::Result<usize> {
    let mut scanner = ChunkScanner::new(matcher);
    let mut sink = Sink::new(name, on_match);
    contents::scan_file(
        file,
        name,
        limits,
        &mut scanner,
        &mut |m| sink.push(m),
        warn,
    )?;
    sink.take_error()?;
    Ok(sink.allowed)
}

/// Scans log files; with `follow`, never returns unless an error occurs, reading new data as
/// the files grow.
///
/// A file that is a container (a rotated `app.log.1.gz`, told by its first bytes) is read and
/// opened once, within `limits`, and not followed: it does not grow.
pub fn scan_logs(
    matcher: &Matcher,
    limits: &ArchiveLimits,
    paths: &[PathBuf],
    follow: bool,
    on_match: &mut dyn FnMut(Match) -> io::Result<()>,
    warn: &mut dyn FnMut(String),
) -> io::Result<usize> {
    let mut tails = Vec::new();
    let mut allowed = 0;
    for path in paths {
        let mut file = File::open(path).map_err(|err| in_file(path, err))?;
        let name = super::display_path(path);
        if limits.max_depth > 0 && is_container_file(&mut file).map_err(|e| in_file(path, e))? {
            allowed += scan_container(matcher, limits, file, &name, on_match, warn)
                .map_err(|err| in_file(path, err))?;
            continue;
        }
        tails.push(Tail {
            path: path.clone(),
            name: super::display_path(path),
            file,
            position: 0,
            scanner: ChunkScanner::new(matcher),
        });
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut any_data = false;
        for tail in &mut tails {
            // A regular file shorter than what was read has been truncated: start it over.
            // (Pipes such as `<(cmd)` have no length and cannot seek.)
            let metadata = tail.file.metadata()?;
            if follow && metadata.is_file() && metadata.len() < tail.position {
                tail.file.seek(SeekFrom::Start(0))?;
                tail.position = 0;
                tail.scanner.reset();
            }
            let mut sink = Sink::new(&tail.name, on_match);
            loop {
                let read = match tail.file.read(&mut buf) {
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(in_file(&tail.path, err)),
                };
                if read == 0 {
                    break;
                }
                any_data = true;
                tail.position += read as u64;
                tail.scanner.feed(&buf[..read], |m| sink.push(m));
                sink.take_error()?;
            }
            if !follow {
                tail.scanner.finish(|m| sink.push(m));
                sink.take_error()?;
            } else if let Some(file) = replaced(tail) {
                // Rotation by rename: the old file is read to its end; go on with the new one.
                tail.scanner.finish(|m| sink.push(m));
                sink.take_error()?;
                tail.file = file;
                tail.position = 0;
                tail.scanner.reset();
                any_data = true;
            }
            allowed += sink.allowed;
        }
        if !follow {
            return Ok(allowed);
        }
        if !any_data {
            std::thread::sleep(FOLLOW_POLL_INTERVAL);
        }
    }
}
