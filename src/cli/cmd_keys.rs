//! `ferret keys list|audit|rotate`: the organizations' keys themselves (OPENAI_ADMIN_KEY,
//! ANTHROPIC_ADMIN_KEY), listed with what ferret knows of them, audited against the operator's
//! `[policy]`, and rotated on a schedule through the path leaks take.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use super::output::ReportOutput;
use super::{EXIT_FINDINGS, warn};
use crate::config::{CONFIG_FILE_NAME, Config};
use crate::keys::output::{write_audit, write_list, write_rotations};
use crate::keys::policy::audit;
use crate::keys::sarif::PolicySource;
use crate::provider::{ApiBases, Provider};
use crate::report::Format;
use crate::revoke::ProviderAdmin;
use crate::revoke::inventory::{InventoryOptions, list};
use crate::revoke::scheduled::{RotateOptions, Selection, rotate};
use crate::secret::Secret;
use crate::units::Duration;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Every key of the organizations (OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY): owner,
    /// project or workspace, created, last used, the key redacted, and what ferret's ledger
    /// knows (leaked, revoked, rotated, replacement of which key).
    List(ListArgs),
    /// Check every key against the [policy] of your --config (max_age, unused_for,
    /// admin_keys_max, owners who left); exit 1 when a violation reaches --fail-on.
    Audit(AuditArgs),
    /// Rotate keys (a new service-account key delivered through your rotation hooks, then the
    /// old key deleted and confirmed gone). A dry run unless --yes.
    Rotate(RotateArgs),
}

/// Options every `ferret keys` command takes.
#[derive(Debug, Args)]
pub struct KeysCommon {
    /// Report format [default: text, or implied by --output's extension]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Your configuration file ([policy], [rotation] hooks, [verify] API bases) [default:
    /// .ferret.toml in the current directory, whose hooks and API bases are ignored].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Timeout of one administration API request.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub request_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: KeysCommon,
    /// The revocation ledger to read [default: $FERRET_STATE_DIR/ledger.sqlite, else
    /// $XDG_STATE_HOME/ferret/ledger.sqlite].
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// A scan report (JSON or JSONL, redacted or not) telling where the leaks the ledger knows
    /// of were seen (repeatable).
    #[arg(long = "report", value_name = "FILE")]
    pub reports: Vec<PathBuf>,
}

/// The least severe violation that makes the exit code 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOnSeverity {
    Low,
    Medium,
    High,
    Critical,
    /// Always exit 0 after a complete audit.
    Never,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub common: KeysCommon,
    /// The least severe violation that makes the exit code 1 (`never`: report only).
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: FailOnSeverity,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Key ids (`key_…`) to rotate.
    #[arg(
        value_name = "KEY_ID",
        required_unless_present = "older_than",
        conflicts_with = "older_than"
    )]
    pub keys: Vec<String>,
    /// Rotate every project key created longer ago than this (e.g. 90d).
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<Duration>,
    /// Rotate (without it, only show what would be done).
    #[arg(long)]
    pub yes: bool,
    /// The revocation ledger [default: $FERRET_STATE_DIR/ledger.sqlite, else
    /// $XDG_STATE_HOME/ferret/ledger.sqlite].
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// One run at a time acts on a ledger: wait for another run holding it, instead of
    /// stopping with exit code 2.
    #[arg(long)]
    pub wait_for_ledger: bool,
    #[command(flatten)]
    pub common: KeysCommon,
}

pub fn run(args: KeysArgs) -> anyhow::Result<u8> {
    match args.action {
        KeysAction::List(args) => run_list(args),
        KeysAction::Audit(args) => run_audit(args),
        KeysAction::Rotate(args) => run_rotate(args),
    }
}

