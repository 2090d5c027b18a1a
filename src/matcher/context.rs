//! Keys named by their block: for rules whose keys have no prefix of their own (Mistral,
//! Cohere, DeepSeek, Azure OpenAI), the provider's name may stand somewhere other than before
//! the key on its line. A rule's `block` gives the key's shape alone and what names the
//! provider; a value of that shape assigned to a name that says key, token, secret or password
//! (or to `value`, or in an XML element such as `<apiKey>`) is a key when the name stands
//!
//! - on the value's own line, before or after it (`OpenAI(api_key="…",
//!   base_url="https://api.deepseek.com")`: a provider's API host names it);
//! - on the line that opens its block: the nearest line above with less indentation (a YAML
//!   parent key `mistral:`, a JSON `"mistral": {`, an XML `<mistral>`, a call
//!   `Client(`), the YAML list item it belongs to (`- name: MISTRAL_API_KEY` then
//!   `value: …`), or the TOML/INI section header above it (`[deepseek]`);
//! - on another line of that block, before or after the value (`"provider": "mistral"`,
//!   `base_url="https://api.deepseek.com"` in the same call), when the value is inside a block
//!   (indented, under a section header, or in a call left open on its line).
//!
//! The look around is bounded: at most [`BLOCK_LINES`] lines each way and the rule's
//! `max_len` bytes, and it happens only for value-shaped candidates inside the window the
//! matcher already searches around one of the rule's keywords, so the cost per input byte
//! stays bounded. Lines end at a newline or at a `\n` escape (JSON inside a JSON string).

use std::ops::Range;

use regex::bytes::Regex;

use super::filters::starts_at_boundary;
use super::{Matcher, RawMatch};
use crate::rules::Block;

/// How many lines above and below a value its block is looked for in.
pub const BLOCK_LINES: usize = 8;

/// A rule's block search, compiled.
#[derive(Debug)]
pub(super) struct BlockFinder {
    /// An assignment of a value of the key's shape; the value is group `secret`.
    candidate: Regex,
}

impl BlockFinder {
    pub(super) fn new(block: &Block) -> Self {
        // A name saying key (`api_key`, `apiKey`, `MISTRAL_API_KEY`, `token`, `secret`…) or
        // `value`, its closing quotes or bracket, an assignment; or an XML element named so.
        let candidate = format!(
            r#"(?:(?i:[a-z0-9_.\-]*(?:key|token|secret|password|credential)s?|value)["'`\]\\]*[ \t]*(?:=>|:=|[:=])|<(?i:[a-z0-9_.\-:]*(?:key|token|secret))(?:[ \t][^>\n]*)?>)[ \t]*\\{{0,3}}["'`]?[ \t]*(?P<secret>{})(?:[^A-Za-z0-9_-]|$)"#,
            block.value.as_str()
        );
        BlockFinder {
            candidate: Regex::new(&candidate).expect("a rule's block value compiled on its own"),
        }
    }

    /// The spans of the values in `hay[window]` whose block names their provider (`name`),
    /// looking at most `limit` bytes away.
    pub(super) fn find(
        &self,
        hay: &[u8],
        window: Range<usize>,
        name: &Regex,
        limit: usize,
    ) -> Vec<Range<usize>> {
        let base = window.start;
        self.candidate
            .captures_iter(&hay[window])
            .filter_map(|caps| caps.name("secret"))
            .map(|m| base + m.start()..base + m.end())
            .filter(|span| named_nearby(hay, span, name, limit))
            .collect()
    }
}

impl Matcher {
    /// Appends to `out` rule `index`'s keys in `hay[window]` named by their block, whose
    /// secrets start inside `report` and pass the rule's filters.
    pub(super) fn find_in_blocks(
        &self,
        index: usize,
        block: &BlockFinder,
        hay: &[u8],
        window: Range<usize>,
        report: &Range<usize>,
        out: &mut Vec<RawMatch>,
    ) {
        let rule = &self.rules.rules[index];
        let Some(names) = &rule.block else {
            return;
        };
        for span in block.find(hay, window, &names.name, rule.max_len) {
            if report.contains(&span.start)
                && starts_at_boundary(hay, span.start)
                && Self::looks_like_a_key(rule, &hay[span.clone()])
            {
                out.push(RawMatch {
                    rule: index,
                    span,
                    decoded: None,
                });
            }
        }
    }
}

/// One line of the input, with its place.
struct Line<'h> {
    text: &'h [u8],
    start: usize,
    /// Where the line's content starts: after its indentation and a YAML list item's `- `.
    indent: usize,
    /// Where a YAML list item's `-` stands, if the line starts one.
    dash: Option<usize>,
}

