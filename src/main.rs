//! The `ferret` binary: parses the command line and hands it to the library.

fn main() -> std::process::ExitCode {
    ferret::cli::run(ferret::cli::parse())
}
