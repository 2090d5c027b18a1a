//! Sources: turning the places people keep secrets (directory trees, streams, log files, git
//! history, mirrors of remote repositories) into matches with locations. A source only enumerates and reads input;
//! matching is the matcher's job, suppression and reporting happen downstream.

pub mod contents;
pub mod dir;
pub mod git;
pub mod mirror;
pub mod notebook;
pub mod sqlite;
pub mod stream;

use crate::matcher::{LocatedMatch, Matcher};
use contents::ArchiveLimits;

/// What every scan of a source works with: the matcher, how far archives in the input are
/// opened, and who hears about each problem as it happens.
#[derive(Clone, Copy)]
pub struct ScanContext<'a> {
    pub matcher: &'a Matcher,
    pub archives: &'a ArchiveLimits,
    pub on_warning: &'a (dyn Fn(&Warning) + Sync),
}

impl ScanContext<'_> {
    /// Tells `on_warning` about a problem as it happens, and keeps it in `kept` for the scan's
    /// result.
    pub fn warn(&self, text: String, kept: &mut Vec<Warning>) {
        Warning::report(text, self.on_warning, kept);
    }

    /// The matches in a blob held in memory, its archives opened (see
    /// [`contents::locate_in_blob`]); `warn` hears about archives that could not be read, which
    /// name the blob as `what`.
    pub fn locate_in_blob(
        &self,
        data: &[u8],
        what: &dyn std::fmt::Display,
        warn: &mut dyn FnMut(String),
    ) -> Vec<LocatedMatch> {
        contents::locate_in_blob(self.matcher, data, what, self.archives, warn)
    }
}

/// A non-fatal problem met while reading input (unreadable file, broken symlink, loop): it is
/// reported on stderr and the scan goes on.
#[derive(Debug, Clone)]
pub struct Warning(pub String);

impl Warning {
    /// Tells `on_warning` about a problem as it happens, and keeps it in `kept` for the scan's
    /// result.
    pub fn report(text: String, on_warning: &(dyn Fn(&Warning) + Sync), kept: &mut Vec<Warning>) {
        let warning = Warning(text);
        on_warning(&warning);
        kept.push(warning);
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns a filesystem path into a report path: `/` separators, no leading `./`, quoted by
/// [`quote_path`] when it cannot be shown as it is.
pub fn display_path(path: &std::path::Path) -> String {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().replace('\\', "/").into_bytes();
    let mut rest = bytes.as_slice();
    while let Some(stripped) = rest.strip_prefix(b"./") {
        rest = stripped;
    }
    quote_path(rest)
}

/// A path's bytes as report text. A path that is UTF-8 without control characters is shown as
/// it is; any other (bytes that are not UTF-8, a newline, a tab, or a leading `"`) is quoted as
/// git quotes paths: in double quotes, with C escapes (`\n`, `\"`, `\\`) and octal ones (`\377`)
/// for every other byte outside printable ASCII. A report line then always names exactly one
/// path (a newline in a name cannot forge another line, two names that differ only in bytes
/// that are not UTF-8 are told apart), and [`unquote_path`] gives the bytes back.
pub fn quote_path(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.starts_with('"') && !text.chars().any(char::is_control) => {
            text.to_string()
        }
        _ => gix::quote::ansi_c::quote(gix::bstr::BStr::new(bytes)).to_string(),
    }
}

/// The bytes of a path [`quote_path`] made into text.
pub fn unquote_path(text: &str) -> std::borrow::Cow<'_, [u8]> {
    match gix::quote::ansi_c::undo(gix::bstr::BStr::new(text)) {
        Ok((bytes, _)) if text.starts_with('"') => std::borrow::Cow::Owned(bytes.to_vec()),
        _ => std::borrow::Cow::Borrowed(text.as_bytes()),
    }
}

/// Where a match is, in the input that reports call `path`: an archive entry's path joined to
/// its archive's with `!`.
pub fn location_of(
    m: &crate::matcher::LocatedMatch,
    path: &str,
    commit: Option<crate::finding::CommitInfo>,
) -> crate::finding::Location {
    crate::finding::Location {
        path: match &m.entry {
            Some(entry) => format!("{path}!{entry}"),
            None => path.to_string(),
        },
        entry: m.entry.clone(),
        cell: m.cell.clone(),
        line: m.line,
        column: m.column,
        commit,
        repository: None,
        decoded: m.decoded.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_no_report_could_show_are_quoted_and_come_back_whole() {
        assert_eq!(quote_path("src/é.env".as_bytes()), "src/é.env");
        assert_eq!(quote_path(b"a b\\c.env"), "a b\\c.env");
        assert_eq!(quote_path(b"a\nb.env"), r#""a\nb.env""#);
        assert_eq!(quote_path(b"a\xffb"), r#""a\377b""#);
        assert_eq!(quote_path(b"\"x"), r#""\"x""#);
        assert_ne!(quote_path(b"a\xff"), quote_path(b"a\xfe"));
        for bytes in [
            &b"plain/path"[..],
            b"a\nb",
            b"a\xff\xfeb",
            b"\"x",
            b"tab\there",
        ] {
            assert_eq!(&*unquote_path(&quote_path(bytes)), bytes);
        }
    }
}
