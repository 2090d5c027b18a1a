//! The model behind the HTML report: every place a tool saw a secret (a [`Sighting`], from
//! ferret's own findings or from another tool's report) merged into one [`PageFinding`] per
//! secret, with the counts the page shows at the top.
//!
//! Sightings are merged by the secret's fingerprint (SHA-256 of the secret, as ferret computes
//! it) when the report gives the secret or ferret's fingerprint; otherwise by the tool's own
//! identity of the finding, so a redacted gitleaks report still shows each of its findings once.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::ReportOptions;
use crate::finding::{Finding, Location, Revocation, Verification, VerificationStatus};
use crate::secret::Secret;

/// The tool name of ferret's own findings.
pub const FERRET: &str = "ferret";

/// One secret at one place, as one tool reported it.
#[derive(Debug)]
pub struct Sighting {
    /// `ferret`, `gitleaks`, `trufflehog`, `kingfisher`, or a SARIF producer's name.
    pub tool: String,
    /// The full secret, when the report holds it.
    pub secret: Option<Secret>,
    /// Ferret's fingerprint of the secret (SHA-256 hex), when the report gives it.
    pub fingerprint: Option<String>,
    /// The tool's own identity of the finding, for reports that give neither.
    pub tool_key: Option<String>,
    /// What the report shows in place of the secret (its redaction), when it has no full one.
    pub shown: String,
    pub rule: String,
    pub rule_name: String,
    /// `critical`, `high`, `medium`, `low`; `None` when the tool does not say.
    pub severity: Option<String>,
    pub place: Place,
    pub verification: Verification,
    pub revocation: Option<Revocation>,
    /// The `exposure` block of a record, kept as it came (its shape belongs to another feature).
    pub exposure: Option<Value>,
}

/// Where a secret was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place {
    /// `owner/name` for hosted repositories.
    pub repository: Option<String>,
    pub path: String,
    /// 1-based; 0 when unknown.
    pub line: u64,
    pub column: u64,
    pub commit: Option<String>,
    pub author: Option<String>,
    /// As the report gave it (RFC 3339 for ferret).
    pub date: Option<String>,
    /// The line on the repository's web pages (only `http(s)` addresses are kept).
    pub url: Option<String>,
    /// How the secret sat there: `decoded from base64`, `archive entry x`, `cells[2].source`.
    pub note: Option<String>,
}

impl Place {
    /// The first-commit day, `YYYY-MM-DD`, when the date starts with one.
    pub fn day(&self) -> Option<&str> {
        let date = self.date.as_deref()?;
        let day = date.get(..10)?;
        let bytes = day.as_bytes();
        let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
        (digits(0..4) && bytes[4] == b'-' && digits(5..7) && bytes[7] == b'-' && digits(8..10))
            .then_some(day)
    }

    /// What makes two places the same for merging: path, line and commit. The column is left
    /// out, since tools count columns differently (0- or 1-based, bytes or characters).
    pub fn identity(&self) -> (&str, u64, Option<&str>) {
        (&self.path, self.line, self.commit.as_deref())
    }

    /// The same place: same identity, and the same repository unless a tool did not name
    /// one (a local scan names none where another tool names the remote).
    pub fn same_as(&self, other: &Place) -> bool {
        self.identity() == other.identity()
            && (self.repository.is_none()
                || other.repository.is_none()
                || self.repository == other.repository)
    }
}

/// One secret on the page, with every place any tool saw it.
#[derive(Debug)]
pub struct PageFinding {
    /// What the sightings were merged by.
    pub key: String,
    /// SHA-256 hex of the secret, when known.
    pub fingerprint: Option<String>,
    /// `(id, name)` of every rule that matched, ferret's first.
    pub rules: Vec<(String, String)>,
    pub severity: String,
    pub provider: String,
    /// As the page shows it: redacted unless `--show-secrets`.
    pub secret: String,
    pub verification: Verification,
    /// Each tool's verdict, when a tool verified the secret.
    pub checks: Vec<(String, Verification)>,
    pub revocation: Option<Revocation>,
    pub exposure: Option<Value>,
    pub tools: Vec<String>,
    /// Earliest committed first; each with the tools that saw it there.
    pub places: Vec<(Place, Vec<String>)>,
}

