//! What ferret keeps on disk between runs: the revocation [`ledger`] and the [`sweep`] state
//! of org-wide scans. Every file here may describe secrets (never hold them), so each is
//! created readable by its owner only.

pub mod ledger;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

/// An error of one of ferret's SQLite files, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {reason}", path.display())]
pub struct StoreError {
    what: &'static str,
    path: PathBuf,
    reason: String,
}

/// One of ferret's SQLite files: its connection, and what to call it in errors.
pub(crate) struct Db {
    pub name: FileName,
    pub connection: Connection,
}

/// What a file is and where, for its errors.
pub(crate) struct FileName {
    what: &'static str,
    path: PathBuf,
}

impl FileName {
    /// An error of this file.
    pub fn fail(&self, err: impl std::fmt::Display) -> StoreError {
        StoreError {
            what: self.what,
            path: self.path.clone(),
            reason: err.to_string(),
        }
    }
}

impl Db {
    /// Opens (creating it, mode 0600, when missing) the file `what` at `path`, with `schema`.
    pub fn open(what: &'static str, path: &Path, schema: &str) -> Result<Db, StoreError> {
        let name = FileName {
            what,
            path: path.to_path_buf(),
        };
        let connection = open_private_db(path).map_err(|e| name.fail(e))?;
        connection.execute_batch(schema).map_err(|e| name.fail(e))?;
        Ok(Db { name, connection })
    }

    /// Opens an existing file without writing to it; `None` when there is none.
    pub fn open_read_only(what: &'static str, path: &Path) -> Result<Option<Db>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        let name = FileName {
            what,
            path: path.to_path_buf(),
        };
        let connection =
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| name.fail(e))?;
        Ok(Some(Db { name, connection }))
    }

    pub fn fail(&self, err: impl std::fmt::Display) -> StoreError {
        self.name.fail(err)
    }
}

/// Seconds since the Unix epoch, as the files record times.
pub(crate) fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Opens (creating it and its directory when missing) a SQLite database readable by its owner
/// only.
pub fn open_private_db(path: &Path) -> Result<Connection, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| e.to_string())?;
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

/// Creates a directory and its missing parents, each one it creates with mode 0700 (on Unix):
/// ferret's state and cache directories hold what describes secrets, and mirrors of
/// repositories that leaked them. Directories that exist are left as they are.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
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
