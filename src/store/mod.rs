//! What ferret keeps on disk between runs: the revocation [`ledger`] and the [`sweep`] state
//! of org-wide scans. Every file here may describe secrets (never hold them), so each is
//! created readable by its owner only.

pub mod ledger;
pub mod sweep;

use std::path::{Path, PathBuf};

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

impl StoreError {
    pub(crate) fn new(what: &'static str, path: &Path, reason: String) -> StoreError {
        StoreError {
            what,
            path: path.to_path_buf(),
            reason,
        }
    }
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
        let connection = crate::fs::open_private_db(path).map_err(|e| name.fail(e))?;
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
        crate::fs::check_private(path).map_err(|e| name.fail(e))?;
        let connection =
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| name.fail(e))?;
        Ok(Some(Db { name, connection }))
    }

    pub fn fail(&self, err: impl std::fmt::Display) -> StoreError {
        self.name.fail(err)
    }
}

pub(crate) use crate::fs::now_seconds;
pub use crate::fs::{cache_dir, state_dir};

/// The default ledger: `ledger.sqlite` in the [`state_dir`].
pub fn default_ledger_path() -> Option<PathBuf> {
    Some(state_dir()?.join("ledger.sqlite"))
}
