//! Org-wide sweeps (`ferret github`): enumerate an organization's (or a user's) repositories,
//! keep a bare mirror of each, scan each mirror's whole history (incrementally with
//! `--since-last`: only blobs no earlier sweep scanned, and nothing but the objects that held
//! secrets when the refs have not moved), and attribute every match to its repository.
//!
//! With `--since-last`, the listing is read with conditional requests (pages that did not
//! change answer 304), and a repository whose listed `pushed_at` is the one its last fetch saw
//! is not fetched at all: its earlier findings are read again from its mirror. Each repository
//! is still fetched once its last fetch is older than `--max-age`, and every one with
//! `--verify-all-refs`, since `pushed_at` does not move for every ref change. The others are
//! fetched `--fetch-concurrency` at a time while those already fetched are scanned.
//!
//! A repository that cannot be fetched or read is recorded and the sweep goes on. `--shard K/N`
//! takes the repositories whose name hashes to K, the same on every machine and every run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use gix::ObjectId;
use globset::{Glob, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};

use crate::finding::{CommitInfo, Location, Match, SourceRepository};
use crate::github::listing::{CachedPage, Listing};
use crate::github::repos::RepoInfo;
use crate::github::{GitHub, GitHubError};
use crate::matcher::Matcher;
use crate::progress::Progress;
use crate::secret::Secret;
use crate::sources::git::{self, GitError, GitOptions, ObjectIdSet};
use crate::sources::mirror::{MirrorError, Mirrors};
use crate::sources::{ScanContext, Warning};
use crate::store::StoreError;
use crate::store::sweep::{Remembered, Seen, StoredPage, Sweep, SweepState};

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
    /// Git objects larger than this are not scanned.
    pub max_object_size: u64,
    /// Also feed the organization's open `openai_api_key` secret-scanning alerts in.
    pub include_alerts: bool,
    /// The git host the token may be sent to (default: the one that goes with the API).
    pub git_base: Option<String>,
    /// Mirrors fetched at once.
    pub fetch_concurrency: usize,
    /// Fetch every repository, whatever its `pushed_at` says.
    pub verify_all_refs: bool,
    /// Fetch a repository whose last fetch is older than this (spread over half of it by name,
    /// so that repositories fetched together do not all fall due together).
    pub max_age: Option<Duration>,
    /// Hears how many repositories there are to sweep and each one swept.
    pub progress: Option<Arc<dyn Progress>>,
}

/// `--fetch-concurrency` unless given: fetches mostly wait for the network, not for a core.
pub const DEFAULT_FETCH_CONCURRENCY: usize = 8;

