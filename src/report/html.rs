//! The HTML report: one self-contained, offline page.
//!
//! Everything is inline (CSS, script, an SVG chart) and a Content-Security-Policy meta tag
//! allows exactly that style and that script by their SHA-256 hashes and nothing else, so the
//! page can make no request of any kind when opened, from a CI artifact or an email.
//!
//! Two renderings of the findings are in the file. The full table, with each secret's details
//! in a `<details>` element, is server-rendered inside `<noscript>`: a reader without script
//! gets all of it, and a browser with script parses it as plain text at no cost. The script
//! renders the interactive table (filters, sorting, pages of 100 rows, expandable rows) from
//! the findings embedded as JSON in a `<script type="application/json">` block, so 20,000
//! findings open without building 20,000 table rows.
//!
//! Escaping is done in two places only: [`E`] HTML-escapes every value written into markup,
//! and [`json_for_script`] writes the JSON with `<`, `>` and `&` as `\u` escapes so nothing in
//! it can end the script element. The script itself puts values into the page only as text.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::page::{Page, PageFinding, Place, count_by, severity_rank};

const CSS: &str = include_str!("html.css");
const SCRIPT: &str = include_str!("html.js");

/// Rows the script shows per page (the server-rendered table has them all).
pub const PAGE_ROWS: usize = 100;

/// Verification statuses, always listed in the counts (error only when some key has it).
const VERIFICATION_STATUSES: [&str; 6] = [
    "live",
    "restricted",
    "quota_exceeded",
    "invalid",
    "error",
    "unverified",
];
/// Revocation statuses; the first four are always listed.
const REVOCATION_STATUSES: [&str; 7] = [
    "revoked",
    "ambiguous",
    "not_ours",
    "failed",
    "already_revoked",
    "skipped",
    "planned",
];

/// Where a human revokes a provider's keys.
const CONSOLES: [(&str, &str); 12] = [
    ("openai", "https://platform.openai.com/api-keys"),
    ("anthropic", "https://console.anthropic.com/settings/keys"),
    ("google", "https://aistudio.google.com/app/apikey"),
    ("huggingface", "https://huggingface.co/settings/tokens"),
    ("groq", "https://console.groq.com/keys"),
    ("xai", "https://console.x.ai"),
    ("openrouter", "https://openrouter.ai/settings/keys"),
    ("mistral", "https://console.mistral.ai/api-keys"),
    ("cohere", "https://dashboard.cohere.com/api-keys"),
    ("replicate", "https://replicate.com/account/api-tokens"),
    ("deepseek", "https://platform.deepseek.com/api_keys"),
    ("azure", "https://portal.azure.com"),
];

/// What to do about a key, by what is known of it (the script picks the list per row).
const STEPS: [(&str, &[&str]); 4] = [
    (
        "live",
        &[
            "Revoke the key at its provider now (ferret revoke does it for OpenAI keys).",
            "Issue a replacement through your secret store and deploy it.",
            "Remove the key from the code: it stays in git history until the history is \
             rewritten, so revoking is what makes it safe.",
        ],
    ),
    (
        "revoked",
        &[
            "The key is revoked: nobody can use it any more.",
            "Remove it from the code, or add its fingerprint to .ferretignore.",
        ],
    ),
    (
        "invalid",
        &[
            "The provider refuses this key (revoked, or never valid): there is nothing to revoke.",
            "Remove it from the code, or add its fingerprint to .ferretignore.",
        ],
    ),
    (
        "unverified",
        &[
            "Nobody has checked whether this key works: treat it as live.",
            "Check it with ferret verify --input REPORT.jsonl (a report written with \
             --show-secrets), or revoke it at its provider.",
            "Then remove it from the code; it stays in git history until the history is \
             rewritten.",
        ],
    ),
];

