//! Exit codes and errors: 0 when nothing is found, 1 for findings, 2 for usage and runtime
//! errors, which are one line on stderr naming the cause (and for a bad `.ferret.toml`, the
//! file, line and column), never a panic.

use crate::support;

use support::{Run, Tree, project_key};

/// Asserts a failed run: exit code 2, one `ferret: error:` line on stderr, nothing on stdout.
#[track_caller]
fn expect_error(run: &Run) -> String {
    run.expect_code(2);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr; {run}");
    assert!(lines[0].starts_with("ferret: error: "), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    lines[0].trim_start_matches("ferret: error: ").to_string()
}

#[test]
fn clean_tree_exits_zero_and_findings_exit_one() {
    let tree = Tree::new();
    tree.write("README.md", "# nothing secret\n");
    let run = tree.ferret(&["dir"]);
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), "No secrets found.", "{run}");

    tree.write("src/.env", format!("OPENAI_API_KEY={}\n", project_key()));
    let run = tree.ferret(&["dir"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("1 secret found in 1 location(s)."),
        "{run}"
    );
}

#[test]
fn malformed_config_is_one_line_naming_file_line_and_column() {
    let tree = Tree::new();
    tree.write("app.env", format!("K={}\n", project_key()));
    tree.write(
        ".ferret.toml",
        "# allowlist\n[allowlist]\npaths = [\"docs/**\"]\nregexes = 3\n",
    );
    for args in [&["dir"][..], &["dir", "."][..]] {
        let message = expect_error(&tree.ferret(args));
        let (place, reason) = message
            .split_once(": ")
            .unwrap_or_else(|| panic!("no `path:line:col: reason` in {message:?}"));
        assert!(place.ends_with(".ferret.toml:4:11"), "{message}");
        assert!(!reason.is_empty(), "{message}");
    }

    // Errors found after parsing (a bad glob, a bad regex) point at their entry too.
    tree.write(
        ".ferret.toml",
        "[allowlist]\npaths = [\"ok/**\"]\nregexes = ['^sk-(']\n",
    );
    let message = expect_error(&tree.ferret(&["dir", "."]));
    assert!(message.contains(".ferret.toml:3:"), "{message}");
    assert!(message.contains("regex"), "{message}");

    // Unknown keys are mistakes, not silently ignored allowlists.
    tree.write(".ferret.toml", "[allowlist]\npath = [\"docs/**\"]\n");
    let message = expect_error(&tree.ferret(&["dir", "."]));
    assert!(message.contains(".ferret.toml:2:1"), "{message}");
}

#[test]
fn missing_paths_and_files_are_errors_naming_them() {
    let tree = Tree::new();
    let message = expect_error(&tree.ferret(&["dir", "no/such/dir"]));
    assert!(message.contains("no/such/dir"), "{message}");

    tree.write("a.txt", "x\n");
    for (args, named) in [
        (&["dir", ".", "--config", "absent.toml"][..], "absent.toml"),
        (
            &["dir", ".", "--baseline", "absent.jsonl"][..],
            "absent.jsonl",
        ),
        (&["dir", ".", "--rules", "absent-rules"][..], "absent-rules"),
        (&["log", "absent.log"][..], "absent.log"),
        (
            &["dir", ".", "-o", "no/such/dir/report.json"][..],
            "no/such/dir/report.json",
        ),
    ] {
        let message = expect_error(&tree.ferret(args));
        assert!(message.contains(named), "{args:?}: {message}");
        // The cause is said once, not repeated by each layer of the error.
        let os_errors = message.matches("os error").count();
        assert!(os_errors <= 1, "{args:?}: cause repeated: {message}");
    }
}

#[test]
fn a_file_that_is_not_a_report_is_a_bad_baseline() {
    let tree = Tree::new();
    tree.write("a.txt", "x\n");
    tree.write("old.jsonl", "{\"fingerprint\": \"ab\"}\nnot json\n");
    let message = expect_error(&tree.ferret(&["dir", ".", "--baseline", "old.jsonl"]));
    assert!(message.contains("old.jsonl:2"), "{message}");

    tree.write("old.json", "[{\"rule\": \"x\"}]");
    let message = expect_error(&tree.ferret(&["dir", ".", "--baseline", "old.json"]));
    assert!(
        message.contains("old.json") && message.contains("fingerprint"),
        "{message}"
    );
}

#[test]
fn usage_errors_exit_two() {
    let tree = Tree::new();
    for args in [
        &["dir", "--format", "xml"][..],
        &["frobnicate"][..],
        &["log"][..],
        &["dir", "--threads", "many"][..],
    ] {
        let run = tree.ferret(args);
        run.expect_code(2);
        assert!(!run.stderr.is_empty(), "{args:?}: {run}");
    }
}

#[test]
fn fail_on_live_without_verify_is_a_usage_error() {
    let tree = Tree::new();
    tree.write("a.env", format!("K={}\n", project_key()));
    for args in [
        &["dir", ".", "--fail-on", "live"][..],
        &["log", "a.env", "--fail-on", "live"][..],
    ] {
        let message = expect_error(&tree.ferret(args));
        assert!(message.contains("--verify"), "{args:?}: {message}");
    }
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    // Far more report than a pipe buffers, so ferret is still writing when the reader leaves.
    let tree = Tree::new();
    for index in 0..400 {
        tree.write(&format!("k/{index}.env"), format!("K={}\n", project_key()));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferret"))
        .args(["dir", "."])
        .current_dir(tree.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("openai-project-key"), "{first}");
    // The reader is dropped here, like `ferret dir | head -1`.
    let output = child.wait_with_output().unwrap();
    let run = Run::from(output);
    run.expect_code(0);
    assert!(run.stderr.is_empty(), "{run}");
}
