//! Keys inside archives (zip and what is built on it, gzip, tar, tar.gz, nested in each other)
//! and Jupyter notebooks, in `ferret dir` and in git history: reported at
//! `archive!entry` with the entry's line and column, and notebooks with their cell. Hostile
//! archives (a zip bomb, a nested bomb, archives nested deeper than the limit) are refused or
//! cut short with a warning, and the scan goes on.

use crate::support;

use std::io::Write;

use flate2::Compression;
use zip::write::SimpleFileOptions;

use support::git::Repo;
use support::{Tree, fingerprint, project_key};

/// A zip of `(name, contents)` entries, deflated.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, zip::CompressionMethod::Deflated)
}

fn zip_with(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, contents) in entries {
        zip.start_file(
            *name,
            SimpleFileOptions::default().compression_method(method),
        )
        .expect("zip entry");
        zip.write_all(contents).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

/// A gzip of `contents`, with `name` in its header if given.
fn gzip_of(contents: &[u8], name: Option<&str>) -> Vec<u8> {
    let builder = match name {
        Some(name) => flate2::GzBuilder::new().filename(name),
        None => flate2::GzBuilder::new(),
    };
    let mut gz = builder.write(Vec::new(), Compression::fast());
    gz.write_all(contents).expect("gzip write");
    gz.finish().expect("gzip")
}

/// A tar of `(path, contents)` entries.
fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, contents) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, *contents)
            .expect("tar entry");
    }
    tar.into_inner().expect("tar")
}

fn env_line(key: &str) -> Vec<u8> {
    format!("# settings\nOPENAI_API_KEY={key}\n").into_bytes()
}

