//! Things that look like AI providers' keys but are not: placeholders, redacted and masked
//! forms, hand-typed fakes of a key's exact shape, truncated keys, other services' keys, words
//! and identifiers that merely contain a key's prefix (`sk-`, `hf_`, `gsk_`, `AIza`, `r8_`), and
//! hex hashes beside a provider's name.
//! None may be reported, in any format, and the exit code stays 0.

use crate::support;

use support::{Tree, marker, random_alnum, random_b64url};

fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("a hex digit"))
        .collect()
}

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
    .into_iter()
    .chain(other_providers_decoys())
    .chain(typed_fakes())
    .collect()
}

/// `pattern` repeated and cut to `len` characters.
fn cycle(pattern: &str, len: usize) -> String {
    pattern.chars().cycle().take(len).collect()
}

/// Values of each rule's exact shape that a person typed: runs along the alphabet or the digits
/// (either case), short stretches repeated, marker words between separators. Each passes the
/// rule's pattern, entropy and placeholder list, so only the fake filter tells them apart.
fn typed_fakes() -> Vec<String> {
    let m = marker();
    let ant = ["sk-", "ant-"].concat();
    let aiza = ["AI", "za"].concat();
    let aq = ["AQ.", "Ab8RN6"].concat();
    let hf = ["h", "f_"].concat();
    let gsk = ["gs", "k_"].concat();
    let xai = ["xa", "i-"].concat();
    let or = ["sk-", "or-", "v1-"].concat();
    let r8 = ["r", "8_"].concat();
    let runs = "klmnopqrstuvwKLMNOPQRSTUVW98765hijHIJ-_";
    vec![
        format!("ANTHROPIC_API_KEY={ant}api03-{}AA", cycle(runs, 93)),
        format!(
            "ANTHROPIC_API_KEY={ant}api03-fake-key-for-unit-tests-{}AA",
            random_b64url(69)
        ),
        format!("HF_TOKEN={hf}GhIjKlMnOpQrStUvWxYz9876543210ZyXw"),
        format!(
            "GROQ_API_KEY={gsk}{}",
            cycle("MnOpQrStUv98765KlMnOpQrSt", 52)
        ),
        format!(
            "XAI_API_KEY={xai}{}",
            cycle("mnopqrstuvMNOPQRSTUV98765432", 80)
        ),
        format!("GOOGLE_API_KEY={aiza}SyD-fake-key-{}", random_b64url(22)),
        format!("GEMINI_API_KEY={aq}-sample-key-{}", random_b64url(32)),
        format!(
            "OPENAI_API_KEY=sk-proj-{}{m}{}",
            cycle("qrstuvwxyzQRSTUVWXYZ9876543", 74),
            cycle("qrstuvwxyzQRSTUVWXYZ9876543", 74)
        ),
        format!("OPENROUTER_API_KEY={or}{}", cycle("fedcba9876543210", 64)),
        format!("DEEPSEEK_API_KEY=sk-{}", cycle("fedcba9876543210", 32)),
        format!("AZURE_OPENAI_API_KEY={}", cycle("9876543210fedcba", 32)),
        format!("AZURE_OPENAI_KEY={}", cycle("a1b2c3d4", 32)),
        format!(
            "MISTRAL_API_KEY={}",
            cycle("MnOpQrStUvWxYz98765432KlMn", 32)
        ),
        format!("CO_API_KEY={}", cycle("zyxwvutsrqZYXWVUTSRQ98765", 40)),
        format!("REPLICATE_API_TOKEN={r8}dummy-{}", random_alnum(31)),
    ]
}

