//! The matcher with the built-in rules over arbitrary bytes, three ways: the whole input at
//! once (`locate_all`, as git blobs are scanned), read in chunks (`scan_reader`, files) and fed
//! in pieces (`feed`, streams). The chunked ways must report exactly what the whole input
//! holds: no match lost or doubled at a cut, the same lines and columns.

#![no_main]

use std::io::Read;

use ferret::matcher::{ChunkScanner, LocatedMatch};
use ferret_fuzz::{MATCHER, expand_keys};
use libfuzzer_sys::fuzz_target;

/// A reader that hands out `piece` bytes at a time.
struct Pieces<'a> {
    data: &'a [u8],
    piece: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

type Seen = (u64, u64, u64, usize, Vec<u8>, Option<String>, bool);

fn seen(m: LocatedMatch) -> Seen {
    let _ = m.secret.redacted();
    (
        m.offset,
        m.line,
        m.column,
        m.rule,
        m.secret.expose().to_vec(),
        m.decoded,
        m.inline_allowed,
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let hay = expand_keys(rest);
    let whole: Vec<Seen> = MATCHER.locate_all(&hay).into_iter().map(seen).collect();

    // The smallest chunks the scanner allows, so that cuts fall inside long lines.
    let piece = usize::from(shape % 64) * 37 + 1;
    let mut scanner = ChunkScanner::with_chunk_size(&MATCHER, 0);
    let mut chunked = Vec::new();
    scanner
        .scan_reader(Pieces { data: &hay, piece }, |m| chunked.push(seen(m)))
        .expect("reading from memory cannot fail");
    assert_eq!(whole, chunked, "scan_reader in pieces of {piece}");

    scanner.reset();
    let mut fed = Vec::new();
    for part in hay.chunks(piece) {
        scanner.feed(part, |m| fed.push(seen(m)));
    }
    scanner.finish(|m| fed.push(seen(m)));
    assert_eq!(whole, fed, "feed in pieces of {piece}");
});
