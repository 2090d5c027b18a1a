//! Every report format: the grouped text report, JSON, JSONL, and SARIF as GitHub code scanning
//! accepts it (validated against the SARIF 2.1.0 schema); `--output` and its extension; and
//! redaction everywhere unless `--show-secrets`.

use crate::support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::{
    BUILTIN_RULE_IDS as RULE_IDS, Run, Shape, Tree, fingerprint, locations_of, parse_jsonl,
    project_key,
};

/// A project key in two files and an admin key in a third (whose path needs URI escaping).
struct Fixture {
    tree: Tree,
    shared: String,
    admin: String,
}

fn fixture() -> Fixture {
    let tree = Tree::new();
    let (shared, admin) = (project_key(), Shape::Admin.key());
    tree.write("app/.env", format!("OPENAI_API_KEY={shared}\n"));
    tree.write(
        "deploy/values.yaml",
        format!("env:\n  - name: OPENAI_API_KEY\n    value: {shared}\n"),
    );
    tree.write(
        "ops scripts/rotaçion.sh",
        format!("#!/bin/sh\nexport OPENAI_ADMIN_KEY='{admin}'\n"),
    );
    Fixture {
        tree,
        shared,
        admin,
    }
}

/// The redacted form the contract describes: kind prefix, four characters, `…`, last four.
fn redacted(key: &str, prefix: &str) -> String {
    let body = &key[prefix.len()..];
    format!("{prefix}{}…{}", &body[..4], &key[key.len() - 4..])
}

#[test]
fn text_report_groups_locations_under_each_secret_and_redacts_it() {
    let f = fixture();
    let run = f.tree.ferret(&["dir", "."]);
    run.expect_code(1)
        .expect_key_hidden(&f.shared)
        .expect_key_hidden(&f.admin);
    assert!(!run.stdout.contains('\x1b'), "colour on a pipe; {run}");

    let blocks: Vec<&str> = run.stdout.split("\n\n").collect();
    let block_of = |key: &str| {
        let found: Vec<&&str> = blocks
            .iter()
            .filter(|b| b.contains(&fingerprint(key)))
            .collect();
        assert_eq!(found.len(), 1, "one block per secret; {run}");
        found[0].to_string()
    };
    let shared = block_of(&f.shared);
    assert!(
        shared.starts_with("openai-project-key OpenAI project API key [critical]"),
        "{run}"
    );
    assert!(
        shared.contains(&format!("secret       {}", redacted(&f.shared, "sk-proj-"))),
        "{run}"
    );
    assert!(shared.contains("app/.env:1:16"), "{run}");
    assert!(shared.contains("deploy/values.yaml:3:12"), "{run}");
    let admin = block_of(&f.admin);
    assert!(admin.starts_with("openai-admin-key "), "{run}");
    assert!(admin.contains(&redacted(&f.admin, "sk-admin-")), "{run}");
    assert!(admin.contains("ops scripts/rotaçion.sh:2:26"), "{run}");
    assert_eq!(
        run.stdout.lines().last(),
        Some("2 secrets found in 3 location(s)."),
        "{run}"
    );
}

#[test]
fn json_is_an_array_with_one_object_per_location() {
    let f = fixture();
    let run = f.tree.ferret(&["dir", ".", "--format", "json"]);
    run.expect_code(1).expect_key_hidden(&f.shared);
    let Value::Array(items) = run.json() else {
        panic!("not a JSON array; {run}");
    };
    assert_eq!(items.len(), 3, "{run}");
    for item in &items {
        for field in [
            "rule",
            "rule_name",
            "severity",
            "fingerprint",
            "secret",
            "path",
            "line",
            "column",
        ] {
            assert!(item.get(field).is_some(), "no `{field}`; {run}");
        }
        assert_eq!(item["severity"], "critical", "{run}");
        assert_eq!(item["verification"]["status"], "unverified", "{run}");
        assert!(item.get("commit").is_none(), "{run}");
    }
    let records = parse_jsonl(
        &items
            .iter()
            .map(|i| i.to_string() + "\n")
            .collect::<String>(),
    );
    assert_eq!(
        locations_of(&records, &f.admin),
        [(
            "openai-admin-key".to_string(),
            "ops scripts/rotaçion.sh".to_string(),
            2,
            26
        )],
        "{run}"
    );
}