impl PageFinding {
    /// The verification status as reports spell it.
    pub fn status(&self) -> &'static str {
        self.verification.status_name()
    }

    /// The revocation status, when revocation acted.
    pub fn revocation_status(&self) -> Option<&'static str> {
        self.revocation.as_ref().map(|r| r.status_name())
    }

    /// The day the secret was first committed, when any place has a date.
    pub fn first_day(&self) -> Option<&str> {
        self.places.iter().filter_map(|(p, _)| p.day()).min()
    }
}

/// Everything the page shows.
#[derive(Debug)]
pub struct Page {
    pub title: String,
    /// When the page was made (RFC 3339, UTC).
    pub generated: String,
    /// What the page was made from: `ferret scan`, or each report with its tool.
    pub inputs: Vec<String>,
    pub findings: Vec<PageFinding>,
}

impl Page {
    /// Merges sightings into one finding per secret, ordered most urgent first.
    pub fn new(
        title: impl Into<String>,
        inputs: Vec<String>,
        sightings: Vec<Sighting>,
        options: &ReportOptions,
    ) -> Page {
        let mut merger = Merger::default();
        for sighting in sightings {
            merger.add(sighting);
        }
        let mut findings: Vec<PageFinding> = merger
            .entries_with_redacted_ones_placed()
            .into_iter()
            .map(|entry| entry.finish(options))
            .collect();
        findings.sort_by(|a, b| {
            let rank = |f: &PageFinding| {
                (
                    status_rank(f.verification.status),
                    f.revocation.as_ref().is_some_and(|r| r.is_done()),
                    severity_rank(&f.severity),
                )
            };
            rank(a)
                .cmp(&rank(b))
                .then_with(|| b.first_day().cmp(&a.first_day()))
                .then_with(|| a.key.cmp(&b.key))
        });
        Page {
            title: title.into(),
            generated: now_rfc3339(),
            inputs,
            findings,
        }
    }

    /// The page of a scan's findings.
    pub fn from_findings(findings: &[Finding], options: &ReportOptions) -> Page {
        let sightings = findings
            .iter()
            .flat_map(|finding| finding.locations.iter().map(|l| sighting_of(finding, l)))
            .collect();
        Page::new(
            "ferret report",
            vec!["ferret scan".to_string()],
            sightings,
            options,
        )
    }

    /// How many places the page's findings have in all.
    pub fn place_count(&self) -> usize {
        self.findings.iter().map(|f| f.places.len()).sum()
    }
}

fn sighting_of(finding: &Finding, location: &Location) -> Sighting {
    let mut notes = Vec::new();
    if let Some(entry) = &location.entry {
        notes.push(format!("archive entry {entry}"));
    }
    if let Some(cell) = &location.cell {
        notes.push(format!("cells[{}].{}", cell.index, cell.part));
    }
    if let Some(encoding) = &location.decoded {
        notes.push(format!("decoded from {encoding}"));
    }
    let commit = location.commit.as_ref();
    Sighting {
        tool: FERRET.to_string(),
        secret: Some(finding.secret.clone()),
        fingerprint: Some(finding.fingerprint.0.clone()),
        tool_key: None,
        shown: String::new(),
        rule: finding.rule_id.clone(),
        rule_name: finding.rule_name.clone(),
        severity: Some(finding.severity.as_str().to_string()),
        place: Place {
            repository: location.repository.as_ref().map(|r| r.full_name.clone()),
            path: location.path.clone(),
            line: location.line,
            column: location.column,
            commit: commit.map(|c| c.id.clone()),
            author: commit.map(|c| c.author.clone()),
            date: commit.map(|c| c.date.clone()),
            url: location.url(),
            note: (!notes.is_empty()).then(|| notes.join(", ")),
        },
        verification: finding.verification.clone(),
        revocation: finding.revocation.clone(),
        exposure: None,
    }
}