/// Near misses of the other providers' rules. Prefixes are assembled from parts so that no grep
/// of this file finds a key shape.
fn other_providers_decoys() -> Vec<String> {
    let ant = ["sk-", "ant-"].concat();
    let aiza = ["AI", "za"].concat();
    let hf = ["h", "f_"].concat();
    let gsk = ["gs", "k_"].concat();
    let xai = ["xa", "i-"].concat();
    let or = ["sk-", "or-", "v1-"].concat();
    let r8 = ["r", "8_"].concat();
    vec![
        // Anthropic: placeholders, truncated, redacted, a suffix glued on, the prefix in prose.
        format!("ANTHROPIC_API_KEY={ant}api03-your-key-here"),
        format!("ANTHROPIC_API_KEY={ant}api03-{}AA", "X".repeat(93)),
        format!("{ant}api03-{}", random_b64url(70)),
        format!("{ant}admin01-{}", random_b64url(93)),
        format!("\"partial_key_hint\": \"{ant}api03-R2D...igAA\""),
        format!("{ant}api03-{}AA-{}", random_b64url(93), random_alnum(6)),
        format!("Anthropic keys start with {ant} and are 108 characters long."),
        // Google: the prefix in prose, placeholders, too short, too long, inside a word.
        format!("Google API keys start with {aiza} followed by 35 characters."),
        format!("apiKey: \"{aiza}Sy{}\"", "X".repeat(33)),
        format!("GOOGLE_API_KEY={aiza}{}", random_b64url(30)),
        format!("GOOGLE_API_KEY={aiza}{}", random_b64url(36)),
        format!("VIEW{aiza}{}", random_b64url(35)),
        // Hugging Face: identifiers, placeholders, a lowercase identifier of a token's length.
        format!("from huggingface_hub import {hf}hub_download, {hf}hub_url"),
        format!("{hf}token = os.environ[\"HF_TOKEN\"]"),
        format!("HF_TOKEN={hf}{}", "x".repeat(34)),
        format!("static int {hf}servingcellpriorityparametersdes;"),
        format!("HF_TOKEN={hf}{}", random_alnum(20)),
        // Groq: inside words and paths, placeholders, truncated.
        format!("tasks/{gsk}upload.py and desk_{gsk}{}", random_alnum(52)),
        format!("GROQ_API_KEY={gsk}{}", "x".repeat(52)),
        format!("GROQ_API_KEY={gsk}{}", random_alnum(40)),
        // xAI: package names, the API's own redacted form, truncated.
        format!("pip install {xai}sdk"),
        format!("\"redacted_api_key\": \"{xai}...b14o\""),
        format!("XAI_API_KEY={xai}{}", random_alnum(60)),
        // OpenRouter: zeros, truncated, the API's label form.
        format!("OPENROUTER_API_KEY={or}{}", "0".repeat(64)),
        format!("OPENROUTER_API_KEY={or}{}", random_hex(40)),
        format!("\"label\": \"{or}0e6...c96\""),
        // Replicate: register and variable names, truncated.
        format!("uint64_t {r8}saved_register_value_before_the_call = 0;"),
        format!("REPLICATE_API_TOKEN={r8}{}", random_alnum(30)),
        // 32-hex hashes and ids beside the word azure; Azure OpenAI settings without a key.
        format!("azure_blob_md5 = \"{}\"", random_hex(32)),
        format!("# azure deployment checksum {}", random_hex(32)),
        format!("AZURE_OPENAI_API_KEY={}", random_hex(40)),
        "AZURE_OPENAI_API_KEY=${{ secrets.AZURE_OPENAI_API_KEY }}".to_string(),
        "AZURE_OPENAI_API_KEY=0123456789abcdef0123456789abcdef".to_string(),
        "AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/".to_string(),
        // Hashes and model names beside Mistral, Cohere and DeepSeek; their key shapes without
        // the provider's name.
        format!("MISTRAL_API_KEY={}", random_hex(32)),
        "model: mistralai/Mistral-7B-Instruct-v0.2".to_string(),
        "MISTRAL_API_KEY=your_mistral_api_key_here".to_string(),
        format!("API_KEY={}", random_alnum(32)),
        format!(
            "cohere @ git+https://github.com/cohere-ai/cohere-python@{}",
            random_hex(40)
        ),
        format!("CO_API_KEY={}", "x".repeat(40)),
        format!("DASHSCOPE_API_KEY=sk-{}", random_hex(32)),
        format!("DEEPSEEK_API_KEY=sk-{}", random_hex(40)),
        "DEEPSEEK_MODEL=deepseek-chat".to_string(),
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
