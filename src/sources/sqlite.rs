//! SQLite databases: every text or blob cell scanned as a value of its own.
//!
//! In a database file a key sits between other columns' bytes with no separator, so a scan of
//! the raw file sees no token boundary around it and finds nothing. [`Database`] reads the
//! tables instead (SQLite itself, bundled, on a read-only copy held in memory: nothing is
//! written, no journal or WAL file is looked for, no schema code runs) and hands each cell to
//! the matcher alone; a finding's entry is `table.column[rowid]` (for a table without rowid, the
//! row's position from 1), at the line and column inside the cell.
//!
//! What reading costs is bounded by the database's size: only ordinary and stored columns are
//! read (a virtual generated column would run its expression, a virtual table its module, so
//! neither is read), and the caller bounds the rows and cells read per input
//! ([`super::contents::ArchiveLimits::max_cells`]) and the size held in memory
//! ([`super::contents::ArchiveLimits::max_database`]). Deleted rows still in free pages are not
//! read.

use std::cell::Cell;
use std::io::{self, Cursor, Read};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, MAIN_DB};

use crate::matcher::{LocatedMatch, Matcher};

/// The first 16 bytes of every SQLite 3 database file.
const MAGIC: &[u8] = b"SQLite format 3\0";

/// Whether `head` (an input's first bytes) starts a SQLite database.
pub(super) fn is_database(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// SQLite could not open or read it (damaged, encrypted, not really a database).
    #[error("SQLite cannot read it: {0}")]
    Unreadable(#[from] rusqlite::Error),
    #[error("more than {0} rows and cells")]
    TooManyCells(u64),
}

/// An open database, and its tables in the order they were created.
pub(super) struct Database {
    connection: Connection,
    tables: Vec<String>,
}

/// One table's columns that are read, and the query that reads them.
struct Table {
    name: String,
    columns: Vec<String>,
    /// Whether the query's first column is the rowid.
    rowid: bool,
}

/// The cells read so far from one input (shared by its databases), and how many may be.
pub(super) struct CellBudget<'b> {
    pub(super) read: &'b Cell<u64>,
    pub(super) max: u64,
}

impl Database {
    /// Opens a read-only copy of the database `bytes` and lists its tables (which reads the
    /// schema: a damaged one fails here, before any cell is read).
    pub(super) fn open(bytes: &[u8]) -> Result<Database, DatabaseError> {
        let mut connection = Connection::open_in_memory()?;
        let copy = WalOff {
            inner: Cursor::new(bytes),
            at: 0,
        };
        connection.deserialize_read_exact(MAIN_DB, copy, bytes.len(), true)?;
        // Defence in depth: functions in schema code (views, triggers, defaults) stay off.
        connection.pragma_update(None, "trusted_schema", false)?;
        let tables = {
            let mut statement = connection.prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table' \
                 AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY rowid",
            )?;
            statement
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(Database { connection, tables })
    }

    /// Scans every text and blob cell; `emit` gets each match with its entry
    /// (`table.column[rowid]`), `warn` a table that could not be read to its end. Returns the
    /// bytes of the cells scanned.
    pub(super) fn scan(
        &self,
        matcher: &Matcher,
        budget: &CellBudget<'_>,
        emit: &mut dyn FnMut(String, LocatedMatch),
        warn: &mut dyn FnMut(String),
    ) -> Result<u64, DatabaseError> {
        let mut scanned = 0;
        for name in &self.tables {
            let result = self
                .table(name)
                .and_then(|table| self.scan_table(&table, matcher, budget, emit, &mut scanned));
            match result {
                Ok(()) => {}
                Err(DatabaseError::Unreadable(err)) => {
                    warn(format!("table {}: unreadable, skipped: {err}", shown(name)));
                }
                Err(err) => return Err(err),
            }
        }
        Ok(scanned)
    }

