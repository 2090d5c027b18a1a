//! `ferret watch usage`: one pass of the usage watch ([`crate::watch`]), printed as text or
//! JSON. Exit code 1 when an anomaly was found, 0 otherwise, 2 on an error.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::{Config, RevokeOn};
use crate::finding::RevocationStatus;
use crate::provider::{ApiBases, Provider};
use crate::report::Format;
use crate::revoke::scheduled::{Rotation, Selection, rotate};
use crate::secret::Secret;
use crate::units::Duration;
use crate::watch::detect::{Anomaly, KeyReport, Severity, Status};
use crate::watch::{Pass, WatchOptions};

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(subcommand)]
    pub action: WatchAction,
}

#[derive(Debug, Subcommand)]
pub enum WatchAction {
    /// One pass over OpenAI usage since the last (OPENAI_ADMIN_KEY): each key's hourly use
    /// against its own history; anomalies are printed and sent to `usage_anomaly` hooks.
    Usage(WatchUsageArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WatchFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct WatchUsageArgs {
    /// The watch state (each key's hourly history) [default: $FERRET_STATE_DIR/watch.sqlite,
    /// else $XDG_STATE_HOME/ferret/watch.sqlite].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Configuration file: `[watch]` thresholds, `[[hooks]]`, `[verify] api_base`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: WatchFormat,
    /// Timeout of one request to the usage API.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub request_timeout: Duration,
    /// The current time (Unix seconds or RFC 3339), for tests and replays.
    /// The revocation ledger, for `[watch] revoke_on` [default: $FERRET_STATE_DIR/ledger.sqlite,
    /// else $XDG_STATE_HOME/ferret/ledger.sqlite].
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    #[arg(long, value_name = "TIME", hide = true)]
    pub now: Option<String>,
}

pub fn run(args: WatchArgs) -> anyhow::Result<u8> {
    match args.action {
        WatchAction::Usage(args) => usage(args),
    }
}

fn usage(args: WatchUsageArgs) -> anyhow::Result<u8> {
    let config = match &args.config {
        Some(path) => Config::load_operator(path)?,
        None => Config::default(),
    };
    let Some(admin_key) = std::env::var("OPENAI_ADMIN_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
    else {
        bail!("ferret watch usage reads usage with an OpenAI Admin API key: set OPENAI_ADMIN_KEY");
    };
    let bases = ApiBases::resolve(
        |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
        |provider| config.operator_api_base(provider).map(str::to_string),
    )?;
    let state = args
        .state
        .clone()
        .or_else(crate::store::default_watch_state_path)
        .context("no place for the watch state: pass --state FILE")?;
    let now = match &args.now {
        Some(text) => parse_time(text)?,
        None => crate::store::now_seconds(),
    };
    let options = WatchOptions {
        api_base: bases.get(Provider::OpenAi).to_string(),
        admin_key: Secret::new(admin_key.trim()),
        state,
        settings: config.operator_watch_settings(),
        hooks: config.operator_hooks().to_vec(),
        now,
        request_timeout: args.request_timeout.0,
    };
    let pass = crate::watch::run(&options)?;
    for run in pass.hooks.iter().filter(|r| !r.ok) {
        super::warn(format!(
            "hook {} for {}: {}",
            run.hook,
            run.key_id,
            run.detail.as_deref().unwrap_or("failed")
        ));
    }
    let revoked = match config.operator_watch_settings().revoke_on {
        RevokeOn::Critical => rotate_critical(&config, &args, &pass)?,
        RevokeOn::Off => Vec::new(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        WatchFormat::Json => {
            let mut document = serde_json::to_value(&pass)?;
            document["rotations"] = serde_json::to_value(&revoked)?;
            serde_json::to_writer_pretty(&mut out, &document)?;
            writeln!(out)?;
        }
        WatchFormat::Text => {
            write_text(&mut out, &pass)?;
            crate::keys::output::write_rotations(&revoked, now, Format::Text, &mut out)?;
        }
    }
    Ok(if pass.anomalies.is_empty() {
        0
    } else {
        super::EXIT_FINDINGS
    })
}

/// `[watch] revoke_on = "critical"`: each key with a critical anomaly goes through the path of
/// `ferret keys rotate KEY --yes` (a replacement delivered through the hooks first, then the
/// key deleted and confirmed gone; held when the replacement cannot be delivered). The usage
/// API's key id is the evidence of identity: the key is the organization's own, by id.
fn rotate_critical(
    config: &Config,
    args: &WatchUsageArgs,
    pass: &Pass,
) -> anyhow::Result<Vec<Rotation>> {
    let mut keys: Vec<String> = pass
        .anomalies
        .iter()
        .filter(|a| a.severity == Severity::Critical)
        .map(|a| a.key_id.clone())
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let timeout = args.request_timeout.0;
    let options = super::cmd_keys::rotate_options(config, args.ledger.clone(), false, timeout)?;
    let rotations = rotate(options, &Selection::Keys(keys), &|message| {
        super::warn(message)
    })?;
    for rotation in &rotations {
        if !matches!(
            rotation.revocation.status,
            RevocationStatus::Revoked | RevocationStatus::AlreadyRevoked
        ) {
            super::warn(format!(
                "{}: critical usage anomaly, key not revoked ({}): {}",
                rotation.key_id,
                rotation.revocation.status_name(),
                rotation.revocation.detail.as_deref().unwrap_or("no detail")
            ));
        }
    }
    Ok(rotations)
}

fn parse_time(text: &str) -> anyhow::Result<i64> {
    text.parse::<i64>()
        .ok()
        .or_else(|| crate::exposure::parse_rfc3339(text))
        .with_context(|| format!("--now `{text}` is neither Unix seconds nor RFC 3339"))
}

fn write_text(out: &mut impl Write, pass: &Pass) -> std::io::Result<()> {
    writeln!(
        out,
        "usage read {} .. {} ({} hours{}); {} keys used, {} anomalies",
        pass.read_from,
        pass.read_to,
        pass.hours_read,
        if pass.first_run {
            format!("; first run: judged from {}", pass.judged_from)
        } else {
            String::new()
        },
        pass.keys.len(),
        pass.anomalies.len()
    )?;
    for anomaly in &pass.anomalies {
        write_anomaly(out, anomaly)?;
    }
    for key in &pass.keys {
        write_key(out, key)?;
    }
    Ok(())
}

fn write_anomaly(out: &mut impl Write, anomaly: &Anomaly) -> std::io::Result<()> {
    let kind = serde_json::to_value(anomaly.kind).unwrap_or_default();
    let severity = serde_json::to_value(anomaly.severity).unwrap_or_default();
    writeln!(
        out,
        "ANOMALY {} {} {} at {}{}: {}",
        severity.as_str().unwrap_or_default(),
        kind.as_str().unwrap_or_default(),
        anomaly.key_id,
        anomaly.hour,
        anomaly
            .project_id
            .as_ref()
            .map(|p| format!(" (project {p})"))
            .unwrap_or_default(),
        anomaly.detail
    )
}

fn write_key(out: &mut impl Write, key: &KeyReport) -> std::io::Result<()> {
    let status = match key.status {
        Status::Ok => format!("ok ({} hours judged)", key.hours_judged),
        Status::Anomalous => format!("{} anomalies", key.anomalies),
        Status::NotEnoughHistory => format!(
            "not enough history ({} days seen; {} hours of use not judged)",
            key.history_days, key.hours_not_judged
        ),
    };
    writeln!(out, "key {}: {status}", key.key_id)
}
