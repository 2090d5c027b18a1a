//! The scan configuration file, `.ferret.toml`: what to suppress.
//!
//! A `.ferret.toml` may sit inside the tree being scanned, so it is untrusted: it can only
//! narrow what is reported (allowlists), never change where secrets are sent. Only a file the
//! operator names with `--config` may set `[verify] api_base`.
//!
//! ```toml
//! [allowlist]
//! paths = ["tests/fixtures/**", "*.md"]      # globs on the reported path
//! regexes = ['^sk-proj-TEST']               # regexes on the secret itself
//! fingerprints = ["<sha256 hex>"]           # known, accepted secrets
//!
//! [verify]                                  # honoured only in a file given with --config
//! api_base = "https://openai-proxy.internal"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Name of the configuration file looked for at the scan root.
pub const CONFIG_FILE_NAME: &str = ".ferret.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `path:line:column: reason`, on one line.
    #[error("{}:{line}:{column}: {reason}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    /// The I/O error is the `source`, which the command line prints after this message
    /// (so it is not repeated in it).
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub allowlist: Allowlist,
    /// Where secrets are verified: honoured only when [`Config::operator`] is set.
    #[serde(default)]
    pub verify: Option<VerifySettings>,
    /// The operator named this file (`--config`); a file found in the scanned tree is not theirs.
    #[serde(skip)]
    pub operator: bool,
    /// The file this came from and its text, to place errors found after parsing.
    #[serde(skip)]
    pub source: Option<(PathBuf, String)>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySettings {
    pub api_base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub regexes: Vec<String>,
    #[serde(default)]
    pub fingerprints: Vec<String>,
}

impl Config {
    /// Reads the operator's own config file; a missing file is an error (they named it).
    pub fn load_operator(path: &Path) -> Result<Config, ConfigError> {
        let mut config = Self::load(path)?;
        config.operator = true;
        Ok(config)
    }

    fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Reads `root/.ferret.toml` when it exists (untrusted: it came with the scanned tree).
    pub fn load_from_root(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(CONFIG_FILE_NAME);
        if path.is_file() {
            Self::load(&path)
        } else {
            Ok(Config::default())
        }
    }

    /// The verification API base this config may set: only the operator's own file's.
    pub fn operator_api_base(&self) -> Option<&str> {
        self.verify
            .as_ref()
            .filter(|_| self.operator)
            .and_then(|v| v.api_base.as_deref())
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|err| {
            let offset = err.span().map_or(0, |span| span.start);
            let (line, column) = line_and_column(text, offset);
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                reason: err.message().trim().replace('\n', " "),
            }
        })?;
        config.source = Some((path.to_path_buf(), text.to_string()));
        Ok(config)
    }

    /// A config error found after parsing (a bad glob or regex), placed at the line naming it.
    pub fn invalid_entry(&self, entry: &str, reason: String) -> ConfigError {
        let (path, text) = self
            .source
            .clone()
            .unwrap_or_else(|| (PathBuf::from(CONFIG_FILE_NAME), String::new()));
        let offset = text.find(entry).unwrap_or(0);
        let (line, column) = line_and_column(&text, offset);
        ConfigError::Syntax {
            path,
            line,
            column,
            reason,
        }
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_names_file_line_and_reason() {
        let err = Config::parse(
            Path::new("repo/.ferret.toml"),
            "[allowlist]\npaths = [\"a\"]\nregexes = 3\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("repo/.ferret.toml:3:"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::parse(Path::new("c.toml"), "[allowlist]\npath = []\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
