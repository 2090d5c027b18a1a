//! `ferret dir`: keys of every shape in every kind of file, token boundaries, which files the
//! walk visits (ignore files, `.git`, hidden files, symlinks, unreadable files), large inputs,
//! and the repository itself.

use crate::support;

use std::collections::BTreeSet;

use support::{Shape, Tree, locations_of, project_key, project_key_ending_in};

/// `(rule, path, line, column)` of one reported location.
type Place = (String, String, u64, u64);

fn place(rule: &str, path: &str, line: u64, column: u64) -> Place {
    (rule.to_string(), path.to_string(), line, column)
}

/// Line and column (1-based, in characters) where `key` starts in `text`.
fn position_in(text: &str, key: &str) -> (u64, u64) {
    let at = text.find(key).expect("key is in the text");
    let before = &text[..at];
    let line = before.matches('\n').count() as u64 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() as u64 + 1)
}

/// Writes `text` to `path` and returns where the report must place `key`.
fn write_with_key(tree: &Tree, rule: &str, path: &str, text: &str, key: &str) -> Place {
    tree.write(path, text);
    let (line, column) = position_in(text, key);
    place(rule, path, line, column)
}

#[test]
fn every_key_shape_is_found_in_env_yaml_json_and_source_files() {
    let tree = Tree::new();
    let mut expected: Vec<(String, BTreeSet<Place>)> = Vec::new();
    for (i, shape) in Shape::ALL.into_iter().enumerate() {
        let key = shape.key();
        let rule = shape.rule();
        let files = [
            (
                format!("config/{i}.env"),
                format!("# local settings\nDEBUG=1\nOPENAI_API_KEY={key}\n"),
            ),
            (
                format!("deploy/{i}.yaml"),
                format!("openai:\n  model: gpt-4o\n  api_key: \"{key}\"\n"),
            ),
            (
                format!("data/{i}.json"),
                format!("{{\"openai\": {{\"model\": \"gpt-4o\", \"key\": \"{key}\"}}}}"),
            ),
            (
                format!("src/app{i}.py"),
                format!("import openai\n\nclient = openai.OpenAI(api_key='{key}')\n"),
            ),
            (
                format!("web/client{i}.js"),
                format!("const client = new OpenAI({{\n  apiKey: \"{key}\",\n}});\n"),
            ),
        ];
        let places = files
            .iter()
            .map(|(path, text)| write_with_key(&tree, rule, path, text, &key))
            .collect();
        expected.push((key, places));
    }

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    for (key, places) in &expected {
        let found: BTreeSet<Place> = locations_of(&records, key).into_iter().collect();
        assert_eq!(&found, places, "{run}");
    }
    assert_eq!(records.len(), 5 * Shape::ALL.len(), "{run}");

    // A few positions written out, so the oracle above is checked too.
    let legacy = &expected[0].0;
    let found = locations_of(&records, legacy);
    assert!(found.contains(&place("openai-legacy-key", "config/0.env", 3, 16)));
    assert!(found.contains(&place("openai-legacy-key", "deploy/0.yaml", 3, 13)));
    assert!(found.contains(&place("openai-legacy-key", "data/0.json", 1, 40)));
    assert!(found.contains(&place("openai-legacy-key", "src/app0.py", 3, 33)));
    assert!(found.contains(&place("openai-legacy-key", "web/client0.js", 2, 12)));
}

