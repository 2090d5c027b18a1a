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
use crate::suppress::{Counts, Reason, Suppressions};
use crate::verify::Verifier;

/// Which findings fail the run (`--fail-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Every finding.
    Any,
    /// Keys verified live, and keys whose verification could not tell (an `error`, a budget
    /// that ran out, a rule with no verifier) unless `allow_unverified`: a gate that cannot
    /// tell must not pass.
    Live { allow_unverified: bool },
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
    /// Findings suppressed so far, by what.
    suppressed: Counts,
    /// Findings whose verification could not tell whether the key is live.
    undetermined: usize,
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
            suppressed: Counts::default(),
            undetermined: 0,
        }
    }

    /// Groups matches into findings (one per secret), drops the suppressed ones, verifies,
    /// revokes and runs hooks.
    pub fn process(&mut self, rules: &[Rule], matches: Vec<Match>) -> Vec<Finding> {
        let mut findings = Finding::group(rules, matches);
        let suppressed = self.suppressions.apply(&mut findings);
        self.suppressed.merge(&suppressed);
        self.act(&mut findings, rules);
        findings
    }

    /// One match of a stream, as soon as it is seen: its finding, unless suppressed.
    pub fn process_one(&mut self, rules: &[Rule], m: Match) -> Option<Finding> {
        let mut finding = Finding::new(&rules[m.rule], m.secret, vec![m.location]);
        let reason = self.suppressions.suppresses_secret(&finding).or_else(|| {
            self.suppressions
                .suppresses_path(&finding.locations[0].path)
                .then_some(Reason::Path)
        });
        if let Some(reason) = reason {
            self.suppressed.add(reason, 1);
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
        self.undetermined += findings
            .iter()
            .filter(|f| f.verification.is_undetermined())
            .count();
    }

    fn fails(&self, finding: &Finding) -> bool {
        match self.gate {
            Gate::Any => true,
            Gate::Live { allow_unverified } => {
                finding.verification.is_live()
                    || (!allow_unverified && finding.verification.is_undetermined())
            }
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

    /// How many findings so far have a verification that could not tell (see
    /// [`Gate::Live`]).
    pub fn undetermined(&self) -> usize {
        self.undetermined
    }

    /// The gate this pipeline counts for.
    pub fn gate(&self) -> Gate {
        self.gate
    }

    /// How many findings were suppressed so far, by what.
    pub fn suppressed(&self) -> &Counts {
        &self.suppressed
    }

    /// Counts matches the sources left out for `ferret:allow` on their line.
    pub fn add_inline_allowed(&mut self, count: usize) {
        self.suppressed.add(Reason::Inline, count);
    }
}
