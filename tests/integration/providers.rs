//! Keys of the other AI providers (Anthropic, Google, Hugging Face, Groq, xAI, OpenRouter, Azure
//! OpenAI, Mistral, Cohere, Replicate, DeepSeek): each is reported by its own rule and its near
//! misses are not; each verifier asks a loopback mock of its provider (tests/support/providers.rs)
//! on the documented path with the documented authentication, reads live, invalid and
//! rate-limited answers, and sends keys only to its own provider's configured API base.

use crate::support;

use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use support::providers::{API_BASE_VARIABLES, Behaviour, KeyIn, Kind, ProviderMock, closed_base};
use support::{Run, Tree, describe_key, fingerprint};

/// `ferret ARGS` in `dir` with the API bases in `bases` (variable, URI), a private cache, and
/// no proxy.
fn run(dir: &Path, args: &[&str], bases: &[(&str, String)]) -> Run {
    let cache = TempDir::new().expect("cache directory");
    let closed = closed_base();
    let mut command = support::ferret_command();
    command
        .args(args)
        .current_dir(dir)
        .env("FERRET_CACHE_DIR", cache.path());
    for variable in API_BASE_VARIABLES {
        let base = bases
            .iter()
            .find(|(v, _)| *v == variable)
            .map_or(closed.clone(), |(_, base)| base.clone());
        command.env(variable, base);
    }
    for proxy in support::PROXY_VARIABLES {
        command.env_remove(proxy);
    }
    Run::from(command.output().expect("run ferret"))
}

#[test]
fn every_providers_key_is_reported_by_its_own_rule() {
    let tree = Tree::new();
    let keys: Vec<(Kind, String)> = Kind::ALL.iter().map(|&k| (k, k.key())).collect();
    for (index, (kind, key)) in keys.iter().enumerate() {
        tree.write(
            &format!("services/{index}.env"),
            format!("# {kind:?}\n{}\n", kind.line(key)),
        );
    }
    let run = run(tree.path(), &["dir", ".", "--format", "jsonl"], &[]);
    run.expect_code(1);
    let records = run.records();
    assert_eq!(records.len(), keys.len(), "{records:?}");
    for (index, (kind, key)) in keys.iter().enumerate() {
        run.expect_key_hidden(key);
        let found: Vec<_> = support::locations_of(&records, key);
        let column = kind.line(key).len() - key.len() + 1;
        assert_eq!(
            found,
            [(
                kind.rule().to_string(),
                format!("services/{index}.env"),
                2,
                column as u64
            )],
            "{kind:?}"
        );
        let record = records
            .iter()
            .find(|r| r.fingerprint == fingerprint(key))
            .expect("reported");
        let expected_severity = if *kind == Kind::Google {
            "high"
        } else {
            "critical"
        };
        assert_eq!(record.severity, expected_severity, "{kind:?}");
        assert_eq!(record.verification["status"], "unverified", "{kind:?}");
    }
}

#[test]
fn near_misses_are_not_reported() {
    let tree = Tree::new();
    let lines: Vec<String> = Kind::ALL.iter().map(|k| k.near_miss()).collect();
    tree.write("near-misses.txt", lines.join("\n") + "\n");
    let run = run(tree.path(), &["dir", ".", "--format", "jsonl"], &[]);
    run.expect_code(0);
    assert!(run.records().is_empty(), "{:?}", run.records());
}

