//! ferret: finds leaked OpenAI API keys in files, streams and git history, and reports them.
//!
//! The pipeline, one module per stage:
//! [`sources`] turn input into bytes with provenance and feed the [`matcher`], which applies
//! the [`rules`]; matches become [`finding`]s (one per secret, many locations), [`suppress`]
//! drops what the operator accepted (configured by [`config`]), [`verify`] asks providers
//! whether keys are live, [`revoke`] revokes and rotates the live ones (recording every step
//! in the [`store`]'s ledger) while [`hooks`] tell whoever needs to know, and [`report`] writes
//! text, JSON, JSONL, SARIF or GitHub annotations. [`sweep`] runs all of it over every
//! repository of a GitHub organization (through [`github`]). [`cli`] is the command line on
//! top, with [`ci`] (what a CI event asks to scan) and [`git_hook`] (the plain git pre-commit
//! hook) for the places where ferret runs every day. Secrets travel as [`secret::Secret`],
//! which redacts itself everywhere it is printed.

pub mod ci;
pub mod cli;
pub mod config;
pub mod decode;
pub mod finding;
pub mod fs;
pub mod git_hook;
pub mod github;
pub mod hooks;
pub mod matcher;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod secret;
pub mod sources;
pub mod store;
pub mod suppress;
pub mod sweep;
pub mod verify;