#[test]
fn keys_in_notebooks_dockerfiles_shell_history_and_binaries_are_found() {
    let tree = Tree::new();
    let in_notebook = project_key();
    let in_notebook_output = Shape::ServiceAccount74.key();
    let in_dockerfile = Shape::Admin.key();
    let in_dockerfile_legacy_env = Shape::Legacy.key();
    let in_history = Shape::NoProject.key();
    let in_binary = Shape::Project58.key();

    // Notebook source lines are JSON strings: the key sits behind `\\n` (an escaped backslash
    // and `n`, i.e. a `\n` in the Python source) and before `\")`.
    let notebook = format!(
        concat!(
            "{{\n",
            " \"cells\": [\n",
            "  {{\n",
            "   \"cell_type\": \"code\",\n",
            "   \"outputs\": [{{\"name\": \"stdout\", \"text\": [\"{out}\\n\"]}}],\n",
            "   \"source\": [\n",
            "    \"import openai\\n\",\n",
            "    \"print(\\\"\\\\n{key}\\\")\"\n",
            "   ]\n",
            "  }}\n",
            " ]\n",
            "}}\n"
        ),
        key = in_notebook,
        out = in_notebook_output,
    );
    tree.write("analysis.ipynb", &notebook);

    tree.write(
        "Dockerfile",
        format!(
            "FROM python:3.12-slim\nENV OPENAI_ADMIN_KEY={in_dockerfile}\n\
             ENV OPENAI_API_KEY {in_dockerfile_legacy_env}\nCMD [\"python\", \"app.py\"]\n"
        ),
    );
    tree.write(
        "home/.bash_history",
        format!(
            "ls -la\nexport OPENAI_API_KEY={in_history}\n\
             curl https://api.openai.com/v1/models -H \"Authorization: Bearer {in_history}\"\n"
        ),
    );

    // A binary file: random bytes, NUL, the key, NUL, random bytes.
    let mut binary: Vec<u8> = (0..4096).map(|_| fastrand::u8(..)).collect();
    binary.push(0);
    let key_offset = binary.len();
    binary.extend_from_slice(in_binary.as_bytes());
    binary.push(0);
    binary.extend((0..4096).map(|_| fastrand::u8(..)));
    tree.write("lib/model.bin", &binary);
    let binary_line = binary[..key_offset].iter().filter(|&&b| b == b'\n').count() as u64 + 1;

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(
        locations_of(&records, &in_notebook),
        [place("openai-project-key", "analysis.ipynb", 8, 17)],
        "{run}"
    );
    assert_eq!(
        locations_of(&records, &in_notebook_output),
        [place("openai-service-account-key", "analysis.ipynb", 5, 45)],
        "{run}"
    );
    assert_eq!(
        locations_of(&records, &in_dockerfile),
        [place("openai-admin-key", "Dockerfile", 2, 22)],
        "{run}"
    );
    assert_eq!(
        locations_of(&records, &in_dockerfile_legacy_env),
        [place("openai-legacy-key", "Dockerfile", 3, 20)],
        "{run}"
    );
    assert_eq!(
        locations_of(&records, &in_history),
        [
            place("openai-no-project-key", "home/.bash_history", 2, 23),
            place("openai-no-project-key", "home/.bash_history", 3, 65),
        ],
        "{run}"
    );
    let binary_found = locations_of(&records, &in_binary);
    assert_eq!(binary_found.len(), 1, "{run}");
    assert_eq!(
        (
            &binary_found[0].0[..],
            &binary_found[0].1[..],
            binary_found[0].2
        ),
        ("openai-project-key", "lib/model.bin", binary_line),
        "{run}"
    );
    assert_eq!(records.len(), 7, "{run}");
}

#[test]
fn crlf_lines_and_invalid_utf8_around_keys_give_exact_lines_and_character_columns() {
    let tree = Tree::new();
    let crlf = project_key();
    let after_invalid = Shape::Legacy.key();
    let before_invalid = Shape::ServiceAccount46.key();
    let after_multibyte = Shape::Admin.key();
    let after_stray_continuation = Shape::Project20.key();

    tree.write(
        "windows.env",
        format!("A=1\r\nB=2\r\nOPENAI_API_KEY={crlf}\r\nC=3\r\n"),
    );
    let mut bytes = b"header\n".to_vec();
    // Invalid UTF-8 right before a key and right after another: each byte is one column.
    bytes.extend_from_slice(b"\xff\xfe");
    bytes.extend_from_slice(after_invalid.as_bytes());
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(before_invalid.as_bytes());
    bytes.extend_from_slice(b"\xff\xc0\n");
    // `é` and `€` are one character each, however many bytes.
    bytes.extend_from_slice("é€=".as_bytes());
    bytes.extend_from_slice(after_multibyte.as_bytes());
    bytes.extend_from_slice(b"\n");
    // A continuation byte with no lead byte is invalid on its own: one column too.
    bytes.extend_from_slice(b"\x80\x80=");
    bytes.extend_from_slice(after_stray_continuation.as_bytes());
    bytes.extend_from_slice(b"\n");
    tree.write("mixed.txt", &bytes);

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    let expectations = [
        (&crlf, place("openai-project-key", "windows.env", 3, 16)),
        (
            &after_invalid,
            place("openai-legacy-key", "mixed.txt", 2, 3),
        ),
        (
            &before_invalid,
            place("openai-service-account-key", "mixed.txt", 3, 1),
        ),
        (
            &after_multibyte,
            place("openai-admin-key", "mixed.txt", 4, 4),
        ),
        (
            &after_stray_continuation,
            place("openai-project-key", "mixed.txt", 5, 4),
        ),
    ];
    for (key, expected) in expectations {
        assert_eq!(locations_of(&records, key), [expected], "{run}");
    }
    assert_eq!(records.len(), 5, "{run}");
}

