//! Nothing leaked: every command (dir, stdin, log, git, ci, github sweeps, verify, revoke dry
//! and real, merge, rules, hook) in every report format, over a corpus of keys of several
//! providers (built at run time, written plainly and encoded), and no full key comes out
//! anywhere: not on stdout or stderr, not in a report file, the ledger, the sweep state, the
//! verification cache, a SARIF upload, a GitHub issue, a webhook body or a command hook's
//! input. Only `--show-secrets` shows keys, in the report alone (the positive control that
//! the search below finds what it looks for), and every file that holds a secret or what is
//! derived from one is its owner's alone (0600, directories 0700).
//!
//! A key counts as leaked in any of the forms ferret can read it in: plain, base64 (both
//! alphabets, every alignment), UTF-16, hex, and the escaped forms the corpus uses.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use memchr::memmem;
use tempfile::TempDir;

use support::git::Repo;
use support::git_server::GitServer;
use support::github::{GitHubMock, RepoSpec};
use support::hostile::{HostileServer, Misbehaviour};
use support::openai_org::{FAST_CONFIRM, OpenAiOrg};
use support::providers::Kind;
use support::{Run, Served, Shape, describe_key};

const FORMATS: [&str; 5] = ["text", "json", "jsonl", "sarif", "github"];
const GITHUB_TOKEN: &str = "ghp_noleaktokenforthemocksonly000";

/// The keys of the corpus, and every form of them that must not come out.
struct Corpus {
    /// OpenAI: a user key and a service account's key of the organization, a legacy key of
    /// nobody's organization, and another admin key of the organization.
    user: String,
    service_account: String,
    legacy: String,
    admin: String,
    /// Other providers' keys, verified against a server that echoes them back.
    others: Vec<(Kind, String)>,
}

impl Corpus {
    fn new() -> Self {
        Corpus {
            user: Shape::Project74.key(),
            service_account: Shape::ServiceAccount74.key(),
            legacy: Shape::Legacy.key(),
            admin: Shape::Admin.key(),
            others: [
                Kind::Anthropic,
                Kind::Google,
                Kind::HuggingFace,
                Kind::Cohere,
            ]
            .into_iter()
            .map(|kind| (kind, kind.key()))
            .collect(),
        }
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys = vec![
            self.user.as_str(),
            self.service_account.as_str(),
            self.legacy.as_str(),
            self.admin.as_str(),
        ];
        keys.extend(self.others.iter().map(|(_, k)| k.as_str()));
        keys
    }

    /// The corpus's files: every key plainly, and the OpenAI keys again in base64, UTF-16,
    /// percent-encoded and JSON-escaped.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut plain = format!(
            "OPENAI_API_KEY={}\nSVC_KEY={}\nLEGACY_KEY={}\nOPENAI_ADMIN={}\n",
            self.user, self.service_account, self.legacy, self.admin
        );
        for (kind, key) in &self.others {
            plain.push_str(&kind.line(key));
            plain.push('\n');
        }
        vec![
            ("config/app.env".into(), plain.into_bytes()),
            (
                "k8s/secret.yaml".into(),
                format!(
                    "kind: Secret\ndata:\n  OPENAI_API_KEY: {}\n",
                    STANDARD.encode(&self.user)
                )
                .into_bytes(),
            ),
            (
                "win.txt".into(),
                utf16le(&format!("KEY={}\r\n", self.legacy)),
            ),
            (
                "query.log".into(),
                format!("GET /?k={} 200\n", self.service_account.replace('-', "%2D")).into_bytes(),
            ),
            (
                "app.json".into(),
                format!(
                    "{{\"admin\": \"{}\"}}\n",
                    self.admin.replace('-', "\\u002d")
                )
                .into_bytes(),
            ),
        ]
    }

    /// Every form of every key that must not come out.
    fn needles(&self) -> Vec<(String, Vec<u8>)> {
        let mut needles = Vec::new();
        for key in self.keys() {
            let who = describe_key(key);
            let mut forms: Vec<(&str, Vec<u8>)> = vec![
                ("plain", key.as_bytes().to_vec()),
                ("utf-16le", utf16le(key)),
                (
                    "utf-16be",
                    key.encode_utf16().flat_map(u16::to_be_bytes).collect(),
                ),
                ("hex", hex::encode(key).into_bytes()),
                ("percent", key.replace('-', "%2D").into_bytes()),
                ("json-escape", key.replace('-', "\\u002d").into_bytes()),
            ];
            // Base64 of the key at each alignment in a 3-byte group, in both alphabets: the
            // characters that encode the key's bytes alone (not its neighbours').
            for align in 0..3 {
                let mut bytes = vec![0u8; align];
                bytes.extend_from_slice(key.as_bytes());
                for encoded in [STANDARD.encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes)] {
                    let inner = &encoded[4..encoded.len() - 4];
                    forms.push(("base64", inner.as_bytes().to_vec()));
                }
            }
            for (form, bytes) in forms {
                needles.push((format!("{who} ({form})"), bytes));
            }
        }
        needles
    }
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Looks for the corpus's keys in everything ferret produced.
struct Search {
    needles: Vec<(String, Vec<u8>)>,
    /// What was searched, for the positive control.
    searched: usize,
}

