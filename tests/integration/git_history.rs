//! `ferret git`: whole history, attribution, `--unreachable`, `--range` and `--staged`, on
//! real repositories built with the git CLI.

use crate::support;

use support::git::Repo;
use support::{Record, Shape, fingerprint, project_key};

/// Records of `key` in a JSONL run.
fn of_key(records: &[Record], key: &str) -> Vec<Record> {
    let fp = fingerprint(key);
    records
        .iter()
        .filter(|r| r.fingerprint == fp)
        .cloned()
        .collect()
}

#[test]
fn key_added_then_deleted_is_attributed_to_the_commit_that_added_it() {
    let mut repo = Repo::new();
    repo.write("README.md", "hello\n");
    repo.commit_all("init");
    let key = project_key();
    repo.write("config/.env", format!("# settings\nOPENAI_API_KEY={key}\n"));
    let added = repo.commit_all("add settings");
    repo.git(&["rm", "-q", "config/.env"]);
    repo.commit_all("remove settings");

    for packed in [false, true] {
        if packed {
            repo.git(&["gc", "-q"]);
        }
        let run = repo.ferret(&["git", ".", "--format", "jsonl"]);
        run.expect_code(1).expect_key_hidden(&key);
        let found = of_key(&run.records(), &key);
        assert_eq!(found.len(), 1, "packed {packed}: {found:?}");
        let record = &found[0];
        assert_eq!(record.rule, "openai-project-key");
        assert_eq!(
            (record.path.as_str(), record.line, record.column),
            ("config/.env", 2, 16)
        );
        assert_eq!(record.commit.as_deref(), Some(added.as_str()));
        assert_eq!(
            record.author.as_deref(),
            Some("Ada Lovelace <ada@example.com>")
        );
        assert_eq!(record.date.as_deref(), Some("2024-01-01T00:02:00+00:00"));
    }
}

#[test]
fn keys_only_on_a_side_branch_or_only_in_a_tag_are_found() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.commit_all("init");
    let on_branch = project_key();
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("side.py", format!("key = '{on_branch}'\n"));
    let branch_commit = repo.commit_all("side work");
    repo.git(&["checkout", "-q", "main"]);

    // A commit reachable only through a tag: its branch is deleted.
    let in_tag = Shape::Legacy.key();
    repo.git(&["checkout", "-q", "-b", "release-tmp"]);
    repo.write("release.env", format!("KEY={in_tag}\n"));
    let tag_commit = repo.commit_all("release");
    repo.git(&["tag", "v1.0"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["branch", "-q", "-D", "release-tmp"]);

    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    let branch = of_key(&records, &on_branch);
    assert_eq!(branch.len(), 1, "{records:?}");
    assert_eq!(branch[0].path, "side.py");
    assert_eq!(branch[0].commit.as_deref(), Some(branch_commit.as_str()));
    assert_eq!(branch[0].refs, ["refs/heads/side"]);
    let tagged = of_key(&records, &in_tag);
    assert_eq!(tagged.len(), 1, "{records:?}");
    assert_eq!(tagged[0].rule, "openai-legacy-key");
    assert_eq!(tagged[0].commit.as_deref(), Some(tag_commit.as_str()));
    assert_eq!(tagged[0].refs, ["refs/tags/v1.0"]);
}

#[test]
fn keys_in_commit_and_tag_messages_are_found() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    let in_commit = project_key();
    let commit = repo.commit_all(&format!("debugging with {in_commit}"));
    let in_tag = Shape::Admin.key();
    repo.git(&["tag", "-a", "v2", "-m", &format!("release notes: {in_tag}")]);

    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1).expect_key_hidden(&in_commit);
    let records = run.records();
    let message = of_key(&records, &in_commit);
    assert_eq!(message.len(), 1, "{records:?}");
    assert_eq!(message[0].path, "(commit message)");
    assert_eq!(message[0].commit.as_deref(), Some(commit.as_str()));
    let tag = of_key(&records, &in_tag);
    assert_eq!(tag.len(), 1, "{records:?}");
    assert!(tag[0].path.contains("v2"), "{:?}", tag[0]);
}

