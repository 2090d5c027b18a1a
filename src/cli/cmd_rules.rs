//! `ferret rules list | check`: show the rules, and run their examples.

use std::io::Write;

use super::{EXIT_FINDINGS, RulesAction, RulesArgs};
use crate::matcher::Matcher;
use crate::matcher::examples::check_examples;
use crate::rules::RuleSet;

pub fn run(args: RulesArgs) -> anyhow::Result<u8> {
    match args.action {
        RulesAction::List { rules } => {
            let mut set = RuleSet::builtin()?;
            if let Some(dir) = rules {
                set = set.with_dir(&dir)?;
            }
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<30} {:<9} {:<13} NAME",
                "ID", "SEVERITY", "VERIFIER"
            )?;
            for rule in &set.rules {
                writeln!(
                    out,
                    "{:<30} {:<9} {:<13} {}",
                    rule.id,
                    rule.severity,
                    rule.verifier.map_or("-", |v| v.name()),
                    rule.name
                )?;
            }
            Ok(0)
        }
        RulesAction::Check { dir } => {
            let mut set = RuleSet::builtin()?;
            if let Some(dir) = dir {
                set = set.with_dir(&dir)?;
            }
            let matcher = Matcher::new(set);
            let seed = fastrand::u64(..);
            let failures = check_examples(&matcher, seed);
            let mut out = std::io::stdout().lock();
            for failure in &failures {
                writeln!(
                    out,
                    "FAIL {}: {}\n     {}",
                    failure.rule_id, failure.reason, failure.template
                )?;
            }
            let examples: usize = matcher
                .rules()
                .iter()
                .map(|r| r.examples.len() + r.counterexamples.len())
                .sum();
            writeln!(
                out,
                "{} rules, {} examples and counterexamples, {} failed (seed {seed})",
                matcher.rules().len(),
                examples,
                failures.len()
            )?;
            Ok(if failures.is_empty() {
                0
            } else {
                EXIT_FINDINGS
            })
        }
    }
}