    /// The columns of table `name` that hold stored values.
    fn table(&self, name: &str) -> Result<Table, DatabaseError> {
        let mut statement = self
            .connection
            .prepare("SELECT name, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")?;
        // 0: an ordinary column, 3: a stored generated one (1: hidden, 2: computed on read).
        let columns = statement
            .query_map([name], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?
            .filter_map(|column| match column {
                Ok((name, 0 | 3)) => Some(Ok(name)),
                Ok(_) => None,
                Err(err) => Some(Err(err)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A table without rowid has none to select.
        let rowid = self
            .connection
            .prepare(&format!("SELECT rowid FROM {} LIMIT 0", quoted(name)))
            .is_ok();
        Ok(Table {
            name: name.to_string(),
            columns,
            rowid,
        })
    }

    fn scan_table(
        &self,
        table: &Table,
        matcher: &Matcher,
        budget: &CellBudget<'_>,
        emit: &mut dyn FnMut(String, LocatedMatch),
        scanned: &mut u64,
    ) -> Result<(), DatabaseError> {
        if table.columns.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
        let select = format!(
            "SELECT {}{} FROM {}",
            if table.rowid { "rowid, " } else { "" },
            list.join(", "),
            quoted(&table.name)
        );
        let mut statement = self.connection.prepare(&select)?;
        let mut rows = statement.query([])?;
        let first = table.rowid as usize;
        let mut position = 0i64;
        while let Some(row) = rows.next()? {
            position += 1;
            let rowid = if table.rowid { row.get(0)? } else { position };
            take(budget, 1)?;
            for (index, column) in table.columns.iter().enumerate() {
                let bytes = match row.get_ref(first + index)? {
                    ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
                    _ => continue,
                };
                take(budget, 1)?;
                *scanned += bytes.len() as u64;
                for m in matcher.locate_all(bytes) {
                    emit(
                        format!("{}.{}[{rowid}]", shown(&table.name), shown(column)),
                        m,
                    );
                }
            }
        }
        Ok(())
    }
}

/// Takes `count` more rows or cells from the budget.
fn take(budget: &CellBudget<'_>, count: u64) -> Result<(), DatabaseError> {
    let read = budget.read.get() + count;
    budget.read.set(read);
    if read > budget.max {
        return Err(DatabaseError::TooManyCells(budget.max));
    }
    Ok(())
}

/// An identifier as SQL reads it whatever it holds: in double quotes, inner ones doubled.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table or column name as a report shows it: control characters escaped, so a name cannot
/// break a line of a text report.
fn shown(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name.to_string()
    }
}

/// Reads a database file with its journal mode set to the legacy one: a database in WAL mode
/// (bytes 18 and 19 of its header are 2) cannot be opened from memory, and its WAL file is not
/// there anyway; what the main file holds reads the same.
struct WalOff<R> {
    inner: R,
    at: u64,
}

impl<R: Read> Read for WalOff<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        for offset in [18u64, 19] {
            if let Some(i) = offset.checked_sub(self.at).map(|i| i as usize)
                && i < read
                && buf[i] == 2
            {
                buf[i] = 1;
            }
        }
        self.at += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    /// A database built by SQLite itself, as bytes.
    fn database(setup: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(setup).unwrap();
        drop(connection);
        std::fs::read(path).unwrap()
    }

    fn scan(bytes: &[u8], max: u64) -> Result<Vec<(String, u64, u64)>, DatabaseError> {
        let matcher = Matcher::new(RuleSet::builtin().unwrap());
        let read = Cell::new(0);
        let budget = CellBudget { read: &read, max };
        let mut found = Vec::new();
        Database::open(bytes)?.scan(
            &matcher,
            &budget,
            &mut |entry, m| found.push((entry, m.line, m.column)),
            &mut |w| panic!("{w}"),
        )?;
        Ok(found)
    }

    #[test]
    fn cells_are_values_of_their_own() {
        let key = crate::matcher::tests::key(&mut fastrand::Rng::with_seed(61));
        let bytes = database(&format!(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE settings (name TEXT, value TEXT, blob BLOB, n INTEGER);
             INSERT INTO settings VALUES ('a', 'b', x'00', 1);
             INSERT INTO settings VALUES ('openai', 'line one\n  {key}', NULL, 2);
             CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
             INSERT INTO kv VALUES ('x', CAST('{key}' AS BLOB));
             CREATE TABLE g (a TEXT, b TEXT AS (a || 'x') VIRTUAL);
             INSERT INTO g (a) VALUES ('{key}');"
        ));
        assert!(is_database(&bytes));
        let found = scan(&bytes, 100).unwrap();
        assert_eq!(
            found,
            [
                ("settings.value[2]".to_string(), 2, 3),
                ("kv.v[1]".to_string(), 1, 1),
                ("g.a[1]".to_string(), 1, 1),
            ]
        );
        assert!(matches!(
            scan(&bytes, 5),
            Err(DatabaseError::TooManyCells(5))
        ));
    }

    #[test]
    fn a_damaged_database_is_an_error_not_a_panic() {
        let mut bytes = database("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x');");
        bytes.truncate(200);
        assert!(matches!(
            scan(&bytes, 100),
            Err(DatabaseError::Unreadable(_))
        ));
        assert!(scan(b"SQLite format 3\0", 100).is_err());
    }
}