#[test]
fn keys_are_reported_whole_between_every_kind_of_delimiter() {
    let tree = Tree::new();
    let keys: Vec<(String, &str)> = vec![
        (Shape::Legacy.key(), "openai-legacy-key"),
        (project_key(), "openai-project-key"),
        (Shape::ServiceAccount74.key(), "openai-service-account-key"),
        (project_key(), "openai-project-key"),
        (Shape::NoProject.key(), "openai-no-project-key"),
        (project_key(), "openai-project-key"),
        (project_key_ending_in('-'), "openai-project-key"),
        (project_key_ending_in('_'), "openai-project-key"),
        (Shape::Admin.key(), "openai-admin-key"),
        (project_key_ending_in('-'), "openai-project-key"),
    ];
    let lines = [
        // Followed by a comma.
        format!("keys = {},{}", keys[0].0, "other"),
        // Followed by `&` in a query string.
        format!("https://example.test/?key={}&next=1", keys[1].0),
        // Inside an escaped JSON string: followed by `\"`.
        format!("{{\\\"key\\\":\\\"{}\\\"}}", keys[2].0),
        // Followed by NUL.
        format!("{}\0tail", keys[3].0),
        // Percent-encoded: after `%3D`, before `%26`.
        format!("q=api_key%3D{}%26x%3D1", keys[4].0),
        // After a JSON `\n` escape.
        format!("{{\"log\": \"started\\n{}\"}}", keys[5].0),
        // Ending in `-`, followed by `&`.
        format!("url?key={}&next=1", keys[6].0),
        // Ending in `_`, followed by `"`.
        format!("keys = [\"{}\",\"b\"]", keys[7].0),
        // Single-quoted.
        format!("token:'{}',", keys[8].0),
    ];
    // The last key ends in `-` and the file: no newline after it.
    let text = format!("{}\nlast={}", lines.join("\n"), keys[9].0);
    tree.write("boundaries.txt", &text);

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    for (key, rule) in &keys {
        let (line, column) = position_in(&text, key);
        assert_eq!(
            locations_of(&records, key),
            [place(rule, "boundaries.txt", line, column)],
            "key on line {line} not reported whole and once; {run}"
        );
    }
    assert_eq!(records.len(), keys.len(), "{run}");
    assert_eq!(
        locations_of(&records, &keys[4].0),
        [place("openai-no-project-key", "boundaries.txt", 5, 13)]
    );
}

/// A tree with a key in a gitignored `.env`, one in a tracked file, one in a hidden file and
/// two inside `.git` directories; returns the tree and those keys in that order.
fn tree_with_ignored_and_git_files() -> (Tree, [String; 5]) {
    let tree = Tree::new();
    let keys = [
        project_key(),
        Shape::Legacy.key(),
        Shape::ServiceAccount74.key(),
        Shape::Admin.key(),
        Shape::NoProject.key(),
    ];
    tree.write(".gitignore", "*.env\n/build/\n");
    tree.write("secrets.env", format!("OPENAI_API_KEY={}\n", keys[0]));
    tree.write("src/main.py", format!("KEY = \"{}\"\n", keys[1]));
    tree.write(".config/.hidden", format!("key: {}\n", keys[2]));
    tree.write(".git/config", format!("[remote]\n\ttoken = {}\n", keys[3]));
    tree.write(
        "vendor/lib/.git/objects/pack/notes",
        format!("{}\n", keys[4]),
    );
    (tree, keys)
}

#[test]
fn ignored_and_hidden_files_are_scanned_by_default_but_git_internals_never() {
    let (tree, keys) = tree_with_ignored_and_git_files();
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(
        locations_of(&records, &keys[0]),
        [place("openai-project-key", "secrets.env", 1, 16)],
        "{run}"
    );
    assert_eq!(locations_of(&records, &keys[1]).len(), 1, "{run}");
    assert_eq!(
        locations_of(&records, &keys[2]),
        [place("openai-service-account-key", ".config/.hidden", 1, 6)],
        "{run}"
    );
    assert!(locations_of(&records, &keys[3]).is_empty(), "{run}");
    assert!(locations_of(&records, &keys[4]).is_empty(), "{run}");
    assert_eq!(records.len(), 3, "{run}");
}

