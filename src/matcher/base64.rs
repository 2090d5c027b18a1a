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

/// The widths at which encoders wrap base64: GNU `base64`, MIME and Python at 76, PEM and
/// OpenSSL at 64. Lines of other widths are separate values, one per line, more often than a
/// wrapped block.
pub const WRAP_WIDTHS: [usize; 2] = [64, 76];

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

    /// Whether the run is lines of equal width, the last one too: as likely a list of values one
    /// per line as one wrapped value.
    pub fn is_equal_lines(&self) -> bool {
        self.segments.len() > 1 && self.segments.iter().all(|s| s.len == self.segments[0].len)
    }

    /// Each line of the run as a run of its own.
    pub fn lines(&self) -> impl Iterator<Item = Run> + '_ {
        self.segments.iter().map(|s| Run::new(s.at..s.at + s.len))
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

/// The next stretch of at least [`MIN_RUN`] base64 characters at or after `from` (which is 0 or
/// follows a byte that cannot be base64).
fn next_run(hay: &[u8], from: usize) -> Option<(usize, usize)> {
    #[cfg(target_arch = "x86_64")]
    let from = match simd::find_candidate(hay, from) {
        simd::Candidate::At(at) => return Some(run_at(hay, at)),
        simd::Candidate::TailFrom(from) => from,
    };
    let at = scalar_candidate(hay, from)?;
    Some(run_at(hay, at))
}

/// The stretch of base64 characters around `at`.
fn run_at(hay: &[u8], at: usize) -> (usize, usize) {
    let mut start = at
        - hay[..at]
            .iter()
            .rev()
            .take_while(|&&b| is_base64(b))
            .count();
    let end = at + hay[at..].iter().take_while(|&&b| is_base64(b)).count();
    // After a backslash the first character is an escape's letter (`\n` in a JSON string).
    if start > 0 && hay[start - 1] == b'\\' {
        start += 1;
    }
    (start, end)
}

/// Where the next run of at least [`MIN_RUN`] base64 characters starts, at or after `from`. It
/// probes the byte where a run starting here would have to reach: a byte that cannot be base64
/// there rules out every start before it, so text costs about one probe per [`MIN_RUN`] bytes
/// and a short walk back to the last byte that cannot be base64.
fn scalar_candidate(hay: &[u8], mut from: usize) -> Option<usize> {
    while from + MIN_RUN <= hay.len() {
        let probe = from + MIN_RUN - 1;
        if !is_base64(hay[probe]) {
            from = probe + 1;
            continue;
        }
        match hay[from..probe].iter().rposition(|&b| !is_base64(b)) {
            Some(gap) => from += gap + 1,
            None => return Some(from),
        }
    }
    None
}

