//! ferret: finds leaked AI-provider API keys (OpenAI first) in files, streams and git history,
//! tells which are live, reports them, and revokes and rotates the live ones.
//!
//! The pipeline, one module per stage, in one direction:
//!
//! ```text
//! sources ─► matcher ─► findings ─► suppress ─► verify ─► revoke + hooks ─► report ─► exit code
//! (dir, git, stdin, log, github)    (allowlist,  (live?)   (ledger: store)
//!                                    baseline)
//! ```
//!
//! [`sources`] turn input into bytes with provenance and feed the [`matcher`], which applies the
//! [`rules`]; matches become [`finding`]s (one per secret, many locations), [`suppress`] drops
//! what the operator accepted (configured by [`config`]), [`verify`] asks providers whether
//! keys are live, [`revoke`] revokes and rotates the live ones (recording every step in the
//! [`store`]'s ledger) while [`hooks`] tell whoever needs to know, and [`report`] writes and
//! reads text, JSON, JSONL, SARIF or GitHub annotations. [`pipeline`] runs those stages for
//! every command. The drivers run the pipeline from somewhere: [`sweep`] over every repository
//! of a GitHub organization (through [`github`]), [`ci`] for what a CI event asks to scan,
//! [`git_hook`] for the plain git pre-commit hook, and [`cli`] for the command line.
//!
//! Modules are listed in layer order: each imports only modules listed before it
//! (`.ci/module-graph` checks this). Secrets travel as [`secret::Secret`], which redacts itself
//! everywhere it is printed. Each module has its own error types, which keep their causes as
//! sources; [`error::Chain`] prints an error with its causes on one line.

// ── leaves: data and plumbing ──
pub mod error;
pub mod secret;
pub mod units;
pub mod progress;
pub mod fs;
pub mod http;
pub mod provider;
pub mod rules;
pub mod exposure;
pub mod finding;
pub mod matchset;
pub mod config;
pub mod github;
// ── 1. find, and the report formats (later stages read and write records) ──
pub mod matcher;
pub mod sources;
pub mod report;
// ── 2. decide ──
pub mod suppress;
pub mod verify;
// ── 3. act ──
pub mod store;
pub mod hooks;
pub mod revoke;
pub mod keys;
// ── the pipeline, once ──
pub mod pipeline;
// ── drivers: run the pipeline from somewhere ──
pub mod sweep;
pub mod ci;
pub mod git_hook;
pub mod watch;
pub mod cli;
