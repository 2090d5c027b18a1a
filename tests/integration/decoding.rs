//! Keys hidden in encodings: base64 (a Kubernetes Secret's `data:`, URL-safe too, wrapped in
//! lines, base64 of base64), UTF-16 LE and BE (with a byte-order mark), percent-encoding,
//! JSON/JavaScript escapes, HTML entities, and encodings nested in each other, in files and in
//! git history, for keys of every provider. Each is reported where its encoded form starts, with
//! how it was decoded; `--decode-depth` bounds the nesting, and hostile input (deep nesting, a
//! long base64 run, floods of encoded keywords) costs about what plain text of its size costs.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use support::git::Repo;
use support::providers::Kind;
use support::{Run, Tree, fingerprint, marker, project_key};

/// `(path, line, column, decoded)` of `key`'s one record.
#[track_caller]
fn place(run: &Run, key: &str) -> (String, u64, u64, Option<String>) {
    let record = run.record_of(key);
    (
        record["path"].as_str().unwrap_or_default().to_string(),
        record["line"].as_u64().unwrap_or_default(),
        record["column"].as_u64().unwrap_or_default(),
        record["decoded"].as_str().map(str::to_string),
    )
}

/// The encodings `key`'s one record was found under.
#[track_caller]
fn decoded(run: &Run, key: &str) -> Option<String> {
    place(run, key).3
}

/// `text` wrapped in lines of `width` characters, each ending in `newline`.
fn wrapped(text: &str, width: usize, newline: &str) -> String {
    text.as_bytes()
        .chunks(width)
        .map(|line| format!("{}{newline}", std::str::from_utf8(line).unwrap()))
        .collect()
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
    let at = |i: usize| place(&run, &keys[i]);
    assert_eq!(
        at(0),
        ("k8s/secret.yaml".into(), 4, 19, Some("base64".into()))
    );
    assert_eq!(at(1), ("url.txt".into(), 1, 15, Some("base64".into())));
    // In UTF-16 the column counts characters: `KEY=` and the key.
    assert_eq!(at(2), ("win-le.txt".into(), 1, 5, Some("utf-16le".into())));
    assert_eq!(at(3), ("win-be.txt".into(), 1, 5, Some("utf-16be".into())));
    assert_eq!(at(4), ("query.log".into(), 1, 9, Some("percent".into())));
    assert_eq!(
        at(5),
        ("app.json".into(), 1, 13, Some("json-escape".into()))
    );
    assert_eq!(
        at(6),
        ("page.html".into(), 1, 7, Some("html-entity".into()))
    );
    // The key starts 7 bytes into the decoded text: the 10th character of the base64.
    assert_eq!(
        at(7),
        (
            "nested.txt".into(),
            1,
            17,
            Some("base64>json-escape".into())
        )
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
    assert_eq!(decoded(&run, &key).as_deref(), Some("base64>json-escape"));
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
    // Ten layers of base64 around a key: found at depth 10, not at the default depth of 3.
    let mut deep = key.clone();
    for _ in 0..10 {
        deep = STANDARD.encode(deep);
    }
    tree.write("deep.txt", &deep);
    // A 20 MB base64 run that decodes to zeros, and many short runs that look like the start
    // of an encoded key.
    tree.write("huge.b64", STANDARD.encode(vec![0u8; 15 << 20]));
    let lookalike = STANDARD.encode(format!("xx {} yy", marker()));
    tree.write("many.txt", format!("{lookalike} ").repeat(200_000));
    let run = tree.ferret(&["dir", ".", "--format", "jsonl", "--decode-depth", "10"]);
    run.expect_code(1);
    assert_eq!(
        decoded(&run, &key).as_deref(),
        Some(["base64"; 10].join(">").as_str())
    );
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(0);

    // One layer is found, in the same company.
    tree.write("deep.txt", STANDARD.encode(&key));
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(decoded(&run, &key).as_deref(), Some("base64"));
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
}

/// CPU time of `ferret dir .` in `dir` (user and system, of the child alone: wall time on a
/// shared machine says more about the machine than about ferret).
fn cpu_time_of_scan(dir: &Path) -> (Duration, String) {
    let started = Instant::now();
    let before = children_cpu();
    let run = support::ferret_in(dir, &["dir", ".", "--format", "jsonl", "--no-progress"]);
    let cpu = children_cpu().saturating_sub(before);
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "ferret took {:?} in {}",
        started.elapsed(),
        dir.display()
    );
    (cpu, run.stdout)
}

