//! Keys that need their provider's name nearby (Mistral, Cohere, DeepSeek, Azure OpenAI) where
//! config files and code really put them: behind escaped quotes (a notebook's source, JSON inside
//! a JSON string, Terraform state), in Azure's `set_var("…", "…")`, and in a block whose
//! opening line or neighbours name the provider (YAML parents, TOML/INI sections, XML and JSON
//! parents, Kubernetes `env` entries, DeepSeek's OpenAI client with its `base_url`). Each is
//! reported by its own rule at its own line and column; the same shapes under another
//! provider's block, too far from the name, or hex-only for Mistral and Cohere, are not.

use crate::support;

use support::providers::Kind;
use support::{Tree, locations_of};

/// `text` with `{KEY}` replaced by `key`, and the line and column of the key.
fn place(text: &str, key: &str) -> (String, u64, u64) {
    let at = text.find("{KEY}").expect("a {KEY} in the template");
    let line = text[..at].matches('\n').count() as u64 + 1;
    let column = (at - text[..at].rfind('\n').map_or(0, |nl| nl + 1)) as u64 + 1;
    (text.replace("{KEY}", key), line, column)
}

/// Writes each `(kind, name, template)` with a fresh key and checks that every key is
/// reported once, by its kind's rule, where the template put it, and nothing else is.
fn expect_found(cases: &[(Kind, &str, &str)]) {
    let tree = Tree::new();
    let mut expected = Vec::new();
    for (index, (kind, name, template)) in cases.iter().enumerate() {
        let key = kind.key();
        let (text, line, column) = place(template, &key);
        let path = format!("{index}/{name}");
        tree.write(&path, text);
        expected.push((key, (kind.rule().to_string(), path, line, column)));
    }
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(1);
    let records = run.records();
    for (key, place) in &expected {
        assert_eq!(
            locations_of(&records, key),
            std::slice::from_ref(place),
            "{run}"
        );
    }
    assert_eq!(records.len(), expected.len(), "{run}");
}

#[test]
fn keys_behind_escaped_quotes_and_in_set_var_calls_are_found() {
    expect_found(&[
        (
            Kind::Mistral,
            "analysis.ipynb",
            "{\"cells\": [{\"cell_type\": \"code\", \"source\": [\n    \"client = Mistral(api_key=\\\"{KEY}\\\")\\n\"\n]}]}\n",
        ),
        (
            Kind::Cohere,
            "terraform.tfstate",
            "{\"outputs\": {\"env\": {\"value\": \"{\\\"COHERE_API_KEY\\\":\\\"{KEY}\\\"}\"}}}\n",
        ),
        (
            Kind::DeepSeek,
            "events.json",
            "{\"body\": \"{\\\\\\\"deepseek_api_key\\\\\\\": \\\\\\\"{KEY}\\\\\\\"}\"}\n",
        ),
        (
            Kind::AzureOpenAi,
            "main.rs",
            "fn main() {\n    std::env::set_var(\"AZURE_OPENAI_API_KEY\", \"{KEY}\");\n}\n",
        ),
        (
            Kind::AzureOpenAi,
            "main.go",
            "os.Setenv(\"AZURE_OPENAI_KEY\", \"{KEY}\")\n",
        ),
    ]);
}

#[test]
fn keys_named_by_their_enclosing_block_are_found() {
    expect_found(&[
        (
            Kind::Mistral,
            "config.yaml",
            "llm:\n  mistral:\n    model: mistral-large-latest\n    api_key: {KEY}\n",
        ),
        (
            Kind::DeepSeek,
            "config.toml",
            "[deepseek]\nmodel = \"deepseek-chat\"\napi_key = \"{KEY}\"\n",
        ),
        (
            Kind::Cohere,
            "settings.ini",
            "[cohere]\n; production\ntoken={KEY}\n",
        ),
        (
            Kind::Mistral,
            "app.config",
            "<configuration>\n  <mistral>\n    <apiKey>{KEY}</apiKey>\n  </mistral>\n</configuration>\n",
        ),
        (
            Kind::Cohere,
            "providers.json",
            "{\n  \"providers\": {\n    \"cohere\": {\n      \"model\": \"command-r\",\n      \"apiKey\": \"{KEY}\"\n    }\n  }\n}\n",
        ),
        (
            Kind::Mistral,
            "deployment.yaml",
            "spec:\n  containers:\n    - name: app\n      env:\n        - name: LOG_LEVEL\n          value: debug\n        - name: MISTRAL_API_KEY\n          value: {KEY}\n        - name: OTHER\n          value: x\n",
        ),
        (
            Kind::DeepSeek,
            "client.py",
            "from openai import OpenAI\n\nclient = OpenAI(\n    api_key=\"{KEY}\",\n    base_url=\"https://api.deepseek.com\",\n)\n",
        ),
        (
            Kind::DeepSeek,
            "one_line.py",
            "client = OpenAI(api_key=\"{KEY}\", base_url=\"https://api.deepseek.com\")\n",
        ),
        (
            Kind::AzureOpenAi,
            "azure.yaml",
            "azure_openai:\n  endpoint: https://contoso.openai.azure.com/\n  api_key: {KEY}\n",
        ),
    ]);
}

#[test]
fn the_same_shapes_elsewhere_are_not_reported() {
    let tree = Tree::new();
    let alnum = |n| support::random_alnum(n);
    let hex = |n: usize| {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("a hex digit"))
            .collect::<String>()
    };
    let files = [
        // Another provider's block, right after Mistral's.
        format!(
            "mistral:\n  model: mistral-large-latest\nopenai:\n  api_key: {}\n",
            alnum(32)
        ),
        // A hex value (a hash) is never a Mistral or Cohere key, wherever the name is.
        format!(
            "mistral:\n  api_key: {}\ncohere:\n  api_key: {}\n",
            hex(32),
            hex(40)
        ),
        // A name that does not say key.
        format!("mistral:\n  revision: {}\n", alnum(32)),
        // Top-level neighbours of a .env file are no block.
        format!("MISTRAL_MODEL=mistral-large\nAPI_KEY={}\n", alnum(32)),
        // Another list item of the same env list.
        format!(
            "env:\n  - name: MISTRAL_MODEL\n    value: mistral-large\n  - name: SENTRY_KEY\n    value: {}\n",
            alnum(32)
        ),
        // The provider's name further up than a block is looked for.
        format!(
            "cohere:\n{}  api_key: {}\n",
            "  note: x\n".repeat(12),
            alnum(40)
        ),
        // The same shape with another OpenAI-compatible provider's host, in a file that also
        // mentions DeepSeek elsewhere.
        format!(
            "client = OpenAI(\n    api_key=\"sk-{}\",\n    base_url=\"https://dashscope.aliyuncs.com/v1\",\n)\n\n\nmodel = \"deepseek-chat\"\n",
            hex(32)
        ),
        // Azure blocks that do not say OpenAI.
        format!("azure:\n  storage:\n    account_key: {}\n", hex(32)),
    ];
    for (index, text) in files.iter().enumerate() {
        tree.write(&format!("{index}.yaml"), text);
    }
    let run = tree.ferret(&["dir", ".", "--format", "jsonl"]);
    run.expect_code(0);
    assert!(run.records().is_empty(), "{run}");
}
