//! ferret explains itself: each subcommand's `--help` lists the options it takes and refuses the
//! others, `ferret revoke` never waits silently on a terminal, the texts name every provider,
//! and long runs on a terminal show how far they are.

use std::path::Path;
use std::process::Command;

use crate::support;
use support::git::Repo;
use support::{Run, Tree, project_key};

fn help(subcommand: &str) -> String {
    let run = support::ferret_in(Path::new("."), &[subcommand, "--help"]);
    run.expect_code(0);
    run.stdout
}

/// The long options a help text lists.
fn options(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("-o, ").unwrap_or(line);
            line.starts_with("--")
                .then(|| line.split([' ', ',', '=']).next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn each_subcommand_lists_only_the_options_it_takes() {
    let cases: [(&str, &[&str], &[&str]); 6] = [
        (
            "verify",
            &["--input", "--format", "--verify-timeout", "--fail-on"],
            &[
                "--decode-depth",
                "--threads",
                "--max-object-size",
                "--dry-run",
                "--revoke",
                "--verify",
            ],
        ),
        (
            "revoke",
            &[
                "--input",
                "--dry-run",
                "--yes",
                "--ledger",
                "--verify-timeout",
            ],
            &[
                "--decode-depth",
                "--archive-depth",
                "--threads",
                "--revoke",
                "--verify",
            ],
        ),
        (
            "dir",
            &["--decode-depth", "--threads", "--verify"],
            &["--max-object-size"],
        ),
        (
            "stdin",
            &["--decode-depth"],
            &["--max-object-size", "--threads"],
        ),
        (
            "git",
            &["--max-object-size", "--threads", "--decode-depth"],
            &[],
        ),
        ("github", &["--max-object-size"], &[]),
    ];
    for (subcommand, listed, unlisted) in cases {
        let options = options(&help(subcommand));
        for option in listed {
            assert!(
                options.iter().any(|o| o == option),
                "{subcommand} --help lacks {option}: {options:?}"
            );
        }
        for option in unlisted {
            assert!(
                !options.iter().any(|o| o == option),
                "{subcommand} --help lists {option}"
            );
        }
    }
}

#[test]
fn an_option_a_subcommand_does_not_take_is_refused_not_ignored() {
    let tree = Tree::new();
    tree.write("report.jsonl", "");
    for args in [
        &["verify", "--input", "report.jsonl", "--decode-depth", "0"][..],
        &["revoke", "--input", "report.jsonl", "--threads", "2"],
        &["dir", ".", "--max-object-size", "1M"],
    ] {
        let run = tree.ferret(args);
        run.expect_code(2);
        assert!(run.stderr.contains("does not take --"), "{run}");
    }
}

#[test]
fn the_help_names_every_provider_not_only_openai() {
    let run = support::ferret_in(Path::new("."), &["--help"]);
    for provider in [
        "OpenAI",
        "Anthropic",
        "Gemini",
        "Hugging Face",
        "Mistral",
        "DeepSeek",
    ] {
        assert!(
            run.stdout.contains(provider),
            "--help lacks {provider}: {run}"
        );
    }
    let hooks = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    assert!(
        !hooks.contains("OpenAI API keys"),
        "hook names say AI-provider keys"
    );
}

/// `ferret ARGS` in `dir` on a pseudo-terminal.
fn on_a_terminal(dir: &Path, args: &[&str], _input: Option<&str>) -> Run {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("ferret"));
    command.args(args).current_dir(dir);
    support::on_a_terminal(&command)
}

#[test]
fn revoke_on_a_terminal_without_input_says_what_it_needs_instead_of_waiting() {
    let tree = Tree::new();
    // `script` passes its own stdin on; closing it at once would end the wait anyway, so the
    // check is what ferret says and that it says it before reading anything.
    let run = on_a_terminal(tree.path(), &["revoke"], None);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stdout.contains("pass --input REPORT.jsonl"), "{run}");
    assert!(run.stdout.contains("standard input is a terminal"), "{run}");
}

#[test]
fn history_scans_on_a_terminal_show_objects_of_the_total_and_nothing_otherwise() {
    let mut repo = Repo::new();
    for i in 0..30 {
        repo.write(&format!("f{i}.txt"), format!("line {i}\n"));
        repo.commit_all(&format!("c{i}"));
    }
    repo.write("app.env", format!("KEY={}\n", project_key()));
    repo.commit_all("key");
    repo.git(&["gc", "--quiet"]);
    let shown = on_a_terminal(repo.path(), &["git", "."], None);
    assert_eq!(shown.code, 1, "{shown}");
    assert!(
        shown.stdout.contains(" objects"),
        "progress names objects: {shown}"
    );
    assert!(shown.stdout.contains("ETA"), "progress has an ETA: {shown}");
    let piped = repo.ferret(&["git", "."]);
    piped.expect_code(1);
    assert!(
        !piped.stderr.contains("objects"),
        "no progress when not a terminal: {piped}"
    );
    let quiet = on_a_terminal(repo.path(), &["git", ".", "--no-progress"], None);
    assert!(!quiet.stdout.contains("ETA"), "--no-progress: {quiet}");
}
