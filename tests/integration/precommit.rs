//! The pre-commit framework (PyPI `pre-commit`) running this repository's hooks on a
//! temporary repository whose `.pre-commit-config.yaml` points at this repository: `repo:` its
//! path, `rev:` its `HEAD` commit. So the hook definitions tested are the committed ones
//! (commit `.pre-commit-hooks.yaml` before running this test), as for any user.
//!
//! Most assertions use `ferret-system` with the freshly built binary's directory on `PATH`:
//! the framework clones the repository, reads the hooks and runs them, with no build inside.
//! One test runs `id: ferret` (`language: rust`) end to end: the framework clones this
//! repository and runs `cargo install --path .` in its clone, a full build of ferret. To keep
//! that to minutes on two cores, the build's release profile is made cheap through cargo's
//! `CARGO_PROFILE_RELEASE_*` variables (opt-level 0, no debug info, many codegen units) and its
//! target directory is kept in `target/tmp`, so a rerun only rebuilds ferret itself. That
//! changes how fast the built hook runs, not how the framework installs and calls it.
//!
//! The framework itself: `pre-commit` on `PATH` (`.ci/run` installs it in its tools venv and
//! puts that on `PATH`), else a venv this test makes in `target/tmp` with pip. When neither
//! works (PyPI out of reach), the tests fail and say so: a skipped test would pass silently.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::git::Repo;
use support::{Run, Tree, on_path, project_key, run_command as run};

/// This repository: the `repo:` of the configuration.
const FERRET_REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The `pre-commit` executable: on `PATH`, else installed once into a venv in target/tmp.
fn pre_commit() -> &'static Path {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(|| {
        if let Some(found) = on_path("pre-commit") {
            return found;
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-venv");
        let bin = venv.join("bin").join("pre-commit");
        if !bin.is_file() {
            let made = run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            assert_eq!(made.code, 0, "python3 -m venv failed: {made}");
            let pip = venv.join("bin").join("pip");
            let installed = run(Command::new(&pip).args(["install", "--quiet", "pre-commit"]));
            assert!(
                installed.code == 0 && bin.is_file(),
                "cannot install the pre-commit framework from PyPI into {} ({installed}); \
                 install it (pip install pre-commit) and put it on PATH, as .ci/run does",
                venv.display()
            );
        }
        bin
    })
}

/// This repository's `HEAD`, which must carry the hook definitions.
fn ferret_rev() -> String {
    let head = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(FERRET_REPO));
    assert_eq!(
        head.code, 0,
        "{FERRET_REPO} must be a git checkout to be a pre-commit repo: {head}"
    );
    let rev = head.stdout.trim().to_string();
    let hooks = run(Command::new("git")
        .args(["cat-file", "-e", &format!("{rev}:.pre-commit-hooks.yaml")])
        .current_dir(FERRET_REPO));
    assert_eq!(
        hooks.code, 0,
        "HEAD has no .pre-commit-hooks.yaml: commit it"
    );
    rev
}

/// A repository using ferret's hook `hook_id` through the framework, with the framework's
/// cache (`PRE_COMMIT_HOME`) of its own.
struct Project {
    repo: Repo,
    cache: Tree,
    /// Extra environment for the commits.
    env: Vec<(String, String)>,
}

impl Project {
    fn new(hook_id: &str, env: Vec<(String, String)>) -> Self {
        let mut repo = Repo::new();
        repo.write(
            ".pre-commit-config.yaml",
            format!(
                "repos:\n  - repo: {FERRET_REPO}\n    rev: {}\n    hooks:\n      - id: {hook_id}\n",
                ferret_rev()
            ),
        );
        repo.write("README.md", "# app\n");
        repo.commit_all("init");
        let project = Project {
            repo,
            cache: Tree::new(),
            env,
        };
        let installed = project.run(pre_commit(), &["install"]);
        assert_eq!(installed.code, 0, "pre-commit install failed: {installed}");
        project
    }