#[test]
fn jsonl_has_one_object_per_location_and_one_fingerprint_per_secret() {
    let f = fixture();
    let run = f.tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1).expect_key_hidden(&f.shared);
    assert_eq!(run.stdout.lines().count(), 3, "{run}");
    let records = run.records();
    let shared: BTreeSet<_> = locations_of(&records, &f.shared).into_iter().collect();
    let expected: BTreeSet<_> = [
        ("openai-project-key", "app/.env", 1, 16),
        ("openai-project-key", "deploy/values.yaml", 3, 12),
    ]
    .into_iter()
    .map(|(r, p, l, c)| (r.to_string(), p.to_string(), l, c))
    .collect();
    assert_eq!(shared, expected, "{run}");
    for record in &records {
        assert_eq!(record.verification["status"], "unverified", "{run}");
        assert!(!record.rule_name.is_empty(), "{run}");
        let key = if record.rule == "openai-admin-key" {
            &f.admin
        } else {
            &f.shared
        };
        assert_eq!(record.fingerprint, fingerprint(key), "{run}");
    }
}

pub(crate) fn sarif_validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/sarif-schema-2.1.0.json"
    );
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema fixture"))
            .expect("schema is JSON");
    // The published schema has a stray `]` in the two `language` patterns, which the
    // validator refuses to compile as regexes; ferret never writes that property, so the
    // intended pattern stands in.
    for definition in ["run", "toolComponent"] {
        let language = &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
        assert_eq!(language, "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$");
        *language = Value::from("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
    }
    // This copy keeps the log's own schema under `definitions/Root` (as code generators want
    // it), so the document alone constrains nothing: validate against that definition.
    schema["$ref"] = Value::from("#/definitions/Root");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

/// Asserts that `sarif` is valid SARIF 2.1.0 and meets what GitHub code scanning requires.
#[track_caller]
fn assert_sarif_for_github(sarif: &Value, run: &Run) {
    let errors: Vec<String> = sarif_validator()
        .iter_errors(sarif)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}; {run}");

    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "ferret");
    let rules = driver["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, RULE_IDS, "one SARIF rule per ferret rule");
    for rule in rules {
        for text in ["shortDescription", "fullDescription", "help"] {
            let text = rule[text]["text"].as_str().unwrap_or("");
            assert!(!text.is_empty() && text.len() <= 1024, "{rule}");
        }
        let severity: f64 = rule["properties"]["security-severity"]
            .as_str()
            .expect("security-severity is a string")
            .parse()
            .expect("security-severity is a number");
        assert!(severity > 0.0 && severity <= 10.0, "{rule}");
        let tags = rule["properties"]["tags"].as_array().expect("tags");
        assert!(tags.iter().any(|t| t == "security"), "{rule}");
    }
    for result in runs[0]["results"].as_array().expect("results") {
        let rule_id = result["ruleId"].as_str().expect("ruleId");
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(ids[index], rule_id);
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let locations = result["locations"].as_array().expect("locations");
        assert!(!locations.is_empty(), "a result without location");
        let physical = &locations[0]["physicalLocation"];
        let uri = physical["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            !uri.is_empty() && !uri.starts_with('/') && !uri.contains("://"),
            "not a relative URI: {uri}"
        );
        let region = &physical["region"];
        for field in ["startLine", "startColumn", "endColumn"] {
            assert!(
                region[field].as_u64().unwrap_or(0) >= 1,
                "{field}: {region}"
            );
        }
        assert!(region["endColumn"].as_u64() > region["startColumn"].as_u64());
        let hash = result["partialFingerprints"]["primaryLocationLineHash"]
            .as_str()
            .expect("primaryLocationLineHash");
        assert!(!hash.is_empty());
    }
}

