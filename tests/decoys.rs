//! Things that look like OpenAI keys but are not: placeholders, redacted and masked forms,
//! truncated keys, other providers' keys and words that merely contain `sk-`. None may be
//! reported, in any format, and the exit code stays 0.

mod support;

use support::{Tree, marker, random_alnum, random_b64url};

/// Every decoy class, one per line, built at run time (several look like keys to a grep).
fn decoys() -> Vec<String> {
    let m = marker();
    vec![
        // Placeholders.
        "OPENAI_API_KEY=sk-your-key-here".to_string(),
        "OPENAI_API_KEY=sk-proj-your-api-key-here".to_string(),
        format!("OPENAI_API_KEY=sk-{}", "x".repeat(48)),
        format!(
            "OPENAI_API_KEY=sk-proj-{}{m}{}",
            "X".repeat(74),
            "X".repeat(74)
        ),
        format!("api_key: sk-proj-{}{m}{}", "x".repeat(20), "x".repeat(20)),
        format!("sk-svcacct-{}{m}{}", "X".repeat(74), "X".repeat(74)),
        format!("sk-admin-{}{m}{}", "X".repeat(58), "X".repeat(58)),
        format!("sk-None-{}{m}{}", "X".repeat(74), "X".repeat(74)),
        format!("sk-{}{m}{}", "X".repeat(20), "X".repeat(20)),
        format!(
            "sk-proj-{}EXAMPLE{}{m}{}",
            random_b64url(30),
            random_b64url(37),
            random_b64url(74)
        ),
        // Redacted and masked forms, as the admin API and error messages show them.
        "\"redacted_value\": \"sk-abc...xyz\"".to_string(),
        "\"redacted_value\": \"sk-proj-...9f2c\"".to_string(),
        "\"redacted_value\": \"sk-admin...def\"".to_string(),
        "key = sk-proj-****abcd".to_string(),
        format!(
            "Incorrect API key provided: sk-VKMIs{}wjh3.",
            "*".repeat(38)
        ),
        // Truncated keys: the tail is shorter than the head (or missing).
        format!("sk-proj-{}{m}{}", random_b64url(74), random_b64url(40)),
        format!("sk-{}{m}{}", random_alnum(20), random_alnum(12)),
        format!("sk-svcacct-{}{m}{}", random_b64url(74), random_b64url(70)),
        format!("sk-None-{}{m}", random_b64url(74)),
        format!("sk-proj-{}{m}{}", random_b64url(30), random_alnum(74)),
        // Other providers' keys.
        format!("stripe.api_key = \"sk_live_{}\"", random_alnum(24)),
        format!("STRIPE_SECRET=sk_test_{}", random_alnum(99)),
        // Words that contain `sk-`.
        format!("task-{}{m}{}", random_alnum(20), random_alnum(20)),
        format!("disk-proj-{}{m}{}", random_b64url(74), random_b64url(74)),
        "risk-free, desk-lamp, ask-me-anything".to_string(),
    ]
}

#[test]
fn no_decoy_is_reported_in_any_format() {
    let tree = Tree::new();
    let lines = decoys();
    tree.write("all.txt", lines.join("\n") + "\n");
    // Each decoy also alone, at the very end of a file (no newline), where a cut-off key is
    // the most plausible.
    for (index, decoy) in lines.iter().enumerate() {
        tree.write(&format!("one/{index}.env"), decoy);
    }
    tree.write(
        "config.json",
        format!(
            "{{\"openai\": {{\"api_key\": \"{}\", \"backup\": \"{}\"}}}}\n",
            lines[3], lines[15]
        ),
    );

    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(0);
    assert!(run.records().is_empty(), "{run}");

    let run = tree.ferret(&["dir", ".", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.json(), serde_json::json!([]), "{run}");

    let run = tree.ferret(&["dir", ".", "--format", "sarif"]);
    run.expect_code(0);
    assert_eq!(
        run.json()["runs"][0]["results"],
        serde_json::json!([]),
        "{run}"
    );

    let run = tree.ferret(&["dir", "."]);
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), "No secrets found.", "{run}");
}

#[test]
fn no_decoy_is_reported_from_a_stream() {
    let input = decoys().join("\n");
    let output = support::ferret_command()
        .args(["stdin", "--format", "jsonl"])
        .write_stdin(input)
        .output()
        .expect("run ferret");
    let run = support::Run::from(output);
    run.expect_code(0);
    assert!(run.records().is_empty(), "{run}");
}