/// Why a sweep could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("cannot start the GitHub client")]
    Runtime(#[source] std::io::Error),
    #[error("--exclude `{pattern}`")]
    Exclude {
        pattern: String,
        #[source]
        source: globset::Error,
    },
    #[error("--exclude")]
    Excludes(#[source] globset::Error),
    /// Listing the repositories or the alerts failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    State(#[from] StoreError),
}

/// Why one repository could not be swept; the sweep goes on with the others.
#[derive(Debug, thiserror::Error)]
pub enum NotSwept {
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error("cannot open the mirror")]
    Open(#[source] gix::Error),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    State(#[from] StoreError),
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
    /// Repositories that could not be swept (`owner/name`), and why.
    pub failures: Vec<(String, NotSwept)>,
    /// Repositories whose refs had not moved since the last sweep.
    pub unchanged: usize,
    /// Of those, the ones not even fetched (their `pushed_at` had not moved).
    pub not_fetched: usize,
    /// Listing pages read, and how many of them answered 304 Not Modified.
    pub pages: usize,
    pub pages_not_modified: usize,
    pub objects: u64,
    pub bytes: u64,
    /// Blobs not scanned again because an earlier sweep did.
    pub skipped_blobs: u64,
    /// Objects of unchanged repositories read again because they held secrets.
    pub rechecked: u64,
    /// Findings of earlier sweeps no longer present.
    pub fixed: usize,
    pub alerts: usize,
    /// Places of a key in one object past the bound a scan keeps, counted.
    pub omitted: crate::matchset::Omitted,
}

impl SweepOutcome {
    /// Adds what sweeping `repo` found.
    fn add(&mut self, repo: RepoInfo, swept: SweptRepository) {
        if swept.unchanged {
            self.rechecked += swept.scan.objects;
        } else {
            self.objects += swept.scan.objects;
            self.bytes += swept.scan.bytes;
        }
        self.skipped_blobs += swept.scan.skipped_blobs;
        self.unchanged += usize::from(swept.unchanged);
        self.not_fetched += usize::from(!swept.fetched);
        self.fixed += swept.fixed;
        self.matches.extend(swept.scan.matches);
        self.omitted.merge(swept.scan.omitted);
        self.swept.push(Swept {
            repo,
            head: swept.head,
        });
    }
}

pub struct Sweeper {
    runtime: tokio::runtime::Runtime,
    github: GitHub,
}

impl Sweeper {
    pub fn new() -> Result<Self, SweepError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SweepError::Runtime)?;
        Ok(Sweeper {
            runtime,
            github: GitHub::from_env(),
        })
    }

    /// Runs the sweep; the context's `on_warning` hears about rate-limit waits and repositories
    /// that fail.
    pub fn sweep(
        &self,
        options: &SweepOptions,
        context: &ScanContext<'_>,
    ) -> Result<SweepOutcome, SweepError> {
        let say = |text: String| (context.on_warning)(&Warning(text));
        let exclude = globs(&options.exclude)?;
        let mut state = match &options.state {
            Some(path) => Some(SweepState::open(path)?),
            None => None,
        };
        let mut outcome = SweepOutcome::default();
        let listed = self.runtime.block_on(self.enumerate(
            &options.targets,
            state.as_mut().filter(|_| options.since_last),
            &mut outcome,
            &say,
        ))?;
        let mut seen_names = std::collections::HashSet::new();
        let repos: Vec<RepoInfo> = listed
            .into_iter()
            .filter(|repo| seen_names.insert(repo.full_name.to_ascii_lowercase()))
            .filter(|repo| chosen(repo, options, &exclude))
            .collect();
        let git_base = options
            .git_base
            .clone()
            .unwrap_or_else(|| crate::sources::mirror::git_base_for(self.github.base()));
        let mirrors = Mirrors::new(options.cache.clone(), self.github.token(), &git_base);
        let remembered = match (&state, options.since_last) {
            (Some(state), true) => state.remembered()?,
            _ => HashMap::new(),
        };
        let plan = Plan::new(&repos, &remembered, &mirrors, options);
        if let Some(progress) = &options.progress {
            progress.more_to_do(repos.len() as u64);
        }
        let results = plan.run(&repos, &mirrors, state.as_mut(), options, context);
        for (repo, result) in repos.into_iter().zip(results) {
            match result {
                Ok(swept) => outcome.add(repo, swept),
                Err(err) => {
                    let reason = crate::error::chain(&err);
                    say(format!("{}: not swept: {reason}", repo.full_name));
                    if let Some(state) = &state {
                        // The failure is already reported; the state only keeps it for later.
                        let _ = state.record_failure(&repo.full_name, &reason);
                    }
                    outcome.failures.push((repo.full_name, err));
                }
            }
        }
        if options.include_alerts
            && let Some(org) = &options.targets.org
        {
            self.add_alerts(org, options, context, &mut outcome)?;
        }
        Ok(outcome)
    }

    /// Every repository named by the targets; listings are read against the pages the state
    /// kept, and the pages read are kept for next time.
    async fn enumerate(
        &self,
        targets: &Targets,
        mut state: Option<&mut SweepState>,
        outcome: &mut SweepOutcome,
        say: &dyn Fn(String),
    ) -> Result<Vec<RepoInfo>, SweepError> {
        let mut repos = Vec::new();
        let owners = [(&targets.org, "org"), (&targets.user, "user")];
        for (owner, kind) in owners {
            let Some(owner) = owner else { continue };
            let key = format!("{kind}:{owner}");
            let earlier = match &state {
                Some(state) => cached_pages(state.listing_pages(&key)?),
                None => Vec::new(),
            };
            let listing: Listing = if kind == "org" {
                self.github.org_repos_listing(owner, &earlier, say).await?
            } else {
                self.github.user_repos_listing(owner, &earlier, say).await?
            };
            outcome.pages += listing.pages.len();
            outcome.pages_not_modified += listing.not_modified;
            if let Some(state) = state.as_deref_mut() {
                state.keep_listing(&key, &stored_pages(&listing.pages))?;
            }
            repos.extend(listing.repos);
        }
        for full_name in &targets.repos {
            repos.push(self.github.repo(full_name, say).await?);
        }
        Ok(repos)
    }

    /// Adds the keys of the organization's open secret-scanning alerts (this shard's).
    fn add_alerts(
        &self,
        org: &str,
        options: &SweepOptions,
        context: &ScanContext<'_>,
        outcome: &mut SweepOutcome,
    ) -> Result<(), GitHubError> {
        let say = |text: String| (context.on_warning)(&Warning(text));
        let alerts = self
            .runtime
            .block_on(self.github.openai_alerts(org, &say))?;
        outcome.alerts = alerts.len();
        for alert in alerts {
            if options.shard.is_none_or(|s| s.takes(&alert.repository)) {
                outcome
                    .matches
                    .extend(alert_matches(alert, context.matcher, &say));
            }
        }
        Ok(())
    }

    /// Uploads one repository's SARIF to its code scanning.
    pub fn upload_sarif(
        &self,
        repository: &str,
        commit_sha: &str,
        git_ref: &str,
        sarif: &[u8],
        on_warning: &dyn Fn(String),
    ) -> Result<String, GitHubError> {
        self.runtime.block_on(
            self.github
                .upload_sarif(repository, commit_sha, git_ref, sarif, on_warning),
        )
    }
}

