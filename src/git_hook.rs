//! `ferret hook install`: the plain git pre-commit hook, for repositories that do not use the
//! pre-commit framework.
//!
//! The hook is a small POSIX shell script in the repository's hooks directory (`core.hooksPath`
//! when set, else the `hooks` directory of the common git directory, which every worktree
//! shares). It carries [`MARKER`], so ferret knows its own hook: installing again rewrites it,
//! while a hook someone else wrote is never overwritten without `--force`. `--chain` keeps such
//! a hook by renaming it to `pre-commit.local`, which ferret's hook runs first (a hook that
//! formats and re-stages files must run before the staged change is scanned; if it fails, the
//! commit fails without a scan). ferret's hook runs any executable `pre-commit.local`, so other
//! pre-commit steps can be added there later too.
//!
//! The hook calls the ferret binary that installed it, by absolute path, so it works where git
//! runs hooks with a smaller `PATH` than the shell's (GUI clients, IDEs); when that binary has
//! moved, it falls back to `ferret` on `PATH`, and when there is none it blocks the commit and
//! says how to fix it or skip the check (`git commit --no-verify`).

use std::path::{Path, PathBuf};

/// The line that marks a hook as ferret's.
pub const MARKER: &str = "# ferret-managed-hook: pre-commit";

/// Where a hook that was there before is kept by `--chain`, beside ferret's hook.
pub const CHAINED_HOOK: &str = "pre-commit.local";

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{}: not a git repository", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: gix::Error,
    },
    #[error("core.hooksPath")]
    HooksPath(#[source] gix::Error),
    #[error(
        "{} exists and is not ferret's hook: pass --chain to keep it (it becomes {CHAINED_HOOK} \
         and runs before ferret) or --force to replace it",
        .0.display()
    )]
    ForeignHook(PathBuf),
    #[error(
        "{} exists already: move it away, or pass --force to replace the hook without keeping it",
        .0.display()
    )]
    ChainTargetExists(PathBuf),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> HookError + '_ {
    move |source| HookError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What to do with a pre-commit hook that is not ferret's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Stop with an error.
    Refuse,
    /// Overwrite it.
    Replace,
    /// Rename it to [`CHAINED_HOOK`]; ferret's hook runs it first.
    Chain,
}

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// The hook was written (`chained`: a foreign hook was moved to [`CHAINED_HOOK`]).
    Written { hook: PathBuf, chained: bool },
    /// ferret's hook, exactly as it would be written, was already there.
    Unchanged { hook: PathBuf },
}

/// The hooks directory git uses for `repo`: `core.hooksPath` (relative to the working tree's
/// top, as git resolves it for hooks), else `hooks` in the common git directory.
pub fn hooks_dir(repo: &gix::Repository) -> Result<PathBuf, HookError> {
    let configured = repo
        .config_snapshot()
        .trusted_path("core.hooksPath")
        .map_err(HookError::HooksPath)?;
    Ok(match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => repo.workdir().unwrap_or_else(|| repo.git_dir()).join(path),
        None => repo.common_dir().join("hooks"),
    })
}

/// `text` as one single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The hook script that runs `ferret` (an absolute path, with `ferret` on `PATH` as fallback).
pub fn script(ferret: &Path) -> String {
    let ferret = shell_quote(&ferret.to_string_lossy());
    format!(
        r#"#!/bin/sh
{MARKER}
# Blocks a commit whose staged change adds an OpenAI API key: `ferret git --staged`.
# Written by `ferret hook install`, which rewrites it; skip it once with `git commit --no-verify`.
# An executable {CHAINED_HOOK} beside this file runs first (`ferret hook install --chain` moves
# an existing hook there).
chained="$(dirname -- "$0")/{CHAINED_HOOK}"
if [ -x "$chained" ]; then
    "$chained" "$@" || exit $?
fi
installed={ferret}
ferret=$installed
if [ ! -x "$ferret" ]; then
    ferret=$(command -v ferret) || {{
        echo "ferret pre-commit hook: ferret is neither at $installed nor on PATH;" \
            "reinstall it and run \`ferret hook install\`, or skip the check with" \
            "\`git commit --no-verify\`" >&2
        exit 1
    }}
fi
exec "$ferret" git --staged --no-progress
"#
    )
}

/// Installs the pre-commit hook running `ferret` into the repository at or above `repo_path`.
pub fn install(
    repo_path: &Path,
    ferret: &Path,
    existing: Existing,
) -> Result<Installed, HookError> {
    let repo = gix::discover(repo_path).map_err(|e| HookError::NotARepository {
        path: repo_path.to_path_buf(),
        source: e,
    })?;
    let dir = hooks_dir(&repo)?;
    let hook = dir.join("pre-commit");
    let script = script(ferret);
    let mut chained = false;
    match std::fs::read(&hook) {
        Ok(current) if current == script.as_bytes() => return Ok(Installed::Unchanged { hook }),
        Ok(current) if is_ferrets(&current) => {}
        Ok(_) => match existing {
            Existing::Refuse => return Err(HookError::ForeignHook(hook)),
            Existing::Replace => {}
            Existing::Chain => {
                let target = dir.join(CHAINED_HOOK);
                if target.exists() {
                    return Err(HookError::ChainTargetExists(target));
                }
                std::fs::rename(&hook, &target).map_err(io_error(&target))?;
                chained = true;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        }
        Err(e) => return Err(io_error(&hook)(e)),
    }
    write_executable(&hook, &script)?;
    Ok(Installed::Written { hook, chained })
}

fn is_ferrets(hook: &[u8]) -> bool {
    String::from_utf8_lossy(hook)
        .lines()
        .any(|line| line.trim_end() == MARKER)
}

/// Writes `text` to `path` through a temporary file beside it (a commit starting meanwhile
/// sees the old hook or the new one, never half of one), mode 0755. The temporary file is
/// created anew under a random name (`O_EXCL`): a link committed at a fixed name in a tracked
/// hooks directory is never followed and nothing outside is overwritten.
fn write_executable(path: &Path, text: &str) -> Result<(), HookError> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".pre-commit.ferret-")
        .tempfile_in(dir)
        .map_err(io_error(dir))?;
    let named = temporary.path().to_path_buf();
    temporary
        .write_all(text.as_bytes())
        .and_then(|()| temporary.flush())
        .map_err(io_error(&named))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // On the open file, not by name: nothing else can be changed in its place.
        temporary
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(io_error(&named))?;
    }
    temporary
        .persist(path)
        .map(drop)
        .map_err(|e| io_error(path)(e.error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(
            shell_quote("/opt/it's here/ferret"),
            r"'/opt/it'\''s here/ferret'"
        );
        let script = script(Path::new("/usr/local/bin/ferret"));
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(is_ferrets(script.as_bytes()));
        assert!(script.contains("installed='/usr/local/bin/ferret'\n"));
    }
}