#[test]
fn keys_in_every_kind_of_archive_are_found_at_their_entry() {
    let tree = Tree::new();
    let keys: Vec<String> = (0..8).map(|_| project_key()).collect();
    tree.write(
        "dist/app.zip",
        zip_of(&[
            ("README.md", b"nothing here\n"),
            ("config/.env", &env_line(&keys[0])),
        ]),
    );
    let inner = zip_of(&[("key.txt", &env_line(&keys[1]))]);
    tree.write(
        "lib/app.jar",
        zip_with(
            &[
                ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
                ("META-INF/inner.zip", &inner),
            ],
            zip::CompressionMethod::Stored,
        ),
    );
    tree.write(
        "logs/app.log.gz",
        gzip_of(&env_line(&keys[2]), Some("app.log")),
    );
    tree.write("logs/other.log.gz", gzip_of(&env_line(&keys[3]), None));
    let tar = tar_of(&[
        ("home/dev/notes.txt", b"nothing\n"),
        ("home/dev/.bashrc", &env_line(&keys[4])),
    ]);
    tree.write("backup.tar.gz", gzip_of(&tar, None));
    tree.write("plain.tar", tar_of(&[("a/b.env", &env_line(&keys[5]))]));
    let document = format!("<w:document><w:t>key {}</w:t></w:document>", keys[6]);
    tree.write(
        "report.docx",
        zip_of(&[("word/document.xml", document.as_bytes())]),
    );
    // A renamed archive is still opened: formats are told by their bytes.
    tree.write("data.bin", zip_of(&[("x/secret.env", &env_line(&keys[7]))]));

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    for key in &keys {
        run.expect_key_hidden(key);
    }
    let at = |i: usize| run.place_of(&keys[i]);
    let entry = |path: &str| Some(path.to_string());
    assert_eq!(
        at(0),
        (
            "dist/app.zip!config/.env".into(),
            2,
            16,
            entry("config/.env")
        )
    );
    assert_eq!(
        at(1),
        (
            "lib/app.jar!META-INF/inner.zip!key.txt".into(),
            2,
            16,
            entry("META-INF/inner.zip!key.txt")
        )
    );
    assert_eq!(
        at(2),
        ("logs/app.log.gz!app.log".into(), 2, 16, entry("app.log"))
    );
    assert_eq!(
        at(3),
        (
            "logs/other.log.gz!other.log".into(),
            2,
            16,
            entry("other.log")
        )
    );
    assert_eq!(
        at(4),
        (
            "backup.tar.gz!home/dev/.bashrc".into(),
            2,
            16,
            entry("home/dev/.bashrc")
        )
    );
    assert_eq!(at(5), ("plain.tar!a/b.env".into(), 2, 16, entry("a/b.env")));
    assert_eq!(at(6).0, "report.docx!word/document.xml");
    assert_eq!(at(7).0, "data.bin!x/secret.env");
    assert_eq!(
        run.stdout.lines().count(),
        keys.len(),
        "each key once: {run}"
    );
    assert!(!run.stderr.contains("warning"), "no warnings: {run}");

    // SARIF points at the archive (code scanning knows files), with no region, and names the
    // entry.
    let sarif = tree.ferret(&["dir", ".", "--format", "sarif"]);
    let result = sarif.json()["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["properties"]["fingerprint"] == fingerprint(&keys[0]).as_str())
        .cloned()
        .expect("a SARIF result for the zip's key");
    let physical = &result["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "dist/app.zip");
    assert!(physical.get("region").is_none(), "{physical}");
    assert_eq!(result["properties"]["entry"], "config/.env");

    // The text report shows the full path.
    let text = tree.ferret(&["dir", "dist", "--no-progress"]);
    assert!(text.stdout.contains("app.zip!config/.env:2:16"), "{text}");

    // Depth 0 leaves archives closed: a tar's bytes are still read raw, a deflated entry's
    // are not.
    let closed = tree.ferret(&["dir", ".", "--format", "jsonl", "--archive-depth", "0"]);
    let (path, _, _, entry) = closed.place_of(&keys[5]);
    assert_eq!((path.as_str(), entry), ("plain.tar", None));
    assert!(!closed.stdout.contains(&fingerprint(&keys[0])), "{closed}");

    // Depth 1 opens the jar, not the deflated zip inside it, and says so.
    let shallow = tree.ferret(&["dir", "lib", "--format", "jsonl", "--archive-depth", "1"]);
    shallow.expect_code(0);
    assert!(
        shallow
            .stderr
            .contains("app.jar!META-INF/inner.zip: archive nested more than 1 levels deep"),
        "{shallow}"
    );
}

#[test]
fn archives_in_history_a_range_and_the_index_are_opened() {
    let mut repo = Repo::new();
    repo.write("README.md", "hello\n");
    let base = repo.commit_all("start");
    let key = project_key();
    repo.write(
        "dist/bundle.zip",
        zip_of(&[("config/.env", &env_line(&key))]),
    );
    let added = repo.commit_all("add the bundle");
    repo.git(&["rm", "-q", "dist/bundle.zip"]);
    repo.commit_all("remove it");

    let history = repo.ferret(&["git", ".", "--format", "jsonl"]);
    history.expect_code(1);
    let record = history.record_of(&key);
    assert_eq!(record["path"], "dist/bundle.zip!config/.env");
    assert_eq!(record["entry"], "config/.env");
    assert_eq!(record["line"], 2);
    assert_eq!(record["commit"], added.as_str());

    let range = repo.ferret(&[
        "git",
        ".",
        "--range",
        &format!("{base}..HEAD"),
        "--format",
        "jsonl",
    ]);
    range.expect_code(1);
    assert_eq!(range.record_of(&key)["path"], "dist/bundle.zip!config/.env");

    // Staged: a new archive with a key is stopped; staging the same archive again (its key
    // already committed) is not.
    let staged_key = project_key();
    let archive = zip_of(&[("secrets/prod.env", &env_line(&staged_key))]);
    repo.write("release.zip", &archive);
    repo.git(&["add", "release.zip"]);
    let staged = repo.ferret(&["git", ".", "--staged", "--format", "jsonl"]);
    staged.expect_code(1);
    assert_eq!(
        staged.record_of(&staged_key)["path"],
        "release.zip!secrets/prod.env"
    );
    repo.commit_all("release");
    let touched = zip_of(&[
        ("secrets/prod.env", &env_line(&staged_key)),
        ("CHANGELOG", b"v2\n"),
    ]);
    repo.write("release.zip", &touched);
    repo.git(&["add", "release.zip"]);
    repo.ferret(&["git", ".", "--staged", "--format", "jsonl"])
        .expect_code(0);
}

#[test]
fn keys_in_notebooks_are_reported_with_their_cell() {
    let tree = Tree::new();
    let (in_source, in_output, in_zip) = (project_key(), project_key(), project_key());
    let notebook = |source_key: &str, output_key: &str| {
        serde_json::to_string_pretty(&serde_json::json!({
            "cells": [
                {"cell_type": "markdown", "metadata": {}, "source": ["# Calling the API\n"]},
                {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
                 "source": ["import openai\n", format!("openai.api_key = \"{source_key}\"\n")]},
                {"cell_type": "code", "execution_count": 2, "metadata": {},
                 "outputs": [{"name": "stdout", "output_type": "stream",
                              "text": [format!("key is {output_key}\n")]}],
                 "source": ["print(os.environ['OPENAI_API_KEY'])"]}
            ],
            "metadata": {"kernelspec": {"name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5
        }))
        .unwrap()
    };
    let text = notebook(&in_source, &in_output);
    tree.write("analysis.ipynb", &text);
    tree.write(
        "notebooks.zip",
        zip_of(&[("nb/explore.ipynb", notebook(&in_zip, "none").as_bytes())]),
    );

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let source = run.record_of(&in_source);
    assert_eq!(source["path"], "analysis.ipynb");
    assert_eq!(
        source["cell"],
        serde_json::json!({"index": 1, "part": "source"})
    );
    // Lines are the file's own.
    let line = text.lines().position(|l| l.contains(&in_source)).unwrap() as u64 + 1;
    assert_eq!(source["line"], line);
    let output = run.record_of(&in_output);
    assert_eq!(
        output["cell"],
        serde_json::json!({"index": 2, "part": "outputs"})
    );
    let zipped = run.record_of(&in_zip);
    assert_eq!(zipped["path"], "notebooks.zip!nb/explore.ipynb");
    assert_eq!(zipped["cell"]["index"], 1);

    let text_report = tree.ferret(&["dir", "analysis.ipynb", "--no-progress"]);
    assert!(
        text_report.stdout.contains("(cells[2].outputs)"),
        "{text_report}"
    );

    // In history, a notebook is told by its contents.
    let mut repo = Repo::new();
    repo.write("work/analysis.ipynb", &text);
    repo.commit_all("notebook");
    let history = repo.ferret(&["git", ".", "--format", "jsonl"]);
    assert_eq!(
        history.record_of(&in_output)["cell"],
        serde_json::json!({"index": 2, "part": "outputs"})
    );
}

#[test]
fn a_zip_bomb_is_refused_with_a_warning_and_the_scan_goes_on() {
    let tree = Tree::new();
    // 100 MB of zeros deflate to about 100 KB: the entry declares a 1000:1 ratio.
    let zeros = vec![0u8; 100 << 20];
    tree.write("bomb.zip", zip_of(&[("zeros.bin", &zeros)]));
    // A gzip carries no size: this one is found out while inflating (twice gzipped, the
    // outer file is tiny).
    tree.write(
        "bomb.gz.gz",
        gzip_of(&gzip_of(&zeros, Some("zeros.gz")), None),
    );
    // Ten zips of ten zips of 10 MB of zeros: each level is small, together they expand to
    // 1 GB.
    let ten_copies = |name: &str, contents: &[u8]| {
        let names: Vec<String> = (0..10).map(|i| format!("{i}-{name}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), contents)).collect();
        zip_with(&entries, zip::CompressionMethod::Stored)
    };
    let leaf = zip_of(&[("zeros.bin", &zeros[..10 << 20])]);
    let top = ten_copies("middle.zip", &ten_copies("leaf.zip", &leaf));
    tree.write("nested-bomb.zip", top);
    let key = project_key();
    tree.write("ok.env", env_line(&key));

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1).expect_no_panic();
    assert_eq!(run.record_of(&key)["path"], "ok.env");
    for refused in [
        "bomb.zip!zeros.bin: archive refused",
        "bomb.gz.gz",
        "nested-bomb.zip",
    ] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(refused) && l.contains("archive refused")),
            "{refused} refused: {run}"
        );
    }
}