/// Whether the options take `repo`: a fork or an archived repository only when asked, not
/// excluded, and in this shard.
fn chosen(repo: &RepoInfo, options: &SweepOptions, exclude: &GlobSet) -> bool {
    (options.include_forks || !repo.fork)
        && (options.include_archived || !repo.archived)
        && !exclude.is_match(&repo.full_name)
        && options.shard.is_none_or(|s| s.takes(&repo.full_name))
}

fn globs(patterns: &[String]) -> Result<GlobSet, SweepError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|source| SweepError::Exclude {
            pattern: pattern.clone(),
            source,
        })?;
        builder.add(glob);
    }
    builder.build().map_err(SweepError::Excludes)
}

struct SweptRepository {
    scan: git::GitScan,
    unchanged: bool,
    /// Whether its mirror was fetched (else its `pushed_at` said nothing changed).
    fetched: bool,
    fixed: usize,
    head: Option<(String, String)>,
}

/// Which repositories are fetched and which are not (their listing says nothing changed).
struct Plan {
    /// Indexes into the repositories, in listing order.
    fetch: Vec<usize>,
    unfetched: Vec<(usize, Remembered)>,
}

/// What a fetcher tells the sweep.
enum Fetched {
    Warning(String),
    Mirror(usize, Result<PathBuf, MirrorError>),
}

impl Plan {
    fn new(
        repos: &[RepoInfo],
        remembered: &HashMap<String, Remembered>,
        mirrors: &Mirrors,
        options: &SweepOptions,
    ) -> Plan {
        let now = crate::store::now_seconds();
        let mut plan = Plan {
            fetch: Vec::new(),
            unfetched: Vec::new(),
        };
        for (index, repo) in repos.iter().enumerate() {
            match remembered.get(&repo.full_name) {
                Some(earlier) if need_not_fetch(repo, earlier, mirrors, options, now) => {
                    plan.unfetched.push((index, earlier.clone()));
                }
                _ => plan.fetch.push(index),
            }
        }
        plan
    }

    /// Fetches `fetch_concurrency` mirrors at a time on threads of their own, while this
    /// thread reports the unfetched repositories and scans each mirror once it is fetched.
    /// The results are in the repositories' order.
    fn run(
        self,
        repos: &[RepoInfo],
        mirrors: &Mirrors,
        mut state: Option<&mut SweepState>,
        options: &SweepOptions,
        context: &ScanContext<'_>,
    ) -> Vec<Result<SweptRepository, NotSwept>> {
        let say = |text: String| (context.on_warning)(&Warning(text));
        let mut results: Vec<Option<Result<SweptRepository, NotSwept>>> =
            repos.iter().map(|_| None).collect();
        let next = AtomicUsize::new(0);
        let fetch = &self.fetch;
        std::thread::scope(|scope| {
            let (sender, receiver) = mpsc::channel();
            let fetchers = options.fetch_concurrency.max(1).min(fetch.len());
            for _ in 0..fetchers {
                let (sender, next) = (sender.clone(), &next);
                scope.spawn(move || fetcher(repos, fetch, next, mirrors, &sender));
            }
            drop(sender);
            for (index, earlier) in self.unfetched {
                let state = state.as_deref();
                let result =
                    report_unfetched(&repos[index], earlier, mirrors, state, options, context);
                results[index] = Some(result);
                swept_one(options);
            }
            for event in receiver {
                match event {
                    Fetched::Warning(text) => say(text),
                    Fetched::Mirror(index, mirror) => {
                        let result = mirror.map_err(NotSwept::from).and_then(|path| {
                            let state = state.as_deref_mut();
                            sweep_fetched(&repos[index], &path, state, options, context)
                        });
                        results[index] = Some(result);
                        swept_one(options);
                    }
                }
            }
        });
        results
            .into_iter()
            .map(|r| r.expect("every repository was fetched or reported"))
            .collect()
    }
}

