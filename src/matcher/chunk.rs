//! Input of any size through a [`Matcher`] in bounded chunks: lines and columns, cuts that
//! lose no match, and the located matches that come out.

use std::io::{self, Read};

use super::{Matcher, RawMatch};
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
    /// 1-based column, in characters (UTF-8 code points; other bytes count one each).
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
    /// Line number of `buf[0]`, and how many characters of that line precede `buf[0]`.
    line: u64,
    line_chars_before_buf: u64,
    raw: Vec<RawMatch>,
}

impl<'m> ChunkScanner<'m> {
    pub fn new(matcher: &'m Matcher) -> Self {
        Self::with_chunk_size(matcher, DEFAULT_CHUNK_SIZE)
    }

    pub fn with_chunk_size(matcher: &'m Matcher, chunk_size: usize) -> Self {
        let chunk_size = chunk_size.max(4 * (matcher.max_reach() + LEFT_CONTEXT));
        ChunkScanner {
            matcher,
            chunk_size,
            buf: Vec::new(),
            filled: 0,
            buf_offset: 0,
            searched_prefix: 0,
            line: 1,
            line_chars_before_buf: 0,
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
        // How far matches are reported now, and where the kept remainder starts.
        let (cut, keep_from) = if at_end {
            (len, len)
        } else if let Some(nl) = memchr::memrchr(b'\n', &self.buf[self.searched_prefix..len]) {
            let after = self.searched_prefix + nl + 1;
            (after, self.lines_before(after))
        } else if len >= self.chunk_size {
            let overlap = 2 * self.matcher.max_reach() + LEFT_CONTEXT;
            let cut = len - overlap;
            (
                cut,
                char_boundary_at_or_before(&self.buf, cut - LEFT_CONTEXT),
            )
        } else {
            return;
        };
        if cut > self.searched_prefix {
            self.raw.clear();
            // Complete lines end at `cut`; a cut inside a long line needs what follows as
            // right context.
            let inside_a_line = self.buf[..cut].last().is_some_and(|&b| b != b'\n');
            let hay_end = if inside_a_line { len } else { cut };
            self.matcher.find(
                &self.buf[..hay_end],
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

    fn emit_located(&mut self, emit: &mut impl FnMut(LocatedMatch)) {
        locate(
            &self.buf[..self.filled],
            self.buf_offset,
            self.line,
            self.line_chars_before_buf,
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
        } else {
            self.line_chars_before_buf += count_chars(segment);
        }
    }
}

/// Turns sorted raw matches in `buf` into located ones. `buf[0]` is at input offset
/// `buf_offset`, on line `line`, after `line_chars_before_buf` characters of that line.
pub(super) fn locate(
    buf: &[u8],
    buf_offset: u64,
    mut line: u64,
    line_chars_before_buf: u64,
    raw: &[RawMatch],
    emit: &mut dyn FnMut(LocatedMatch),
) {
    let mut counted_to = 0;
    // Start of the current line in `buf`, or `None` while it started before `buf[0]`.
    let mut line_start: Option<usize> = None;
    for m in raw {
        let start = m.span.start;
        let segment = &buf[counted_to..start];
        let newlines = bytecount::count(segment, b'\n') as u64;
        if newlines > 0 {
            line += newlines;
            let last = memchr::memrchr(b'\n', segment).expect("counted a newline");
            line_start = Some(counted_to + last + 1);
        }
        counted_to = start;
        let column = match line_start {
            Some(at) => count_chars(&buf[at..start]),
            None => line_chars_before_buf + count_chars(&buf[..start]),
        } + 1;
        let (secret, decoded) = match &m.decoded {
            Some(d) => (Secret::new(d.secret.clone()), Some(d.encoding.clone())),
            None => (Secret::new(&buf[m.span.clone()]), None),
        };
        emit(LocatedMatch {
            rule: m.rule,
            secret,
            decoded,
            offset: buf_offset + start as u64,
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