/// One provider's verifier against its mock: a live key, an invalid one, and one rate limited
/// once and then live.
fn check_verifier(kind: Kind) {
    let api = kind.api().expect("a verifier");
    let mock = ProviderMock::start(api);
    let (live, invalid, limited) = (kind.key(), kind.key(), kind.key());
    mock.add_key(&live, Behaviour::Valid);
    mock.add_key(
        &limited,
        Behaviour::Sequence(vec![Behaviour::RateLimited, Behaviour::Valid]),
    );
    let tree = Tree::new();
    for (name, key) in [
        ("live", &live),
        ("invalid", &invalid),
        ("limited", &limited),
    ] {
        tree.write(&format!("{name}.env"), kind.line(key) + "\n");
    }
    let run = run(
        tree.path(),
        &["dir", ".", "--verify", "--format", "jsonl"],
        &[(api.env_var, mock.uri())],
    );
    run.expect_code(1);
    for key in [&live, &invalid, &limited] {
        run.expect_key_hidden(key);
    }

    let verification = run.verification_of(&live);
    assert_eq!(verification["status"], "live", "{kind:?}: {verification}");
    if let Some(owner) = api.owner {
        assert_eq!(verification["organization"], owner, "{kind:?}");
    }
    assert_eq!(
        run.verification_of(&invalid)["status"],
        "invalid",
        "{kind:?}"
    );
    assert_eq!(run.verification_of(&limited)["status"], "live", "{kind:?}");

    // Each key asked on the documented endpoint, with the documented authentication and
    // headers, and never in the URL.
    for (key, expected) in [(&live, 1), (&invalid, 1), (&limited, 2)] {
        let seen = mock.seen_for(key);
        assert_eq!(
            seen.len(),
            expected,
            "{kind:?} {}: {seen:?}",
            describe_key(key)
        );
        for request in &seen {
            assert_eq!(request.method, api.method, "{kind:?}");
            assert_eq!(request.target.split('?').next(), Some(api.path), "{kind:?}");
            assert!(
                !request.target.contains(key.as_str()),
                "{kind:?}: key in URL"
            );
            for (name, value) in api.required {
                assert!(
                    request.headers.iter().any(|(n, v)| n == name && v == value),
                    "{kind:?}: no {name} header"
                );
            }
            if let KeyIn::Header(_) = api.key_in {
                assert!(
                    !request.headers.iter().any(|(n, _)| n == "authorization"),
                    "{kind:?}: the key went out twice"
                );
            }
        }
    }
    let retry = mock.seen_for(&limited);
    assert!(
        retry[1].at - retry[0].at >= Duration::from_millis(900),
        "{kind:?}: asked again before Retry-After"
    );
    assert_eq!(mock.seen().len(), 4, "{kind:?}: {:?}", mock.seen());
}

#[test]
fn anthropic_keys_are_verified_on_models_with_x_api_key_and_version() {
    check_verifier(Kind::Anthropic);
}

#[test]
fn anthropic_admin_keys_are_verified_on_the_organization() {
    check_verifier(Kind::AnthropicAdmin);
}

#[test]
fn google_keys_are_verified_on_gemini_models_with_the_key_in_a_header() {
    check_verifier(Kind::Google);
}

#[test]
fn google_authorization_keys_are_verified_like_standard_ones() {
    check_verifier(Kind::GoogleAuth);
}

#[test]
fn hugging_face_tokens_are_verified_on_whoami() {
    check_verifier(Kind::HuggingFace);
}

#[test]
fn groq_keys_are_verified_on_models() {
    check_verifier(Kind::Groq);
}

#[test]
fn xai_keys_are_verified_on_their_own_record() {
    check_verifier(Kind::Xai);
}

#[test]
fn openrouter_keys_are_verified_on_their_own_record() {
    check_verifier(Kind::OpenRouter);
}

#[test]
fn mistral_keys_are_verified_on_models() {
    check_verifier(Kind::Mistral);
}

#[test]
fn cohere_keys_are_verified_with_check_api_key() {
    check_verifier(Kind::Cohere);
}

#[test]
fn replicate_tokens_are_verified_on_the_account() {
    check_verifier(Kind::Replicate);
}

#[test]
fn deepseek_keys_are_verified_on_the_balance() {
    check_verifier(Kind::DeepSeek);
}

#[test]
fn azure_openai_keys_are_never_sent_anywhere() {
    let tree = Tree::new();
    let key = Kind::AzureOpenAi.key();
    tree.write(".env", Kind::AzureOpenAi.line(&key) + "\n");
    let mocks: Vec<ProviderMock> = support::providers::APIS
        .iter()
        .map(ProviderMock::start)
        .collect();
    let bases: Vec<(&str, String)> = support::providers::APIS
        .iter()
        .zip(&mocks)
        .map(|(api, mock)| (api.env_var, mock.uri()))
        .collect();
    let run = run(
        tree.path(),
        &["dir", ".", "--verify", "--format", "jsonl"],
        &bases,
    );
    run.expect_code(1);
    assert_eq!(run.verification_of(&key)["status"], "unverified", "{run}");
    assert!(mocks.iter().all(|m| m.seen().is_empty()));
}