impl<'h> Line<'h> {
    /// The line of `hay` that holds `at`, seen no further than `floor..ceiling`.
    fn around(hay: &'h [u8], at: usize, floor: usize, ceiling: usize) -> Line<'h> {
        let mut start = at;
        while start > floor && !ends_line(hay, start) {
            start -= 1;
        }
        let mut end = at;
        while end < ceiling && !breaks_at(hay, end) {
            end += 1;
        }
        Line::new(hay, start, end)
    }

    fn new(hay: &'h [u8], start: usize, end: usize) -> Line<'h> {
        let text = &hay[start..end];
        let spaces = text
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let (indent, dash) = match &text[spaces..] {
            [b'-', b' ', ..] => {
                let after = text[spaces + 1..]
                    .iter()
                    .take_while(|b| matches!(b, b' ' | b'\t'))
                    .count();
                (spaces + 1 + after, Some(spaces))
            }
            _ => (spaces, None),
        };
        Line {
            text,
            start,
            indent,
            dash,
        }
    }

    /// The line before this one, as far back as `floor`.
    fn previous(&self, hay: &'h [u8], floor: usize) -> Option<Line<'h>> {
        let brk = line_break_len(hay, self.start);
        if self.start <= floor || brk == 0 {
            return None;
        }
        let end = self.start - brk;
        Some(Line::around(hay, end, floor, end))
    }

    /// The line after this one, if it starts before `ceiling`.
    fn next(&self, hay: &'h [u8], ceiling: usize) -> Option<Line<'h>> {
        let end = self.start + self.text.len();
        let start = end + break_len_at(hay, end);
        (start > end && start < ceiling).then(|| Line::around(hay, start, start, ceiling))
    }

    fn is_blank_or_comment(&self) -> bool {
        let content = self.text.trim_ascii();
        content.is_empty()
            || [&b"#"[..], b"//", b";", b"<!--", b"--"]
                .iter()
                .any(|c| content.starts_with(c))
    }

    /// A TOML or INI section header: `[name]`, `[[name]]`.
    fn is_section_header(&self) -> bool {
        let content = self.text.trim_ascii();
        content.len() > 2
            && content.starts_with(b"[")
            && content.ends_with(b"]")
            && !content
                .iter()
                .any(|b| matches!(b, b'"' | b'\'' | b'=' | b',' | b' '))
    }

    /// More `(` than `)`: a call that goes on below.
    fn opens_call(&self) -> bool {
        let count = |c: u8| self.text.iter().filter(|&&b| b == c).count();
        count(b'(') > count(b')')
    }
}

/// Whether a line break ends right before `at` (a newline, or a `\n` escape).
fn ends_line(hay: &[u8], at: usize) -> bool {
    line_break_len(hay, at) > 0
}

/// The length of the line break that ends right before `at`: 1 for a newline, 2 for a `\n`
/// escape, 0 for none.
fn line_break_len(hay: &[u8], at: usize) -> usize {
    match hay.get(..at) {
        Some([.., b'\\', b'n']) => 2,
        Some([.., b'\n']) => 1,
        _ => 0,
    }
}

/// Whether a line break starts at `at`.
fn breaks_at(hay: &[u8], at: usize) -> bool {
    break_len_at(hay, at) > 0
}

fn break_len_at(hay: &[u8], at: usize) -> usize {
    match hay.get(at..) {
        Some([b'\n', ..]) => 1,
        Some([b'\\', b'n', ..]) => 2,
        _ => 0,
    }
}

/// Whether the provider's `name` stands on the line of `span`, on the line opening its block, or
/// on another line of that block (see the module's documentation).
fn named_nearby(hay: &[u8], span: &Range<usize>, name: &Regex, limit: usize) -> bool {
    let floor = span.start.saturating_sub(limit);
    let ceiling = (span.end + limit).min(hay.len());
    let own = Line::around(hay, span.start, floor, ceiling);
    if name.is_match(own.text) {
        return true;
    }
    let (named_above, in_block) = look_above(hay, &own, name, floor);
    named_above || (in_block && look_below(hay, &own, name, ceiling))
}

/// Walks up from `own` to the line that opens its block. Returns whether the name stands on
/// that line or on a line of the block between, and whether `own` sits inside a block (so that
/// lines below it may name it too).
fn look_above(hay: &[u8], own: &Line<'_>, name: &Regex, floor: usize) -> (bool, bool) {
    let mut named = false;
    let mut line = own.previous(hay, floor);
    let mut seen = 0;
    while let Some(above) = line {
        if seen == BLOCK_LINES {
            break;
        }
        if !above.is_blank_or_comment() {
            seen += 1;
            let opens = above.is_section_header()
                || match own.dash {
                    // A list item's block opens at the first line left of its dash that is no
                    // item itself; the items and lines between belong to other items.
                    Some(dash) => above.dash.is_none() && above.indent <= dash,
                    // Any other line's, at the first line less indented (an item's `- ` counts).
                    None => {
                        above.indent < own.indent
                            || above.dash.is_some_and(|dash| dash < own.indent)
                    }
                };
            if opens || own.dash.is_none() {
                named |= name.is_match(above.text);
            }
            if opens {
                return (named, true);
            }
        }
        line = above.previous(hay, floor);
    }
    // No opening line within reach: an indented line is still inside some block.
    let in_block = own.indent > 0 || own.opens_call();
    (named && in_block, in_block)
}

/// Walks down from `own` through the rest of its block (or of the call it opens).
fn look_below(hay: &[u8], own: &Line<'_>, name: &Regex, ceiling: usize) -> bool {
    let mut line = own.next(hay, ceiling);
    let mut seen = 0;
    let mut depth = own.opens_call() as usize;
    while let Some(below) = line {
        if seen == BLOCK_LINES {
            break;
        }
        if !below.is_blank_or_comment() {
            seen += 1;
            let call_goes_on = depth > 0;
            if !call_goes_on
                && (below.is_section_header()
                    || below.indent < own.indent
                    || below
                        .dash
                        .is_some_and(|dash| dash <= own.indent.saturating_sub(2)))
            {
                return false;
            }
            if name.is_match(below.text) {
                return true;
            }
            if call_goes_on {
                let count = |c: u8| below.text.iter().filter(|&&b| b == c).count();
                depth = (depth + count(b'(')).saturating_sub(count(b')'));
            }
        }
        line = below.next(hay, ceiling);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finder() -> (BlockFinder, Regex) {
        let block = Block {
            value: Regex::new("[A-Za-z0-9]{32}").unwrap(),
            name: Regex::new("(?i)mistral").unwrap(),
        };
        (BlockFinder::new(&block), block.name)
    }

    /// The values `text` holds whose block names Mistral, with `{K}` standing for a key.
    fn found(text: &str) -> usize {
        let key = "Q9w8E7r6T5y4U3i2O1pAsDfGhJkLzXcV";
        let text = text.replace("{K}", key);
        let (finder, name) = finder();
        let spans = finder.find(text.as_bytes(), 0..text.len(), &name, 600);
        for span in &spans {
            assert_eq!(&text.as_bytes()[span.clone()], key.as_bytes());
        }
        spans.len()
    }

    #[test]
    fn names_in_the_enclosing_block_count() {
        assert_eq!(found("mistral:\n  api_key: {K}\n"), 1);
        assert_eq!(
            found("llm:\n  mistral:\n    model: x\n    api_key: \"{K}\"\n"),
            1
        );
        assert_eq!(
            found("[mistral]\nmodel = \"large\"\napi_key = \"{K}\"\n"),
            1
        );
        assert_eq!(
            found("{\n  \"mistral\": {\n    \"apiKey\": \"{K}\"\n  }\n}\n"),
            1
        );
        assert_eq!(found("<mistral>\n  <apiKey>{K}</apiKey>\n</mistral>\n"), 1);
        assert_eq!(
            found("env:\n  - name: MISTRAL_API_KEY\n    value: {K}\n  - name: B\n"),
            1
        );
        assert_eq!(
            found("c = Client(\n    api_key=\"{K}\",\n    host=\"api.mistral.ai\",\n)"),
            1
        );
        assert_eq!(
            found("c = Client(api_key=\"{K}\",\n           host=\"api.mistral.ai\")"),
            1
        );
        assert_eq!(
            found("{\"cfg\": \"mistral:\\n  api_key: \\\"{K}\\\"\\n\"}"),
            1
        );
        assert_eq!(found("- provider: mistral\n  token: {K}\n"), 1);
    }

    #[test]
    fn a_block_cut_by_a_chunk_boundary_keeps_its_name() {
        use crate::matcher::{ChunkScanner, Matcher};
        use crate::rules::RuleSet;
        let matcher = Matcher::new(RuleSet::builtin().unwrap());
        let mut rng = fastrand::Rng::with_seed(5);
        let key: String = (0..32)
            .map(|_| {
                let set = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                set[rng.usize(..set.len())] as char
            })
            .collect();
        // Blocks at every offset around a cut: filler lines of 1 to 40 bytes before each.
        let mut input = String::new();
        let mut blocks = 0;
        for i in 0..400 {
            input.push_str(&"y".repeat(i % 40));
            input.push_str("\nmistral:\n  model: large\n  api_key: ");
            input.push_str(&key);
            input.push('\n');
            blocks += 1;
        }
        let mut scanner = ChunkScanner::with_chunk_size(&matcher, 4096);
        let mut found = 0;
        // Fed in pieces, as a stream is, so cuts fall between every pair of lines.
        for piece in input.as_bytes().chunks(1000) {
            scanner.feed(piece, |_| found += 1);
        }
        scanner.finish(|_| found += 1);
        assert_eq!(found, blocks);
    }

    #[test]
    fn names_elsewhere_do_not() {
        // Another block's name, a name too far above, a top-level neighbour, another list item.
        assert_eq!(found("mistral:\n  model: x\nopenai:\n  api_key: {K}\n"), 0);
        let far = "mistral:\n".to_string() + &"  a: b\n".repeat(BLOCK_LINES + 1) + "  key: {K}\n";
        assert_eq!(found(&far), 0);
        assert_eq!(found("MISTRAL_MODEL=large\nAPI_KEY={K}\n"), 0);
        assert_eq!(
            found(
                "env:\n  - name: MISTRAL_MODEL\n    value: large\n  - name: OTHER_KEY\n    value: {K}\n"
            ),
            0
        );
        // A value whose name does not say key.
        assert_eq!(found("mistral:\n  revision: {K}\n"), 0);
        assert_eq!(found("[mistral]\nx = 1\n[openai]\napi_key = \"{K}\"\n"), 0);
    }
}
