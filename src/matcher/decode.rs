//! Decoding: finding keys that are not written as plain text. A Kubernetes Secret stores a key
//! in base64, a Windows tool writes UTF-16, a URL percent-encodes, JSON and JavaScript escape
//! (`\u002d`), HTML uses entities (`&#45;`).
//!
//! Two mechanisms, both cheap on input that holds no key:
//! - **Transforms** (base64 in both alphabets, UTF-16 LE/BE) change every byte of a key, so the
//!   matcher also searches, in the same Aho-Corasick pass as the rules' keywords, each
//!   keyword's encoded forms ([`encoded_forms`]). Only around such a hit is the encoded run
//!   ([`encoded_run`]) decoded and searched again.
//! - **Escapes** (percent, JSON/JavaScript, HTML) leave letters and digits alone, so the
//!   keyword itself is found; the window around it is unescaped ([`unescape`]) only when it
//!   holds an escape sequence.
//!
//! Decoded text is searched again (nested encodings) down to a depth limit, and no decoded
//! text is longer than [`MAX_DECODED`]: encodings shrink, so neither memory nor time can blow
//! up.

use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

/// The longest encoded run decoded, in bytes (a key is a few hundred).
pub const MAX_ENCODED_RUN: usize = 64 * 1024;
/// The longest decoded text searched.
pub const MAX_DECODED: usize = MAX_ENCODED_RUN;
/// Encoded forms shorter than this would hit on too much ordinary text to be worth decoding.
const MIN_FORM_LEN: usize = 6;

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

    fn in_alphabet(self, b: u8) -> bool {
        match self {
            Transform::Base64 => {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
            }
            Transform::Utf16Le | Transform::Utf16Be => true,
        }
    }
}

/// The forms `keyword` takes under each transform, as byte patterns to search for. Base64
/// depends on where the keyword falls in a 3-byte group, so each alignment gives a form (the
/// characters that encode the keyword's bytes alone), in both alphabets.
pub fn encoded_forms(keyword: &str) -> Vec<(Vec<u8>, Transform)> {
    let bytes = keyword.as_bytes();
    let mut forms: Vec<(Vec<u8>, Transform)> = Vec::new();
    for shift in 0..3 {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(bytes);
        let encoded = general_purpose::STANDARD_NO_PAD.encode(&padded);
        // Characters before `skip` mix in the padding; after `keep`, bits of what follows.
        let skip = (shift * 8).div_ceil(6);
        let keep = (padded.len() * 8) / 6;
        if keep <= skip {
            continue;
        }
        let core = &encoded.as_bytes()[skip..keep];
        if core.len() < MIN_FORM_LEN {
            continue;
        }
        let url: Vec<u8> = core
            .iter()
            .map(|&c| match c {
                b'+' => b'-',
                b'/' => b'_',
                c => c,
            })
            .collect();
        forms.push((core.to_vec(), Transform::Base64));
        if url != core {
            forms.push((url, Transform::Base64));
        }
    }
    let le: Vec<u8> = bytes.iter().flat_map(|&b| [b, 0]).collect();
    let be: Vec<u8> = bytes.iter().flat_map(|&b| [0, b]).collect();
    forms.push((le, Transform::Utf16Le));
    forms.push((be, Transform::Utf16Be));
    forms.retain(|(form, _)| form.len() >= MIN_FORM_LEN);
    forms
}

/// The whole encoded run around a hit of an encoded form, at most [`MAX_ENCODED_RUN`] bytes.
pub fn encoded_run(hay: &[u8], hit: Range<usize>, transform: Transform) -> Range<usize> {
    match transform {
        Transform::Base64 => {
            let limit = MAX_ENCODED_RUN / 2;
            let start = hay[..hit.start]
                .iter()
                .rev()
                .take(limit)
                .take_while(|&&b| transform.in_alphabet(b) && b != b'=')
                .count();
            let end = hay[hit.end..]
                .iter()
                .take(limit)
                .take_while(|&&b| transform.in_alphabet(b))
                .count();
            hit.start - start..hit.end + end
        }
        Transform::Utf16Le | Transform::Utf16Be => {
            // Pairs of one printable ASCII byte and a zero, in the hit's byte order.
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
            while start >= 2
                && hit.end - start < MAX_ENCODED_RUN / 2
                && is_unit(&hay[start - 2..start])
            {
                start -= 2;
            }
            let mut end = hit.end;
            while end + 2 <= hay.len()
                && end - hit.start < MAX_ENCODED_RUN / 2
                && is_unit(&hay[end..end + 2])
            {
                end += 2;
            }
            start..end
        }
    }
}

/// Base64 decoding that takes either alphabet and padding or none.
fn lenient(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// The texts an encoded run may stand for. A base64 run may begin with a character or three
/// of what precedes the value (`key:c2st…`), which shifts every group, so each of the four
/// alignments is decoded; the one that was meant is the one holding a key.
pub fn decode(run: &[u8], transform: Transform) -> Vec<Vec<u8>> {
    let decoded = match transform {
        Transform::Base64 => {
            let trimmed = run
                .strip_suffix(b"==")
                .or_else(|| run.strip_suffix(b"="))
                .unwrap_or(run);
            let url = trimmed.iter().any(|b| matches!(b, b'-' | b'_'));
            let engine = lenient(if url {
                &base64::alphabet::URL_SAFE
            } else {
                &base64::alphabet::STANDARD
            });
            (0..4)
                .filter_map(|skip| {
                    let rest = trimmed.get(skip..)?;
                    // A lone last character encodes no whole byte.
                    let usable = rest.len() - usize::from(rest.len() % 4 == 1);
                    engine.decode(&rest[..usable]).ok()
                })
                .collect()
        }
        Transform::Utf16Le => vec![run.iter().step_by(2).copied().collect()],
        Transform::Utf16Be => vec![run.iter().skip(1).step_by(2).copied().collect()],
    };
    decoded
        .into_iter()
        .filter(|d: &Vec<u8>| !d.is_empty() && d.len() <= MAX_DECODED)
        .collect()
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
    fn every_alignment_of_a_keyword_is_found_in_base64() {
        let keyword = "sk-proj-";
        let forms = encoded_forms(keyword);
        for prefix in ["", "a", "ab", "abc"] {
            let text = format!("{prefix}{keyword}AAAAAAAA");
            let encoded = general_purpose::STANDARD.encode(text.as_bytes());
            assert!(
                forms.iter().any(|(form, t)| *t == Transform::Base64
                    && memchr::memmem::find(encoded.as_bytes(), form).is_some()),
                "{prefix:?}: {encoded}"
            );
            let run = encoded_run(encoded.as_bytes(), 0..1, Transform::Base64);
            assert!(
                decode(&encoded.as_bytes()[run], Transform::Base64).contains(&text.into_bytes())
            );
        }
    }

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
        let text: Vec<u8> = "key=sk-proj-abc".bytes().flat_map(|b| [b, 0]).collect();
        let forms = encoded_forms("sk-proj-");
        let (form, _) = forms
            .iter()
            .find(|(_, t)| *t == Transform::Utf16Le)
            .unwrap();
        let hit = memchr::memmem::find(&text, form).unwrap();
        let run = encoded_run(&text, hit..hit + form.len(), Transform::Utf16Le);
        assert_eq!(
            decode(&text[run], Transform::Utf16Le),
            vec![b"key=sk-proj-abc".to_vec()]
        );
    }
}