/// Live keys first, then the ones nobody could check, invalid ones last.
fn status_rank(status: VerificationStatus) -> u8 {
    match status {
        VerificationStatus::Live => 0,
        VerificationStatus::Restricted => 1,
        VerificationStatus::QuotaExceeded => 2,
        VerificationStatus::Error => 3,
        VerificationStatus::Unverified => 4,
        VerificationStatus::Invalid => 5,
    }
}

pub fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// The findings being built, by merge key.
#[derive(Default)]
struct Merger {
    index: HashMap<String, usize>,
    entries: Vec<Entry>,
}

struct Entry {
    key: String,
    fingerprint: Option<String>,
    secret: Option<Secret>,
    shown: String,
    rules: Vec<(String, String)>,
    severity: Option<String>,
    verification: Verification,
    checks: Vec<(String, Verification)>,
    revocation: Option<Revocation>,
    exposure: Option<Value>,
    tools: Vec<String>,
    places: Vec<(Place, Vec<String>)>,
    /// Whether ferret's own record set the rule, severity and secret shown.
    from_ferret: bool,
}

impl Merger {
    fn add(&mut self, sighting: Sighting) {
        let fingerprint = match &sighting.secret {
            Some(secret) => Some(secret.fingerprint().0),
            None => sighting.fingerprint.clone().filter(|f| is_sha256_hex(f)),
        };
        let key = fingerprint.clone().unwrap_or_else(|| {
            let own = sighting.tool_key.clone().unwrap_or_else(|| {
                let p = &sighting.place;
                format!(
                    "{}:{}:{}:{}:{}",
                    sighting.rule,
                    p.repository.as_deref().unwrap_or_default(),
                    p.path,
                    p.line,
                    p.commit.as_deref().unwrap_or_default()
                )
            });
            format!("{}:{own}", sighting.tool)
        });
        match self.index.get(&key) {
            Some(&at) => self.entries[at].merge(sighting),
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push(Entry::new(key, fingerprint, sighting));
            }
        }
    }
}

impl Merger {
    /// The entries, each one without a fingerprint (a redacted report's) merged into the one
    /// fingerprinted entry seen at the same places, when exactly one was: the same file, line
    /// and commit hold the same secret. Places without a line say too little to match.
    fn entries_with_redacted_ones_placed(self) -> Vec<Entry> {
        type Identity = (String, u64, Option<String>);
        let owned = |p: &Place| -> Identity {
            let (path, line, commit) = p.identity();
            (path.to_string(), line, commit.map(str::to_string))
        };
        // Each place of a fingerprinted entry, with that entry (None: several share it).
        let mut owners: HashMap<Identity, Option<usize>> = HashMap::new();
        for (at, entry) in self.entries.iter().enumerate() {
            if entry.fingerprint.is_none() {
                continue;
            }
            for (place, _) in entry.places.iter().filter(|(p, _)| p.line > 0) {
                owners
                    .entry(owned(place))
                    .and_modify(|owner| {
                        if *owner != Some(at) {
                            *owner = None;
                        }
                    })
                    .or_insert(Some(at));
            }
        }
        let mut entries: Vec<Option<Entry>> = self.entries.into_iter().map(Some).collect();
        for at in 0..entries.len() {
            let Some(entry) = entries[at].as_ref().filter(|e| e.fingerprint.is_none()) else {
                continue;
            };
            let mut targets = entry
                .places
                .iter()
                .map(|(p, _)| owners.get(&owned(p)).copied().flatten());
            let Some(Some(target)) = targets.next() else {
                continue;
            };
            if targets.all(|t| t == Some(target)) {
                let entry = entries[at].take().expect("checked above");
                if let Some(owner) = entries[target].as_mut() {
                    owner.absorb(entry);
                }
            }
        }
        entries.into_iter().flatten().collect()
    }
}

