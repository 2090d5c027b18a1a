//! What every scanning command sets up the same way: rules, configuration, suppressions, the
//! report destination and format, and the exit code.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::{EXIT_FINDINGS, FailOn, ScanArgs, VerifyArgs, warn};
use crate::config::{CONFIG_FILE_NAME, Config};
use crate::finding::{Finding, Match};
use crate::matcher::Matcher;
use crate::report::{Format, ReportOptions, write_report};
use crate::rules::RuleSet;
use crate::suppress::{IGNORE_FILE_NAME, Suppressions};
use crate::verify::{self, Verifier, VerifyOptions};

pub struct ScanSetup {
    pub matcher: Matcher,
    pub suppressions: Suppressions,
    pub format: Format,
    pub options: ReportOptions,
    pub output: Box<dyn Write>,
    pub fail_on: FailOn,
    /// Set with `--verify`.
    pub verifier: Option<Verifier>,
}

/// Loads everything a scan rooted at `root` needs.
pub fn prepare(args: &ScanArgs, root: &Path) -> anyhow::Result<ScanSetup> {
    let mut rules = RuleSet::builtin()?;
    if let Some(dir) = &args.rules {
        rules = rules.with_dir(dir)?;
    }
    let config = match &args.config {
        Some(path) => Config::load_operator(path)?,
        None => Config::load_from_root(root)?,
    };
    if !config.operator && config.verify.is_some() {
        warn(format_args!(
            "{}: [verify] is ignored in a config file found in the scanned tree (it could send \
             keys elsewhere); set FERRET_OPENAI_API_BASE or pass your own file with --config",
            root.join(CONFIG_FILE_NAME).display()
        ));
    }
    let verifier = if args.verify.verify {
        Some(verifier(&args.verify, &config)?)
    } else {
        None
    };
    let mut suppressions = Suppressions::from_config(&config)?;
    suppressions.add_ignore_file(&root.join(IGNORE_FILE_NAME))?;
    if let Some(baseline) = &args.baseline {
        suppressions.add_baseline(baseline)?;
    }
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(Format::from_extension))
        .unwrap_or(Format::Text);
    let (output, to_terminal): (Box<dyn Write>, bool) = match &args.output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            (Box::new(BufWriter::new(file)), false)
        }
        None => (
            Box::new(BufWriter::new(io::stdout())),
            io::stdout().is_terminal(),
        ),
    };
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none();
    Ok(ScanSetup {
        matcher: Matcher::new(rules),
        suppressions,
        format,
        options: ReportOptions {
            show_secrets: args.show_secrets,
            color,
        },
        output,
        fail_on: args.fail_on,
        verifier,
    })
}

/// The verifier the operator configured: API base from `FERRET_OPENAI_API_BASE`, else their
/// own config file, else OpenAI's.
fn verifier(args: &VerifyArgs, config: &Config) -> anyhow::Result<Verifier> {
    let base = std::env::var("FERRET_OPENAI_API_BASE")
        .ok()
        .filter(|b| !b.is_empty())
        .or_else(|| config.operator_api_base().map(str::to_string))
        .unwrap_or_else(|| verify::DEFAULT_OPENAI_API_BASE.to_string());
    let options = VerifyOptions {
        api_base: verify::checked_api_base(&base)?,
        concurrency: args.verify_concurrency.max(1),
        request_timeout: args.verify_timeout.0,
        budget: args.verify_budget.map(|b| b.0),
        retries: args.verify_retries,
        cache: if args.no_verify_cache {
            None
        } else {
            args.verify_cache
                .clone()
                .or_else(verify::default_cache_path)
        },
        cache_ttl: args.verify_cache_ttl.0,
    };
    Ok(Verifier::new(options, &|warning| warn(warning))?)
}

/// The scan root whose `.ferret.toml` and `.ferretignore` apply: the one directory scanned, or
/// the current directory.
pub fn config_root(paths: &[std::path::PathBuf]) -> &Path {
    match paths {
        [only] if only.is_dir() => only,
        _ => Path::new("."),
    }
}

/// Groups matches into findings, drops the suppressed ones, writes the report, and returns the
/// exit code.
pub fn report_matches(setup: &mut ScanSetup, matches: Vec<Match>) -> anyhow::Result<u8> {
    let mut findings = Finding::group(setup.matcher.rules(), matches);
    setup.suppressions.apply(&mut findings);
    if let Some(verifier) = &setup.verifier {
        verifier.verify_findings(&mut findings, setup.matcher.rules());
    }
    write_report(
        setup.format,
        &findings,
        setup.matcher.rules(),
        &setup.options,
        &mut setup.output,
    )?;
    Ok(exit_code(&findings, setup.fail_on))
}

/// The exit code for what was reported.
pub fn exit_code(findings: &[Finding], fail_on: FailOn) -> u8 {
    let failing = match fail_on {
        FailOn::Any => !findings.is_empty(),
        FailOn::Live => findings.iter().any(|f| f.verification.is_live()),
    };
    if failing { EXIT_FINDINGS } else { 0 }
}

/// A spinner on stderr with the given indicatif template, hidden unless stderr is a terminal
/// and `--no-progress` was not given.
pub fn spinner(args: &ScanArgs, template: &str) -> ProgressBar {
    if args.no_progress || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
