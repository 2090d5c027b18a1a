//! `ferret stdin` and `ferret log`: scan streams, reporting each finding as it is seen.

use std::io;

use super::{LogArgs, ScanArgs, StdinArgs, scan_setup};
use crate::finding::{Finding, Match};
use crate::report::StreamingReport;
use crate::sources::stream::{scan_logs, scan_stream};

pub fn run_stdin(args: StdinArgs) -> anyhow::Result<u8> {
    let name = args.name.clone();
    run_streaming(&args.scan, |matcher, on_match| {
        scan_stream(matcher, &name, io::stdin().lock(), on_match)
    })
}

pub fn run_log(args: LogArgs) -> anyhow::Result<u8> {
    for file in &args.files {
        if file.is_dir() || !file.exists() {
            anyhow::bail!("{}: not a readable file", file.display());
        }
    }
    run_streaming(&args.scan, |matcher, on_match| {
        scan_logs(matcher, &args.files, args.follow, on_match)
    })
}

/// Reports each match as the source yields it, after suppression.
fn run_streaming(
    args: &ScanArgs,
    scan: impl FnOnce(
        &crate::matcher::Matcher,
        &mut dyn FnMut(Match) -> io::Result<()>,
    ) -> io::Result<usize>,
) -> anyhow::Result<u8> {
    let mut setup = scan_setup::prepare(args, std::path::Path::new("."))?;
    // A stream's report grows finding by finding (`log --follow` never ends): in place at once.
    setup.output.publish()?;
    let rules = setup.matcher.rules();
    let mut report = StreamingReport::new(setup.format, setup.options, &mut setup.output);
    let mut reported: Vec<Finding> = Vec::new();
    let suppressions = &setup.suppressions;
    let key_actions = &mut setup.key_actions;
    scan(&setup.matcher, &mut |m: Match| {
        let mut finding = Finding::new(&rules[m.rule], m.secret, vec![m.location]);
        if suppressions.suppresses_secret(&finding)
            || suppressions.suppresses_path(&finding.locations[0].path)
        {
            return Ok(());
        }
        key_actions.apply(std::slice::from_mut(&mut finding), rules);
        report.push(finding.clone())?;
        reported.push(finding);
        Ok(())
    })?;
    report.finish(rules)?;
    Ok(scan_setup::exit_code(&reported, setup.fail_on))
}
