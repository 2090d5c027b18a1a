//! The git history scan on damaged repositories. A small real repository is made once (git CLI:
//! a few commits over nested trees, a file holding a key so that attribution runs, an annotated
//! tag, `git gc` so most objects are packed, then more commits left loose). Each input is a
//! list of damages applied to a fresh copy of its `.git`: bytes of pack, index, loose object or
//! ref files overwritten, inserted, deleted or cut off; objects rewritten with any kind, a
//! lying size or tree entries that point anywhere (the tree itself included: a cycle); refs
//! pointed at any object. The scan must end with a result or an error, never panic or hang.

#![no_main]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use ferret::sources::git::{self, GitOptions};
use ferret_fuzz::{MATCHER, expand_keys};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use libfuzzer_sys::fuzz_target;

/// The pristine repository: its `.git`, the files a damage may hit, and every object id.
struct Pristine {
    _dir: tempfile::TempDir,
    git_dir: PathBuf,
    files: Vec<PathBuf>,
    ids: Vec<String>,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("git prints UTF-8")
}

fn write(dir: &Path, path: &str, text: &[u8]) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("a file in a directory")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

static PRISTINE: LazyLock<Pristine> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path();
    git(work, &["init", "-q", "-b", "main"]);
    git(work, &["config", "user.name", "Fuzz"]);
    git(work, &["config", "user.email", "fuzz@example.invalid"]);
    let key = expand_keys(b"OPENAI_API_KEY=sk-proj-{b64url:74}T3BlbkFJ{b64url:74}\n");
    write(work, "README.md", b"# fuzz\n");
    write(work, "src/deep/er/config.env", &key);
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "first"]);
    write(work, "src/deep/er/config.env", b"OPENAI_API_KEY=\n");
    write(work, "docs/a.txt", b"text\n");
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "remove the key"]);
    git(work, &["tag", "-a", "v1", "-m", "release"]);
    git(work, &["gc", "-q"]);
    write(work, "docs/b.txt", &key);
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "loose objects"]);
    let git_dir = work.join(".git");
    let mut files = Vec::new();
    for sub in ["objects", "refs"] {
        files_under(&git_dir.join(sub), &mut files);
    }
    files.push(git_dir.join("packed-refs"));
    files.push(git_dir.join("HEAD"));
    files.retain(|f| f.is_file());
    let ids = git(
        work,
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    Pristine {
        _dir: dir,
        git_dir,
        files,
        ids,
    }
});

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Reads the damage list from the fuzzer's bytes.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }
}

/// A loose object file of `kind` with `body`, its header's size `size`.
fn loose_object(kind: &str, size: usize, body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::fast());
    encoder
        .write_all(format!("{kind} {size}\0").as_bytes())
        .and_then(|()| encoder.write_all(body))
        .expect("compressing to memory");
    encoder.finish().expect("compressing to memory")
}

fn damage(bytes: &mut Bytes, pristine: &Pristine, git_dir: &Path) -> Option<()> {
    let op = bytes.byte()?;
    let relative = pristine.files[usize::from(bytes.byte()?) % pristine.files.len()]
        .strip_prefix(&pristine.git_dir)
        .expect("under .git");
    let file = git_dir.join(relative);
    let mut content = std::fs::read(&file).unwrap_or_default();
    let at = usize::from(u16::from_le_bytes([bytes.byte()?, bytes.byte()?])) % (content.len() + 1);
    let n = usize::from(bytes.byte()? % 16) + 1;
    let id = |b: u8| pristine.ids[usize::from(b) % pristine.ids.len()].clone();
    match op % 7 {
        0 => {
            let patch = bytes.take(n).to_vec();
            let end = (at + patch.len()).min(content.len());
            content.splice(at..end, patch);
        }
        1 => content.truncate(at),
        2 => {
            let patch = bytes.take(n).to_vec();
            content.splice(at..at, patch);
        }
        3 => {
            content.drain(at..(at + n).min(content.len()));
        }
        4 | 5 => {
            // A loose object written over any object: any kind, any body, the size true or not.
            let target = id(bytes.byte()?);
            let kind = ["blob", "tree", "commit", "tag", "bogus"][usize::from(bytes.byte()?) % 5];
            let body: Vec<u8> = if op % 7 == 5 {
                // Tree entries pointing at any object, this one included.
                let mut body = Vec::new();
                for _ in 0..n % 4 + 1 {
                    let mode = ["40000", "100644", "160000", "120000", "7"]
                        [usize::from(bytes.byte()?) % 5];
                    let name_len = usize::from(bytes.byte()? % 3) + 1;
                    let name = bytes.take(name_len).to_vec();
                    let points_at = if bytes.byte()? % 4 == 0 {
                        target.clone()
                    } else {
                        id(bytes.byte()?)
                    };
                    body.extend_from_slice(mode.as_bytes());
                    body.push(b' ');
                    body.extend_from_slice(&name);
                    body.push(0);
                    body.extend(hex_bytes(&points_at));
                }
                body
            } else {
                bytes.take(n * 4).to_vec()
            };
            let size = if bytes.byte()? % 4 == 0 {
                usize::from(u16::from_le_bytes([bytes.byte()?, bytes.byte()?]))
            } else {
                body.len()
            };
            let path = git_dir
                .join("objects")
                .join(&target[..2])
                .join(&target[2..]);
            std::fs::create_dir_all(path.parent().expect("in objects/xx")).ok()?;
            std::fs::write(path, loose_object(kind, size, &body)).ok()?;
            return Some(());
        }
        _ => {
            // A ref to any object.
            let target = id(bytes.byte()?);
            std::fs::write(git_dir.join("refs/heads/fuzz"), format!("{target}\n")).ok()?;
            return Some(());
        }
    }
    std::fs::write(&file, content).ok()
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex id"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let pristine = &*PRISTINE;
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let copy = tempfile::tempdir().expect("temp dir");
    let git_dir = copy.path().join("repo.git");
    copy_dir(&pristine.git_dir, &git_dir);
    let mut bytes = Bytes(rest);
    while damage(&mut bytes, pristine, &git_dir).is_some() {}

    let Ok(repo) = git::open(&git_dir) else {
        return;
    };
    let options = GitOptions {
        unreachable: flags & 1 != 0,
        threads: 1,
        ..GitOptions::default()
    };
    let context = ferret::sources::ScanContext {
        matcher: &MATCHER,
        archives: &ferret::sources::contents::ArchiveLimits::default(),
        on_warning: &|_| {},
    };
    let _ = git::scan_history(&repo, &options, &context);
    let _ = git::ref_targets(&repo);
});
