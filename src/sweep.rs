//! Org-wide sweeps (`ferret github`): enumerate an organization's (or a user's) repositories,
//! keep a bare mirror of each, scan each mirror's whole history (incrementally with
//! `--since-last`: only blobs no earlier sweep scanned, and nothing but the objects that held
//! secrets when the refs have not moved), and attribute every match to its repository.
//!
//! A repository that cannot be fetched or read is recorded and the sweep goes on. `--shard K/N`
//! takes the repositories whose name hashes to K, the same on every machine and every run.

use std::path::PathBuf;
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};

use crate::finding::{CommitInfo, Location, Match, SourceRepository};
use crate::github::GitHub;
use crate::github::repos::RepoInfo;
use crate::matcher::Matcher;
use crate::secret::Secret;
use crate::sources::Warning;
use crate::sources::contents::ArchiveLimits;
use crate::sources::git::{self, GitOptions};
use crate::sources::mirror::Mirrors;
use crate::store::sweep::{Seen, SweepState};

/// Which repositories to sweep.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    pub org: Option<String>,
    pub user: Option<String>,
    /// `owner/name`.
    pub repos: Vec<String>,
}

/// `--shard K/N`: the K-th of N (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not K/N with 1 <= K <= N (e.g. 2/8)");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<u64>().map_err(|_| bad())?,
            n.trim().parse::<u64>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether this shard sweeps `full_name`: SHA-256 of the lowercased name, modulo N.
    pub fn takes(&self, full_name: &str) -> bool {
        let digest = Sha256::digest(full_name.to_ascii_lowercase().as_bytes());
        let hash = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        hash % self.count == self.index - 1
    }
}

pub struct SweepOptions {
    pub targets: Targets,
    pub include_forks: bool,
    pub include_archived: bool,
    /// Globs on `owner/name` of repositories to leave out.
    pub exclude: Vec<String>,
    pub cache: PathBuf,
    pub state: Option<PathBuf>,
    pub since_last: bool,
    pub shard: Option<Shard>,
    pub threads: usize,
    /// How far archives in blobs are opened.
    pub archives: ArchiveLimits,
    /// Git objects larger than this are not scanned.
    pub max_object_size: u64,
    /// Also feed the organization's open `openai_api_key` secret-scanning alerts in.
    pub include_alerts: bool,
    /// The git host the token may be sent to (default: the one that goes with the API).
    pub git_base: Option<String>,
}

/// One repository swept.
pub struct Swept {
    pub repo: RepoInfo,
    /// The default branch's commit and ref, for uploading SARIF.
    pub head: Option<(String, String)>,
}

/// What a sweep found and did.
#[derive(Default)]
pub struct SweepOutcome {
    pub matches: Vec<Match>,
    pub swept: Vec<Swept>,
    /// `(owner/name, reason)` of repositories that could not be swept.
    pub failures: Vec<(String, String)>,
    /// Repositories whose refs had not moved since the last sweep.
    pub unchanged: usize,
    pub objects: u64,
    pub bytes: u64,
    /// Blobs not scanned again because an earlier sweep did.
    pub skipped_blobs: u64,
    /// Objects of unchanged repositories read again because they held secrets.
    pub rechecked: u64,
    /// Findings of earlier sweeps no longer present.
    pub fixed: usize,
    pub alerts: usize,
}

pub struct Sweeper {
    runtime: tokio::runtime::Runtime,
    github: GitHub,
}

