//! Real git repositories for the history tests, built with the git CLI in temporary
//! directories.

use std::path::Path;
use std::process::Command;

use super::{Run, Tree, ferret_in};

/// A repository in a temporary directory, with a fixed identity and predictable dates.
pub struct Repo {
    pub tree: Tree,
    /// Commits made so far: each gets a date one minute after the previous one.
    commits: u32,
}

impl Default for Repo {
    fn default() -> Self {
        Self::new()
    }
}

impl Repo {
    pub fn new() -> Self {
        let repo = Repo {
            tree: Tree::new(),
            commits: 0,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Ada Lovelace"]);
        repo.git(&["config", "user.email", "ada@example.com"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.tree.path()
    }

    /// Runs git in the repository and returns its stdout; panics on failure.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        let date = format!("2024-01-01T00:{:02}:00+00:00", self.commits % 60);
        let output = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        self.tree.write(rel, contents);
    }

    /// Stages everything and commits; returns the new commit id.
    pub fn commit_all(&mut self, message: &str) -> String {
        self.commits += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    /// Commits everything with both dates set to `date` (e.g. a rebase writes many commits
    /// within one second); returns the new commit id.
    pub fn commit_all_dated(&mut self, message: &str, date: &str) -> String {
        self.commits += 1;
        self.git(&["add", "-A"]);
        let output = Command::new("git")
            .args(["commit", "-q", "--allow-empty", "-m", message])
            .current_dir(self.path())
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git commit failed");
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs `ferret ARGS` in the repository.
    pub fn ferret(&self, args: &[&str]) -> Run {
        ferret_in(self.path(), args)
    }
}
