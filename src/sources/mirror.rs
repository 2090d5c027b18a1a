//! Bare mirrors of remote repositories in a cache directory: cloned the first time, fetched
//! (and pruned) after that, with the git CLI, which speaks every protocol and credential setup
//! a git host offers.
//!
//! A token reaches git only through the environment of the git process (an
//! `http.extraHeader` given with `GIT_CONFIG_COUNT`), and only when the clone URL is at the git
//! host that goes with the API (its exact scheme, host and port) over HTTPS (or plain HTTP to
//! loopback): it is never written into a mirror's config, never on a command line, never
//! printed (git's messages are searched for it before they are shown). A git given the token
//! follows no redirect: one that does sends the clone's later requests, extra headers and all,
//! to wherever the redirect led.
//!
//! A mirror on disk is not trusted either: it may come from a shared cache. git runs on it with
//! hooks off (`core.hooksPath=/dev/null`), no credential helper, the https protocol only (plus
//! http to loopback), `--` before every URL, and the mirror's own config rewritten before each
//! fetch (only its format version and extensions are kept), so nothing planted in a mirror runs
//! or changes where git connects.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Why a mirror could not be brought up to date (the caller knows which repository's).
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("cannot create the mirror's directory")]
    Directory(#[source] crate::fs::FsError),
    #[error("cannot run git")]
    Spawn(#[source] std::io::Error),
    /// git ran and failed: its last message line, without the token.
    #[error("{message}")]
    Git { message: String },
    #[error("cannot move the old mirror away")]
    MoveOld(#[source] std::io::Error),
    #[error("cannot move the clone into place")]
    MoveIn(#[source] std::io::Error),
    #[error("cannot rewrite the mirror's config")]
    Config(#[source] std::io::Error),
    #[error("cannot rewrite the mirror's config ({key})")]
    ConfigKey { key: String },
}

pub struct Mirrors {
    dir: PathBuf,
    /// The token, and the git origin (scheme, host, port) it may be sent to.
    token: Option<(String, Origin)>,
}

/// Where a URL points: scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn of(url: &str) -> Option<Origin> {
        let url = url::Url::parse(url).ok()?;
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default(),
        })
    }
}

/// The git host that goes with a GitHub API base: `https://github.com` for
/// `https://api.github.com`, the API's own scheme, host and port otherwise (GitHub Enterprise
/// Server serves both), unless the operator names it (`FERRET_GITHUB_GIT_BASE`).
pub fn git_base_for(api_base: &str) -> String {
    match Origin::of(api_base) {
        Some(origin) if origin.host == "api.github.com" => "https://github.com".to_string(),
        Some(Origin { scheme, host, port }) => match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        },
        None => api_base.to_string(),
    }
}

impl Mirrors {
    /// Mirrors under `dir`; `token` is sent only to clone URLs at `git_base` (see
    /// [`git_base_for`]).
    pub fn new(dir: PathBuf, token: Option<&str>, git_base: &str) -> Self {
        let origin = Origin::of(git_base);
        Mirrors {
            dir,
            token: token.zip(origin).map(|(t, o)| (t.to_string(), o)),
        }
    }

    /// Where the mirror of `owner/name` lives.
    pub fn path_of(&self, full_name: &str) -> PathBuf {
        let safe: String = full_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let safe = safe.replace("..", "_");
        let safe = safe.trim_start_matches('/');
        self.dir.join(format!("{safe}.git"))
    }