impl Search {
    fn new(corpus: &Corpus) -> Self {
        let mut search = Search {
            needles: corpus.needles(),
            searched: 0,
        };
        search.add(GITHUB_TOKEN);
        search
    }

    /// Also looks for `secret` (plainly): a credential of the operator's.
    fn add(&mut self, secret: &str) {
        self.needles
            .push((describe_key(secret), secret.as_bytes().to_vec()));
    }

    /// The keys (and their forms) found in `bytes`.
    fn found_in(&self, bytes: &[u8]) -> Vec<String> {
        self.needles
            .iter()
            .filter(|(_, needle)| memmem::find(bytes, needle).is_some())
            .map(|(who, _)| who.clone())
            .collect()
    }

    #[track_caller]
    fn expect_clean(&mut self, what: &str, bytes: &[u8]) {
        self.searched += 1;
        let found = self.found_in(bytes);
        assert!(found.is_empty(), "{what} leaks {found:?}");
    }

    #[track_caller]
    fn expect_run_clean(&mut self, what: &str, run: &Run) {
        run.expect_no_panic();
        self.expect_clean(&format!("{what}: stdout"), run.stdout.as_bytes());
        self.expect_clean(&format!("{what}: stderr"), run.stderr.as_bytes());
    }

    /// Every file under `dir` but those under `except`.
    #[track_caller]
    fn expect_files_clean(&mut self, dir: &Path, except: &[&Path]) {
        for path in files_under(dir) {
            if except.iter().any(|e| path.starts_with(e)) {
                continue;
            }
            let bytes = std::fs::read(&path).expect("readable file");
            self.expect_clean(&path.display().to_string(), &bytes);
        }
    }
}

/// Runs' output kept to be searched later.
#[derive(Default)]
struct Outputs(Vec<(String, Vec<u8>)>);

impl Outputs {
    #[track_caller]
    fn keep(&mut self, what: &str, run: &Run) {
        run.expect_no_panic();
        self.0
            .push((format!("{what}: stdout"), run.stdout.as_bytes().to_vec()));
        self.0
            .push((format!("{what}: stderr"), run.stderr.as_bytes().to_vec()));
    }