#[test]
fn dangling_commits_need_unreachable() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.commit_all("init");
    let key = project_key();
    repo.write("secret.env", format!("KEY={key}\n"));
    let lost = repo.commit_all("oops");
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    repo.git(&["reflog", "expire", "--expire=now", "--all"]);

    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(0);
    assert!(of_key(&run.records(), &key).is_empty(), "{run}");

    let run = repo.ferret(&["git", "--unreachable", "--format", "jsonl"]);
    run.expect_code(1);
    let found = of_key(&run.records(), &key);
    assert_eq!(found.len(), 1, "{run}");
    assert_eq!(found[0].path, "secret.env");
    assert_eq!(found[0].commit.as_deref(), Some(lost.as_str()));
}

#[test]
fn same_key_in_many_commits_is_one_fingerprint_attributed_to_the_oldest() {
    let mut repo = Repo::new();
    let key = project_key();
    repo.write("app.py", format!("KEY = '{key}'\n"));
    let first = repo.commit_all("first");
    for i in 0..5 {
        repo.write("app.py", format!("# v{i}\nKEY = '{key}'\n"));
        repo.commit_all(&format!("edit {i}"));
    }
    let run = repo.ferret(&["git", "--format", "json"]);
    run.expect_code(1);
    let records: Vec<Record> = serde_json::from_value(run.json()).expect("report records");
    let fingerprints: std::collections::HashSet<_> =
        records.iter().map(|r| r.fingerprint.clone()).collect();
    assert_eq!(fingerprints.len(), 1, "{records:?}");
    let oldest = records
        .iter()
        .find(|r| r.line == 1)
        .expect("the first version has the key on line 1");
    assert_eq!(oldest.commit.as_deref(), Some(first.as_str()));
}

#[test]
fn key_brought_in_by_a_merge_is_attributed_to_the_branch_commit() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.commit_all("init");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let key = project_key();
    repo.write("feature.env", format!("KEY={key}\n"));
    let feature = repo.commit_all("feature");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("b.txt", "b\n");
    repo.commit_all("main moves on");
    repo.git(&["merge", "-q", "--no-ff", "feature", "-m", "merge feature"]);
    repo.git(&["branch", "-q", "-D", "feature"]);

    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    let found = of_key(&run.records(), &key);
    assert_eq!(found.len(), 1, "{run}");
    assert_eq!(found[0].commit.as_deref(), Some(feature.as_str()));
    assert_eq!(found[0].refs, ["HEAD", "refs/heads/main"]);
}

#[test]
fn key_near_the_end_of_a_large_blob_is_found_with_its_line() {
    let mut repo = Repo::new();
    let key = project_key();
    let mut big = String::new();
    for i in 0..200_000 {
        big.push_str(&format!("line {i} of a generated data file\n"));
    }
    big.push_str(&format!("token={key}\n"));
    repo.write("data/big.txt", &big);
    repo.commit_all("big data");
    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    let found = of_key(&run.records(), &key);
    assert_eq!(found.len(), 1, "{run}");
    assert_eq!(
        (found[0].path.as_str(), found[0].line),
        ("data/big.txt", 200_001)
    );
}

