//! The command line: argument definitions (clap derive) and one thin module per subcommand
//! that parses, calls the library and prints. Errors become one line on stderr and exit code 2.

mod applies;
mod ci_suppressions;
mod cmd_ci;
mod cmd_dir;
mod cmd_git;
mod cmd_github;
mod cmd_hook;
mod cmd_keys;
mod cmd_merge;
mod cmd_report;
mod cmd_rules;
mod cmd_stream;
mod cmd_verify;
mod cmd_watch;
mod limits;
mod output;
mod scan_setup;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;
use crate::units::{ByteSize, Duration};

pub use applies::parse;

#[derive(Debug, Parser)]
#[command(
    name = "ferret",
    version,
    about = "Find leaked AI-provider API keys (OpenAI, Anthropic, Google Gemini, Hugging Face, \
             Groq, xAI, OpenRouter, Mistral, Cohere, Replicate, DeepSeek…) in git history, \
             files, logs and streams; verify and revoke them.",
    after_help = "Exit codes: 0 nothing found, 1 findings, 2 usage or runtime error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan a git repository: every blob of its history once (or a range, or the staged change).
    Git(GitArgs),
    /// Scan files on disk: every file under PATH (hidden and gitignored ones too) but .git.
    Dir(DirArgs),
    /// Sweep every repository of a GitHub organization or user (GITHUB_TOKEN): mirror, scan
    /// history, incrementally and sharded if asked.
    Github(GithubArgs),
    /// Merge JSON/JSONL or SARIF reports (e.g. of sweep shards) into one.
    Merge(MergeArgs),
    /// One offline HTML page from earlier reports of ferret, gitleaks, TruffleHog, Kingfisher
    /// or any SARIF 2.1.0 tool, one row per secret.
    Report(ReportArgs),
    /// Scan standard input as it arrives, reporting each finding as soon as it is seen.
    Stdin(StdinArgs),
    /// Scan log files; with --follow keep reading as they grow.
    Log(LogArgs),
    /// Verify the findings of an earlier JSON/JSONL report written with --show-secrets.
    Verify(VerifyCommandArgs),
    /// Verify the findings of an earlier report and revoke the live keys (OPENAI_ADMIN_KEY,
    /// ANTHROPIC_ADMIN_KEY, OPENROUTER_MANAGEMENT_KEY).
    Revoke(RevokeCommandArgs),
    /// Verify the findings of an earlier report and tell what each live key of your
    /// organization did and cost while it was exposed (nothing is revoked).
    Exposure(VerifyCommandArgs),
    /// List the detection rules, or check their examples.
    Rules(RulesArgs),
    /// Install ferret as a git pre-commit hook.
    Hook(HookArgs),
    /// Run in CI: scan what the triggering event brings, report in the CI's own terms.
    Ci(CiArgs),
    /// The organizations' keys themselves: list them, audit them against your [policy],
    /// rotate them on a schedule.
    Keys(cmd_keys::KeysArgs),
    /// Watch your organization's keys: `ferret watch usage` judges each key's hourly use
    /// against its own history (one pass per run, for cron).
    Watch(cmd_watch::WatchArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding makes the exit code 1.
    Any,
    /// Only keys verified live (or that verification could not tell about) make the exit code 1.
    Live,
}