/// HTML-escapes a value as it is formatted into markup (text and double-quoted attributes).
pub struct E<'a>(pub &'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// JSON that can stand inside a `<script>` element: `<`, `>` and `&` (which appear in JSON
/// only inside strings) become `\u` escapes, so no `</script>` or `<!--` can occur.
pub fn json_for_script(value: &impl Serialize) -> serde_json::Result<String> {
    let json = serde_json::to_string(value)?;
    Ok(json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

/// Writes the whole page.
pub fn write_page(page: &Page, out: &mut dyn Write) -> io::Result<()> {
    let mut html = String::with_capacity(16_384 + page.findings.len() * 1_600);
    head(&mut html, page);
    summary(&mut html, page);
    findings_section(&mut html, page);
    steps_legend(&mut html);
    html.push_str("<script type=\"application/json\" id=\"data\">");
    html.push_str(&json_for_script(&data(page))?);
    html.push_str("</script>\n<script>");
    html.push_str(SCRIPT);
    html.push_str("</script>\n</body>\n</html>\n");
    out.write_all(html.as_bytes())
}

/// A plain page of one table (`ferret keys list`, `ferret keys audit`): the report's style
/// and content security policy, no script, every cell escaped.
pub fn write_table_page(
    title: &str,
    meta: &str,
    headers: &[&str],
    rows: &[Vec<String>],
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut html = String::with_capacity(4_096 + rows.len() * 400);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src {}; img-src data:; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n<style>{CSS}</style>\n</head>\n<body>\n\
         <header><h1>{}</h1><p class=\"meta\">{}</p></header>\n<table>\n<thead><tr>",
        csp_hash(CSS),
        E(title),
        E(title),
        E(meta)
    );
    for header in headers {
        let _ = write!(html, "<th>{}</th>", E(header));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", E(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out.write_all(html.as_bytes())
}

fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn head(html: &mut String, page: &Page) {
    // Nothing may be fetched: no default source, this one style and this one script by hash,
    // and data: images only for the empty favicon that keeps the browser from asking for one.
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{CSS}</style>\n\
         </head>\n<body>\n",
        csp_hash(CSS),
        csp_hash(SCRIPT),
        E(&page.title)
    );
    let places = page.place_count();
    let _ = writeln!(
        html,
        "<header><h1>{}</h1><p class=\"meta\"><b id=\"total\" data-secrets=\"{}\" \
         data-places=\"{places}\">{} {} in {places} {}</b> · generated {} from {}</p></header>",
        E(&page.title),
        page.findings.len(),
        page.findings.len(),
        plural(page.findings.len(), "secret", "secrets"),
        plural(places, "place", "places"),
        E(&page.generated),
        E(&page.inputs.join(", "))
    );
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

fn summary(html: &mut String, page: &Page) {
    let findings = &page.findings;
    html.push_str("<section class=\"cards\" id=\"summary\">\n");
    let status = count_by(findings, |f| vec![f.status()]);
    let revocation = count_by(findings, |f| f.revocation_status().into_iter().collect());
    html.push_str("<div class=\"card\"><h3>Status</h3><ul class=\"group\">");
    for (i, name) in VERIFICATION_STATUSES.iter().enumerate() {
        count_item(html, "status", name, &status, i != 4);
    }
    html.push_str("</ul><ul class=\"group\">");
    for (i, name) in REVOCATION_STATUSES.iter().enumerate() {
        count_item(html, "status", name, &revocation, i < 4);
    }
    html.push_str("</ul></div>\n");
    let severity = count_by(findings, |f| vec![f.severity.as_str()]);
    let mut severities: Vec<&str> = severity.keys().copied().collect();
    severities.sort_by_key(|s| severity_rank(s));
    count_card(html, "Severity", "severity", &severities, &severity);
    let provider = count_by(findings, |f| vec![f.provider.as_str()]);
    count_card(
        html,
        "Provider",
        "provider",
        &by_count(&provider),
        &provider,
    );
    let tools = count_by(findings, |f| f.tools.iter().map(String::as_str).collect());
    count_card(html, "Found by", "tool", &by_count(&tools), &tools);
    exposure_card(html, findings);
    html.push_str("</section>\n");
    chart(html, findings);
    repositories(html, findings);
}

/// Labels by descending count, then name.
fn by_count<'a>(counts: &BTreeMap<&'a str, usize>) -> Vec<&'a str> {
    let mut labels: Vec<&str> = counts.keys().copied().collect();
    labels.sort_by_key(|l| std::cmp::Reverse(counts[l]));
    labels
}

