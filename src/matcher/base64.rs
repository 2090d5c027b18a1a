//! Base64 text in a haystack: where its runs are (wrapped blocks included), how their 4-character
//! groups are aligned, and what they decode to, with the place in the haystack of every decoded
//! byte.
//!
//! Runs are found by their shape, not by a keyword's encoded forms: a form search misses keys
//! whose prefix is too short to have a distinctive form (`hf_`, `AIza`), base64 inside base64
//! (its forms would be forms of forms) and forms cut by a line break. Finding runs costs little
//! on ordinary text: [`runs`] looks at one byte in about every [`MIN_RUN`] of text and walks back
//! only to the last byte that cannot be base64, so most bytes are never read.

use std::ops::Range;

/// The shortest run decoded, in characters. The shortest key of the built-in rules is 35 bytes,
/// which takes at least 47 characters in base64 wherever it falls in a 3-byte group; 40 leaves a
/// margin and keeps identifiers, paths and most hex digests out.
pub const MIN_RUN: usize = 40;

/// The widest line taken for a line of a wrapped block (GNU `base64` wraps at 76, PEM at 64).
/// Wider lines of equal width are more likely separate values, one per line.
pub const MAX_WRAP: usize = 128;

/// A base64 character's 6-bit value (both alphabets: `+`/`-` are 62, `/`/`_` are 63), or
/// [`NOT_BASE64`]. `=` is padding, not part of a run's body.
static VALUE: [u8; 256] = {
    let mut table = [NOT_BASE64; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u8;
        table[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    table[b'+' as usize] = 62;
    table[b'-' as usize] = 62;
    table[b'/' as usize] = 63;
    table[b'_' as usize] = 63;
    table
};
const NOT_BASE64: u8 = 0xFF;

fn is_base64(b: u8) -> bool {
    VALUE[b as usize] != NOT_BASE64
}

/// One run of base64 text: a single stretch of a line, or the lines of a wrapped block (GNU
/// `base64` wraps at 76 columns, PEM and MIME at 64 or 76), each line a segment, joined without
/// their line breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The segments in order: where each starts in the haystack and in the joined text.
    segments: Vec<Segment>,
    /// Characters in all, padding not included.
    len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    at: usize,
    from: usize,
    len: usize,
}

impl Run {
    fn new(first: Range<usize>) -> Self {
        Run {
            segments: vec![Segment {
                at: first.start,
                from: 0,
                len: first.len(),
            }],
            len: first.len(),
        }
    }

    fn push(&mut self, segment: Range<usize>) {
        self.segments.push(Segment {
            at: segment.start,
            from: self.len,
            len: segment.len(),
        });
        self.len += segment.len();
    }

    /// Characters in the run (line breaks and padding not counted).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the run starts and ends in the haystack.
    pub fn span(&self) -> Range<usize> {
        let last = self.segments.last().expect("a run has a segment");
        self.segments[0].at..last.at + last.len
    }

    /// Where character `index` of the joined text is in the haystack (the end of the run for
    /// `index == len`).
    pub fn offset_of(&self, index: usize) -> usize {
        let at = self.segments.partition_point(|s| s.from + s.len <= index);
        match self.segments.get(at) {
            Some(s) => s.at + (index - s.from),
            None => self.span().end,
        }
    }

    /// How many lines the run spans.
    pub fn line_count(&self) -> usize {
        self.segments.len()
    }

    /// Each line of the run as a run of its own.
    pub fn lines(&self) -> impl Iterator<Item = Run> + '_ {
        self.segments.iter().map(|s| Run::new(s.at..s.at + s.len))
    }

    /// The characters from `index` on, across segments.
    fn chars<'h>(&'h self, hay: &'h [u8], from: usize) -> impl Iterator<Item = u8> + 'h {
        let at = self.segments.partition_point(|s| s.from + s.len <= from);
        self.segments[at..].iter().flat_map(move |s| {
            let skip = from.saturating_sub(s.from);
            hay[s.at + skip..s.at + s.len].iter().copied()
        })
    }
}