impl Entry {
    /// Takes in what another entry (of a redacted report) knows about the same secret.
    fn absorb(&mut self, other: Entry) {
        for rule in other.rules {
            if !self.rules.contains(&rule) {
                self.rules.push(rule);
            }
        }
        for tool in other.tools {
            if !self.tools.contains(&tool) {
                self.tools.push(tool);
            }
        }
        if self.verification.status == VerificationStatus::Unverified {
            self.verification = other.verification;
        }
        self.checks.extend(other.checks);
        self.severity = self.severity.take().or(other.severity);
        self.revocation = self.revocation.take().or(other.revocation);
        self.exposure = self.exposure.take().or(other.exposure);
        for (place, tools) in other.places {
            match self.places.iter_mut().find(|(p, _)| p.same_as(&place)) {
                Some((mine, mine_tools)) => {
                    for tool in tools {
                        if !mine_tools.contains(&tool) {
                            mine_tools.push(tool);
                        }
                    }
                    fill_place(mine, place);
                }
                None => self.places.push((place, tools)),
            }
        }
    }

    fn new(key: String, fingerprint: Option<String>, s: Sighting) -> Entry {
        let from_ferret = s.tool == FERRET;
        let checks = verdict(&s).into_iter().collect();
        Entry {
            key,
            fingerprint,
            secret: s.secret,
            shown: s.shown,
            rules: vec![(s.rule, s.rule_name)],
            severity: s.severity,
            verification: s.verification,
            checks,
            revocation: s.revocation,
            exposure: s.exposure,
            tools: vec![s.tool.clone()],
            places: vec![(s.place, vec![s.tool])],
            from_ferret,
        }
    }

    fn merge(&mut self, s: Sighting) {
        let ferret = s.tool == FERRET;
        self.checks.extend(verdict(&s));
        let rule = (s.rule, s.rule_name);
        if !self.rules.contains(&rule) {
            // Ferret's rule names the finding; others' follow it.
            if ferret && !self.from_ferret {
                self.rules.insert(0, rule);
            } else {
                self.rules.push(rule);
            }
        }
        if ferret && !self.from_ferret {
            self.severity = s.severity.or(self.severity.take());
        } else if self.severity.is_none() {
            self.severity = s.severity;
        }
        // Ferret's redaction is shown rather than another tool's, when no full secret is known.
        if !s.shown.is_empty() && (self.shown.is_empty() || (ferret && !self.from_ferret)) {
            self.shown = s.shown;
        }
        if self.secret.is_none() {
            self.secret = s.secret;
        }
        // Ferret's verification stands when it checked; another tool's fills an unchecked one.
        let checked = s.verification.status != VerificationStatus::Unverified;
        if checked
            && (self.verification.status == VerificationStatus::Unverified
                || (ferret && !self.from_ferret))
        {
            self.verification = s.verification;
        }
        self.revocation = self.revocation.take().or(s.revocation);
        self.exposure = self.exposure.take().or(s.exposure);
        self.from_ferret |= ferret;
        if !self.tools.contains(&s.tool) {
            self.tools.push(s.tool.clone());
        }
        match self.places.iter_mut().find(|(p, _)| p.same_as(&s.place)) {
            Some((place, tools)) => {
                if !tools.contains(&s.tool) {
                    tools.push(s.tool);
                }
                fill_place(place, s.place);
            }
            None => self.places.push((s.place, vec![s.tool])),
        }
    }

    fn finish(mut self, options: &ReportOptions) -> PageFinding {
        let secret = match &self.secret {
            Some(secret) if options.show_secrets => secret.expose_str(),
            Some(secret) => secret.redacted(),
            None if options.show_secrets || !is_full_secret(&self.shown) => self.shown.clone(),
            // A full secret read from a report written with --show-secrets is still redacted.
            None => Secret::new(self.shown.clone()).redacted(),
        };
        self.places.sort_by(|(a, _), (b, _)| {
            (a.day().is_none(), a.day(), &a.repository, &a.path, a.line).cmp(&(
                b.day().is_none(),
                b.day(),
                &b.repository,
                &b.path,
                b.line,
            ))
        });
        // One tool's own verdict is the verification itself; verdicts are listed when tools meet.
        if self.tools.len() < 2 {
            self.checks.clear();
        }
        let (rule, name) = &self.rules[0];
        PageFinding {
            provider: provider_of(rule, name),
            key: self.key,
            fingerprint: self.fingerprint,
            rules: self.rules,
            severity: self.severity.unwrap_or_else(|| "unknown".to_string()),
            secret,
            verification: self.verification,
            checks: self.checks,
            revocation: self.revocation,
            exposure: self.exposure,
            tools: self.tools,
            places: self.places,
        }
    }
}

