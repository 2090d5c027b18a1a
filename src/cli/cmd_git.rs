//! `ferret git`: scan a repository's history, a commit range, or the staged change.

use super::scan_setup::{self, ScanSetup};
use super::{EXIT_FINDINGS, GitArgs, ScanArgs};
use crate::report::{Format, write_blocked_commit_hint};
use crate::sources::git::{self, GitOptions, GitScan, Target};

pub fn run(args: GitArgs) -> anyhow::Result<u8> {
    let target = if args.staged {
        Target::Staged
    } else if let Some(range) = &args.range {
        Target::Range(range.clone())
    } else {
        Target::History(GitOptions {
            unreachable: args.unreachable,
            threads: args.scan.threads.unwrap_or(0),
            max_object_size: args.scan.max_object_size.0,
            ..GitOptions::default()
        })
    };
    let repo = git::open(&args.repo)?;
    let mut setup = scan_setup::prepare(&args.scan, &git::config_root(&repo))?;
    let scan = scan_repo(&repo, &setup, &args.scan, &target)?;
    setup.pipeline.add_inline_allowed(scan.inline_allowed);
    let mut findings = scan_setup::process_matches(&mut setup, scan.matches);
    scan.omitted.apply(setup.matcher.rules(), &mut findings);
    scan_setup::write_findings(&mut setup, &findings)?;
    let code = scan_setup::exit_code(&setup);
    // A pre-commit hook's report ends with what to do about the blocked commit.
    if args.staged && code == EXIT_FINDINGS && setup.format == Format::Text {
        write_blocked_commit_hint(&setup.options, &mut setup.output)?;
    }
    setup.output.publish()?;
    Ok(code)
}

/// Scans `target` with a spinner and warnings on stderr, saying so when there was nothing to
/// scan.
pub(super) fn scan_repo(
    repo: &gix::Repository,
    setup: &ScanSetup,
    args: &ScanArgs,
    target: &Target,
) -> anyhow::Result<GitScan> {
    // The staged change is the index against HEAD: how deep history goes does not matter.
    let shallow = (!matches!(target, Target::Staged))
        .then(|| git::shallow_warning(repo))
        .flatten();
    if let Some(shallow) = shallow {
        scan_setup::warn_in(setup.format, &shallow);
    }
    if let Target::Range(_) = target
        && let Some(partial) = git::partial_warning(repo)
    {
        scan_setup::warn_in(setup.format, &partial);
    }
    // A history scan counts objects of the pack's total, with an ETA; the others spin.
    let (progress, target) = match target {
        Target::History(options) => {
            let bar = scan_setup::counter(args, "objects");
            let options = GitOptions {
                progress: scan_setup::counting(&bar),
                ..options.clone()
            };
            (bar, Target::History(options))
        }
        other => (
            scan_setup::spinner(args, "{spinner} scanning git objects ({elapsed})"),
            other.clone(),
        ),
    };
    // In `--format github` (the default of `ci github`) each warning is also an annotation.
    let format = setup.format;
    let on_warning = |warning: &crate::sources::Warning| {
        progress.suspend(|| scan_setup::warn_in(format, warning))
    };
    let scan = git::scan(repo, &target, &setup.scan_context(&on_warning))?;
    progress.finish_and_clear();
    if let Some(reason) = &scan.nothing_to_scan {
        eprintln!("ferret: {reason}");
    }
    Ok(scan)
}
