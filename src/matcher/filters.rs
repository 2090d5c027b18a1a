//! The filters a rule's regex match must pass to be a key: it starts at a token boundary,
//! its parts are balanced, its entropy is high enough, it is no placeholder.

/// Whether a token may start at `at`: at the start of input, after a byte that cannot be part of
/// a token, or right after an escape sequence (`%3D`, `\n`, `\u0022`, `\x3d`), whose last
/// character would otherwise look like part of the key.
pub(super) fn starts_at_boundary(hay: &[u8], at: usize) -> bool {
    if at == 0 || !is_token_byte(hay[at - 1]) {
        return true;
    }
    let before = &hay[..at];
    let tail = |n: usize| before.len().checked_sub(n).map(|i| &before[i..]);
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    matches!(tail(3), Some([b'%', rest @ ..]) if hex(rest))
        || matches!(tail(2), Some([b'\\', c]) if b"nrtbfv0".contains(c))
        || matches!(tail(6), Some([b'\\', b'u', rest @ ..]) if hex(rest))
        || matches!(tail(4), Some([b'\\', b'x', rest @ ..]) if hex(rest))
}

/// Bytes that can be part of a key: ASCII letters, digits, `_` and `-`.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}