/// The runs of at least [`MIN_RUN`] base64 characters in `hay`, in order; a line that is a run
/// by itself and is followed by lines of the same width (and a last one no wider) is a wrapped
/// block, one run.
pub fn runs(hay: &[u8]) -> impl Iterator<Item = Run> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let (start, end) = next_run(hay, at)?;
        let mut run = Run::new(start..end);
        at = extend_wrapped(hay, &mut run, start, end);
        Some(run)
    })
}

/// The next stretch of at least [`MIN_RUN`] base64 characters at or after `from`. It probes the
/// byte where a run starting here would have to reach: a byte that cannot be base64 there rules
/// out every start before it, so text costs about one probe per [`MIN_RUN`] bytes.
fn next_run(hay: &[u8], mut from: usize) -> Option<(usize, usize)> {
    while from + MIN_RUN <= hay.len() {
        let probe = from + MIN_RUN - 1;
        if !is_base64(hay[probe]) {
            from = probe + 1;
            continue;
        }
        if let Some(gap) = hay[from..probe].iter().rposition(|&b| !is_base64(b)) {
            from += gap + 1;
            continue;
        }
        let end = probe + hay[probe..].iter().take_while(|&&b| is_base64(b)).count();
        // After a backslash the first character is an escape's letter (`\n` in a JSON string).
        let start = from + usize::from(from > 0 && hay[from - 1] == b'\\');
        return Some((start, end));
    }
    None
}

/// Joins to `run` (a stretch `start..end` of one line) the lines after it when they continue a
/// wrapped block, and returns where the search for the next run goes on. The first line must
/// start its line (after indentation) or a quoted string, end without padding, and be a whole
/// number of groups at most [`MAX_WRAP`] wide; the next lines must be whole lines of the same
/// width, but the last, which may be shorter and padded. Line breaks are `\n` or `\r\n`, or
/// the same written as escapes inside a JSON string. (Values of equal width one per line also
/// pass for a block: the matcher searches each line on its own too.)
fn extend_wrapped(hay: &[u8], run: &mut Run, start: usize, end: usize) -> usize {
    let padded_end = |end: usize| {
        end + hay[end..]
            .iter()
            .take(2)
            .take_while(|&&b| b == b'=')
            .count()
    };
    let after_quote = start > 0 && matches!(hay[start - 1], b'"' | b'\'');
    let width = end - start;
    let mut end = end;
    if (!after_quote && !starts_line(hay, start)) || width % 4 != 0 || width > MAX_WRAP {
        return padded_end(end);
    }
    while let Some(next) = line_break(hay, end) {
        let indent = hay[next..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let from = next + indent;
        let to = from + hay[from..].iter().take_while(|&&b| is_base64(b)).count();
        let after = padded_end(to);
        let line_ends = after == hay.len() || line_break(hay, after).is_some();
        if to == from || to - from > width || !line_ends {
            break;
        }
        run.push(from..to);
        end = after;
        if to - from < width || after > to {
            break;
        }
    }
    padded_end(end)
}

/// Whether `line` (without its line break) may be a line of a wrapped block that goes on: after
/// indentation, at least [`MIN_RUN`] base64 characters and no padding.
pub fn is_wrapped_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let body = line.trim_ascii_start();
    body.len() >= MIN_RUN && body.iter().all(|&b| is_base64(b))
}

/// Whether only spaces and tabs stand between the start of `at`'s line (or of the haystack, or
/// an escaped `\n`) and `at`.
fn starts_line(hay: &[u8], at: usize) -> bool {
    let indent = hay[..at]
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let before = &hay[..at - indent];
    before.is_empty() || before.ends_with(b"\n") || before.ends_with(b"\\n")
}

/// Where the next line starts when a line break stands at `at`.
fn line_break(hay: &[u8], at: usize) -> Option<usize> {
    let rest = &hay[at..];
    [&b"\r\n"[..], b"\n", b"\\r\\n", b"\\n"]
        .iter()
        .find(|brk| rest.starts_with(brk))
        .map(|brk| at + brk.len())
}

