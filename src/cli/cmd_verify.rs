//! `ferret verify --input REPORT`, `ferret exposure --input REPORT` and `ferret revoke [--input
//! REPORT]`: verify (and tell the exposure of, or revoke) the
//! findings of an earlier scan's JSON or JSONL report (written with `--show-secrets`, since
//! redacted keys can be neither verified nor revoked).

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};

use super::{RevokeCommandArgs, ScanArgs, VerifyCommandArgs, scan_setup};
use crate::finding::{CommitInfo, Location, Match, SourceRepository};
use crate::report::ReadRecord;
use crate::secret::Secret;

/// Records of a JSON array or JSONL report (`-`: standard input), with the line each came from.
fn read_records(path: &Path) -> anyhow::Result<Vec<(usize, ReadRecord)>> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    crate::report::parse_records(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}", path.display(), crate::error::Chain(&e)))
}

pub fn run_verify(mut args: VerifyCommandArgs) -> anyhow::Result<u8> {
    args.scan.verify.verify = true;
    run(&args.input, &args.scan)
}

pub fn run_exposure(mut args: VerifyCommandArgs) -> anyhow::Result<u8> {
    args.scan.verify.verify = true;
    args.scan.revoke.exposure = true;
    run(&args.input, &args.scan)
}

pub fn run_revoke(mut args: RevokeCommandArgs) -> anyhow::Result<u8> {
    args.scan.verify.verify = true;
    args.scan.revoke.revoke = true;
    let input = match args.input {
        Some(input) => input,
        // Waiting silently on a terminal looks like a hang; a report is never typed in.
        None if std::io::stdin().is_terminal() => bail!(
            "ferret revoke reads a JSON/JSONL report written with --show-secrets: pass \
             --input REPORT.jsonl, or pipe one in (standard input is a terminal)"
        ),
        None => "-".into(),
    };
    run(&input, &args.scan)
}

fn run(input: &Path, scan: &ScanArgs) -> anyhow::Result<u8> {
    let records = read_records(input)?;
    let mut setup = scan_setup::prepare(scan, Path::new("."))?;
    let mut matches = Vec::new();
    for (line, record) in records {
        if record.secret.contains('…') {
            bail!(
                "{}:{line}: the secrets in this report are redacted; rerun the scan with \
                 --show-secrets to write a report that can be verified",
                input.display()
            );
        }
        let Some(rule) = setup
            .matcher
            .rules()
            .iter()
            .position(|r| r.id == record.rule)
        else {
            bail!(
                "{}:{line}: unknown rule `{}` (pass its rule files with --rules)",
                input.display(),
                record.rule
            );
        };
        if !setup.matcher.confirms(rule, record.secret.as_bytes()) {
            bail!(
                "{}:{line}: its secret does not match rule `{}`: refusing to send it to that \
                 rule's provider (was the report edited?)",
                input.display(),
                record.rule
            );
        }
        let commit = record.commit.map(|id| CommitInfo {
            id,
            author: record.author.unwrap_or_default(),
            date: record.date.unwrap_or_default(),
            refs: record.refs,
        });
        matches.push(Match {
            rule,
            secret: Secret::new(record.secret),
            location: Location {
                path: record.path,
                line: record.line,
                column: record.column,
                commit,
                repository: record.repository.map(|full_name| {
                    std::sync::Arc::new(SourceRepository {
                        full_name,
                        html_url: String::new(),
                    })
                }),
                decoded: record.decoded,
                entry: record.entry,
                cell: record.cell,
            },
        });
    }
    scan_setup::report_matches(&mut setup, matches)
}
