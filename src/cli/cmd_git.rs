//! `ferret git`: scan a repository's history, a commit range, or the staged change.

use super::{GitArgs, scan_setup, warn};
use crate::sources::git::{self, GitOptions};

pub fn run(args: GitArgs) -> anyhow::Result<u8> {
    let repo = git::open(&args.repo)?;
    let mut setup = scan_setup::prepare(&args.scan, &git::config_root(&repo))?;
    let spinner = scan_setup::spinner(&args.scan, "{spinner} scanning git objects ({elapsed})");
    let on_warning = |warning: &crate::sources::Warning| spinner.suspend(|| warn(warning));
    let scan = if args.staged {
        git::scan_staged(&repo, &setup.matcher, &on_warning)?
    } else if let Some(range) = &args.range {
        git::scan_range(&repo, &setup.matcher, range, &on_warning)?
    } else {
        let options = GitOptions {
            unreachable: args.unreachable,
            threads: args.scan.threads.unwrap_or(0),
            ..GitOptions::default()
        };
        git::scan_history(&repo, &setup.matcher, &options, &on_warning)?
    };
    spinner.finish_and_clear();
    if let Some(reason) = &scan.nothing_to_scan {
        eprintln!("ferret: {reason}");
    }
    scan_setup::report_matches(&mut setup, scan.matches)
}