/// User and system time of this process's finished children.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Issue 16: a file of the OpenAI marker repeated in base64 on one line cost 70 µs per byte
/// (every keyword hit decoded a fresh 64 KiB run); UTF-16 floods about 4 s per MB. Each such
/// input of 400 KB, with a key at its end, must cost at most a small multiple of plain text of
/// the same size (the matcher's unit tests count the bytes decoded exactly; this is the
/// end-to-end check, with a margin wide enough for a loaded machine).
#[test]
fn floods_of_encoded_keywords_cost_about_what_plain_text_costs() {
    const SIZE: usize = 400 << 10;
    let key = project_key();
    let flood = marker().repeat(SIZE / 8);
    let b64 = |text: &str| {
        let mut encoded = STANDARD.encode(text);
        encoded.truncate(SIZE);
        encoded
    };
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        (
            "base64-line",
            format!("{}\n{}\n", b64(&flood), STANDARD.encode(&key)).into_bytes(),
        ),
        (
            "base64-wrapped",
            format!(
                "{}{}\n",
                wrapped(&b64(&flood), 76, "\n"),
                STANDARD.encode(&key)
            )
            .into_bytes(),
        ),
        ("base64-nested", {
            let nested = b64(&STANDARD.encode(STANDARD.encode(&flood)));
            format!("{nested}\n{}\n", STANDARD.encode(&key)).into_bytes()
        }),
        ("utf16le", {
            let mut text: Vec<u8> = flood[..SIZE / 2]
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect();
            text.extend(
                format!(" {key}\n")
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            );
            text
        }),
        (
            "escapes",
            format!(
                "{}\n{key}\n",
                format!("{}\\u002d", marker()).repeat(SIZE / 14)
            )
            .into_bytes(),
        ),
    ];
    // Plain text of the same size: lines of code-like words and hex ids.
    let plain: String = (0..)
        .map(|i| format!("let value_{i} = config.lookup(\"{:016x}\");\n", i * 7919))
        .take_while({
            let mut size = 0;
            move |line| {
                size += line.len();
                size < SIZE
            }
        })
        .collect();
    let plain_tree = Tree::new();
    plain_tree.write("plain.txt", format!("{plain}OPENAI_API_KEY={key}\n"));
    let (plain_cpu, _) = cpu_time_of_scan(plain_tree.path());
    for (name, input) in inputs {
        let tree = Tree::new();
        tree.write(name, &input);
        let (cpu, stdout) = cpu_time_of_scan(tree.path());
        assert!(
            stdout.contains(&fingerprint(&key)),
            "{name}: the key at the end was not found"
        );
        let bound = plain_cpu * 20 + Duration::from_secs(3);
        assert!(
            cpu < bound,
            "{name}: {cpu:?} of CPU, plain text {plain_cpu:?} (bound {bound:?})"
        );
    }
}

