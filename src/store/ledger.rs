//! The revocation ledger: a SQLite file recording, per leaked key (by fingerprint), the intent
//! before each remote action and its outcome after it, the final revocation status, every
//! Administration API call's `x-request-id`, and every hook run.
//!
//! The ledger is what makes revocation happen exactly once: a rerun reads a key's final status
//! and does nothing more, and a step begun but never finished (the process died between the
//! DELETE and the write of its outcome) is found and reconciled. It never holds a secret: keys
//! are named by fingerprint, redacted form and their organization's ids.

use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{Db, StoreCause, StoreError, now_seconds};
use crate::finding::Revocation;
use crate::secret::Fingerprint;

/// A remote action that changes the organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    DeleteKey,
    DeleteServiceAccount,
    DeleteAdminKey,
    /// Create the replacement service account (and its key) of a rotation.
    CreateReplacement,
    /// Delete a replacement that was not delivered (or whose key an interrupted run lost).
    DeleteReplacement,
    /// Deactivate an Anthropic API key (the Admin API cannot delete keys).
    DeactivateAnthropicKey,
    /// Delete an OpenRouter key (by its hash, in `key_id`).
    DeleteOpenRouterKey,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::DeleteKey => "delete_key",
            Action::DeleteServiceAccount => "delete_service_account",
            Action::DeleteAdminKey => "delete_admin_key",
            Action::CreateReplacement => "create_replacement",
            Action::DeleteReplacement => "delete_replacement",
            Action::DeactivateAnthropicKey => "deactivate_anthropic_key",
            Action::DeleteOpenRouterKey => "delete_openrouter_key",
        }
    }

    fn parse(text: &str) -> Option<Action> {
        [
            Action::DeleteKey,
            Action::DeleteServiceAccount,
            Action::DeleteAdminKey,
            Action::CreateReplacement,
            Action::DeleteReplacement,
            Action::DeactivateAnthropicKey,
            Action::DeleteOpenRouterKey,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }

    /// Deletes the leaked key (directly or with its service account).
    pub fn revokes_leak(self) -> bool {
        matches!(
            self,
            Action::DeleteKey
                | Action::DeleteServiceAccount
                | Action::DeleteAdminKey
                | Action::DeactivateAnthropicKey
                | Action::DeleteOpenRouterKey
        )
    }
}

/// What an action is about: the organization's ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub project: Option<String>,
    pub key_id: Option<String>,
    pub service_account: Option<String>,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepResult {
    Ok,
    /// The object was already gone (a 404): someone, or an interrupted run, got there first.
    NotFound,
    Failed,
    /// Begun by a run that died; reconciled and superseded by a later step.
    Abandoned,
    /// The call succeeded but the leaked key kept working: not evidence that the leak is
    /// revoked (the next run looks it up again).
    Unconfirmed,
}

impl StepResult {
    fn as_str(self) -> &'static str {
        match self {
            StepResult::Ok => "ok",
            StepResult::NotFound => "not_found",
            StepResult::Failed => "failed",
            StepResult::Abandoned => "abandoned",
            StepResult::Unconfirmed => "unconfirmed",
        }
    }

    fn parse(text: &str) -> Option<StepResult> {
        [
            StepResult::Ok,
            StepResult::NotFound,
            StepResult::Failed,
            StepResult::Abandoned,
            StepResult::Unconfirmed,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// One recorded step.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: i64,
    pub action: Action,
    pub target: Target,
    /// `None`: begun, outcome never written.
    pub result: Option<StepResult>,
}

/// A key's final outcome as the ledger records it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub fingerprint: Fingerprint,
    pub rule: String,
    pub redacted: String,
    pub revocation: Revocation,
    /// Unix seconds.
    pub updated_at: i64,
}

pub struct Ledger {
    db: Db,
    /// The exclusive lock of a run that acts, held as long as the ledger is open.
    _lock: Option<std::fs::File>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    fingerprint TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    redacted TEXT NOT NULL,
    status TEXT NOT NULL,
    revocation TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    action TEXT NOT NULL,
    project TEXT,
    key_id TEXT,
    service_account TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    result TEXT,
    request_id TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS steps_by_key ON steps (fingerprint);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    fingerprint TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER,
    request_id TEXT
);
CREATE TABLE IF NOT EXISTS hook_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    event TEXT NOT NULL,
    hook TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT
);
";

