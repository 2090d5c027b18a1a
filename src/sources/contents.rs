//! What is inside one file or blob: archives are opened and their entries scanned as files of
//! their own, SQLite databases' cells as values of their own ([`super::sqlite`]), notebooks get
//! cell numbers, everything else is scanned as the bytes it is.
//!
//! Archives are zip (and what is built on it: jar, war, whl, apk, docx, xlsx…), gzip, tar and
//! tar.gz, told by their first bytes rather than their names (a renamed archive is still
//! opened). A secret inside one is reported at `archive.zip!inner/path`, at the line and column
//! of the entry. Everything is streamed, except a zip inside another archive, which is held in
//! memory to read its directory (up to [`ArchiveLimits::max_buffered`]).
//!
//! A hostile archive cannot take unbounded time or memory: archives open only
//! [`ArchiveLimits::max_depth`] levels deep, an input's archives hold at most
//! [`ArchiveLimits::max_entries`] entries all told, and everything decompression produces from
//! one input may not pass [`ArchiveLimits::max_ratio`] times its size (past a floor). An input
//! that goes over is left with a warning; what was found before stays found. A zip entry that
//! declares such a ratio is refused before a byte of it is inflated.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek};

use flate2::read::MultiGzDecoder;

use super::notebook;
use super::sqlite::{self, CellBudget, Database, DatabaseError};
use crate::error::Chain;
use crate::matcher::{ChunkScanner, LocatedMatch, Matcher};

/// Bounds on opening archives.
#[derive(Clone, Debug)]
pub struct ArchiveLimits {
    /// Archives inside archives are opened this many levels deep (0: archives are scanned as
    /// raw bytes). A `.tar.gz` is two levels, gzip and tar.
    pub max_depth: usize,
    /// Entries, all archives of one input together.
    pub max_entries: u64,
    /// Bytes that decompression may produce, as a multiple of the input's size…
    pub max_ratio: u64,
    /// …once past this many.
    pub ratio_floor: u64,
    /// The largest zip held in memory when it sits inside another archive, and the largest
    /// notebook read whole.
    pub max_buffered: u64,
    /// The largest SQLite database read as tables (held in memory, twice while it opens); a
    /// larger one is scanned as raw bytes.
    pub max_database: u64,
    /// Rows and text or blob cells read from SQLite databases, all of one input's together.
    pub max_cells: u64,
}

/// Levels of nesting opened by default: a jar in a tar.gz, and a zip in that jar.
pub const DEFAULT_ARCHIVE_DEPTH: usize = 4;

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_depth: DEFAULT_ARCHIVE_DEPTH,
            max_entries: 100_000,
            max_ratio: 100,
            ratio_floor: 64 << 20,
            max_buffered: 256 << 20,
            max_database: 64 << 20,
            max_cells: 2_000_000,
        }
    }
}

/// Archive formats ferret opens (a SQLite database counts as one: its cells are its entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Zip,
    Gzip,
    Tar,
    Sqlite,
}

/// Bytes enough to tell a format: tar's magic sits at offset 257.
const SNIFF_LEN: usize = 512;

/// The archive format `head` (an input's first bytes) starts, if any.
fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(Format::Gzip)
    } else if head.get(257..262) == Some(b"ustar") {
        Some(Format::Tar)
    } else if sqlite::is_database(head) {
        Some(Format::Sqlite)
    } else {
        None
    }
}

/// Whether a file name is a notebook's.
fn is_notebook_name(name: &str) -> bool {
    name.ends_with(".ipynb")
}

