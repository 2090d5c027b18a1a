//! Looking for keys inside encodings, at a cost bounded per input byte.
//!
//! [`Matcher::find_encoded`] decodes base64 runs, UTF-16 runs and escaped windows of a haystack
//! and searches the decoded text again (one encoding less deep), reporting each key at the place
//! of the haystack where its encoded form starts. What bounds the cost:
//! - each run is found once (a base64 run by its shape, a UTF-16 run around the first keyword
//!   hit in it; later hits inside it are skipped) and decoded once per alignment it may have;
//! - a long run is decoded in pieces of at most [`MAX_PIECE`] characters that overlap by more
//!   than the longest encoded key, so memory stays bounded and no key is cut;
//! - every byte decoded, at every depth, counts against a budget of [`BUDGET_PER_BYTE`] bytes
//!   per input byte (plus [`BUDGET_SLACK`]): decoded text is shorter than its encoding, so
//!   ordinary input never comes near it, and input built so that every run decodes several
//!   ways, level after level, stops there (the runs left undecoded are counted in [`Work`]).

use std::ops::Range;

use super::base64;
use super::decode::{self, MAX_PIECE, Transform};
use super::{Decoded, Matcher, RawMatch};

/// Bytes that may be decoded per byte of input, all depths together.
pub const BUDGET_PER_BYTE: usize = 4;
/// Bytes that may be decoded whatever the input's size (small inputs nested deep).
pub const BUDGET_SLACK: usize = 256 * 1024;

/// What decoding one haystack cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Bytes decoded (base64, UTF-16, unescaped), at every depth.
    pub decoded: usize,
    /// Runs or windows left undecoded because the budget was spent.
    pub skipped: usize,
    limit: usize,
}

impl Work {
    /// The budget for a haystack of `len` bytes.
    pub fn for_input(len: usize) -> Self {
        Work {
            decoded: 0,
            skipped: 0,
            limit: BUDGET_PER_BYTE * len + BUDGET_SLACK,
        }
    }

    /// Whether `bytes` more may be decoded; counts them if so, and the refusal if not.
    fn take(&mut self, bytes: usize) -> bool {
        if self.decoded + bytes > self.limit {
            self.skipped += 1;
            return false;
        }
        self.decoded += bytes;
        true
    }
}

/// Where a search of decoded text happens: the haystack, where it starts in its input (UTF-16
/// text is told from its misreading by where its characters fall), the part matches must start
/// in, and how many encodings deeper to look.
pub(super) struct Scope<'h> {
    pub hay: &'h [u8],
    pub offset: u64,
    pub report: Range<usize>,
    pub depth: usize,
}

impl Matcher {
    /// Appends to `out` the keys inside encodings in `scope` (`scope.depth > 0`); `windows` are
    /// the rules' keyword windows, unescaped where they hold escapes.
    pub(super) fn find_encoded(
        &self,
        scope: &Scope,
        windows: &[Vec<Range<usize>>],
        out: &mut Vec<RawMatch>,
        work: &mut Work,
    ) {
        self.find_in_base64(scope, out, work);
        self.find_in_utf16(scope, out, work);
        self.find_unescaped(scope, windows, out, work);
    }

    /// How much consecutive pieces of a run overlap: more than any key takes, encoded a few
    /// levels deep (base64 adds a third, UTF-16 doubles), in whole base64 groups.
    fn piece_overlap(&self) -> usize {
        (4 * self.max_reach).next_multiple_of(4).min(MAX_PIECE / 2)
    }

    fn find_in_base64(&self, scope: &Scope, out: &mut Vec<RawMatch>, work: &mut Work) {
        for run in base64::runs(scope.hay) {
            let span = run.span();
            if span.start >= scope.report.end {
                break;
            }
            if span.end <= scope.report.start {
                continue;
            }
            self.decode_base64_run(&run, scope, out, work);
            // Lines all of one width may be values one per line, which joined would glue each
            // key to the text before it: each line is searched on its own too. (A wrapped value
            // almost always ends in a shorter or padded line, so this costs nothing there.)
            if run.is_equal_lines() {
                for line in run.lines() {
                    self.decode_base64_run(&line, scope, out, work);
                }
            }
        }
    }

    fn decode_base64_run(
        &self,
        run: &base64::Run,
        scope: &Scope,
        out: &mut Vec<RawMatch>,
        work: &mut Work,
    ) {
        let hay = scope.hay;
        for alignment in base64::alignments(hay, run) {
            base64::decode_pieces(
                hay,
                run,
                alignment,
                MAX_PIECE,
                self.piece_overlap(),
                |piece| {
                    if piece.offset_of(run, 0) >= scope.report.end || !work.take(piece.text.len()) {
                        return false;
                    }
                    let at = |index: usize| piece.offset_of(run, index);
                    self.find_decoded(&piece.text, at, Transform::Base64.name(), scope, out, work);
                    true
                },
            );
        }
    }

