//! The report writers as round trips: findings with arbitrary secrets, paths, commits and
//! verification details are written as JSON and JSONL and read back through the reader
//! `ferret verify --input`, `ferret merge` and `--baseline` use, which must give back every
//! location as written; SARIF must be valid JSON with one result per location; text and
//! GitHub annotations must not fail, and each annotation stays one line.

#![no_main]

use std::sync::Arc;

use ferret::finding::{
    CommitInfo, Finding, Location, Revocation, RevocationStatus, SourceRepository, Verification,
    VerificationStatus,
};
use ferret::report::{Format, ReadRecord, ReportOptions, parse_records, write_report};
use ferret::secret::Secret;
use ferret_fuzz::MATCHER;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    show_secrets: bool,
    findings: Vec<InputFinding>,
}

#[derive(Arbitrary, Debug)]
struct InputFinding {
    rule: u8,
    secret: Vec<u8>,
    locations: Vec<InputLocation>,
    verification: u8,
    organization: Option<String>,
    detail: Option<String>,
    revocation: Option<(u8, Option<String>, Vec<String>)>,
}

#[derive(Arbitrary, Debug)]
struct InputLocation {
    path: String,
    line: u64,
    column: u64,
    commit: Option<(String, String, String, Vec<String>)>,
    repository: Option<(String, String)>,
    decoded: Option<String>,
}

const STATUSES: [VerificationStatus; 6] = [
    VerificationStatus::Live,
    VerificationStatus::Invalid,
    VerificationStatus::QuotaExceeded,
    VerificationStatus::Restricted,
    VerificationStatus::Error,
    VerificationStatus::Unverified,
];

const REVOCATIONS: [RevocationStatus; 7] = [
    RevocationStatus::Revoked,
    RevocationStatus::AlreadyRevoked,
    RevocationStatus::NotOurs,
    RevocationStatus::Ambiguous,
    RevocationStatus::Failed,
    RevocationStatus::Skipped,
    RevocationStatus::Planned,
];

fn finding(input: InputFinding) -> Finding {
    let rules = MATCHER.rules();
    let rule = &rules[usize::from(input.rule) % rules.len()];
    let locations = input
        .locations
        .into_iter()
        .map(|l| Location {
            path: l.path,
            line: l.line,
            column: l.column,
            commit: l.commit.map(|(id, author, date, refs)| CommitInfo {
                id,
                author,
                date,
                refs,
            }),
            repository: l.repository.map(|(full_name, html_url)| {
                Arc::new(SourceRepository {
                    full_name,
                    html_url,
                })
            }),
            decoded: l.decoded,
            entry: None,
            cell: None,
        })
        .collect();
    let mut finding = Finding::new(rule, Secret::new(input.secret), locations);
    finding.verification = Verification {
        organization: input.organization,
        detail: input.detail,
        ..Verification::with_status(STATUSES[usize::from(input.verification) % STATUSES.len()])
    };
    finding.revocation = input.revocation.map(|(status, detail, also)| Revocation {
        also_revoked: also,
        ..Revocation::new(REVOCATIONS[usize::from(status) % REVOCATIONS.len()], detail)
    });
    finding
}

fn write(format: Format, findings: &[Finding], options: &ReportOptions) -> String {
    let mut out = Vec::new();
    write_report(format, findings, MATCHER.rules(), options, &[], &mut out)
        .expect("writing to memory cannot fail");
    String::from_utf8(out).expect("reports are UTF-8")
}

fuzz_target!(|input: Input| {
    let options = ReportOptions {
        show_secrets: input.show_secrets,
        color: false,
    };
    let findings: Vec<Finding> = input.findings.into_iter().map(finding).collect();
    let written: Vec<(&Finding, &Location)> = findings
        .iter()
        .flat_map(|f| f.locations.iter().map(move |l| (f, l)))
        .collect();

    for format in [Format::Json, Format::Jsonl] {
        let text = write(format, &findings, &options);
        let read: Vec<(usize, ReadRecord)> = parse_records(&text)
            .unwrap_or_else(|e| panic!("{format:?} report not read back: {e}\n{text}"));
        assert_eq!(read.len(), written.len(), "{format:?}");
        for ((_, record), (finding, location)) in read.iter().zip(&written) {
            let secret = if options.show_secrets {
                finding.secret.expose_str()
            } else {
                finding.secret.redacted()
            };
            assert_eq!(record.rule, finding.rule_id);
            assert_eq!(record.secret, secret);
            assert_eq!(record.path, location.path);
            assert_eq!(
                (record.line, record.column),
                (location.line, location.column)
            );
            assert_eq!(record.decoded, location.decoded);
            let commit = location.commit.as_ref();
            assert_eq!(record.commit.as_ref(), commit.map(|c| &c.id));
            assert_eq!(record.author.as_ref(), commit.map(|c| &c.author));
            assert_eq!(record.date.as_ref(), commit.map(|c| &c.date));
            assert_eq!(
                record.refs,
                commit.map(|c| c.refs.clone()).unwrap_or_default()
            );
            assert_eq!(
                record.repository.as_ref(),
                location.repository.as_ref().map(|r| &r.full_name)
            );
        }
        // The baseline reader takes the same records by fingerprint.
        let values: Vec<(usize, serde_json::Value)> = parse_records(&text).expect("read once");
        for ((_, value), (finding, _)) in values.iter().zip(&written) {
            assert_eq!(value["fingerprint"], finding.fingerprint.0.as_str());
        }
    }

    let sarif = write(Format::Sarif, &findings, &options);
    let log: serde_json::Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    let results = log["runs"][0]["results"].as_array().map_or(0, Vec::len);
    assert_eq!(results, written.len());

    let annotations = write(Format::Github, &findings, &options);
    assert_eq!(annotations.lines().count(), written.len());
    assert!(annotations.lines().all(|l| l.starts_with("::")));
    let _ = write(Format::Text, &findings, &options);

    // The HTML page: nothing a finding holds becomes markup, and each secret is one row.
    let html = write(Format::Html, &findings, &options);
    assert_eq!(
        html.matches("<script").count(),
        2,
        "only the page's own scripts"
    );
    assert_eq!(html.matches("</noscript>").count(), 1);
    let start = html.find("id=\"data\">").expect("the page's data") + 10;
    let end = start + html[start..].find("</script>").expect("the data ends");
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("data is JSON");
    let mut secrets: Vec<&str> = written
        .iter()
        .map(|(f, _)| f.fingerprint.0.as_str())
        .collect();
    secrets.sort_unstable();
    secrets.dedup();
    assert_eq!(
        data["findings"].as_array().map_or(0, Vec::len),
        secrets.len()
    );
});
