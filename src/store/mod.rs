//! What ferret keeps on disk between runs: the revocation [`ledger`] and the [`sweep`] state
//! of org-wide scans. Every file here may describe secrets (never hold them), so each is
//! created readable by its owner only.

pub mod ledger;
pub mod sweep;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// Opens (creating it and its directory when missing) a SQLite database readable by its owner
/// only.
pub fn open_private_db(path: &Path) -> Result<Connection, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    if !path.exists() {
        create_private_file(path).map_err(|e| e.to_string())?;
    }
    let connection = Connection::open(path).map_err(|e| e.to_string())?;
    // Another run (a parallel shard) may hold the write lock for a moment.
    connection
        .busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    Ok(connection)
}

/// Creates an empty file with mode 0600 (on Unix).
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Where state that must survive (the ledger, sweep state) lives: `$FERRET_STATE_DIR`, else
/// the XDG state home (`~/.local/state/ferret`).
pub fn state_dir() -> Option<PathBuf> {
    std::env::var_os("FERRET_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("ferret")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".local/state/ferret")))
}

/// Where what can be rebuilt (the verification cache, mirrors) lives: `$FERRET_CACHE_DIR`,
/// else the XDG cache home (`~/.cache/ferret`).
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("FERRET_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("ferret")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/ferret")))
}

/// The default ledger: `ledger.sqlite` in the [`state_dir`].
pub fn default_ledger_path() -> Option<PathBuf> {
    Some(state_dir()?.join("ledger.sqlite"))
}
