//! Report files that appear whole: a report is written beside its place and renamed over it
//! once complete, so a run killed half way (an out-of-memory kill, a cancelled CI job) leaves
//! the previous report as it was, never a torn one that reads as "fewer findings".
//!
//! Only a regular file (or a path where nothing is yet) is replaced that way; anything else
//! (`/dev/stdout`, a named pipe, a symlink) is written in place, as given, unless the report
//! holds full keys (`--show-secrets`): those are refused.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where a report goes: standard output or a file.
pub struct ReportOutput {
    writer: BufWriter<Box<dyn Write>>,
    /// The file written beside its destination, until it is published.
    pending: Option<Pending>,
}

struct Pending {
    file: tempfile::TempPath,
    destination: PathBuf,
}

impl ReportOutput {
    pub fn stdout() -> Self {
        ReportOutput {
            writer: BufWriter::new(Box::new(io::stdout())),
            pending: None,
        }
    }

    /// A report to `path`, published by [`ReportOutput::publish`]; one that `holds_secrets`
    /// (`--show-secrets`) is its owner's only, also when it replaces a report others could read.
    pub fn file(path: &Path, holds_secrets: bool) -> anyhow::Result<Self> {
        let cannot = || format!("cannot create {}", path.display());
        let replaceable = match std::fs::symlink_metadata(path) {
            Ok(metadata) => metadata.file_type().is_file().then_some(Some(metadata)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Some(None),
            Err(err) => return Err(err).with_context(cannot),
        };
        let Some(existing) = replaceable else {
            // Full keys never go into a pipe, a device or through a link: whoever made it (in a
            // shared /tmp, another user) would read them.
            if holds_secrets {
                anyhow::bail!(
                    "{} is not a regular file (a symbolic link, a named pipe, a device): a report                      with full keys (--show-secrets) is written only to a regular file or a new                      one, or to standard output without -o",
                    path.display()
                );
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .with_context(cannot)?;
            return Ok(ReportOutput {
                writer: BufWriter::new(Box::new(file)),
                pending: None,
            });
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let (file, temporary) = tempfile::Builder::new()
            .prefix(".ferret-report-")
            .tempfile_in(dir)
            .with_context(cannot)?
            .into_parts();
        // A report that replaces another keeps its permissions; a new one is its owner's only
        // (it may hold full keys with --show-secrets).
        if let Some(metadata) = existing.filter(|_| !holds_secrets) {
            file.set_permissions(metadata.permissions())
                .with_context(cannot)?;
        }
        Ok(ReportOutput {
            writer: BufWriter::new(Box::new(file)),
            pending: Some(Pending {
                file: temporary,
                destination: path.to_path_buf(),
            }),
        })
    }

    /// Puts the report in its place now; what is written after goes straight into it (a stream's
    /// report, which grows finding by finding and has no end to wait for).
    pub fn publish(&mut self) -> anyhow::Result<()> {
        self.writer.flush()?;
        if let Some(Pending { file, destination }) = self.pending.take() {
            // Written through before it is renamed in: after a crash the name holds the old
            // report or the whole new one.
            File::open(&file)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot write {}", destination.display()))?;
            file.persist(&destination)
                .with_context(|| format!("cannot write {}", destination.display()))?;
        }
        Ok(())
    }
}

impl Write for ReportOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `bytes` to `path` the same way: whole or not at all.
pub fn write_whole(path: &Path, bytes: &[u8], holds_secrets: bool) -> anyhow::Result<()> {
    let mut output = ReportOutput::file(path, holds_secrets)?;
    output
        .write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    output.publish()
}