/// `(uri, startLine, startColumn, endColumn, primaryLocationLineHash)` of each result.
fn sarif_results(sarif: &Value) -> Vec<(String, u64, u64, u64, String)> {
    sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let physical = &r["locations"][0]["physicalLocation"];
            let region = &physical["region"];
            (
                physical["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                region["startLine"].as_u64().unwrap(),
                region["startColumn"].as_u64().unwrap(),
                region["endColumn"].as_u64().unwrap(),
                r["partialFingerprints"]["primaryLocationLineHash"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn sarif_is_valid_and_meets_github_code_scanning_requirements() {
    let f = fixture();
    let run = f.tree.ferret(&["dir", ".", "--format", "sarif"]);
    run.expect_code(1)
        .expect_key_hidden(&f.shared)
        .expect_key_hidden(&f.admin);
    let sarif = run.json();
    assert_sarif_for_github(&sarif, &run);
    // The schema check has teeth: a column 0, which GitHub rejects, fails it.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"] =
        Value::from(0);
    assert!(!sarif_validator().is_valid(&broken));

    let mut places: Vec<_> = sarif_results(&sarif)
        .into_iter()
        .map(|(uri, line, start, end, _)| (uri, line, start, end))
        .collect();
    places.sort();
    let admin_len = f.admin.len() as u64;
    let shared_len = f.shared.len() as u64;
    assert_eq!(
        places,
        [
            ("app/.env".to_string(), 1, 16, 16 + shared_len),
            ("deploy/values.yaml".to_string(), 3, 12, 12 + shared_len),
            (
                "ops%20scripts/rota%C3%A7ion.sh".to_string(),
                2,
                26,
                26 + admin_len
            ),
        ],
        "{run}"
    );
}

#[test]
fn sarif_without_findings_is_valid_too() {
    let tree = Tree::new();
    tree.write("README.md", "no keys\n");
    let run = tree.ferret(&["dir", ".", "--format", "sarif"]);
    run.expect_code(0);
    let sarif = run.json();
    assert_sarif_for_github(&sarif, &run);
    assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn sarif_line_hash_follows_the_key_not_its_line() {
    let tree = Tree::new();
    let (key, other) = (project_key(), project_key());
    let hash_of = |text: String| {
        tree.write("src/settings.py", text);
        let run = tree.ferret(&["dir", ".", "--format", "sarif"]);
        run.expect_code(1);
        let results = sarif_results(&run.json());
        assert_eq!(results.len(), 1, "{run}");
        let (_, line, _, _, hash) = results.into_iter().next().unwrap();
        (line, hash)
    };
    let (line_before, before) = hash_of(format!("KEY = \"{key}\"\n"));
    let (line_after, after) = hash_of(format!("import os\n\n\n# moved\nKEY = \"{key}\"\n"));
    assert_eq!((line_before, line_after), (1, 5));
    assert_eq!(before, after, "the alert must survive the key moving");
    let (_, different) = hash_of(format!("KEY = \"{other}\"\n"));
    assert_ne!(before, different, "another key is another alert");
}

#[test]
fn output_file_format_follows_its_extension() {
    let f = fixture();
    let out = Tree::new();
    let scanned = f.tree.path().to_str().unwrap();
    for (name, check) in [
        ("report.sarif", "sarif"),
        ("report.json", "json"),
        ("report.jsonl", "jsonl"),
    ] {
        let target = out.join(name);
        let run = support::ferret_in(
            out.path(),
            &["dir", scanned, "--output", target.to_str().unwrap()],
        );
        run.expect_code(1);
        assert!(run.stdout.is_empty(), "report went to stdout; {run}");
        let text = std::fs::read_to_string(&target).expect("report written");
        assert!(!text.contains(&f.shared) && !text.contains(&f.admin));
        match check {
            "sarif" => {
                let sarif: Value = serde_json::from_str(&text).expect("SARIF is JSON");
                assert_sarif_for_github(&sarif, &run);
                assert_eq!(sarif_results(&sarif).len(), 3);
            }
            "json" => {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(value.as_array().map(Vec::len), Some(3));
            }
            _ => assert_eq!(parse_jsonl(&text).len(), 3),
        }
    }
    // An explicit --format wins over the extension.
    let target = out.join("report.json");
    let run = support::ferret_in(
        out.path(),
        &[
            "dir",
            scanned,
            "--format",
            "jsonl",
            "-o",
            target.to_str().unwrap(),
        ],
    );
    run.expect_code(1);
    let text = std::fs::read_to_string(&target).unwrap();
    assert_eq!(parse_jsonl(&text).len(), 3);
}

#[test]
fn no_format_prints_a_full_key_unless_asked() {
    let f = fixture();
    for format in ["text", "json", "jsonl", "sarif"] {
        let run = f.tree.ferret(&["dir", ".", "--format", format]);
        run.expect_code(1)
            .expect_key_hidden(&f.shared)
            .expect_key_hidden(&f.admin);
        assert!(
            run.stdout.contains(&redacted(&f.shared, "sk-proj-")),
            "{format}: no redacted form; {run}"
        );

        let run = f
            .tree
            .ferret(&["dir", ".", "--format", format, "--show-secrets"]);
        run.expect_code(1);
        assert!(
            run.stdout.contains(&f.shared) && run.stdout.contains(&f.admin),
            "{format}: --show-secrets did not show the keys; {run}"
        );
        assert!(!run.stderr.contains(&f.shared), "{format}: key on stderr");
    }
}

#[test]
fn streams_redact_in_every_format_unless_asked() {
    let key = Shape::ServiceAccount74.key();
    let input = format!("boot\ntoken={key}\n");
    for format in ["text", "json", "jsonl", "sarif"] {
        for show in [false, true] {
            let mut command = support::ferret_command();
            command.args(["stdin", "--format", format]);
            if show {
                command.arg("--show-secrets");
            }
            let run = Run::from(command.write_stdin(input.clone()).output().unwrap());
            run.expect_code(1);
            if show {
                assert!(run.stdout.contains(&key), "{format}: key not shown; {run}");
            } else {
                run.expect_key_hidden(&key);
                assert!(
                    run.stdout.contains(&redacted(&key, "sk-svcacct-")),
                    "{format}: no redacted form; {run}"
                );
            }
            if format == "sarif" {
                assert_sarif_for_github(&run.json(), &run);
            }
        }
    }
}