    fn find_in_utf16(&self, scope: &Scope, out: &mut Vec<RawMatch>, work: &mut Work) {
        let hay = scope.hay;
        if memchr::memchr(0, hay).is_none() {
            return;
        }
        let (forms, orders) = &self.utf16_forms;
        let mut hits: Vec<_> = forms
            .every_occurrence(hay)
            .map(|hit| (hit.range(), orders[hit.pattern().as_usize()]))
            .collect();
        hits.sort_by_key(|(hit, _)| hit.start);
        // The end of the last run of each byte order: hits before it are inside it.
        let mut taken = [0usize; 2];
        let mut runs: Vec<(Range<usize>, Transform)> = Vec::new();
        for (hit, transform) in hits {
            let order = usize::from(transform == Transform::Utf16Be);
            if hit.start < taken[order] {
                continue;
            }
            let run = decode::utf16_run(hay, hit, transform, taken[order]);
            taken[order] = run.end;
            if run.start < scope.report.end && run.end > scope.report.start {
                runs.push((run, transform));
            }
        }
        drop_misread_utf16(&mut runs, scope.offset);
        let overlap = self.piece_overlap();
        for (run, transform) in runs {
            let mut from = run.start;
            while from < run.end && from < scope.report.end {
                let to = (from + MAX_PIECE).min(run.end);
                if !work.take((to - from) / 2) {
                    break;
                }
                let text = decode::decode_utf16(&hay[from..to], transform);
                let at = |index: usize| from + 2 * index;
                self.find_decoded(&text, at, transform.name(), scope, out, work);
                if to == run.end {
                    break;
                }
                from = to - overlap;
            }
        }
    }

    /// Matches in the unescaped text of the keyword windows that hold escapes (percent,
    /// JSON/JavaScript, HTML); a secret written plainly there is left to the plain search.
    fn find_unescaped(
        &self,
        scope: &Scope,
        windows: &[Vec<Range<usize>>],
        out: &mut Vec<RawMatch>,
        work: &mut Work,
    ) {
        let hay = scope.hay;
        // Several rules share a keyword, and so a window: each stretch is unescaped once.
        let mut escaped: Vec<Range<usize>> = windows
            .iter()
            .flatten()
            .filter(|w| decode::has_escapes(&hay[(*w).clone()]))
            .cloned()
            .collect();
        escaped.sort_by_key(|w| w.start);
        let mut merged: Vec<Range<usize>> = Vec::new();
        for window in escaped {
            super::push_merged(&mut merged, window);
        }
        for window in merged {
            let Some((text, origin, kinds)) = decode::unescape(&hay[window.clone()]) else {
                continue;
            };
            if !work.take(text.len()) {
                break;
            }
            let at =
                |index: usize| window.start + origin.get(index).copied().unwrap_or(window.len());
            let first = out.len();
            self.find_decoded(&text, at, &kinds.join("+"), scope, out, work);
            // A secret written plainly is the plain search's.
            let mut index = first;
            while index < out.len() {
                let m = &out[index];
                let secret = &m.decoded.as_ref().expect("decoded").secret;
                if hay.get(m.span.clone()) == Some(secret.as_slice()) {
                    out.swap_remove(index);
                } else {
                    index += 1;
                }
            }
        }
    }

    /// Searches decoded `text` one encoding less deep and appends what it finds to `out`, at
    /// the places of the haystack `at` gives for its byte offsets, when they start inside
    /// `scope.report`.
    fn find_decoded(
        &self,
        text: &[u8],
        at: impl Fn(usize) -> usize,
        outer: &str,
        scope: &Scope,
        out: &mut Vec<RawMatch>,
        work: &mut Work,
    ) {
        let mut inner = Vec::new();
        let inner_scope = Scope {
            hay: text,
            offset: 0,
            report: 0..text.len(),
            depth: scope.depth - 1,
        };
        self.find_nested(&inner_scope, &mut inner, work);
        for m in inner {
            let start = at(m.span.start);
            if !scope.report.contains(&start) {
                continue;
            }
            let (secret, encoding) = match m.decoded {
                Some(d) => (d.secret, format!("{outer}>{}", d.encoding)),
                None => (text[m.span.clone()].to_vec(), outer.to_string()),
            };
            out.push(RawMatch {
                rule: m.rule,
                span: start..at(m.span.end).max(start + 1),
                decoded: Some(Box::new(Decoded { secret, encoding })),
            });
        }
    }
}