fn count_item(
    html: &mut String,
    kind: &str,
    name: &str,
    counts: &BTreeMap<&str, usize>,
    always: bool,
) {
    let n = counts.get(name).copied().unwrap_or(0);
    if n == 0 && !always {
        return;
    }
    let badge = if kind == "status" { "badge st-" } else { "sv-" };
    let _ = write!(
        html,
        "<li{} data-count=\"{kind}:{}\"><span class=\"{badge}{}\">{}</span><b>{n}</b></li>",
        if n == 0 { " class=\"zero\"" } else { "" },
        E(name),
        E(name),
        E(name)
    );
}

fn count_card(
    html: &mut String,
    title: &str,
    kind: &str,
    labels: &[&str],
    counts: &BTreeMap<&str, usize>,
) {
    let _ = write!(html, "<div class=\"card\"><h3>{title}</h3><ul>");
    for label in labels {
        count_item(html, kind, label, counts, true);
    }
    html.push_str("</ul></div>\n");
}

/// Keys with an exposure block, and the numbers at the top of the blocks (or in their
/// `total`/`totals` object) added up.
pub fn exposure_totals(findings: &[PageFinding]) -> (usize, BTreeMap<String, f64>) {
    let mut keys = 0;
    let mut totals = BTreeMap::new();
    for exposure in findings.iter().filter_map(|f| f.exposure.as_ref()) {
        keys += 1;
        let Some(block) = exposure.as_object() else {
            continue;
        };
        let nested = ["totals", "total"]
            .iter()
            .filter_map(|name| block.get(*name)?.as_object());
        for (name, value) in block.iter().chain(nested.flatten()) {
            if let Some(n) = value.as_f64() {
                *totals.entry(name.clone()).or_insert(0.0) += n;
            }
        }
    }
    (keys, totals)
}

fn exposure_card(html: &mut String, findings: &[PageFinding]) {
    let (keys, totals) = exposure_totals(findings);
    if keys == 0 {
        return;
    }
    let _ = write!(
        html,
        "<div class=\"card\" id=\"exposure\"><h3>Exposure</h3><ul><li data-count=\"exposure:keys\">\
         <span>keys with exposure</span><b>{keys}</b></li>"
    );
    for (name, total) in &totals {
        let shown = if total.fract() == 0.0 && total.abs() < 1e15 {
            format!("{}", *total as i64)
        } else {
            format!("{total:.2}")
        };
        let _ = write!(
            html,
            "<li data-count=\"exposure:{}\"><span>{}</span><b>{shown}</b></li>",
            E(name),
            E(&name.replace('_', " "))
        );
    }
    html.push_str("</ul></div>\n");
}