/// Options shared by the scanning commands.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Report format [default: text, or implied by --output's extension]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which findings make the exit code 1 (`live` needs --verify).
    #[arg(long, value_enum, default_value = "any")]
    pub fail_on: FailOn,
    /// With --fail-on live, let keys whose verification could not tell (`error`, `unverified`)
    /// pass the gate; without it they fail it.
    #[arg(long)]
    pub allow_unverified: bool,
    /// Configuration file [default: .ferret.toml at the scan root, if present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ignore findings whose fingerprint is in this earlier JSON or JSONL report.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Add the rule files (*.toml) of DIR to the built-in rules.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Print full secrets; without this every output redacts them.
    #[arg(long)]
    pub show_secrets: bool,
    /// Worker threads [default: all cores; at most 4 per core, 256 in all].
    #[arg(long, value_name = "N", value_parser = limits::parse_threads)]
    pub threads: Option<usize>,
    /// Never show progress bars (they are shown on stderr only when it is a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// How many encodings deep keys are looked for (base64, UTF-16, percent, JSON and HTML
    /// escapes, nested); 0 looks at plain text only.
    #[arg(long, value_name = "N", default_value_t = crate::matcher::DEFAULT_DECODE_DEPTH)]
    pub decode_depth: usize,
    /// How many archives deep (zip, jar, gzip, tar…) files are opened; 0 scans archives as
    /// raw bytes.
    #[arg(long, value_name = "N", default_value_t = crate::sources::contents::DEFAULT_ARCHIVE_DEPTH)]
    pub archive_depth: usize,
    /// Git objects larger than SIZE once inflated (K, M, G) are not scanned, with a warning:
    /// each object is held whole in memory while it is scanned.
    #[arg(
        long,
        value_name = "SIZE",
        default_value_t = ByteSize(crate::sources::git::DEFAULT_MAX_OBJECT_SIZE)
    )]
    pub max_object_size: ByteSize,
    #[command(flatten)]
    pub verify: VerifyArgs,
    #[command(flatten)]
    pub revoke: RevokeArgs,
}

/// Options of `--verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Ask each key's provider whether it is live (each distinct key once). Keys go only to
    /// their provider's API (FERRET_<PROVIDER>_API_BASE, e.g. FERRET_OPENAI_API_BASE, or your
    /// --config's [verify]).
    #[arg(long)]
    pub verify: bool,
    /// Keys verified at the same time.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub verify_concurrency: usize,
    /// Timeout of one verification request.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub verify_timeout: Duration,
    /// Time for all verification; keys not verified by then are reported `unverified`.
    #[arg(long, value_name = "DURATION")]
    pub verify_budget: Option<Duration>,
    /// Retries after rate limits, server errors, timeouts and connection failures.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub verify_retries: u32,
    /// The verification cache [default: $FERRET_CACHE_DIR/verify.sqlite, else
    /// $XDG_CACHE_HOME/ferret/verify.sqlite].
    #[arg(long, value_name = "FILE")]
    pub verify_cache: Option<PathBuf>,
    /// Do not read or write the verification cache.
    #[arg(long)]
    pub no_verify_cache: bool,
    /// How long a cached result is used.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub verify_cache_ttl: Duration,
}

