//! The documentation a newcomer reads: README's first screen says what ferret is, how to install
//! it and how to start, and every relative link of README.md and docs/*.md leads somewhere
//! (the file exists, and the `#anchor` is one of its headings), so moving a section cannot
//! leave a dead link behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces as `-`.
fn slug(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Lines outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .into_iter()
        .filter_map(|line| {
            let title = line.trim_start_matches('#');
            (line.starts_with('#') && title.starts_with(' ')).then(|| slug(title))
        })
        .collect()
}

/// `(target, line)` of every markdown link `](target)` in prose.
fn links(text: &str) -> Vec<(String, usize)> {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if !fenced {
            out.extend(link.captures_iter(line).map(|c| (c[1].to_string(), n + 1)));
        }
    }
    out
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![repo().join("README.md")];
    let mut more: Vec<_> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// What is wrong with `target`, linked from `doc`.
fn dead(doc: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        doc.to_path_buf()
    } else {
        doc.parent().unwrap().join(path)
    };
    if !file.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    if anchor.is_empty() || file.is_dir() {
        return None;
    }
    let text = std::fs::read_to_string(&file).unwrap();
    (!anchors(&text).contains(anchor))
        .then(|| format!("no heading #{anchor} in {}", file.display()))
}

#[test]
fn every_relative_link_of_the_documentation_leads_somewhere() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (target, line) in links(&text) {
            checked += 1;
            if let Some(why) = dead(&doc, &target) {
                broken.push(format!("{}:{line}: ({target}): {why}", doc.display()));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the link pattern right?"
    );
    assert!(broken.is_empty(), "dead links:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_a_dead_link_and_a_dead_anchor() {
    let readme = repo().join("README.md");
    assert!(dead(&readme, "docs/no-such-file.md").is_some());
    assert!(dead(&readme, "#no-such-heading").is_some());
    assert!(dead(&readme, "#quick-start").is_none());
    assert_eq!(
        slug("Org-wide sweeps: `ferret github`"),
        "org-wide-sweeps-ferret-github"
    );
}

#[test]
fn the_first_screen_says_what_how_to_install_and_how_to_start() {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let headings: Vec<&str> = prose(&text)
        .into_iter()
        .filter(|l| l.starts_with("## "))
        .collect();
    assert_eq!(
        &headings[..4],
        [
            "## Install",
            "## Quick start",
            "## The two commands",
            "## Contents"
        ],
        "README opens with install, a quick start, the contributors' two commands, contents"
    );
    let first_screen: String = text.lines().take(60).collect::<Vec<_>>().join("\n");
    for needle in [
        "pipx install ferret-scanner",
        "cargo install",
        "ferret git .",
        "## Quick start",
    ] {
        assert!(
            first_screen.contains(needle),
            "first screen lacks {needle:?}"
        );
    }
    let intro = text.split("\n## ").next().unwrap();
    let prose_lines = intro
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    assert!(prose_lines.count() <= 5, "the introduction is a few lines");
    for doc in [
        "docs/limits.md",
        "docs/security.md",
        "docs/performance.md",
        "docs/development.md",
    ] {
        assert!(text.contains(&format!("]({doc})")), "README links {doc}");
    }
    let contents = text.split("## Contents").nth(1).unwrap();
    assert!(
        contents.contains("[You found a live key: what now](#you-found-a-live-key-what-now)"),
        "the contents lead to what to do about a live key"
    );
}
