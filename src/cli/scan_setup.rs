//! What every scanning command sets up the same way: rules, configuration, suppressions, the
//! report destination and format, and the exit code.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::output::ReportOutput;
use super::{EXIT_FINDINGS, FailOn, RevokeArgs, ScanArgs, VerifyArgs, warn};
use crate::config::{CONFIG_FILE_NAME, Config};
use crate::finding::{Finding, Match};
use crate::matcher::Matcher;
use crate::pipeline::{Gate, Pipeline};
use crate::progress::Progress;
use crate::provider::{ApiBases, Provider};
use crate::report::{Format, ReportOptions, write_report};
use crate::revoke::{ProviderAdmin, Remediation, RevokeOptions};
use crate::rules::RuleSet;
use crate::secret::Secret;
use crate::sources::contents::ArchiveLimits;
use crate::suppress::{IGNORE_FILE_NAME, Suppressions};
use crate::verify::{self, Verifier, VerifyOptions};

pub struct ScanSetup {
    pub matcher: Matcher,
    /// How far archives are opened.
    pub archives: ArchiveLimits,
    /// Suppression, verification, remediation and the gate.
    pub pipeline: Pipeline,
    pub format: Format,
    pub options: ReportOptions,
    pub output: ReportOutput,
    /// Keys verified of those to verify; drawn only while a batch is verified (cleared before
    /// the report is written), hidden for streams.
    pub verify_progress: ProgressBar,
}

impl ScanSetup {
    /// What the sources scan with: this setup's matcher and archive limits, and `on_warning`.
    pub fn scan_context<'a>(
        &'a self,
        on_warning: &'a (dyn Fn(&crate::sources::Warning) + Sync),
    ) -> crate::sources::ScanContext<'a> {
        crate::sources::ScanContext {
            matcher: &self.matcher,
            archives: &self.archives,
            on_warning,
        }
    }
}

/// Loads everything a scan rooted at `root` needs.
pub fn prepare(args: &ScanArgs, root: &Path) -> anyhow::Result<ScanSetup> {
    // Verifying implicitly would send keys to providers no one asked to send them to.
    if args.fail_on == FailOn::Live && !args.verify.verify {
        anyhow::bail!(
            "--fail-on live needs --verify: without verification no key is known to be live, \
             and a gate that cannot tell must not pass"
        );
    }
    let mut rules = RuleSet::builtin()?;
    if let Some(dir) = &args.rules {
        rules = rules.with_dir(dir)?;
    }
    let config = match &args.config {
        Some(path) => Config::load_operator(path)?,
        None => Config::load_from_root(root)?,
    };
    let untrusted = config.untrusted_sections();
    if !untrusted.is_empty() {
        warn(format_args!(
            "{}: {} ignored in a config file found in the scanned tree (it could send keys \
             elsewhere, delete keys or run commands); pass your own file with --config",
            root.join(CONFIG_FILE_NAME).display(),
            untrusted.join(", ")
        ));
    }
    let api_bases = api_bases(&config)?;
    let admin_bases = api_bases.clone();
    let verify_progress = bar(args, "keys verified", false);
    let verifier = if args.verify.verify {
        // Revocation acts on what verification says now, never on a remembered answer.
        let fresh = args.revoke.revoke || args.revoke.exposure;
        Some(verifier(&args.verify, api_bases, fresh, &verify_progress)?)
    } else {
        None
    };
    let remediation = remediation(args, &config, &admin_bases)?;
    let mut suppressions = Suppressions::from_config(&config)?;
    for warning in suppressions.add_ignore_file(&root.join(IGNORE_FILE_NAME))? {
        warn_in(format_of(args), &warning);
    }
    if let Some(baseline) = &args.baseline {
        suppressions.add_baseline(baseline)?;
    }
    let format = format_of(args);
    let (output, to_terminal) = match &args.output {
        Some(path) => (ReportOutput::file(path, args.show_secrets)?, false),
        None => (ReportOutput::stdout(), io::stdout().is_terminal()),
    };
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none();
    let gate = match args.fail_on {
        FailOn::Any => Gate::Any,
        FailOn::Live => Gate::Live {
            allow_unverified: args.allow_unverified,
        },
    };
    let pipeline = Pipeline::new(suppressions, verifier, remediation, gate, Box::new(warn));
    Ok(ScanSetup {
        matcher: Matcher::new(rules).with_decode_depth(args.decode_depth),
        archives: ArchiveLimits {
            max_depth: args.archive_depth,
            ..ArchiveLimits::default()
        },
        pipeline,
        format,
        options: ReportOptions {
            show_secrets: args.show_secrets,
            color,
        },
        output,
        verify_progress,
    })
}

