//! What a live leaked key did while it was exposed: the window it was public, its requests and
//! tokens per model per day (and the equal-length period before, to show the jump abuse
//! causes), what it cost, and what it can reach. The figures come from the provider's own usage,
//! cost and audit answers ([`crate::revoke`] reads them); this module holds the block every
//! report format and hook payload carries, and the sentence people read.
//!
//! Field names are the report contract: the HTML report adds up the numbers of each block's
//! `totals` (`requests`, `input_tokens`, `cost_usd`…), and shows the rest as nested lists.

use serde::{Deserialize, Serialize};

/// One key's exposure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// `openai`, `anthropic` or `openrouter`.
    pub provider: String,
    /// The provider's id of the key (`key_…`, `apikey_…`, an OpenRouter hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub window: Window,
    /// What the key did in the window (and what it cost, when known).
    pub totals: Totals,
    /// The same figures for the equal-length period just before the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Period>,
    /// Per day and model, in the window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<DailyUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    pub reach: Reach,
    /// What could not be read, and why (a missing scope, a refused filter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

/// From the first time the key was public to its revocation (or now).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// RFC 3339, UTC.
    pub from: String,
    pub to: String,
    /// How `from` is known: `commit` (the earliest commit holding the key), `file_mtime`, or
    /// `scan_time` (nothing earlier is known).
    pub first_seen: String,
    /// `revocation` or `now`.
    pub until: String,
    /// Whole UTC days the figures cover (the window's first and last day included).
    pub days: u64,
}

/// Requests, tokens and cost of a period. `requests` is `None` where the provider does not
/// count them (Anthropic's usage report counts tokens only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens read from a cache (OpenAI `input_cached_tokens`, Anthropic
    /// `cache_read_input_tokens`).
    pub cached_tokens: u64,
    /// The key's own cost in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// When the provider cannot tell one key's cost: its project's or workspace's, which the key
    /// spent at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_upper_bound_usd: Option<f64>,
}

impl Totals {
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    pub fn add(&mut self, usage: &DailyUsage) {
        if let Some(requests) = usage.requests {
            *self.requests.get_or_insert(0) += requests;
        }
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        self.cached_tokens += usage.cached_tokens;
    }
}

/// The period before the window, for comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// One model's use on one UTC day.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyUsage {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
}

/// What the key cost and how precisely that is known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub usd: f64,
    /// `key` (the provider filtered by the key), `project` or `workspace` (the key's share is
    /// unknown: an upper bound), `key_lifetime` (OpenRouter: the key's own spend since it was
    /// made, not only in the window).
    pub scope: String,
    pub upper_bound: bool,
    /// OpenRouter's own counters: spend today, this week, this month (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
}

/// What the key can reach.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reach {
    /// The user's email or name, or the service account, owning (or having created) the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `user` or `service_account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// From the audit log's `api_key.created` / `api_key.updated` events, where they say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// OpenRouter: the key's credit limit and what is left of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_remaining_usd: Option<f64>,
}

