//! `ferret stdin` and `ferret log`: findings come out while the input is still open, one flushed
//! line at a time; `--follow` keeps reading a growing (and rotated) log, and opens a rotated
//! gzip once.

use crate::support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{LineReader, Record, Run, Shape, Tree, fingerprint, mask_keys, project_key};

/// How long a test waits for a finding that a live process should report.
const DEADLINE: Duration = Duration::from_secs(10);

/// Starts the binary with piped stdout (and stdin), in `dir`.
fn spawn(dir: &std::path::Path, args: &[&str]) -> (Child, LineReader) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferret");
    let stdout = child.stdout.take().expect("piped stdout");
    (child, LineReader::spawn(stdout))
}

/// Each record's fingerprint, path, line and column, in report order.
fn positions(records: &[Record]) -> Vec<(String, String, u64, u64)> {
    records
        .iter()
        .map(|r| (r.fingerprint.clone(), r.path.clone(), r.line, r.column))
        .collect()
}

/// The next line of output, parsed as one JSONL finding; fails the test after [`DEADLINE`].
#[track_caller]
fn next_finding(child: &mut Child, lines: &LineReader, what: &str) -> Record {
    let Some(line) = lines.next_within(DEADLINE) else {
        let _ = child.kill();
        panic!("no finding for {what} within {DEADLINE:?}");
    };
    serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("not a JSONL finding ({e}): {}", mask_keys(&line)))
}

#[test]
fn stdin_reports_each_finding_before_the_input_ends() {
    let tree = Tree::new();
    let key = project_key();
    let (mut child, lines) = spawn(tree.path(), &["stdin", "--format", "jsonl"]);
    let mut stdin = child.stdin.take().expect("piped stdin");
    writeln!(stdin, "2024-05-01T10:00:00Z INFO starting").unwrap();
    writeln!(stdin, "2024-05-01T10:00:01Z DEBUG env OPENAI_API_KEY={key}").unwrap();
    stdin.flush().unwrap();

    // stdin is still open: the finding must already be out.
    let record = next_finding(&mut child, &lines, "a line written to open stdin");
    assert_eq!(record.fingerprint, fingerprint(&key), "{record:?}");
    assert_eq!(
        (
            record.rule.as_str(),
            record.path.as_str(),
            record.line,
            record.column
        ),
        ("openai-project-key", "stdin", 2, 47),
        "{record:?}"
    );
    assert!(!record.secret.contains(&key[12..]), "{record:?}");

    drop(stdin);
    let status = child.wait().expect("ferret exits once stdin closes");
    assert_eq!(status.code(), Some(1));
    assert!(lines.next_within(Duration::from_millis(100)).is_none());
}

#[test]
fn stdin_names_the_stream_and_scans_a_last_line_without_newline() {
    let (first, last) = (Shape::Legacy.key(), Shape::Admin.key());
    let input = format!("a\n{first}\nb\nfinal {last}");
    let output = support::ferret_command()
        .args(["stdin", "--name", "app.log", "--format", "jsonl"])
        .write_stdin(input)
        .output()
        .expect("run ferret");
    let run = Run::from(output);
    run.expect_code(1)
        .expect_key_hidden(&first)
        .expect_key_hidden(&last);
    let found = positions(&run.records());
    assert_eq!(
        found,
        [
            (fingerprint(&first), "app.log".to_string(), 2, 1),
            (fingerprint(&last), "app.log".to_string(), 4, 7),
        ],
        "{run}"
    );
}

#[test]
fn stdin_without_keys_exits_zero() {
    let output = support::ferret_command()
        .args(["stdin"])
        .write_stdin("nothing to see\nhere\n")
        .output()
        .expect("run ferret");
    let run = Run::from(output);
    run.expect_code(0);
    assert!(!run.stdout.contains("sk-"), "{run}");
}

#[test]
fn log_scans_several_files_to_the_end() {
    let tree = Tree::new();
    let (a, b) = (project_key(), Shape::ServiceAccount46.key());
    tree.write("logs/app.log", format!("boot\nusing key {a}\n"));
    tree.write("logs/worker.log", format!("x\ny\nz\n[{b}]"));
    let run = tree.ferret(&[
        "log",
        "logs/app.log",
        "logs/worker.log",
        "--format",
        "jsonl",
    ]);
    run.expect_code(1);
    let found = positions(&run.records());
    assert_eq!(
        found,
        [
            (fingerprint(&a), "logs/app.log".to_string(), 2, 11),
            (fingerprint(&b), "logs/worker.log".to_string(), 4, 2),
        ],
        "{run}"
    );
}

