//! Input of any size through a [`Matcher`] in bounded chunks: lines and columns, cuts that
//! lose no match, and the located matches that come out.

use std::io::{self, Read};

use super::{Matcher, RawMatch, base64};
use crate::secret::Secret;

/// A match with its place in the whole input.
#[derive(Clone, Debug)]
pub struct LocatedMatch {
    pub rule: usize,
    pub secret: Secret,
    /// Byte offset of the secret from the start of the input.
    pub offset: u64,
    /// 1-based line number.
    pub line: u64,
    /// 1-based column, in characters (UTF-8 code points; other bytes count one each; in UTF-16
    /// text, UTF-16 code units after the byte-order mark).
    pub column: u64,
    /// The line carries `ferret:allow`.
    pub inline_allowed: bool,
    /// How the secret was encoded where it was found (`base64`…), if it was.
    pub decoded: Option<String>,
    /// Inside an archive, the entry's path; the offset, line and column are the entry's own
    /// (set by `sources::container`).
    pub entry: Option<String>,
    /// In a Jupyter notebook, the cell (set by `sources::notebook`).
    pub cell: Option<crate::finding::NotebookCell>,
}

/// How much input a [`ChunkScanner`] holds before it searches, in bytes. Measured: a chunk that
/// fits in a core's L2 cache (128 KiB) keeps the copy from the kernel cheap; 1 MiB was 1.4x
/// slower than ripgrep on a tree of source files, 128 KiB level with it.
pub const DEFAULT_CHUNK_SIZE: usize = 128 << 10;

/// Bytes of left context kept across a cut so boundary checks see escapes before a key.
const LEFT_CONTEXT: usize = 8;

/// Feeds input of any size through a [`Matcher`] in bounded chunks, tracking lines.
///
/// Complete lines are searched and dropped as soon as a chunk holds them; a line longer than the
/// chunk is searched in pieces that overlap by more than the longest possible match, so no
/// match is lost or reported twice at a cut.
pub struct ChunkScanner<'m> {
    matcher: &'m Matcher,
    chunk_size: usize,
    /// Storage, zeroed once when it grows; the input held is `buf[..filled]`.
    pub(super) buf: Vec<u8>,
    filled: usize,
    /// Offset in the whole input of `buf[0]`.
    buf_offset: u64,
    /// Bytes at the start of `buf` that were searched already (context for the next search).
    searched_prefix: usize,
    /// Line number of `buf[0]`, and how many characters and bytes of that line precede
    /// `buf[0]`.
    line: u64,
    line_chars_before_buf: u64,
    line_bytes_before_buf: u64,
    /// The input starts with a UTF-16 byte-order mark.
    bom: bool,
    raw: Vec<RawMatch>,
}

impl<'m> ChunkScanner<'m> {
    pub fn new(matcher: &'m Matcher) -> Self {
        Self::with_chunk_size(matcher, DEFAULT_CHUNK_SIZE)
    }

    pub fn with_chunk_size(matcher: &'m Matcher, chunk_size: usize) -> Self {
        let chunk_size = chunk_size.max(2 * (matcher.max_encoded_reach() + LEFT_CONTEXT));
        ChunkScanner {
            matcher,
            chunk_size,
            buf: Vec::new(),
            filled: 0,
            buf_offset: 0,
            searched_prefix: 0,
            line: 1,
            line_chars_before_buf: 0,
            line_bytes_before_buf: 0,
            bom: false,
            raw: Vec::new(),
        }
    }

