//! `ferret github`: sweep an organization's repositories, report every finding (with its
//! repository and a link to the line), optionally one SARIF file per repository (uploaded to
//! its code scanning when asked), and a summary on stderr. Exit code 2 when a repository could
//! not be swept, since the sweep is then incomplete (the report still holds everything found).

use std::path::Path;

use anyhow::Context;

use super::output::write_whole;
use super::scan_setup::ScanSetup;
use super::{EXIT_ERROR, GithubArgs, scan_setup, warn};
use crate::error::Chain;
use crate::finding::Finding;
use crate::report::{Format, write_report};
use crate::sweep::{SweepOptions, SweepOutcome, Sweeper, Swept, Targets};

pub fn run(args: GithubArgs) -> anyhow::Result<u8> {
    if args.shard.is_some() && args.scan.revoke.revoke {
        // Shards on separate machines with separate ledgers would act on one key twice.
        anyhow::bail!(
            "--revoke does not run in a shard: verify in the shards (--verify, a JSONL report \
             with --show-secrets), merge their reports, and revoke once with `ferret revoke \
             --input merged.jsonl` (see examples/sweep-sharded.yml)"
        );
    }
    let mut setup = scan_setup::prepare(&args.scan, Path::new("."))?;
    let mut options = sweep_options(&args)?;
    let sweeper = Sweeper::new()?;
    // Repositories swept of those listed, with an ETA (the count is known once listed).
    let bar = scan_setup::counter(&args.scan, "repositories");
    options.progress = scan_setup::counting(&bar);
    let on_warning = |warning: &crate::sources::Warning| bar.suspend(|| warn(warning));
    let mut outcome = sweeper.sweep(&options, &setup.scan_context(&on_warning))?;
    bar.finish_and_clear();
    let matches = std::mem::take(&mut outcome.matches);
    let mut findings = scan_setup::process_matches(&mut setup, matches);
    outcome.omitted.apply(setup.matcher.rules(), &mut findings);
    scan_setup::write_findings(&mut setup, &findings)?;
    setup.output.publish()?;
    if let Some(dir) = &args.sarif_dir {
        let upload = args.upload_sarif.then_some(&sweeper);
        write_sarifs(dir, &setup, &findings, &outcome.swept, upload)?;
    }
    print_summary(&outcome, &findings, args.include_alerts);
    if !outcome.failures.is_empty() {
        return Ok(EXIT_ERROR);
    }
    Ok(scan_setup::exit_code(&setup))
}

/// What the arguments ask the sweep to do, with the default mirror cache and sweep state.
fn sweep_options(args: &GithubArgs) -> anyhow::Result<SweepOptions> {
    let cache = args
        .cache
        .clone()
        .or_else(|| crate::fs::cache_dir().map(|d| d.join("mirrors")))
        .context("no place for the mirrors: pass --cache DIR")?;
    let state = match &args.state {
        Some(path) => Some(path.clone()),
        None => crate::fs::state_dir().map(|d| d.join("sweep.sqlite")),
    };
    if args.since_last && state.is_none() {
        anyhow::bail!("--since-last needs the sweep state: pass --state FILE");
    }
    Ok(SweepOptions {
        targets: Targets {
            org: args.org.clone(),
            user: args.user.clone(),
            repos: args.repos.clone(),
        },
        include_forks: args.include_forks,
        include_archived: args.include_archived,
        exclude: args.exclude.clone(),
        cache,
        state,
        since_last: args.since_last,
        shard: args.shard,
        threads: args.scan.threads.unwrap_or(0),
        max_object_size: args.scan.max_object_size.0,
        include_alerts: args.include_alerts,
        git_base: std::env::var("FERRET_GITHUB_GIT_BASE")
            .ok()
            .filter(|b| !b.is_empty()),
        fetch_concurrency: args.fetch_concurrency,
        verify_all_refs: args.verify_all_refs,
        max_age: Some(args.max_age.0),
        progress: None,
    })
}

/// One SARIF file per swept repository in `dir`, each uploaded to the repository's code
/// scanning with `upload`.
fn write_sarifs(
    dir: &Path,
    setup: &ScanSetup,
    findings: &[Finding],
    swept: &[Swept],
    upload: Option<&Sweeper>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for swept in swept {
        let name = &swept.repo.full_name;
        let own = findings_of(findings, name);
        let path = dir.join(format!("{}.sarif", name.replace('/', "__")));
        let mut sarif = Vec::new();
        // The warnings about this repository (each names it first).
        let prefix = format!("{name}: ");
        let warnings: Vec<String> = super::warnings_so_far()
            .into_iter()
            .filter(|warning| warning.starts_with(&prefix))
            .collect();
        write_report(
            Format::Sarif,
            &own,
            setup.matcher.rules(),
            &setup.options,
            &warnings,
            &mut sarif,
        )?;
        write_whole(&path, &sarif, setup.options.show_secrets)?;
        let Some(sweeper) = upload else { continue };
        match &swept.head {
            Some((commit, git_ref)) => {
                if let Err(err) = sweeper.upload_sarif(name, commit, git_ref, &sarif, &|w| warn(w))
                {
                    warn(format_args!("{name}: SARIF not uploaded: {}", Chain(&err)));
                }
            }
            None => warn(format_args!(
                "{name}: SARIF not uploaded: its default branch is not in the mirror"
            )),
        }
    }
    Ok(())
}

/// What the sweep did, on stderr, and each repository that failed.
fn print_summary(outcome: &SweepOutcome, findings: &[Finding], include_alerts: bool) {
    eprintln!(
        "ferret: swept {} repositories ({} unchanged since the last sweep, {} of them not \
         fetched; {} failed; {} listing pages, {} not modified): scanned {} objects ({:.1} MB), \
         skipped {} blobs scanned before, re-checked {} that held secrets; {} findings, {} fixed \
         since the last sweep{}",
        outcome.swept.len(),
        outcome.unchanged,
        outcome.not_fetched,
        outcome.failures.len(),
        outcome.pages,
        outcome.pages_not_modified,
        outcome.objects,
        outcome.bytes as f64 / 1e6,
        outcome.skipped_blobs,
        outcome.rechecked,
        findings.iter().map(|f| f.locations.len()).sum::<usize>(),
        outcome.fixed,
        if include_alerts {
            format!("; {} secret-scanning alerts read", outcome.alerts)
        } else {
            String::new()
        }
    );
    for (name, reason) in &outcome.failures {
        let message = format!("{name}: {}", Chain(reason));
        eprintln!(
            "ferret: failed: {}",
            crate::report::clean::escape_controls(&message)
        );
    }
}

/// The findings with locations in `repository`, with only those locations.
fn findings_of(findings: &[Finding], repository: &str) -> Vec<Finding> {
    findings
        .iter()
        .filter_map(|finding| {
            let locations: Vec<_> = finding
                .locations
                .iter()
                .filter(|l| {
                    l.repository
                        .as_ref()
                        .is_some_and(|r| r.full_name == repository)
                })
                .cloned()
                .collect();
            (!locations.is_empty()).then(|| Finding {
                locations,
                ..finding.clone()
            })
        })
        .collect()
}
