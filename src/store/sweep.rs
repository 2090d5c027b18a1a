//! The sweep state: a SQLite file (`--state`) remembering, per repository, the refs' tips and
//! every blob already scanned, which objects held secrets, and the findings reported, so that
//! `--since-last` scans only what is new and can tell which findings were fixed; with them, the
//! listing's `pushed_at` when it was last fetched (and when that was), so an unchanged one need
//! not be fetched, and the listing's pages with their ETags, for conditional requests.
//!
//! It holds ids, paths, fingerprints and repository metadata, never a secret. Every lookup a
//! sweep makes per repository is by an index (the repository's name or id leads every key).

use std::collections::HashMap;
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

/// What the state knows of a repository's last sweep, to decide whether to fetch it again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remembered {
    /// The listing's `pushed_at` when the mirror was last fetched and scanned.
    pub pushed_at: Option<String>,
    /// When that was (epoch seconds).
    pub checked_at: Option<i64>,
    /// Whether a sweep recorded its refs.
    pub swept: bool,
    /// Whether the last attempt failed.
    pub failed: bool,
    /// The default branch's commit and ref then.
    pub head: Option<(String, String)>,
}

/// A recorded sweep of one repository, besides what it scanned.
pub struct Sweep<'a> {
    /// A digest of its refs.
    pub tips: &'a str,
    /// The listing's `pushed_at` before the fetch.
    pub pushed_at: Option<&'a str>,
    /// The default branch's commit and ref.
    pub head: Option<&'a (String, String)>,
}

/// A listing page kept for the next conditional request; `items` is JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPage {
    pub url: String,
    pub etag: String,
    pub next: Option<String>,
    pub items: String,
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
CREATE TABLE IF NOT EXISTS listing_pages (
    listing TEXT NOT NULL,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    etag TEXT NOT NULL,
    next TEXT,
    items TEXT NOT NULL,
    PRIMARY KEY (listing, position)
);
";

/// Columns added to `repositories` after its first release, for states written before.
const ADDED_COLUMNS: [(&str, &str); 4] = [
    ("pushed_at", "TEXT"),
    ("checked_at", "INTEGER"),
    ("head", "TEXT"),
    ("head_ref", "TEXT"),
];

