//! Sources: turning the places people keep secrets (directory trees, streams, log files, git
//! history, mirrors of remote repositories) into matches with locations. A source only enumerates and reads input;
//! matching is the matcher's job, suppression and reporting happen downstream.

pub mod contents;
pub mod dir;
pub mod git;
pub mod mirror;
pub mod notebook;
pub mod stream;

/// A non-fatal problem met while reading input (unreadable file, broken symlink, loop): it is
/// reported on stderr and the scan goes on.
#[derive(Debug, Clone)]
pub struct Warning(pub String);

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns a filesystem path into a report path: `/` separators, no leading `./`.
pub fn display_path(path: &std::path::Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut rest = text.as_str();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    rest.to_string()
}