/// How a run is worth decoding: the character offsets (0 to 3) where its 4-character groups
/// start, best first; empty when the run is not worth decoding.
///
/// The first character of a group holds the top six bits of a byte, so in base64 of ASCII text
/// (or UTF-16, or mostly-ASCII data) the characters at the right alignment almost all have a
/// value below 32 (`A`–`Z`, `a`–`f`), and about half of those at the three others do. A run that
/// starts where its text starts is aligned at 0; one glued behind other characters (`/v1/c2st…`,
/// or cut by the end of a chunk) is found aligned elsewhere. A run that is not text underneath
/// (binary data, or not base64 at all) is decoded aligned at its start if it looks like base64
/// (digits, capitals and small letters all present), which a long identifier, a path or a hex
/// digest does not.
pub fn alignments(hay: &[u8], run: &Run) -> Vec<usize> {
    let mut low = [0usize; 4];
    let mut total = [0usize; 4];
    let (mut digit, mut upper, mut lower) = (false, false, false);
    for (index, c) in run.chars(hay, 0).enumerate() {
        let value = VALUE[c as usize];
        low[index % 4] += usize::from(value < 32);
        total[index % 4] += 1;
        digit |= c.is_ascii_digit();
        upper |= c.is_ascii_uppercase();
        lower |= c.is_ascii_lowercase();
    }
    let textual = |r: usize| total[r] > 0 && low[r] * 10 >= total[r] * 9;
    if textual(0) {
        return vec![0];
    }
    let mut out = Vec::with_capacity(2);
    if digit && upper && lower {
        out.push(0);
    }
    // The best other alignment, if it looks like text.
    if let Some(best) = (1..4)
        .filter(|&r| textual(r))
        .max_by_key(|&r| low[r] * 1000 / total[r])
    {
        out.insert(0, best);
    }
    out
}

/// A piece of a run decoded: the bytes, and where its first character is in the run.
pub struct Piece {
    pub text: Vec<u8>,
    /// The run's character index of the piece's first group.
    pub first_char: usize,
}

impl Piece {
    /// Where decoded byte `index` of this piece starts in the haystack (the character holding
    /// its first bits); `index == text.len()` gives the end of the last character used.
    pub fn offset_of(&self, run: &Run, index: usize) -> usize {
        if index >= self.text.len() && index > 0 {
            // The character holding the last bits of the last byte, and one past it.
            let last_bit = 8 * index - 1;
            return run.offset_of(self.first_char + last_bit / 6) + 1;
        }
        run.offset_of(self.first_char + 4 * index / 3)
    }
}

/// Decodes `run` aligned at `alignment` in pieces of at most `piece` characters that overlap by
/// `overlap` (both multiples of 4, `overlap < piece`), calling `each` with every piece until it
/// returns false. A key shorter than the overlap lies whole inside one of the pieces.
pub fn decode_pieces(
    hay: &[u8],
    run: &Run,
    alignment: usize,
    piece: usize,
    overlap: usize,
    mut each: impl FnMut(&Piece) -> bool,
) {
    debug_assert!(piece % 4 == 0 && overlap % 4 == 0 && overlap < piece);
    let mut first = alignment;
    let mut buffer = Piece {
        text: Vec::new(),
        first_char: 0,
    };
    while first < run.len() {
        let end = (first + piece).min(run.len());
        buffer.first_char = first;
        buffer.text.clear();
        decode_into(run.chars(hay, first).take(end - first), &mut buffer.text);
        if !buffer.text.is_empty() && !each(&buffer) {
            return;
        }
        if end == run.len() {
            return;
        }
        first += piece - overlap;
    }
}

