//! Bare mirrors of remote repositories in a cache directory: cloned the first time, fetched
//! (and pruned) after that, with the git CLI, which speaks every protocol and credential setup
//! a git host offers.
//!
//! A token reaches git only through the environment of the git process (an
//! `http.extraHeader` given with `GIT_CONFIG_COUNT`), and only when the clone URL is on the
//! API's host and over HTTPS (or plain HTTP to loopback): it is never written into a mirror's
//! config, never on a command line, never printed (git's messages are searched for it before
//! they are shown). A git given the token follows no redirect: one that does sends the clone's
//! later requests, extra headers and all, to wherever the redirect led.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

#[derive(Debug, thiserror::Error)]
#[error("{repository}: {reason}")]
pub struct MirrorError {
    pub repository: String,
    pub reason: String,
}

pub struct Mirrors {
    dir: PathBuf,
    /// The token and the API host it belongs to.
    token: Option<(String, String)>,
}

impl Mirrors {
    /// Mirrors under `dir`; `token` is sent only to clone URLs on `api_base`'s host (or, for
    /// `api.HOST`, on `HOST`).
    pub fn new(dir: PathBuf, token: Option<&str>, api_base: &str) -> Self {
        let api_host = url::Url::parse(api_base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        Mirrors {
            dir,
            token: token.map(|t| (t.to_string(), api_host)),
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
        let fail = |reason: String| MirrorError {
            repository: full_name.to_string(),
            reason,
        };
        let path = self.path_of(full_name);
        if !path.join("HEAD").is_file() {
            self.clone_into_place(&path, clone_url).map_err(fail)?;
            return Ok(path);
        }
        // The URL may have changed (a renamed repository); it holds no credentials.
        let fetched = self
            .git(
                &path,
                &["remote", "set-url", "origin", clone_url],
                clone_url,
            )
            .and_then(|()| self.git(&path, &["fetch", "--prune", "--quiet", "origin"], clone_url));
        let Err(reason) = fetched else {
            return Ok(path);
        };
        // A git killed half way through a fetch (an interrupted sweep) leaves lock files behind
        // that fail every later fetch, and maybe a damaged mirror: clone it anew. When that
        // fails too (the repository is gone, the network is down), the fetch's reason stands.
        self.clone_into_place(&path, clone_url)
            .map_err(|_| fail(reason.clone()))?;
        warn(format!(
            "{full_name}: the mirror could not be fetched ({reason}); cloned it anew"
        ));
        Ok(path)
    }

    /// Clones `clone_url` beside `path` and moves it in whole, replacing what is there: an
    /// interrupted clone leaves no mirror, an interrupted swap at worst none (cloned next time).
    fn clone_into_place(&self, path: &Path, clone_url: &str) -> Result<(), String> {
        let parent = path.parent().unwrap_or(&self.dir);
        crate::fs::create_private_dir(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let partial = path.with_extension("git.partial");
        let old = path.with_extension("git.old");
        let _ = std::fs::remove_dir_all(&partial);
        let _ = std::fs::remove_dir_all(&old);
        let target = partial.to_string_lossy().into_owned();
        let cloned = self.git(
            parent,
            &["clone", "--mirror", "--quiet", clone_url, &target],
            clone_url,
        );
        if let Err(reason) = cloned {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(reason);
        }
        if path.exists() {
            std::fs::rename(path, &old)
                .map_err(|e| format!("cannot move the old mirror away: {e}"))?;
        }
        std::fs::rename(&partial, path)
            .map_err(|e| format!("cannot move the clone into place: {e}"))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Runs git in `dir`; the error is git's last message line, without the token.
    fn git(&self, dir: &Path, args: &[&str], url: &str) -> Result<(), String> {
        let mut command = Command::new("git");
        command
            .current_dir(dir)
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
            .filter(|(_, host)| gets_token(url, host));
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
        let output = command
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
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
        Err(message)
    }
}

/// Whether git may be given the token for `url`: on the API's host, over HTTPS (or plain HTTP
/// to a loopback address, as the API's own base may be).
fn gets_token(url: &str, api_host: &str) -> bool {
    same_host(url, api_host) && crate::verify::checked_api_base(url).is_ok()
}

/// Whether `url` is on the API's host: the same host, or `HOST` for the API `api.HOST`.
fn same_host(url: &str, api_host: &str) -> bool {
    let Some(host) = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    let api_host = api_host.to_ascii_lowercase();
    host == api_host || api_host.strip_prefix("api.") == Some(host.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_the_apis_host() {
        assert!(same_host(
            "https://github.com/acme/api.git",
            "api.github.com"
        ));
        assert!(same_host(
            "https://ghe.acme.internal/acme/api.git",
            "ghe.acme.internal"
        ));
        assert!(same_host("http://127.0.0.1:9418/acme/api.git", "127.0.0.1"));
        assert!(!same_host(
            "https://evil.example/acme/api.git",
            "api.github.com"
        ));
        assert!(!same_host("file:///tmp/acme/api.git", "api.github.com"));
    }

    #[test]
    fn the_token_never_goes_over_plain_http_off_loopback() {
        assert!(gets_token(
            "https://github.com/acme/api.git",
            "api.github.com"
        ));
        assert!(gets_token(
            "http://127.0.0.1:9418/acme/api.git",
            "127.0.0.1"
        ));
        assert!(!gets_token(
            "http://github.com/acme/api.git",
            "api.github.com"
        ));
        assert!(!gets_token(
            "git://github.com/acme/api.git",
            "api.github.com"
        ));
    }

    #[test]
    fn mirror_paths_stay_in_the_cache() {
        let mirrors = Mirrors::new(PathBuf::from("/cache"), None, "https://api.github.com");
        assert_eq!(
            mirrors.path_of("acme/api"),
            PathBuf::from("/cache/acme/api.git")
        );
        assert!(mirrors.path_of("../../etc/x").starts_with("/cache"));
        assert!(mirrors.path_of("/etc/x").starts_with("/cache"));
    }
}