/// Tells the progress one more repository was swept (or failed).
fn swept_one(options: &SweepOptions) {
    if let Some(progress) = &options.progress {
        progress.done(1);
    }
}

/// One fetching thread: takes the next repository to fetch until none is left.
fn fetcher(
    repos: &[RepoInfo],
    fetch: &[usize],
    next: &AtomicUsize,
    mirrors: &Mirrors,
    sender: &mpsc::Sender<Fetched>,
) {
    while let Some(&index) = fetch.get(next.fetch_add(1, Ordering::Relaxed)) {
        let repo = &repos[index];
        let warn = |text: String| {
            let _ = sender.send(Fetched::Warning(text));
        };
        let mirror = mirrors.update(&repo.full_name, &repo.clone_url, &warn);
        if sender.send(Fetched::Mirror(index, mirror)).is_err() {
            return;
        }
    }
}

/// Whether `repo` need not be fetched: swept before without failing, listed with the
/// `pushed_at` its last fetch saw, its mirror still there, fetched within `--max-age`, and
/// `--verify-all-refs` not given.
fn need_not_fetch(
    repo: &RepoInfo,
    earlier: &Remembered,
    mirrors: &Mirrors,
    options: &SweepOptions,
    now: i64,
) -> bool {
    let unmoved = repo.pushed_at.is_some() && earlier.pushed_at == repo.pushed_at;
    let fresh = match (options.max_age, earlier.checked_at) {
        (None, _) => true,
        (Some(max_age), Some(checked_at)) => {
            let age = Duration::from_secs(now.saturating_sub(checked_at).max(0) as u64);
            age < spread(max_age, &repo.full_name)
        }
        (Some(_), None) => false,
    };
    options.since_last
        && !options.verify_all_refs
        && earlier.swept
        && !earlier.failed
        && unmoved
        && fresh
        && mirrors.path_of(&repo.full_name).join("HEAD").is_file()
}

/// Between half of `max_age` and all of it, the same for a name every run: repositories first
/// swept together fall due on different runs instead of all on one.
fn spread(max_age: Duration, full_name: &str) -> Duration {
    let digest = Sha256::digest(full_name.to_ascii_lowercase().as_bytes());
    let fraction = f64::from(u16::from_be_bytes([digest[0], digest[1]])) / 65_536.0;
    max_age.mul_f64(0.5 + fraction / 2.0)
}

/// An unfetched repository: its earlier findings, read again from its mirror (the objects that
/// held secrets), so that they stay reported.
fn report_unfetched(
    info: &RepoInfo,
    earlier: Remembered,
    mirrors: &Mirrors,
    state: Option<&SweepState>,
    options: &SweepOptions,
    context: &ScanContext<'_>,
) -> Result<SweptRepository, NotSwept> {
    let matched = match state {
        Some(state) => state.matched_objects(&info.full_name)?,
        None => Vec::new(),
    };
    let mut scan = git::GitScan::default();
    if !matched.is_empty() {
        let repo = gix::open(mirrors.path_of(&info.full_name)).map_err(NotSwept::Open)?;
        let git_options = GitOptions {
            threads: options.threads,
            max_object_size: options.max_object_size,
            ..GitOptions::default()
        };
        scan = git::rescan_objects(&repo, &matched, &git_options, context)?;
        attribute(&mut scan, info);
    }
    Ok(SweptRepository {
        scan,
        unchanged: true,
        fetched: false,
        fixed: 0,
        head: earlier.head,
    })
}

/// Sets the repository of every match.
fn attribute(scan: &mut git::GitScan, info: &RepoInfo) {
    let repository = Arc::new(SourceRepository {
        full_name: info.full_name.clone(),
        html_url: info.html_url.clone(),
    });
    for m in &mut scan.matches {
        m.location.repository = Some(repository.clone());
    }
}

