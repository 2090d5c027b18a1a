//! The reports of `ferret keys list`, `audit` and `rotate`: text for people, JSON and JSONL
//! for programs, a table page in HTML, and SARIF for the audit ([`super::sarif`]). Keys appear
//! only as their providers show them, redacted.

use std::io::{self, Write};

use serde::Serialize;

use super::policy::{Violation, days};
use super::sarif::{PolicySource, audit_log};
use crate::report::Format;
use crate::report::html::write_table_page;
use crate::revoke::inventory::{Inventory, KeyRecord, Known};
use crate::revoke::scheduled::Rotation;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("`--format {0}` is not a format of this command (use {1})")]
    Unsupported(&'static str, &'static str),
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Json => "json",
        Format::Jsonl => "jsonl",
        Format::Sarif => "sarif",
        Format::Github => "github",
        Format::Html => "html",
    }
}

/// A date (`2026-03-01`) of Unix seconds.
fn date(seconds: Option<i64>) -> String {
    seconds.map_or_else(
        || "-".to_string(),
        |s| crate::exposure::format_rfc3339(s)[..10].to_string(),
    )
}

/// What ferret knows of a key, in a few words.
fn knowledge(known: &[Known]) -> String {
    let words: Vec<String> = known
        .iter()
        .map(|k| {
            let mut text = match (k.event, &k.other_key) {
                ("replacement", Some(old)) => format!("replacement of {old}"),
                ("rotated", Some(new)) => format!("rotated ({}), replaced by {new}", k.status),
                ("rotated", None) => format!("rotation {}", k.status),
                (_, Some(new)) => {
                    format!("leaked ({}: {}), replaced by {new}", k.rule, k.status)
                }
                (_, None) => format!("leaked ({}: {})", k.rule, k.status),
            };
            if !k.places.is_empty() {
                text.push_str(&format!(" at {}", k.places.join(", ")));
            }
            text
        })
        .collect();
    if words.is_empty() {
        "-".into()
    } else {
        words.join("; ")
    }
}

fn last_used(key: &KeyRecord) -> String {
    match (key.shows_last_use, key.last_used_at) {
        (false, _) => "n/a".into(),
        (true, None) => "never".into(),
        (true, at) => date(at),
    }
}

const LIST_HEADERS: [&str; 9] = [
    "provider",
    "kind",
    "id",
    "project",
    "owner",
    "created",
    "last used",
    "key",
    "ferret",
];

fn list_row(key: &KeyRecord) -> Vec<String> {
    let project = match (&key.project, &key.project_name) {
        (Some(id), Some(name)) => format!("{name} ({id})"),
        (Some(id), None) => id.clone(),
        _ => "-".into(),
    };
    let mut owner = super::policy::owner_text(key).unwrap_or_else(|| "-".into());
    if key.owner_in_organization == Some(false) {
        owner.push_str(" [left the organization]");
    } else if key.owner_in_project == Some(false) {
        owner.push_str(" [left the project]");
    }
    let kind = if key.listed {
        key.kind.as_str().to_string()
    } else {
        format!("{} (gone)", key.kind.as_str())
    };
    vec![
        key.provider.to_string(),
        kind,
        key.id.clone(),
        project,
        owner,
        date(key.created_at),
        last_used(key),
        key.redacted.clone(),
        knowledge(&key.ferret),
    ]
}

/// `ferret keys list`.
pub fn write_list(
    inventory: &Inventory,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    match format {
        Format::Json => json_array(&inventory.keys, out),
        Format::Jsonl => json_lines(&inventory.keys, out),
        Format::Text => {
            let rows: Vec<Vec<String>> = inventory.keys.iter().map(list_row).collect();
            text_table(&LIST_HEADERS, &rows, out)?;
            writeln!(
                out,
                "\n{} keys ({})",
                inventory.keys.iter().filter(|k| k.listed).count(),
                inventory.providers.join(", ")
            )?;
            Ok(())
        }
        Format::Html => {
            let rows: Vec<Vec<String>> = inventory.keys.iter().map(list_row).collect();
            let meta = format!(
                "{} keys of {} read {}",
                inventory.keys.iter().filter(|k| k.listed).count(),
                inventory.providers.join(", "),
                crate::exposure::format_rfc3339(inventory.read_at)
            );
            Ok(write_table_page(
                "ferret keys list",
                &meta,
                &LIST_HEADERS,
                &rows,
                out,
            )?)
        }
        other => Err(OutputError::Unsupported(
            format_name(other),
            "text, json, jsonl or html",
        )),
    }
}

