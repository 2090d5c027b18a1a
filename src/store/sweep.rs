//! The sweep state: a SQLite file (`--state`) remembering, per repository, the refs' tips and
//! every blob already scanned, which objects held secrets, and the findings reported, so that
//! `--since-last` scans only what is new and can tell which findings were fixed.
//!
//! It holds ids, paths and fingerprints, never a secret.

use std::path::Path;

use gix::ObjectId;
use rusqlite::{OptionalExtension, params};

use super::{Db, StoreCause, StoreError, now_seconds};
use crate::sources::git::ObjectIdSet;

/// One finding location as the state remembers it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Seen {
    pub fingerprint: String,
    pub rule: String,
    pub path: String,
    pub commit: String,
}

pub struct SweepState {
    db: Db,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS repositories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    tips TEXT,
    swept_at INTEGER,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS blobs (
    repository INTEGER NOT NULL,
    id BLOB NOT NULL,
    PRIMARY KEY (repository, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS matched_objects (
    repository INTEGER NOT NULL,
    id BLOB NOT NULL,
    PRIMARY KEY (repository, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    repository INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    path TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    status TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    fixed_at INTEGER,
    PRIMARY KEY (repository, fingerprint, path, commit_id)
);
";

impl SweepState {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SweepState {
            db: Db::open("sweep state", path, SCHEMA)?,
        })
    }

    fn fail(&self, cause: impl Into<StoreCause>) -> StoreError {
        self.db.fail(cause)
    }

    fn repository_id(&self, name: &str) -> Result<i64, StoreError> {
        self.db
            .connection
            .execute(
                "INSERT OR IGNORE INTO repositories (name) VALUES (?1)",
                params![name],
            )
            .map_err(|e| self.fail(e))?;
        self.db
            .connection
            .query_row(
                "SELECT id FROM repositories WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .map_err(|e| self.fail(e))
    }

    /// The refs' tips recorded by the last sweep of `name`.
    pub fn tips(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.db
            .connection
            .query_row(
                "SELECT tips FROM repositories WHERE name = ?1",
                params![name],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.fail(e))
    }

    /// Blobs of `name` scanned before, and the objects that held secrets then.
    pub fn scanned(&self, name: &str) -> Result<(ObjectIdSet, Vec<ObjectId>), StoreError> {
        let repository = self.repository_id(name)?;
        let read = |table: &str| -> Result<Vec<ObjectId>, StoreError> {
            let mut statement = self
                .db
                .connection
                .prepare(&format!("SELECT id FROM {table} WHERE repository = ?1"))
                .map_err(|e| self.fail(e))?;
            let ids = statement
                .query_map(params![repository], |row| row.get::<_, Vec<u8>>(0))
                .map_err(|e| self.fail(e))?
                .filter_map(|bytes| {
                    bytes
                        .ok()
                        .and_then(|b| ObjectId::try_from(b.as_slice()).ok())
                })
                .collect();
            Ok(ids)
        };
        Ok((
            read("blobs")?.into_iter().collect(),
            read("matched_objects")?,
        ))
    }

    /// Records a sweep of `name`: its tips, the blobs newly scanned, the objects that hold
    /// secrets now, and the findings; returns the earlier findings no longer seen (now marked
    /// fixed).
    pub fn record_sweep(
        &mut self,
        name: &str,
        tips: &str,
        new_blobs: &[ObjectId],
        matched: &[ObjectId],
        findings: &[Seen],
    ) -> Result<Vec<Seen>, StoreError> {
        let repository = self.repository_id(name)?;
        let now = now_seconds();
        let name = &self.db.name;
        let transaction = self.db.connection.transaction().map_err(|e| name.fail(e))?;
        let result = (|| -> rusqlite::Result<Vec<Seen>> {
            {
                let mut insert = transaction
                    .prepare("INSERT OR IGNORE INTO blobs (repository, id) VALUES (?1, ?2)")?;
                for id in new_blobs {
                    insert.execute(params![repository, id.as_bytes()])?;
                }
            }
            transaction.execute(
                "DELETE FROM matched_objects WHERE repository = ?1",
                params![repository],
            )?;
            {
                let mut insert = transaction.prepare(
                    "INSERT OR IGNORE INTO matched_objects (repository, id) VALUES (?1, ?2)",
                )?;
                for id in matched {
                    insert.execute(params![repository, id.as_bytes()])?;
                }
            }
            let open: Vec<Seen> = {
                let mut select = transaction.prepare(
                    "SELECT fingerprint, rule, path, commit_id FROM findings
                     WHERE repository = ?1 AND status = 'open'",
                )?;
                select
                    .query_map(params![repository], |row| {
                        Ok(Seen {
                            fingerprint: row.get(0)?,
                            rule: row.get(1)?,
                            path: row.get(2)?,
                            commit: row.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?
            };
            let fixed: Vec<Seen> = open.into_iter().filter(|s| !findings.contains(s)).collect();
            for seen in &fixed {
                transaction.execute(
                    "UPDATE findings SET status = 'fixed', fixed_at = ?5
                     WHERE repository = ?1 AND fingerprint = ?2 AND path = ?3 AND commit_id = ?4",
                    params![repository, seen.fingerprint, seen.path, seen.commit, now],
                )?;
            }
            for seen in findings {
                transaction.execute(
                    "INSERT INTO findings (repository, fingerprint, rule, path, commit_id, status, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6)
                     ON CONFLICT (repository, fingerprint, path, commit_id)
                     DO UPDATE SET status = 'open', fixed_at = NULL",
                    params![repository, seen.fingerprint, seen.rule, seen.path, seen.commit, now],
                )?;
            }
            transaction.execute(
                "UPDATE repositories SET tips = ?2, swept_at = ?3, last_error = NULL WHERE id = ?1",
                params![repository, tips, now],
            )?;
            Ok(fixed)
        })();
        match result {
            Ok(fixed) => {
                transaction.commit().map_err(|e| name.fail(e))?;
                Ok(fixed)
            }
            Err(err) => Err(name.fail(err)),
        }
    }

    /// Records that `name` could not be swept (its earlier state stays as it was).
    pub fn record_failure(&self, name: &str, reason: &str) -> Result<(), StoreError> {
        let repository = self.repository_id(name)?;
        self.db
            .connection
            .execute(
                "UPDATE repositories SET last_error = ?2 WHERE id = ?1",
                params![repository, reason],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_not_seen_again_is_fixed_and_blobs_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = SweepState::open(&dir.path().join("state.sqlite")).unwrap();
        let blob = ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap();
        let other = ObjectId::from_hex(b"2222222222222222222222222222222222222222").unwrap();
        let seen = Seen {
            fingerprint: "ab".repeat(32),
            rule: "openai-project-key".into(),
            path: ".env".into(),
            commit: "c".repeat(40),
        };
        let fixed = state
            .record_sweep(
                "acme/api",
                "t1",
                &[blob],
                &[blob],
                std::slice::from_ref(&seen),
            )
            .unwrap();
        assert!(fixed.is_empty());
        assert_eq!(state.tips("acme/api").unwrap().as_deref(), Some("t1"));
        let fixed = state
            .record_sweep("acme/api", "t2", &[other], &[], &[])
            .unwrap();
        assert_eq!(fixed, vec![seen]);
        let (blobs, matched) = state.scanned("acme/api").unwrap();
        assert!(blobs.contains(&blob) && blobs.contains(&other));
        assert!(matched.is_empty());
        assert_eq!(state.tips("acme/other").unwrap(), None);
    }
}
