//! Matches held with a bound per key: memory grows with the number of distinct keys a scan
//! finds, not with the number of places it finds them (a log of two million lines of one key
//! once held two million locations, 1.4 GB).
//!
//! Of each key's locations, the first [`MAX_LOCATIONS_PER_KEY`] in report order (path, line,
//! column) are kept; the rest are counted, and reports say how many were left out
//! (`omitted_locations`).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use crate::finding::{Finding, Location, Match, location_order};
use crate::rules::Rule;
use crate::secret::{Fingerprint, Secret};

/// Locations kept per key (and rule); the rest are counted.
pub const MAX_LOCATIONS_PER_KEY: usize = 1000;

/// A location ordered as reports list them, for the heap of the ones kept.
struct Ordered(Location);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        location_order(&self.0, &other.0)
    }
}

#[derive(Default)]
struct Group {
    /// A max-heap: the last location in report order is the one dropped past the cap.
    kept: BinaryHeap<Ordered>,
    omitted: u64,
}

/// Matches grouped by rule and key, each group holding at most a cap of locations.
pub struct MatchSet {
    groups: HashMap<(usize, Secret), Group>,
    cap: usize,
}

impl std::fmt::Debug for MatchSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchSet")
            .field("keys", &self.groups.len())
            .field("cap", &self.cap)
            .finish()
    }
}

impl Default for MatchSet {
    fn default() -> Self {
        Self::with_cap(MAX_LOCATIONS_PER_KEY)
    }
}

impl MatchSet {
    pub fn with_cap(cap: usize) -> Self {
        MatchSet {
            groups: HashMap::new(),
            cap: cap.max(1),
        }
    }

    pub fn push(&mut self, m: Match) {
        let group = self.groups.entry((m.rule, m.secret)).or_default();
        group.kept.push(Ordered(m.location));
        if group.kept.len() > self.cap {
            group.kept.pop();
            group.omitted += 1;
        }
    }

    /// Adds another set's matches and counts.
    pub fn merge(&mut self, other: MatchSet) {
        for ((rule, secret), group) in other.groups {
            let omitted = group.omitted;
            for location in group.kept {
                self.push(Match {
                    rule,
                    secret: secret.clone(),
                    location: location.0,
                });
            }
            if let Some(mine) = self.groups.get_mut(&(rule, secret)) {
                mine.omitted += omitted;
            }
        }
    }

    /// The matches kept, and how many locations of each key were left out.
    pub fn into_parts(self) -> (Vec<Match>, Omitted) {
        let mut matches = Vec::new();
        let mut omitted = HashMap::new();
        for ((rule, secret), group) in self.groups {
            if group.omitted > 0 {
                omitted.insert((rule, secret.fingerprint()), group.omitted);
            }
            for location in group.kept {
                matches.push(Match {
                    rule,
                    secret: secret.clone(),
                    location: location.0,
                });
            }
        }
        (matches, Omitted(omitted))
    }
}

/// How many locations of each key (by rule index and fingerprint) a [`MatchSet`] left out.
#[derive(Debug, Default)]
pub struct Omitted(HashMap<(usize, Fingerprint), u64>);

impl Omitted {
    /// Counts `count` more locations of `secret` (under rule `rule`) left out.
    pub fn add(&mut self, rule: usize, secret: &Secret, count: u64) {
        *self.0.entry((rule, secret.fingerprint())).or_default() += count;
    }

    /// Adds another count's.
    pub fn merge(&mut self, other: Omitted) {
        for (key, count) in other.0 {
            *self.0.entry(key).or_default() += count;
        }
    }

    /// Sets each finding's `omitted_locations`.
    pub fn apply(&self, rules: &[Rule], findings: &mut [Finding]) {
        if self.0.is_empty() {
            return;
        }
        for ((rule, fingerprint), count) in &self.0 {
            let finding = findings
                .iter_mut()
                .find(|f| &f.fingerprint == fingerprint && rules[*rule].id == f.rule_id);
            if let Some(finding) = finding {
                finding.omitted_locations += count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u64) -> Location {
        Location {
            path: "a.log".into(),
            entry: None,
            cell: None,
            line,
            column: 1,
            commit: None,
            repository: None,
            decoded: None,
        }
    }

    #[test]
    fn the_first_locations_are_kept_and_the_rest_counted() {
        let secret = Secret::new(b"sk-test-0123456789abcdef".to_vec());
        let mut set = MatchSet::with_cap(3);
        for line in (1..=10).rev() {
            set.push(Match {
                rule: 0,
                secret: secret.clone(),
                location: at(line),
            });
        }
        let mut other = MatchSet::with_cap(3);
        other.push(Match {
            rule: 0,
            secret: secret.clone(),
            location: at(11),
        });
        set.merge(other);
        let (matches, omitted) = set.into_parts();
        let mut lines: Vec<u64> = matches.iter().map(|m| m.location.line).collect();
        lines.sort();
        assert_eq!(lines, [1, 2, 3]);
        assert_eq!(omitted.0.get(&(0, secret.fingerprint())), Some(&8));
    }
}
