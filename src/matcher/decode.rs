//! Decoding: finding keys that are not written as plain text. A Kubernetes Secret stores a key
//! in base64, a Windows tool writes UTF-16, a URL percent-encodes, JSON and JavaScript escape
//! (`\u002d`), HTML uses entities (`&#45;`).
//!
//! Three mechanisms, all cheap on input that holds no key:
//! - **Base64** runs are found by their shape ([`super::base64`]) and decoded.
//! - **UTF-16** changes every byte of a key, so in input holding a zero byte the matcher
//!   searches each keyword's UTF-16 forms ([`utf16_forms`]); only around such a hit is the run
//!   of UTF-16 text ([`utf16_run`]) decoded and searched again.
//! - **Escapes** (percent, JSON/JavaScript, HTML) leave letters and digits alone, so the
//!   keyword itself is found; the window around it is unescaped ([`unescape`]) only when it
//!   holds an escape sequence.
//!
//! Decoded text is searched again (nested encodings) down to a depth limit. Long runs are
//! decoded in pieces of at most [`MAX_PIECE`] characters, and each input byte is decoded a
//! bounded number of times (see `Matcher::find`), so neither memory nor time can blow up.

use std::ops::Range;

/// The most characters of an encoded run decoded at once; longer runs are decoded in
/// overlapping pieces.
pub const MAX_PIECE: usize = 64 * 1024;

/// An encoding that changes every byte of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    Base64,
    Utf16Le,
    Utf16Be,
}

impl Transform {
    pub fn name(self) -> &'static str {
        match self {
            Transform::Base64 => "base64",
            Transform::Utf16Le => "utf-16le",
            Transform::Utf16Be => "utf-16be",
        }
    }
}

/// `keyword` in UTF-16, little-endian then big-endian.
pub fn utf16_forms(keyword: &str) -> [(Vec<u8>, Transform); 2] {
    let bytes = keyword.as_bytes();
    let le: Vec<u8> = bytes.iter().flat_map(|&b| [b, 0]).collect();
    let be: Vec<u8> = bytes.iter().flat_map(|&b| [0, b]).collect();
    [(le, Transform::Utf16Le), (be, Transform::Utf16Be)]
}

/// The whole run of UTF-16 text (printable ASCII characters, in the hit's byte order) around a
/// hit of a UTF-16 form, not reaching back before `floor`. Each byte is looked at once per
/// run, and hits inside a run already taken are not looked up again, so finding runs is linear.
pub fn utf16_run(
    hay: &[u8],
    hit: Range<usize>,
    transform: Transform,
    floor: usize,
) -> Range<usize> {
    let low_first = transform == Transform::Utf16Le;
    let is_unit = |pair: &[u8]| {
        let (low, high) = if low_first {
            (pair[0], pair[1])
        } else {
            (pair[1], pair[0])
        };
        high == 0 && (low.is_ascii_graphic() || low == b' ')
    };
    let mut start = hit.start;
    while start >= floor + 2 && is_unit(&hay[start - 2..start]) {
        start -= 2;
    }
    let mut end = hit.end;
    while end + 2 <= hay.len() && is_unit(&hay[end..end + 2]) {
        end += 2;
    }
    start..end
}

/// The characters of UTF-16 text `run` (every unit's low byte).
pub fn decode_utf16(run: &[u8], transform: Transform) -> Vec<u8> {
    let skip = usize::from(transform == Transform::Utf16Be);
    run.iter().skip(skip).step_by(2).copied().collect()
}

/// Whether `window` holds an escape sequence [`unescape`] would decode.
pub fn has_escapes(window: &[u8]) -> bool {
    memchr::memchr3(b'%', b'\\', b'&', window).is_some()
}

/// Unescaped text and, for each of its bytes, the offset in `window` of the byte (or escape
/// sequence) it came from; plus the names of the escapes met. `None` when nothing was escaped.
pub fn unescape(window: &[u8]) -> Option<(Vec<u8>, Vec<usize>, Vec<&'static str>)> {
    let mut text = Vec::with_capacity(window.len());
    let mut origin = Vec::with_capacity(window.len());
    let mut kinds: Vec<&'static str> = Vec::new();
    let mut at = 0;
    while at < window.len() {
        let (byte, length, kind) = match escape_at(&window[at..]) {
            Some(escape) => escape,
            None => (window[at], 1, ""),
        };
        if !kind.is_empty() && !kinds.contains(&kind) {
            kinds.push(kind);
        }
        text.push(byte);
        origin.push(at);
        at += length;
    }
    (!kinds.is_empty()).then_some((text, origin, kinds))
}