#[test]
fn gitignore_flag_skips_ignored_files_but_not_hidden_ones() {
    let (tree, keys) = tree_with_ignored_and_git_files();
    let run = tree.ferret(&["dir", ".", "--gitignore", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert!(locations_of(&records, &keys[0]).is_empty(), "{run}");
    assert_eq!(locations_of(&records, &keys[1]).len(), 1, "{run}");
    assert_eq!(locations_of(&records, &keys[2]).len(), 1, "{run}");
    assert_eq!(records.len(), 2, "{run}");

    // Only ignored files held keys: nothing left to report.
    let clean = Tree::new();
    clean.write(".gitignore", "local/\n");
    clean.write("local/settings.yaml", format!("key: {}\n", keys[0]));
    clean.write("README.md", "nothing here\n");
    let run = clean.ferret(&["dir", ".", "--gitignore", "--format", "jsonl"]);
    run.expect_code(0);
    assert!(run.records().is_empty(), "{run}");
}

#[test]
fn several_roots_and_a_single_file_root_are_scanned() {
    let tree = Tree::new();
    let (a, b, c) = (project_key(), Shape::Legacy.key(), Shape::Admin.key());
    tree.write("one/a.env", format!("K={a}\n"));
    tree.write("two/b.env", format!("K={b}\n"));
    tree.write("three/c.env", format!("K={c}\n"));
    let run = tree.ferret(&["dir", "one", "two", "three/c.env", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(locations_of(&records, &a)[0].1, "one/a.env", "{run}");
    assert_eq!(locations_of(&records, &b)[0].1, "two/b.env", "{run}");
    assert_eq!(locations_of(&records, &c)[0].1, "three/c.env", "{run}");
    assert_eq!(records.len(), 3, "{run}");
}

#[cfg(unix)]
#[test]
fn symlink_loops_terminate_and_report_the_real_file_once() {
    use std::os::unix::fs::symlink;

    let tree = Tree::new();
    let key = project_key();
    tree.write("sub/app.env", format!("OPENAI_API_KEY={key}\n"));
    symlink("..", tree.join("sub/parent")).unwrap();
    symlink(".", tree.join("sub/self")).unwrap();
    symlink("does-not-exist.env", tree.join("dangling.env")).unwrap();

    for follow in [false, true] {
        let mut args = vec!["dir", ".", "--format", "jsonl"];
        if follow {
            args.push("--follow-links");
        }
        let run = tree.ferret(&args);
        run.expect_code(1);
        assert_eq!(
            locations_of(&run.records(), &key),
            [place("openai-project-key", "sub/app.env", 1, 16)],
            "follow links: {follow}; {run}"
        );
        assert_eq!(run.records().len(), 1, "follow links: {follow}; {run}");
    }
}

#[cfg(unix)]
#[test]
fn a_broken_symlink_is_not_an_error() {
    use std::os::unix::fs::symlink;

    let tree = Tree::new();
    tree.write("notes.txt", "nothing secret\n");
    symlink("gone.env", tree.join("dangling.env")).unwrap();
    for args in [
        &["dir", ".", "--format", "jsonl"][..],
        &["dir", ".", "--format", "jsonl", "--follow-links"][..],
    ] {
        let run = tree.ferret(args);
        run.expect_code(0);
        assert!(run.records().is_empty(), "{run}");
    }
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_a_warning_and_the_exit_code_still_follows_findings() {
    use std::os::unix::fs::PermissionsExt;

    let tree = Tree::new();
    let (locked_key, open_key) = (project_key(), Shape::Legacy.key());
    let locked = tree.write("locked.env", format!("K={locked_key}\n"));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root (and CAP_DAC_OVERRIDE) reads files whatever their mode: then there is nothing to
    // warn about.
    let can_read_anyway = std::fs::File::open(&locked).is_ok();

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(if can_read_anyway { 1 } else { 0 });
    if !can_read_anyway {
        assert!(run.records().is_empty(), "{run}");
        assert!(
            run.stderr.contains("warning") && run.stderr.contains("locked.env"),
            "{run}"
        );
    }

    tree.write("open.env", format!("K={open_key}\n"));
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(locations_of(&run.records(), &open_key).len(), 1, "{run}");
    if !can_read_anyway {
        assert_eq!(run.records().len(), 1, "{run}");
        assert!(run.stderr.contains("locked.env"), "{run}");
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[cfg(unix)]
#[test]
fn a_fifo_is_skipped_not_read() {
    let tree = Tree::new();
    let key = project_key();
    tree.write("app.env", format!("K={key}\n"));
    let made = std::process::Command::new("mkfifo")
        .arg(tree.join("pipe"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer comes: a scan that tried would hang.
    for follow in [&[][..], &["--follow-links"][..]] {
        let mut args = vec!["dir", ".", "--format", "jsonl", "--threads", "1"];
        args.extend_from_slice(follow);
        let run = tree.ferret(&args);
        run.expect_code(1);
        assert_eq!(locations_of(&run.records(), &key).len(), 1, "{run}");
        assert!(run.stderr.contains("pipe"), "{run}");
    }
}

#[test]
fn a_large_file_and_a_five_megabyte_line_give_the_right_lines() {
    let tree = Tree::new();
    let (in_long_line, near_end) = (project_key(), Shape::ServiceAccount74.key());
    let mut text = String::with_capacity(21 << 20);
    let mut line = 1u64;
    while text.len() < 8 << 20 {
        text.push_str(&format!(
            "{line:08} INFO request handled in 12ms path=/v1/models\n"
        ));
        line += 1;
    }
    // One 5 MB line with the key deep inside it.
    let long_line_number = line;
    let filler = "lorem,ipsum;";
    let repeats = (4 << 20) / filler.len();
    let column = (filler.len() * repeats) as u64 + 1;
    text.push_str(&filler.repeat(repeats));
    text.push_str(&in_long_line);
    text.push(';');
    text.push_str(&filler.repeat((1 << 20) / filler.len()));
    text.push('\n');
    line += 1;
    while text.len() < 20 << 20 {
        text.push_str(&format!(
            "{line:08} INFO request handled in 12ms path=/v1/models\n"
        ));
        line += 1;
    }
    // Near the end: two more lines follow the key.
    let near_end_line = line;
    text.push_str(&format!("{line:08} ERROR auth failed for {near_end}\n"));
    for line in line + 1..line + 3 {
        text.push_str(&format!(
            "{line:08} INFO request handled in 12ms path=/v1/models\n"
        ));
    }
    tree.write("big.log", &text);

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(
        locations_of(&records, &in_long_line),
        [place(
            "openai-project-key",
            "big.log",
            long_line_number,
            column
        )],
        "{run}"
    );
    assert_eq!(
        locations_of(&records, &near_end),
        [place(
            "openai-service-account-key",
            "big.log",
            near_end_line,
            32
        )],
        "{run}"
    );
    assert_eq!(records.len(), 2, "{run}");
}

#[test]
fn the_repository_itself_holds_no_key() {
    // Build output is gitignored; everything committed (and everything about to be) is scanned.
    let run = support::ferret_in(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &["dir", ".", "--gitignore", "--format", "jsonl"],
    );
    run.expect_code(0);
    assert!(run.records().is_empty(), "{run}");
}

#[cfg(unix)]
#[test]
fn a_file_reached_through_symlinks_is_reported_once_under_its_own_path() {
    use std::os::unix::fs::symlink;

    let tree = Tree::new();
    let key = project_key();
    tree.write("config/real.env", format!("OPENAI_API_KEY={key}\n"));
    symlink("config/real.env", tree.join("alias.env")).unwrap();
    symlink("config", tree.join("config-link")).unwrap();
    let outside = Tree::new();
    let elsewhere = project_key();
    outside.write("shared.env", format!("KEY={elsewhere}\n"));
    symlink(outside.join("shared.env"), tree.join("linked-in.env")).unwrap();

    let run = tree.ferret(&["dir", ".", "--format", "jsonl", "--follow-links"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(
        locations_of(&records, &key),
        [place("openai-project-key", "config/real.env", 1, 16)],
        "{run}"
    );
    // A file only reachable through a link is scanned under the link's path.
    assert_eq!(
        locations_of(&records, &elsewhere),
        [place("openai-project-key", "linked-in.env", 1, 5)],
        "{run}"
    );
}