/// A tool's verdict on a secret, kept for the details when the tool checked it.
fn verdict(s: &Sighting) -> Option<(String, Verification)> {
    (s.verification.status != VerificationStatus::Unverified)
        .then(|| (s.tool.clone(), s.verification.clone()))
}

/// Fills what one tool left out of a place with what another said.
fn fill_place(place: &mut Place, other: Place) {
    place.repository = place.repository.take().or(other.repository);
    place.author = place.author.take().or(other.author);
    place.date = place.date.take().or(other.date);
    place.url = place.url.take().or(other.url);
    place.note = place.note.take().or(other.note);
    if place.column == 0 {
        place.column = other.column;
    }
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a report's `secret` is a whole secret rather than a redaction (ferret's hold `…`,
/// gitleaks' `REDACTED` or `...`, Kingfisher's `[REDACTED:…]`, others `*`).
pub fn is_full_secret(text: &str) -> bool {
    !text.is_empty()
        && !text.contains('…')
        && !text.contains("REDACTED")
        && !text.ends_with("...")
        && !text.contains("***")
}

/// The provider a rule's keys belong to: a known AI provider named in the rule's id or name,
/// else the first word of the id (`aws` for `aws-access-token`).
pub fn provider_of(rule: &str, name: &str) -> String {
    let text = format!("{rule} {name}").to_ascii_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // Longer names first: "azure openai" is Azure's, "openrouter" is not OpenAI's.
    const CONTAINED: [(&str, &str); 10] = [
        ("azure", "azure"),
        ("openrouter", "openrouter"),
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("huggingface", "huggingface"),
        ("deepseek", "deepseek"),
        ("mistral", "mistral"),
        ("cohere", "cohere"),
        ("replicate", "replicate"),
        ("gemini", "google"),
    ];
    const WORDS: [(&str, &str); 6] = [
        ("claude", "anthropic"),
        ("google", "google"),
        ("hugging", "huggingface"),
        ("groq", "groq"),
        ("xai", "xai"),
        ("grok", "xai"),
    ];
    if let Some((_, provider)) = CONTAINED.iter().find(|(n, _)| text.contains(n)) {
        return provider.to_string();
    }
    if let Some((_, provider)) = WORDS.iter().find(|(n, _)| words.contains(n)) {
        return provider.to_string();
    }
    // Tool prefixes of rule ids (`kingfisher.aws.1`, `betterleaks.kimi-api-key`, `np.aws.1`).
    const PREFIXES: [&str; 3] = ["kingfisher", "betterleaks", "np"];
    words
        .iter()
        .find(|w| !PREFIXES.contains(w))
        .map_or_else(|| "unknown".to_string(), |w| w.to_string())
}

/// Counts of findings by a label, in first-seen order of the labels given first, then by name.
pub fn count_by<'a>(
    findings: &'a [PageFinding],
    labels: impl Fn(&'a PageFinding) -> Vec<&'a str>,
) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for finding in findings {
        for label in labels(finding) {
            *counts.entry(label).or_insert(0) += 1;
        }
    }
    counts
}

