//! `ferret hook install`: the plain git pre-commit hook, exercised through real `git commit`s.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::git::Repo;
use support::{Run, Tree, ferret_command, project_key};

/// Runs `git ARGS` in `dir` with the given extra environment, returning the outcome (a
/// blocked commit is an expected failure here).
fn git_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("git runs");
    Run::from(output)
}

/// What a hook printed: git sends a hook's stdout to its own stderr.
fn shown(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

fn commit(repo: &Repo, args: &[&str]) -> Run {
    git_in(repo.path(), &[&["commit", "-q"], args].concat(), &[])
}

/// A repository with one commit and ferret's hook installed.
fn repo_with_hook() -> Repo {
    let mut repo = Repo::new();
    repo.write("README.md", "# app\n");
    repo.commit_all("init");
    repo.ferret(&["hook", "install"]).expect_code(0);
    repo
}

#[test]
fn a_staged_key_blocks_the_commit_and_the_message_says_what_and_how_to_suppress() {
    let repo = repo_with_hook();
    let key = project_key();
    repo.write(
        "settings.py",
        format!("DEBUG = True\nOPENAI_API_KEY = '{key}'\n"),
    );
    repo.git(&["add", "settings.py"]);
    let run = commit(&repo, &["-m", "settings"]);
    assert_eq!(run.code, 1, "the commit must be blocked; {run}");
    run.expect_key_hidden(&key);
    let redacted = format!("{}…{}", &key[..12], &key[key.len() - 4..]);
    for expected in [
        "openai-project-key",
        redacted.as_str(),
        "settings.py:2:19",
        "Commit blocked",
        "ferret:allow",
        ".ferretignore",
        "[allowlist]",
        "--no-verify",
    ] {
        assert!(shown(&run).contains(expected), "no {expected:?}; {run}");
    }
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]), "1");

    // Cleaned up, the same commit goes through.
    repo.write(
        "settings.py",
        "DEBUG = True\nOPENAI_API_KEY = os.environ['KEY']\n",
    );
    repo.git(&["add", "settings.py"]);
    commit(&repo, &["-m", "settings"]).expect_code(0);
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]), "2");
}

#[test]
fn commit_all_and_partial_commits_are_checked_on_the_index_git_will_commit() {
    let repo = repo_with_hook();
    let key = project_key();
    repo.write("README.md", format!("# app\nkey: {key}\n"));
    // Nothing staged: `git commit -a` and `git commit FILE` stage in a temporary index
    // (GIT_INDEX_FILE) that the hook must read.
    assert_eq!(commit(&repo, &["-a", "-m", "all"]).code, 1);
    assert_eq!(commit(&repo, &["-m", "one file", "README.md"]).code, 1);
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]), "1");
}

