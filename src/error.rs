//! An error and its causes as one line of text (`outer: cause: root cause`), for the places
//! where an error stops being returned and becomes data: a warning, a revocation's detail, the
//! ledger, a sweep's list of failures. The command line prints the errors it is returned the
//! same way.
//!
//! ferret's own errors never repeat their source in their message (the chain adds it), but some
//! libraries' errors do: a cause whose text the error it causes already holds, or that repeats
//! the error it causes at its end (SQLite's `Error code 5: database is locked` under `database is
//! locked`), is not written again.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its causes, `: `-separated.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        f.write_str(&previous)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            let repeated = previous.contains(&text) || text.ends_with(&previous);
            if !text.is_empty() && !repeated {
                write!(f, ": {text}")?;
            }
            previous = text;
            next = cause.source();
        }
        Ok(())
    }
}

/// `err` and its causes as one line (see [`Chain`]).
pub fn chain(err: &(dyn Error + 'static)) -> String {
    Chain(err).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("ledger /state/ledger.sqlite")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("database is locked")]
    struct Middle(#[source] Inner);

    /// Like SQLite's code, which says again what its wrapper said.
    #[derive(Debug, thiserror::Error)]
    #[error("Error code 5: database is locked")]
    struct Inner;

    #[test]
    fn causes_follow_once() {
        assert_eq!(
            chain(&Outer(Middle(Inner))),
            "ledger /state/ledger.sqlite: database is locked"
        );
        let io = std::io::Error::other("disk full");
        assert_eq!(chain(&io), "disk full");
    }
}
