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
use super::scan_setup::{self, ScanSetup};
use super::{CiArgs, CiGithubArgs, CiMode, CiProvider};
use crate::ci::github::{Decision, ScanPlan, decide};
use crate::finding::Finding;
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
    refuse_a_shallow_full_scan(&args, &repo)?;
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
        annotate("warning", fallback)?;
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
            annotate("error", &crate::error::Chain(err.as_ref()).to_string())?;
            return Err(err);
        }
    };
    let scan = scan_plan(&repo, &setup, &args, &decision.plan)?;
    setup.pipeline.add_inline_allowed(scan.inline_allowed);
    let own = own_suppressions(&repo, &setup, &args, &decision, &scan)?;
    announce_silenced(&own.silenced, own.inline_unlisted, own.by)?;
    let mut findings = scan_setup::process_matches(&mut setup, scan.matches);
    scan.omitted.apply(setup.matcher.rules(), &mut findings);
    scan_setup::write_findings(&mut setup, &findings)?;
    setup.output.publish()?;
    write_ci_reports(&args, &setup, &findings, &decision, &own)?;
    Ok(scan_setup::exit_code(&setup))
}

/// An `::error`/`::warning` annotation for the run's page, on stderr.
fn annotate(level: &str, message: &str) -> std::io::Result<()> {
    write_command(
        &mut std::io::stderr(),
        level,
        &[("title", "ferret".to_string())],
        message,
    )
}

/// `--mode full` on a shallow clone would read part of the history and pass: refused, unless
/// `--allow-shallow`.
fn refuse_a_shallow_full_scan(args: &CiGithubArgs, repo: &gix::Repository) -> anyhow::Result<()> {
    if args.mode == CiMode::Full
        && !args.allow_shallow
        && let Some(shallow) = git::shallow_warning(repo)
    {
        let message =
            format!("--mode full on a shallow clone: {shallow} (or pass --allow-shallow)");
        annotate("error", &message)?;
        anyhow::bail!(message);
    }
    Ok(())
}

/// Scans what the event's plan names.
fn scan_plan(
    repo: &gix::Repository,
    setup: &ScanSetup,
    args: &CiGithubArgs,
    plan: &ScanPlan,
) -> anyhow::Result<GitScan> {
    let target = match plan {
        ScanPlan::Range { base, head } => Target::Range(format!("{base}..{head}")),
        ScanPlan::FullHistory => Target::History(GitOptions {
            threads: args.scan.threads.unwrap_or(0),
            max_object_size: args.scan.max_object_size.0,
            ..GitOptions::default()
        }),
        ScanPlan::Nothing => return Ok(GitScan::default()),
    };
    scan_repo(repo, setup, &args.scan, &target)
}

/// What the commits of a range suppress themselves (their own `.ferretignore`, `.ferret.toml`
/// and `ferret:allow` lines), to show a reviewer.
struct OwnSuppressions {
    silenced: Vec<Silenced>,
    /// `ferret:allow` lines past those listed.
    inline_unlisted: usize,
    /// Who suppressed: "this pull request" or "these commits".
    by: &'static str,
}

fn own_suppressions(
    repo: &gix::Repository,
    setup: &ScanSetup,
    args: &CiGithubArgs,
    decision: &Decision,
    scan: &GitScan,
) -> anyhow::Result<OwnSuppressions> {
    // A push's range is commits, not a pull request: say which it is.
    let by = if decision.reason.starts_with("pull_request") {
        "this pull request"
    } else {
        "these commits"
    };
    let ScanPlan::Range { base, .. } = &decision.plan else {
        return Ok(OwnSuppressions {
            silenced: Vec::new(),
            inline_unlisted: 0,
            by,
        });
    };
    let rules = setup.matcher.rules();
    let mut silenced = silenced_by_pull_request(
        repo,
        *base,
        &args.scan,
        rules,
        &scan.matches,
        &setup.pipeline.suppressions,
    )?;
    // In a range every line scanned is one the commits add: each `ferret:allow` is theirs,
    // and each is listed (the first `ALLOWED_LISTED`; the rest counted).
    silenced.extend(scan.inline_allowed_listed.iter().map(|m| Silenced {
        path: m.location.path.clone(),
        line: m.location.line,
        rule: rules[m.rule].id.clone(),
        reason: "ferret:allow on the line",
    }));
    Ok(OwnSuppressions {
        silenced,
        inline_unlisted: scan.inline_allowed - scan.inline_allowed_listed.len(),
        by,
    })
}

/// The `--sarif` file and the step summary.
fn write_ci_reports(
    args: &CiGithubArgs,
    setup: &ScanSetup,
    findings: &[Finding],
    decision: &Decision,
    own: &OwnSuppressions,
) -> anyhow::Result<()> {
    if let Some(path) = &args.sarif {
        let mut out = ReportOutput::file(path, setup.options.show_secrets)?;
        let rules = setup.matcher.rules();
        let warnings = super::warnings_so_far();
        write_report(
            Format::Sarif,
            findings,
            rules,
            &setup.options,
            &warnings,
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
            write_step_summary(findings, &scanned, &options, out)?;
            if suppressed.total() > 0 {
                writeln!(out, "\nSuppressed: {suppressed}.")?;
            }
            write_silenced(&own.silenced, own.inline_unlisted, own.by, out)
        })?;
    }
    Ok(())
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
