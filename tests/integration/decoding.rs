//! Keys hidden in encodings: base64 (a Kubernetes Secret's `data:`, URL-safe too), UTF-16 LE
//! and BE, percent-encoding, JSON/JavaScript escapes, HTML entities, and encodings nested in
//! each other, in files and in git history. Each is reported at the encoded text with how it
//! was decoded; `--decode-depth` bounds the nesting, and hostile input (deep nesting, a long
//! base64 run, many lookalike runs) ends (within the runs' timeout) with the right answer.

use crate::support;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use support::git::Repo;
use support::{Run, Tree, fingerprint, project_key};

/// `(path, line, column, decoded)` of the first record of `key`.
#[track_caller]
fn place_of(run: &Run, key: &str) -> (String, u64, u64, Option<String>) {
    let record = run
        .records_of(key)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no finding for the key; {run}"));
    (
        record["path"].as_str().unwrap_or_default().to_string(),
        record["line"].as_u64().unwrap_or_default(),
        record["column"].as_u64().unwrap_or_default(),
        record["decoded"].as_str().map(str::to_string),
    )
}

fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
    text.encode_utf16()
        .flat_map(|unit| {
            if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            }
        })
        .collect()
}

#[test]
fn every_encoding_is_decoded_and_reported_where_the_encoded_text_is() {
    let tree = Tree::new();
    let keys: Vec<String> = (0..9).map(|_| project_key()).collect();
    tree.write(
        "k8s/secret.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\ndata:\n  OPENAI_API_KEY: {}\n",
            STANDARD.encode(&keys[0])
        ),
    );
    tree.write(
        "url.txt",
        format!(
            "GET /v1?token={} HTTP/1.1\n",
            URL_SAFE_NO_PAD.encode(&keys[1])
        ),
    );
    tree.write("win-le.txt", utf16(&format!("KEY={}\r\n", keys[2]), true));
    tree.write("win-be.txt", utf16(&format!("KEY={}\r\n", keys[3]), false));
    tree.write(
        "query.log",
        format!("GET /?k={} 200\n", keys[4].replace('-', "%2D")),
    );
    tree.write(
        "app.json",
        format!("{{\"config\": \"{}\"}}\n", keys[5].replace('-', "\\u002d")),
    );
    tree.write(
        "page.html",
        format!("<code>{}</code>\n", keys[6].replace('-', "&#x2d;")),
    );
    let inner = format!("{{\"k\": \"{}\"}}", keys[7].replace('-', "\\u002d"));
    tree.write("nested.txt", format!("blob = {}\n", STANDARD.encode(inner)));
    tree.write("plain.env", format!("KEY={}\n", keys[8]));

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    for key in &keys {
        run.expect_key_hidden(key);
    }
    let at = |i: usize| place_of(&run, &keys[i]);
    assert_eq!(
        at(0),
        ("k8s/secret.yaml".into(), 4, 19, Some("base64".into()))
    );
    assert_eq!(at(1), ("url.txt".into(), 1, 15, Some("base64".into())));
    assert_eq!(at(2).3.as_deref(), Some("utf-16le"));
    assert_eq!(at(3).3.as_deref(), Some("utf-16be"));
    assert_eq!(at(4), ("query.log".into(), 1, 9, Some("percent".into())));
    assert_eq!(
        at(5),
        ("app.json".into(), 1, 13, Some("json-escape".into()))
    );
    assert_eq!(
        at(6),
        ("page.html".into(), 1, 7, Some("html-entity".into()))
    );
    assert_eq!(
        at(7),
        ("nested.txt".into(), 1, 8, Some("base64>json-escape".into()))
    );
    assert_eq!(at(8), ("plain.env".into(), 1, 5, None));
    assert_eq!(
        run.stdout.lines().count(),
        keys.len(),
        "each key once: {run}"
    );

    // Depth 1 reaches base64 but not the escapes inside it.
    let shallow = tree.ferret(&["dir", ".", "--format", "jsonl", "--decode-depth", "1"]);
    assert!(
        !shallow.stdout.contains(&fingerprint(&keys[7])),
        "{shallow}"
    );
    let plain = tree.ferret(&["dir", ".", "--format", "jsonl", "--decode-depth", "0"]);
    assert_eq!(plain.stdout.lines().count(), 1, "plain text only: {plain}");
}

#[test]
fn a_key_two_encodings_deep_is_found() {
    let tree = Tree::new();
    let key = project_key();
    let inner = format!("{{\"k\": \"{}\"}}", key.replace('-', "\\u002d"));
    tree.write(
        "secret.yaml",
        format!("data:\n  v: {}\n", STANDARD.encode(inner)),
    );
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(
        place_of(&run, &key).3.as_deref(),
        Some("base64>json-escape")
    );
}

#[test]
fn keys_in_encoded_blobs_of_history_are_found_at_their_commit() {
    let mut repo = Repo::new();
    let key = project_key();
    repo.write(
        "deploy/secret.yaml",
        format!("data:\n  OPENAI_API_KEY: {}\n", STANDARD.encode(&key)),
    );
    repo.commit_all("add the secret");
    repo.git(&["rm", "-q", "deploy/secret.yaml"]);
    repo.commit_all("remove it");
    let run = support::ferret_in(repo.path(), &["git", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let record: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(record["path"], "deploy/secret.yaml");
    assert_eq!(record["decoded"], "base64");
    assert_eq!(record["fingerprint"], fingerprint(&key).as_str());
    assert_eq!(record["line"], 2);
}

#[test]
fn hostile_encodings_stay_bounded() {
    let tree = Tree::new();
    let key = project_key();
    // Ten layers of base64 around a key: only the outermost layer's keyword forms are
    // searched in undecoded input, so nothing is found (and nothing blows up).
    let mut deep = key.clone();
    for _ in 0..10 {
        deep = STANDARD.encode(deep);
    }
    tree.write("deep.txt", &deep);
    // A 20 MB base64 run that decodes to zeros, and many short runs that look like the start
    // of an encoded key.
    tree.write("huge.b64", STANDARD.encode(vec![0u8; 15 << 20]));
    let lookalike = STANDARD.encode(format!("xx {} yy", support::marker()));
    tree.write("many.txt", format!("{lookalike} ").repeat(200_000));
    let run = tree.ferret(&["dir", ".", "--format", "jsonl", "--decode-depth", "10"]);
    run.expect_code(0);

    // One layer is found, in the same company.
    tree.write("deep.txt", STANDARD.encode(&key));
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(place_of(&run, &key).3.as_deref(), Some("base64"));
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
}
