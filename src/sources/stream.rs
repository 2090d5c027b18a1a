//! `ferret stdin` and `ferret log`: line-oriented streams, scanned as they arrive so that each
//! finding is reported the moment its line is complete. `--follow` keeps reading files as they
//! grow, like `tail -F`: a file truncated in place (rotation by copy and truncate) is read again
//! from its start, and a path that names a new file (rotation by rename) is reopened.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

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

/// Scans log files; with `follow`, never returns unless an error occurs, reading new data as
/// the files grow.
pub fn scan_logs(
    matcher: &Matcher,
    paths: &[PathBuf],
    follow: bool,
    on_match: &mut dyn FnMut(Match) -> io::Result<()>,
) -> io::Result<usize> {
    let mut tails = Vec::new();
    for path in paths {
        let file = File::open(path).map_err(|err| in_file(path, err))?;
        tails.push(Tail {
            path: path.clone(),
            name: super::display_path(path),
            file,
            position: 0,
            scanner: ChunkScanner::new(matcher),
        });
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut allowed = 0;
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
