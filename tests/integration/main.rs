//! Every integration test of ferret, in one binary (one compile and link of the shared
//! support instead of one per suite): each module is a suite, run against the real `ferret`
//! binary with real git, temporary trees and loopback mocks from [`support`].

mod support;

mod archives;
mod ci_github;
mod context_rules;
mod databases;
mod decoding;
mod decoys;
mod dir_scan;
mod docs;
mod exit_codes;
mod explain;
mod exposure;
mod fail_closed;
mod git_history;
mod github_sweep;
mod hardening;
mod hook_install;
mod hostile_inputs;
mod hostile_services;
mod html_report;
mod install;
mod keys;
mod mocks_selftest;
mod no_leak;
mod precommit;
mod providers;
mod reports;
mod revoke;
mod revoke_providers;
mod rules_cli;
mod stream_scan;
mod suppression;
mod verify;
mod watch;
