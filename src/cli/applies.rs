//! Which shared options each subcommand takes: the scanning commands share one set of options
//! (`ScanArgs`), but some mean nothing to some commands (`ferret verify` reads no files, so
//! `--decode-depth` does nothing there). Those are left out of the subcommand's `--help` and
//! refused when given, rather than accepted and silently ignored.

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::Cli;

/// `(subcommand, options it does not take, what to say instead)`. `ferret keys` is not listed:
/// its subcommands share none of the scanning options (each declares only what it takes), so
/// clap itself refuses any other.
const NOT_TAKEN: &[(&str, &[&str], &str)] = &[
    ("dir", &["max_object_size"], "it applies to git objects"),
    (
        "stdin",
        &["max_object_size", "threads"],
        "it applies to git scans",
    ),
    (
        "log",
        &["max_object_size", "threads"],
        "it applies to git scans",
    ),
    (
        "verify",
        &[
            "threads",
            "decode_depth",
            "archive_depth",
            "max_object_size",
            "verify",
            "revoke",
            "ledger",
            "wait_for_ledger",
            "dry_run",
            "yes",
        ],
        "it reads a report and verifies it (to revoke, use `ferret revoke`)",
    ),
    (
        "revoke",
        &[
            "threads",
            "decode_depth",
            "archive_depth",
            "max_object_size",
            "verify",
            "revoke",
        ],
        "it reads a report, verifies it and revokes the live keys",
    ),
];

/// The command line definition, with each subcommand's help listing only what it takes.
pub fn command() -> clap::Command {
    let mut cli = Cli::command();
    for (name, ids, _) in NOT_TAKEN {
        cli = cli.mut_subcommand(*name, |sub| {
            ids.iter()
                .fold(sub, |sub, id| sub.mut_arg(*id, |arg| arg.hide(true)))
        });
    }
    cli
}

/// Parses the process's arguments; an option the subcommand does not take is a usage error
/// (exit code 2), as clap's own are.
pub fn parse() -> Cli {
    let mut cli = command();
    let matches = cli.get_matches_mut();
    if let Err(message) = refuse_not_taken(&matches) {
        cli.error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cli).exit())
}

/// The first option given on the command line that its subcommand does not take.
fn refuse_not_taken(matches: &ArgMatches) -> Result<(), String> {
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(());
    };
    let Some((_, ids, instead)) = NOT_TAKEN.iter().find(|(n, _, _)| *n == name) else {
        return Ok(());
    };
    for id in *ids {
        if sub.value_source(id) == Some(ValueSource::CommandLine) {
            let flag = format!("--{}", id.replace('_', "-"));
            return Err(format!("`ferret {name}` does not take {flag}: {instead}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_from(args: &[&str]) -> Result<(), String> {
        let matches = command()
            .try_get_matches_from(args)
            .map_err(|e| e.to_string())?;
        refuse_not_taken(&matches)
    }

    #[test]
    fn every_listed_option_exists_on_its_subcommand() {
        let cli = Cli::command();
        for (name, ids, _) in NOT_TAKEN {
            let sub = cli.find_subcommand(name).expect(name);
            for id in *ids {
                assert!(
                    sub.get_arguments().any(|a| a.get_id() == id),
                    "{name} has no {id}"
                );
            }
        }
    }

    #[test]
    fn options_a_subcommand_does_not_take_are_refused_and_others_pass() {
        let refused = parse_from(&[
            "ferret",
            "verify",
            "--input",
            "r.jsonl",
            "--decode-depth",
            "2",
        ]);
        assert!(
            refused
                .unwrap_err()
                .contains("does not take --decode-depth")
        );
        assert!(parse_from(&["ferret", "revoke", "--dry-run", "--yes"]).is_ok());
        assert!(parse_from(&["ferret", "dir", ".", "--max-object-size", "1M"]).is_err());
        assert!(parse_from(&["ferret", "git", ".", "--max-object-size", "1M"]).is_ok());
        assert!(parse_from(&["ferret", "verify", "--input", "r.jsonl"]).is_ok());
    }

    #[test]
    fn keys_subcommands_take_only_their_own_options() {
        assert!(parse_from(&["ferret", "keys", "list", "--format", "html"]).is_ok());
        assert!(parse_from(&["ferret", "keys", "list", "--verify"]).is_err());
        assert!(parse_from(&["ferret", "keys", "audit", "--fail-on", "high"]).is_ok());
        assert!(parse_from(&["ferret", "keys", "audit", "--yes"]).is_err());
        assert!(parse_from(&["ferret", "keys", "rotate", "--older-than", "90d"]).is_ok());
        assert!(parse_from(&["ferret", "keys", "rotate", "key_1", "--yes"]).is_ok());
        // Either an age or key ids, not both, not neither.
        assert!(parse_from(&["ferret", "keys", "rotate"]).is_err());
        assert!(parse_from(&["ferret", "keys", "rotate", "key_1", "--older-than", "9d"]).is_err());
        assert!(
            parse_from(&[
                "ferret",
                "keys",
                "rotate",
                "--older-than",
                "90d",
                "--revoke"
            ])
            .is_err()
        );
    }
}