/// Appends the bytes of base64 characters (either alphabet, no padding) to `out`; a last group
/// of one character, which holds no whole byte, is dropped.
fn decode_into(chars: impl Iterator<Item = u8>, out: &mut Vec<u8>) {
    let mut bits = 0u32;
    let mut count = 0;
    for c in chars {
        bits = bits << 6 | u32::from(VALUE[c as usize] & 63);
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            bits = 0;
            count = 0;
        }
    }
    match count {
        2 => out.push((bits >> 4) as u8),
        3 => out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8]),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    use super::*;

    fn all_runs(hay: &[u8]) -> Vec<Run> {
        runs(hay).collect()
    }

    fn decoded(hay: &[u8], run: &Run, alignment: usize) -> Vec<u8> {
        let mut out = Vec::new();
        decode_pieces(hay, run, alignment, 1 << 20, 4, |p| {
            out.extend_from_slice(&p.text);
            true
        });
        out
    }

    #[test]
    fn runs_are_found_whole_and_short_ones_skipped() {
        let text = "some text with a long base64 value: ";
        let value = STANDARD.encode("the quick brown fox jumps over the lazy dog, twice over");
        let hay = format!("{text}{value} and short/ones_here-too abc\n");
        let found = all_runs(hay.as_bytes());
        assert_eq!(found.len(), 1);
        // The run is the characters; padding is not part of it.
        let body = value.trim_end_matches('=');
        assert_eq!(found[0].span(), text.len()..text.len() + body.len());
        assert_eq!(alignments(hay.as_bytes(), &found[0]), [0]);
        assert_eq!(
            decoded(hay.as_bytes(), &found[0], 0),
            b"the quick brown fox jumps over the lazy dog, twice over"
        );
    }

    #[test]
    fn wrapped_blocks_are_one_run_with_every_line_break() {
        let text: String = (0..300)
            .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
            .collect();
        let encoded = STANDARD.encode(&text);
        for brk in ["\n", "\r\n", "\\n"] {
            for width in [64, 76] {
                let lines: Vec<&str> = encoded
                    .as_bytes()
                    .chunks(width)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect();
                let block = lines.join(&format!("{brk}  "));
                let hay = format!("data: |{brk}  {block}{brk}next: 1{brk}");
                let found = all_runs(hay.as_bytes());
                assert_eq!(found.len(), 1, "{brk:?} {width}");
                assert_eq!(decoded(hay.as_bytes(), &found[0], 0), text.as_bytes());
                // Every character maps back to its place.
                let second_line = hay.find(lines[1]).unwrap();
                assert_eq!(found[0].offset_of(width), second_line);
            }
        }
    }

    #[test]
    fn a_glued_prefix_shifts_the_alignment_and_is_found() {
        let text = b"OPENAI_API_KEY=some value that is long enough to be text";
        for glue in ["", "a", "/v1", "ab/c"] {
            let hay = format!("GET {glue}{} HTTP/1.1", URL_SAFE_NO_PAD.encode(text));
            let found = all_runs(hay.as_bytes());
            assert_eq!(found.len(), 1);
            let best = alignments(hay.as_bytes(), &found[0])[0];
            assert_eq!(best, glue.len() % 4, "{glue:?}");
            let out = decoded(hay.as_bytes(), &found[0], best);
            assert!(out.windows(text.len()).any(|w| w == text), "{glue:?}");
        }
    }

    #[test]
    fn identifiers_paths_and_hex_are_not_decoded() {
        for hay in [
            "totalRepositoriesWithContributedPullRequestReviewsAndMore",
            "tests/fs_uring_completed_then_dropped_before_repoll/again",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let found = all_runs(hay.as_bytes());
            assert_eq!(found.len(), 1);
            assert!(alignments(hay.as_bytes(), &found[0]).is_empty(), "{hay}");
        }
    }

    #[test]
    fn pieces_overlap_and_map_back() {
        let text: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let encoded = STANDARD.encode(&text);
        let hay = format!("v={encoded}");
        let run = all_runs(hay.as_bytes()).remove(0);
        let mut pieces = Vec::new();
        decode_pieces(hay.as_bytes(), &run, 0, 400, 80, |p| {
            // Each piece is the text from where its first group starts.
            let from = p.first_char / 4 * 3;
            assert_eq!(p.text, text[from..from + p.text.len()]);
            assert_eq!(p.offset_of(&run, 0), 2 + p.first_char);
            pieces.push(p.first_char);
            true
        });
        assert_eq!(pieces[..3], [0, 320, 640]);
    }
}