/// Scans a file on disk called `name`; returns the bytes scanned (an archive's: its entries').
pub fn scan_file(
    mut file: File,
    name: &str,
    limits: &ArchiveLimits,
    scanner: &mut ChunkScanner<'_>,
    emit: &mut dyn FnMut(LocatedMatch),
    warn: &mut dyn FnMut(String),
) -> io::Result<u64> {
    // The scanner's first read tells what the file is; plain files (nearly all) go on with
    // no read of their own.
    let head = scanner.start(&mut file)?;
    let format = sniff(head).filter(|_| limits.max_depth > 0);
    if format.is_none() && !is_notebook_name(name) {
        return scanner.scan_rest(file, emit);
    }
    let size = file.metadata().map_or(0, |m| m.len());
    if format == Some(Format::Sqlite) && size > limits.max_database {
        warn(too_big_a_database(&name, limits));
        return scanner.scan_rest(file, emit);
    }
    let head = head.to_vec();
    let budget = Budget::new(limits, size);
    let mut opener = Opener {
        limits,
        budget: &budget,
        scanner,
        emit,
        warn,
        outer: &name,
        scanned: 0,
    };
    match format {
        Some(Format::Zip) => {
            file.rewind()?;
            opener.zip(&mut file, None, 1)
        }
        Some(format) => opener.open(
            format,
            &mut Cursor::new(head).chain(file),
            None,
            Some(name),
            1,
        ),
        None => opener.leaf(&mut Cursor::new(&head).chain(file), name, None),
    }
    Ok(opener.scanned)
}

/// The matches in a blob held in memory (a git object, whose name is not known here: a
/// notebook is told by its contents). Warnings name the blob as `what`, which is only
/// written out when there is one.
pub fn locate_in_blob(
    matcher: &Matcher,
    data: &[u8],
    what: &dyn std::fmt::Display,
    limits: &ArchiveLimits,
    warn: &mut dyn FnMut(String),
) -> Vec<LocatedMatch> {
    let Some(format) = sniff(data).filter(|_| limits.max_depth > 0) else {
        let mut matches = matcher.locate_all(data);
        if !matches.is_empty() && notebook::looks_like_notebook(data) {
            notebook::annotate(data, &mut matches);
        }
        return matches;
    };
    let budget = Budget::new(limits, data.len() as u64);
    let mut matches = Vec::new();
    let mut scanner = ChunkScanner::new(matcher);
    let mut opener = Opener {
        limits,
        budget: &budget,
        scanner: &mut scanner,
        emit: &mut |m| matches.push(m),
        warn,
        outer: what,
        scanned: 0,
    };
    match format {
        Format::Zip => opener.zip(&mut Cursor::new(data), None, 1),
        Format::Sqlite if data.len() as u64 > limits.max_database => {
            (opener.warn)(too_big_a_database(what, limits));
            opener.leaf(&mut Cursor::new(data), "", None);
        }
        format => opener.open(format, &mut Cursor::new(data), None, None, 1),
    }
    matches
}

/// The warning for a database too big to read as tables.
fn too_big_a_database(at: &dyn std::fmt::Display, limits: &ArchiveLimits) -> String {
    format!(
        "{at}: SQLite database larger than {} bytes: scanned as raw bytes",
        limits.max_database
    )
}

/// What one input's archives may still use.
struct Budget {
    /// Bytes decompression produced so far, and how many it may.
    expanded: Cell<u64>,
    max_expanded: u64,
    entries: Cell<u64>,
    /// Rows and cells of SQLite databases read.
    cells: Cell<u64>,
    /// Set once the input was refused: nothing more of it is read.
    refused: Cell<bool>,
}

impl Budget {
    /// Whether decompression went past the budget (the error it caused may reach us wrapped
    /// by an archive reader, so the budget is asked, not the error).
    fn spent(&self) -> bool {
        self.expanded.get() > self.max_expanded
    }

    fn new(limits: &ArchiveLimits, input_size: u64) -> Self {
        Budget {
            expanded: Cell::new(0),
            max_expanded: input_size
                .saturating_mul(limits.max_ratio)
                .max(limits.ratio_floor),
            entries: Cell::new(0),
            cells: Cell::new(0),
            refused: Cell::new(false),
        }
    }
}

/// Counts what a decompressing reader produces against the budget.
struct Metered<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        let expanded = self.budget.expanded.get() + read as u64;
        self.budget.expanded.set(expanded);
        if expanded > self.budget.max_expanded {
            return Err(io::Error::other("decompresses to too much"));
        }
        Ok(read)
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// Opens the archives of one input, recursively.
struct Opener<'o, 'm> {
    limits: &'o ArchiveLimits,
    budget: &'o Budget,
    scanner: &'o mut ChunkScanner<'m>,
    emit: &'o mut dyn FnMut(LocatedMatch),
    warn: &'o mut dyn FnMut(String),
    /// The input's name, for warnings.
    outer: &'o dyn std::fmt::Display,
    /// Bytes of entries scanned.
    scanned: u64,
}