impl Exposure {
    /// One paragraph for people: "live 3 days in public history; 1.2M tokens on gpt-4o, 40x
    /// the period before; about $310 (the project's cost, an upper bound)".
    pub fn summary(&self) -> String {
        let mut parts = vec![format!(
            "live {} in {}",
            plural(self.window.days, "day"),
            match self.window.first_seen.as_str() {
                "commit" => "public history",
                _ => "the scanned files",
            }
        )];
        if self.totals.tokens() > 0 || self.totals.requests.is_some() {
            let mut usage = format!("{} tokens", human(self.totals.tokens()));
            if let Some(requests) = self.totals.requests {
                usage = format!("{} requests, {usage}", human(requests));
            }
            if let Some(model) = self.top_model() {
                usage.push_str(&format!(" (most on {model})"));
            }
            if let Some(before) = &self.before {
                usage.push_str(&format!(
                    ", {}",
                    jump(self.totals.tokens(), before.totals.tokens())
                ));
            }
            parts.push(usage);
        }
        if let Some(cost) = &self.cost {
            let what = match cost.scope.as_str() {
                "key" => String::new(),
                "key_lifetime" => " spent by the key since it was made".to_string(),
                scope => format!(" (the {scope}'s cost, an upper bound)"),
            };
            parts.push(format!("about ${:.2}{what}", cost.usd));
        }
        let reach: Vec<String> = [
            self.reach.owner.as_ref().map(|o| format!("owner {o}")),
            self.reach.project.as_ref().map(|p| format!("project {p}")),
            self.reach
                .workspace
                .as_ref()
                .map(|w| format!("workspace {w}")),
            self.reach
                .scopes
                .as_ref()
                .map(|s| format!("scopes {}", s.join(" "))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !reach.is_empty() {
            parts.push(reach.join(", "));
        }
        if !self.unavailable.is_empty() {
            parts.push(format!("not read: {}", self.unavailable.join("; ")));
        }
        parts.join("; ")
    }

    /// The model with the most tokens in the window.
    fn top_model(&self) -> Option<&str> {
        let mut by_model: Vec<(&str, u64)> = Vec::new();
        for usage in &self.usage {
            let tokens = usage.input_tokens + usage.output_tokens;
            match by_model.iter_mut().find(|(m, _)| *m == usage.model) {
                Some((_, total)) => *total += tokens,
                None => by_model.push((&usage.model, tokens)),
            }
        }
        by_model
            .into_iter()
            .filter(|(model, tokens)| *tokens > 0 && !model.is_empty())
            .max_by_key(|(_, tokens)| *tokens)
            .map(|(model, _)| model)
    }
}

/// `40x the period before`, `none the period before`, `as much as the period before`.
fn jump(now: u64, before: u64) -> String {
    if before == 0 {
        return if now == 0 {
            "none the period before either".to_string()
        } else {
            "none the period before".to_string()
        };
    }
    let ratio = now as f64 / before as f64;
    if ratio >= 1.95 {
        format!("{ratio:.0}x the period before")
    } else {
        format!("{ratio:.1}x the period before")
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `950`, `12.3K`, `1.2M`, `3.4B`.
pub fn human(n: u64) -> String {
    let value = n as f64;
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}K", value / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", value / 1e6),
        _ => format!("{:.1}B", value / 1e9),
    }
}

/// Seconds since the epoch of an RFC 3339 time (`2024-05-02T10:00:00Z`, `…+02:00`, with or
/// without fractions), or of a plain `YYYY-MM-DD` (midnight UTC).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let date = text.get(..10)?;
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(days * 86_400);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let clock = rest.get(..8)?;
    let mut hms = clock.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let mut zone = &rest[8..];
    if let Some(fraction) = zone.strip_prefix('.') {
        zone = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match zone {
        "Z" | "z" | "" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits = zone.get(1..)?;
            let (oh, om) = digits
                .split_once(':')
                .unwrap_or((digits.get(..2)?, &digits[2..]));
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().unwrap_or(0) * 60)
        }
    };
    Some(days * 86_400 + h * 3600 + m * 60 + s - offset)
}

/// RFC 3339 in UTC of seconds since the epoch.
pub fn format_rfc3339(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_day(days),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn format_day(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_and_write_in_utc() {
        assert_eq!(parse_rfc3339("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(
            parse_rfc3339("2024-05-02T12:00:00+02:00"),
            parse_rfc3339("2024-05-02T10:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2024-05-02T10:00:00.123456Z"),
            parse_rfc3339("2024-05-02T10:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2024-05-02"),
            parse_rfc3339("2024-05-02T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        let t = parse_rfc3339("2024-02-29T23:59:58Z").unwrap();
        assert_eq!(format_rfc3339(t), "2024-02-29T23:59:58Z");
        assert_eq!(format_day(t.div_euclid(86_400)), "2024-02-29");
    }

    #[test]
    fn the_summary_says_how_long_how_much_and_the_jump() {
        let usage = |model: &str, input, output| DailyUsage {
            day: "2024-05-02".into(),
            model: model.into(),
            requests: Some(10),
            input_tokens: input,
            output_tokens: output,
            cached_tokens: 0,
        };
        let mut totals = Totals::default();
        let rows = vec![
            usage("gpt-4o", 1_000_000, 200_000),
            usage("gpt-4o-mini", 10, 0),
        ];
        for row in &rows {
            totals.add(row);
        }
        let exposure = Exposure {
            provider: "openai".into(),
            key_id: Some("key_1".into()),
            window: Window {
                from: "2024-05-02T00:00:00Z".into(),
                to: "2024-05-05T00:00:00Z".into(),
                first_seen: "commit".into(),
                until: "revocation".into(),
                days: 3,
            },
            before: Some(Period {
                from: "2024-04-29T00:00:00Z".into(),
                to: "2024-05-02T00:00:00Z".into(),
                totals: Totals {
                    input_tokens: 30_000,
                    ..Totals::default()
                },
            }),
            totals,
            usage: rows,
            cost: Some(Cost {
                usd: 310.0,
                scope: "project".into(),
                upper_bound: true,
                daily_usd: None,
                weekly_usd: None,
                monthly_usd: None,
            }),
            reach: Reach::default(),
            unavailable: Vec::new(),
        };
        assert_eq!(
            exposure.summary(),
            "live 3 days in public history; 20 requests, 1.2M tokens (most on gpt-4o), 40x \
             the period before; about $310.00 (the project's cost, an upper bound)"
        );
    }
}
