//! Jupyter notebooks: which cell of a notebook a match falls in.
//!
//! A notebook is scanned as the JSON text it is (so lines and columns are the file's own, and
//! escaped keys are found by the matcher's decoders); this module only maps a match's byte
//! offset to `cells[i]` and the member of that cell holding it (`source`, or `outputs`, where a
//! printed key ends up). serde_json gives no byte positions, so the few levels that matter are
//! walked here: the top object's `cells` array and each cell's members, everything else skipped.

use std::ops::Range;

use crate::finding::NotebookCell;
use crate::matcher::LocatedMatch;

/// Whether `data` reads as a notebook: a JSON object with `nbformat` and `cells` members.
pub fn looks_like_notebook(data: &[u8]) -> bool {
    let starts_as_object = data
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    starts_as_object
        && memchr::memmem::find(data, b"\"nbformat\"").is_some()
        && memchr::memmem::find(data, b"\"cells\"").is_some()
}

/// Sets the cell of every match in the notebook `json` (offsets are into `json`).
pub fn annotate(json: &[u8], matches: &mut [LocatedMatch]) {
    let Some(cells) = cell_spans(json) else {
        return;
    };
    for m in matches {
        let at = m.offset as usize;
        let Some(index) = cells.iter().position(|cell| cell.span.contains(&at)) else {
            continue;
        };
        let part = cells[index]
            .members
            .iter()
            .find(|(_, span)| span.contains(&at))
            .map_or_else(String::new, |(key, _)| key.clone());
        m.cell = Some(NotebookCell {
            index: index as u64,
            part,
        });
    }
}

/// One element of `cells`: its bytes, and each member's key and value bytes.
struct CellSpan {
    span: Range<usize>,
    members: Vec<(String, Range<usize>)>,
}

/// The cells of a notebook, or `None` when it is not well-formed enough to tell.
fn cell_spans(json: &[u8]) -> Option<Vec<CellSpan>> {
    let mut reader = JsonReader { json, at: 0 };
    let mut cells = Vec::new();
    reader.members(|reader, key| {
        if key != b"cells" {
            return reader.value().map(drop);
        }
        reader.elements(|reader| {
            reader.skip_whitespace();
            let start = reader.at;
            let mut members = Vec::new();
            if reader.peek() == Some(b'{') {
                reader.members(|reader, key| {
                    let span = reader.value()?;
                    members.push((String::from_utf8_lossy(key).into_owned(), span));
                    Some(())
                })?;
            } else {
                reader.value()?;
            }
            cells.push(CellSpan {
                span: start..reader.at,
                members,
            });
            Some(())
        })
    })?;
    Some(cells)
}

/// A forward-only reader of JSON text that yields byte spans, not values.
struct JsonReader<'j> {
    json: &'j [u8],
    at: usize,
}

impl<'j> JsonReader<'j> {
    fn peek(&self) -> Option<u8> {
        self.json.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// Consumes `byte` after optional whitespace.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Reads a string (at its opening quote); returns its raw contents.
    fn string(&mut self) -> Option<&'j [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
        let contents = self.json.get(start..self.at)?;
        self.at += 1;
        Some(contents)
    }

    /// Skips one value of any kind; returns its span.
    fn value(&mut self) -> Option<Range<usize>> {
        self.skip_whitespace();
        let start = self.at;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                // Iterative, so hostile nesting cannot exhaust the stack.
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth -= 1,
                        _ => {}
                    }
                    self.at += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b']' | b'}') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
            }
        }
        (self.at > start).then_some(start..self.at)
    }

    /// Reads an object, calling `member` with the reader placed before each member's value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'j [u8]) -> Option<()>) -> Option<()> {
        self.items(b'{', b'}', |reader| {
            reader.skip_whitespace();
            let key = reader.string()?;
            reader.expect(b':')?;
            member(reader, key)
        })
    }

    /// Reads an array, calling `element` with the reader placed before each element.
    fn elements(&mut self, element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.items(b'[', b']', element)
    }

    /// Reads `open`, items separated by commas, and `close`.
    fn items(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.expect(open)?;
        self.skip_whitespace();
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.skip_whitespace();
            let next = self.peek()?;
            self.at += 1;
            if next == close {
                return Some(());
            }
            if next != b',' {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_of(json: &str, needle: &str) -> Option<(usize, String)> {
        let cells = cell_spans(json.as_bytes())?;
        let at = json.find(needle)?;
        let index = cells.iter().position(|c| c.span.contains(&at))?;
        let part = cells[index]
            .members
            .iter()
            .find(|(_, span)| span.contains(&at))?
            .0
            .clone();
        Some((index, part))
    }

    #[test]
    fn tells_cell_and_member() {
        let json = r##"{"metadata": {"cells": ["NOT"]},
 "cells": [
  {"cell_type": "markdown", "source": ["# title \"quoted\" [x]"]},
  {"cell_type": "code", "source": "print(KEY_A)", "outputs": [{"text": ["KEY_B\n"]}]}
 ],
 "nbformat": 4}"##;
        assert!(looks_like_notebook(json.as_bytes()));
        assert_eq!(cell_of(json, "KEY_A"), Some((1, "source".into())));
        assert_eq!(cell_of(json, "KEY_B"), Some((1, "outputs".into())));
        assert_eq!(cell_of(json, "title"), Some((0, "source".into())));
        assert_eq!(cell_of(json, "NOT"), None);
    }

    #[test]
    fn malformed_or_hostile_json_gives_no_cells() {
        for json in [
            "{\"cells\": [{\"source\": \"unterminated",
            "{\"cells\": [1, 2",
            "[]",
            "",
            "{\"cells\": [{\"source\": \"\\",
        ] {
            assert!(cell_spans(json.as_bytes()).is_none(), "{json:?}");
        }
        let deep = format!(
            "{{\"cells\": [{}{}]}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(cell_spans(deep.as_bytes()).map(|c| c.len()), Some(1));
    }
}
