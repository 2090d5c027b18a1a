//! Keys in SQLite databases: each text or blob cell is scanned as a value of its own and
//! reported at `file.db!table.column[rowid]`, in `ferret dir` (told by the file's first bytes,
//! whatever its name), inside archives and in git history. A database SQLite cannot read is
//! scanned as raw bytes with a warning, and the scan goes on.

use crate::support;

use std::io::Write;
use std::path::Path;

use rusqlite::Connection;

use support::git::Repo;
use support::providers::Kind;
use support::{Tree, project_key};

/// A database file built by SQLite at `path`: a settings table whose text cells sit between
/// other columns' values (no separator a raw scan could see), a blob column, a table without
/// rowid, and a table of numbers.
fn write_database(path: &Path, text_key: &str, blob_key: &str, keyed_key: &str) {
    let connection = Connection::open(path).expect("create a database");
    connection
        .execute_batch(
            "CREATE TABLE settings (id INTEGER PRIMARY KEY, name TEXT, value TEXT, raw BLOB);
             CREATE TABLE secrets (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
             CREATE TABLE counters (n INTEGER, m REAL);
             INSERT INTO counters VALUES (1, 2.5), (3, 4.5);",
        )
        .expect("schema");
    let insert = "INSERT INTO settings (id, name, value, raw) VALUES (?1, ?2, ?3, ?4)";
    connection
        .execute(insert, (7, "theme", "dark", b"\x00\x01".as_slice()))
        .expect("row");
    let value = format!("# copied from .env\nOPENAI_API_KEY={text_key}");
    connection
        .execute(insert, (42, "openai", value, blob_key.as_bytes()))
        .expect("row");
    connection
        .execute(
            "INSERT INTO secrets VALUES ('a', 'b'), ('c', ?1)",
            [keyed_key],
        )
        .expect("row");
}

/// A database's bytes.
fn database_bytes(text_key: &str, blob_key: &str, keyed_key: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("x.db");
    write_database(&path, text_key, blob_key, keyed_key);
    std::fs::read(path).expect("read the database")
}

fn zip_of(name: &str, contents: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("zip entry");
    zip.write_all(contents).expect("zip write");
    zip.finish().expect("zip").into_inner()
}

#[test]
fn keys_in_database_cells_are_found_at_their_table_column_and_row() {
    let tree = Tree::new();
    let (text_key, blob_key, keyed_key) = (project_key(), project_key(), Kind::Anthropic.key());
    write_database(&tree.join("app.db"), &text_key, &blob_key, &keyed_key);
    // The same kind of file under a name that does not say database.
    let (other_text, other_blob, other_keyed) =
        (project_key(), Kind::Groq.key(), Kind::Mistral.key());
    let renamed = database_bytes(&other_text, &other_blob, &other_keyed);
    tree.write("data/cache.bin", &renamed);

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    for key in [&text_key, &blob_key, &keyed_key, &other_text, &other_blob] {
        run.expect_key_hidden(key);
    }
    let at = |path: &str, entry: &str, line, column| {
        (
            format!("{path}!{entry}"),
            line,
            column,
            Some(entry.to_string()),
        )
    };
    assert_eq!(
        run.place_of(&text_key),
        at("app.db", "settings.value[42]", 2, 16)
    );
    assert_eq!(
        run.place_of(&blob_key),
        at("app.db", "settings.raw[42]", 1, 1)
    );
    assert_eq!(run.place_of(&keyed_key), at("app.db", "secrets.v[2]", 1, 1));
    assert_eq!(
        run.place_of(&other_text),
        at("data/cache.bin", "settings.value[42]", 2, 16)
    );
    assert_eq!(
        run.place_of(&other_blob),
        at("data/cache.bin", "settings.raw[42]", 1, 1)
    );
    // A Mistral-shaped cell alone has no provider's name beside it.
    assert!(run.records_of(&other_keyed).is_empty(), "{run}");
    assert_eq!(run.records().len(), 5, "{run}");
}

#[test]
fn databases_inside_archives_and_in_history_are_read() {
    let mut repo = Repo::new();
    let (text_key, blob_key, keyed_key) = (project_key(), project_key(), project_key());
    repo.write(
        "fixtures/state.sqlite",
        database_bytes(&text_key, &blob_key, &keyed_key),
    );
    let (zipped, zipped_blob, zipped_keyed) = (project_key(), project_key(), project_key());
    repo.write(
        "dist/bundle.zip",
        zip_of(
            "data/app.db",
            &database_bytes(&zipped, &zipped_blob, &zipped_keyed),
        ),
    );
    let commit = repo.commit_all("add fixtures");

    let run = repo.ferret(&["git", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(run.records().len(), 6, "{run}");
    let record = run.record_of(&text_key);
    assert_eq!(record["path"], "fixtures/state.sqlite!settings.value[42]");
    assert_eq!(record["commit"], commit.as_str());
    let record = run.record_of(&zipped_keyed);
    assert_eq!(record["path"], "dist/bundle.zip!data/app.db!secrets.v[2]");
    assert_eq!(record["entry"], "data/app.db!secrets.v[2]");

    let run = repo.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(
        run.place_of(&zipped).0,
        "dist/bundle.zip!data/app.db!settings.value[42]"
    );
}

#[test]
fn a_database_sqlite_cannot_read_is_scanned_raw_with_a_warning() {
    let tree = Tree::new();
    let key = project_key();
    // The magic, then garbage holding a key between separators a raw scan sees.
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend_from_slice(&[0xff; 84]);
    bytes.extend_from_slice(format!("\nOPENAI_API_KEY={key}\n").as_bytes());
    tree.write("broken.db", &bytes);
    let fine = project_key();
    tree.write("next.env", format!("OPENAI_API_KEY={fine}\n"));

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(run.place_of(&key).0, "broken.db");
    assert_eq!(run.place_of(&fine).0, "next.env");
    assert!(
        run.stderr.contains("broken.db: SQLite cannot read it: ")
            && run.stderr.contains("scanned as raw bytes"),
        "{run}"
    );
}
