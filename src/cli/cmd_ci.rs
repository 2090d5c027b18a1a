//! `ferret ci github`: the scan a GitHub Actions job runs. The event decides what is scanned
//! ([`crate::ci::github`]); the scan is `ferret git`'s; findings become annotations (the default
//! report format here), a Markdown table in the step summary, and optionally a SARIF file.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::ci_suppressions::{Silenced, silenced_by_pull_request};
use super::cmd_git::scan_repo;
use super::output::ReportOutput;
use super::{CiArgs, CiGithubArgs, CiMode, CiProvider, scan_setup};
use crate::ci::github::{Decision, ScanPlan, decide};
use crate::report::{Format, write_command, write_report, write_step_summary};
use crate::sources::git::{self, GitOptions, GitScan, Target};

pub fn run(args: CiArgs) -> anyhow::Result<u8> {
    match args.provider {
        CiProvider::Github(args) => github(args),
    }
}

/// A variable of the Actions environment; unset and empty are the same.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn github(mut args: CiGithubArgs) -> anyhow::Result<u8> {
    let checkout = args
        .repo
        .clone()
        .or_else(|| env("GITHUB_WORKSPACE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let repo = git::open(&checkout)?;
    if args.mode == CiMode::Full
        && !args.allow_shallow
        && let Some(shallow) = git::shallow_warning(&repo)
    {
        let message =
            format!("--mode full on a shallow clone: {shallow} (or pass --allow-shallow)");
        write_command(
            &mut std::io::stderr(),
            "error",
            &[("title", "ferret".to_string())],
            &message,
        )?;
        anyhow::bail!(message);
    }
    let decision = match args.mode {
        CiMode::Full => Decision {
            plan: ScanPlan::FullHistory,
            reason: "--mode full".to_string(),
            fallback: None,
        },
        CiMode::Auto => event_decision(&repo)?,
    };
    if let Some(fallback) = &decision.fallback {
        // The runner reads workflow commands on stderr too: this one shows on the run's page.
        write_command(
            &mut std::io::stderr(),
            "warning",
            &[("title", "ferret".to_string())],
            fallback,
        )?;
    }
    eprintln!(
        "ferret: ci: scanning {} ({})",
        decision.plan, decision.reason
    );

    // Annotations on stdout unless a format (or an output file implying one) was asked for.
    let implied = args.scan.output.as_deref().and_then(Format::from_extension);
    if args.scan.format.is_none() && implied.is_none() {
        args.scan.format = Some(Format::Github);
    }
    // A malformed `.ferret.toml` (the head's, in a pull request) fails the job where it shows.
    let mut setup = match scan_setup::prepare(&args.scan, &git::config_root(&repo)) {
        Ok(setup) => setup,
        Err(err) => {
            let message = crate::error::Chain(err.as_ref()).to_string();
            write_command(
                &mut std::io::stderr(),
                "error",
                &[("title", "ferret".to_string())],
                &message,
            )?;
            return Err(err);
        }
    };
    let scan = match &decision.plan {
        ScanPlan::Range { base, head } => {
            let target = Target::Range(format!("{base}..{head}"));
            scan_repo(&repo, &setup, &args.scan, &target)?
        }
        ScanPlan::FullHistory => {
            let target = Target::History(GitOptions {
                threads: args.scan.threads.unwrap_or(0),
                max_object_size: args.scan.max_object_size.0,
                ..GitOptions::default()
            });
            scan_repo(&repo, &setup, &args.scan, &target)?
        }
        ScanPlan::Nothing => GitScan::default(),
    };
    setup.pipeline.add_inline_allowed(scan.inline_allowed);
    let silenced = match &decision.plan {
        ScanPlan::Range { base, .. } => silenced_by_pull_request(
            &repo,
            *base,
            &args.scan,
            setup.matcher.rules(),
            &scan.matches,
            &setup.pipeline.suppressions,
        )?,
        _ => Vec::new(),
    };
    // In a range every line scanned is one the commits add: each `ferret:allow` is theirs,
    // and each is listed (the first `ALLOWED_LISTED`; the rest counted).
    let (silenced, inline_added) = match decision.plan {
        ScanPlan::Range { .. } => {
            let rules = setup.matcher.rules();
            let allowed = scan.inline_allowed_listed.iter().map(|m| Silenced {
                path: m.location.path.clone(),
                line: m.location.line,
                rule: rules[m.rule].id.clone(),
                reason: "ferret:allow on the line",
            });
            let unlisted = scan.inline_allowed - scan.inline_allowed_listed.len();
            (silenced.into_iter().chain(allowed).collect(), unlisted)
        }
        _ => (silenced, 0),
    };
    // A push's range is commits, not a pull request: say which it is.
    let by = if decision.reason.starts_with("pull_request") {
        "this pull request"
    } else {
        "these commits"
    };
    announce_silenced(&silenced, inline_added, by)?;
    let mut findings = scan_setup::process_matches(&mut setup, scan.matches);
    scan.omitted.apply(setup.matcher.rules(), &mut findings);
    scan_setup::write_findings(&mut setup, &findings)?;
    setup.output.publish()?;
    if let Some(path) = &args.sarif {
        let mut out = ReportOutput::file(path, setup.options.show_secrets)?;
        let rules = setup.matcher.rules();
        write_report(
            Format::Sarif,
            &findings,
            rules,
            &setup.options,
            &super::warnings_so_far(),
            &mut out,
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        out.publish()?;
    }
    let summary = args
        .summary
        .clone()
        .or_else(|| env("GITHUB_STEP_SUMMARY").map(PathBuf::from));
    if let Some(path) = summary {
        let scanned = format!("{} ({})", decision.plan, decision.reason);
        let suppressed = setup.pipeline.suppressed().clone();
        append_summary(&path, |out| {
            // The summary is Markdown for people: never a full key, whatever --show-secrets says.
            let options = crate::report::ReportOptions::default();
            write_step_summary(&findings, &scanned, &options, out)?;
            if suppressed.total() > 0 {
                writeln!(out, "\nSuppressed: {suppressed}.")?;
            }
            write_silenced(&silenced, inline_added, by, out)
        })?;
    }
    Ok(scan_setup::exit_code(&setup))
}

/// One notice annotation per finding the commits' own suppressions drop (on stderr, which
/// the runner reads for workflow commands too, so it shows whatever the report format).
fn announce_silenced(silenced: &[Silenced], inline_added: usize, by: &str) -> anyhow::Result<()> {
    let mut err = std::io::stderr();
    for item in silenced {
        write_command(
            &mut err,
            "notice",
            &[
                ("file", item.path.clone()),
                ("line", item.line.to_string()),
                ("title", "ferret".to_string()),
            ],
            &format!("suppressed by {by}: {item}"),
        )?;
    }
    if inline_added > 0 {
        write_command(
            &mut err,
            "notice",
            &[("title", "ferret".to_string())],
            &format!(
                "suppressed by {by}: {inline_added} more key(s) on lines they add \
                 marked ferret:allow"
            ),
        )?;
    }
    Ok(())
}

/// The step summary's list of what the commits' own suppressions drop.
fn write_silenced(
    silenced: &[Silenced],
    inline_added: usize,
    by: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if silenced.is_empty() && inline_added == 0 {
        return Ok(());
    }
    writeln!(out, "\nSuppressed by {by}:\n")?;
    for item in silenced {
        // Markdown for people; a path is shown as code so it cannot format the page.
        writeln!(
            out,
            "- `{}:{}`, {}, {}",
            item.path.replace('`', "'"),
            item.line,
            item.rule,
            item.reason
        )?;
    }
    if inline_added > 0 {
        writeln!(
            out,
            "- {inline_added} more key(s) on added lines marked `ferret:allow`"
        )?;
    }
    Ok(())
}

/// The decision for the event in `GITHUB_EVENT_NAME` and `GITHUB_EVENT_PATH`.
fn event_decision(repo: &gix::Repository) -> anyhow::Result<Decision> {
    let event = env("GITHUB_EVENT_NAME").context(
        "GITHUB_EVENT_NAME is not set: `ferret ci github` runs in a GitHub Actions job (use \
         --mode full, or `ferret git`, elsewhere)",
    )?;
    let path = env("GITHUB_EVENT_PATH").context("GITHUB_EVENT_PATH is not set")?;
    let payload =
        std::fs::read(&path).with_context(|| format!("cannot read the event payload {path}"))?;
    Ok(decide(repo, &event, &payload)?)
}

/// Appends to the step summary file (each step of a job appends its own part).
fn append_summary(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the step summary {}", path.display()))?;
    let mut out = BufWriter::new(file);
    write(&mut out).with_context(|| format!("cannot write the step summary {}", path.display()))
}