    /// Brings the mirror of `full_name` up to date with `clone_url`; returns its path. `warn`
    /// hears about a mirror that had to be cloned anew.
    pub fn update(
        &self,
        full_name: &str,
        clone_url: &str,
        warn: &dyn Fn(String),
    ) -> Result<PathBuf, MirrorError> {
        let path = self.path_of(full_name);
        if !path.join("HEAD").is_file() {
            self.clone_into_place(&path, clone_url)?;
            return Ok(path);
        }
        // The URL may have changed (a renamed repository); it holds no credentials.
        let fetched = reset_config(&path, clone_url)
            .and_then(|()| self.git(&path, &["fetch", "--prune", "--quiet", "origin"], clone_url));
        let Err(fetch_error) = fetched else {
            return Ok(path);
        };
        // A git killed half way through a fetch (an interrupted sweep) leaves lock files behind
        // that fail every later fetch, and maybe a damaged mirror: clone it anew. When that
        // fails too (the repository is gone, the network is down), the fetch's error stands.
        if self.clone_into_place(&path, clone_url).is_err() {
            return Err(fetch_error);
        }
        warn(format!(
            "{full_name}: the mirror could not be fetched ({}); cloned it anew",
            crate::error::Chain(&fetch_error)
        ));
        Ok(path)
    }

