//! `ferret stdin` and `ferret log`: scan streams, reporting each finding as it is seen.

use std::io;

use super::{LogArgs, ScanArgs, StdinArgs, scan_setup};
use crate::finding::Match;
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
    let pipeline = &mut setup.pipeline;
    scan(&setup.matcher, &mut |m: Match| {
        if let Some(finding) = pipeline.process_one(rules, m) {
            report.push(finding)?;
        }
        Ok(())
    })?;
    report.finish(rules)?;
    Ok(scan_setup::exit_code(&setup))
}