impl Sweeper {
    pub fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the GitHub client: {e}"))?;
        Ok(Sweeper {
            runtime,
            github: GitHub::from_env(),
        })
    }

    /// Runs the sweep; `on_warning` hears about rate-limit waits and repositories that fail.
    pub fn sweep(
        &self,
        options: &SweepOptions,
        matcher: &Matcher,
        on_warning: &(dyn Fn(&Warning) + Sync),
    ) -> Result<SweepOutcome, String> {
        let say = |text: String| on_warning(&Warning(text));
        let exclude = globs(&options.exclude)?;
        let repos = self
            .runtime
            .block_on(self.enumerate(&options.targets, &say))?;
        let git_base = options
            .git_base
            .clone()
            .unwrap_or_else(|| crate::sources::mirror::git_base_for(self.github.base()));
        let mirrors = Mirrors::new(options.cache.clone(), self.github.token(), &git_base);
        let mut state = match &options.state {
            Some(path) => Some(SweepState::open(path).map_err(|e| e.to_string())?),
            None => None,
        };
        let mut outcome = SweepOutcome::default();
        let mut seen_names = std::collections::HashSet::new();
        for repo in repos {
            let name = repo.full_name.to_ascii_lowercase();
            let chosen = seen_names.insert(name)
                && (options.include_forks || !repo.fork)
                && (options.include_archived || !repo.archived)
                && !exclude.is_match(&repo.full_name)
                && options.shard.is_none_or(|s| s.takes(&repo.full_name));
            if !chosen {
                continue;
            }
            match sweep_one(
                &repo,
                &mirrors,
                state.as_mut(),
                options,
                matcher,
                on_warning,
            ) {
                Ok(swept) => {
                    if swept.unchanged {
                        outcome.rechecked += swept.scan.objects;
                    } else {
                        outcome.objects += swept.scan.objects;
                        outcome.bytes += swept.scan.bytes;
                    }
                    outcome.skipped_blobs += swept.scan.skipped_blobs;
                    outcome.unchanged += usize::from(swept.unchanged);
                    outcome.fixed += swept.fixed;
                    outcome.matches.extend(swept.scan.matches);
                    outcome.swept.push(Swept {
                        repo,
                        head: swept.head,
                    });
                }
                Err(reason) => {
                    say(format!("{}: not swept: {reason}", repo.full_name));
                    if let Some(state) = &state {
                        // The failure is already reported; the state only keeps it for later.
                        let _ = state.record_failure(&repo.full_name, &reason);
                    }
                    outcome.failures.push((repo.full_name, reason));
                }
            }
        }
        if options.include_alerts
            && let Some(org) = &options.targets.org
        {
            let alerts = self
                .runtime
                .block_on(self.github.openai_alerts(org, &say))?;
            outcome.alerts = alerts.len();
            for alert in alerts {
                if !options.shard.is_none_or(|s| s.takes(&alert.repository)) {
                    continue;
                }
                outcome.matches.extend(alert_matches(alert, matcher, &say));
            }
        }
        Ok(outcome)
    }

    /// Every repository named by the targets.
    async fn enumerate(
        &self,
        targets: &Targets,
        say: &dyn Fn(String),
    ) -> Result<Vec<RepoInfo>, String> {
        let mut repos = Vec::new();
        if let Some(org) = &targets.org {
            repos.extend(self.github.org_repos(org, say).await?);
        }
        if let Some(user) = &targets.user {
            repos.extend(self.github.user_repos(user, say).await?);
        }
        for full_name in &targets.repos {
            repos.push(self.github.repo(full_name, say).await?);
        }
        Ok(repos)
    }

    /// Uploads one repository's SARIF to its code scanning.
    pub fn upload_sarif(
        &self,
        repository: &str,
        commit_sha: &str,
        git_ref: &str,
        sarif: &[u8],
        on_warning: &dyn Fn(String),
    ) -> Result<String, String> {
        self.runtime.block_on(
            self.github
                .upload_sarif(repository, commit_sha, git_ref, sarif, on_warning),
        )
    }
}

fn globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(Glob::new(pattern).map_err(|e| format!("--exclude `{pattern}`: {e}"))?);
    }
    builder.build().map_err(|e| e.to_string())
}

struct SweptRepository {
    scan: git::GitScan,
    unchanged: bool,
    fixed: usize,
    head: Option<(String, String)>,
}

