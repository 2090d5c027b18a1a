//! The HTML report's chart of leaks by first-commit date: days grouped into days, months or
//! years (whichever gives at most about a hundred bars), drawn as an inline SVG whose colours
//! come from the page's stylesheet.

use std::fmt::Write as _;

use super::html::E;

/// One bar: its label (`2024-03-05`, `2024-03` or `2024`), leaks first committed then, and
/// how many of those keys are live.
#[derive(Debug, PartialEq, Eq)]
pub struct Bucket {
    pub label: String,
    pub total: usize,
    pub live: usize,
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (`civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
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

fn parse_day(day: &str) -> Option<Date> {
    let mut parts = day.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some((year, month, day))
}

/// How dates are grouped into bars, from the first date's day, month or year.
#[derive(Clone, Copy)]
enum Span {
    Days(i64),
    Months(i64),
    Years(i64),
}

type Date = (i64, i64, i64);

fn day_number((y, m, d): Date) -> i64 {
    days_from_civil(y, m, d)
}

fn month_number((y, m, _): Date) -> i64 {
    y * 12 + m - 1
}

impl Span {
    /// Days for up to two months, months for up to ten years, years beyond.
    fn of(first: Date, last: Date) -> Span {
        if day_number(last) - day_number(first) <= 62 {
            Span::Days(day_number(first))
        } else if month_number(last) - month_number(first) <= 120 {
            Span::Months(month_number(first))
        } else {
            Span::Years(first.0)
        }
    }

    /// The bar a date falls in.
    fn index(self, date: Date) -> i64 {
        match self {
            Span::Days(base) => day_number(date) - base,
            Span::Months(base) => month_number(date) - base,
            Span::Years(base) => date.0 - base,
        }
    }

    fn label(self, index: i64) -> String {
        match self {
            Span::Days(base) => {
                let (y, m, d) = civil_from_days(base + index);
                format!("{y:04}-{m:02}-{d:02}")
            }
            Span::Months(base) => {
                format!("{:04}-{:02}", (base + index) / 12, (base + index) % 12 + 1)
            }
            Span::Years(base) => format!("{:04}", base + index),
        }
    }
}

/// Bars for `(YYYY-MM-DD, live)` pairs, every bar between the first and the last included.
pub fn buckets(days: &[(&str, bool)]) -> Vec<Bucket> {
    let dates: Vec<(Date, bool)> = days
        .iter()
        .filter_map(|(day, live)| Some((parse_day(day)?, *live)))
        .collect();
    let Some(first) = dates.iter().map(|(d, _)| *d).min() else {
        return Vec::new();
    };
    let last = dates.iter().map(|(d, _)| *d).max().unwrap_or(first);
    let span = Span::of(first, last);
    let mut bars: Vec<Bucket> = (0..=span.index(last))
        .map(|i| Bucket {
            label: span.label(i),
            total: 0,
            live: 0,
        })
        .collect();
    for (date, live) in dates {
        let bar = &mut bars[span.index(date) as usize];
        bar.total += 1;
        bar.live += usize::from(live);
    }
    bars
}

/// The bars as an SVG: total height in the base colour, the live part over it in red, a
/// tooltip per bar, the highest count on the axis and at most eight labels along it.
pub fn svg(html: &mut String, bars: &[Bucket]) {
    const WIDTH: f64 = 760.0;
    const HEIGHT: f64 = 170.0;
    const LEFT: f64 = 34.0;
    const BOTTOM: f64 = 22.0;
    const TOP: f64 = 8.0;
    let max = bars.iter().map(|b| b.total).max().unwrap_or(0).max(1);
    let plot = (WIDTH - LEFT - 4.0, HEIGHT - BOTTOM - TOP);
    let step = plot.0 / bars.len() as f64;
    // A few bars stay bars, not slabs.
    let width = (step * 0.8).clamp(1.0, 36.0);
    let _ = write!(
        html,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"Leaks \
         by first-commit date, from {} to {}\"><line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" \
         x2=\"{WIDTH}\" y2=\"{base}\"/><text x=\"{x}\" y=\"{top}\" text-anchor=\"end\">{max}</text>\
         <text x=\"{x}\" y=\"{base}\" text-anchor=\"end\">0</text>",
        E(&bars[0].label),
        E(&bars[bars.len() - 1].label),
        base = TOP + plot.1,
        x = LEFT - 4.0,
        top = TOP + 8.0,
    );
    let label_every = bars.len().div_ceil(8).max(1);
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + i as f64 * step + (step - width) / 2.0;
        let height = |n: usize| plot.1 * n as f64 / max as f64;
        let _ = write!(
            html,
            "<g><title>{}: {} leak{} ({} live)</title>",
            E(&bar.label),
            bar.total,
            if bar.total == 1 { "" } else { "s" },
            bar.live
        );
        for (class, n) in [("bar", bar.total), ("bar-live", bar.live)] {
            if n > 0 {
                let _ = write!(
                    html,
                    "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" \
                     height=\"{:.1}\"/>",
                    TOP + plot.1 - height(n),
                    height(n)
                );
            }
        }
        html.push_str("</g>");
        if i % label_every == 0 || i + 1 == bars.len() {
            let _ = write!(
                html,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + width / 2.0,
                HEIGHT - 6.0,
                E(&bar.label)
            );
        }
    }
    html.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for days in [-1, 0, 59, 365, 11_016, 19_782, 20_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn bars_are_days_months_or_years_by_span() {
        let days = buckets(&[("2024-02-27", true), ("2024-03-02", false)]);
        assert_eq!(days.len(), 5, "{days:?}");
        assert_eq!(days[2].label, "2024-02-29");
        assert_eq!((days[0].total, days[0].live, days[4].total), (1, 1, 1));
        let months = buckets(&[
            ("2023-11-05", false),
            ("2024-03-02", false),
            ("2024-03-09", true),
        ]);
        assert_eq!(months.len(), 5);
        assert_eq!(
            months[4],
            Bucket {
                label: "2024-03".into(),
                total: 2,
                live: 1
            }
        );
        let years = buckets(&[("2001-01-01", false), ("2024-03-02", false)]);
        assert_eq!((years.len(), years[0].label.as_str()), (24, "2001"));
        assert!(buckets(&[("garbage", false)]).is_empty());
    }
}
