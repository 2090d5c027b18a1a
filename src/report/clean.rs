//! What ferret prints is clean of two things that come from outside: keys in fields other than
//! `secret` (a key in a file or directory name, a git author or branch name, a repository name),
//! and control characters (a provider's message with newlines that forges report lines or
//! workflow commands, an author name with terminal escape sequences).
//!
//! [`printable`] redacts every known key in every text field of the findings a report shows
//! (unless `--show-secrets`); [`escape_controls`] makes control characters visible
//! (`\n`, `\x1b`, `\u{202e}`) in text meant for a terminal, a log or Markdown. JSON and
//! SARIF need no escaping: their encoders escape control characters already.

use std::borrow::Cow;
use std::sync::Arc;

use super::ReportOptions;
use crate::finding::{Finding, Location};
use crate::secret::Secret;

/// Every key of a report, to take out of whatever text is printed with it: one automaton over
/// all of them, so a field costs one pass however many keys the report holds.
pub struct Redactor {
    keys: Option<aho_corasick::AhoCorasick>,
    redactions: Vec<String>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut keys: Vec<(String, String)> = secrets
            .into_iter()
            .filter(|s| !s.expose().is_empty())
            .map(|s| (s.expose_str(), s.redacted()))
            .collect();
        keys.sort();
        keys.dedup();
        // Leftmost-longest: a key that holds another (rare) is redacted whole.
        let automaton = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(keys.iter().map(|(key, _)| key));
        Redactor {
            keys: automaton.ok().filter(|_| !keys.is_empty()),
            redactions: keys.into_iter().map(|(_, redacted)| redacted).collect(),
        }
    }

    /// `text` with every key replaced by its redaction.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.keys {
            Some(keys) if keys.is_match(text) => {
                Cow::Owned(keys.replace_all(text, &self.redactions))
            }
            _ => Cow::Borrowed(text),
        }
    }

    fn redact_in_place(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.redact(text) {
            *text = clean;
        }
    }

    fn redact_option(&self, text: &mut Option<String>) {
        if let Some(text) = text {
            self.redact_in_place(text);
        }
    }

    /// A copy of `finding` with every key redacted in every field but `secret` (which the
    /// writers redact themselves, or show with `--show-secrets`).
    pub fn finding(&self, finding: &Finding) -> Finding {
        let mut clean = finding.clone();
        self.redact_in_place(&mut clean.rule_name);
        for location in &mut clean.locations {
            self.location(location);
        }
        let verification = &mut clean.verification;
        for text in [
            &mut verification.organization,
            &mut verification.project,
            &mut verification.request_id,
            &mut verification.detail,
        ] {
            self.redact_option(text);
        }
        if let Some(revocation) = &mut clean.revocation {
            self.redact_option(&mut revocation.detail);
            self.redact_option(&mut revocation.project);
            self.redact_option(&mut revocation.service_account);
        }
        if let Some(exposure) = &mut clean.exposure {
            // Names an organization chose (the key's name, its owner) come from outside.
            let reach = &mut exposure.reach;
            for text in [
                &mut reach.owner,
                &mut reach.project,
                &mut reach.workspace,
                &mut reach.name,
            ] {
                self.redact_option(text);
            }
            for model in &mut exposure.usage {
                self.redact_in_place(&mut model.model);
            }
            for text in &mut exposure.unavailable {
                self.redact_in_place(text);
            }
        }
        clean
    }

    fn location(&self, location: &mut Location) {
        self.redact_in_place(&mut location.path);
        self.redact_option(&mut location.entry);
        self.redact_option(&mut location.decoded);
        if let Some(commit) = &mut location.commit {
            self.redact_in_place(&mut commit.author);
            for reference in &mut commit.refs {
                self.redact_in_place(reference);
            }
        }
        if let Some(repository) = &location.repository {
            let name = self.redact(&repository.full_name);
            let url = self.redact(&repository.html_url);
            if matches!(name, Cow::Owned(_)) || matches!(url, Cow::Owned(_)) {
                let mut clean = (**repository).clone();
                clean.full_name = name.into_owned();
                clean.html_url = url.into_owned();
                location.repository = Some(Arc::new(clean));
            }
        }
    }
}

/// The findings as a report without `--show-secrets` may print them: every key of the report
/// redacted in every field. With `--show-secrets`, the findings as they are.
pub fn printable<'f>(findings: &'f [Finding], options: &ReportOptions) -> Cow<'f, [Finding]> {
    if options.show_secrets {
        return Cow::Borrowed(findings);
    }
    let redactor = Redactor::new(findings.iter().map(|f| &f.secret));
    Cow::Owned(findings.iter().map(|f| redactor.finding(f)).collect())
}

/// `text` with control characters (and the bidirectional overrides that reorder what a
/// terminal shows) written out as escapes: `\n`, `\r`, `\t`, `\x1b`, `\u{202e}`. A line of
/// output stays one line, and nothing in it is read by the terminal as a command.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_plain_text_is_kept() {
        assert!(matches!(escape_controls("a/b.txt"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("x\n::error::y\x1b]52;c;AAA\x07\u{202e}"),
            "x\\n::error::y\\x1b]52;c;AAA\\x07\\u{202e}"
        );
        assert_eq!(escape_controls("Zoë \u{85}"), "Zoë \\x85");
    }

    #[test]
    fn every_key_of_the_report_is_redacted_in_every_field() {
        let key = Secret::new(format!("sk-proj-{}", "Ab12Cd34Ef56Gh78Ij90").into_bytes());
        let other = Secret::new(format!("sk-proj-{}", "Zz98Yy76Xx54Ww32Vv10").into_bytes());
        let redactor = Redactor::new([&key, &other, &key]);
        let text = format!("dir/{}/{}.env", key.expose_str(), other.expose_str());
        assert_eq!(
            redactor.redact(&text),
            format!("dir/{}/{}.env", key.redacted(), other.redacted())
        );
        assert!(matches!(redactor.redact("plain"), Cow::Borrowed(_)));
    }
}
