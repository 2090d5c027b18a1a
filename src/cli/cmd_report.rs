//! `ferret report REPORT... -o report.html`: one offline HTML page from earlier reports of
//! ferret (JSON, JSONL, SARIF), any SARIF 2.1.0 producer, gitleaks, TruffleHog and Kingfisher,
//! one row per secret however many tools and reports found it. `ferret merge --format html`
//! comes here too.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::ReportArgs;
use super::output::write_whole;
use crate::report::ReportOptions;
use crate::report::html::write_page;
use crate::report::import::read_report;
use crate::report::page::{Page, is_full_secret};

pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let options = ReportOptions {
        show_secrets: args.show_secrets,
        color: false,
    };
    write_html(&args.reports, args.output.as_deref(), &args.title, &options)?;
    Ok(0)
}

/// Reads every report, merges their findings into one page and writes it to `output` (whole
/// or not at all) or to standard output.
pub fn write_html(
    reports: &[PathBuf],
    output: Option<&Path>,
    title: &str,
    options: &ReportOptions,
) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    let mut sightings = Vec::new();
    for path in reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let imported = read_report(&text).with_context(|| {
            format!(
                "{}: not a report ferret can read (ferret JSON/JSONL/SARIF, SARIF 2.1.0, \
                 gitleaks JSON, TruffleHog JSONL, Kingfisher JSON)",
                path.display()
            )
        })?;
        let tools = if imported.tools.is_empty() {
            "no findings".to_string()
        } else {
            imported.tools.join(", ")
        };
        inputs.push(format!("{} ({tools})", path.display()));
        sightings.extend(imported.sightings);
    }
    let page = Page::new(title, inputs, sightings, options);
    let mut html = Vec::new();
    write_page(&page, &mut html)?;
    let holds_secrets =
        options.show_secrets && page.findings.iter().any(|f| is_full_secret(&f.secret));
    match output {
        Some(path) => write_whole(path, &html, holds_secrets),
        None => Ok(std::io::stdout().lock().write_all(&html)?),
    }
}
