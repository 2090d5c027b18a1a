//! The decoders of `src/decode.rs` on arbitrary bytes: encoded runs stay around their hit and
//! within bounds, base64 (both alphabets, padded or not, behind 0 to 3 characters of what
//! precedes it) and UTF-16 (both byte orders) decode back to what was encoded, and unescaping
//! decodes only well-formed escapes, maps every byte to where it came from, and undoes
//! percent, JSON/JavaScript and HTML escaping.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ferret::matcher::decode::{
    MAX_DECODED, MAX_ENCODED_RUN, Transform, decode, encoded_run, unescape,
};
use ferret_fuzz::escape;
use libfuzzer_sys::fuzz_target;

const TRANSFORMS: [Transform; 3] = [Transform::Base64, Transform::Utf16Le, Transform::Utf16Be];

/// Whether `sequence` is an escape as written by the encoders `unescape` undoes.
fn well_formed(sequence: &[u8]) -> bool {
    let hex = |digits: &[u8]| !digits.is_empty() && digits.iter().all(u8::is_ascii_hexdigit);
    let dec = |digits: &[u8]| !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    match sequence {
        [b'%', digits @ ..] => digits.len() == 2 && hex(digits),
        [b'\\', b'u', b'0', b'0', digits @ ..] => digits.len() == 2 && hex(digits),
        [b'\\', b'x', digits @ ..] => digits.len() == 2 && hex(digits),
        [b'\\', b'/'] => true,
        [b'&', b'#', b'x' | b'X', digits @ .., b';'] => hex(digits),
        [b'&', b'#', digits @ .., b';'] => dec(digits),
        [b'&', name @ .., b';'] => name.iter().all(u8::is_ascii_alphabetic),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };

    // Any bytes around any hit.
    if !rest.is_empty() {
        let start = usize::from(mode) % rest.len();
        let end = (start + 1 + usize::from(mode >> 4)).min(rest.len());
        for transform in TRANSFORMS {
            let run = encoded_run(rest, start..end, transform);
            assert!(run.start <= start && end <= run.end && run.end <= rest.len());
            assert!(run.len() <= MAX_ENCODED_RUN + (end - start));
            for text in decode(&rest[run], transform) {
                assert!(!text.is_empty() && text.len() <= MAX_DECODED);
            }
        }
    }

    // Unescaping any window.
    if let Some((text, origin, kinds)) = unescape(rest) {
        assert_eq!(text.len(), origin.len());
        assert!(!kinds.is_empty());
        assert!(origin.windows(2).all(|w| w[0] < w[1]));
        let ends = origin.iter().skip(1).copied().chain([rest.len()]);
        for ((&from, to), &byte) in origin.iter().zip(ends).zip(&text) {
            let sequence = &rest[from..to];
            if sequence.len() == 1 {
                assert_eq!(sequence[0], byte);
            } else {
                assert!(well_formed(sequence), "decoded {sequence:?}");
            }
        }
    }

    if rest.is_empty() || rest.len() > MAX_ENCODED_RUN / 4 {
        return;
    }

    // Base64 behind 0 to 3 characters of something else, as in `key:c2st…`.
    let engine = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD][usize::from(mode % 4)];
    let prefix = &b"key"[..usize::from(mode >> 2) % 4];
    let mut encoded = prefix.to_vec();
    encoded.extend_from_slice(engine.encode(rest).as_bytes());
    let hit = prefix.len()..prefix.len() + 1;
    let run = encoded_run(&encoded, hit, Transform::Base64);
    assert_eq!(run, 0..encoded.len());
    assert!(
        decode(&encoded, Transform::Base64)
            .iter()
            .any(|d| d == rest),
        "base64 of {rest:?} as {encoded:?}"
    );

    // UTF-16 of printable ASCII, from a hit in the middle.
    let printable: Vec<u8> = rest
        .iter()
        .copied()
        .filter(|b| b.is_ascii_graphic() || *b == b' ')
        .collect();
    if !printable.is_empty() {
        for (transform, little) in [(Transform::Utf16Le, true), (Transform::Utf16Be, false)] {
            let wide: Vec<u8> = printable
                .iter()
                .flat_map(|&b| if little { [b, 0] } else { [0, b] })
                .collect();
            let middle = printable.len() / 2 * 2;
            let run = encoded_run(&wide, middle..middle + 2, transform);
            assert_eq!(run, 0..wide.len());
            assert_eq!(decode(&wide, transform), vec![printable.clone()]);
        }
    }

    // Escapes undone.
    let escaped = escape(rest, mode >> 4);
    if escaped.len() != rest.len() {
        let (text, _, _) = unescape(&escaped).expect("escapes were written");
        assert_eq!(text, rest, "unescaping {escaped:?}");
    }
});
