//! Hooks for each event of a key's remediation, every run recorded in the ledger.

use crate::config::EventKind;
use crate::finding::Finding;
use crate::hooks::{Event, HookOutcome, Hooks};
use crate::secret::Secret;
use crate::store::ledger::Ledger;

/// What running hooks for an event needs.
pub(super) struct HookContext<'a> {
    pub hooks: &'a Hooks,
    pub repository: Option<&'a str>,
    /// A dry run runs no hook.
    pub dry_run: bool,
    pub warn: &'a dyn Fn(String),
}

impl HookContext<'_> {
    /// Runs the hooks listening to `kind`, warns about failures and records every run in the
    /// ledger (when one is open for writing).
    pub async fn notify(
        &self,
        kind: EventKind,
        finding: &Finding,
        new_key: Option<&Secret>,
        ledger: Option<&Ledger>,
    ) -> Vec<HookOutcome> {
        if self.dry_run || !self.hooks.listens_to(kind) {
            return Vec::new();
        }
        let event = Event {
            kind,
            finding,
            new_key,
            repository: self.repository,
        };
        let outcomes = self.hooks.fire(&event).await;
        let event_name = kind.as_str();
        for outcome in &outcomes {
            if !outcome.ok {
                (self.warn)(format!(
                    "hook {} failed on {event_name} for {}: {}",
                    outcome.hook,
                    finding.secret.redacted(),
                    outcome.detail.as_deref().unwrap_or("no detail")
                ));
            }
            if let Some(ledger) = ledger
                && let Err(err) = ledger.record_hook(
                    &finding.fingerprint,
                    event_name,
                    &outcome.hook,
                    outcome.ok,
                    outcome.detail.as_deref(),
                )
            {
                (self.warn)(crate::error::chain(&err));
            }
        }
        outcomes
    }
}