/// `ferret keys audit`.
pub fn write_audit(
    violations: &[Violation],
    keys: usize,
    format: Format,
    source: &PolicySource,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let headers = [
        "severity", "rule", "provider", "key", "project", "owner", "message",
    ];
    let rows = || -> Vec<Vec<String>> {
        violations
            .iter()
            .map(|v| {
                vec![
                    v.severity.to_string(),
                    v.rule.to_string(),
                    v.provider.to_string(),
                    match (&v.key_id, &v.redacted) {
                        (Some(id), Some(key)) => format!("{id} {key}"),
                        _ => "-".into(),
                    },
                    v.project.clone().unwrap_or_else(|| "-".into()),
                    v.owner.clone().unwrap_or_else(|| "-".into()),
                    v.message.clone(),
                ]
            })
            .collect()
    };
    let summary = format!(
        "{} policy violations in {keys} keys (policy: {})",
        violations.len(),
        source.uri
    );
    match format {
        Format::Json => json_array(violations, out),
        Format::Jsonl => json_lines(violations, out),
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &audit_log(violations, source))
                .map_err(io::Error::from)?;
            writeln!(out)?;
            Ok(())
        }
        Format::Text => {
            for v in violations {
                writeln!(out, "{:<8} {:<38} {}", v.severity, v.rule, v.message)?;
            }
            writeln!(out, "{summary}")?;
            Ok(())
        }
        Format::Html => Ok(write_table_page(
            "ferret keys audit",
            &summary,
            &headers,
            &rows(),
            out,
        )?),
        Format::Github => Err(OutputError::Unsupported(
            "github",
            "text, json, jsonl, sarif or html",
        )),
    }
}

/// `ferret keys rotate`.
pub fn write_rotations(
    rotations: &[Rotation],
    now: i64,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    match format {
        Format::Json => json_array(rotations, out),
        Format::Jsonl => json_lines(rotations, out),
        Format::Text => {
            for r in rotations {
                let age = r
                    .created_at
                    .map_or_else(String::new, |c| format!(", {} old", days(now - c)));
                let replacement = r
                    .revocation
                    .replacement
                    .as_ref()
                    .map_or_else(String::new, |n| {
                        format!(", replaced by {} of {}", n.key_id, n.service_account)
                    });
                writeln!(
                    out,
                    "{:<16} {} {} ({}{age}){replacement}{}",
                    r.revocation.status_name(),
                    r.key_id,
                    r.redacted,
                    r.project.as_deref().unwrap_or("-"),
                    r.revocation
                        .detail
                        .as_deref()
                        .map_or_else(String::new, |d| format!(": {d}"))
                )?;
            }
            if rotations.is_empty() {
                writeln!(out, "no key to rotate")?;
            }
            Ok(())
        }
        other => Err(OutputError::Unsupported(
            format_name(other),
            "text, json or jsonl",
        )),
    }
}

fn json_array<T: Serialize>(items: &[T], out: &mut dyn Write) -> Result<(), OutputError> {
    serde_json::to_writer_pretty(&mut *out, items).map_err(io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

fn json_lines<T: Serialize>(items: &[T], out: &mut dyn Write) -> Result<(), OutputError> {
    for item in items {
        serde_json::to_writer(&mut *out, item).map_err(io::Error::from)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Columns padded to their widest cell (control characters from the APIs escaped).
fn text_table(headers: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    let clean = |cell: &str| crate::report::clean::escape_controls(cell).into_owned();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>, out: &mut dyn Write| -> io::Result<()> {
        let last = cells.len() - 1;
        let mut text = String::new();
        for (i, (cell, &width)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(headers.to_vec(), out)?;
    for row in &rows {
        line(row.iter().map(String::as_str).collect(), out)?;
    }
    Ok(())
}