/// Issue 17: GNU `base64` wraps at 76 columns, PEM and MIME blocks at 64 or 76, Windows tools
/// end lines with CRLF, and a wrapped block pasted into JSON has `\n` escapes. A key in each is
/// found, reported at the line and column where its encoded form starts.
#[test]
fn keys_in_line_wrapped_base64_are_found_where_they_start() {
    let tree = Tree::new();
    let mut expected = Vec::new();
    let shapes = [
        ("gnu.txt", 76, "\n", "", ""),
        (
            "pem.txt",
            64,
            "\n",
            "-----BEGIN CONFIG-----\n",
            "-----END CONFIG-----\n",
        ),
        ("crlf.txt", 76, "\r\n", "", ""),
        ("block.yaml", 76, "\n", "data:\n  env: |\n", ""),
        (
            "mime.eml",
            76,
            "\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n",
            "",
        ),
    ];
    for (name, width, newline, before, after) in shapes {
        let key = project_key();
        // A few lines of text before the key, so that it starts on a later line of the block.
        let env = format!(
            "# {name}\nDATABASE_URL=postgres://app@db:5432/app\nLOG_LEVEL=debug\nOPENAI_API_KEY={key}\n"
        );
        let encoded = STANDARD.encode(&env);
        let indent = if name.ends_with(".yaml") { "    " } else { "" };
        let block: String = wrapped(&encoded, width, newline)
            .split_inclusive(newline)
            .map(|line| format!("{indent}{line}"))
            .collect();
        tree.write(name, format!("{before}{block}{after}"));
        // Where the key starts: the character holding its first bits.
        let char_index = 4 * env.find("sk-").unwrap() / 3;
        let line = before.matches('\n').count() + char_index / width + 1;
        let column = indent.len() + char_index % width + 1;
        expected.push((key, name, line as u64, column as u64));
    }
    // In a JSON string, the line breaks are escapes.
    let key = project_key();
    let encoded = STANDARD.encode(format!("OPENAI_API_KEY={key}\n"));
    tree.write(
        "export.json",
        format!("{{\"env\": \"{}\"}}\n", wrapped(&encoded, 76, "\\n")),
    );
    // Values one per line are not a wrapped block, even when they are as wide as one: a list of
    // 57-byte values (76 characters, no padding) and a list of bare Google keys (52).
    let values: Vec<String> = (0..3).map(|_| Kind::Google.key()).collect();
    let list: String = values
        .iter()
        .map(|key| format!("{}\n", STANDARD.encode(format!("GEMINI_API_KEY={key} #\n"))))
        .collect();
    tree.write("values.txt", list);
    let bare: Vec<String> = (0..3).map(|_| Kind::Google.key()).collect();
    let list: String = bare
        .iter()
        .map(|key| format!("{}\n", STANDARD.encode(key)))
        .collect();
    tree.write("keys.txt", list);
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    for (key, name, line, column) in &expected {
        assert_eq!(
            place(&run, key),
            (name.to_string(), *line, *column, Some("base64".into())),
            "{name}"
        );
    }
    assert_eq!(decoded(&run, &key).as_deref(), Some("base64"));
    for (index, key) in values.iter().enumerate() {
        assert_eq!(
            place(&run, key),
            (
                "values.txt".into(),
                index as u64 + 1,
                21,
                Some("base64".into())
            )
        );
    }
    for (index, key) in bare.iter().enumerate() {
        assert_eq!(
            place(&run, key),
            (
                "keys.txt".into(),
                index as u64 + 1,
                1,
                Some("base64".into())
            )
        );
    }
    assert_eq!(run.stdout.lines().count(), expected.len() + 7, "{run}");

    // At --decode-depth 0 nothing is decoded.
    let plain = tree.ferret(&["dir", ".", "--format", "jsonl", "--decode-depth", "0"]);
    plain.expect_code(0);
}

/// Issue 22: keys whose prefix is too short for a distinctive encoded form (`AIza`, `hf_`,
/// `gsk_`, `xai-`, `r8_`) are found in base64 too, wherever they fall in a 3-byte group: a
/// Kubernetes Secret's `data:` value holds the key alone, or after one or two characters.
#[test]
fn keys_with_short_prefixes_are_found_in_base64_at_every_alignment() {
    let tree = Tree::new();
    let kinds = [
        Kind::Google,
        Kind::HuggingFace,
        Kind::Groq,
        Kind::Xai,
        Kind::Replicate,
    ];
    let mut keys = Vec::new();
    for kind in kinds {
        let mut data = String::new();
        for (shift, lead) in ["", "\n", " \""].iter().enumerate() {
            let key = kind.key();
            let value = STANDARD.encode(format!("{lead}{key}"));
            data.push_str(&format!("  KEY_{shift}: {value}\n"));
            keys.push((kind, key));
        }
        tree.write(
            &format!("{}.yaml", kind.rule()),
            format!("apiVersion: v1\nkind: Secret\ndata:\n{data}"),
        );
    }
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    for (kind, key) in &keys {
        let record = run.record_of(key);
        assert_eq!(record["rule"], kind.rule(), "{kind:?}");
        assert_eq!(record["decoded"], "base64", "{kind:?}");
    }
    assert_eq!(run.stdout.lines().count(), keys.len(), "{run}");
}

