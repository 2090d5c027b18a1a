//! `ferret dir`: scan files on disk.

use std::path::PathBuf;

use indicatif::ProgressBar;

use super::{DirArgs, EXIT_ERROR, scan_setup};
use crate::sources::dir::{DirOptions, Progress, scan_dirs};

/// A spinner counting files and bytes.
struct Spinner(ProgressBar);

impl Progress for Spinner {
    fn file_done(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

pub fn run(args: DirArgs) -> anyhow::Result<u8> {
    for path in &args.paths {
        if std::fs::symlink_metadata(path).is_err() {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    let format = scan_setup::format_of(&args.scan);
    // A path named on the command line that cannot be read is warned about and left out of the
    // walk; the run then exits 2 whatever it found elsewhere.
    let (roots, unreadable): (Vec<PathBuf>, Vec<String>) = partition_readable(&args.paths);
    for message in &unreadable {
        scan_setup::warn_in(format, message);
    }
    let root = scan_setup::config_root(&args.paths);
    let mut setup = scan_setup::prepare(&args.scan, root)?;
    let cwd = std::env::current_dir().ok();
    let base = crate::sources::dir::report_path(root, root, false, cwd.as_deref());
    setup.pipeline.suppressions.set_base(base);
    let options = DirOptions {
        gitignore: args.gitignore,
        follow_links: args.follow_links,
        threads: args.scan.threads.unwrap_or(0),
    };
    let progress = Spinner(scan_setup::spinner(
        &args.scan,
        "{spinner} scanning {bytes} ({bytes_per_sec})",
    ));
    let on_warning = |warning: &crate::sources::Warning| {
        progress.0.suspend(|| scan_setup::warn_in(format, warning))
    };
    let scan = scan_dirs(
        &roots,
        &options,
        &setup.scan_context(&on_warning),
        &progress,
    );
    progress.0.finish_and_clear();
    setup.pipeline.add_inline_allowed(scan.inline_allowed);
    let (matches, omitted) = scan.matches.into_parts();
    let mut findings = scan_setup::process_matches(&mut setup, matches);
    omitted.apply(setup.matcher.rules(), &mut findings);
    scan_setup::write_findings(&mut setup, &findings)?;
    setup.output.publish()?;
    let code = scan_setup::exit_code(&setup);
    if scan.unreadable > 0 {
        let gate = if args.fail_on_unreadable {
            "exit code 2 (--fail-on-unreadable)"
        } else {
            "--fail-on-unreadable makes that exit code 2"
        };
        scan_setup::warn_in(
            format,
            &format_args!(
                "{} file(s) or director(ies) under the scanned paths could not be read: the \
                 scan is incomplete; {gate}",
                scan.unreadable
            ),
        );
    }
    if !unreadable.is_empty() || (args.fail_on_unreadable && scan.unreadable > 0) {
        return Ok(EXIT_ERROR);
    }
    Ok(code)
}

/// The named paths that can be read, and a warning for each one that cannot (a file that will
/// not open, a directory that will not list, a FIFO or device, a broken symlink).
fn partition_readable(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut readable = Vec::new();
    let mut unreadable = Vec::new();
    for path in paths {
        let checked = std::fs::metadata(path).and_then(|metadata| {
            if metadata.is_dir() {
                std::fs::read_dir(path).map(drop)
            } else if metadata.is_file() {
                std::fs::File::open(path).map(drop)
            } else {
                Err(std::io::Error::other("not a regular file or directory"))
            }
        });
        match checked {
            Ok(()) => readable.push(path.clone()),
            Err(err) => unreadable.push(format!(
                "{}: cannot read ({err}); named on the command line, so the exit code is 2",
                path.display()
            )),
        }
    }
    (readable, unreadable)
}