/// How a rotation by `keys rotate` (or the usage watch's `revoke_on`) runs: OpenAI's base and
/// admin key, the ledger (`ledger`, else the default), the operator's revocation settings and
/// hooks.
pub(super) fn rotate_options(
    config: &Config,
    ledger: Option<PathBuf>,
    dry_run: bool,
    request_timeout: std::time::Duration,
) -> anyhow::Result<RotateOptions> {
    let bases = api_bases(config)?;
    let admin_key = admin_key("OPENAI_ADMIN_KEY").context(
        "rotation needs OPENAI_ADMIN_KEY (an OpenAI Admin API key): only OpenAI project keys can \
         be replaced through the API",
    )?;
    let ledger = ledger
        .or_else(crate::store::default_ledger_path)
        .context("no place for the revocation ledger: pass --ledger FILE")?;
    Ok(RotateOptions {
        api_base: bases.get(Provider::OpenAi).to_string(),
        admin_key,
        ledger,
        wait_for_ledger: false,
        dry_run,
        settings: config.operator_revoke_settings(),
        hooks: config.operator_hooks().to_vec(),
        repository: std::env::var("GITHUB_REPOSITORY")
            .ok()
            .filter(|r| !r.is_empty()),
        request_timeout,
    })
}

/// The config: the operator's `--config`, else `.ferret.toml` here (untrusted: its hooks and
/// API bases are not used).
fn load_config(common: &KeysCommon) -> anyhow::Result<Config> {
    Ok(match &common.config {
        Some(path) => Config::load_operator(path)?,
        None => Config::load_from_root(Path::new("."))?,
    })
}

fn api_bases(config: &Config) -> anyhow::Result<ApiBases> {
    Ok(ApiBases::resolve(
        |variable| std::env::var(variable).ok().filter(|b| !b.is_empty()),
        |provider| config.operator_api_base(provider).map(str::to_string),
    )?)
}

fn admin_key(variable: &str) -> Option<Secret> {
    std::env::var(variable)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(|k| Secret::new(k.trim()))
}

fn inventory_options(
    config: &Config,
    common: &KeysCommon,
    ledger: Option<PathBuf>,
) -> anyhow::Result<InventoryOptions> {
    let bases = api_bases(config)?;
    let admin = |variable: &str, provider: Provider| {
        admin_key(variable).map(|admin_key| ProviderAdmin {
            api_base: bases.get(provider).to_string(),
            admin_key,
        })
    };
    let options = InventoryOptions {
        openai: admin("OPENAI_ADMIN_KEY", Provider::OpenAi),
        anthropic: admin("ANTHROPIC_ADMIN_KEY", Provider::Anthropic),
        ledger: ledger.or_else(crate::store::default_ledger_path),
        request_timeout: common.request_timeout.0,
    };
    if options.openai.is_none() && options.anthropic.is_none() {
        anyhow::bail!(
            "ferret keys needs an administration key: OPENAI_ADMIN_KEY (an OpenAI Admin API key) \
             or ANTHROPIC_ADMIN_KEY (an Anthropic Admin API key)"
        );
    }
    Ok(options)
}

fn format_of(common: &KeysCommon) -> Format {
    common
        .format
        .or_else(|| common.output.as_deref().and_then(Format::from_extension))
        .unwrap_or(Format::Text)
}

/// Writes a report to `--output` (whole or not at all) or standard output.
fn write_report(
    common: &KeysCommon,
    write: impl FnOnce(&mut dyn Write) -> Result<(), crate::keys::output::OutputError>,
) -> anyhow::Result<()> {
    let mut output = match &common.output {
        Some(path) => ReportOutput::file(path, false)?,
        None => ReportOutput::stdout(),
    };
    write(&mut output)?;
    output.publish()
}

fn run_list(args: ListArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.common)?;
    let options = inventory_options(&config, &args.common, args.ledger.clone())?;
    let mut inventory = list(&options)?;
    for path in &args.reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        crate::keys::add_places(&mut inventory, &text)
            .map_err(|e| anyhow::anyhow!("{}:{}", path.display(), crate::error::Chain(&e)))?;
    }
    write_report(&args.common, |out| {
        write_list(&inventory, format_of(&args.common), out)
    })?;
    Ok(0)
}

