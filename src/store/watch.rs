//! The usage watch's state (`ferret watch usage --state`): a SQLite file holding each key's
//! hourly use per model (the history its baseline is taken from), when each key was first and
//! last used and each of its models first used, and up to which hour usage has been read, so
//! that each run reads only the hours since the last one.
//!
//! It holds key ids, project ids, model names and counts, never a key. Hours are kept for
//! [`RETENTION_HOURS`] at least (longer when the baseline asks for it); a key's first and last
//! use and its models are kept for good, so an idle key is recognised however long it slept.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{Db, StoreError};

/// Hours of per-hour history kept at least (five weeks).
pub const RETENTION_HOURS: i64 = 35 * 24;

/// One key's use of one model during one hour (hours are Unix seconds / 3600).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HourUse {
    pub key_id: String,
    pub project_id: Option<String>,
    pub hour: i64,
    pub model: String,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// What the state knows of a key across every run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRecord {
    pub key_id: String,
    pub project_id: Option<String>,
    pub first_hour: i64,
    pub last_hour: i64,
}

pub struct WatchState {
    db: Db,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS usage_hours (
    key_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watched_keys (
    key_id TEXT PRIMARY KEY,
    project_id TEXT,
    first_hour INTEGER NOT NULL,
    last_hour INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS key_models (
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    first_hour INTEGER NOT NULL,
    PRIMARY KEY (key_id, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watch_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

impl WatchState {
    /// Opens (creating it, mode 0600, when missing) the state at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(WatchState {
            db: Db::open("usage watch state", path, SCHEMA)?,
        })
    }

    fn meta(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.db
            .connection
            .query_row(
                "SELECT value FROM watch_meta WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.db.fail(e))
    }

    /// The hour up to which (exclusive) usage has been read; `None` before the first run.
    pub fn read_until(&self) -> Result<Option<i64>, StoreError> {
        self.meta("read_until")
    }

    /// The first hour any run read.
    pub fn covered_from(&self) -> Result<Option<i64>, StoreError> {
        self.meta("covered_from")
    }

    /// Every key the state knows, by id.
    pub fn keys(&self) -> Result<HashMap<String, KeyRecord>, StoreError> {
        let fail = |e| self.db.fail(e);
        let mut statement = self
            .db
            .connection
            .prepare("SELECT key_id, project_id, first_hour, last_hour FROM watched_keys")
            .map_err(fail)?;
        let rows = statement
            .query_map([], |row| {
                Ok(KeyRecord {
                    key_id: row.get(0)?,
                    project_id: row.get(1)?,
                    first_hour: row.get(2)?,
                    last_hour: row.get(3)?,
                })
            })
            .map_err(fail)?;
        rows.map(|r| r.map(|k| (k.key_id.clone(), k)).map_err(fail))
            .collect()
    }

    /// Each model a key has used, with the hour it first did.
    pub fn models(&self, key_id: &str) -> Result<HashMap<String, i64>, StoreError> {
        let fail = |e| self.db.fail(e);
        let mut statement = self
            .db
            .connection
            .prepare_cached("SELECT model, first_hour FROM key_models WHERE key_id = ?1")
            .map_err(fail)?;
        let rows = statement
            .query_map([key_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(fail)?;
        rows.map(|r| r.map_err(fail)).collect()
    }

    /// A key's use in hours `from..to`, every model, oldest first.
    pub fn hours(&self, key_id: &str, (from, to): (i64, i64)) -> Result<Vec<HourUse>, StoreError> {
        let fail = |e| self.db.fail(e);
        let mut statement = self
            .db
            .connection
            .prepare_cached(
                "SELECT hour, model, requests, input_tokens, output_tokens FROM usage_hours
                 WHERE key_id = ?1 AND hour >= ?2 AND hour < ?3 ORDER BY hour",
            )
            .map_err(fail)?;
        let rows = statement
            .query_map(params![key_id, from, to], |row| {
                Ok(HourUse {
                    key_id: key_id.to_string(),
                    project_id: None,
                    hour: row.get(0)?,
                    model: row.get(1)?,
                    requests: row.get::<_, i64>(2)?.max(0) as u64,
                    input_tokens: row.get::<_, i64>(3)?.max(0) as u64,
                    output_tokens: row.get::<_, i64>(4)?.max(0) as u64,
                })
            })
            .map_err(fail)?;
        rows.map(|r| r.map_err(fail)).collect()
    }

    /// Records the use read for hours `from..to` (in one transaction, so a run killed half way
    /// leaves the state as it was and the next run reads the same hours again), and forgets
    /// hours older than `keep_hours` before `to`.
    pub fn record(
        &self,
        used: &[HourUse],
        (from, to): (i64, i64),
        keep_hours: i64,
    ) -> Result<(), StoreError> {
        let fail = |e| self.db.fail(e);
        let tx = self.db.connection.unchecked_transaction().map_err(fail)?;
        for row in used {
            tx.execute(
                "INSERT OR REPLACE INTO usage_hours VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    row.key_id,
                    row.hour,
                    row.model,
                    clamp(row.requests),
                    clamp(row.input_tokens),
                    clamp(row.output_tokens)
                ],
            )
            .map_err(fail)?;
            tx.execute(
                "INSERT INTO watched_keys VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (key_id) DO UPDATE SET
                   project_id = coalesce(excluded.project_id, project_id),
                   first_hour = min(first_hour, excluded.first_hour),
                   last_hour = max(last_hour, excluded.last_hour)",
                params![row.key_id, row.project_id, row.hour],
            )
            .map_err(fail)?;
            tx.execute(
                "INSERT INTO key_models VALUES (?1, ?2, ?3)
                 ON CONFLICT (key_id, model) DO UPDATE SET
                   first_hour = min(first_hour, excluded.first_hour)",
                params![row.key_id, row.model, row.hour],
            )
            .map_err(fail)?;
        }
        tx.execute(
            "INSERT INTO watch_meta VALUES ('covered_from', ?1) ON CONFLICT (name) DO NOTHING",
            [from],
        )
        .map_err(fail)?;
        tx.execute(
            "INSERT INTO watch_meta VALUES ('read_until', ?1)
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            [to],
        )
        .map_err(fail)?;
        tx.execute(
            "DELETE FROM usage_hours WHERE hour < ?1",
            [to - keep_hours.max(RETENTION_HOURS)],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)
    }
}

fn clamp(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(key: &str, hour: i64, model: &str, requests: u64) -> HourUse {
        HourUse {
            key_id: key.into(),
            project_id: Some("proj_1".into()),
            hour,
            model: model.into(),
            requests,
            input_tokens: requests * 100,
            output_tokens: requests * 10,
        }
    }

    #[test]
    fn records_keys_models_and_the_read_mark_and_prunes_old_hours() {
        let dir = tempfile::tempdir().unwrap();
        let state = WatchState::open(&dir.path().join("watch.sqlite")).unwrap();
        assert_eq!(state.read_until().unwrap(), None);
        let rows = [used("key_a", 10, "m1", 3), used("key_a", 12, "m2", 4)];
        state.record(&rows, (0, 20), 1000).unwrap();
        state
            .record(&[used("key_a", 2000, "m1", 1)], (20, 2001), 1000)
            .unwrap();
        assert_eq!(state.read_until().unwrap(), Some(2001));
        assert_eq!(state.covered_from().unwrap(), Some(0));
        let key = &state.keys().unwrap()["key_a"];
        assert_eq!((key.first_hour, key.last_hour), (10, 2000));
        assert_eq!(state.models("key_a").unwrap()["m2"], 12);
        // Hour 10 is older than five weeks before 2001: forgotten; the key's record stays.
        assert_eq!(state.hours("key_a", (0, 3000)).unwrap().len(), 1);
    }
}
