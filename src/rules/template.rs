//! Rule examples as templates: a committed example may not contain a real-looking key, so
//! `{b64url:74}` stands for 74 random base64url characters (also `alnum`, `hex`, `upper`,
//! `lower`, `digit`; a single character such as `{X:20}` repeats it; N at most
//! [`MAX_TEMPLATE_REPEAT`]), expanded at check time. `«` and `»` mark the exact span the rule
//! must report.

use std::sync::LazyLock;

/// An example after template expansion: the text, and the span the rule must report if the
/// example marked one with `«…»`.
#[derive(Debug)]
pub struct ExpandedExample {
    pub text: Vec<u8>,
    pub expected: Option<std::ops::Range<usize>>,
}

/// The largest `N` of a `{class:N}` template placeholder (keys are a few hundred characters).
pub const MAX_TEMPLATE_REPEAT: usize = 4096;

/// Expands `{class:N}` placeholders with random characters and strips `«»` span markers.
pub fn expand_template(template: &str, rng: &mut fastrand::Rng) -> ExpandedExample {
    const ALPHABETS: &[(&str, &[u8])] = &[
        (
            "b64url",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        ),
        (
            "alnum",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        ),
        ("hex", b"0123456789abcdef"),
        ("upper", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ("lower", b"abcdefghijklmnopqrstuvwxyz"),
        ("digit", b"0123456789"),
    ];
    static PLACEHOLDER: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\{([A-Za-z0-9]+):([0-9]+)\}|«|»").expect("valid regex")
    });
    let placeholder = &*PLACEHOLDER;
    let mut text = Vec::with_capacity(template.len() * 2);
    let mut start = None;
    let mut end = None;
    let mut last = 0;
    for caps in placeholder.captures_iter(template) {
        let whole = caps.get(0).expect("group 0");
        text.extend_from_slice(&template.as_bytes()[last..whole.start()]);
        last = whole.end();
        match whole.as_str() {
            "«" => start = Some(text.len()),
            "»" => end = Some(text.len()),
            _ => {
                let class = &caps[1];
                // A count past the limit (or past usize) is left as written, like an unknown
                // class: a rule file must not make `rules check` allocate gigabytes.
                let count: usize = match caps[2].parse() {
                    Ok(count) if count <= MAX_TEMPLATE_REPEAT => count,
                    _ => {
                        text.extend_from_slice(whole.as_str().as_bytes());
                        continue;
                    }
                };
                match ALPHABETS.iter().find(|(name, _)| *name == class) {
                    Some((_, alphabet)) => {
                        text.extend((0..count).map(|_| alphabet[rng.usize(..alphabet.len())]))
                    }
                    // A one-character class repeats that character: `{X:20}`.
                    None if class.len() == 1 => text.extend(class.repeat(count).bytes()),
                    None => text.extend_from_slice(whole.as_str().as_bytes()),
                }
            }
        }
    }
    text.extend_from_slice(&template.as_bytes()[last..]);
    ExpandedExample {
        text,
        expected: start.zip(end).map(|(s, e)| s..e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_expands_classes_and_marks_span() {
        let mut rng = fastrand::Rng::with_seed(7);
        let ex = expand_template(r#"{"k": "«x{hex:8}y»", n: {digit:3}}"#, &mut rng);
        let text = String::from_utf8(ex.text).unwrap();
        let span = ex.expected.unwrap();
        assert_eq!(span.len(), 10);
        assert!(text[span.clone()].starts_with('x') && text[span].ends_with('y'));
        assert!(text.starts_with(r#"{"k": "x"#));
        assert_eq!(text.len(), r#"{"k": "xy", n: }"#.len() + 8 + 3);
    }

    #[test]
    fn template_counts_past_the_limit_are_left_as_written() {
        // Found by fuzzing (fuzz/fuzz_targets/decode_nested.rs, through the example expansion
        // the targets share): `{alnum:2777777770}` allocated 2.7 GB; a rule file's example
        // could do the same to `ferret rules check`.
        let mut rng = fastrand::Rng::with_seed(1);
        let huge = format!(
            "a{{hex:{}}}b{{X:99999999999999999999999}}",
            MAX_TEMPLATE_REPEAT + 1
        );
        let expanded = expand_template(&huge, &mut rng);
        assert_eq!(expanded.text, huge.as_bytes());
        let limit = format!("{{X:{MAX_TEMPLATE_REPEAT}}}");
        assert_eq!(
            expand_template(&limit, &mut rng).text.len(),
            MAX_TEMPLATE_REPEAT
        );
    }
}