/// UTF-16 text read one byte off looks like the other byte order: of two overlapping runs in
/// opposite orders, one is the misreading. UTF-16 text starts at an even offset of its input
/// (at 0, or after a 2-byte BOM), so the reading whose characters start at odd offsets is the
/// wrong one. (Telling them apart by which starts first fails on every line but the first: a
/// little-endian line break `\n\0` lends its zero to a big-endian misreading of the next line.)
fn drop_misread_utf16(runs: &mut Vec<(Range<usize>, Transform)>, offset: u64) {
    runs.sort_by_key(|(run, _)| run.start);
    let overlaps_other = |i: usize, j: usize| {
        let ((a, order_a), (b, order_b)) = (&runs[i], &runs[j]);
        order_a != order_b && a.start < b.end && b.start < a.end
    };
    let misread: Vec<bool> = (0..runs.len())
        .map(|i| {
            let odd = (offset + runs[i].0.start as u64) % 2 == 1;
            let neighbours = [i.checked_sub(1), Some(i + 1)];
            odd && neighbours
                .into_iter()
                .flatten()
                .filter(|&j| j < runs.len())
                .any(|j| overlaps_other(i, j))
        })
        .collect();
    let mut index = 0;
    runs.retain(|_| {
        index += 1;
        !misread[index - 1]
    });
}

#[cfg(test)]
mod tests {
    use ::base64::Engine;
    use ::base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::matcher::tests::key;
    use crate::rules::RuleSet;

    const MARKER: &str = concat!("T3Bl", "bkFJ");

    /// What finding keys in `input` cost, and the keys found.
    fn work_on(matcher: &Matcher, input: &[u8]) -> (Work, Vec<Vec<u8>>) {
        let mut out = Vec::new();
        let work = matcher.find(input, 0..input.len(), &mut out);
        let secrets = out
            .into_iter()
            .map(|m| {
                m.decoded
                    .map_or_else(|| input[m.span].to_vec(), |d| d.secret)
            })
            .collect();
        (work, secrets)
    }

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// Issue 16: every keyword hit in a base64 or UTF-16 flood decoded a fresh 64 KiB run, about
    /// 70 µs per input byte. Now each run is decoded once per alignment, in pieces: the bytes
    /// decoded stay below the input's size times a small constant, whatever the flood, and the
    /// key at its end is still found.
    #[test]
    fn floods_decode_a_bounded_number_of_bytes_per_input_byte() {
        let matcher = Matcher::new(RuleSet::builtin().unwrap());
        let secret = key(&mut fastrand::Rng::with_seed(9));
        let size = 512 << 10;
        let flood = MARKER.repeat(size / MARKER.len());
        let b64 = |text: &str| STANDARD.encode(text)[..size].to_string();
        let wrapped = |text: String| -> String {
            text.as_bytes()
                .chunks(76)
                .map(|l| format!("{}\n", std::str::from_utf8(l).unwrap()))
                .collect()
        };
        // The marker is itself base64 (of "OpenAI", which is base64-shaped too), so these decode
        // level after level: 3/4 of the input, 3/4 of that... below 3 bytes per input byte.
        let inputs: Vec<(&str, Vec<u8>)> = vec![
            (
                "base64 line",
                format!("{}\n{}\n", b64(&flood), STANDARD.encode(&secret)).into(),
            ),
            (
                "base64 wrapped",
                format!("{}{}\n", wrapped(b64(&flood)), STANDARD.encode(&secret)).into(),
            ),
            (
                "base64 of base64",
                format!(
                    "{}\n{}\n",
                    b64(&STANDARD.encode(&flood)),
                    STANDARD.encode(&secret)
                )
                .into(),
            ),
            (
                "base64 thrice",
                format!(
                    "{}\n{}\n",
                    b64(&STANDARD.encode(STANDARD.encode(&flood))),
                    STANDARD.encode(&secret)
                )
                .into(),
            ),
            (
                "utf-16le",
                [
                    utf16le(&flood[..size / 2]),
                    utf16le(&format!(" {secret}\n")),
                ]
                .concat(),
            ),
            (
                "escapes",
                format!(
                    "{}\n{secret}\n",
                    format!("{MARKER}\\u002d").repeat(size / 14)
                )
                .into(),
            ),
        ];
        for (name, input) in inputs {
            let (work, found) = work_on(&matcher, &input);
            assert!(
                work.decoded <= 3 * input.len(),
                "{name}: {} bytes decoded for {} of input",
                work.decoded,
                input.len()
            );
            assert_eq!(work.skipped, 0, "{name}");
            assert_eq!(found, [secret.as_bytes().to_vec()], "{name}");
        }
    }

    /// Base64 whose every alignment looks like text (`QUFB`, base64 of `AAA`), nested as deep as
    /// the depth allows: the budget stops it at a few bytes decoded per input byte.
    #[test]
    fn the_budget_bounds_input_that_decodes_every_way() {
        let matcher = Matcher::new(RuleSet::builtin().unwrap()).with_decode_depth(10);
        let mut text = "A".repeat(1 << 20);
        for _ in 0..3 {
            text = STANDARD.encode(&text)[..1 << 20].to_string();
        }
        let (work, _) = work_on(&matcher, text.as_bytes());
        assert!(work.decoded <= BUDGET_PER_BYTE * text.len() + BUDGET_SLACK + MAX_PIECE);
    }
}