#[test]
fn reinstalling_is_idempotent_and_core_hooks_path_is_respected() {
    let repo = repo_with_hook();
    let hook = repo.path().join(".git/hooks/pre-commit");
    let first = std::fs::read_to_string(&hook).expect("hook written");
    let run = repo.ferret(&["hook", "install"]);
    run.expect_code(0);
    assert!(run.stdout.contains("already installed"), "{run}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), first);

    // A relative core.hooksPath is relative to the top of the working tree, and the hook is
    // installed there even when ferret runs in a subdirectory.
    repo.git(&["config", "core.hooksPath", "tools/hooks"]);
    repo.write("src/main.py", "print()\n");
    let run = ferret_command()
        .args(["hook", "install"])
        .current_dir(repo.path().join("src"))
        .output()
        .expect("run ferret");
    Run::from(run).expect_code(0);
    assert!(repo.path().join("tools/hooks/pre-commit").exists());
    let key = project_key();
    repo.write("src/main.py", format!("print('{key}')\n"));
    repo.git(&["add", "src/main.py"]);
    assert_eq!(commit(&repo, &["-m", "key"]).code, 1);
}

#[test]
fn a_foreign_hook_is_refused_chained_or_replaced() {
    let mut repo = Repo::new();
    repo.write("README.md", "# app\n");
    repo.commit_all("init");
    let hooks = repo.path().join(".git/hooks");
    let foreign = "#!/bin/sh\necho foreign hook ran\n[ ! -e block ]\n";
    repo.write(".git/hooks/pre-commit", foreign);
    make_executable(&hooks.join("pre-commit"));

    let run = repo.ferret(&["hook", "install"]);
    run.expect_code(2);
    assert!(run.stderr.contains("not ferret's hook"), "{run}");
    assert!(run.stderr.contains("--chain") && run.stderr.contains("--force"));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        foreign
    );

    // --chain: the foreign hook becomes pre-commit.local and runs first; both must pass.
    let run = repo.ferret(&["hook", "install", "--chain"]);
    run.expect_code(0);
    assert!(run.stdout.contains("pre-commit.local"), "{run}");
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.local")).unwrap(),
        foreign
    );
    repo.write("a.txt", "clean\n");
    repo.git(&["add", "a.txt"]);
    let run = commit(&repo, &["-m", "clean"]);
    run.expect_code(0);
    repo.write("block", "");
    repo.write("b.txt", "clean too\n");
    repo.git(&["add", "b.txt"]);
    let run = commit(&repo, &["-m", "the chained hook says no"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(shown(&run).contains("foreign hook ran"), "{run}");
    std::fs::remove_file(repo.path().join("block")).unwrap();
    let key = project_key();
    repo.write("c.txt", format!("{key}\n"));
    repo.git(&["add", "c.txt"]);
    let run = commit(&repo, &["-m", "key"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(shown(&run).contains("foreign hook ran") && shown(&run).contains("c.txt:1:1"));

    // Installing again keeps the chain; a second foreign hook cannot be chained over it.
    repo.ferret(&["hook", "install", "--chain"]).expect_code(0);
    repo.write(".git/hooks/pre-commit", foreign);
    let run = repo.ferret(&["hook", "install", "--chain"]);
    run.expect_code(2);
    assert!(run.stderr.contains("pre-commit.local exists"), "{run}");

    // --force replaces it.
    repo.ferret(&["hook", "install", "--force"]).expect_code(0);
    let hook = std::fs::read_to_string(hooks.join("pre-commit")).unwrap();
    assert!(hook.contains("ferret git --staged"), "{hook}");
}

#[test]
fn a_moved_binary_falls_back_to_path_and_a_missing_one_blocks_with_a_fix() {
    let repo = Repo::new();
    // Install with a copy of ferret, then remove the copy.
    let bin = Tree::new();
    let copy = bin.join("ferret");
    support::copy_executable(Path::new(env!("CARGO_BIN_EXE_ferret")), &copy);
    let run = Command::new(&copy)
        .args(["hook", "install"])
        .current_dir(repo.path())
        .output()
        .expect("run the copy");
    Run::from(run).expect_code(0);
    std::fs::remove_file(&copy).unwrap();

    let key = project_key();
    repo.write("k.txt", format!("{key}\n"));
    repo.git(&["add", "k.txt"]);
    let real_bin_dir = Path::new(env!("CARGO_BIN_EXE_ferret"))
        .parent()
        .expect("binary directory")
        .to_path_buf();
    let path = format!("{}:/usr/bin:/bin", real_bin_dir.display());
    let run = git_in(
        repo.path(),
        &["commit", "-q", "-m", "k"],
        &[("PATH", &path)],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(
        shown(&run).contains("k.txt:1:1"),
        "ferret from PATH ran; {run}"
    );

    let run = git_in(
        repo.path(),
        &["commit", "-q", "-m", "k"],
        &[("PATH", "/usr/bin:/bin")],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("nor on PATH"), "{run}");
    assert!(run.stderr.contains("--no-verify"), "{run}");
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
