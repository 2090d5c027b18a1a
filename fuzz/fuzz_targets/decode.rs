//! The decoders of `src/matcher/decode.rs` and `src/matcher/base64.rs` on arbitrary bytes:
//! base64 runs lie inside the input, are made of base64 characters and decode piece by piece to
//! what decoding them whole gives, each decoded byte placed inside its run; base64 (both
//! alphabets, padded or not, whole lines or wrapped at 76) decodes back to what was encoded;
//! UTF-16 runs stay around their hit, above their floor and inside the input, and UTF-16 of
//! printable ASCII decodes back; unescaping decodes only well-formed escapes, maps every byte to
//! where it came from, and undoes percent, JSON/JavaScript and HTML escaping.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ferret::matcher::base64::{MIN_RUN, alignments, decode_pieces, runs};
use ferret::matcher::decode::{Transform, decode_utf16, unescape, utf16_run};
use ferret_fuzz::escape;
use libfuzzer_sys::fuzz_target;

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

/// Every run's text decoded whole at `alignment`, and the same in small overlapping pieces
/// stitched back together, must agree; each decoded byte maps inside the run.
fn check_runs(hay: &[u8]) {
    let mut last_end = 0;
    for run in runs(hay) {
        let span = run.span();
        assert!(last_end <= span.start && span.end <= hay.len());
        last_end = span.end;
        for alignment in 0..4 {
            let mut whole = Vec::new();
            decode_pieces(hay, &run, alignment, 1 << 20, 4, |piece| {
                for index in 0..=piece.text.len() {
                    let at = piece.offset_of(&run, index);
                    assert!(span.start <= at && at <= span.end);
                }
                whole.extend_from_slice(&piece.text);
                true
            });
            let mut stitched: Vec<u8> = Vec::new();
            decode_pieces(hay, &run, alignment, 16, 8, |piece| {
                // Pieces start every 8 characters: 6 bytes, the rest is overlap.
                let from = (piece.first_char - alignment) / 4 * 3;
                assert!(from <= stitched.len());
                stitched.truncate(from);
                stitched.extend_from_slice(&piece.text);
                true
            });
            assert_eq!(whole, stitched, "alignment {alignment}");
        }
        assert!(alignments(hay, &run).iter().all(|&a| a < 4));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    check_runs(rest);

    // UTF-16 runs around any hit.
    if rest.len() >= 2 {
        let start = usize::from(mode) % (rest.len() - 1);
        let end = (start + 2 + usize::from(mode >> 4) * 2).min(rest.len());
        let floor = start / 2;
        for transform in [Transform::Utf16Le, Transform::Utf16Be] {
            let run = utf16_run(rest, start..end, transform, floor);
            assert!(floor <= run.start && run.start <= start && end <= run.end);
            assert!(run.end <= rest.len());
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

    if rest.is_empty() {
        return;
    }

    // Base64 on a line of its own or wrapped at 76, either alphabet, padded or not.
    let engine = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD][usize::from(mode % 4)];
    let encoded = engine.encode(rest);
    let text = if mode & 4 != 0 && encoded.len() > 76 {
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|l| std::str::from_utf8(l).expect("base64 is ASCII"))
            .collect();
        format!("data:\n{}\n", lines.join("\n"))
    } else {
        format!("key: {encoded}\n")
    };
    if encoded.trim_end_matches('=').len() >= MIN_RUN {
        let found: Vec<_> = runs(text.as_bytes()).collect();
        assert_eq!(found.len(), 1, "{text:?}");
        let mut decoded = Vec::new();
        decode_pieces(text.as_bytes(), &found[0], 0, 1 << 20, 4, |piece| {
            decoded.extend_from_slice(&piece.text);
            true
        });
        assert_eq!(decoded, rest, "base64 of {rest:?} as {text:?}");
    }

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
            let run = utf16_run(&wide, middle..middle + 2, transform, 0);
            assert_eq!(run, 0..wide.len());
            assert_eq!(decode_utf16(&wide, transform), printable);
        }
    }

    // Escapes undone.
    let escaped = escape(rest, mode >> 4);
    if escaped.len() != rest.len() {
        let (text, _, _) = unescape(&escaped).expect("escapes were written");
        assert_eq!(text, rest, "unescaping {escaped:?}");
    }
});