/// The same search 64 bytes at a time with SIMD: AVX2 where the processor has it, else SSE2
/// (part of every x86-64 processor). On source trees the scalar probes cost 0.21 ns per byte,
/// SSE2 0.08; with AVX2, finding runs costs less than the keyword search it replaced.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
        _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm256_and_si256,
        _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };

    use super::MIN_RUN;

    pub(super) enum Candidate {
        /// A run of at least [`MIN_RUN`] characters starts here.
        At(usize),
        /// Fewer than 64 bytes are left: the scalar search goes on from here.
        TailFrom(usize),
    }

    pub(super) fn find_candidate(hay: &[u8], from: usize) -> Candidate {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2.
            unsafe { find_avx2(hay, from) }
        } else {
            // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 processor has it.
            unsafe { find_sse2(hay, from) }
        }
    }

    #[target_feature(enable = "avx2")]
    fn find_avx2(hay: &[u8], from: usize) -> Candidate {
        find_with(hay, from, |word| {
            let (low, high) = word.split_at(32);
            let half = |half: &[u8]| -> u64 {
                let half: &[u8; 32] = half.try_into().expect("32 bytes");
                u64::from(mask_avx2(half))
            };
            half(low) | half(high) << 32
        })
    }

    #[target_feature(enable = "sse2")]
    fn find_sse2(hay: &[u8], from: usize) -> Candidate {
        find_with(hay, from, |word| {
            let mut mask = 0u64;
            for (k, chunk) in word.chunks_exact(16).enumerate() {
                let chunk: &[u8; 16] = chunk.try_into().expect("16 bytes");
                mask |= u64::from(mask_sse2(chunk)) << (16 * k);
            }
            mask
        })
    }

    /// The search over 64-byte words, whose base64 bytes `word_mask` marks (bit i: byte i).
    #[inline(always)]
    fn find_with(hay: &[u8], from: usize, word_mask: impl Fn(&[u8]) -> u64) -> Candidate {
        let mut at = from;
        // Base64 characters that end the previous words, and so may start a run.
        let mut carry = 0;
        while let Some(word) = hay.get(at..at + 64) {
            let mask = word_mask(word);
            let lead = mask.trailing_ones() as usize;
            if carry + lead >= MIN_RUN {
                return Candidate::At(at - carry);
            }
            // Bit i stays set when bits i to i + 39 are all set: a run of 40 starting at i.
            let mut runs = mask;
            for shift in [1, 2, 4, 8, 16, 8] {
                runs &= runs >> shift;
            }
            if runs != 0 {
                return Candidate::At(at + runs.trailing_zeros() as usize);
            }
            carry = if mask == u64::MAX {
                carry + 64
            } else {
                mask.leading_ones() as usize
            };
            at += 64;
        }
        Candidate::TailFrom(at - carry)
    }

    /// Bit i set when byte i of `chunk` is a base64 character (either alphabet). Setting bit 5
    /// folds capitals onto small letters (and nothing else onto them); bytes of 0x80 and above
    /// compare as negative and fall outside every range.
    #[target_feature(enable = "sse2")]
    fn mask_sse2(chunk: &[u8; 16]) -> u32 {
        // SAFETY: `chunk` is 16 readable bytes; the load has no alignment requirement.
        let v: __m128i = unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) };
        let splat = |b: u8| _mm_set1_epi8(b as i8);
        let within = |v: __m128i, lo: u8, hi: u8| {
            _mm_and_si128(
                _mm_cmpgt_epi8(v, splat(lo - 1)),
                _mm_cmplt_epi8(v, splat(hi + 1)),
            )
        };
        let letter = within(_mm_or_si128(v, splat(0x20)), b'a', b'z');
        let digit = within(v, b'0', b'9');
        let sign = _mm_or_si128(
            _mm_cmpeq_epi8(v, splat(b'+')),
            _mm_cmpeq_epi8(v, splat(b'-')),
        );
        let slash = _mm_or_si128(
            _mm_cmpeq_epi8(v, splat(b'/')),
            _mm_cmpeq_epi8(v, splat(b'_')),
        );
        let any = _mm_or_si128(_mm_or_si128(letter, digit), _mm_or_si128(sign, slash));
        _mm_movemask_epi8(any) as u32
    }

    /// [`mask_sse2`] for 32 bytes.
    #[target_feature(enable = "avx2")]
    fn mask_avx2(chunk: &[u8; 32]) -> u32 {
        // SAFETY: `chunk` is 32 readable bytes; the load has no alignment requirement.
        let v: __m256i = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
        let splat = |b: u8| _mm256_set1_epi8(b as i8);
        let within = |v: __m256i, lo: u8, hi: u8| {
            _mm256_and_si256(
                _mm256_cmpgt_epi8(v, splat(lo - 1)),
                _mm256_cmpgt_epi8(splat(hi + 1), v),
            )
        };
        let letter = within(_mm256_or_si256(v, splat(0x20)), b'a', b'z');
        let digit = within(v, b'0', b'9');
        let sign = _mm256_or_si256(
            _mm256_cmpeq_epi8(v, splat(b'+')),
            _mm256_cmpeq_epi8(v, splat(b'-')),
        );
        let slash = _mm256_or_si256(
            _mm256_cmpeq_epi8(v, splat(b'/')),
            _mm256_cmpeq_epi8(v, splat(b'_')),
        );
        let any = _mm256_or_si256(_mm256_or_si256(letter, digit), _mm256_or_si256(sign, slash));
        _mm256_movemask_epi8(any) as u32
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn both_masks_agree_with_the_table() {
            let bytes: Vec<u8> = (0..=255).collect();
            for chunk in bytes.chunks_exact(32) {
                let chunk: &[u8; 32] = chunk.try_into().unwrap();
                let expected = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| u32::from(super::super::is_base64(b)) << i)
                    .sum::<u32>();
                let (low, high) = chunk.split_at(16);
                // SAFETY: SSE2 is part of the x86-64 baseline.
                let sse = unsafe {
                    mask_sse2(low.try_into().unwrap()) | mask_sse2(high.try_into().unwrap()) << 16
                };
                assert_eq!(sse, expected);
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the processor has AVX2.
                    assert_eq!(unsafe { mask_avx2(chunk) }, expected);
                }
            }
        }
    }
}