/// Now, as RFC 3339 in UTC, from the system clock.
fn now_rfc3339() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = super::chart::civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(tool: &str, secret: Option<&str>, path: &str, line: u64) -> Sighting {
        Sighting {
            tool: tool.to_string(),
            secret: secret.map(Secret::new),
            fingerprint: None,
            tool_key: None,
            shown: "REDACTED".to_string(),
            rule: format!("{tool}-openai-rule"),
            rule_name: "OpenAI key".to_string(),
            severity: None,
            place: Place {
                path: path.to_string(),
                line,
                ..Place::default()
            },
            verification: Verification::default(),
            revocation: None,
            exposure: None,
        }
    }

    #[test]
    fn sightings_of_one_secret_merge_and_keep_each_tool() {
        let secret = format!("sk-{}", "q".repeat(40));
        let mut live = sighting("trufflehog", Some(&secret), "a.env", 1);
        live.verification = Verification::with_status(VerificationStatus::Live);
        let mut ours = sighting(FERRET, Some(&secret), "a.env", 1);
        ours.severity = Some("critical".to_string());
        let page = Page::new(
            "t",
            vec![],
            vec![
                live,
                ours,
                sighting("gitleaks", Some(&secret), "b.env", 2),
                sighting("gitleaks", None, "c.env", 3),
            ],
            &ReportOptions::default(),
        );
        assert_eq!(page.findings.len(), 2, "{page:#?}");
        let merged = &page.findings[0];
        assert_eq!(merged.tools, ["trufflehog", FERRET, "gitleaks"]);
        assert_eq!(merged.rules[0].0, "ferret-openai-rule");
        assert_eq!(merged.severity, "critical");
        assert_eq!(merged.status(), "live");
        assert_eq!(merged.places.len(), 2);
        assert_eq!(merged.places[0].1, ["trufflehog", FERRET]);
        assert_eq!(merged.secret, Secret::new(secret.clone()).redacted());
        assert_eq!(merged.provider, "openai");
        assert_eq!(page.findings[1].secret, "REDACTED");
    }

    #[test]
    fn a_redacted_sighting_joins_the_secret_seen_at_its_place() {
        let secret = format!("sk-{}", "r".repeat(40));
        let mut redacted = sighting("gitleaks", None, "a.env", 1);
        redacted.tool_key = Some("c:a.env:rule:1".to_string());
        let elsewhere = sighting("gitleaks", None, "z.env", 9);
        let page = Page::new(
            "t",
            vec![],
            vec![
                sighting(FERRET, Some(&secret), "a.env", 1),
                redacted,
                elsewhere,
            ],
            &ReportOptions::default(),
        );
        assert_eq!(page.findings.len(), 2, "{page:#?}");
        let joined = page
            .findings
            .iter()
            .find(|f| f.fingerprint.is_some())
            .unwrap();
        assert_eq!(joined.tools, [FERRET, "gitleaks"]);
        assert_eq!(joined.places.len(), 1);
        assert_eq!(joined.places[0].1, [FERRET, "gitleaks"]);
    }

    #[test]
    fn providers_come_from_rule_names() {
        assert_eq!(provider_of("azure-openai-api-key", ""), "azure");
        assert_eq!(provider_of("openrouter-api-key", ""), "openrouter");
        assert_eq!(provider_of("betterleaks.kimi-api-key", ""), "kimi");
        assert_eq!(provider_of("kingfisher.xai.1", "xAI API key"), "xai");
        assert_eq!(provider_of("aws-access-token", ""), "aws");
        assert_eq!(provider_of("OpenAI", ""), "openai");
        assert_eq!(provider_of("", ""), "unknown");
    }

    #[test]
    fn days_are_read_from_each_tools_date_format() {
        let day = |date: &str| {
            Place {
                date: Some(date.to_string()),
                ..Place::default()
            }
            .day()
            .map(str::to_string)
        };
        assert_eq!(
            day("2024-01-01T00:02:00+00:00").as_deref(),
            Some("2024-01-01")
        );
        assert_eq!(
            day("2022-06-16 10:17:40 -0700 PDT").as_deref(),
            Some("2022-06-16")
        );
        assert_eq!(day("10-19-2003"), None);
        assert_eq!(day("2024"), None);
    }

    #[test]
    fn redactions_are_not_full_secrets() {
        for shown in [
            "sk-proj-Ab12…x9Zq",
            "REDACTED",
            "[REDACTED:bb58202c]",
            "sk-abc...",
            "",
        ] {
            assert!(!is_full_secret(shown), "{shown}");
        }
        assert!(is_full_secret("sk-abcdef0123456789"));
        assert!(now_rfc3339().starts_with("20"));
    }
}