fn run_audit(args: AuditArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.common)?;
    let source = config.source.clone();
    let Some(policy) = config.policy.clone() else {
        let place = match &source {
            Some((path, _)) => path.display().to_string(),
            None => format!("no --config given and no {CONFIG_FILE_NAME} here"),
        };
        anyhow::bail!(
            "no [policy] to audit against ({place}): add one, e.g. [policy] max_age = \"90d\", \
             unused_for = \"30d\", admin_keys_max = 2 (see README, \"Keys: inventory, rotation \
             policy and usage watch\")"
        );
    };
    let options = inventory_options(&config, &args.common, None)?;
    let inventory = list(&options)?;
    let violations = audit(&inventory, &policy, inventory.read_at);
    let (path, text) = source.unwrap_or_default();
    let source = PolicySource {
        uri: relative_uri(&path),
        text: &text,
    };
    let keys = inventory.keys.iter().filter(|k| k.listed).count();
    write_report(&args.common, |out| {
        write_audit(&violations, keys, format_of(&args.common), &source, out)
    })?;
    let threshold = match args.fail_on {
        FailOnSeverity::Never => return Ok(0),
        FailOnSeverity::Low => "low",
        FailOnSeverity::Medium => "medium",
        FailOnSeverity::High => "high",
        FailOnSeverity::Critical => "critical",
    };
    let rank = |s: &str| {
        ["low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
    };
    let failing = violations
        .iter()
        .any(|v| rank(v.severity) >= rank(threshold));
    Ok(if failing { EXIT_FINDINGS } else { 0 })
}

/// The config file as a URI relative to the current directory (the repository's root in CI),
/// `/` separated.
fn relative_uri(path: &Path) -> String {
    let current = std::env::current_dir().ok();
    let absolute = std::fs::canonicalize(path).ok();
    let relative = match (&current, &absolute) {
        (Some(current), Some(absolute)) => absolute
            .strip_prefix(std::fs::canonicalize(current).unwrap_or_else(|_| current.clone()))
            .ok()
            .map(Path::to_path_buf),
        _ => None,
    };
    let path = relative.unwrap_or_else(|| path.to_path_buf());
    let text = path.to_string_lossy().replace('\\', "/");
    if text.is_empty() {
        CONFIG_FILE_NAME.to_string()
    } else {
        text
    }
}

fn run_rotate(args: RotateArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.common)?;
    let delivers = config.operator_hooks().iter().any(|h| h.receives_new_key());
    if !args.yes && !delivers {
        warn(
            "no hook of your --config receives the new key (a `github-actions-secret` hook, or a \
             `command` hook listening to `rotated`): --yes would refuse to rotate",
        );
    }
    let selection = match args.older_than {
        Some(age) => Selection::OlderThan(age.0),
        None => Selection::Keys(args.keys.clone()),
    };
    let ledger = args.ledger.clone();
    let timeout = args.common.request_timeout.0;
    let mut options = rotate_options(&config, ledger, !args.yes, timeout)?;
    options.wait_for_ledger = args.wait_for_ledger;
    let rotations = rotate(options, &selection, &|message| warn(message))?;
    let now = crate::fs::now_seconds();
    write_report(&args.common, |out| {
        write_rotations(&rotations, now, format_of(&args.common), out)
    })?;
    if !args.yes && io::stderr().is_terminal() && !rotations.is_empty() {
        warn("dry run: nothing was changed; pass --yes to rotate");
    }
    let failed = rotations.iter().any(|r| {
        !matches!(
            r.revocation.status,
            crate::finding::RevocationStatus::Revoked
                | crate::finding::RevocationStatus::AlreadyRevoked
                | crate::finding::RevocationStatus::Planned
        )
    });
    Ok(if failed { EXIT_FINDINGS } else { 0 })
}