/// The report format asked for: `--format`, else `--output`'s extension, else text.
pub fn format_of(args: &ScanArgs) -> Format {
    args.format
        .or_else(|| args.output.as_deref().and_then(Format::from_extension))
        .unwrap_or(Format::Text)
}

/// Prints a non-fatal problem on stderr, where every format's reader sees it; in the `github`
/// format also as a workflow warning, so it shows on the run's page.
pub fn warn_in(format: Format, message: &dyn std::fmt::Display) {
    if format == Format::Github {
        let _ = crate::report::write_command(
            &mut io::stderr(),
            "warning",
            &[("title", "ferret".to_string())],
            &message.to_string(),
        );
        super::remember_warning(message.to_string());
    } else {
        warn(message);
    }
}

/// Each provider's API base as the operator configured it: `FERRET_<PROVIDER>_API_BASE`, else
/// their own config file, else the provider's.
fn api_bases(config: &Config) -> anyhow::Result<ApiBases> {
    Ok(ApiBases::resolve(
        |variable| std::env::var(variable).ok().filter(|b| !b.is_empty()),
        |provider| config.operator_api_base(provider).map(str::to_string),
    )?)
}

fn verifier(
    args: &VerifyArgs,
    api_bases: ApiBases,
    fresh: bool,
    progress: &ProgressBar,
) -> anyhow::Result<Verifier> {
    let options = VerifyOptions {
        progress: counting(progress),
        fresh,
        api_bases,
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

/// Hooks and revocation as the operator configured them, if any.
fn remediation(
    args: &ScanArgs,
    config: &Config,
    api_bases: &ApiBases,
) -> anyhow::Result<Option<Remediation>> {
    let hooks = config.operator_hooks().to_vec();
    let revoke = if args.revoke.revoke || args.revoke.exposure {
        Some(revoke_options(
            &args.revoke,
            config,
            api_bases,
            args.verify.verify_timeout.0,
        )?)
    } else {
        None
    };
    if hooks.is_empty() && revoke.is_none() {
        return Ok(None);
    }
    let repository = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|r| !r.is_empty());
    Ok(Some(Remediation::new(
        hooks,
        revoke,
        repository,
        args.verify.verify_timeout.0,
        &|message| warn(message),
    )?))
}

fn revoke_options(
    args: &RevokeArgs,
    config: &Config,
    api_bases: &ApiBases,
    request_timeout: std::time::Duration,
) -> anyhow::Result<RevokeOptions> {
    let key = |variable: &str| {
        std::env::var(variable)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| Secret::new(k.trim()))
    };
    let admin_key = key("OPENAI_ADMIN_KEY");
    let other = |variable: &str, provider: Provider| {
        key(variable).map(|admin_key| ProviderAdmin {
            api_base: api_bases.get(provider).to_string(),
            admin_key,
        })
    };
    let anthropic = other("ANTHROPIC_ADMIN_KEY", Provider::Anthropic);
    let openrouter = other("OPENROUTER_MANAGEMENT_KEY", Provider::OpenRouter);
    if admin_key.is_none() && anthropic.is_none() && openrouter.is_none() {
        anyhow::bail!(
            "--revoke needs an administration key: OPENAI_ADMIN_KEY (an OpenAI Admin API key), \
             ANTHROPIC_ADMIN_KEY (an Anthropic Admin API key) or OPENROUTER_MANAGEMENT_KEY (an \
             OpenRouter management key)"
        );
    }
    let ledger = args
        .ledger
        .clone()
        .or_else(crate::store::default_ledger_path)
        .context("no place for the revocation ledger: pass --ledger FILE")?;
    if args.revoke && !args.dry_run && !args.yes {
        confirm_revocation()?;
    }
    Ok(RevokeOptions {
        api_base: api_bases.get(Provider::OpenAi).to_string(),
        admin_key,
        anthropic,
        openrouter,
        ledger,
        wait_for_ledger: args.wait_for_ledger,
        // `--exposure` alone looks keys up the way a dry run does.
        dry_run: args.dry_run || !args.revoke,
        settings: config.operator_revoke_settings(),
        rotation: config.operator_rotation_settings(),
        request_timeout,
        exposure: args.exposure || args.revoke,
        revoke: args.revoke,
    })
}

