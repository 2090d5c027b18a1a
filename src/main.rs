//! The `ferret` binary: parses the command line and hands it to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ferret::cli::run(ferret::cli::Cli::parse())
}
