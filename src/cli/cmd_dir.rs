//! `ferret dir`: scan files on disk.

use indicatif::ProgressBar;

use super::{DirArgs, scan_setup, warn};
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
    let root = scan_setup::config_root(&args.paths);
    let mut setup = scan_setup::prepare(&args.scan, root)?;
    let options = DirOptions {
        gitignore: args.gitignore,
        follow_links: args.follow_links,
        threads: args.scan.threads.unwrap_or(0),
    };
    let progress = Spinner(scan_setup::spinner(
        &args.scan,
        "{spinner} scanning {bytes} ({bytes_per_sec})",
    ));
    let on_warning = |warning: &crate::sources::Warning| progress.0.suspend(|| warn(warning));
    let scan = scan_dirs(
        &args.paths,
        &options,
        &setup.scan_context(&on_warning),
        &progress,
    );
    progress.0.finish_and_clear();
    let (matches, omitted) = scan.matches.into_parts();
    let mut findings = scan_setup::process_matches(&mut setup, matches);
    omitted.apply(setup.matcher.rules(), &mut findings);
    scan_setup::write_findings(&mut setup, &findings)?;
    setup.output.publish()?;
    Ok(scan_setup::exit_code(&setup))
}