/// Joins to `run` (a stretch `start..end` of one line) the lines after it when they continue a
/// wrapped block, and returns where the search for the next run goes on. The first line must
/// start its line (after indentation) or a quoted string, end without padding, and be one of the
/// [`WRAP_WIDTHS`]; the next lines must be whole lines of the same width, but the last, which may
/// be shorter and padded. Line breaks are `\n` or `\r\n`, or the same written as escapes
/// inside a JSON string. (Values of that width one per line also pass for a block: see
/// [`Run::is_equal_lines`].)
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
    if (!after_quote && !starts_line(hay, start)) || !WRAP_WIDTHS.contains(&width) {
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
    let mut classes = 0u8;
    for segment in &run.segments {
        let chars = &hay[segment.at..segment.at + segment.len];
        // Four characters at a time: character `from + i` falls at alignment `(from + i) % 4`.
        let mut groups = chars.chunks_exact(4);
        for group in &mut groups {
            for (lane, &c) in group.iter().enumerate() {
                let class = CLASS[c as usize];
                low[(segment.from + lane) % 4] += usize::from(class & LOW);
                classes |= class;
            }
        }
        let done = chars.len() - groups.remainder().len();
        for (index, &c) in (segment.from + done..).zip(groups.remainder()) {
            low[index % 4] += usize::from(CLASS[c as usize] & LOW);
            classes |= CLASS[c as usize];
        }
        for (lane, count) in total.iter_mut().enumerate() {
            // Characters of this segment at alignment `lane`.
            let first = (lane + 4 - segment.from % 4) % 4;
            *count += segment.len.saturating_sub(first).div_ceil(4);
        }
    }
    let textual = |r: usize| total[r] > 0 && low[r] * 10 >= total[r] * 9;
    if textual(0) {
        return vec![0];
    }
    let mut out = Vec::with_capacity(2);
    if classes & (DIGIT | UPPER | LOWER) == DIGIT | UPPER | LOWER {
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

/// Character classes for [`alignments`]: a value below 32, a digit, a capital, a small letter.
const LOW: u8 = 1;
const DIGIT: u8 = 2;
const UPPER: u8 = 4;
const LOWER: u8 = 8;
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let value = VALUE[i];
        let mut class = 0;
        if value < 32 {
            class |= LOW;
        }
        if b.is_ascii_digit() {
            class |= DIGIT;
        }
        if b.is_ascii_uppercase() {
            class |= UPPER;
        }
        if b.is_ascii_lowercase() {
            class |= LOWER;
        }
        table[i] = class;
        i += 1;
    }
    table
};

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
    debug_assert!(piece.is_multiple_of(4) && overlap.is_multiple_of(4) && overlap < piece);
    let mut first = alignment;
    let mut buffer = Piece {
        text: Vec::new(),
        first_char: 0,
    };
    while first < run.len() {
        let end = (first + piece).min(run.len());
        buffer.first_char = first;
        buffer.text.clear();
        let mut decoder = Decoder::default();
        run.for_each_slice(hay, first..end, |chars| {
            decoder.feed(chars, &mut buffer.text)
        });
        decoder.finish(&mut buffer.text);
        if !buffer.text.is_empty() && !each(&buffer) {
            return;
        }
        if end == run.len() {
            return;
        }
        first += piece - overlap;
    }
}

impl Run {
    /// Calls `each` with the stretches of the haystack that hold characters `range` of the run.
    fn for_each_slice(&self, hay: &[u8], range: Range<usize>, mut each: impl FnMut(&[u8])) {
        let at = self
            .segments
            .partition_point(|s| s.from + s.len <= range.start);
        for s in &self.segments[at..] {
            if s.from >= range.end {
                break;
            }
            let from = range.start.max(s.from) - s.from;
            let to = range.end.min(s.from + s.len) - s.from;
            each(&hay[s.at + from..s.at + to]);
        }
    }
}

/// Base64 decoding (either alphabet, no padding) of characters fed in stretches; a last group of
/// one character, which holds no whole byte, is dropped.
#[derive(Default)]
struct Decoder {
    bits: u32,
    count: usize,
}

impl Decoder {
    fn feed(&mut self, mut chars: &[u8], out: &mut Vec<u8>) {
        out.reserve(chars.len() / 4 * 3 + 3);
        // Complete the group a previous stretch left open, then whole groups at once.
        while self.count != 0 && !chars.is_empty() {
            self.push(chars[0], out);
            chars = &chars[1..];
        }
        let mut groups = chars.chunks_exact(4);
        for group in &mut groups {
            let bits = group.iter().fold(0u32, |bits, &c| {
                bits << 6 | u32::from(VALUE[c as usize] & 63)
            });
            out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
        }
        for &c in groups.remainder() {
            self.push(c, out);
        }
    }

    fn push(&mut self, c: u8, out: &mut Vec<u8>) {
        self.bits = self.bits << 6 | u32::from(VALUE[c as usize] & 63);
        self.count += 1;
        if self.count == 4 {
            let bits = self.bits;
            out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            self.bits = 0;
            self.count = 0;
        }
    }

    fn finish(self, out: &mut Vec<u8>) {
        let bits = self.bits;
        match self.count {
            2 => out.push((bits >> 4) as u8),
            3 => out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8]),
            _ => {}
        }
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
            for width in WRAP_WIDTHS {
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
    fn the_fast_search_finds_what_the_probes_find() {
        let mut rng = fastrand::Rng::with_seed(11);
        let alphabet = b"AZaz09+/-_=. \n\\\"";
        for _ in 0..200 {
            // Text of random stretches of base64 and other bytes, of every length around 40.
            let mut hay = Vec::new();
            while hay.len() < 3000 {
                let len = rng.usize(1..90);
                let base64 = rng.bool();
                for _ in 0..len {
                    hay.push(if base64 {
                        b"QUJDabcd0189+/-_"[rng.usize(..16)]
                    } else {
                        alphabet[rng.usize(..alphabet.len())]
                    });
                }
            }
            let mut from = 0;
            while let Some(at) = scalar_candidate(&hay, from) {
                let run = run_at(&hay, at);
                assert_eq!(next_run(&hay, from), Some(run));
                from = run.1;
            }
            assert_eq!(next_run(&hay, from), None);
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
