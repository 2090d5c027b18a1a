//! The stages every command runs on what the sources found, in one place: group matches into
//! findings, drop what the operator suppressed, verify, remediate (hooks and revocation), and
//! keep what the exit code needs to know.
//!
//! Batch commands ([`Pipeline::process`]) and streams ([`Pipeline::process_one`], one match at a
//! time as a log grows) go through the same code, so a suppression, verification or revocation
//! rule changes in one place. The pipeline holds no finding once it has handed it back: what the
//! gate needs is counted as it goes, so a stream that never ends holds bounded memory here.

use crate::finding::{Finding, Match};
use crate::revoke::Remediation;
use crate::rules::Rule;
use crate::suppress::Suppressions;
use crate::verify::Verifier;

/// Which findings fail the run (`--fail-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Every finding.
    Any,
    /// Only keys verified live.
    Live,
}

/// The stages after the sources, built once per run.
pub struct Pipeline {
    pub suppressions: Suppressions,
    verifier: Option<Verifier>,
    remediation: Option<Remediation>,
    gate: Gate,
    /// Hears about failures of hooks and revocation.
    on_warning: Box<dyn Fn(String)>,
    /// Some finding processed so far fails the gate.
    failing: bool,
    /// Findings suppressed so far.
    suppressed: usize,
}

impl Pipeline {
    pub fn new(
        suppressions: Suppressions,
        verifier: Option<Verifier>,
        remediation: Option<Remediation>,
        gate: Gate,
        on_warning: Box<dyn Fn(String)>,
    ) -> Self {
        Pipeline {
            suppressions,
            verifier,
            remediation,
            gate,
            on_warning,
            failing: false,
            suppressed: 0,
        }
    }

    /// Groups matches into findings (one per secret), drops the suppressed ones, verifies,
    /// revokes and runs hooks.
    pub fn process(&mut self, rules: &[Rule], matches: Vec<Match>) -> Vec<Finding> {
        let mut findings = Finding::group(rules, matches);
        self.suppressed += self.suppressions.apply(&mut findings);
        self.act(&mut findings, rules);
        findings
    }

    /// One match of a stream, as soon as it is seen: its finding, unless suppressed.
    pub fn process_one(&mut self, rules: &[Rule], m: Match) -> Option<Finding> {
        let mut finding = Finding::new(&rules[m.rule], m.secret, vec![m.location]);
        if self.suppressions.suppresses_secret(&finding)
            || self
                .suppressions
                .suppresses_path(&finding.locations[0].path)
        {
            self.suppressed += 1;
            return None;
        }
        self.act(std::slice::from_mut(&mut finding), rules);
        Some(finding)
    }

    /// Verification (with `--verify`), then hooks and revocation (when configured), then the
    /// gate's count.
    fn act(&mut self, findings: &mut [Finding], rules: &[Rule]) {
        if let Some(verifier) = &self.verifier {
            verifier.verify_findings(findings, rules);
        }
        if let Some(remediation) = &mut self.remediation {
            remediation.process(findings, rules, &*self.on_warning);
            // A revoked key's cached "live" would be wrong for the rest of its time to live.
            if let Some(verifier) = &self.verifier {
                for finding in findings.iter() {
                    if finding.revocation.as_ref().is_some_and(|r| r.is_done()) {
                        verifier.forget(&finding.secret);
                    }
                }
            }
        }
        self.failing |= findings.iter().any(|f| self.fails(f));
    }

    fn fails(&self, finding: &Finding) -> bool {
        match self.gate {
            Gate::Any => true,
            Gate::Live => finding.verification.is_live(),
        }
    }

    /// Whether anything processed so far fails the gate.
    pub fn failing(&self) -> bool {
        self.failing
    }

    /// Tells (as warnings) what verification could not find out, once per API host and
    /// reason, at the end of a run.
    pub fn tell_unanswered(&self) {
        if let Some(verifier) = &self.verifier {
            for line in verifier.unanswered() {
                (self.on_warning)(line);
            }
        }
    }

    /// How many findings were suppressed so far.
    pub fn suppressed(&self) -> usize {
        self.suppressed
    }
}
