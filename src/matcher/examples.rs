//! A rule set's examples and counterexamples, run through a [`Matcher`]: what `ferret rules
//! check` and the test suite check.

use super::{ChunkScanner, Matcher};
use crate::rules::expand_template;

/// An example that did not behave as its rule says.
#[derive(Debug)]
pub struct ExampleFailure {
    pub rule_id: String,
    /// The template as written in the rule file (never the expansion, which looks like a key).
    pub template: String,
    pub reason: String,
}

/// Runs every rule's examples and counterexamples through `matcher`. Each example must be found
/// by its rule (exactly at the `«»` span when one is marked); no rule may fire on a
/// counterexample.
pub fn check_examples(matcher: &Matcher, seed: u64) -> Vec<ExampleFailure> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut failures = Vec::new();
    let find = |text: &[u8]| {
        let mut scanner = ChunkScanner::new(matcher);
        let mut found = Vec::new();
        scanner
            .scan_reader(text, |m| found.push(m))
            .expect("reading from memory cannot fail");
        found
    };
    for (index, rule) in matcher.rules().iter().enumerate() {
        let fail = |template: &str, reason: String| ExampleFailure {
            rule_id: rule.id.clone(),
            template: template.to_string(),
            reason,
        };
        for template in &rule.examples {
            let example = expand_template(template, &mut rng);
            let found = find(&example.text);
            let ours: Vec<_> = found.iter().filter(|m| m.rule == index).collect();
            if ours.is_empty() {
                let others: Vec<_> = found.iter().map(|m| &matcher.rules()[m.rule].id).collect();
                failures.push(fail(
                    template,
                    format!("not found (other rules: {others:?})"),
                ));
            } else if let Some(span) = &example.expected
                && !ours.iter().any(|m| {
                    m.offset == span.start as u64
                        && m.secret.expose() == &example.text[span.clone()]
                })
            {
                failures.push(fail(
                    template,
                    "found, but not exactly the span marked with «»".into(),
                ));
            }
        }
        for template in &rule.counterexamples {
            let example = expand_template(template, &mut rng);
            for m in find(&example.text) {
                let by = &matcher.rules()[m.rule].id;
                failures.push(fail(template, format!("counterexample matched by `{by}`")));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn every_builtin_example_and_counterexample_holds() {
        let matcher = Matcher::new(RuleSet::builtin().unwrap());
        // Several seeds: the random parts differ each time.
        for seed in 0..20 {
            let failures = check_examples(&matcher, seed);
            assert!(failures.is_empty(), "seed {seed}: {failures:#?}");
        }
    }
}