/// Options of `--revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// After --verify, revoke live keys: OpenAI's through the Administration API
    /// (OPENAI_ADMIN_KEY), rotating them first when your --config's [rotation] says so;
    /// Anthropic's through the Admin API (ANTHROPIC_ADMIN_KEY); OpenRouter's through key
    /// management (OPENROUTER_MANAGEMENT_KEY).
    #[arg(long, requires = "verify")]
    pub revoke: bool,
    /// The revocation ledger [default: $FERRET_STATE_DIR/ledger.sqlite, else
    /// $XDG_STATE_HOME/ferret/ledger.sqlite].
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// One run at a time acts on a ledger: wait for another run holding it, instead of
    /// stopping with exit code 2.
    #[arg(long)]
    pub wait_for_ledger: bool,
    /// Show what revocation would do; change nothing, write nothing, run no hook.
    #[arg(long)]
    pub dry_run: bool,
    /// Revoke without asking (required when there is no terminal to ask on).
    #[arg(long)]
    pub yes: bool,
    /// After --verify, report what each live key of your organization did and cost while it
    /// was exposed (needs the provider's admin key; implied by --revoke). Alone, it looks keys
    /// up without revoking anything.
    #[arg(long, requires = "verify")]
    pub exposure: bool,
}

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Files and directories to scan.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Skip what .gitignore, .ignore and git's exclude files ignore.
    #[arg(long)]
    pub gitignore: bool,
    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow_links: bool,
    /// Exit 2 when a file or directory met during the walk cannot be read (always a warning;
    /// a path named on the command line that cannot be read always exits 2).
    #[arg(long)]
    pub fail_on_unreadable: bool,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct GitArgs {
    /// The repository (or a directory inside it).
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    /// Only what the commits of BASE..HEAD introduce (a pull request).
    #[arg(long, value_name = "BASE..HEAD", conflicts_with_all = ["staged", "unreachable"])]
    pub range: Option<String>,
    /// Only lines the index adds over HEAD (a pre-commit hook).
    #[arg(long, conflicts_with = "unreachable")]
    pub staged: bool,
    /// Also objects no ref reaches: dangling commits, dropped stashes, lost blobs.
    #[arg(long)]
    pub unreachable: bool,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct GithubArgs {
    /// Every repository of this organization.
    #[arg(long, value_name = "ORG", required_unless_present_any = ["user", "repos"])]
    pub org: Option<String>,
    /// Every repository of this user.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// This repository (repeatable).
    #[arg(long = "repo", value_name = "OWNER/NAME")]
    pub repos: Vec<String>,
    /// Include forks.
    #[arg(long)]
    pub include_forks: bool,
    /// Include archived repositories.
    #[arg(long)]
    pub include_archived: bool,
    /// Leave out repositories whose OWNER/NAME matches GLOB (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Where the bare mirrors are kept [default: $FERRET_CACHE_DIR/mirrors, else
    /// $XDG_CACHE_HOME/ferret/mirrors].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The sweep state (scanned blobs, refs, findings) [default: $FERRET_STATE_DIR/sweep.sqlite,
    /// else $XDG_STATE_HOME/ferret/sweep.sqlite].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Scan only blobs no earlier sweep scanned (and nothing new in repositories whose refs
    /// have not moved).
    #[arg(long)]
    pub since_last: bool,
    /// Sweep only the K-th of N shards of the repositories (stable across runs and machines).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::sweep::Shard>,
    /// With --since-last, fetch every repository, even those whose pushed_at has not moved.
    #[arg(long)]
    pub verify_all_refs: bool,
    /// With --since-last, fetch a repository whose last fetch is older than this, whatever
    /// its pushed_at (each falls due between half of it and all of it).
    #[arg(long, value_name = "DURATION", default_value = "168h")]
    pub max_age: crate::units::Duration,
    /// Repositories fetched at once.
    #[arg(long, value_name = "N", default_value_t = crate::sweep::DEFAULT_FETCH_CONCURRENCY)]
    pub fetch_concurrency: usize,
    /// Also write one SARIF file per repository into DIR.
    #[arg(long, value_name = "DIR")]
    pub sarif_dir: Option<PathBuf>,
    /// Upload each repository's SARIF to its code scanning (needs --sarif-dir).
    #[arg(long, requires = "sarif_dir")]
    pub upload_sarif: bool,
    /// Also verify (and revoke) the keys of the organization's open secret-scanning alerts.
    #[arg(long, requires = "org")]
    pub include_alerts: bool,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports to merge: all JSON/JSONL, or all SARIF.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Write the merged report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format [default: the inputs' (JSONL for JSON/JSONL inputs), or implied by
    /// --output's extension].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Keep the full secrets of inputs written with --show-secrets (e.g. for `ferret revoke
    /// --input`); without it the merged report is redacted like every other.
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Reports to show: ferret JSON/JSONL/SARIF, SARIF 2.1.0, gitleaks JSON, TruffleHog JSONL,
    /// Kingfisher JSON/JSONL (recognised by their contents).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Write the page to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The page's title.
    #[arg(long, default_value = "ferret report")]
    pub title: String,
    /// Show the full secrets the reports hold; without this the page redacts them.
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Args)]
pub struct StdinArgs {
    /// Name standard input has in reports.
    #[arg(long, default_value = "stdin")]
    pub name: String,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log files to scan.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Keep reading as the files grow (until interrupted).
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct VerifyCommandArgs {
    /// The report to verify (JSON or JSONL, written with --show-secrets).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct RevokeCommandArgs {
    /// The report whose live keys to revoke (JSON or JSONL, written with --show-secrets)
    /// [default: standard input].
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: RulesAction,
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// List every rule: id, severity, verifier, name.
    List {
        /// Include the rule files of DIR.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
    /// Check every rule's examples and counterexamples (built-ins plus DIR's rule files).
    Check {
        /// A directory of extra rule files to load and check.
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub action: HookAction,
}

#[derive(Debug, Subcommand)]
pub enum HookAction {
    /// Write a pre-commit hook that runs `ferret git --staged` (in core.hooksPath when set).
    Install {
        /// The repository (or a directory inside it).
        #[arg(default_value = ".")]
        repo: PathBuf,
        /// Replace a pre-commit hook that ferret did not write.
        #[arg(long)]
        force: bool,
        /// Keep a pre-commit hook that ferret did not write: it becomes pre-commit.local and
        /// runs before ferret.
        #[arg(long, conflicts_with = "force")]
        chain: bool,
    },
}

#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(subcommand)]
    pub provider: CiProvider,
}

#[derive(Debug, Subcommand)]
pub enum CiProvider {
    /// In a GitHub Actions job: scan what the event brings (a pull request's commits, a push's,
    /// the full history on a schedule), write annotations, a step summary and optionally SARIF.
    Github(CiGithubArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CiMode {
    /// What the event brings (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH).
    Auto,
    /// The whole history, whatever the event.
    Full,
}

#[derive(Debug, Args)]
pub struct CiGithubArgs {
    /// The checkout [default: $GITHUB_WORKSPACE, else the current directory].
    pub repo: Option<PathBuf>,
    /// What to scan.
    #[arg(long, value_enum, default_value = "auto")]
    pub mode: CiMode,
    /// Also write a SARIF report to FILE (for github/codeql-action/upload-sarif).
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Append a Markdown summary to FILE [default: $GITHUB_STEP_SUMMARY, when set].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Let --mode full scan a shallow clone (only what it has, with a warning) instead of
    /// failing.
    #[arg(long)]
    pub allow_shallow: bool,
    #[command(flatten)]
    pub scan: ScanArgs,
}

/// Exit code for "findings were reported".
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code for usage and runtime errors.
pub const EXIT_ERROR: u8 = 2;

/// Runs a parsed command line and turns its outcome into the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Git(args) => cmd_git::run(args),
        Command::Dir(args) => cmd_dir::run(args),
        Command::Github(args) => cmd_github::run(args),
        Command::Merge(args) => cmd_merge::run(args),
        Command::Report(args) => cmd_report::run(args),
        Command::Stdin(args) => cmd_stream::run_stdin(args),
        Command::Log(args) => cmd_stream::run_log(args),
        Command::Verify(args) => cmd_verify::run_verify(args),
        Command::Revoke(args) => cmd_verify::run_revoke(args),
        Command::Exposure(args) => cmd_verify::run_exposure(args),
        Command::Rules(args) => cmd_rules::run(args),
        Command::Hook(args) => cmd_hook::run(args),
        Command::Ci(args) => cmd_ci::run(args),
        Command::Keys(args) => cmd_keys::run(args),
        Command::Watch(args) => cmd_watch::run(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Each cause once, on one line (some libraries repeat theirs in their message).
            let message = crate::error::Chain(err.as_ref()).to_string();
            eprintln!(
                "ferret: error: {}",
                crate::report::clean::escape_controls(&message)
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `ferret … | head` closing the pipe early is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Prints a non-fatal problem on stderr, on one line: control characters from outside (a path,
/// a provider's message) are escaped, so none forges a line or a workflow command. The run's
/// SARIF reports carry it too ([`warnings_so_far`]).
pub fn warn(message: impl std::fmt::Display) {
    let message = message.to_string();
    eprintln!(
        "ferret: warning: {}",
        crate::report::clean::escape_controls(&message)
    );
    remember_warning(message);
}

/// The warnings this process gave so far, for reports that carry them: a SARIF read without
/// the run's stderr still says what was not read.
static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Keeps `message` for [`warnings_so_far`]; past a bound, only counts (hostile input can give a
/// warning per file).
pub fn remember_warning(message: String) {
    const KEPT: usize = 1000;
    let mut warnings = WARNINGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match warnings.len() {
        n if n < KEPT => warnings.push(message),
        KEPT => warnings.push("further warnings left out (see the run's stderr)".to_string()),
        _ => {}
    }
}

/// The warnings given so far, oldest first.
pub fn warnings_so_far() -> Vec<String> {
    WARNINGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}
