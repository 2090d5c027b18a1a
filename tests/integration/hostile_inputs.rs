//! Hostile inputs, the quick ones (bench/hostile-inputs.sh runs the large ones: a 4 GB sparse
//! file, a 1 GB line, a million files, 100k refs, a 10 GB blob): named pipes and devices in the
//! tree, files vanishing mid-scan, paths with newlines and bytes that are not UTF-8, a sparse
//! file, thousands of refs, and git objects over the size limit. Each run must end, within a
//! deadline, in a report and clear warnings, never a hang or a panic.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::git::Repo;
use support::{Run, Tree, fingerprint, project_key};

/// Longer than any of these runs takes, far shorter than a hang.
const DEADLINE: Duration = Duration::from_secs(60);

/// `ferret ARGS` in `dir`, killed and failed if it has not finished by [`DEADLINE`].
#[track_caller]
fn ferret_within_deadline(dir: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("ferret"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .env("FERRET_CACHE_DIR", dir.join(".ferret-cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferret");
    // Read while it runs: a report larger than a pipe's buffer would block it otherwise.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll ferret") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("ferret {args:?} hung (killed after {DEADLINE:?})");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    };
    run.expect_no_panic();
    run
}

/// The JSON records of a `--format json` report; panics if it is not valid JSON.
#[track_caller]
fn json_records(run: &Run) -> Vec<Value> {
    serde_json::from_str::<Value>(&run.stdout)
        .unwrap_or_else(|e| panic!("the report is not valid JSON ({e}); {run}"))
        .as_array()
        .cloned()
        .expect("a JSON array")
}

/// The records of a `--format jsonl` report.
#[track_caller]
fn jsonl(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}; {run}")))
        .collect()
}

/// The paths of `key`'s records.
fn paths_of(records: &[Value], key: &str) -> Vec<String> {
    let fingerprint = fingerprint(key);
    records
        .iter()
        .filter(|r| r["fingerprint"] == fingerprint.as_str())
        .map(|r| r["path"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn env_line(key: &str) -> String {
    format!("OPENAI_API_KEY={key}\n")
}

#[cfg(unix)]
#[test]
fn named_pipes_and_devices_are_never_opened() {
    use std::os::unix::fs::symlink;

    let tree = Tree::new();
    let key = project_key();
    tree.write("app.env", env_line(&key));
    let pipe = tree.join("pipe");
    let made = Command::new("mkfifo").arg(&pipe).status().expect("mkfifo");
    assert!(made.success());
    symlink(&pipe, tree.join("to-pipe")).unwrap();
    // Reading /dev/zero never ends: followed and opened, it would hang the scan.
    symlink("/dev/zero", tree.join("zero")).unwrap();
    symlink("/dev/null", tree.join("null")).unwrap();
    // A device node of its own, where the sandbox allows making one (root without CAP_MKNOD
    // in a container cannot).
    let device = Command::new("mknod")
        .arg(tree.join("zero-node"))
        .args(["c", "1", "5"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    // A writer waits on the pipe: opening it for reading would let the writer through.
    let writer_pipe = pipe.clone();
    let writer = std::thread::spawn(move || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&writer_pipe)
            .map(drop)
    });
    for follow in [false, true] {
        let mut args = vec!["dir", ".", "--format", "jsonl"];
        if follow {
            args.push("--follow-links");
        }
        let run = ferret_within_deadline(tree.path(), &args);
        run.expect_code(1);
        assert_eq!(run.records().len(), 1, "only app.env: {run}");
        assert!(
            run.stderr.contains("pipe: skipped, not a regular file"),
            "the pipe is named in a warning: {run}"
        );
        if follow {
            assert!(
                run.stderr.contains("zero: skipped, not a regular file"),
                "{run}"
            );
        }
        if device {
            assert!(
                run.stderr
                    .contains("zero-node: skipped, not a regular file"),
                "{run}"
            );
        }
    }
    assert!(
        !writer.is_finished(),
        "ferret opened the named pipe for reading"
    );
    // Let the writer go: open the pipe for reading ourselves.
    drop(std::fs::File::open(&pipe).expect("open the pipe"));
    writer.join().unwrap().expect("the writer got through");
}

#[test]
fn files_vanishing_during_the_scan_are_warnings() {
    let tree = Tree::new();
    let key = project_key();
    tree.write("stays/app.env", env_line(&key));
    for dir in 0..40 {
        for file in 0..100 {
            tree.write(
                &format!("goes/{dir}/{file}.txt"),
                "nothing here\n".repeat(50),
            );
        }
    }
    let doomed = tree.join("goes");
    let deleter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        let _ = std::fs::remove_dir_all(&doomed);
    });
    let run = ferret_within_deadline(tree.path(), &["dir", ".", "--format", "jsonl"]);
    deleter.join().unwrap();
    run.expect_code(1);
    assert_eq!(paths_of(&jsonl(&run), &key), ["stays/app.env"], "{run}");
    // Whatever vanished under the walk is a warning naming it, never an error.
    for line in run.stderr.lines().filter(|l| l.contains("warning")) {
        assert!(line.contains("goes"), "an unexpected warning: {line}");
    }
}

/// Writes `contents` to a file whose name is `name`'s bytes.
#[cfg(unix)]
fn write_named(dir: &Path, name: &[u8], contents: &str) {
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(dir.join(std::ffi::OsStr::from_bytes(name)), contents).unwrap();
}

#[cfg(unix)]
#[test]
fn paths_with_newlines_and_bytes_that_are_not_utf8_are_reported_unambiguously() {
    let tree = Tree::new();
    let (newline, ff, fe) = (project_key(), project_key(), project_key());
    write_named(tree.path(), b"new\nline.env", &env_line(&newline));
    // Two names that differ only in a byte that is not UTF-8: lossy text would merge them.
    write_named(tree.path(), b"bad\xff.env", &env_line(&ff));
    write_named(tree.path(), b"bad\xfe.env", &env_line(&fe));

    let run = ferret_within_deadline(tree.path(), &["dir", ".", "--format", "json"]);
    expect_paths(
        &run,
        &[
            (&newline, r#""new\nline.env""#),
            (&ff, r#""bad\377.env""#),
            (&fe, r#""bad\376.env""#),
        ],
    );

    // The text report shows each location on one line, the name quoted.
    let text = ferret_within_deadline(tree.path(), &["dir", ".", "--format", "text"]);
    text.expect_code(1);
    assert!(text.stdout.contains(r#""new\nline.env":1:16"#), "{text}");
    assert!(
        !text.stdout.contains("new\nline"),
        "a raw newline in a path: {text}"
    );

    // SARIF names the file by its own bytes.
    let sarif = ferret_within_deadline(tree.path(), &["dir", ".", "--format", "sarif"]);
    sarif.expect_code(1);
    let uris: Vec<String> = serde_json::from_str::<Value>(&sarif.stdout).expect("SARIF")["runs"][0]
        ["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    for uri in ["new%0Aline.env", "bad%FF.env", "bad%FE.env"] {
        assert!(uris.iter().any(|u| u == uri), "{uri} not in {uris:?}");
    }

    // The same names committed to git history.
    let mut repo = Repo::new();
    write_named(repo.path(), b"new\nline.env", &env_line(&newline));
    write_named(repo.path(), b"bad\xff.env", &env_line(&ff));
    repo.commit_all("odd names");
    let run = ferret_within_deadline(repo.path(), &["git", ".", "--format", "json"]);
    expect_paths(
        &run,
        &[(&newline, r#""new\nline.env""#), (&ff, r#""bad\377.env""#)],
    );
}

/// Asserts that a JSON report (exit code 1) holds each key at exactly the path given.
#[track_caller]
fn expect_paths(run: &Run, expected: &[(&String, &str)]) {
    run.expect_code(1);
    let records = json_records(run);
    for (key, path) in expected {
        assert_eq!(paths_of(&records, key), [*path], "{run}");
    }
}

#[test]
fn a_sparse_file_is_read_through_its_hole() {
    let tree = Tree::new();
    let key = project_key();
    let path = tree.join("sparse.img");
    let file = std::fs::File::create(&path).unwrap();
    // 64 MB of hole (zeros on reading), then a line with a key.
    file.set_len(64 << 20).unwrap();
    drop(file);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, format!("\n{}", env_line(&key)).as_bytes()).unwrap();
    drop(file);

    let run = ferret_within_deadline(tree.path(), &["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = jsonl(&run);
    assert_eq!(paths_of(&records, &key), ["sparse.img"], "{run}");
    assert_eq!(records[0]["line"], 2);
    assert_eq!(records[0]["column"], 16);
}

#[test]
fn thousands_of_refs_to_one_leak() {
    let mut repo = Repo::new();
    let key = project_key();
    repo.write("app.env", env_line(&key));
    let commit = repo.commit_all("leak");
    let refs: String = (0..5000)
        .map(|i| format!("create refs/tags/t{i:05} {commit}\n"))
        .collect();
    let mut update = Command::new("git")
        .args(["update-ref", "--stdin"])
        .current_dir(repo.path())
        .stdin(Stdio::piped())
        .spawn()
        .expect("git update-ref");
    std::io::Write::write_all(&mut update.stdin.take().unwrap(), refs.as_bytes()).unwrap();
    assert!(update.wait().unwrap().success());
    repo.git(&["pack-refs", "--all"]);

    let run = ferret_within_deadline(repo.path(), &["git", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = jsonl(&run);
    assert_eq!(paths_of(&records, &key), ["app.env"], "{run}");
    let refs = records[0]["refs"].as_array().expect("refs");
    assert_eq!(refs.len(), 100, "the list is capped");
    assert!(
        refs.iter().any(|r| r == "refs/heads/main"),
        "the branch is named: {refs:?}"
    );
    assert!(
        run.stderr
            .contains("is in 5002 refs: reports list the first 100"),
        "{run}"
    );
}

#[test]
fn objects_over_the_size_limit_are_skipped_with_a_warning() {
    let mut repo = Repo::new();
    let (small, large) = (project_key(), project_key());
    repo.write("small.env", env_line(&small));
    // A key at the start of 64 KiB: over a 16K limit.
    let mut big = env_line(&large);
    big.push_str(&"x".repeat(64 << 10));
    repo.write("big.env", &big);
    repo.commit_all("one small, one large");
    let big_id = repo.git(&["rev-parse", "HEAD:big.env"]);

    // Loose objects, then the same in a pack, then with the large blob a delta base.
    for stage in ["loose", "packed", "delta"] {
        match stage {
            "packed" => {
                repo.git(&["gc", "-q", "--aggressive"]);
            }
            "delta" => {
                big.push_str("one more line\n");
                repo.write("big.env", &big);
                repo.commit_all("grow");
                repo.git(&["gc", "-q", "--aggressive"]);
            }
            _ => {}
        }
        let run = ferret_within_deadline(
            repo.path(),
            &["git", ".", "--format", "jsonl", "--max-object-size", "16K"],
        );
        run.expect_code(1);
        let records = jsonl(&run);
        assert_eq!(paths_of(&records, &small), ["small.env"], "{stage}: {run}");
        assert!(paths_of(&records, &large).is_empty(), "{stage}: {run}");
        assert!(
            run.stderr.contains(&format!("object {big_id} ("))
                && run
                    .stderr
                    .contains("not scanned: larger than the limit of 16384 bytes"),
            "{stage}: {run}"
        );

        // Without the limit, everything is found.
        let run = ferret_within_deadline(repo.path(), &["git", ".", "--format", "jsonl"]);
        run.expect_code(1);
        let found = paths_of(&jsonl(&run), &large);
        assert!(
            !found.is_empty() && found.iter().all(|p| p == "big.env"),
            "{stage}: {run}"
        );
    }
}
