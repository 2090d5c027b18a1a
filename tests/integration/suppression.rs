//! Suppression: the inline `ferret:allow` marker, `.ferretignore` fingerprints, the
//! `.ferret.toml` allowlist (path globs, secret regexes, fingerprints) and `--baseline` from an
//! earlier JSON or JSONL report. Each drops exactly what it names: an unrelated key in the same
//! tree is still reported.

use crate::support;

use support::{Shape, Tree, fingerprint, locations_of, project_key};

/// Runs a JSONL scan of `tree` with `extra` arguments and returns the fingerprints reported,
/// asserting the exit code.
fn reported(tree: &Tree, extra: &[&str], code: i32) -> Vec<String> {
    let mut args = vec!["dir", ".", "--format", "jsonl"];
    args.extend_from_slice(extra);
    let run = tree.ferret(&args);
    run.expect_code(code);
    run.records().into_iter().map(|r| r.fingerprint).collect()
}

#[test]
fn inline_allow_marker_drops_only_the_findings_on_its_line() {
    let tree = Tree::new();
    let (allowed, reported_key) = (project_key(), Shape::Legacy.key());
    tree.write(
        "tests/fixtures.py",
        format!(
            "TEST_KEY = \"{allowed}\"  # ferret:allow (revoked test key)\n\
             REAL_KEY = \"{reported_key}\"\n"
        ),
    );
    tree.write(
        "docs/setup.md",
        format!("<!-- ferret:allow -->\n`{allowed}`\n"),
    );
    // The marker applies to its line only: the same key on the next line of the markdown file
    // is still reported.
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(
        locations_of(&records, &allowed),
        [(
            "openai-project-key".to_string(),
            "docs/setup.md".to_string(),
            2,
            2
        )],
        "{run}"
    );
    assert_eq!(locations_of(&records, &reported_key).len(), 1, "{run}");

    // Only marked lines left: nothing to report.
    tree.write(
        "docs/setup.md",
        format!("`{allowed}` <!-- ferret:allow -->\n"),
    );
    tree.write(
        "tests/fixtures.py",
        format!("K = '{allowed}' # ferret:allow\n"),
    );
    assert!(reported(&tree, &[], 0).is_empty());
}

#[test]
fn ferretignore_fingerprints_drop_those_keys_everywhere() {
    let tree = Tree::new();
    let (ignored, other) = (project_key(), Shape::Admin.key());
    tree.write("a.env", format!("K={ignored}\n"));
    tree.write("b/c.yaml", format!("k: {ignored}\nadmin: {other}\n"));
    tree.write(
        ".ferretignore",
        format!(
            "# accepted: revoked on 2024-05-01\n{}  # the old staging key\n\n",
            fingerprint(&ignored).to_uppercase()
        ),
    );
    assert_eq!(reported(&tree, &[], 1), [fingerprint(&other)]);

    tree.write(
        ".ferretignore",
        format!("{}\n{}\n", fingerprint(&ignored), fingerprint(&other)),
    );
    assert!(reported(&tree, &[], 0).is_empty());
}

#[test]
fn config_allowlist_paths_regexes_and_fingerprints() {
    let tree = Tree::new();
    let in_fixtures = project_key();
    let in_markdown = Shape::Legacy.key();
    let service = Shape::ServiceAccount74.key();
    let by_fingerprint = Shape::NoProject.key();
    let reported_key = Shape::Admin.key();
    tree.write("tests/fixtures/keys.json", format!("[\"{in_fixtures}\"]\n"));
    tree.write("docs/guide/setup.md", format!("Use `{in_markdown}`.\n"));
    tree.write("deploy/worker.env", format!("KEY={service}\n"));
    tree.write("deploy/old.env", format!("KEY={by_fingerprint}\n"));
    tree.write(
        "src/main.rs",
        format!("const KEY: &str = \"{reported_key}\";\n"),
    );
    tree.write(
        ".ferret.toml",
        format!(
            "[allowlist]\n\
             paths = [\"tests/fixtures/**\", \"*.md\"]\n\
             regexes = ['^sk-svcacct-']\n\
             fingerprints = [\"{}\"]\n",
            fingerprint(&by_fingerprint)
        ),
    );
    assert_eq!(reported(&tree, &[], 1), [fingerprint(&reported_key)]);

    // The same file named with --config from elsewhere works the same way.
    let elsewhere = Tree::new();
    let config = elsewhere.write(
        "ferret.toml",
        std::fs::read_to_string(tree.join(".ferret.toml")).unwrap(),
    );
    std::fs::remove_file(tree.join(".ferret.toml")).unwrap();
    assert_eq!(reported(&tree, &[], 1).len(), 5);
    assert_eq!(
        reported(&tree, &["--config", config.to_str().unwrap()], 1),
        [fingerprint(&reported_key)]
    );
}

#[test]
fn baseline_from_an_earlier_jsonl_or_json_report_drops_known_keys() {
    for format in ["jsonl", "json"] {
        let tree = Tree::new();
        let reports = Tree::new();
        let (known, known_elsewhere, new) =
            (project_key(), Shape::Legacy.key(), Shape::Admin.key());
        tree.write("app.env", format!("K={known}\nL={known_elsewhere}\n"));
        let baseline = reports.join(&format!("baseline.{format}"));
        let run = tree.ferret(&["dir", ".", "-o", baseline.to_str().unwrap()]);
        run.expect_code(1);

        // Later: the known keys moved to another file, and a new key appeared.
        std::fs::remove_file(tree.join("app.env")).unwrap();
        tree.write(
            "config/app.yaml",
            format!("k: {known}\nl: {known_elsewhere}\n"),
        );
        tree.write("src/new.py", format!("KEY = '{new}'\n"));
        assert_eq!(
            reported(&tree, &["--baseline", baseline.to_str().unwrap()], 1),
            [fingerprint(&new)],
            "{format} baseline"
        );

        std::fs::remove_file(tree.join("src/new.py")).unwrap();
        assert!(
            reported(&tree, &["--baseline", baseline.to_str().unwrap()], 0).is_empty(),
            "{format} baseline"
        );
    }
}

#[test]
fn streams_honour_the_allowlist_and_the_baseline() {
    let tree = Tree::new();
    let (marked, in_baseline, reported_key) =
        (project_key(), Shape::Legacy.key(), Shape::Admin.key());
    tree.write(
        "baseline.jsonl",
        format!(
            "{{\"rule\":\"openai-legacy-key\",\"fingerprint\":\"{}\",\"path\":\"x\",\"line\":1,\"column\":1}}\n",
            fingerprint(&in_baseline)
        ),
    );
    let input = format!("a {marked} # ferret:allow\nb {in_baseline}\nc {reported_key}\n");
    let output = support::ferret_command()
        .args(["stdin", "--format", "jsonl", "--baseline", "baseline.jsonl"])
        .current_dir(tree.path())
        .write_stdin(input.clone())
        .output()
        .unwrap();
    let run = support::Run::from(output);
    run.expect_code(1);
    let found: Vec<_> = run
        .records()
        .into_iter()
        .map(|r| (r.fingerprint, r.line))
        .collect();
    assert_eq!(found, [(fingerprint(&reported_key), 3)], "{run}");

    tree.write(".ferretignore", format!("{}\n", fingerprint(&reported_key)));
    let output = support::ferret_command()
        .args(["stdin", "--format", "jsonl", "--baseline", "baseline.jsonl"])
        .current_dir(tree.path())
        .write_stdin(input)
        .output()
        .unwrap();
    let run = support::Run::from(output);
    run.expect_code(0);
    assert!(run.records().is_empty(), "{run}");
}