    pub fn matcher(&self) -> &'m Matcher {
        self.matcher
    }

    /// Starts over for a new input, keeping the allocated buffer.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.buf_offset = 0;
        self.searched_prefix = 0;
        self.line = 1;
        self.line_chars_before_buf = 0;
        self.line_bytes_before_buf = 0;
        self.bom = false;
    }

    /// Makes room for `more` bytes after what is held (storage is zeroed only when it grows).
    fn reserve(&mut self, more: usize) {
        if self.buf.len() < self.filled + more {
            self.buf.resize(self.filled + more, 0);
        }
    }

    /// Scans everything `reader` yields, calling `emit` for each match in input order; returns
    /// the number of bytes read.
    pub fn scan_reader(
        &mut self,
        mut reader: impl Read,
        emit: impl FnMut(LocatedMatch),
    ) -> io::Result<u64> {
        self.start(&mut reader)?;
        self.scan_rest(reader, emit)
    }

    /// Starts a new input with one read of `reader`, and shows what it gave (up to a chunk),
    /// so a caller can tell what the input is without a read of its own;
    /// [`Self::scan_rest`] goes on.
    pub fn start(&mut self, reader: &mut impl Read) -> io::Result<&[u8]> {
        self.reset();
        self.reserve(self.chunk_size);
        loop {
            match reader.read(&mut self.buf[..self.chunk_size]) {
                Ok(read) => {
                    self.filled = read;
                    return Ok(&self.buf[..read]);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
    }

    /// Scans what [`Self::start`] read and everything else `reader` yields; returns the
    /// number of bytes of the input.
    pub fn scan_rest(
        &mut self,
        mut reader: impl Read,
        mut emit: impl FnMut(LocatedMatch),
    ) -> io::Result<u64> {
        let mut total = self.filled as u64;
        // A first read of nothing was the end of the input.
        while total > 0 {
            if self.buf.len() - self.filled < self.chunk_size / 4 {
                self.reserve(self.chunk_size);
            }
            // One plain read per fill: `read_to_end` would restart at small reads every time.
            let read = match reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.filled += read;
            total += read as u64;
            if self.filled >= self.chunk_size {
                self.search(false, &mut emit);
            }
        }
        self.finish(&mut emit);
        Ok(total)
    }

    /// Adds streamed input and reports matches on every line it completes.
    pub fn feed(&mut self, data: &[u8], mut emit: impl FnMut(LocatedMatch)) {
        self.reserve(data.len());
        self.buf[self.filled..self.filled + data.len()].copy_from_slice(data);
        self.filled += data.len();
        self.search(false, &mut emit);
    }

    /// Searches what is left at the end of the input.
    pub fn finish(&mut self, mut emit: impl FnMut(LocatedMatch)) {
        self.search(true, &mut emit);
        self.buf_offset += self.filled as u64;
        self.filled = 0;
        self.searched_prefix = 0;
    }

    /// Searches the part of `buf` that is ready and drops what no later match needs.
    fn search(&mut self, at_end: bool, emit: &mut impl FnMut(LocatedMatch)) {
        let len = self.filled;
        if self.buf_offset == 0 {
            self.bom = starts_with_bom(&self.buf[..len]);
        }
        let Some(Cut {
            report_to: cut,
            keep_from,
            hay_end,
        }) = self.cut(at_end)
        else {
            return;
        };
        if cut > self.searched_prefix {
            self.raw.clear();
            self.matcher.find_at(
                &self.buf[..hay_end],
                self.buf_offset,
                self.searched_prefix..cut,
                &mut self.raw,
            );
            self.emit_located(emit);
        }
        self.advance_lines(keep_from);
        self.buf.copy_within(keep_from..len, 0);
        self.filled = len - keep_from;
        self.buf_offset += keep_from as u64;
        self.searched_prefix = cut - keep_from;
    }

    /// Where to keep searched lines from when cutting after the complete lines that end at
    /// `cut`: the whole lines among the last [`Matcher::max_reach`] bytes before it, as left
    /// context for the next search (a key's provider may be named in the lines above it, see
    /// the `context` module). Searching them again costs that many bytes per chunk.
    fn lines_before(&self, cut: usize) -> usize {
        let from = cut.saturating_sub(self.matcher.max_reach());
        match memchr::memchr(b'\n', &self.buf[from..cut]) {
            Some(nl) if from > 0 => from + nl + 1,
            _ => from,
        }
    }

    /// How far matches are reported now, where the kept remainder starts, and how much of the
    /// buffer the search sees; `None` when nothing is ready.
    fn cut(&self, at_end: bool) -> Option<Cut> {
        let len = self.filled;
        if at_end {
            return Some(Cut::lines(len));
        }
        let reach = self.matcher.max_encoded_reach();
        if let Some(nl) = memchr::memrchr(b'\n', &self.buf[self.searched_prefix..len]) {
            let after = self.searched_prefix + nl + 1;
            // Inside a wrapped base64 block, a key may run across the cut: matches are reported
            // up to a line start far enough back, with the lines after it as right context,
            // and those lines are searched again with what follows.
            let last_line = &self.buf[..after - 1];
            let last_line = &last_line[memchr::memrchr(b'\n', last_line).map_or(0, |i| i + 1)..];
            if base64::is_wrapped_line(last_line) && after > reach {
                let back = memchr::memrchr(b'\n', &self.buf[..after - reach]).map(|i| i + 1);
                if let Some(cut) = back.filter(|&cut| cut > self.searched_prefix) {
                    return Some(Cut {
                        report_to: cut,
                        keep_from: cut,
                        hay_end: after,
                    });
                }
            }
            return Some(Cut {
                report_to: after,
                keep_from: self.lines_before(after),
                hay_end: after,
            });
        }
        if len < self.chunk_size {
            return None;
        }
        // A line longer than the chunk: searched in pieces that overlap by more than any match
        // (encoded ones included) can take.
        let cut = len - (reach + LEFT_CONTEXT);
        Some(Cut {
            report_to: cut,
            keep_from: char_boundary_at_or_before(&self.buf, cut - LEFT_CONTEXT),
            hay_end: len,
        })
    }

    fn emit_located(&mut self, emit: &mut impl FnMut(LocatedMatch)) {
        let start = LineStart {
            line: self.line,
            chars_before: self.line_chars_before_buf,
            bytes_before: self.line_bytes_before_buf,
            bom: self.bom,
        };
        locate(
            &self.buf[..self.filled],
            self.buf_offset,
            &start,
            &self.raw,
            emit,
        );
    }

    /// Moves the line counters from `buf[0]` to `buf[to]`.
    fn advance_lines(&mut self, to: usize) {
        let segment = &self.buf[..to];
        let newlines = bytecount::count(segment, b'\n') as u64;
        if newlines > 0 {
            self.line += newlines;
            let last = memchr::memrchr(b'\n', segment).expect("counted a newline");
            self.line_chars_before_buf = count_chars(&segment[last + 1..]);
            self.line_bytes_before_buf = (to - last - 1) as u64;
        } else {
            self.line_chars_before_buf += count_chars(segment);
            self.line_bytes_before_buf += to as u64;
        }
    }
}

/// Where [`ChunkScanner::search`] cuts: matches starting before `report_to` are reported now,
/// the buffer from `keep_from` on is kept for the next search, and the search sees the buffer
/// up to `hay_end`.
struct Cut {
    report_to: usize,
    keep_from: usize,
    hay_end: usize,
}

impl Cut {
    /// A cut after complete lines: everything before it is searched and dropped.
    fn lines(at: usize) -> Self {
        Cut {
            report_to: at,
            keep_from: at,
            hay_end: at,
        }
    }
}

/// Where the line of the first byte of a buffer stands in its input.
pub(super) struct LineStart {
    /// Its 1-based number.
    pub line: u64,
    /// Characters and bytes of the line before the buffer.
    pub chars_before: u64,
    pub bytes_before: u64,
    /// The input starts with a UTF-16 byte-order mark (which is no column of line 1).
    pub bom: bool,
}

impl LineStart {
    /// The start of an input held whole in `buf`.
    pub fn input_start(buf: &[u8]) -> Self {
        LineStart {
            line: 1,
            chars_before: 0,
            bytes_before: 0,
            bom: starts_with_bom(buf),
        }
    }
}

fn starts_with_bom(buf: &[u8]) -> bool {
    buf.starts_with(&[0xFF, 0xFE]) || buf.starts_with(&[0xFE, 0xFF])
}

/// Turns sorted raw matches in `buf` into located ones. `buf[0]` is at input offset
/// `buf_offset`, where `start` says on which line.
pub(super) fn locate(
    buf: &[u8],
    buf_offset: u64,
    start: &LineStart,
    raw: &[RawMatch],
    emit: &mut dyn FnMut(LocatedMatch),
) {
    let mut line = start.line;
    let mut counted_to = 0;
    // Start of the current line in `buf`, or `None` while it started before `buf[0]`.
    let mut line_start: Option<usize> = None;
    for m in raw {
        let at = m.span.start;
        let segment = &buf[counted_to..at];
        let newlines = bytecount::count(segment, b'\n') as u64;
        if newlines > 0 {
            line += newlines;
            let last = memchr::memrchr(b'\n', segment).expect("counted a newline");
            line_start = Some(counted_to + last + 1);
        }
        counted_to = at;
        let (secret, decoded) = match &m.decoded {
            Some(d) => (Secret::new(d.secret.clone()), Some(d.encoding.clone())),
            None => (Secret::new(&buf[m.span.clone()]), None),
        };
        let utf16 = decoded.as_deref().is_some_and(|d| d.starts_with("utf-16"));
        let column = if utf16 {
            // Code units: two bytes each, after the line break's own second byte (`\n\0`)
            // and the byte-order mark.
            let bytes = match line_start {
                Some(from) => (at - from) as u64,
                None => start.bytes_before + at as u64,
            };
            let mark = if line == 1 && start.bom { 2 } else { 0 };
            bytes.saturating_sub(mark) / 2
        } else {
            match line_start {
                Some(from) => count_chars(&buf[from..at]),
                None => start.chars_before + count_chars(&buf[..at]),
            }
        } + 1;
        emit(LocatedMatch {
            rule: m.rule,
            secret,
            decoded,
            offset: buf_offset + at as u64,
            line,
            column,
            inline_allowed: Matcher::inline_allowed(buf, &m.span),
            entry: None,
            cell: None,
        });
    }
}

/// Characters in bytes as an editor shows them: UTF-8 code points, and one for each byte that
/// is not part of a valid sequence (a stray continuation byte is a column of its own, so just
/// skipping continuation bytes would undercount).
pub fn count_chars(bytes: &[u8]) -> u64 {
    bytes
        .utf8_chunks()
        .map(|chunk| chunk.valid().chars().count() + chunk.invalid().len())
        .sum::<usize>() as u64
}

/// `at`, moved back to the start of the UTF-8 sequence it is inside, if any. Character counts
/// of the two sides of a cut there add up; a cut inside a sequence would count it as invalid
/// bytes on both sides.
fn char_boundary_at_or_before(bytes: &[u8], mut at: usize) -> usize {
    let is_continuation = |b: u8| (b as i8) < -0x40;
    // A sequence has at most three continuation bytes: further back cannot be its start.
    for _ in 0..3 {
        if at == 0 || !is_continuation(bytes[at]) {
            break;
        }
        at -= 1;
    }
    at
}