#[test]
fn each_key_goes_only_to_its_own_providers_api_base() {
    let (anthropic, groq) = (Kind::Anthropic, Kind::Groq);
    let (anthropic_api, groq_api) = (anthropic.api().unwrap(), groq.api().unwrap());
    let (anthropic_mock, groq_mock) = (
        ProviderMock::start(anthropic_api),
        ProviderMock::start(groq_api),
    );
    let (a, g) = (anthropic.key(), groq.key());
    anthropic_mock.add_key(&a, Behaviour::Valid);
    groq_mock.add_key(&g, Behaviour::Valid);
    let tree = Tree::new();
    tree.write(
        ".env",
        format!("{}\n{}\n", anthropic.line(&a), groq.line(&g)),
    );
    let bases = [
        (anthropic_api.env_var, anthropic_mock.uri()),
        (groq_api.env_var, groq_mock.uri()),
    ];
    let args = ["dir", ".", "--verify", "--format", "jsonl"];
    let run = run(tree.path(), &args, &bases);
    run.expect_code(1);
    assert_eq!(run.verification_of(&a)["status"], "live", "{run}");
    assert_eq!(run.verification_of(&g)["status"], "live", "{run}");
    let keys_seen = |mock: &ProviderMock| -> Vec<Option<String>> {
        mock.seen().into_iter().map(|s| s.key).collect()
    };
    assert_eq!(keys_seen(&anthropic_mock), [Some(a.clone())]);
    assert_eq!(keys_seen(&groq_mock), [Some(g.clone())]);
}

#[test]
fn a_plain_http_api_base_off_loopback_is_refused_for_every_provider() {
    let tree = Tree::new();
    tree.write("a.txt", "nothing here\n");
    for variable in &API_BASE_VARIABLES[1..] {
        let run = run(
            tree.path(),
            &["dir", ".", "--verify"],
            &[(variable, "http://example.com".to_string())],
        );
        run.expect_code(2);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{variable}: {run}");
        assert!(
            run.stderr.contains("http://example.com"),
            "{variable}: {run}"
        );
    }
}

#[test]
fn a_scanned_ferret_toml_cannot_move_a_providers_api_base() {
    let honest = ProviderMock::start(Kind::Groq.api().unwrap());
    let thief = ProviderMock::start(Kind::Groq.api().unwrap());
    let key = Kind::Groq.key();
    honest.add_key(&key, Behaviour::Valid);
    let tree = Tree::new();
    tree.write(".env", Kind::Groq.line(&key) + "\n");
    tree.write(
        ".ferret.toml",
        format!("[verify.api_bases]\ngroq = \"{}\"\n", thief.uri()),
    );
    let args = ["dir", ".", "--verify", "--format", "jsonl"];
    let run = run(
        tree.path(),
        &args,
        &[("FERRET_GROQ_API_BASE", honest.uri())],
    );
    run.expect_code(1);
    assert_eq!(run.verification_of(&key)["status"], "live", "{run}");
    assert!(
        thief.seen().is_empty(),
        "the scanned tree's api base was used"
    );
    assert!(run.stderr.contains("[verify]"), "no warning; {run}");
}

#[test]
fn the_operators_config_file_sets_a_providers_api_base() {
    let mock = ProviderMock::start(Kind::Mistral.api().unwrap());
    let key = Kind::Mistral.key();
    mock.add_key(&key, Behaviour::Valid);
    let tree = Tree::new();
    tree.write("app/.env", Kind::Mistral.line(&key) + "\n");
    let config = TempDir::new().expect("config directory");
    let config_file = config.path().join("ferret.toml");
    std::fs::write(
        &config_file,
        format!("[verify.api_bases]\nmistral = \"{}\"\n", mock.uri()),
    )
    .expect("write config");
    // The variable is unset here, so the file decides.
    let mut command = support::ferret_command();
    command
        .args(["dir", "app", "--verify", "--format", "jsonl", "--config"])
        .arg(&config_file)
        .current_dir(tree.path())
        .env("FERRET_CACHE_DIR", config.path())
        .env_remove("FERRET_MISTRAL_API_BASE");
    for proxy in support::PROXY_VARIABLES {
        command.env_remove(proxy);
    }
    let run = Run::from(command.output().expect("run ferret"));
    run.expect_code(1);
    assert_eq!(run.verification_of(&key)["status"], "live", "{run}");
    assert_eq!(mock.seen_for(&key).len(), 1);
}
