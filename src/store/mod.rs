//! What ferret keeps on disk between runs: the revocation [`ledger`] and the [`sweep`] state
//! of org-wide scans. Every file here may describe secrets (never hold them), so each is
//! created readable by its owner only.

pub mod ledger;
pub mod sweep;
pub mod watch;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// An error of one of ferret's SQLite files, naming the file; what went wrong is its source.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}", path.display())]
pub struct StoreError {
    what: &'static str,
    path: PathBuf,
    #[source]
    cause: StoreCause,
}

/// What went wrong with one of ferret's SQLite files.
#[derive(Debug, thiserror::Error)]
pub enum StoreCause {
    /// The file (or its directory, or its lock file) is not safe to use, or cannot be opened.
    #[error(transparent)]
    File(#[from] crate::fs::FsError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A record that cannot be written or read back as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Another run holds the ledger's lock (and this one was told not to wait).
    #[error(
        "in use by another ferret run (one run at a time revokes with a ledger): wait for it to \
         finish, or pass --wait-for-ledger"
    )]
    Busy,
    #[error("cannot lock")]
    Lock(#[source] std::io::Error),
    /// A step whose action this ferret does not know (a newer ferret's, or a forged row).
    #[error("step {id}: unknown action `{action}`")]
    UnknownAction { id: i64, action: String },
}

impl From<crate::fs::PrivateDbError> for StoreCause {
    fn from(err: crate::fs::PrivateDbError) -> Self {
        match err {
            crate::fs::PrivateDbError::Fs(err) => StoreCause::File(err),
            crate::fs::PrivateDbError::Sqlite(err) => StoreCause::Sqlite(err),
        }
    }
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
    pub(crate) fn new(what: &'static str, path: &Path, cause: impl Into<StoreCause>) -> StoreError {
        StoreError {
            what,
            path: path.to_path_buf(),
            cause: cause.into(),
        }
    }

    /// What went wrong, for callers that decide by it (wait for a busy ledger, say).
    pub fn cause(&self) -> &StoreCause {
        &self.cause
    }
}

impl FileName {
    /// An error of this file.
    pub fn fail(&self, cause: impl Into<StoreCause>) -> StoreError {
        StoreError::new(self.what, &self.path, cause)
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

    pub fn fail(&self, cause: impl Into<StoreCause>) -> StoreError {
        self.name.fail(cause)
    }
}

pub(crate) use crate::fs::now_seconds;
pub use crate::fs::{cache_dir, state_dir};

/// The default ledger: `ledger.sqlite` in the [`state_dir`].
pub fn default_ledger_path() -> Option<PathBuf> {
    Some(state_dir()?.join("ledger.sqlite"))
}

/// The default usage watch state: `watch.sqlite` in the [`state_dir`].
pub fn default_watch_state_path() -> Option<PathBuf> {
    Some(state_dir()?.join("watch.sqlite"))
}