impl SweepState {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let state = SweepState {
            db: Db::open("sweep state", path, SCHEMA)?,
        };
        state.add_columns()?;
        Ok(state)
    }

    /// Adds the columns a state written by an earlier ferret lacks.
    fn add_columns(&self) -> Result<(), StoreError> {
        let connection = &self.db.connection;
        let mut statement = connection
            .prepare("SELECT name FROM pragma_table_info('repositories')")
            .map_err(|e| self.fail(e))?;
        let present: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(e))?;
        for (column, kind) in ADDED_COLUMNS {
            if !present.iter().any(|p| p == column) {
                connection
                    .execute_batch(&format!(
                        "ALTER TABLE repositories ADD COLUMN {column} {kind}"
                    ))
                    .map_err(|e| self.fail(e))?;
            }
        }
        Ok(())
    }

    /// What the state remembers of every repository, by name (one query for the whole sweep).
    pub fn remembered(&self) -> Result<HashMap<String, Remembered>, StoreError> {
        let mut statement = self
            .db
            .connection
            .prepare(
                "SELECT name, pushed_at, checked_at, tips IS NOT NULL, last_error IS NOT NULL,
                        head, head_ref FROM repositories",
            )
            .map_err(|e| self.fail(e))?;
        let rows = statement
            .query_map([], |row| {
                let head: Option<String> = row.get(5)?;
                let head_ref: Option<String> = row.get(6)?;
                Ok((
                    row.get::<_, String>(0)?,
                    Remembered {
                        pushed_at: row.get(1)?,
                        checked_at: row.get(2)?,
                        swept: row.get(3)?,
                        failed: row.get(4)?,
                        head: head.zip(head_ref),
                    },
                ))
            })
            .map_err(|e| self.fail(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(e))
    }

    /// The objects of `name` that held secrets at its last sweep.
    pub fn matched_objects(&self, name: &str) -> Result<Vec<ObjectId>, StoreError> {
        let mut statement = self
            .db
            .connection
            .prepare_cached(
                "SELECT m.id FROM matched_objects m JOIN repositories r ON r.id = m.repository
                 WHERE r.name = ?1",
            )
            .map_err(|e| self.fail(e))?;
        let ids = statement
            .query_map(params![name], |row| row.get::<_, Vec<u8>>(0))
            .map_err(|e| self.fail(e))?
            .filter_map(object_id)
            .collect();
        Ok(ids)
    }

    /// The pages of `listing` (its first page's route) kept by the last sweep, in order.
    pub fn listing_pages(&self, listing: &str) -> Result<Vec<StoredPage>, StoreError> {
        let mut statement = self
            .db
            .connection
            .prepare(
                "SELECT url, etag, next, items FROM listing_pages WHERE listing = ?1
                 ORDER BY position",
            )
            .map_err(|e| self.fail(e))?;
        let rows = statement
            .query_map(params![listing], |row| {
                Ok(StoredPage {
                    url: row.get(0)?,
                    etag: row.get(1)?,
                    next: row.get(2)?,
                    items: row.get(3)?,
                })
            })
            .map_err(|e| self.fail(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.fail(e))
    }

    /// Replaces the kept pages of `listing` with `pages`, in one transaction.
    pub fn keep_listing(&mut self, listing: &str, pages: &[StoredPage]) -> Result<(), StoreError> {
        let name = &self.db.name;
        let transaction = self.db.connection.transaction().map_err(|e| name.fail(e))?;
        transaction
            .execute(
                "DELETE FROM listing_pages WHERE listing = ?1",
                params![listing],
            )
            .map_err(|e| name.fail(e))?;
        for (position, page) in pages.iter().enumerate() {
            transaction
                .execute(
                    "INSERT INTO listing_pages (listing, position, url, etag, next, items)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        listing,
                        position as i64,
                        page.url,
                        page.etag,
                        page.next,
                        page.items
                    ],
                )
                .map_err(|e| name.fail(e))?;
        }
        transaction.commit().map_err(|e| name.fail(e))
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
                .filter_map(object_id)
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
        sweep: &Sweep<'_>,
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
            let (head, head_ref) = sweep.head.cloned().unzip();
            transaction.execute(
                "UPDATE repositories SET tips = ?2, swept_at = ?3, last_error = NULL,
                 pushed_at = ?4, checked_at = ?3, head = ?5, head_ref = ?6 WHERE id = ?1",
                params![repository, sweep.tips, now, sweep.pushed_at, head, head_ref],
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

/// The object id a row holds; a row that cannot be read, or holds no valid id (the state is
/// ferret's own file, written only with ids), is left out.
fn object_id(bytes: rusqlite::Result<Vec<u8>>) -> Option<ObjectId> {
    ObjectId::try_from(bytes.ok()?.as_slice()).ok()
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
                &Sweep {
                    tips: "t1",
                    pushed_at: Some("2024-01-01T00:01:00Z"),
                    head: None,
                },
                &[blob],
                &[blob],
                std::slice::from_ref(&seen),
            )
            .unwrap();
        assert!(fixed.is_empty());
        assert_eq!(state.tips("acme/api").unwrap().as_deref(), Some("t1"));
        let fixed = state
            .record_sweep(
                "acme/api",
                &Sweep {
                    tips: "t2",
                    pushed_at: None,
                    head: None,
                },
                &[other],
                &[],
                &[],
            )
            .unwrap();
        assert_eq!(fixed, vec![seen]);
        let (blobs, matched) = state.scanned("acme/api").unwrap();
        assert!(blobs.contains(&blob) && blobs.contains(&other));
        assert!(matched.is_empty());
        assert_eq!(state.tips("acme/other").unwrap(), None);
        let remembered = &state.remembered().unwrap()["acme/api"];
        assert!(remembered.swept && !remembered.failed && remembered.pushed_at.is_none());
        assert!(state.matched_objects("acme/api").unwrap().is_empty());
    }

    #[test]
    fn listing_pages_are_replaced_whole_and_old_states_gain_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        {
            // A state as ferret wrote it before pushed_at was kept.
            let db = crate::fs::open_private_db(&path).unwrap();
            db.execute_batch(
                "CREATE TABLE repositories (id INTEGER PRIMARY KEY AUTOINCREMENT,
                 name TEXT NOT NULL UNIQUE, tips TEXT, swept_at INTEGER, last_error TEXT);
                 INSERT INTO repositories (name, tips) VALUES ('acme/old', 'x');",
            )
            .unwrap();
        }
        let mut state = SweepState::open(&path).unwrap();
        assert!(state.remembered().unwrap()["acme/old"].swept);
        let page = |url: &str| StoredPage {
            url: url.into(),
            etag: "W/\"1\"".into(),
            next: None,
            items: "[]".into(),
        };
        state
            .keep_listing("/orgs/acme/repos", &[page("a"), page("b")])
            .unwrap();
        state
            .keep_listing("/orgs/acme/repos", &[page("c")])
            .unwrap();
        assert_eq!(
            state.listing_pages("/orgs/acme/repos").unwrap(),
            vec![page("c")]
        );
    }
}
