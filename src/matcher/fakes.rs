//! Hand-written stand-ins for keys: a value with a key's prefix and length whose body a person
//! typed (`klmnopqrstuv…`, `AbCdEfGh…`, `1234567890…`, `xyxyxy…`, `…-fake-key-…`). Each rule's
//! `placeholders` list catches the common ones by pattern; this catches the rest by structure,
//! for every rule that has such a list.
//!
//! What a person types is ordered: runs along the alphabet or the digits, short stretches
//! repeated, words. A random key has almost none of that, and the thresholds are set so that
//! one is lost about once in five million at most (a test draws 10,000 random keys of each
//! rule's shapes and loses none):
//! - **runs**: steps of one letter (either case: `aBcD` counts) or digit, up or down. A run of
//!   three or more in a random body of 64 symbols happens once in about 500 positions; a
//!   random run of 10 (one in 10^11 positions even in hex) is never seen, so one such run alone
//!   marks a fake;
//! - **repeats**: a stretch where every character equals the one 1 to 8 places before (ignoring
//!   case), at least 6 times in a row;
//! - a fake is a body at least half covered by runs and repeats, or holding a run of 10;
//! - **words**: `example`, `placeholder`, `redacted`… anywhere (seven letters or more: a random
//!   body of 160 characters spells one by chance about once in 10^8 keys); the shorter `fake`,
//!   `dummy`, `sample` only as a word of their own, between `-`, `_`, `.` or the ends of the
//!   value (a random body spells `fake` between two such separators about once in 7 million
//!   keys of 160 characters, the longest there are; words as common as `test` or `mock` would
//!   cost a real key several times as often, so they are left to the rules' lists).

/// Marker words that may stand anywhere in the value (lowercase, seven letters or more).
const MARKERS_ANYWHERE: &[&[u8]] = &[
    b"example",
    b"placeholder",
    b"redacted",
    b"changeme",
    b"notreal",
    b"testing",
    b"invalid",
];

/// Marker words too short to be told from chance unless they stand as words (lowercase).
const MARKERS_AS_WORDS: &[&[u8]] = &[b"fake", b"dummy", b"sample"];

/// A run of consecutive characters this long is a fake on its own.
const LONG_RUN: usize = 10;
/// Runs shorter than this are not structure (two in a row happen all the time).
const MIN_RUN: usize = 3;
/// The longest period of a repeat, and how many characters in a row must repeat.
const MAX_PERIOD: usize = 8;
const MIN_REPEATS: usize = 6;

/// Whether `secret` looks typed by a person rather than generated.
pub(super) fn looks_made_up(secret: &[u8]) -> bool {
    let folded: Vec<u8> = secret.iter().map(u8::to_ascii_lowercase).collect();
    has_marker(&folded) || structured(&folded)
}

fn has_marker(folded: &[u8]) -> bool {
    let is_separator = |b: Option<&u8>| b.is_none_or(|b| matches!(b, b'-' | b'_' | b'.'));
    MARKERS_ANYWHERE
        .iter()
        .any(|m| memchr::memmem::find(folded, m).is_some())
        || MARKERS_AS_WORDS.iter().any(|m| {
            memchr::memmem::find_iter(folded, m).any(|at| {
                let before = at.checked_sub(1).map(|i| &folded[i]);
                is_separator(before) && is_separator(folded.get(at + m.len()))
            })
        })
}

/// Whether runs and repeats cover half of `folded`, or one run is long.
fn structured(folded: &[u8]) -> bool {
    if folded.len() < 2 * MIN_RUN {
        return false;
    }
    let mut covered = vec![false; folded.len()];
    if mark_runs(folded, &mut covered) {
        return true;
    }
    mark_repeats(folded, &mut covered);
    2 * covered.iter().filter(|&&c| c).count() >= folded.len()
}

/// The step from `a` to `b` along the alphabet or the digits: +1, -1, or 0 for none.
fn step(a: u8, b: u8) -> i8 {
    let same_class = (a.is_ascii_lowercase() && b.is_ascii_lowercase())
        || (a.is_ascii_digit() && b.is_ascii_digit());
    match (same_class, b.wrapping_sub(a)) {
        (true, 1) => 1,
        (true, 255) => -1,
        _ => 0,
    }
}

