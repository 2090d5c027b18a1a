//! `ferret stdin` and `ferret log`: scan streams, reporting each finding as it is seen.

use std::io;

use super::{LogArgs, ScanArgs, StdinArgs, scan_setup};
use crate::finding::Match;
use crate::matcher::Matcher;
use crate::report::StreamingReport;
use crate::sources::contents::ArchiveLimits;
use crate::sources::stream::{scan_input, scan_logs};

pub fn run_stdin(args: StdinArgs) -> anyhow::Result<u8> {
    let name = args.name.clone();
    let format = scan_setup::format_of(&args.scan);
    run_streaming(&args.scan, |matcher, limits, on_match| {
        let mut warn = |text: String| scan_setup::warn_in(format, &text);
        let input = io::stdin().lock();
        scan_input(matcher, &name, limits, input, on_match, &mut warn)
    })
}

pub fn run_log(args: LogArgs) -> anyhow::Result<u8> {
    for file in &args.files {
        if file.is_dir() || !file.exists() {
            anyhow::bail!("{}: not a readable file", file.display());
        }
    }
    let format = scan_setup::format_of(&args.scan);
    run_streaming(&args.scan, |matcher, limits, on_match| {
        let mut warn = |text: String| scan_setup::warn_in(format, &text);
        scan_logs(
            matcher,
            limits,
            &args.files,
            args.follow,
            on_match,
            &mut warn,
        )
    })
}

/// Reports each match as the source yields it, after suppression.
fn run_streaming(
    args: &ScanArgs,
    scan: impl FnOnce(
        &Matcher,
        &ArchiveLimits,
        &mut dyn FnMut(Match) -> io::Result<()>,
    ) -> io::Result<usize>,
) -> anyhow::Result<u8> {
    let mut setup = scan_setup::prepare(args, std::path::Path::new("."))?;
    // A stream verifies key by key, between lines of its report: no bar.
    setup
        .verify_progress
        .set_draw_target(indicatif::ProgressDrawTarget::hidden());
    // A stream's report grows finding by finding (`log --follow` never ends): in place at once.
    setup.output.publish()?;
    let rules = setup.matcher.rules();
    let mut report = StreamingReport::new(setup.format, setup.options, &mut setup.output);
    let pipeline = &mut setup.pipeline;
    let allowed = scan(&setup.matcher, &setup.archives, &mut |m: Match| {
        if let Some(finding) = pipeline.process_one(rules, m) {
            report.push(finding)?;
        }
        Ok(())
    })?;
    // Told before the report ends, so a SARIF document written at the end carries it.
    setup.pipeline.tell_unanswered();
    report.finish(rules, &super::warnings_so_far())?;
    setup.pipeline.add_inline_allowed(allowed);
    Ok(scan_setup::exit_code(&setup))
}