/// Scans what is new in one repository's freshly fetched mirror.
fn sweep_fetched(
    info: &RepoInfo,
    path: &Path,
    state: Option<&mut SweepState>,
    options: &SweepOptions,
    context: &ScanContext<'_>,
) -> Result<SweptRepository, NotSwept> {
    let repo = gix::open(path).map_err(NotSwept::Open)?;
    let refs = git::ref_targets(&repo)?;
    let tips = tips_digest(&refs);
    let earlier = match (&state, options.since_last) {
        (Some(state), true) => Some(Earlier {
            tips: state.tips(&info.full_name)?,
            scanned: state.scanned(&info.full_name)?,
        }),
        _ => None,
    };
    let unchanged = earlier
        .as_ref()
        .is_some_and(|earlier| earlier.tips.as_deref() == Some(tips.as_str()));
    let git_options = GitOptions {
        threads: options.threads,
        collect_blob_ids: state.is_some(),
        max_object_size: options.max_object_size,
        ..GitOptions::default()
    };
    let mut scan = scan_mirror(&repo, earlier, unchanged, git_options, context)?;
    attribute(&mut scan, info);
    let head = default_head(info, &refs);
    let fixed = match state {
        Some(state) => {
            let sweep = Sweep {
                tips: &tips,
                pushed_at: info.pushed_at.as_deref(),
                head: head.as_ref(),
            };
            record_sweep(state, &info.full_name, &sweep, &mut scan, context.matcher)?
        }
        None => 0,
    };
    Ok(SweptRepository {
        scan,
        unchanged,
        fetched: true,
        fixed,
        head,
    })
}

/// What the sweep state remembers of a repository's last sweep.
struct Earlier {
    tips: Option<String>,
    /// Blobs scanned then, and the objects that held secrets.
    scanned: (ObjectIdSet, Vec<ObjectId>),
}

/// A digest of every ref and its target: equal when the refs have not moved.
fn tips_digest(refs: &[(String, ObjectId)]) -> String {
    hex::encode(Sha256::digest(
        refs.iter()
            .map(|(name, id)| format!("{name} {id}\n"))
            .collect::<String>(),
    ))
}

/// Scans a mirror: the whole history; with an earlier sweep, only blobs it did not scan (plus
/// the objects that held secrets then, so their findings stay reported); with refs that have
/// not moved, only those objects.
fn scan_mirror(
    repo: &gix::Repository,
    earlier: Option<Earlier>,
    unchanged: bool,
    options: GitOptions,
    context: &ScanContext<'_>,
) -> Result<git::GitScan, GitError> {
    match earlier {
        Some(Earlier {
            scanned: (_, matched),
            ..
        }) if unchanged => git::rescan_objects(repo, &matched, &options, context),
        Some(Earlier {
            scanned: (mut scanned, matched),
            ..
        }) => {
            for id in &matched {
                scanned.remove(id);
            }
            let history = GitOptions {
                skip_blobs: Some(Arc::new(scanned)),
                ..options
            };
            git::scan_history(repo, &history, context)
        }
        None => git::scan_history(repo, &options, context),
    }
}

/// Records the sweep of `name` in the state; returns how many earlier findings are fixed.
fn record_sweep(
    state: &mut SweepState,
    name: &str,
    sweep: &Sweep<'_>,
    scan: &mut git::GitScan,
    matcher: &Matcher,
) -> Result<usize, StoreError> {
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
    let fixed = state.record_sweep(name, sweep, &new_blobs, &scan.matched_objects, &seen)?;
    Ok(fixed.len())
}

/// The default branch's commit and ref, when the mirror has it.
fn default_head(info: &RepoInfo, refs: &[(String, ObjectId)]) -> Option<(String, String)> {
    let name = format!("refs/heads/{}", info.default_branch.as_ref()?);
    refs.iter()
        .find(|(r, _)| *r == name)
        .map(|(_, id)| (id.to_string(), name))
}

/// Listing pages as the state keeps them (a page that no longer reads is left out: it is
/// simply read again).
fn cached_pages(stored: Vec<StoredPage>) -> Vec<CachedPage> {
    stored
        .into_iter()
        .filter_map(|page| {
            Some(CachedPage {
                items: serde_json::from_str(&page.items).ok()?,
                url: page.url,
                etag: page.etag,
                next: page.next,
            })
        })
        .collect()
}

/// Listing pages to keep in the state.
fn stored_pages(pages: &[CachedPage]) -> Vec<StoredPage> {
    pages
        .iter()
        .filter(|page| !page.etag.is_empty())
        .map(|page| StoredPage {
            url: page.url.clone(),
            etag: page.etag.clone(),
            next: page.next.clone(),
            items: serde_json::to_string(&page.items).unwrap_or_default(),
        })
        .collect()
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
