//! The `Secret` type: the bytes of a found key, which redact themselves and are wiped from
//! memory when dropped.
//!
//! Every report, log line and error goes through `Display`/`Debug`, which show only a redacted
//! form; the full value comes out only through the explicit [`Secret::expose`] call, used by
//! `--show-secrets`, verification and revocation.
//!
//! What the wiping covers, and what it does not: a `Secret`'s own buffer is overwritten with
//! zeros when the `Secret` is dropped (every `Match` and `Finding` holds its key as a
//! `Secret`, so their keys are wiped with them), and so is the buffer in which
//! [`Secret::bearer`] assembles `Bearer <key>`. Copies made elsewhere are not: the file or
//! stream chunk the key was found in, the buffers of the decoders, the regex engine and serde,
//! the strings [`Secret::expose_str`] returns (redaction and echo checks), the header values
//! handed to the HTTP client and its and the kernel's buffers of a request, and the
//! environment ferret was started with (`OPENAI_ADMIN_KEY`, `GITHUB_TOKEN`). Wiping narrows how
//! long a key sits in memory; it does not protect against someone who can read the process's
//! memory while it runs.

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// The raw bytes of a matched secret; zeroed when dropped.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Secret(Vec<u8>);

impl Drop for Secret {
    fn drop(&mut self) {
        // Zeroes the whole allocation (spare capacity too), not only the length in use.
        self.0.zeroize();
    }
}

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The full secret. Call only where the operator asked for it or the secret must leave the
    /// process on purpose (verification).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The full secret as text, lossily decoded (keys are ASCII in practice).
    pub fn expose_str(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// `Bearer <secret>`, for an `Authorization` header (marked sensitive, so the HTTP client
    /// never shows it), assembled in a buffer that is wiped afterwards (the header value is a
    /// copy). `None` when the secret holds bytes no header may carry.
    pub fn bearer(&self) -> Option<reqwest::header::HeaderValue> {
        let mut value = Zeroizing::new(Vec::with_capacity(7 + self.0.len()));
        value.extend_from_slice(b"Bearer ");
        value.extend_from_slice(&self.0);
        sensitive_header(&value)
    }

    /// The secret as a whole header value (`x-api-key: <secret>`), marked sensitive.
    pub fn header_value(&self) -> Option<reqwest::header::HeaderValue> {
        sensitive_header(&self.0)
    }

    /// SHA-256 of the secret, hex: the identity of a key across locations, runs and baselines.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(hex::encode(Sha256::digest(&self.0)))
    }

    /// The kind prefix (`sk-`, `sk-proj-`, `sk-svcacct-`…), then four characters, `…`, and the last
    /// four. At most half of the secret is ever shown, so short secrets show less.
    pub fn redacted(&self) -> String {
        let text = String::from_utf8_lossy(&self.0);
        let chars: Vec<char> = text.chars().collect();
        let budget = chars.len() / 2;
        let tail = 4.min(budget / 2);
        let head = (kind_prefix_len(&chars) + 4).min(budget - tail);
        let mut out: String = chars[..head].iter().collect();
        out.push('…');
        out.extend(&chars[chars.len() - tail..]);
        out
    }
}

/// The shortest run of a secret's characters [`Secret::scrub`] takes out of text: long enough
/// that ordinary words and ids do not match by chance, short enough that no useful part of a
/// key (half of a 40-character one, a prefix an answer echoes) gets through.
pub const MIN_PIECE: usize = 12;

impl Secret {
    /// `text` with every run of [`MIN_PIECE`] or more bytes that occurs in the secret taken
    /// out: the whole secret becomes its redaction, a piece of it `…`. For what comes from
    /// outside (a provider's answer that echoes the key in halves, or a prefix in a header).
    pub fn scrub(&self, text: &[u8]) -> Vec<u8> {
        let key = &self.0;
        if key.len() < MIN_PIECE || text.len() < MIN_PIECE {
            return text.to_vec();
        }
        // Every byte of text inside some MIN_PIECE-long window of the key is covered; a run of
        // any length is a union of such windows.
        let mut covered = vec![false; text.len()];
        for window in key.windows(MIN_PIECE) {
            for at in memchr::memmem::find_iter(text, window) {
                covered[at..at + MIN_PIECE].fill(true);
            }
        }
        if !covered.contains(&true) {
            return text.to_vec();
        }
        let redacted = self.redacted();
        let mut clean = Vec::with_capacity(text.len());
        let mut at = 0;
        while at < text.len() {
            if !covered[at] {
                clean.push(text[at]);
                at += 1;
                continue;
            }
            let end = (at..text.len())
                .find(|&i| !covered[i])
                .unwrap_or(text.len());
            let run = &text[at..end];
            let whole = run.len() == key.len() && run == key.as_slice();
            clean.extend_from_slice(if whole {
                redacted.as_bytes()
            } else {
                "…".as_bytes()
            });
            at = end;
        }
        clean
    }

    /// [`Secret::scrub`] for text.
    pub fn scrub_str(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.scrub(text.as_bytes())).into_owned()
    }
}

/// A header value the HTTP client never shows (in `Debug` output, in errors).
fn sensitive_header(bytes: &[u8]) -> Option<reqwest::header::HeaderValue> {
    let mut value = reqwest::header::HeaderValue::from_bytes(bytes).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Length of a leading `word-` or `word-word-` kind prefix (`sk-`, `sk-proj-`), 0 if none.
fn kind_prefix_len(chars: &[char]) -> usize {
    let mut end = 0;
    for _segment in 0..2 {
        let word = chars[end..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if (2..=8).contains(&word) && chars.get(end + word) == Some(&'-') {
            end += word + 1;
        } else {
            break;
        }
    }
    end
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

/// Hex SHA-256 of a secret.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_takes_out_the_key_and_every_long_piece_of_it() {
        let key = format!("sk-proj-{}", "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78");
        let secret = Secret::new(key.as_bytes());
        let text = format!("bad key {key}; halves {} / {}", &key[..22], &key[22..]);
        let clean = secret.scrub_str(&text);
        assert_eq!(
            clean,
            format!("bad key {}; halves … / …", secret.redacted())
        );
        // Runs shorter than MIN_PIECE stay: they cannot tell the key.
        let short = &key[8..8 + MIN_PIECE - 1];
        assert_eq!(secret.scrub_str(short), short);
        assert_eq!(secret.scrub_str("nothing"), "nothing");
    }

    #[test]
    fn redaction_keeps_kind_prefix_and_last_four() {
        let body: String = "Ab12".chars().chain("q".repeat(60).chars()).collect();
        let secret = Secret::new(format!("sk-proj-{body}x9Zq"));
        assert_eq!(secret.redacted(), "sk-proj-Ab12…x9Zq");
        assert_eq!(format!("{secret}"), "sk-proj-Ab12…x9Zq");
        assert_eq!(format!("{secret:?}"), "Secret(sk-proj-Ab12…x9Zq)");
    }

    #[test]
    fn redaction_never_shows_more_than_half() {
        for len in 0..24 {
            let secret = Secret::new("sk-".to_string() + &"a".repeat(len));
            let shown = secret.redacted().chars().filter(|c| *c != '…').count();
            assert!(shown * 2 <= 3 + len, "len {len}: {}", secret.redacted());
        }
    }

    #[test]
    fn fingerprint_is_sha256_hex() {
        assert_eq!(
            Secret::new("abc").fingerprint().0,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