    /// Clones `clone_url` beside `path` and moves it in whole, replacing what is there: an
    /// interrupted clone leaves no mirror, an interrupted swap at worst none (cloned next time).
    fn clone_into_place(&self, path: &Path, clone_url: &str) -> Result<(), MirrorError> {
        let parent = path.parent().unwrap_or(&self.dir);
        crate::fs::create_private_dir(parent).map_err(MirrorError::Directory)?;
        let partial = path.with_extension("git.partial");
        let old = path.with_extension("git.old");
        let _ = std::fs::remove_dir_all(&partial);
        let _ = std::fs::remove_dir_all(&old);
        let target = partial.to_string_lossy().into_owned();
        let cloned = self.git(
            parent,
            &["clone", "--mirror", "--quiet", "--", clone_url, &target],
            clone_url,
        );
        if let Err(err) = cloned {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(err);
        }
        if path.exists() {
            std::fs::rename(path, &old).map_err(MirrorError::MoveOld)?;
        }
        std::fs::rename(&partial, path).map_err(MirrorError::MoveIn)?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Runs git in `dir`; the error is git's last message line, without the token.
    fn git(&self, dir: &Path, args: &[&str], url: &str) -> Result<(), MirrorError> {
        let mut command = Command::new("git");
        command
            .current_dir(dir)
            .args(hardening(url))
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_ASKPASS")
            .env_remove("SSH_ASKPASS")
            // A stalled transfer (under 1 KB/s for a minute) is a failure, not a hang.
            .env("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
            .env("GIT_HTTP_LOW_SPEED_TIME", "60");
        if dir.join("HEAD").is_file() {
            command.env("GIT_DIR", dir);
        }
        let token = self
            .token
            .as_ref()
            .filter(|(_, origin)| gets_token(url, origin));
        if let Some((token, _)) = token {
            let credentials = BASE64.encode(format!("x-access-token:{token}"));
            command
                .env("GIT_CONFIG_COUNT", "2")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env(
                    "GIT_CONFIG_VALUE_0",
                    format!("Authorization: Basic {credentials}"),
                )
                .env("GIT_CONFIG_KEY_1", "http.followRedirects")
                .env("GIT_CONFIG_VALUE_1", "false");
        }
        let output = command.output().map_err(MirrorError::Spawn)?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut message = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("git failed")
            .trim()
            .to_string();
        if let Some((token, _)) = &self.token {
            message = message.replace(token.as_str(), "***");
        }
        Err(MirrorError::Git { message })
    }
}

/// Whether git may be given the token for `url`: at the git origin exactly, over HTTPS (or
/// plain HTTP to a loopback address).
fn gets_token(url: &str, git_origin: &Origin) -> bool {
    Origin::of(url).as_ref() == Some(git_origin) && crate::http::checked_api_base(url).is_ok()
}

/// Settings given to every git run on a mirror, ahead of the mirror's own: no hook runs, no
/// credential helper is asked, only https (or http to loopback, for `url`) is spoken, and no
/// proxy stands between git and a loopback remote.
fn hardening(url: &str) -> Vec<&'static str> {
    let mut settings = vec![
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "credential.helper=",
        "-c",
        "core.askPass=",
        "-c",
        "protocol.allow=never",
        "-c",
        "protocol.https.allow=always",
        "-c",
        "http.sslVerify=true",
    ];
    let plain_loopback = url.starts_with("http://") && crate::http::checked_api_base(url).is_ok();
    if plain_loopback {
        settings.extend(["-c", "protocol.http.allow=always"]);
    }
    // An empty http.proxy turns off git's proxies, the environment's too: a proxy would read
    // the token sent in the clear to a loopback remote.
    let loopback = reqwest::Url::parse(url).is_ok_and(|u| crate::http::is_loopback(&u));
    if loopback {
        settings.extend(["-c", "http.proxy="]);
    }
    settings
}

/// Writes a mirror's config anew: what ferret's clone wrote (bare, the origin and its mirror
/// refspec), keeping only the repository's format version and extensions (an object format)
/// from what is there. Anything else a shared cache may have planted (a credential helper, a
/// proxy, `http.sslVerify`, hooks, alternates) is dropped.
fn reset_config(mirror: &Path, clone_url: &str) -> Result<(), MirrorError> {
    let config = mirror.join("config");
    let kept = Command::new("git")
        .args(["config", "--file"])
        .arg(&config)
        .args([
            "--get-regexp",
            r"^(core\.repositoryformatversion|extensions\..*)$",
        ])
        .output()
        .map_err(MirrorError::Spawn)?;
    let mut text = String::from("[core]\n\tbare = true\n");
    text.push_str("[remote \"origin\"]\n\tfetch = +refs/*:refs/*\n\tmirror = true\n");
    std::fs::write(&config, text).map_err(MirrorError::Config)?;
    let mut settings: Vec<(String, String)> = String::from_utf8_lossy(&kept.stdout)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    settings.push(("remote.origin.url".to_string(), clone_url.to_string()));
    for (key, value) in settings {
        let status = Command::new("git")
            .args(["config", "--file"])
            .arg(&config)
            .args(["--", &key, &value])
            .status()
            .map_err(MirrorError::Spawn)?;
        if !status.success() {
            return Err(MirrorError::ConfigKey { key });
        }
    }
    let _ = std::fs::remove_file(mirror.join("objects/info/alternates"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_the_git_origin_exactly() {
        let github = Origin::of(&git_base_for("https://api.github.com")).unwrap();
        assert!(gets_token("https://github.com/acme/api.git", &github));
        assert!(!gets_token("https://github.com:8443/acme/api.git", &github));
        assert!(!gets_token("https://evil.example/acme/api.git", &github));
        assert!(!gets_token("http://github.com/acme/api.git", &github));
        assert!(!gets_token("git://github.com/acme/api.git", &github));
        assert!(!gets_token("file:///tmp/acme/api.git", &github));
        let enterprise = Origin::of(&git_base_for("https://ghe.acme.internal/api/v3")).unwrap();
        assert!(gets_token(
            "https://ghe.acme.internal/acme/api.git",
            &enterprise
        ));
        let loopback = Origin::of("http://127.0.0.1:9418").unwrap();
        assert!(gets_token("http://127.0.0.1:9418/acme/api.git", &loopback));
        assert!(!gets_token("http://127.0.0.1:9419/acme/api.git", &loopback));
    }

    #[test]
    fn mirror_paths_stay_in_the_cache() {
        let mirrors = Mirrors::new(PathBuf::from("/cache"), None, "https://github.com");
        assert_eq!(
            mirrors.path_of("acme/api"),
            PathBuf::from("/cache/acme/api.git")
        );
        assert!(mirrors.path_of("../../etc/x").starts_with("/cache"));
        assert!(mirrors.path_of("/etc/x").starts_with("/cache"));
    }
}