#[test]
fn range_scans_only_what_the_branch_introduces() {
    let mut repo = Repo::new();
    let old_key = project_key();
    repo.write("old.env", format!("KEY={old_key}\n"));
    repo.commit_all("old key on main");
    let base = repo.head();
    repo.git(&["checkout", "-q", "-b", "pr"]);
    let new_key = Shape::ServiceAccount74.key();
    repo.write("old.env", format!("KEY={old_key}\nOTHER=1\n"));
    repo.write("src/new.js", format!("const k = \"{new_key}\";\n"));
    let pr_commit = repo.commit_all("pr work");
    repo.write("README.md", "docs\n");
    let head = repo.commit_all("docs");

    let run = repo.ferret(&[
        "git",
        "--range",
        &format!("{base}..{head}"),
        "--format",
        "jsonl",
    ]);
    run.expect_code(1);
    let records = run.records();
    let new = of_key(&records, &new_key);
    assert_eq!(new.len(), 1, "{records:?}");
    assert_eq!(new[0].path, "src/new.js");
    assert_eq!(new[0].commit.as_deref(), Some(pr_commit.as_str()));
    // The edited old.env is a new blob holding the old key: the range does bring that blob in.
    // What the range must not report is a file it did not touch.
    assert!(records.iter().all(|r| r.path != "README.md"), "{records:?}");

    let run = repo.ferret(&["git", "--range", "main..pr", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(of_key(&run.records(), &new_key).len(), 1);
}

#[test]
fn range_ignores_the_base_branch_merged_into_the_pull_request() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.commit_all("init");
    repo.git(&["checkout", "-q", "-b", "pr"]);
    repo.write("pr.txt", "clean\n");
    repo.commit_all("pr");
    repo.git(&["checkout", "-q", "main"]);
    let main_key = project_key();
    repo.write("main.env", format!("KEY={main_key}\n"));
    repo.commit_all("main gets a key");
    let base = repo.head();
    repo.git(&["checkout", "-q", "pr"]);
    repo.git(&["merge", "-q", "--no-ff", "main", "-m", "update from main"]);
    let run = repo.ferret(&[
        "git",
        "--range",
        &format!("{base}..pr"),
        "--format",
        "jsonl",
    ]);
    run.expect_code(0);
    assert!(run.records().is_empty(), "{run}");
}

#[test]
fn empty_range_is_a_clean_exit_and_missing_base_a_clear_error() {
    let mut repo = Repo::new();
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("init");
    let run = repo.ferret(&["git", "--range", &format!("{head}..{head}")]);
    run.expect_code(0);
    assert!(run.stderr.contains("empty"), "{run}");

    let missing = "0123456789abcdef0123456789abcdef01234567";
    let run = repo.ferret(&["git", "--range", &format!("{missing}..HEAD")]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(missing) && run.stderr.contains("fetch-depth"),
        "{run}"
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{run}");
}

#[test]
fn staged_reports_only_added_lines_of_the_index() {
    let mut repo = Repo::new();
    let old_key = project_key();
    repo.write("settings.py", format!("OLD = '{old_key}'\n"));
    repo.commit_all("old key, history's problem");

    // A new key is staged, then removed from the working tree only: the index still has it.
    let new_key = project_key();
    repo.write(
        "settings.py",
        format!("OLD = '{old_key}'\nNEW = '{new_key}'\n"),
    );
    repo.git(&["add", "settings.py"]);
    repo.write("settings.py", format!("OLD = '{old_key}'\n"));
    // A key only in the working tree, not staged: not part of the commit.
    let unstaged = project_key();
    repo.write("notes.txt", format!("{unstaged}\n"));

    let run = repo.ferret(&["git", "--staged", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].fingerprint, fingerprint(&new_key));
    assert_eq!(
        (records[0].path.as_str(), records[0].line),
        ("settings.py", 2)
    );

    // Staging the clean version while the working tree has a key: nothing to report.
    repo.git(&["reset", "-q"]);
    let run = repo.ferret(&["git", "--staged", "--format", "jsonl"]);
    run.expect_code(0);
}

#[test]
fn staged_works_before_the_first_commit() {
    let repo = Repo::new();
    let key = project_key();
    repo.write("first.env", format!("KEY={key}\n"));
    repo.git(&["add", "first.env"]);
    let run = repo.ferret(&["git", "--staged", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(of_key(&run.records(), &key).len(), 1, "{run}");
}

#[test]
fn not_a_repository_is_a_clear_error() {
    let tree = support::Tree::new();
    let run = tree.ferret(&["git", "."]);
    run.expect_code(2);
    assert!(run.stderr.contains("not a git repository"), "{run}");
}

#[test]
fn this_repository_history_is_clean() {
    let root = env!("CARGO_MANIFEST_DIR");
    if !std::path::Path::new(root).join(".git").exists() {
        return; // built from a source archive: there is no history to scan
    }
    let run = support::ferret_in(
        std::path::Path::new(root),
        &["git", ".", "--format", "jsonl"],
    );
    run.expect_code(0);
}

#[test]
fn shallow_clone_is_scanned_without_error() {
    let mut origin = Repo::new();
    let old = project_key();
    origin.write("old.env", format!("KEY={old}\n"));
    origin.commit_all("old");
    let recent = project_key();
    origin.write("new.env", format!("KEY={recent}\n"));
    origin.commit_all("recent");
    let clone = support::Tree::new();
    let url = format!("file://{}", origin.path().display());
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url, "shallow"])
        .current_dir(clone.path())
        .status()
        .expect("git clone runs");
    assert!(status.success());
    let run = support::ferret_in(&clone.join("shallow"), &["git", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    // Both files exist in the one commit the shallow clone has.
    assert_eq!(of_key(&records, &recent).len(), 1, "{run}");
    assert_eq!(of_key(&records, &old).len(), 1, "{run}");
}

#[test]
fn a_corrupt_loose_object_is_a_warning_and_the_scan_goes_on() {
    let mut repo = Repo::new();
    let key = project_key();
    repo.write("a.env", format!("KEY={key}\n"));
    repo.write("victim.txt", "this blob will be corrupted\n");
    repo.commit_all("two files");
    let victim = repo.git(&["rev-parse", "HEAD:victim.txt"]);
    let object = repo
        .path()
        .join(".git/objects")
        .join(&victim[..2])
        .join(&victim[2..]);
    let mut permissions = std::fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&object, permissions).unwrap();
    std::fs::write(&object, b"not zlib at all").unwrap();

    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(of_key(&run.records(), &key).len(), 1, "{run}");
    assert!(
        run.stderr.contains("warning") && run.stderr.contains(&victim),
        "{run}"
    );
}

#[test]
fn submodule_entries_are_skipped() {
    let mut sub = Repo::new();
    sub.write("lib.txt", "lib\n");
    sub.commit_all("lib");
    let mut repo = Repo::new();
    let key = project_key();
    repo.write("main.env", format!("KEY={key}\n"));
    let url = format!("file://{}", sub.path().display());
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &url,
        "vendor/lib",
    ]);
    repo.commit_all("with submodule");
    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(of_key(&run.records(), &key).len(), 1, "{run}");
}

#[test]
fn objects_borrowed_through_alternates_are_scanned() {
    let mut origin = Repo::new();
    let key = project_key();
    origin.write("shared.env", format!("KEY={key}\n"));
    origin.commit_all("key in the origin");
    origin.git(&["gc", "-q"]);
    let clone = support::Tree::new();
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--shared"])
        .arg(origin.path())
        .arg("borrowing")
        .current_dir(clone.path())
        .status()
        .expect("git clone runs");
    assert!(status.success());
    let borrowing = clone.join("borrowing");
    assert!(borrowing.join(".git/objects/info/alternates").exists());
    let run = support::ferret_in(&borrowing, &["git", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(of_key(&run.records(), &key).len(), 1, "{run}");
}

#[test]
fn commits_written_in_the_same_second_attribute_to_the_parent_that_added_the_key() {
    let mut repo = Repo::new();
    repo.write("README.md", "start\n");
    let base = repo.commit_all("start");
    let key = project_key();
    let second = "2024-06-01T12:00:00+00:00";
    repo.write("secret.env", format!("KEY={key}\n"));
    let added = repo.commit_all_dated("add key", second);
    repo.write("other.txt", "one\n");
    repo.commit_all_dated("two", second);
    repo.write("other.txt", "two\n");
    repo.commit_all_dated("three", second);
    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    let found = of_key(&run.records(), &key);
    assert_eq!(found.len(), 1, "{run}");
    assert_eq!(found[0].commit.as_deref(), Some(added.as_str()));

    let run = repo.ferret(&[
        "git",
        "--range",
        &format!("{base}..HEAD"),
        "--format",
        "jsonl",
    ]);
    run.expect_code(1);
    let found = of_key(&run.records(), &key);
    assert_eq!(found.len(), 1, "{run}");
    assert_eq!(found[0].commit.as_deref(), Some(added.as_str()));
}

#[test]
fn a_child_with_an_older_clock_than_its_parent_does_not_take_the_attribution() {
    let mut repo = Repo::new();
    let key = project_key();
    repo.write("secret.env", format!("KEY={key}\n"));
    let added = repo.commit_all_dated("add key", "2024-06-01T12:00:00+00:00");
    repo.write("other.txt", "later commit, wrong clock\n");
    repo.commit_all_dated("skewed", "2020-01-01T00:00:00+00:00");
    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    let found = of_key(&run.records(), &key);
    assert_eq!(found.len(), 1, "{run}");
    assert_eq!(found[0].commit.as_deref(), Some(added.as_str()));
}

#[test]
fn a_partial_clone_is_scanned_with_a_warning() {
    let mut origin = Repo::new();
    let key = project_key();
    origin.write("app.env", format!("KEY={key}\n"));
    origin.commit_all("key");
    origin.git(&["config", "uploadpack.allowFilter", "true"]);
    let clone = support::Tree::new();
    let url = format!("file://{}", origin.path().display());
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--filter=blob:none", &url, "partial"])
        .current_dir(clone.path())
        .status()
        .expect("git clone runs");
    assert!(status.success());
    let run = support::ferret_in(&clone.join("partial"), &["git", "--format", "jsonl"]);
    // The checkout fetched the tip's blobs, so the key is there; the warning says what is not.
    run.expect_code(1);
    assert_eq!(of_key(&run.records(), &key).len(), 1, "{run}");
    assert!(run.stderr.contains("partial clone"), "{run}");
}

#[test]
fn attribution_is_the_same_whether_trees_are_packed_loose_or_both() {
    // Trees kept by the pack traversal and trees read from loose objects must give the same
    // places: a key in a nested directory, the directory later copied to a second path (same
    // blob, new trees), then edited elsewhere (the key's trees unchanged), with gc in between.
    let mut repo = Repo::new();
    repo.write("README.md", "hello\n");
    repo.commit_all("init");
    let key = project_key();
    repo.write(
        "deploy/prod/app.env",
        format!("# prod\nOPENAI_API_KEY={key}\n"),
    );
    repo.write("deploy/prod/other.txt", "x\n");
    let added = repo.commit_all("add prod settings");
    let mut runs = Vec::new();
    runs.push(attribution_of(&repo, &key));
    repo.git(&["gc", "-q"]);
    runs.push(attribution_of(&repo, &key));
    // After gc, the copy's trees are loose while the blob is packed.
    repo.write(
        "deploy/staging/app.env",
        format!("# prod\nOPENAI_API_KEY={key}\n"),
    );
    let copied = repo.commit_all("copy prod to staging");
    repo.write("README.md", "hello again\n");
    repo.commit_all("edit readme");
    let mixed = attribution_of(&repo, &key);
    repo.git(&["gc", "-q"]);
    let packed = attribution_of(&repo, &key);
    let want = vec![
        ("deploy/prod/app.env".to_string(), added.clone()),
        ("deploy/staging/app.env".to_string(), copied),
    ];
    assert_eq!(mixed, want);
    assert_eq!(packed, want);
    for run in runs {
        assert_eq!(run, want[..1]);
    }
}

/// Where `ferret git` places `key`: (path, commit) pairs, sorted.
fn attribution_of(repo: &Repo, key: &str) -> Vec<(String, String)> {
    let run = repo.ferret(&["git", "--format", "jsonl"]);
    run.expect_code(1);
    // The packs' trees are traversed, not read again one by one.
    assert!(!run.stderr.contains("could not be traversed"), "{run}");
    let mut places: Vec<(String, String)> = of_key(&run.records(), key)
        .into_iter()
        .map(|r| (r.path, r.commit.unwrap_or_default()))
        .collect();
    places.sort();
    places
}
