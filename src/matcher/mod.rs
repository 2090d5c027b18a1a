//! Finding rule matches in bytes.
//!
//! [`Matcher`] runs Aho-Corasick over every rule's keywords ([`keywords`]), then each rule's
//! regex only in a window around its keywords' hits, then the filters ([`filters`]:
//! boundaries, balance, entropy, placeholders), and looks inside encodings ([`encoded`]: base64
//! runs found by [`base64`], UTF-16 and escapes decoded by [`decode`]).
//! [`ChunkScanner`] ([`chunk`]) feeds it input of any size in bounded pieces and turns byte
//! offsets into 1-based lines and columns, so a 2 GB file or a 5 MB single line costs a fixed
//! amount of memory. [`examples`] runs a rule set's examples through a matcher.

pub mod base64;
pub mod chunk;
mod context;
pub mod decode;
pub mod encoded;
pub mod examples;
mod fakes;
pub mod filters;
mod keywords;

use std::ops::Range;

use crate::rules::{Rule, RuleSet};
pub use chunk::{ChunkScanner, DEFAULT_CHUNK_SIZE, LocatedMatch, count_chars};
use chunk::{LineStart, locate};
use decode::Transform;
use encoded::{Scope, Work};
use filters::starts_at_boundary;
pub use filters::{is_token_byte, shannon_entropy};
use keywords::Patterns;

/// Marker that suppresses every finding on its line.
pub const INLINE_ALLOW_MARKER: &[u8] = b"ferret:allow";

/// A match of one rule: the secret's byte span in the haystack (for a decoded secret, the span
/// of the encoded text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMatch {
    pub rule: usize,
    pub span: Range<usize>,
    /// Set when the secret was found in decoded text.
    pub decoded: Option<Box<Decoded>>,
}

/// A secret found in decoded text, and how it was encoded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decoded {
    pub secret: Vec<u8>,
    /// The encodings from the outside in: `base64`, `base64>json-escape`…
    pub encoding: String,
}

/// How deep encodings are decoded inside each other by default.
pub const DEFAULT_DECODE_DEPTH: usize = 3;

/// The compiled rule set, ready to search bytes. Cheap to share between threads.
#[derive(Debug)]
pub struct Matcher {
    rules: RuleSet,
    keywords: Patterns,
    /// For each keyword pattern id, the rules that use it.
    keyword_rules: Vec<Vec<usize>>,
    /// The keywords' UTF-16 forms, searched only in input holding a zero byte (text never
    /// does), with each pattern's byte order. (Base64 needs no forms: its runs are found by
    /// their shape.)
    utf16_forms: (Patterns, Vec<Transform>),
    secret_groups: Vec<Option<usize>>,
    /// For each rule with a `block`, its search for keys named by their block ([`context`]).
    blocks: Vec<Option<context::BlockFinder>>,
    /// The longest a match may reach from a keyword, over all rules.
    max_reach: usize,
    /// How many encodings deep secrets are looked for (0: plain text only).
    decode_depth: usize,
}