/// Marks runs of at least [`MIN_RUN`] characters; true when one reaches [`LONG_RUN`].
fn mark_runs(folded: &[u8], covered: &mut [bool]) -> bool {
    let mut start = 0;
    let mut direction = 0;
    for i in 1..=folded.len() {
        let s = folded.get(i).map_or(0, |&b| step(folded[i - 1], b));
        if s != 0 && (s == direction || i - start == 1) {
            direction = s;
            continue;
        }
        let len = i - start;
        if direction != 0 && len >= MIN_RUN {
            if len >= LONG_RUN {
                return true;
            }
            covered[start..i].iter_mut().for_each(|c| *c = true);
        }
        // A run turning back (`abcba`) starts again at its turn.
        start = if s != 0 { i - 1 } else { i };
        direction = s;
    }
    false
}

/// Marks stretches that repeat the characters 1 to [`MAX_PERIOD`] places before them.
fn mark_repeats(folded: &[u8], covered: &mut [bool]) {
    for period in 1..=MAX_PERIOD.min(folded.len() / 2) {
        let mut streak = 0;
        for i in period..folded.len() {
            if folded[i] == folded[i - period] {
                streak += 1;
                if streak >= MIN_REPEATS {
                    // The streak and the period it repeats.
                    covered[i + 1 - streak - period..=i]
                        .iter_mut()
                        .for_each(|c| *c = true);
                }
            } else {
                streak = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made_up(s: &str) -> bool {
        looks_made_up(s.as_bytes())
    }

    #[test]
    fn typed_bodies_are_fakes() {
        let letters = "klmnopqrstuvwxyz";
        assert!(made_up(&format!("sk-ant-api03-{letters}")));
        assert!(made_up("AbCdEfGhIjKlMnOpQrStUvWxYz12"));
        assert!(made_up("9876543210zyx"));
        assert!(made_up("abc123xyz-456def789ghij-klm"));
        assert!(made_up("xyxyxyxyxyxyxyxyQ3"));
        assert!(made_up("xxxxXXXXyyyyYYYYzzzzZZZZ"));
        assert!(made_up("1a2b3c4d1a2b3c4d1a2b3c4d"));
        assert!(made_up("sk-ant-api03-this-is-a-fake-key"));
        assert!(made_up("hf_Fake_Q9w8E7r6T5y4U3i2O1pAsDfGhJk"));
        assert!(made_up("Q9w8E7r6T5y4U3i2O1p.sample.GhJkLzXcVbNm"));
        assert!(made_up("Q9w8E7r6T5y4U3i2O1pAsDfGhJk_dummy"));
        assert!(made_up("prefix-ExampleValueQ9w8E7r6T5y4U3"));
    }

    /// Every distinct key shape (the `«…»` part) among a rule's examples, with the first
    /// example that has it.
    fn shapes(rule: &crate::rules::Rule) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        let mut shapes = Vec::new();
        for template in &rule.examples {
            let inner = template.split('«').nth(1).and_then(|r| r.split('»').next());
            if let Some(inner) = inner.filter(|inner| !seen.contains(inner)) {
                seen.push(inner);
                shapes.push(template.as_str());
            }
        }
        shapes
    }

    #[test]
    fn ten_thousand_random_keys_of_every_shape_are_all_found() {
        use crate::matcher::Matcher;
        use crate::rules::{RuleSet, expand_template};
        let matcher = Matcher::new(RuleSet::builtin().unwrap());
        let mut rng = fastrand::Rng::with_seed(22);
        let mut checked = 0;
        for (index, rule) in matcher.rules().iter().enumerate() {
            for template in shapes(rule) {
                let missed = (0..10_000)
                    .filter(|_| {
                        let example = expand_template(template, &mut rng);
                        let span = example.expected.expect("a marked span");
                        !matcher.locate_all(&example.text).iter().any(|m| {
                            m.rule == index && m.secret.expose() == &example.text[span.clone()]
                        })
                    })
                    .count();
                // The template, never a key: nothing key-shaped may reach a log.
                assert_eq!(missed, 0, "{}: {template}", rule.id);
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} shapes");
    }

    #[test]
    fn random_looking_bodies_are_not() {
        assert!(!made_up("Q9w8E7r6T5y4U3i2O1pAsDfGhJkLzXcVbNm"));
        // A marker word glued to other letters is chance, not a word.
        assert!(!made_up("Q9w8E7r6TfakeU3i2O1pAsDfGhJkLzXcVbNm"));
        assert!(!made_up("Q9w8E7r6T5y4U3i2O1pAsDfGhJ-fakes-zXcVbNm"));
        assert!(!made_up("Q9w8E7r6T5y4U3i2O1pAsDfGhJ-test-zXcVbNm"));
        // Short runs happen.
        assert!(!made_up("abcQ9w8E7r6T5y4U3i2O1pAsDfGhJk123"));
    }
}