#[test]
fn log_follow_reports_lines_appended_later_and_after_truncation() {
    let tree = Tree::new();
    let (first, appended, after_rotation) =
        (project_key(), Shape::Admin.key(), Shape::Legacy.key());
    let log = tree.write("app.log", format!("boot\nkey={first}\n"));
    let path = log.to_str().unwrap();
    let (mut child, lines) = spawn(tree.path(), &["log", path, "--follow", "--format", "jsonl"]);

    // What was there at the start: proves the process is up and reading.
    let record = next_finding(&mut child, &lines, "the key already in the file");
    assert_eq!(record.fingerprint, fingerprint(&first), "{record:?}");
    assert_eq!((record.line, record.column), (2, 5), "{record:?}");

    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(file, "request failed\nauth {appended}").unwrap();
    file.flush().unwrap();
    let record = next_finding(&mut child, &lines, "a line appended while following");
    assert_eq!(record.fingerprint, fingerprint(&appended), "{record:?}");
    assert_eq!((record.line, record.column), (4, 6), "{record:?}");

    // Copy-and-truncate rotation: the file starts over, shorter than what was read.
    std::fs::write(&log, format!("{after_rotation}\n")).unwrap();
    let record = next_finding(&mut child, &lines, "a line written after truncation");
    assert_eq!(
        record.fingerprint,
        fingerprint(&after_rotation),
        "{record:?}"
    );
    assert_eq!((record.line, record.column), (1, 1), "{record:?}");

    child.kill().expect("stop ferret");
    child.wait().expect("reap ferret");
}

#[test]
fn log_of_a_missing_file_is_an_error() {
    let tree = Tree::new();
    let run = tree.ferret(&["log", "missing.log"]);
    run.expect_code(2);
    assert!(run.stderr.contains("missing.log"), "{run}");
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
}

#[test]
fn log_reads_a_named_pipe() {
    let tree = Tree::new();
    let fifo = tree.join("pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let key = project_key();
    let (mut child, lines) = spawn(
        tree.path(),
        &["log", fifo.to_str().unwrap(), "--format", "jsonl"],
    );
    // Opening the pipe for writing blocks until ferret opens it for reading.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writeln!(writer, "start\nkey={key}").unwrap();
    writer.flush().unwrap();
    let record = next_finding(&mut child, &lines, "a key written into the pipe");
    assert_eq!(record.fingerprint, fingerprint(&key), "{record:?}");
    drop(writer);
    let status = child.wait().expect("ferret ends at the end of the pipe");
    assert_eq!(status.code(), Some(1));
}

#[test]
fn log_follow_reopens_a_log_rotated_by_rename() {
    let tree = Tree::new();
    let (before, after) = (project_key(), Shape::Legacy.key());
    let log = tree.write("app.log", format!("key={before}\n"));
    let path = log.to_str().unwrap();
    let (mut child, lines) = spawn(tree.path(), &["log", path, "--follow", "--format", "jsonl"]);
    let record = next_finding(&mut child, &lines, "the key before rotation");
    assert_eq!(record.fingerprint, fingerprint(&before), "{record:?}");

    std::fs::rename(&log, tree.join("app.log.1")).unwrap();
    std::fs::write(&log, format!("fresh start\n{after}\n")).unwrap();
    let record = next_finding(
        &mut child,
        &lines,
        "a key in the file created after rotation",
    );
    assert_eq!(record.fingerprint, fingerprint(&after), "{record:?}");
    assert_eq!((record.line, record.column), (2, 1), "{record:?}");

    child.kill().expect("stop ferret");
    child.wait().expect("reap ferret");
}

#[test]
fn log_follow_opens_a_rotated_gzip_once_and_follows_the_live_file() {
    let tree = Tree::new();
    let (rotated, live) = (project_key(), Shape::Legacy.key());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("old\nkey={rotated}\n").as_bytes())
        .unwrap();
    tree.write("app.log.1.gz", gz.finish().unwrap());
    let log = tree.write("app.log", "starting\n");
    let args = [
        "log",
        "app.log.1.gz",
        "app.log",
        "--follow",
        "--format",
        "jsonl",
    ];
    let (mut child, lines) = spawn(tree.path(), &args);
    let record = next_finding(&mut child, &lines, "the key in the rotated gzip");
    assert_eq!(record.fingerprint, fingerprint(&rotated), "{record:?}");
    assert!(record.path.starts_with("app.log.1.gz"), "{record:?}");
    assert_eq!(record.line, 2, "{record:?}");

    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(file, "key={live}").unwrap();
    let record = next_finding(&mut child, &lines, "a key appended to the live log");
    assert_eq!(record.fingerprint, fingerprint(&live), "{record:?}");
    child.kill().expect("stop ferret");
    child.wait().expect("reap ferret");
}