impl Ledger {
    /// Opens the ledger for a run that acts, creating it (mode 0600) when missing, and takes
    /// its lock for as long as it is open: one run at a time acts on a ledger. When another run
    /// holds it, `wait` decides between waiting (after telling `on_wait`) and an error.
    pub fn open_exclusive(
        path: &Path,
        wait: bool,
        on_wait: &dyn Fn(String),
    ) -> Result<Ledger, StoreError> {
        let lock = lock(path, wait, on_wait)?;
        Ok(Ledger {
            db: Db::open("ledger", path, SCHEMA)?,
            _lock: Some(lock),
        })
    }

    /// Opens an existing ledger without writing to it (`--dry-run`); `None` when there is none.
    pub fn open_read_only(path: &Path) -> Result<Option<Ledger>, StoreError> {
        Ok(Db::open_read_only("ledger", path)?.map(|db| Ledger { db, _lock: None }))
    }

    fn fail(&self, cause: impl Into<StoreCause>) -> StoreError {
        self.db.fail(cause)
    }

    /// The final status recorded for a key, if any.
    pub fn outcome(&self, fingerprint: &Fingerprint) -> Result<Option<Revocation>, StoreError> {
        let text: Option<String> = self
            .db
            .connection
            .query_row(
                "SELECT revocation FROM keys WHERE fingerprint = ?1",
                params![fingerprint.0],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))?;
        match text {
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| self.fail(e)),
            None => Ok(None),
        }
    }

    /// Records what revocation concluded about a key.
    pub fn record_outcome(
        &self,
        fingerprint: &Fingerprint,
        rule: &str,
        redacted: &str,
        revocation: &Revocation,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(revocation).map_err(|e| self.fail(e))?;
        self.db.connection
            .execute(
                "INSERT OR REPLACE INTO keys (fingerprint, rule, redacted, status, revocation, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![fingerprint.0, rule, redacted, revocation.status_name(), json, now_seconds()],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records the intent to act, before the remote call; returns the step's id.
    pub fn begin(
        &self,
        fingerprint: &Fingerprint,
        action: Action,
        target: &Target,
    ) -> Result<i64, StoreError> {
        self.db.connection
            .execute(
                "INSERT INTO steps (fingerprint, action, project, key_id, service_account, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    fingerprint.0,
                    action.as_str(),
                    target.project,
                    target.key_id,
                    target.service_account,
                    now_seconds()
                ],
            )
            .map_err(|e| self.fail(e))?;
        Ok(self.db.connection.last_insert_rowid())
    }

    /// Records how a step ended (and, for a created replacement, what was created).
    pub fn finish(
        &self,
        step: i64,
        result: StepResult,
        request_id: Option<&str>,
        detail: Option<&str>,
        created: Option<&Target>,
    ) -> Result<(), StoreError> {
        self.db
            .connection
            .execute(
                "UPDATE steps SET finished_at = ?2, result = ?3, request_id = ?4, detail = ?5,
                     service_account = COALESCE(?6, service_account),
                     key_id = COALESCE(?7, key_id)
                 WHERE id = ?1",
                params![
                    step,
                    now_seconds(),
                    result.as_str(),
                    request_id,
                    detail,
                    created.and_then(|t| t.service_account.as_deref()),
                    created.and_then(|t| t.key_id.as_deref()),
                ],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Changes how a finished step is judged (`unconfirmed`), with why.
    pub fn set_result(
        &self,
        step: i64,
        result: StepResult,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.db
            .connection
            .execute(
                "UPDATE steps SET result = ?2, detail = ?3 WHERE id = ?1",
                params![step, result.as_str(), detail],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Every key's recorded outcome, oldest update first (what `ferret keys list` tells about
    /// the keys ferret has dealt with).
    pub fn outcomes(&self) -> Result<Vec<Recorded>, StoreError> {
        let mut statement = self
            .db
            .connection
            .prepare(
                "SELECT fingerprint, rule, redacted, revocation, updated_at FROM keys
                 ORDER BY updated_at, fingerprint",
            )
            .map_err(|e| self.fail(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .map_err(|e| self.fail(e))?;
        let mut outcomes = Vec::new();
        for row in rows {
            let (fingerprint, rule, redacted, revocation, updated_at) =
                row.map_err(|e| self.fail(e))?;
            outcomes.push(Recorded {
                fingerprint: Fingerprint(fingerprint),
                rule,
                redacted,
                revocation: serde_json::from_str(&revocation).map_err(|e| self.fail(e))?,
                updated_at,
            });
        }
        Ok(outcomes)
    }

    /// Every step recorded for a key, oldest first.
    pub fn steps(&self, fingerprint: &Fingerprint) -> Result<Vec<Step>, StoreError> {
        let mut statement = self
            .db
            .connection
            .prepare(
                "SELECT id, action, project, key_id, service_account, result
                 FROM steps WHERE fingerprint = ?1 ORDER BY id",
            )
            .map_err(|e| self.fail(e))?;
        let rows = statement
            .query_map(params![fingerprint.0], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    Target {
                        project: row.get(2)?,
                        key_id: row.get(3)?,
                        service_account: row.get(4)?,
                    },
                    row.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(|e| self.fail(e))?;
        let mut steps = Vec::new();
        for row in rows {
            let (id, action, target, result) = row.map_err(|e| self.fail(e))?;
            let action = Action::parse(&action)
                .ok_or_else(|| self.fail(StoreCause::UnknownAction { id, action }))?;
            steps.push(Step {
                id,
                action,
                target,
                result: result.as_deref().and_then(StepResult::parse),
            });
        }
        Ok(steps)
    }

    /// Records one Administration API call (no secrets: method, path, status, request id).
    pub fn record_call(
        &self,
        fingerprint: Option<&Fingerprint>,
        method: &str,
        path: &str,
        status: Option<u16>,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db
            .connection
            .execute(
                "INSERT INTO calls (at, fingerprint, method, path, status, request_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    now_seconds(),
                    fingerprint.map(|f| f.0.as_str()),
                    method,
                    path,
                    status,
                    request_id
                ],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records many Administration API calls in one transaction: one commit (one sync to
    /// disk) instead of one per call, which for the thousand key-list pages of a large
    /// organization took longer than reading them.
    pub fn record_calls<'a>(
        &self,
        fingerprint: Option<&Fingerprint>,
        calls: impl IntoIterator<Item = (&'a str, &'a str, Option<u16>, Option<&'a str>)>,
    ) -> Result<(), StoreError> {
        let transaction = self
            .db
            .connection
            .unchecked_transaction()
            .map_err(|e| self.fail(e))?;
        for (method, path, status, request_id) in calls {
            self.record_call(fingerprint, method, path, status, request_id)?;
        }
        transaction.commit().map_err(|e| self.fail(e))
    }

    /// Records one hook run.
    pub fn record_hook(
        &self,
        fingerprint: &Fingerprint,
        event: &str,
        hook: &str,
        ok: bool,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db
            .connection
            .execute(
                "INSERT INTO hook_runs (at, fingerprint, event, hook, ok, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![now_seconds(), fingerprint.0, event, hook, ok, detail],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

/// Takes the exclusive lock of the ledger at `path` (a `.lock` file beside it).
fn lock(path: &Path, wait: bool, on_wait: &dyn Fn(String)) -> Result<std::fs::File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = std::path::PathBuf::from(lock_path);
    let fail = |cause: StoreCause| StoreError::new("ledger", path, cause);
    let file = crate::fs::open_private_file(&lock_path, false).map_err(|e| fail(e.into()))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) if wait => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(fail(StoreCause::Busy)),
        Err(std::fs::TryLockError::Error(err)) => return Err(fail(StoreCause::Lock(err))),
    }
    on_wait(format!(
        "the ledger {} is in use by another ferret run: waiting for it to finish",
        path.display()
    ));
    file.lock().map_err(|e| fail(StoreCause::Lock(e)))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::RevocationStatus;

    #[test]
    fn a_begun_step_without_outcome_is_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/ledger.sqlite");
        let fingerprint = Fingerprint("ab".repeat(32));
        let target = Target {
            project: Some("proj_1".into()),
            key_id: Some("key_1".into()),
            service_account: None,
        };
        let open = || Ledger::open_exclusive(&path, false, &|_| {});
        {
            let ledger = open().unwrap();
            ledger
                .begin(&fingerprint, Action::DeleteKey, &target)
                .unwrap();
        }
        let ledger = open().unwrap();
        // One run at a time.
        let second = open().err().expect("the ledger is locked");
        assert!(matches!(second.cause(), StoreCause::Busy), "{second:?}");
        let told = crate::error::chain(&second);
        assert!(told.contains("--wait-for-ledger"), "{told}");
        let steps = ledger.steps(&fingerprint).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, Action::DeleteKey);
        assert_eq!(steps[0].target, target);
        assert_eq!(steps[0].result, None);

        ledger
            .finish(steps[0].id, StepResult::NotFound, Some("req_1"), None, None)
            .unwrap();
        let mut revocation = Revocation::new(RevocationStatus::AlreadyRevoked, None);
        revocation.key_id = Some("key_1".into());
        ledger
            .record_outcome(
                &fingerprint,
                "openai-project-key",
                "sk-proj-Ab…cd",
                &revocation,
            )
            .unwrap();
        assert_eq!(ledger.outcome(&fingerprint).unwrap(), Some(revocation));
        assert_eq!(
            ledger.steps(&fingerprint).unwrap()[0].result,
            Some(StepResult::NotFound)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