/// `entry` inside `parent` (`None`: the input itself).
fn join(parent: Option<&str>, entry: &str) -> String {
    match parent {
        Some(parent) => format!("{parent}!{entry}"),
        None => entry.to_string(),
    }
}

impl Opener<'_, '_> {
    fn warn(&mut self, at: Option<&str>, text: &str) {
        let place = match at {
            Some(at) => format!("{}!{at}", self.outer),
            None => self.outer.to_string(),
        };
        (self.warn)(format!("{place}: {text}"));
    }

    /// Gives up on the whole input.
    fn refuse(&mut self, at: Option<&str>, why: &str) {
        if !self.budget.refused.replace(true) {
            self.warn(at, &format!("archive refused, not opened further: {why}"));
        }
    }

    /// Takes one more entry from the budget; false (and the input refused) when none is left.
    fn take_entry(&mut self, at: Option<&str>) -> bool {
        let entries = self.budget.entries.get() + 1;
        self.budget.entries.set(entries);
        if entries > self.limits.max_entries {
            self.refuse(
                at,
                &format!("more than {} entries", self.limits.max_entries),
            );
            return false;
        }
        true
    }

    /// Opens an archive of a streamed `format` at `path` (`None`: the input itself), whose
    /// file name is `name` when known, `depth` levels down.
    fn open(
        &mut self,
        format: Format,
        reader: &mut dyn Read,
        path: Option<&str>,
        name: Option<&str>,
        depth: usize,
    ) {
        match format {
            Format::Zip => self.buffered_zip(reader, path, depth),
            Format::Gzip => self.gzip(reader, path, name, depth),
            Format::Tar => self.tar(reader, path, depth),
            Format::Sqlite => self.database(reader, path),
        }
    }

    /// A SQLite database at `path` (`None`: the input itself): held in memory, when small
    /// enough, to read its tables; each text or blob cell is scanned as `path!table.column[rowid]`.
    /// One SQLite cannot read is scanned as raw bytes.
    fn database(&mut self, reader: &mut dyn Read, path: Option<&str>) {
        let mut bytes = Vec::new();
        let limit = self.limits.max_database;
        if let Err(err) = reader.take(limit + 1).read_to_end(&mut bytes) {
            return self.entry_error(path, err);
        }
        if bytes.len() as u64 > limit {
            let at = match path {
                Some(at) => format!("{}!{at}", self.outer),
                None => self.outer.to_string(),
            };
            (self.warn)(too_big_a_database(&at, self.limits));
            return self.leaf(&mut Cursor::new(bytes).chain(reader), "", path);
        }
        let database = match Database::open(&bytes) {
            Ok(database) => database,
            Err(err) => {
                self.warn(path, &format!("{err}; scanned as raw bytes"));
                return self.leaf(&mut Cursor::new(bytes), "", path);
            }
        };
        drop(bytes);
        let budget = CellBudget {
            read: &self.budget.cells,
            max: self.limits.max_cells,
        };
        let emit = &mut *self.emit;
        let mut problems = Vec::new();
        let scanned = database.scan(
            self.scanner.matcher(),
            &budget,
            &mut |entry, mut m| {
                m.entry = Some(join(path, &entry));
                emit(m)
            },
            &mut |text| problems.push(text),
        );
        for problem in problems {
            self.warn(path, &problem);
        }
        match scanned {
            Ok(bytes) => self.scanned += bytes,
            Err(DatabaseError::TooManyCells(max)) => {
                self.refuse(path, &format!("more than {max} SQLite rows and cells"))
            }
            Err(err) => self.warn(path, &err.to_string()),
        }
    }

