//! What the fuzz targets share: the built-in rules' matcher (built once), key expansion and
//! escaping.
//!
//! No input of the corpus holds a key (none may be committed): inputs write keys as rule
//! example templates (`sk-proj-{b64url:74}T3BlbkFJ{b64url:74}`), which [`expand_keys`] fills
//! in with the same seeded random characters every time, so a crash reproduces from its input.

use std::sync::LazyLock;

use ferret::matcher::Matcher;
use ferret::rules::{RuleSet, expand_template};

/// The built-in rules, decoding at the default depth.
pub static MATCHER: LazyLock<Matcher> = LazyLock::new(|| Matcher::new(builtin()));

/// The built-in rules on plain text only.
pub static PLAIN_MATCHER: LazyLock<Matcher> =
    LazyLock::new(|| Matcher::new(builtin()).with_decode_depth(0));

fn builtin() -> RuleSet {
    RuleSet::builtin().expect("built-in rules compile")
}

/// `data` with the templates in its UTF-8 parts expanded (`«»` markers dropped); bytes that are
/// not UTF-8 are kept as they are.
pub fn expand_keys(data: &[u8]) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(0);
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.utf8_chunks() {
        out.extend(expand_template(chunk.valid(), &mut rng).text);
        out.extend_from_slice(chunk.invalid());
    }
    out
}

/// `text` with every ASCII byte that is not a letter or digit written as an escape of
/// `style` (percent, JSON, JavaScript, HTML decimal, HTML hex).
pub fn escape(text: &[u8], style: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in text {
        if !b.is_ascii() || b.is_ascii_alphanumeric() {
            out.push(b);
            continue;
        }
        let sequence = match style % 5 {
            0 => format!("%{b:02X}"),
            1 => format!("\\u{:04x}", b),
            2 => format!("\\x{b:02x}"),
            3 => format!("&#{b};"),
            _ => format!("&#x{b:x};"),
        };
        out.extend_from_slice(sequence.as_bytes());
    }
    out
}