/// An ASCII escape sequence at the start of `bytes`: the byte it stands for, its length and its
/// kind.
fn escape_at(bytes: &[u8]) -> Option<(u8, usize, &'static str)> {
    let hex = |digits: &[u8]| -> Option<u8> {
        // `from_str_radix` alone would also take a sign (`%+D`).
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let text = std::str::from_utf8(digits).ok()?;
        u8::from_str_radix(text, 16).ok().filter(u8::is_ascii)
    };
    match bytes {
        [b'%', a, b, ..] => Some((hex(&[*a, *b])?, 3, "percent")),
        [b'\\', b'u', a, b, c, d, ..] if *a == b'0' && *b == b'0' => {
            Some((hex(&[*c, *d])?, 6, "json-escape"))
        }
        [b'\\', b'x', a, b, ..] => Some((hex(&[*a, *b])?, 4, "js-escape")),
        [b'\\', b'/', ..] => Some((b'/', 2, "json-escape")),
        [b'&', b'#', rest @ ..] => {
            let (radix, digits_from) = match rest.first() {
                Some(b'x' | b'X') => (16, 1),
                _ => (10, 0),
            };
            let digits: Vec<u8> = rest[digits_from..]
                .iter()
                .take(6)
                .take_while(|b| b.is_ascii_hexdigit())
                .copied()
                .collect();
            if rest.get(digits_from + digits.len()) != Some(&b';') || digits.is_empty() {
                return None;
            }
            let value = u32::from_str_radix(std::str::from_utf8(&digits).ok()?, radix).ok()?;
            let byte = u8::try_from(value).ok().filter(u8::is_ascii)?;
            Some((byte, 2 + digits_from + digits.len() + 1, "html-entity"))
        }
        [b'&', rest @ ..] => {
            let named: &[(&[u8], u8)] = &[
                (b"hyphen;", b'-'),
                (b"dash;", b'-'),
                (b"lowbar;", b'_'),
                (b"quot;", b'"'),
                (b"amp;", b'&'),
                (b"lt;", b'<'),
                (b"gt;", b'>'),
                (b"sol;", b'/'),
            ];
            named
                .iter()
                .find(|(name, _)| rest.starts_with(name))
                .map(|(name, byte)| (*byte, 1 + name.len(), "html-entity"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_with_their_origins() {
        let (text, origin, kinds) = unescape(br"sk\u002dproj&#45;x%2Dy&hyphen;z\/").unwrap();
        assert_eq!(text, b"sk-proj-x-y-z/");
        assert_eq!(origin[2], 2);
        assert_eq!(origin[3], 8);
        assert_eq!(kinds, ["json-escape", "html-entity", "percent"]);
        assert!(unescape(b"plain text").is_none());
    }

    #[test]
    fn a_sign_is_not_a_hex_digit_of_an_escape() {
        // Found by fuzzing (fuzz/fuzz_targets/decode.rs): `%+D` was decoded as byte 0x0D.
        for text in [&b"a%+Db"[..], b"\\x+d", b"\\u00+d", b"%-1"] {
            assert!(
                unescape(text).is_none(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        let (text, _, _) = unescape(b"%2D%+D").unwrap();
        assert_eq!(text, b"-%+D");
    }

    #[test]
    fn utf16_runs_decode() {
        let text: Vec<u8> = "\r\nkey=sk-proj-abc\r\n"
            .bytes()
            .flat_map(|b| [b, 0])
            .collect();
        let [(form, _), _] = utf16_forms("sk-proj-");
        let hit = memchr::memmem::find(&text, &form).unwrap();
        let run = utf16_run(&text, hit..hit + form.len(), Transform::Utf16Le, 0);
        assert_eq!(run, 4..34);
        assert_eq!(
            decode_utf16(&text[run], Transform::Utf16Le),
            b"key=sk-proj-abc"
        );
        // Not back past the floor.
        assert_eq!(
            utf16_run(&text, hit..hit + 2, Transform::Utf16Le, 10).start,
            10
        );
    }
}
