//! Keyword search: every occurrence of a set of byte patterns, overlapping and nested ones
//! included, at the speed of a leftmost Aho-Corasick search.

use aho_corasick::{AhoCorasick, Input, MatchKind};

/// A set of byte patterns, searched for every occurrence, overlapping and nested ones included
/// (one rule's keyword may sit inside another's, or start inside it).
///
/// An overlapping Aho-Corasick search over many patterns cannot use the automaton's prefilter:
/// with the 23 keywords of the built-in rules it ran at a twentieth of the speed of a leftmost
/// search (measured on 150 MB of source files, 0.43 s against 0.02 s). So a leftmost search
/// finds where patterns occur, and an overlapping search of the few bytes after each hit's start
/// adds the occurrences it skipped: those that start inside the hit. Any other occurrence starts
/// where the leftmost search looks next, so nothing is lost.
#[derive(Debug)]
pub(super) struct Patterns {
    leftmost: AhoCorasick,
    overlapping: AhoCorasick,
    longest: usize,
}

impl Patterns {
    pub(super) fn new(patterns: &[&[u8]]) -> Self {
        let automaton = |kind| {
            AhoCorasick::builder()
                .match_kind(kind)
                .build(patterns)
                .expect("keyword automaton within size limits")
        };
        Patterns {
            leftmost: automaton(MatchKind::LeftmostFirst),
            overlapping: automaton(MatchKind::Standard),
            longest: patterns.iter().map(|p| p.len()).max().unwrap_or(0),
        }
    }

    pub(super) fn every_occurrence<'h>(
        &'h self,
        hay: &'h [u8],
    ) -> impl Iterator<Item = aho_corasick::Match> + 'h {
        self.leftmost.find_iter(hay).flat_map(move |hit| {
            let end = (hit.end() + self.longest - 1).min(hay.len());
            self.overlapping
                .find_overlapping_iter(Input::new(hay).span(hit.start()..end))
                .filter(move |m| m.start() < hit.end())
        })
    }
}