/// Asks on the terminal before a run that deletes keys; without a terminal, `--yes` decides.
fn confirm_revocation() -> anyhow::Result<()> {
    if !(io::stdin().is_terminal() && io::stderr().is_terminal()) {
        anyhow::bail!(
            "--revoke deletes live keys in your organizations: pass --yes to confirm (there is no \
             terminal to ask on), or --dry-run to see the plan"
        );
    }
    eprint!(
        "ferret: --revoke will revoke every live leaked key it finds in the organizations of \
         the administration keys set (OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY, \
         OPENROUTER_MANAGEMENT_KEY). Continue? [y/N] "
    );
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        anyhow::bail!("revocation not confirmed")
    }
}

/// The scan root whose `.ferret.toml` and `.ferretignore` apply: the one directory scanned, or
/// the current directory (also when that one directory cannot be read: its own warning says
/// so, not an error about a file in it).
pub fn config_root(paths: &[std::path::PathBuf]) -> &Path {
    match paths {
        [only] if only.is_dir() && std::fs::read_dir(only).is_ok() => only,
        _ => Path::new("."),
    }
}

/// Groups matches into findings, drops the suppressed ones, writes the report, and returns the
/// exit code.
pub fn report_matches(setup: &mut ScanSetup, matches: Vec<Match>) -> anyhow::Result<u8> {
    let findings = process_matches(setup, matches);
    write_findings(setup, &findings)?;
    setup.output.publish()?;
    Ok(exit_code(setup))
}

/// Runs the pipeline on matches: findings, suppressed, verified, remediated. Then tells, once
/// per API host, which keys verification could not answer for (before the report is written,
/// so a SARIF report carries it).
pub fn process_matches(setup: &mut ScanSetup, matches: Vec<Match>) -> Vec<Finding> {
    let findings = setup.pipeline.process(setup.matcher.rules(), matches);
    setup.verify_progress.finish_and_clear();
    setup.pipeline.tell_unanswered();
    findings
}

/// Writes the report of `findings` to the setup's output (published by the caller once the
/// report is complete).
pub fn write_findings(setup: &mut ScanSetup, findings: &[Finding]) -> anyhow::Result<()> {
    write_report(
        setup.format,
        findings,
        setup.matcher.rules(),
        &setup.options,
        &super::warnings_so_far(),
        &mut setup.output,
    )?;
    Ok(())
}

/// The exit code for what the pipeline saw, at the end of the run.
pub fn exit_code(setup: &ScanSetup) -> u8 {
    let suppressed = setup.pipeline.suppressed();
    if suppressed.total() > 0 {
        eprintln!("ferret: suppressed {suppressed}");
    }
    let undetermined = setup.pipeline.undetermined();
    if let Gate::Live { allow_unverified } = setup.pipeline.gate()
        && undetermined > 0
    {
        warn(if allow_unverified {
            format!(
                "{undetermined} finding(s) could not be verified (error or unverified); \
                 --allow-unverified lets them pass --fail-on live"
            )
        } else {
            format!(
                "{undetermined} finding(s) could not be verified (error or unverified): they \
                 fail --fail-on live (--allow-unverified lets them pass)"
            )
        });
    }
    if setup.pipeline.failing() {
        EXIT_FINDINGS
    } else {
        0
    }
}

/// A bar on stderr counting `what` (objects, keys, repositories) of a total that may grow, with
/// the rate and an ETA; hidden unless stderr is a terminal and `--no-progress` was not given.
pub fn counter(args: &ScanArgs, what: &str) -> ProgressBar {
    bar(args, what, true)
}

/// A [`counter`]; `steady` ticks on its own, else it is drawn only when it counts (a bar for
/// work that has not started yet must not show meanwhile).
fn bar(args: &ScanArgs, what: &str, steady: bool) -> ProgressBar {
    if args.no_progress || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let template = format!(
        "{{spinner}} {{human_pos}}/{{human_len}} {what} ({{percent}}%, {{per_sec}}, ETA {{eta}})"
    );
    let bar = ProgressBar::new(0)
        .with_style(ProgressStyle::with_template(&template).expect("valid template"));
    if steady {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    bar
}

/// `bar` as the library's [`Progress`], when it is drawn: counting costs a lock per piece
/// (per object, in a history scan), which a hidden bar need not pay.
pub fn counting(bar: &ProgressBar) -> Option<Arc<dyn Progress>> {
    (!bar.is_hidden()).then(|| Arc::new(Counter(bar.clone())) as Arc<dyn Progress>)
}

/// A [`counter`] bar as the library's [`Progress`].
#[derive(Debug)]
struct Counter(ProgressBar);

impl Progress for Counter {
    fn more_to_do(&self, pieces: u64) {
        self.0.inc_length(pieces);
    }

    fn done(&self, pieces: u64) {
        self.0.inc(pieces);
    }
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