    #[track_caller]
    fn expect_clean(&self, search: &mut Search) {
        for (what, bytes) in &self.0 {
            search.expect_clean(what, bytes);
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[track_caller]
fn expect_mode(path: &Path, mode: u32) {
    let actual = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(actual, mode, "{} is {actual:o}", path.display());
}

/// Variables of a run: (name, value).
type Env = Vec<(String, String)>;

fn env_of(pairs: &[(&str, String)]) -> Env {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

/// `ferret ARGS` in `dir` with `env`, nothing inherited that could reach elsewhere.
fn ferret(dir: &Path, args: &[&str], env: &Env, stdin: Option<Vec<u8>>) -> Run {
    let mut command = support::ferret_command();
    command
        .args(args)
        .current_dir(dir)
        .env_remove("FERRET_STATE_DIR")
        .env_remove("FERRET_CACHE_DIR")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("OPENAI_ADMIN_KEY")
        .env_remove("OPENAI_API_KEY");
    for proxy in support::PROXY_VARIABLES {
        command.env_remove(proxy);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.write_stdin(stdin.unwrap_or_default());
    Run::from(command.output().expect("run ferret"))
}

/// The corpus in a temporary tree, a git repository whose history holds it (and whose last
/// commit removed it), and a private directory for state, cache and reports.
struct Place {
    tree: TempDir,
    repo: Repo,
    private: TempDir,
}

impl Place {
    fn new(corpus: &Corpus) -> Self {
        let tree = tempfile::tempdir().expect("temporary directory");
        let repo = Repo::new();
        for (path, bytes) in corpus.files() {
            let file = tree.path().join(&path);
            std::fs::create_dir_all(file.parent().expect("a parent")).expect("directories");
            std::fs::write(&file, &bytes).expect("write");
            repo.write(&path, &bytes);
        }
        let mut repo = repo;
        repo.commit_all("add settings");
        repo.git(&["rm", "-q", "-r", "."]);
        repo.commit_all("remove settings");
        Place {
            tree,
            repo,
            private: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn state(&self) -> PathBuf {
        self.private.path().join("state")
    }

    fn cache(&self) -> PathBuf {
        self.private.path().join("cache")
    }

    fn out(&self, name: &str) -> PathBuf {
        let dir = self.private.path().join("out");
        std::fs::create_dir_all(&dir).expect("out directory");
        dir.join(name)
    }

    /// The state and cache directories ferret uses by default (its XDG ones), and `extra`.
    fn env(&self, extra: &[(&str, String)]) -> Env {
        let mut env = env_of(&[
            ("XDG_STATE_HOME", self.state().display().to_string()),
            ("XDG_CACHE_HOME", self.cache().display().to_string()),
        ]);
        env.extend(env_of(extra));
        env
    }
}

/// Writes the report of the tree with `--show-secrets` to `path`, over an earlier report that
/// anyone could read: the new one is its owner's alone.
#[track_caller]
fn write_shown(tree: &Path, env: &Env, path: &Path) -> Run {
    std::fs::write(path, "").expect("an earlier report");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let args = [
        "dir",
        ".",
        "--format",
        "jsonl",
        "--show-secrets",
        "-o",
        path_arg(path),
    ];
    let run = ferret(tree, &args, env, None);
    run.expect_code(1);
    expect_mode(path, 0o600);
    run
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

// ---------------------------------------------------------------------------------------------

#[test]
fn scans_merges_rules_and_hooks_show_no_key_in_any_format_unless_asked() {
    let corpus = Corpus::new();
    let place = Place::new(&corpus);
    let mut search = Search::new(&corpus);
    let env = place.env(&[]);
    let tree = place.tree.path();
    let plain = std::fs::read(tree.join("config/app.env")).expect("corpus");
    let log = tree.join("config/app.env");
    let repo = place.repo.path();

    for format in FORMATS {
        let runs = [
            (
                "dir",
                ferret(tree, &["dir", ".", "--format", format], &env, None),
            ),
            (
                "git",
                ferret(repo, &["git", ".", "--format", format], &env, None),
            ),
            (
                "stdin",
                ferret(
                    tree,
                    &["stdin", "--format", format],
                    &env,
                    Some(plain.clone()),
                ),
            ),
            (
                "log",
                ferret(
                    tree,
                    &["log", path_arg(&log), "--format", format],
                    &env,
                    None,
                ),
            ),
        ];
        for (command, run) in runs {
            run.expect_code(1);
            search.expect_run_clean(&format!("{command} --format {format}"), &run);
        }
        let report = place.out(&format!("dir.{format}"));
        let run = ferret(
            tree,
            &["dir", ".", "--format", format, "-o", path_arg(&report)],
            &env,
            None,
        );
        run.expect_code(1);
        search.expect_run_clean(&format!("dir -o {format}"), &run);
    }
    for (tree_dir, what) in [(tree, "dir"), (repo, "git")] {
        let args: &[&str] = if what == "dir" {
            &["dir", ".", "--format", "jsonl", "-o"]
        } else {
            &["git", ".", "--format", "jsonl", "-o"]
        };
        let mut args = args.to_vec();
        let shard = place.out(&format!("shard-{what}.jsonl"));
        args.push(path_arg(&shard));
        ferret(tree_dir, &args, &env, None).expect_code(1);
    }

    // ci github: annotations, a SARIF file and the step summary.
    let sarif = place.out("ci.sarif");
    let summary = place.out("summary.md");
    let run = ferret(
        repo,
        &[
            "ci",
            "github",
            "--mode",
            "full",
            "--sarif",
            path_arg(&sarif),
            "--summary",
            path_arg(&summary),
        ],
        &env,
        None,
    );
    run.expect_code(1);
    search.expect_run_clean("ci github", &run);

    // merge: JSONL and SARIF.
    let merged = place.out("merged.jsonl");
    let shards = [place.out("shard-dir.jsonl"), place.out("shard-git.jsonl")];
    let run = ferret(
        tree,
        &[
            "merge",
            path_arg(&shards[0]),
            path_arg(&shards[1]),
            "-o",
            path_arg(&merged),
        ],
        &env,
        None,
    );
    run.expect_code(0);
    search.expect_run_clean("merge", &run);
    let run = ferret(
        tree,
        &["merge", path_arg(&place.out("dir.sarif")), path_arg(&sarif)],
        &env,
        None,
    );
    run.expect_code(0);
    search.expect_run_clean("merge sarif", &run);

    // rules and hook take no keys, but run them all the same.
    let rules = ferret(tree, &["rules", "list"], &env, None);
    rules.expect_code(0);
    search.expect_run_clean("rules list", &rules);
    let check = ferret(tree, &["rules", "check"], &env, None);
    check.expect_code(0);
    search.expect_run_clean("rules check", &check);
    let hook = ferret(repo, &["hook", "install"], &env, None);
    hook.expect_code(0);
    search.expect_run_clean("hook install", &hook);
    let staged = ferret(repo, &["git", ".", "--staged"], &env, None);
    search.expect_run_clean("git --staged", &staged);

    search.expect_files_clean(place.private.path(), &[]);
    search.expect_files_clean(&repo.join(".git/hooks"), &[]);
    assert!(search.searched > 50, "too little was searched");

    // The positive control: --show-secrets shows every key, in the report and nowhere else,
    // and a report holding keys is its owner's alone, even one that existed before.
    let shown = place.out("shown.jsonl");
    let run = write_shown(tree, &env, &shown);
    search.expect_run_clean("dir --show-secrets -o", &run);
    let bytes = std::fs::read(&shown).expect("the report");
    for key in corpus.keys() {
        assert!(
            memmem::find(&bytes, key.as_bytes()).is_some(),
            "--show-secrets does not show {}",
            describe_key(key)
        );
    }
    let run = ferret(
        tree,
        &["dir", ".", "--format", "text", "--show-secrets"],
        &env,
        None,
    );
    assert!(
        !search.found_in(run.stdout.as_bytes()).is_empty(),
        "the search finds nothing even where keys are"
    );
    let ci_sarif = place.out("ci-shown.sarif");
    ferret(
        repo,
        &[
            "ci",
            "github",
            "--mode",
            "full",
            "--show-secrets",
            "--sarif",
            path_arg(&ci_sarif),
        ],
        &env,
        None,
    )
    .expect_code(1);
    expect_mode(&ci_sarif, 0o600);
    // A merge of reports that hold keys redacts them unless asked not to; then it holds them
    // too, and is private like them.
    let merged = place.out("merged-redacted.jsonl");
    let run = ferret(
        tree,
        &["merge", path_arg(&shown), "-o", path_arg(&merged)],
        &env,
        None,
    );
    run.expect_code(0);
    search.expect_clean(
        "merge without --show-secrets",
        &std::fs::read(&merged).expect("merged"),
    );
    let merged_shown = place.out("merged-shown.jsonl");
    ferret(
        tree,
        &[
            "merge",
            "--show-secrets",
            path_arg(&shown),
            "-o",
            path_arg(&merged_shown),
        ],
        &env,
        None,
    )
    .expect_code(0);
    expect_mode(&merged_shown, 0o600);
    assert!(
        !search
            .found_in(&std::fs::read(&merged_shown).expect("merged"))
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------

/// An operator config with every kind of hook: a command that keeps each event it is given, a
/// webhook, a GitHub issue, and rotation into an Actions secret.
fn hooks_config(events_file: &Path, webhook: &str) -> String {
    format!(
        "{FAST_CONFIRM}delete_service_accounts = true\n\n\
         [rotation]\nenabled = true\n\n\
         [[hooks]]\ntype = \"command\"\nargv = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]\n\n\
         [[hooks]]\ntype = \"webhook\"\nurl = \"{webhook}/events\"\nsecret_env = \"HOOK_SECRET\"\n\n\
         [[hooks]]\ntype = \"github-issue\"\nrepository = \"acme/app\"\n\
         events = [\"found\", \"verified_live\", \"revoked\", \"failed\"]\n\n\
         [[hooks]]\ntype = \"github-actions-secret\"\nrepository = \"acme/app\"\n\
         secret_name = \"OPENAI_API_KEY\"\n",
        events_file.display(),
        events_file.display()
    )
}

#[test]
fn verification_revocation_hooks_ledger_and_cache_hold_no_key() {
    let corpus = Corpus::new();
    let place = Place::new(&corpus);
    let mut search = Search::new(&corpus);
    let tree = place.tree.path();

    let org = OpenAiOrg::start();
    let ferrets_admin = Shape::Admin.key();
    org.add_admin_key(&ferrets_admin, "ferret");
    org.add_admin_key(&corpus.admin, "leaked");
    let project = org.add_project("Production");
    org.add_user_key(&project, &corpus.user, 1_700_000_000);
    org.add_service_account(
        &project,
        "deploy",
        std::slice::from_ref(&corpus.service_account),
    );
    org.add_foreign_key(&corpus.legacy);
    // The other providers' keys go to a server that echoes every credential it gets into its
    // headers and body.
    let echo = HostileServer::start("127.0.0.1", Misbehaviour::Echo(200));
    let github = GitHubMock::start(GITHUB_TOKEN);
    github.add_repo("acme", "app", true);
    let webhook = Served::start(|_| wiremock::ResponseTemplate::new(200));
    // Outside the private directory: a command listening to `rotated` is given the replacement.
    let hook_dir = tempfile::tempdir().expect("temporary directory");
    let events_file = hook_dir.path().join("events.jsonl");
    search.add(&ferrets_admin);
    let config = place.private.path().join("ops.toml");
    std::fs::write(&config, hooks_config(&events_file, &webhook.uri())).expect("config");
    let ledger = place.state().join("ferret/ledger.sqlite");
    let mut extra = vec![
        ("FERRET_OPENAI_API_BASE", org.uri()),
        ("OPENAI_ADMIN_KEY", ferrets_admin.clone()),
        ("GITHUB_TOKEN", GITHUB_TOKEN.to_string()),
        ("FERRET_GITHUB_API_BASE", github.uri()),
        ("HOOK_SECRET", "webhook signing secret".to_string()),
    ];
    for (kind, _) in &corpus.others {
        let api = kind.api().expect("a verified provider");
        extra.push((api.env_var, echo.uri()));
    }
    let env = place.env(&extra);
    let config_arg = path_arg(&config);
    let run = |args: &[&str]| ferret(tree, args, &env, None);
    // Searched at the end, when the replacement keys are known too.
    let mut outputs = Outputs::default();

    // A report with the keys, for `ferret verify` and `ferret revoke`.
    let shown = place.out("shown.jsonl");
    outputs.keep("dir --show-secrets -o", &write_shown(tree, &env, &shown));
    let shown_arg = path_arg(&shown);

    for format in FORMATS {
        let verified = run(&["dir", ".", "--verify", "--format", format]);
        verified.expect_code(1);
        outputs.keep(&format!("dir --verify --format {format}"), &verified);
        let command = run(&["verify", "--input", shown_arg, "--format", format]);
        command.expect_code(1);
        outputs.keep(&format!("verify --input --format {format}"), &command);
    }
    assert!(
        echo.received_carrying(&corpus.others[0].1) >= 1,
        "no key was verified"
    );

    // Every revoking run with the operator's config; each prints its report.
    let revoking = |args: &[&str], what: &str, outputs: &mut Outputs| {
        let mut all = args.to_vec();
        all.extend(["--config", config_arg]);
        let run = run(&all);
        outputs.keep(what, &run);
        run
    };
    let dry: Vec<&str> = "dir . --verify --revoke --dry-run --format jsonl"
        .split(' ')
        .collect();
    revoking(&dry, "dir --revoke --dry-run", &mut outputs).expect_code(1);
    let dry = [
        "revoke",
        "--input",
        shown_arg,
        "--dry-run",
        "--format",
        "sarif",
    ];
    revoking(&dry, "revoke --input --dry-run", &mut outputs).expect_code(1);

    let revoke_args: Vec<&str> = "dir . --verify --revoke --yes --format jsonl"
        .split(' ')
        .collect();
    let revoked = revoking(&revoke_args, "dir --verify --revoke", &mut outputs);
    revoked.expect_code(1);
    assert!(
        !org.key_is_live(&corpus.user),
        "the user key was not revoked: {revoked}"
    );
    assert!(!org.key_is_live(&corpus.service_account), "{revoked}");
    assert!(!org.key_is_live(&corpus.admin), "{revoked}");
    for format in FORMATS {
        let again = ["revoke", "--input", shown_arg, "--yes", "--format", format];
        revoking(
            &again,
            &format!("revoke --input --format {format}"),
            &mut outputs,
        );
    }

    // What left the process for hooks: command input, webhook bodies, GitHub issues.
    let events = std::fs::read(&events_file).expect("the command hook ran");
    search.expect_clean("the command hook's events", &events);
    let bodies = webhook.received();
    assert!(!bodies.is_empty(), "no webhook was delivered");
    for request in &bodies {
        search.expect_clean("a webhook body", &request.body);
    }
    let issues = github.issues("acme", "app");
    assert!(!issues.is_empty(), "no issue was opened");
    for issue in issues {
        search.expect_clean("a GitHub issue", issue.to_string().as_bytes());
    }
    for request in github.requests() {
        let body = request.body.map(|b| b.to_string()).unwrap_or_default();
        search.expect_clean("a GitHub request", body.as_bytes());
    }
    assert!(
        github.secret("acme", "app", "OPENAI_API_KEY").is_some(),
        "rotation delivered no key"
    );

    // What stayed on disk: the ledger, the cache, the reports; the replacement keys are
    // delivered only to the hooks that deliver them.
    for key in org.created_key_values() {
        search.add(&key);
    }
    outputs.expect_clean(&mut search);
    assert!(
        ledger.is_file(),
        "the default ledger is not where XDG_STATE_HOME says"
    );
    // Everything but the report the operator asked to hold the keys.
    search.expect_files_clean(place.private.path(), &[&shown]);
    expect_mode(&ledger, 0o600);
    let cache = place.cache().join("ferret");
    expect_mode(&cache.join("verify.sqlite"), 0o600);
    expect_mode(&cache.join("verify.key"), 0o600);
    expect_mode(&cache, 0o700);
    expect_mode(&place.state().join("ferret"), 0o700);
    for file in files_under(&cache)
        .into_iter()
        .chain(files_under(&place.state()))
    {
        expect_mode(&file, 0o600);
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn sweeps_their_state_sarif_uploads_and_merges_hold_no_key() {
    let corpus = Corpus::new();
    let mut search = Search::new(&corpus);
    let github = GitHubMock::start(GITHUB_TOKEN);
    github.add_org("acme");
    let git = GitServer::start_with_token(GITHUB_TOKEN);
    let files = corpus.files();
    for (index, name) in ["app", "infra"].iter().enumerate() {
        let bare = git.add_repo("acme", name);
        let work = Repo::new();
        for (path, bytes) in files.iter().skip(index) {
            work.write(path, bytes);
        }
        work.git(&["add", "-A"]);
        work.git(&["commit", "-q", "-m", "settings"]);
        work.git(&["push", "-q", path_arg(&bare), "main"]);
        github.add_repo_with(RepoSpec {
            clone_url: Some(git.url("acme", name)),
            ..RepoSpec::new("acme", name)
        });
    }
    github.add_secret_alert(
        "acme",
        "app",
        &corpus.user,
        "config/app.env",
        1,
        &"a".repeat(40),
    );

    let private = tempfile::tempdir().expect("temporary directory");
    let state = private.path().join("state");
    let cache = private.path().join("cache");
    let out = private.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    let env = env_of(&[
        ("GITHUB_TOKEN", GITHUB_TOKEN.to_string()),
        ("FERRET_GITHUB_API_BASE", github.uri()),
        ("FERRET_GITHUB_GIT_BASE", git.base_url()),
        ("XDG_STATE_HOME", state.display().to_string()),
        ("XDG_CACHE_HOME", cache.display().to_string()),
        ("GIT_TERMINAL_PROMPT", "0".to_string()),
    ]);
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "github",
            "--org",
            "acme",
            "--include-alerts",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        ferret(private.path(), &args, &env, None)
    };
    let sarif_dir = out.join("sarif");
    for (index, format) in FORMATS.iter().enumerate() {
        let mut args = vec!["--format", *format];
        if index == 0 {
            args.extend(["--sarif-dir", path_arg(&sarif_dir), "--upload-sarif"]);
        } else {
            args.push("--since-last");
        }
        let run = sweep(&args);
        run.expect_code(1);
        search.expect_run_clean(&format!("github --format {format}"), &run);
    }
    let shards: Vec<PathBuf> = (1..=2)
        .map(|k| out.join(format!("shard{k}.jsonl")))
        .collect();
    for (k, shard) in shards.iter().enumerate() {
        let which = format!("{}/2", k + 1);
        let run = sweep(&[
            "--shard",
            &which,
            "--format",
            "jsonl",
            "-o",
            path_arg(shard),
        ]);
        search.expect_run_clean("github --shard", &run);
    }
    let merged = ferret(
        private.path(),
        &["merge", path_arg(&shards[0]), path_arg(&shards[1])],
        &env,
        None,
    );
    merged.expect_code(0);
    search.expect_run_clean("merge of shards", &merged);

    let uploads = github.sarif_uploads();
    assert!(!uploads.is_empty(), "no SARIF was uploaded");
    for (_, _, _, sarif) in uploads {
        search.expect_clean("an uploaded SARIF", sarif.to_string().as_bytes());
    }
    // The mirrors are copies of the repositories, which hold the keys: they are the one thing
    // not searched, and they are their owner's alone.
    let mirrors = cache.join("ferret/mirrors");
    assert!(mirrors.is_dir(), "no mirrors where XDG_CACHE_HOME says");
    expect_mode(&mirrors, 0o700);
    search.expect_files_clean(private.path(), &[&mirrors]);
    let sweep_state = state.join("ferret/sweep.sqlite");
    expect_mode(&sweep_state, 0o600);
    expect_mode(&state.join("ferret"), 0o700);

    // The positive control: SARIF files written with --show-secrets hold the keys, privately.
    let shown_dir = out.join("shown");
    sweep(&[
        "--format",
        "jsonl",
        "--show-secrets",
        "--sarif-dir",
        path_arg(&shown_dir),
    ])
    .expect_code(1);
    let shown = files_under(&shown_dir);
    assert!(!shown.is_empty());
    for file in &shown {
        expect_mode(file, 0o600);
    }
    let found = shown.iter().any(|f| {
        !search
            .found_in(&std::fs::read(f).expect("SARIF"))
            .is_empty()
    });
    assert!(found, "--show-secrets SARIF shows no key");
}