impl Matcher {
    pub fn new(rules: RuleSet) -> Self {
        let mut keywords: Vec<&str> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (index, rule) in rules.rules.iter().enumerate() {
            for keyword in &rule.keywords {
                match keywords.iter().position(|k| k == keyword) {
                    Some(id) => keyword_rules[id].push(index),
                    None => {
                        keywords.push(keyword);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
        }
        let mut wide: Vec<Vec<u8>> = Vec::new();
        let mut wide_orders = Vec::new();
        for keyword in &keywords {
            for (form, transform) in decode::utf16_forms(keyword) {
                wide.push(form);
                wide_orders.push(transform);
            }
        }
        let keyword_bytes: Vec<&[u8]> = keywords.iter().map(|k| k.as_bytes()).collect();
        let wide_bytes: Vec<&[u8]> = wide.iter().map(Vec::as_slice).collect();
        let keywords = Patterns::new(&keyword_bytes);
        // Every occurrence here: a little-endian form and the big-endian misreading one byte
        // before it overlap, and both are needed to tell which is right.
        let utf16_forms = (Patterns::new(&wide_bytes), wide_orders);
        let secret_groups = rules.rules.iter().map(Rule::secret_group).collect();
        let blocks = rules
            .rules
            .iter()
            .map(|rule| rule.block.as_ref().map(context::BlockFinder::new))
            .collect();
        let max_reach = rules
            .rules
            .iter()
            .map(|r| r.max_len + r.keywords.iter().map(String::len).max().unwrap_or(0))
            .max()
            .unwrap_or(0);
        Matcher {
            rules,
            keywords,
            keyword_rules,
            utf16_forms,
            secret_groups,
            blocks,
            max_reach,
            decode_depth: DEFAULT_DECODE_DEPTH,
        }
    }

    /// Looks for secrets `depth` encodings deep (0: in plain text only).
    pub fn with_decode_depth(mut self, depth: usize) -> Self {
        self.decode_depth = depth;
        self
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules.rules
    }

    /// How many bytes of input one match can span at most, keyword included.
    pub fn max_reach(&self) -> usize {
        self.max_reach
    }

    /// How many bytes of input one match can span at most when it is encoded a few levels deep
    /// (base64 adds a third, UTF-16 doubles).
    pub fn max_encoded_reach(&self) -> usize {
        4 * self.max_reach
    }

    /// Appends to `out` every match in `hay` whose secret starts inside `report`, sorted by
    /// position. Bytes of `hay` outside `report` serve as context only. Returns what decoding
    /// cost.
    pub fn find(&self, hay: &[u8], report: Range<usize>, out: &mut Vec<RawMatch>) -> Work {
        self.find_at(hay, 0, report, out)
    }

    /// [`Matcher::find`] for a haystack that starts `offset` bytes into its input.
    pub fn find_at(
        &self,
        hay: &[u8],
        offset: u64,
        report: Range<usize>,
        out: &mut Vec<RawMatch>,
    ) -> Work {
        let mut work = Work::for_input(hay.len());
        let scope = Scope {
            hay,
            offset,
            report,
            depth: self.decode_depth,
        };
        self.find_nested(&scope, out, &mut work);
        work
    }

    /// [`Matcher::find`] in `scope`, decoding at most `scope.depth` encodings deep.
    fn find_nested(&self, scope: &Scope, out: &mut Vec<RawMatch>, work: &mut Work) {
        let first = out.len();
        let windows = self.keyword_windows(scope.hay, &scope.report);
        for (index, rule_windows) in windows.iter().enumerate() {
            for window in rule_windows {
                self.find_in_window(index, scope.hay, window.clone(), &scope.report, out);
            }
        }
        if scope.depth > 0 {
            self.find_encoded(scope, &windows, out, work);
        }
        out[first..].sort_by(|a, b| {
            (a.span.start, a.rule, &a.decoded).cmp(&(b.span.start, b.rule, &b.decoded))
        });
        out.dedup();
    }

    /// For each rule, the windows around its keywords' hits where a match may be, merged.
    fn keyword_windows(&self, hay: &[u8], report: &Range<usize>) -> Vec<Vec<Range<usize>>> {
        let mut windows: Vec<Vec<Range<usize>>> = vec![Vec::new(); self.rules.rules.len()];
        for hit in self.keywords.every_occurrence(hay) {
            for &rule in &self.keyword_rules[hit.pattern().as_usize()] {
                let reach = self.rules.rules[rule].max_len;
                let window = hit.start().saturating_sub(reach)..(hit.end() + reach).min(hay.len());
                if window.end <= report.start || window.start >= report.end + reach {
                    continue;
                }
                push_merged(&mut windows[rule], window);
            }
        }
        windows
    }

    fn find_in_window(
        &self,
        index: usize,
        hay: &[u8],
        window: Range<usize>,
        report: &Range<usize>,
        out: &mut Vec<RawMatch>,
    ) {
        let rule = &self.rules.rules[index];
        let base = window.start;
        if let Some(block) = &self.blocks[index] {
            self.find_in_blocks(index, block, hay, window.clone(), report, out);
        }
        for caps in rule.pattern.captures_iter(&hay[window]) {
            let group = self.secret_groups[index].unwrap_or(0);
            let Some(secret) = caps.get(group) else {
                continue;
            };
            let mut span = base + secret.start()..base + secret.end();
            if !report.contains(&span.start) || !starts_at_boundary(hay, span.start) {
                continue;
            }
            if rule.balanced {
                let (Some(head), Some(tail)) = (caps.name("head"), caps.name("tail")) else {
                    continue;
                };
                // The greedy tail also takes a `-suffix` or `_suffix` glued to the key
                // (`KEY=sk-proj-…-prod`): the key ends where the tail is as long as the head,
                // if a separator follows there. A shorter tail is a truncated key.
                let excess = tail.len() as isize - head.len() as isize;
                let separator_at_cut =
                    || matches!(tail.as_bytes().get(head.len()), Some(b'-' | b'_'));
                if excess < 0 || (excess > 0 && !separator_at_cut()) {
                    continue;
                }
                span.end -= excess as usize;
            }
            if hay.get(span.end).is_some_and(u8::is_ascii_alphanumeric)
                || !Self::looks_like_a_key(rule, &hay[span.clone()])
            {
                continue;
            }
            out.push(RawMatch {
                rule: index,
                span,
                decoded: None,
            });
        }
    }

    /// Whether a rule's match passes its entropy and placeholder filters.
    fn looks_like_a_key(rule: &Rule, bytes: &[u8]) -> bool {
        !(rule
            .min_entropy
            .is_some_and(|min| shannon_entropy(bytes) < min)
            || rule
                .placeholders
                .as_ref()
                .is_some_and(|p| p.is_match(bytes) || fakes::looks_made_up(bytes)))
    }

    /// True when the line around `span` carries the inline allow marker.
    pub fn inline_allowed(hay: &[u8], span: &Range<usize>) -> bool {
        const LOOK: usize = 4096;
        let from = span.start.saturating_sub(LOOK);
        let line_start =
            memchr::memrchr(b'\n', &hay[from..span.start]).map_or(from, |i| from + i + 1);
        let to = (span.end + LOOK).min(hay.len());
        let line_end = memchr::memchr(b'\n', &hay[span.end..to]).map_or(to, |i| span.end + i);
        memchr::memmem::find(&hay[line_start..line_end], INLINE_ALLOW_MARKER).is_some()
    }

    /// Whether `secret` is what rule `rule` reports: found whole by that rule in the secret
    /// alone, or written after one of the rule's keywords (for rules that need their
    /// provider's name nearby). A report read back names its rule; this keeps a record from
    /// sending a key to a provider its rule does not belong to.
    pub fn confirms(&self, rule: usize, secret: &[u8]) -> bool {
        let Some(keywords) = self.rules.rules.get(rule).map(|r| &r.keywords) else {
            return false;
        };
        let mut probes = vec![secret.to_vec()];
        for keyword in keywords {
            probes.push([keyword.as_bytes(), b"_API_KEY=", secret, b"\n"].concat());
        }
        probes.iter().any(|probe| {
            self.locate_all(probe)
                .iter()
                .any(|m| m.rule == rule && m.secret.expose() == secret)
        })
    }

    /// Every match in an input that is already wholly in memory (a git blob), located.
    pub fn locate_all(&self, hay: &[u8]) -> Vec<LocatedMatch> {
        let mut raw = Vec::new();
        self.find(hay, 0..hay.len(), &mut raw);
        let mut located = Vec::with_capacity(raw.len());
        locate(hay, 0, &LineStart::input_start(hay), &raw, &mut |m| {
            located.push(m)
        });
        located
    }
}

fn push_merged(windows: &mut Vec<Range<usize>>, window: Range<usize>) {
    match windows.last_mut() {
        Some(last) if window.start <= last.end && window.end >= last.start => {
            last.start = last.start.min(window.start);
            last.end = last.end.max(window.end);
        }
        _ => windows.push(window),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{self, Read};

    use super::*;
    use crate::secret::Secret;

    /// A project key, assembled at run time.
    pub(crate) fn key(rng: &mut fastrand::Rng) -> String {
        let body = |rng: &mut fastrand::Rng| -> String {
            (0..74)
                .map(|_| {
                    let set = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                    set[rng.usize(..set.len())] as char
                })
                .collect()
        };
        format!("sk-proj-{}{}{}", body(rng), "T3BlbkFJ", body(rng))
    }

    fn matcher() -> Matcher {
        Matcher::new(RuleSet::builtin().unwrap())
    }

    fn scan_all(matcher: &Matcher, input: &[u8], chunk: usize) -> Vec<LocatedMatch> {
        let mut scanner = ChunkScanner::with_chunk_size(matcher, chunk);
        let mut out = Vec::new();
        // A reader that yields odd-sized pieces exercises every cut.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = self.1 % 7919 + 1013;
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        scanner
            .scan_reader(Trickle(input, 0), |m| out.push(m))
            .unwrap();
        out
    }

    #[test]
    fn finds_keys_across_chunk_cuts_with_lines_and_columns() {
        let matcher = matcher();
        let mut rng = fastrand::Rng::with_seed(1);
        let mut input = Vec::new();
        let mut expected = Vec::new();
        let mut line = 1u64;
        // Long lines with keys at every position relative to the cuts, and short lines between.
        for i in 0..300 {
            let pad = "a ".repeat(i * 37 % 5000);
            let k = key(&mut rng);
            // The key starts after `key=`: column = pad + 4 + 1.
            expected.push((
                line,
                pad.len() as u64 + 5,
                Secret::new(k.clone()).fingerprint(),
            ));
            input.extend_from_slice(format!("{pad}key={k} trailing\nshort {i}\n").as_bytes());
            line += 2;
        }
        for chunk in [4096, 10_000, 65_536, 1 << 20] {
            let found = scan_all(&matcher, &input, chunk);
            let got: Vec<_> = found
                .iter()
                .map(|m| (m.line, m.column, m.secret.fingerprint()))
                .collect();
            assert_eq!(got.len(), expected.len(), "chunk size {chunk}");
            for (got, expected) in got.iter().zip(&expected) {
                assert_eq!(got, expected, "chunk size {chunk}");
            }
        }
    }

    #[test]
    fn single_huge_line_is_scanned_in_bounded_pieces() {
        let matcher = matcher();
        let mut rng = fastrand::Rng::with_seed(2);
        let mut input = Vec::new();
        let mut keys = Vec::new();
        for _ in 0..50 {
            input.extend(std::iter::repeat_n(b'z', 30_011));
            input.push(b',');
            let k = key(&mut rng);
            input.extend_from_slice(k.as_bytes());
            keys.push(k);
            input.push(b',');
        }
        let mut scanner = ChunkScanner::with_chunk_size(&matcher, 65_536);
        let mut found = Vec::new();
        scanner
            .scan_reader(&input[..], |m| found.push(m.secret.expose_str()))
            .unwrap();
        assert_eq!(found, keys);
        assert!(
            scanner.buf.capacity() < 4 * 65_536,
            "buffer grew to {}",
            scanner.buf.capacity()
        );
    }

    #[test]
    fn columns_count_characters_when_a_cut_falls_inside_one() {
        let matcher = matcher();
        let mut rng = fastrand::Rng::with_seed(4);
        let mut input = Vec::new();
        let mut expected = Vec::new();
        let mut column = 1u64;
        // One long line of 2-, 3- and 4-byte characters and stray continuation bytes (one
        // column each), so that cuts land inside characters at every offset.
        for i in 0..200 {
            let pad = "é€𝄞a".repeat(i * 53 % 700 + 1);
            input.extend_from_slice(pad.as_bytes());
            input.extend_from_slice(b"\x80 ");
            column += pad.chars().count() as u64 + 2;
            let k = key(&mut rng);
            expected.push((column, Secret::new(k.clone()).fingerprint()));
            input.extend_from_slice(k.as_bytes());
            input.push(b' ');
            column += k.len() as u64 + 1;
        }
        for chunk in [4096, 10_000, 65_536] {
            let got: Vec<_> = scan_all(&matcher, &input, chunk)
                .iter()
                .map(|m| (m.column, m.secret.fingerprint()))
                .collect();
            assert_eq!(got.len(), expected.len(), "chunk size {chunk}");
            for (index, (got, expected)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(got, expected, "chunk size {chunk}, key {index}");
            }
        }
    }

    #[test]
    fn an_interrupted_read_is_retried_not_taken_for_the_end() {
        struct Interrupting<'a> {
            data: &'a [u8],
            interrupt_next: bool,
        }
        impl Read for Interrupting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.interrupt_next = !self.interrupt_next;
                if self.interrupt_next {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                let n = 100.min(buf.len()).min(self.data.len());
                buf[..n].copy_from_slice(&self.data[..n]);
                self.data = &self.data[n..];
                Ok(n)
            }
        }
        let matcher = matcher();
        let k = key(&mut fastrand::Rng::with_seed(5));
        let input = format!("{}\nkey={k}\n", "x".repeat(1000));
        let mut scanner = ChunkScanner::new(&matcher);
        let mut found = Vec::new();
        let reader = Interrupting {
            data: input.as_bytes(),
            interrupt_next: false,
        };
        scanner
            .scan_reader(reader, |m| found.push((m.line, m.secret.fingerprint())))
            .unwrap();
        assert_eq!(found, [(2, Secret::new(k).fingerprint())]);
    }

    #[test]
    fn keys_in_wrapped_base64_are_found_across_chunk_cuts() {
        use ::base64::Engine;
        let matcher = matcher();
        let mut rng = fastrand::Rng::with_seed(6);
        let mut input = Vec::new();
        let mut keys = Vec::new();
        // Wrapped blocks of every length, so that cuts fall at every place inside them, and
        // long base64 lines.
        for i in 0..60 {
            let k = key(&mut rng);
            let text = format!("{}\nOPENAI_API_KEY={k}\n", "x".repeat(i * 131 % 3000));
            let encoded = ::base64::engine::general_purpose::STANDARD.encode(&text);
            if i % 3 == 0 {
                input.extend_from_slice(format!("line: {encoded}\n").as_bytes());
            } else {
                input.extend_from_slice(b"data: |\n");
                for line in encoded.as_bytes().chunks(if i % 2 == 0 { 64 } else { 76 }) {
                    input.extend_from_slice(b"  ");
                    input.extend_from_slice(line);
                    input.extend_from_slice(b"\r\n");
                }
            }
            keys.push(k);
        }
        let whole: Vec<_> = matcher
            .locate_all(&input)
            .into_iter()
            .map(|m| (m.offset, m.line, m.column, m.secret.fingerprint()))
            .collect();
        let expected: Vec<_> = keys
            .iter()
            .map(|k| Secret::new(k.clone()).fingerprint())
            .collect();
        assert_eq!(
            whole.iter().map(|m| m.3.clone()).collect::<Vec<_>>(),
            expected
        );
        for chunk in [4096, 10_000, 65_536] {
            let chunked: Vec<_> = scan_all(&matcher, &input, chunk)
                .into_iter()
                .map(|m| (m.offset, m.line, m.column, m.secret.fingerprint()))
                .collect();
            assert_eq!(chunked, whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn inline_allow_marks_only_its_line() {
        let matcher = matcher();
        let mut rng = fastrand::Rng::with_seed(3);
        let (a, b) = (key(&mut rng), key(&mut rng));
        let input = format!("x = \"{a}\"  # ferret:allow\ny = \"{b}\"\n");
        let found = scan_all(&matcher, input.as_bytes(), 4096);
        let allowed: Vec<_> = found.iter().map(|m| m.inline_allowed).collect();
        assert_eq!(allowed, [true, false]);
    }

    #[test]
    fn keywords_inside_or_across_other_keywords_are_all_found() {
        let mut rules = RuleSet::default();
        let rule = |id: &str, keyword: &str, pattern: &str| {
            format!(
                "[[rule]]\nid = '{id}'\nname = '{id}'\nseverity = 'low'\nkeywords = ['{keyword}']\npattern = '{pattern}'\n"
            )
        };
        let text = [
            rule("short", "key", "key[0-9]{8}"),
            rule("nested", "key_live_", "key_live_[0-9]{8}"),
            rule("across", "ylive", "ylive:(?P<secret>[0-9]{8})"),
        ]
        .concat();
        rules.add_file("t.toml", &text).unwrap();
        let matcher = Matcher::new(rules);
        // `key` hides `key_live_` (same start) and `ylive` (starting inside it).
        let hay = b"x key_live_12345678 key87654321 keylive:11112222";
        let found: Vec<_> = matcher
            .locate_all(hay)
            .iter()
            .map(|m| (matcher.rules()[m.rule].id.as_str(), m.offset))
            .collect();
        assert_eq!(found, [("nested", 2), ("short", 20), ("across", 40)]);
    }

    #[test]
    fn entropy_of_uniform_and_constant_bytes() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    }
}