/// Per repository (sweeps): secrets, live ones and places.
fn repositories(html: &mut String, findings: &[PageFinding]) {
    let mut rows: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for finding in findings {
        let mut seen: Vec<&str> = Vec::new();
        for (place, _) in &finding.places {
            let Some(repository) = place.repository.as_deref() else {
                continue;
            };
            let row = rows.entry(repository).or_default();
            row.2 += 1;
            if !seen.contains(&repository) {
                seen.push(repository);
                row.0 += 1;
                row.1 += usize::from(finding.verification.is_live());
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let mut ordered: Vec<_> = rows.into_iter().collect();
    ordered.sort_by_key(|(name, (secrets, live, _))| (std::cmp::Reverse((*live, *secrets)), *name));
    html.push_str(
        "<h2>Repositories</h2><table id=\"repositories\"><thead><tr><th>repository</th>\
         <th>secrets</th><th>live</th><th>places</th></tr></thead><tbody>",
    );
    for (name, (secrets, live, places)) in ordered {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{secrets}</td><td>{live}</td><td>{places}</td></tr>",
            E(name)
        );
    }
    html.push_str("</tbody></table>\n");
}

const COLUMNS: [(&str, &str); 8] = [
    ("rule", "Rule"),
    ("secret", "Secret"),
    ("status", "Status"),
    ("where", "Where"),
    ("commit", "Commit"),
    ("author", "Author"),
    ("date", "Date"),
    ("fingerprint", "Fingerprint"),
];

fn findings_section(html: &mut String, page: &Page) {
    html.push_str(
        "<h2>Findings</h2>\n<div id=\"controls\" hidden>\
         <input id=\"q\" type=\"search\" placeholder=\"Filter: rule, path, author, commit, \
         fingerprint…\" aria-label=\"filter\">\
         <select id=\"f-status\" aria-label=\"status\"><option value=\"\">every status</option></select>\
         <select id=\"f-provider\" aria-label=\"provider\"><option value=\"\">every provider</option></select>\
         <select id=\"f-repo\" aria-label=\"repository\"><option value=\"\">every repository</option></select>\
         <select id=\"f-tool\" aria-label=\"tool\"><option value=\"\">every tool</option></select>\
         <span id=\"shown\"></span></div>\n<table id=\"findings\" hidden><thead><tr><th></th>",
    );
    for (key, label) in COLUMNS {
        let _ = write!(
            html,
            "<th data-sort=\"{key}\"><button type=\"button\">{label}</button></th>"
        );
    }
    html.push_str(
        "</tr></thead><tbody id=\"rows\"></tbody></table>\n<div id=\"pager\" hidden>\
         <button id=\"prev\" type=\"button\">Previous</button><span id=\"pageinfo\"></span>\
         <button id=\"next\" type=\"button\">Next</button></div>\n",
    );
    static_table(html, page);
}

/// The table for readers without script: every finding, details in `<details>`.
fn static_table(html: &mut String, page: &Page) {
    let multi_tool = tools_of(page).len() > 1;
    html.push_str("<noscript>\n");
    if page.findings.is_empty() {
        html.push_str("<p class=\"note\">No secrets found.</p>\n");
    }
    html.push_str("<table id=\"static\"><thead><tr>");
    for (_, label) in COLUMNS {
        let _ = write!(html, "<th>{label}</th>");
    }
    if multi_tool {
        html.push_str("<th>Found by</th>");
    }
    html.push_str("</tr></thead><tbody>\n");
    let columns = COLUMNS.len() + usize::from(multi_tool);
    for finding in &page.findings {
        static_row(html, finding, multi_tool);
        if has_details(finding) {
            let _ = write!(
                html,
                "<tr class=\"detail\"><td colspan=\"{columns}\"><details><summary>details</summary>"
            );
            details(html, finding, multi_tool);
            html.push_str("</details></td></tr>\n");
        }
    }
    html.push_str("</tbody></table>\n</noscript>\n");
}

fn static_row(html: &mut String, f: &PageFinding, multi_tool: bool) {
    let first = f.places.first().map(|(p, _)| p);
    let place = first.map(where_text).unwrap_or_default();
    let _ = write!(
        html,
        "<tr><td title=\"{}\">{}</td><td class=\"m s\">{}</td><td>",
        E(&f.rules[0].1),
        E(&f.rules[0].0),
        E(&f.secret)
    );
    status_badges(html, f);
    html.push_str("</td><td class=\"where\">");
    linked(html, first.and_then(|p| p.url.as_deref()), &place);
    if f.places.len() > 1 {
        let _ = write!(
            html,
            "<span class=\"more\"> +{} more</span>",
            f.places.len() - 1
        );
    }
    // Commit and fingerprint are written whole and cut to 12 characters by the stylesheet:
    // a copy takes all of them, and the file holds each once.
    let _ = write!(
        html,
        "</td><td class=\"m t\">{}</td><td>{}</td><td class=\"date\">{}</td><td class=\"m t\">{}</td>",
        E(first.and_then(|p| p.commit.as_deref()).unwrap_or_default()),
        E(first.and_then(|p| p.author.as_deref()).unwrap_or_default()),
        E(&first.map(short_date).unwrap_or_default()),
        E(f.fingerprint.as_deref().unwrap_or(&f.key))
    );
    if multi_tool {
        let _ = write!(html, "<td class=\"tools\">{}</td>", E(&f.tools.join(", ")));
    }
    html.push_str("</tr>\n");
}

/// `2024-03-11T09:00:00+00:00` as `2024-03-11 09:00`; other dates as they came.
fn short_date(place: &Place) -> String {
    let date = place.date.as_deref().unwrap_or_default();
    match (place.day(), date.get(10..16)) {
        (Some(day), Some(time)) if time.starts_with('T') => format!("{day} {}", &time[1..]),
        _ => date.to_string(),
    }
}

fn where_text(place: &Place) -> String {
    let mut text = String::new();
    if let Some(repository) = &place.repository {
        text.push_str(repository);
        text.push_str(": ");
    }
    text.push_str(&place.path);
    if place.line > 0 {
        let _ = write!(text, ":{}", place.line);
    }
    text
}

/// A link for web addresses only (importers keep no others; checked again here).
fn linked(html: &mut String, url: Option<&str>, text: &str) {
    match url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
        Some(url) => {
            // No rel needed: links open in the same tab and the page sends no referrer.
            let _ = write!(html, "<a href=\"{}\">{}</a>", E(url), E(text));
        }
        None => {
            let _ = write!(html, "{}", E(text));
        }
    }
}

fn status_badges(html: &mut String, f: &PageFinding) {
    let _ = write!(html, "<span class=\"badge st-{0}\">{0}</span>", f.status());
    if let Some(revocation) = f.revocation_status() {
        let _ = write!(html, " <span class=\"badge st-{0}\">{0}</span>", revocation);
    }
}

fn has_details(f: &PageFinding) -> bool {
    let v = &f.verification;
    f.places.len() > 1
        || f.rules.len() > 1
        || f.revocation.is_some()
        || f.exposure.is_some()
        || !f.checks.is_empty()
        || f.places.iter().any(|(p, _)| p.note.is_some())
        || v.detail.is_some()
        || v.organization.is_some()
        || v.project.is_some()
}

/// Every place, the verification, revocation and exposure of one secret.
fn details(html: &mut String, f: &PageFinding, multi_tool: bool) {
    let _ = write!(
        html,
        "<div class=\"detail-grid\"><section><h3>Locations ({})</h3><table><tr><th>where</th>\
         <th>commit</th><th>author</th><th>date</th><th>how</th>{}</tr>",
        f.places.len(),
        if multi_tool { "<th>found by</th>" } else { "" }
    );
    for (place, tools) in &f.places {
        html.push_str("<tr><td class=\"where\">");
        let mut text = where_text(place);
        if place.column > 0 {
            let _ = write!(text, ":{}", place.column);
        }
        linked(html, place.url.as_deref(), &text);
        let _ = write!(
            html,
            "</td><td class=\"m t\">{}</td><td>{}</td><td>{}</td><td>{}</td>",
            E(place.commit.as_deref().unwrap_or_default()),
            E(place.author.as_deref().unwrap_or_default()),
            E(place.date.as_deref().unwrap_or_default()),
            E(place.note.as_deref().unwrap_or_default())
        );
        if multi_tool {
            let _ = write!(html, "<td class=\"tools\">{}</td>", E(&tools.join(", ")));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table></section><section><h3>Verification</h3>");
    let mut verification = serde_json::to_value(&f.verification).unwrap_or(Value::Null);
    for (tool, check) in &f.checks {
        let said = match &check.detail {
            Some(detail) => format!("{}: {detail}", check.status_name()),
            None => check.status_name().to_string(),
        };
        verification[format!("said by {tool}")] = Value::String(said);
    }
    value_html(html, &verification, 0);
    html.push_str("</section>");
    if let Some(revocation) = &f.revocation {
        html.push_str("<section><h3>Revocation</h3>");
        value_html(
            html,
            &serde_json::to_value(revocation).unwrap_or(Value::Null),
            0,
        );
        html.push_str("</section>");
    }
    if let Some(exposure) = &f.exposure {
        html.push_str("<section><h3>Exposure</h3>");
        value_html(html, exposure, 0);
        html.push_str("</section>");
    }
    if f.rules.len() > 1 {
        let ids: Vec<&str> = f.rules.iter().map(|(id, _)| id.as_str()).collect();
        let _ = write!(
            html,
            "<section><h3>Rules</h3>{}</section>",
            E(&ids.join(", "))
        );
    }
    html.push_str("</div>");
}

/// Any JSON value as nested definition lists of escaped text.
fn value_html(html: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if depth < 5 => {
            html.push_str("<dl>");
            for (name, item) in map {
                if item.is_null() {
                    continue;
                }
                let _ = write!(html, "<dt>{}</dt><dd>", E(&name.replace('_', " ")));
                value_html(html, item, depth + 1);
                html.push_str("</dd>");
            }
            html.push_str("</dl>");
        }
        Value::Array(items) if depth < 5 && items.iter().any(|i| i.is_object()) => {
            html.push_str("<ol>");
            for item in items {
                html.push_str("<li>");
                value_html(html, item, depth + 1);
                html.push_str("</li>");
            }
            html.push_str("</ol>");
        }
        Value::Array(items) if depth < 5 => {
            let texts: Vec<String> = items.iter().map(scalar_text).collect();
            let _ = write!(html, "{}", E(&texts.join(", ")));
        }
        other => {
            let _ = write!(html, "{}", E(&scalar_text(other)));
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn steps_legend(html: &mut String) {
    html.push_str("<h2>What to do</h2><div class=\"cards\">");
    for (class, steps) in STEPS {
        let _ = write!(html, "<div class=\"card\"><h3>{class} keys</h3><ol>");
        for step in steps {
            let _ = write!(html, "<li>{}</li>", E(step));
        }
        html.push_str("</ol></div>");
    }
    html.push_str("</div>\n<p class=\"note\">Provider consoles: ");
    for (i, (provider, url)) in CONSOLES.iter().enumerate() {
        if i > 0 {
            html.push_str(", ");
        }
        let _ = write!(
            html,
            "<a href=\"{url}\" rel=\"noopener noreferrer\">{provider}</a>"
        );
    }
    html.push_str(".</p>\n");
}

fn tools_of(page: &Page) -> Vec<&str> {
    let mut tools: Vec<&str> = Vec::new();
    for finding in &page.findings {
        for tool in &finding.tools {
            if !tools.contains(&tool.as_str()) {
                tools.push(tool);
            }
        }
    }
    tools
}

/// The findings as the script reads them (short keys: 20,000 of them must stay small).
#[derive(Serialize)]
struct Data<'a> {
    #[serde(rename = "pageRows")]
    page_rows: usize,
    tools: Vec<&'a str>,
    consoles: BTreeMap<&'a str, &'a str>,
    steps: BTreeMap<&'a str, &'a [&'a str]>,
    findings: Vec<Row<'a>>,
}

/// One location: repository, path, line, column, commit, author, date, url, how, found by.
/// The url is `1` when it is the GitHub blob address the script can rebuild from the others.
type Loc<'a> = (
    Option<&'a str>,
    &'a str,
    u64,
    u64,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Value,
    Option<&'a str>,
    &'a [String],
);

/// A location's link as the data holds it (see [`Loc`]).
fn url_data(place: &Place) -> Value {
    let Some(url) = &place.url else {
        return Value::Null;
    };
    let rebuilt = match (&place.repository, &place.commit) {
        (Some(repository), Some(commit)) => format!(
            "https://github.com/{repository}/blob/{commit}/{}#L{}",
            place.path, place.line
        ),
        _ => String::new(),
    };
    if *url == rebuilt {
        Value::from(1)
    } else {
        Value::String(url.clone())
    }
}

#[derive(Serialize)]
struct Row<'a> {
    f: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<&'a str>,
    r: &'a str,
    n: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ro: &'a [(String, String)],
    sv: &'a str,
    p: &'a str,
    s: &'a str,
    st: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rv: Option<&'a str>,
    t: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    d: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    v: Option<&'a crate::finding::Verification>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    c: &'a [(String, crate::finding::Verification)],
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<&'a crate::finding::Revocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<&'a Value>,
    l: Vec<Loc<'a>>,
}

fn data(page: &Page) -> Data<'_> {
    let findings = page.findings.iter().map(row_data).collect();
    Data {
        page_rows: PAGE_ROWS,
        tools: tools_of(page),
        consoles: CONSOLES.iter().copied().collect(),
        steps: STEPS.iter().copied().collect(),
        findings,
    }
}

fn row_data(f: &PageFinding) -> Row<'_> {
    let v = &f.verification;
    let detailed = v.organization.is_some()
        || v.project.is_some()
        || v.request_id.is_some()
        || v.detail.is_some();
    Row {
        f: f.fingerprint.as_deref(),
        k: (f.fingerprint.as_deref() != Some(f.key.as_str())).then_some(f.key.as_str()),
        r: &f.rules[0].0,
        n: &f.rules[0].1,
        ro: &f.rules[1..],
        sv: &f.severity,
        p: &f.provider,
        s: &f.secret,
        st: f.status(),
        rv: f.revocation_status(),
        t: &f.tools,
        d: f.first_day(),
        v: detailed.then_some(v),
        c: &f.checks,
        x: f.revocation.as_ref(),
        e: f.exposure.as_ref(),
        l: f.places
            .iter()
            .map(|(p, tools)| {
                (
                    p.repository.as_deref(),
                    p.path.as_str(),
                    p.line,
                    p.column,
                    p.commit.as_deref(),
                    p.author.as_deref(),
                    p.date.as_deref(),
                    url_data(p),
                    p.note.as_deref(),
                    tools.as_slice(),
                )
            })
            .collect(),
    }
}

/// Leaks by the day, month or year they were first committed, live ones marked: an inline
/// SVG bar chart (no script needed).
fn chart(html: &mut String, findings: &[PageFinding]) {
    html.push_str(
        "<figure id=\"chart\"><figcaption>Leaks by first-commit date <span class=\"legend\">\
         <i class=\"key-all\"></i> all keys <i class=\"key-live\"></i> live keys</span>\
         </figcaption>",
    );
    let days: Vec<(&str, bool)> = findings
        .iter()
        .filter_map(|f| Some((f.first_day()?, f.verification.is_live())))
        .collect();
    if days.is_empty() {
        html.push_str(
            "<p class=\"note\">No commit dates: the chart needs findings from git history.</p>\
             </figure>\n",
        );
        return;
    }
    let buckets = super::chart::buckets(&days);
    super::chart::svg(html, &buckets);
    html.push_str("</figure>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_attributes() {
        let text = format!("{}", E("<script>a&b</script> \"q\" 'r'"));
        assert_eq!(
            text,
            "&lt;script&gt;a&amp;b&lt;/script&gt; &quot;q&quot; &#39;r&#39;"
        );
        let json = json_for_script(&serde_json::json!({"p": "</script><!--&"})).unwrap();
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["p"], "</script><!--&");
    }
}