/// Fetches one repository's mirror and scans what is new in it.
fn sweep_one(
    info: &RepoInfo,
    mirrors: &Mirrors,
    state: Option<&mut SweepState>,
    options: &SweepOptions,
    matcher: &Matcher,
    on_warning: &(dyn Fn(&Warning) + Sync),
) -> Result<SweptRepository, String> {
    let say = |text: String| on_warning(&Warning(text));
    let path = mirrors
        .update(&info.full_name, &info.clone_url, &say)
        .map_err(|e| e.reason)?;
    let repo = gix::open(&path).map_err(|e| format!("cannot open the mirror: {e}"))?;
    let refs = git::ref_targets(&repo).map_err(|e| e.to_string())?;
    let tips = hex::encode(Sha256::digest(
        refs.iter()
            .map(|(name, id)| format!("{name} {id}\n"))
            .collect::<String>(),
    ));
    let git_options = GitOptions {
        threads: options.threads,
        collect_blob_ids: state.is_some(),
        max_object_size: options.max_object_size,
        ..GitOptions::default()
    };
    let earlier = match (&state, options.since_last) {
        (Some(state), true) => Some((
            state.tips(&info.full_name).map_err(|e| e.to_string())?,
            state.scanned(&info.full_name).map_err(|e| e.to_string())?,
        )),
        _ => None,
    };
    let unchanged = earlier
        .as_ref()
        .is_some_and(|(old_tips, _)| old_tips.as_deref() == Some(tips.as_str()));
    let mut scan = match earlier {
        Some((_, (_, matched))) if unchanged => git::rescan_objects(
            &repo,
            matcher,
            &matched,
            &git_options,
            &options.archives,
            on_warning,
        ),
        Some((_, (mut scanned, matched))) => {
            // Objects that held secrets are scanned again, so their findings stay reported.
            for id in &matched {
                scanned.remove(id);
            }
            let history = GitOptions {
                skip_blobs: Some(Arc::new(scanned)),
                ..git_options
            };
            git::scan_history(&repo, matcher, &history, &options.archives, on_warning)
        }
        None => git::scan_history(&repo, matcher, &git_options, &options.archives, on_warning),
    }
    .map_err(|e| e.to_string())?;
    let repository = Arc::new(SourceRepository {
        full_name: info.full_name.clone(),
        html_url: info.html_url.clone(),
    });
    for m in &mut scan.matches {
        m.location.repository = Some(repository.clone());
    }
    let fixed = match state {
        Some(state) => {
            let seen: Vec<Seen> = scan
                .matches
                .iter()
                .map(|m| Seen {
                    fingerprint: m.secret.fingerprint().0,
                    rule: matcher.rules()[m.rule].id.clone(),
                    path: m.location.path.clone(),
                    commit: m
                        .location
                        .commit
                        .as_ref()
                        .map(|c| c.id.clone())
                        .unwrap_or_default(),
                })
                .collect();
            let new_blobs = std::mem::take(&mut scan.scanned_blobs);
            state
                .record_sweep(
                    &info.full_name,
                    &tips,
                    &new_blobs,
                    &scan.matched_objects,
                    &seen,
                )
                .map_err(|e| e.to_string())?
                .len()
        }
        None => 0,
    };
    let head = info.default_branch.as_ref().and_then(|branch| {
        let name = format!("refs/heads/{branch}");
        refs.iter()
            .find(|(r, _)| *r == name)
            .map(|(_, id)| (id.to_string(), name))
    });
    Ok(SweptRepository {
        scan,
        unchanged,
        fixed,
        head,
    })
}

/// The matches of one secret-scanning alert: its key at each place GitHub saw it.
fn alert_matches(
    alert: crate::github::alerts::OpenAiAlert,
    matcher: &Matcher,
    say: &dyn Fn(String),
) -> Vec<Match> {
    let Some(found) = matcher
        .locate_all(alert.secret.as_bytes())
        .into_iter()
        .next()
    else {
        say(format!(
            "{}: secret-scanning alert #{} holds no key ferret's rules recognise",
            alert.repository, alert.number
        ));
        return Vec::new();
    };
    let repository = Arc::new(SourceRepository {
        full_name: alert.repository.clone(),
        html_url: alert.repository_url.clone(),
    });
    let secret = Secret::new(alert.secret.into_bytes());
    let at = |path: String, line: u64, column: u64, commit: Option<String>| Match {
        rule: found.rule,
        secret: secret.clone(),
        location: Location {
            path,
            line,
            column,
            commit: commit.map(|id| CommitInfo {
                id,
                author: String::new(),
                date: String::new(),
                refs: Vec::new(),
            }),
            repository: Some(repository.clone()),
            decoded: None,
            entry: None,
            cell: None,
        },
    };
    if alert.locations.is_empty() {
        return vec![at(
            format!("(secret-scanning alert #{})", alert.number),
            1,
            1,
            None,
        )];
    }
    alert
        .locations
        .into_iter()
        .map(|l| {
            at(
                l.path,
                l.start_line.max(1),
                l.start_column.unwrap_or(1).max(1),
                l.commit_sha,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_names_stably() {
        let names: Vec<String> = (0..200).map(|i| format!("acme/repo-{i}")).collect();
        let shards: Vec<Shard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for name in &names {
            let takers = shards.iter().filter(|s| s.takes(name)).count();
            assert_eq!(takers, 1, "{name}");
            assert_eq!(shards[0].takes(name), shards[0].takes(&name.to_uppercase()));
        }
        assert!(shards.iter().all(|s| names.iter().any(|n| s.takes(n))));
        assert!("0/3".parse::<Shard>().is_err() && "4/3".parse::<Shard>().is_err());
    }
}