    /// A gzip holds one file: a `.tar.gz` reads on as the tar (no path of its own), anything
    /// else as the file its name says: `app.log.gz!app.log` (the name its header keeps, else
    /// its own name without `.gz`, else `(gzip contents)`).
    fn gzip(
        &mut self,
        reader: &mut dyn Read,
        path: Option<&str>,
        name: Option<&str>,
        depth: usize,
    ) {
        let mut inflated = Metered {
            inner: MultiGzDecoder::new(reader),
            budget: self.budget,
        };
        let mut head = [0; SNIFF_LEN];
        let filled = match read_up_to(&mut inflated, &mut head) {
            Ok(filled) => filled,
            Err(err) => return self.entry_error(path, err),
        };
        let header_name = inflated
            .inner
            .header()
            .and_then(|header| header.filename())
            .map(|name| String::from_utf8_lossy(name).into_owned());
        let inner_name = header_name
            .or_else(|| {
                let file_name = name?.rsplit('/').next()?;
                file_name.strip_suffix(".gz").map(str::to_string)
            })
            .unwrap_or_else(|| "(gzip contents)".to_string());
        self.entry_after(
            &head[..filled],
            &mut inflated,
            path,
            &inner_name,
            depth,
            true,
        );
    }

    fn tar(&mut self, reader: &mut dyn Read, path: Option<&str>, depth: usize) {
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(err) => return self.warn(path, &format!("unreadable tar: {}", Chain(&err))),
        };
        for entry in entries {
            if self.budget.refused.get() {
                return;
            }
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(_) if self.budget.spent() => return self.refuse(path, &self.over_budget()),
                Err(err) => {
                    return self.warn(path, &format!("tar entries unreadable: {}", Chain(&err)));
                }
            };
            if !entry.header().entry_type().is_file()
                && !entry.header().entry_type().is_gnu_sparse()
            {
                continue;
            }
            if !self.take_entry(path) {
                return;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut metered = Metered {
                inner: &mut entry,
                budget: self.budget,
            };
            self.entry(&mut metered, path, &name, depth);
        }
    }

    /// A zip read from a stream: held in memory, when small enough, to read its directory.
    fn buffered_zip(&mut self, reader: &mut dyn Read, path: Option<&str>, depth: usize) {
        let mut bytes = Vec::new();
        let limit = self.limits.max_buffered;
        match reader.take(limit + 1).read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 > limit => self.warn(
                path,
                &format!("zip inside an archive larger than {limit} bytes: not opened"),
            ),
            Ok(_) => self.zip(&mut Cursor::new(bytes), path, depth),
            Err(_) if self.budget.spent() => self.refuse(path, &self.over_budget()),
            Err(err) => self.warn(path, &format!("unreadable: {}", Chain(&err))),
        }
    }

    fn zip(&mut self, reader: &mut (impl Read + Seek), path: Option<&str>, depth: usize) {
        let mut archive = match zip::ZipArchive::new(&mut *reader) {
            Ok(archive) => archive,
            Err(err) => {
                // A damaged zip (a download cut short) still shows its stored entries' bytes.
                self.warn(
                    path,
                    &format!("unreadable zip, scanned as raw bytes: {}", Chain(&err)),
                );
                if let Err(err) = reader.rewind() {
                    return self.entry_error(path, err);
                }
                return self.leaf(reader, "", path);
            }
        };
        for index in 0..archive.len() {
            if self.budget.refused.get() {
                return;
            }
            let mut file = match archive.by_index(index) {
                Ok(file) => file,
                Err(err) => {
                    self.warn(path, &format!("zip entry {index} skipped: {}", Chain(&err)));
                    continue;
                }
            };
            if !file.is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(file.name_raw()).into_owned();
            if !self.take_entry(path) {
                return;
            }
            let (size, packed) = (file.size(), file.compressed_size().max(1));
            if size > self.limits.ratio_floor && size / packed > self.limits.max_ratio {
                let at = join(path, &name);
                return self.refuse(
                    Some(&at),
                    &format!("declares {size} bytes from {packed} (a zip bomb?)"),
                );
            }
            let mut metered = Metered {
                inner: &mut file,
                budget: self.budget,
            };
            self.entry(&mut metered, path, &name, depth);
        }
    }

    /// Scans one entry `name` of the archive at `parent`: an archive in turn, a notebook, or
    /// bytes.
    fn entry(&mut self, reader: &mut dyn Read, parent: Option<&str>, name: &str, depth: usize) {
        let mut head = [0; SNIFF_LEN];
        match read_up_to(reader, &mut head) {
            Ok(filled) => self.entry_after(&head[..filled], reader, parent, name, depth, false),
            Err(err) => self.entry_error(Some(&join(parent, name)), err),
        }
    }

    /// [`Self::entry`], once the entry's `head` was read from `rest`. A `transparent` entry
    /// (a gzip's contents) adds no path of its own when it is an archive.
    fn entry_after(
        &mut self,
        head: &[u8],
        rest: &mut dyn Read,
        parent: Option<&str>,
        name: &str,
        depth: usize,
        transparent: bool,
    ) {
        let path = join(parent, name);
        let mut reader = Cursor::new(head).chain(rest);
        match sniff(head) {
            Some(format) if depth < self.limits.max_depth => {
                let at = if transparent {
                    parent
                } else {
                    Some(path.as_str())
                };
                self.open(format, &mut reader, at, Some(name), depth + 1);
            }
            Some(_) => {
                self.warn(
                    Some(&path),
                    &format!(
                        "archive nested more than {} levels deep: scanned as raw bytes",
                        self.limits.max_depth
                    ),
                );
                self.leaf(&mut reader, name, Some(&path));
            }
            None => self.leaf(&mut reader, name, Some(&path)),
        }
    }

    /// Scans the bytes of a file that is no archive; `path` is its entry path (`None`: the
    /// input itself). A notebook small enough to hold is read whole, for its cells.
    fn leaf(&mut self, reader: &mut dyn Read, name: &str, path: Option<&str>) {
        let emit = &mut *self.emit;
        let mut emit_here = |mut m: LocatedMatch| {
            m.entry = path.map(str::to_string);
            emit(m)
        };
        let scanned = if is_notebook_name(name) {
            let mut json = Vec::new();
            let limit = self.limits.max_buffered;
            match reader.take(limit + 1).read_to_end(&mut json) {
                Ok(read) if read as u64 <= limit => {
                    let mut matches = self.scanner.matcher().locate_all(&json);
                    notebook::annotate(&json, &mut matches);
                    matches.into_iter().for_each(&mut emit_here);
                    Ok(read as u64)
                }
                Ok(_) => self
                    .scanner
                    .scan_reader(Cursor::new(json).chain(reader), &mut emit_here),
                Err(err) => Err(err),
            }
        } else {
            self.scanner.scan_reader(reader, &mut emit_here)
        };
        match scanned {
            Ok(bytes) => self.scanned += bytes,
            Err(err) => self.entry_error(path, err),
        }
    }

    fn over_budget(&self) -> String {
        format!(
            "decompresses to more than {}x its size (a zip bomb?)",
            self.limits.max_ratio
        )
    }

    fn entry_error(&mut self, at: Option<&str>, err: io::Error) {
        if self.budget.spent() {
            self.refuse(at, &self.over_budget());
        } else {
            self.warn(at, &format!("unreadable, skipped: {}", Chain(&err)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::rules::RuleSet;

    fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_cksum();
            tar.append_data(&mut header, path, contents.as_slice())
                .unwrap();
        }
        tar.into_inner().unwrap()
    }

    fn gzip_of(contents: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(contents).unwrap();
        gz.finish().unwrap()
    }

    /// `(entry, line)` of each match, and the warnings.
    fn scan(data: &[u8], limits: &ArchiveLimits) -> (Vec<(Option<String>, u64)>, Vec<String>) {
        let matcher = Matcher::new(RuleSet::builtin().unwrap());
        let mut warnings = Vec::new();
        let matches = locate_in_blob(&matcher, data, &"input", limits, &mut |w| warnings.push(w));
        let places = matches.into_iter().map(|m| (m.entry, m.line)).collect();
        (places, warnings)
    }

    #[test]
    fn entries_past_the_limit_are_not_read() {
        let mut rng = fastrand::Rng::with_seed(7);
        let entries: Vec<(String, Vec<u8>)> = (0..8)
            .map(|i| {
                let key = crate::matcher::tests::key(&mut rng);
                (format!("f{i}.env"), format!("K={key}\n").into_bytes())
            })
            .collect();
        let limits = ArchiveLimits {
            max_entries: 5,
            ..ArchiveLimits::default()
        };
        let (places, warnings) = scan(&tar_of(&entries), &limits);
        let names: Vec<String> = places.into_iter().filter_map(|(e, _)| e).collect();
        assert_eq!(names, ["f0.env", "f1.env", "f2.env", "f3.env", "f4.env"]);
        assert_eq!(
            warnings,
            ["input: archive refused, not opened further: more than 5 entries"]
        );
    }

    #[test]
    fn expansion_past_the_ratio_is_cut_off_but_earlier_finds_stay() {
        let mut rng = fastrand::Rng::with_seed(8);
        let key = crate::matcher::tests::key(&mut rng);
        let entries = vec![
            ("first.env".to_string(), format!("K={key}\n").into_bytes()),
            ("zeros".to_string(), vec![0; 4 << 20]),
        ];
        let limits = ArchiveLimits {
            max_ratio: 10,
            ratio_floor: 1 << 10,
            ..ArchiveLimits::default()
        };
        let (places, warnings) = scan(&gzip_of(&tar_of(&entries)), &limits);
        assert_eq!(places, [(Some("first.env".to_string()), 1)]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("archive refused") && warnings[0].contains("10x"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_damaged_zip_is_scanned_as_raw_bytes() {
        let mut rng = fastrand::Rng::with_seed(9);
        let key = crate::matcher::tests::key(&mut rng);
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("a.env", stored).unwrap();
        zip.write_all(format!("K={key}\n").as_bytes()).unwrap();
        let mut bytes = zip.finish().unwrap().into_inner();
        // Cut short: no central directory.
        bytes.truncate(bytes.len() - 40);
        let (places, warnings) = scan(&bytes, &ArchiveLimits::default());
        assert_eq!(places.len(), 1);
        assert_eq!(places[0].0, None);
        assert!(warnings[0].starts_with("input: unreadable zip, scanned as raw bytes"));
    }

    #[test]
    fn databases_past_the_limits_are_refused_or_read_raw_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let key = crate::matcher::tests::key(&mut fastrand::Rng::with_seed(10));
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch("CREATE TABLE t (a TEXT, b TEXT)")
            .unwrap();
        for i in 0..20 {
            let value = if i == 15 {
                format!("k={key}")
            } else {
                "x".into()
            };
            connection
                .execute("INSERT INTO t VALUES ('a', ?1)", [value])
                .unwrap();
        }
        drop(connection);
        let bytes = std::fs::read(&path).unwrap();

        let (places, warnings) = scan(&bytes, &ArchiveLimits::default());
        assert_eq!(places, [(Some("t.b[16]".to_string()), 1)]);
        assert!(warnings.is_empty(), "{warnings:?}");

        // Rows and cells past the limit: refused; what came before stays.
        let few = ArchiveLimits {
            max_cells: 30,
            ..ArchiveLimits::default()
        };
        let (places, warnings) = scan(&bytes, &few);
        assert!(places.is_empty());
        assert_eq!(
            warnings,
            ["input: archive refused, not opened further: more than 30 SQLite rows and cells"]
        );

        // Too big to hold: raw bytes, where the key has no boundary before it.
        let small = ArchiveLimits {
            max_database: 1024,
            ..ArchiveLimits::default()
        };
        let (_, warnings) = scan(&bytes, &small);
        assert_eq!(
            warnings,
            ["input: SQLite database larger than 1024 bytes: scanned as raw bytes"]
        );

        // Depth 0: a database is raw bytes too, without a word.
        let flat = ArchiveLimits {
            max_depth: 0,
            ..ArchiveLimits::default()
        };
        assert!(scan(&bytes, &flat).1.is_empty());
    }

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Some(Format::Zip));
        assert_eq!(sniff(&gzip_of(b"x")), Some(Format::Gzip));
        assert_eq!(
            sniff(&tar_of(&[("a".into(), b"b".to_vec())])),
            Some(Format::Tar)
        );
        assert_eq!(sniff(b"PK is a name"), None);
        assert_eq!(sniff(b""), None);
    }
}
