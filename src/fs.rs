//! ferret's own files and directories (the revocation ledger, sweep state, the verification
//! cache, mirrors): where they live, created readable by their owner only, and refused when
//! someone else could have planted or changed them.
//!
//! These files decide what ferret deletes and what it reports as safe, so they are evidence
//! only while nobody else can write them: a file or directory that is a symbolic link, is owned
//! by another user, or is writable by group or others is refused with an error naming it,
//! never used. Files are created with `O_NOFOLLOW`, so a planted link is never followed.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why one of ferret's files or directories cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{}: {reason}", path.display())]
    Unsafe { path: PathBuf, reason: String },
    /// The I/O error is the `source`: the chain of causes prints it after the path.
    #[error("{}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl FsError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> FsError + '_ {
        move |source| FsError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Seconds since the Unix epoch, as ferret's files record times.
pub fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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

/// Creates a directory and its missing parents, each one it creates with mode 0700, then
/// checks that the directory is the user's own and writable by nobody else.
pub fn create_private_dir(path: &Path) -> Result<(), FsError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(FsError::io(path))?;
    check_private(path)
}

/// Opens ferret's file at `path` for writing, creating it with mode 0600 when missing, in a
/// directory that must be private ([`create_private_dir`]). A symbolic link at `path` is not
/// followed; an existing file must be the user's own and writable by nobody else. With
/// `truncate`, its content is dropped once it has passed those checks.
pub fn open_private_file(path: &Path, truncate: bool) -> Result<File, FsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).map_err(|source| {
        if cfg!(unix) && source.raw_os_error() == Some(libc::ELOOP) {
            unsafe_path(path, "is a symbolic link")
        } else {
            FsError::io(path)(source)
        }
    })?;
    let metadata = file.metadata().map_err(FsError::io(path))?;
    check_owner_and_mode(path, &metadata)?;
    if truncate {
        file.set_len(0).map_err(FsError::io(path))?;
    }
    Ok(file)
}

/// Creates (or empties) ferret's file at `path`: see [`open_private_file`].
pub fn create_private_file(path: &Path) -> Result<File, FsError> {
    open_private_file(path, true)
}

/// Checks that an existing file or directory of ferret's is no symbolic link, is owned by the
/// user running ferret (or by root), and is writable by nobody else.
pub fn check_private(path: &Path) -> Result<(), FsError> {
    let metadata = std::fs::symlink_metadata(path).map_err(FsError::io(path))?;
    if metadata.file_type().is_symlink() {
        return Err(unsafe_path(path, "is a symbolic link"));
    }
    check_owner_and_mode(path, &metadata)
}

/// Opens (creating it and its directory when missing) a SQLite database of ferret's, after the
/// checks of [`open_private_file`].
pub fn open_private_db(path: &Path) -> Result<rusqlite::Connection, PrivateDbError> {
    drop(open_private_file(path, false)?);
    let connection = rusqlite::Connection::open(path)?;
    // Another run may hold SQLite's write lock for a moment.
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(connection)
}

/// Why a SQLite file of ferret's could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDbError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

fn unsafe_path(path: &Path, reason: &str) -> FsError {
    FsError::Unsafe {
        path: path.to_path_buf(),
        reason: format!(
            "{reason}: ferret keeps its state only where nobody else can change it (the owner \
             alone may write it, and no link may stand in its place)"
        ),
    }
}

#[cfg(unix)]
fn check_owner_and_mode(path: &Path, metadata: &std::fs::Metadata) -> Result<(), FsError> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid takes nothing, cannot fail and touches no memory of ours.
    let me = unsafe { libc::geteuid() };
    if metadata.uid() != me && metadata.uid() != 0 {
        return Err(unsafe_path(
            path,
            &format!("is owned by user {}, not by you", metadata.uid()),
        ));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(unsafe_path(
            path,
            &format!(
                "is writable by other users (mode {:o})",
                metadata.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), FsError> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn files_are_created_private_and_links_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/ledger.sqlite");
        create_private_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);

        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let link = dir.path().join("state/link.sqlite");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = create_private_file(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }

    #[test]
    fn state_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = create_private_file(&shared.join("ledger.sqlite")).unwrap_err();
        assert!(err.to_string().contains("writable by other users"), "{err}");

        let file = dir.path().join("verify.sqlite");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(open_private_file(&file, false).is_err());
        assert!(check_private(&file).is_err());
    }
}