/// Issue 22: base64 of base64 (a secret manager's export, an env file encoded twice) is
/// followed as deep as `--decode-depth` allows, and reported with each layer.
#[test]
fn base64_inside_base64_is_followed_within_the_depth() {
    let tree = Tree::new();
    let (openai, google) = (project_key(), Kind::Google.key());
    let env = format!("OPENAI_API_KEY={openai}\nGEMINI_API_KEY={google}\n");
    let twice = STANDARD.encode(STANDARD.encode(&env));
    tree.write("secret.yaml", format!("data:\n  ENV: {twice}\n"));
    let thrice = STANDARD.encode(URL_SAFE_NO_PAD.encode(STANDARD.encode(&env)));
    tree.write("export.json", format!("{{\"blob\": \"{thrice}\"}}\n"));
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    for key in [&openai, &google] {
        let records = run.records_of(key);
        let mut found: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r["path"].as_str().unwrap().into(),
                    r["decoded"].as_str().unwrap().into(),
                )
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("export.json".into(), "base64>base64>base64".into()),
                ("secret.yaml".into(), "base64>base64".into()),
            ]
        );
    }
    // Depth 2 reaches base64 of base64, not a third layer.
    let shallow = tree.ferret(&["dir", ".", "--format", "jsonl", "--decode-depth", "2"]);
    assert_eq!(
        run_paths(&shallow),
        ["secret.yaml", "secret.yaml"],
        "{shallow}"
    );
}

fn run_paths(run: &Run) -> Vec<String> {
    let mut paths: Vec<String> = run.records().into_iter().map(|r| r.path).collect();
    paths.sort();
    paths
}

/// Issue 22: a UTF-16LE file with a byte-order mark was reported as `utf-16be` at column 1 (a
/// little-endian line break lends its zero byte to a big-endian misreading of the next line).
/// The encoding is the one the bytes are in, and the column is the key's, in characters.
#[test]
fn utf16_files_with_a_byte_order_mark_are_labelled_and_placed_right() {
    let tree = Tree::new();
    let keys: Vec<String> = (0..4).map(|_| project_key()).collect();
    let text = |key: &str| format!("\u{feff}# settings\r\nname = app\r\nOPENAI_API_KEY={key}\r\n");
    let le: Vec<u8> = text(&keys[0])
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let be: Vec<u8> = text(&keys[1])
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    tree.write("le.env", le);
    tree.write("be.env", be);
    // On the first line, after the mark.
    let first = |key: &str| format!("\u{feff}KEY={key}\r\n");
    tree.write(
        "le1.env",
        first(&keys[2])
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>(),
    );
    tree.write(
        "be1.env",
        first(&keys[3])
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>(),
    );
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    assert_eq!(
        place(&run, &keys[0]),
        ("le.env".into(), 3, 16, Some("utf-16le".into()))
    );
    assert_eq!(
        place(&run, &keys[1]),
        ("be.env".into(), 3, 16, Some("utf-16be".into()))
    );
    assert_eq!(
        place(&run, &keys[2]),
        ("le1.env".into(), 1, 5, Some("utf-16le".into()))
    );
    assert_eq!(
        place(&run, &keys[3]),
        ("be1.env".into(), 1, 5, Some("utf-16be".into()))
    );
    assert_eq!(run.stdout.lines().count(), 4, "{run}");
}