    fn run(&self, program: &Path, args: &[&str]) -> Run {
        run(Command::new(program)
            .args(args)
            .current_dir(self.repo.path())
            .env("PRE_COMMIT_HOME", self.cache.path())
            .env("PRE_COMMIT_COLOR", "never")
            .envs(self.env.iter().map(|(k, v)| (k, v))))
    }

    /// Stages `file` with `contents` and commits it; returns the run and everything it printed
    /// (git passes a hook's stdout to its stderr).
    fn commit(&self, file: &str, contents: &str) -> (Run, String) {
        self.repo.write(file, contents);
        self.repo.git(&["add", file]);
        let run = self.run(Path::new("git"), &["commit", "-q", "-m", file]);
        let shown = format!("{}{}", run.stdout, run.stderr);
        (run, shown)
    }

    fn commits(&self) -> String {
        self.repo.git(&["rev-list", "--count", "HEAD"])
    }
}

/// `PATH` with the directory of the ferret binary under test first.
fn path_with_ferret() -> String {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ferret"))
        .parent()
        .expect("binary directory");
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", bin_dir.display())
}

/// Asserts that a blocked commit's output names file, line, rule and redacted key, and says
/// how to suppress a false positive, without the full key.
#[track_caller]
fn expect_blocked(run: &Run, shown: &str, key: &str, place: &str) {
    assert_eq!(run.code, 1, "the commit must be blocked; {run}");
    run.expect_key_hidden(key);
    let redacted = format!("{}…{}", &key[..12], &key[key.len() - 4..]);
    for expected in [
        "ferret (leaked AI-provider API keys)",
        "Failed",
        place,
        "openai-project-key",
        redacted.as_str(),
        "Commit blocked",
        "ferret:allow",
        ".ferretignore",
        "[allowlist]",
    ] {
        assert!(shown.contains(expected), "no {expected:?} in; {run}");
    }
}

#[test]
fn ferret_system_blocks_a_staged_key_and_passes_a_clean_change() {
    let project = Project::new(
        "ferret-system",
        vec![("PATH".to_string(), path_with_ferret())],
    );
    let key = project_key();
    let (run, shown) = project.commit("app/settings.py", &format!("KEY = \"{key}\"\n"));
    expect_blocked(&run, &shown, &key, "app/settings.py:1:8");
    assert_eq!(project.commits(), "1");

    let (run, shown) = project.commit("app/settings.py", "KEY = os.environ['KEY']\n");
    assert_eq!(run.code, 0, "a clean change must pass; {run}");
    assert!(shown.contains("Passed"), "{run}");
    assert_eq!(project.commits(), "2");

    // The suppression the message offers works: `ferret:allow` on the line.
    let (run, _) = project.commit(
        "tests/fixture.py",
        &format!("SAMPLE = \"{key}\"  # ferret:allow\n"),
    );
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(project.commits(), "3");
}

#[test]
fn ferret_hook_built_by_the_framework_with_cargo_blocks_a_staged_key() {
    let cheap_release = [
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
        ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256"),
        ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ];
    let mut env: Vec<(String, String)> = cheap_release
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-cargo-target");
    env.push(("CARGO_TARGET_DIR".to_string(), target.display().to_string()));
    let project = Project::new("ferret", env);
    let key = project_key();
    let (run, shown) = project.commit(".env", &format!("OPENAI_API_KEY={key}\n"));
    expect_blocked(&run, &shown, &key, ".env:1:16");
    // The binary that ran is the one the framework built in its own environment.
    let built = std::fs::read_dir(project.cache.path())
        .expect("pre-commit cache")
        .filter_map(Result::ok)
        .any(|entry| entry.path().join("rustenv-system/bin/ferret").is_file());
    assert!(
        built,
        "no ferret built by pre-commit under its cache; {run}"
    );

    let (run, _) = project.commit(".env", "OPENAI_API_KEY=\n");
    assert_eq!(run.code, 0, "a clean change must pass; {run}");
}
