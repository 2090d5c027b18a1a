//! Units written by people: durations (`500ms`, `2s`, `1h`), byte sizes (`64K`, `256M`), and
//! the line and column of a byte offset in text, for messages that point into a file.

use serde::Deserialize;

/// A duration written as `500ms`, `2s`, `1m`, `1h`, `90d`, or plain seconds (command line and
/// config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Duration(pub std::time::Duration);

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 2s, 1m)"))?;
        let seconds = match unit {
            "ms" => value / 1000.0,
            "" | "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            // Days, for key ages and rotation policies (`max_age = "90d"`).
            "d" => value * 86_400.0,
            _ => {
                return Err(format!(
                    "`{text}`: unknown unit `{unit}` (use ms, s, m, h or d)"
                ));
            }
        };
        std::time::Duration::try_from_secs_f64(seconds)
            .map(Duration)
            .map_err(|e| format!("`{text}`: {e}"))
    }
}

/// A size in bytes written as `4096`, `64K`, `256M` or `2G` (powers of 1024; command line).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ByteSize(pub u64);

const BYTE_UNITS: [(&str, u32); 4] = [("G", 30), ("M", 20), ("K", 10), ("", 0)];

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a size (e.g. 4096, 64K, 256M, 2G)"))?;
        let shift = BYTE_UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(unit))
            .map(|&(_, shift)| shift)
            .ok_or_else(|| format!("`{text}`: unknown unit `{unit}` (use K, M or G)"))?;
        value
            .checked_mul(1 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (unit, shift) = BYTE_UNITS
            .iter()
            .find(|&&(_, shift)| self.0 != 0 && self.0.is_multiple_of(1 << shift))
            .copied()
            .unwrap_or(("", 0));
        write!(f, "{}{unit}", self.0 >> shift)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// 1-based line and column of a byte offset.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}
