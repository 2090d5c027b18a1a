//! Keys inside encodings, through the whole matcher: text holding keys is written as base64
//! (either alphabet, padded or not) or UTF-16 (either byte order), with its punctuation
//! optionally escaped inside that (percent, JSON, JavaScript or HTML), and every key the plain
//! text holds must be found in the encoded text, where the README says it is: base64 when its
//! run is long enough to be decoded and looks like base64 of text, UTF-16 for every rule,
//! escapes only for keywords of letters and digits and keys whose escaped form fits in the
//! rule's reach.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ferret::matcher::base64::{alignments, runs};
use ferret::matcher::decode::{MAX_PIECE, Transform};
use ferret_fuzz::{MATCHER, PLAIN_MATCHER, escape, expand_keys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let plain = expand_keys(rest);
    let escaped = mode & 0x80 != 0;
    let inner = if escaped {
        escape(&plain, mode >> 3)
    } else {
        plain.clone()
    };
    let (encoded, transform) = match mode % 6 {
        0 => (STANDARD.encode(&inner).into_bytes(), Transform::Base64),
        1 => (
            STANDARD_NO_PAD.encode(&inner).into_bytes(),
            Transform::Base64,
        ),
        2 => (URL_SAFE.encode(&inner).into_bytes(), Transform::Base64),
        3 => (
            URL_SAFE_NO_PAD.encode(&inner).into_bytes(),
            Transform::Base64,
        ),
        4 => (
            inner.iter().flat_map(|&b| [b, 0]).collect(),
            Transform::Utf16Le,
        ),
        _ => (
            inner.iter().flat_map(|&b| [0, b]).collect(),
            Transform::Utf16Be,
        ),
    };
    if encoded.len() > MAX_PIECE / 2 {
        return;
    }
    // Base64 is decoded when it is a run of its own that looks like base64 of text (or like
    // base64 at all, aligned at its start).
    let base64_decoded = transform != Transform::Base64 || {
        let found: Vec<_> = runs(&encoded).collect();
        found.len() == 1
            && found[0].span()
                == (0..encoded.len() - encoded.iter().rev().take_while(|&&b| b == b'=').count())
            && alignments(&encoded, &found[0]).contains(&0)
    };
    let found: Vec<Vec<u8>> = MATCHER
        .locate_all(&encoded)
        .into_iter()
        .map(|m| m.secret.expose().to_vec())
        .collect();
    for m in PLAIN_MATCHER.locate_all(&plain) {
        let rule = &PLAIN_MATCHER.rules()[m.rule];
        let secret = m.secret.expose();
        let escapes_fit = |keyword: &String| {
            keyword.bytes().all(|b| b.is_ascii_alphanumeric())
                && escape(secret, mode >> 3).len() + 12 <= rule.max_len
        };
        let expected = base64_decoded && (!escaped || rule.keywords.iter().all(escapes_fit));
        if expected {
            assert!(
                found.iter().any(|f| f == secret),
                "rule {} lost in {:?}{}",
                rule.id,
                transform,
                if escaped { " with escapes" } else { "" }
            );
        }
    }
});
