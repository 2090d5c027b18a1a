//! The verifiers of every provider but OpenAI: for each, the documented cheap read-only request
//! that needs a valid key (no tokens generated, nothing written) and what its answers mean.
//!
//! A rule names one of these with `verifier = "<name>"`. The shared reading
//! ([`Reading`](super::check::Reading)) already knows that 401 is a dead key, 402 an unpaid
//! one, 429 a rate limit and 5xx a failure; each entry adds only its provider's own words.

use serde_json::Value;

use super::check::{Answer, Auth, Check, Method, Owner, Reading};
use crate::finding::VerificationStatus;
use crate::provider::{Provider, VerifierId};

/// The check a rule's `verifier` names, if it is one of these.
pub(super) fn check(verifier: VerifierId) -> Option<&'static Check> {
    CHECKS
        .iter()
        .find(|(id, _)| *id == verifier)
        .map(|(_, check)| check)
}

/// A reading that adds nothing to the rules every provider shares.
const PLAIN: Reading = Reading {
    undecided: &[],
    invalid: &[],
    restricted: &[],
    no_credit: &[],
    owner: Owner::Unknown,
    success: None,
};

/// `GET path` with the key as a Bearer token, the most common check.
const fn get_with_bearer(provider: Provider, path: &'static str, reading: Reading) -> Check {
    Check {
        provider,
        method: Method::Get,
        path,
        auth: Auth::Bearer,
        headers: &[],
        answer: Answer::Reading(reading),
    }
}

/// Anthropic: the key in `x-api-key`, the required `anthropic-version` (the stable one), the
/// organization of the key in a header of every answer; a workspace without the needed
/// permission, an account out of credit (400 or 402 `billing_error`).
const fn anthropic(path: &'static str, owner: Owner) -> Check {
    Check {
        provider: Provider::Anthropic,
        method: Method::Get,
        path,
        auth: Auth::Header("x-api-key"),
        headers: &[("anthropic-version", "2023-06-01")],
        answer: Answer::Reading(Reading {
            restricted: &["permission_error"],
            no_credit: &["billing_error", "credit balance is too low"],
            owner,
            ..PLAIN
        }),
    }
}

/// `(verifier name, check)` for every provider but OpenAI.
pub static CHECKS: &[(VerifierId, Check)] = &[
    // Listing models costs nothing.
    (
        VerifierId::Anthropic,
        anthropic(
            "/v1/models?limit=1",
            Owner::Header("anthropic-organization-id"),
        ),
    ),
    // Admin keys work only on the Admin API; this names the organization they administer.
    (
        VerifierId::AnthropicAdmin,
        anthropic("/v1/organizations/me", Owner::Field("/id")),
    ),
    // The Gemini API's model list. The key goes in `x-goog-api-key` (documented), not in the
    // `?key=` query, so it never appears in a URL. A Google API key that is valid but may not
    // call Gemini (the Generative Language API is off in its project, or the key is restricted
    // to other APIs, referrers or apps) is restricted: it still works somewhere. Standard
    // (`AIza`) and authorization (`AQ.`) keys are checked alike: Google documents both for the
    // Gemini API. A key Google caught leaked is blocked for good ("reported as leaked", 403):
    // invalid. A 401 `ACCESS_TOKEN_TYPE_UNSUPPORTED` (answered to some `AQ.` keys) says the
    // endpoint did not take that kind of key, not that the key is dead: an error.
    (
        VerifierId::GoogleGemini,
        Check {
            provider: Provider::Google,
            method: Method::Get,
            path: "/v1beta/models?pageSize=1",
            auth: Auth::Header("x-goog-api-key"),
            headers: &[],
            answer: Answer::Reading(Reading {
                undecided: &["access_token_type_unsupported"],
                invalid: &[
                    "api_key_invalid",
                    "consumer_suspended",
                    "api key expired",
                    "reported as leaked",
                ],
                restricted: &[
                    "service_disabled",
                    "api_key_service_blocked",
                    "api_key_http_referrer_blocked",
                    "api_key_ip_address_blocked",
                    "api_key_android_app_blocked",
                    "api_key_ios_app_blocked",
                ],
                ..PLAIN
            }),
        },
    ),
    // Who the token belongs to (user or organization name).
    (
        VerifierId::HuggingFace,
        get_with_bearer(
            Provider::HuggingFace,
            "/api/whoami-v2",
            Reading {
                owner: Owner::Field("/name"),
                ..PLAIN
            },
        ),
    ),
    // Groq's OpenAI-compatible model list.
    (
        VerifierId::Groq,
        get_with_bearer(
            Provider::Groq,
            "/openai/v1/models",
            Reading {
                invalid: &["invalid_api_key"],
                ..PLAIN
            },
        ),
    ),
    // The key's own record: its team, and whether it or its team is blocked or disabled
    // (still a 200). xAI answers a wrong key with 400 "Incorrect API key provided".
    (
        VerifierId::Xai,
        get_with_bearer(
            Provider::Xai,
            "/v1/api-key",
            Reading {
                invalid: &["incorrect api key"],
                owner: Owner::Field("/team_id"),
                success: Some(xai_key_state),
                ..PLAIN
            },
        ),
    ),
    // The key's own record: its credit limit and usage.
    (
        VerifierId::OpenRouter,
        get_with_bearer(
            Provider::OpenRouter,
            "/api/v1/key",
            Reading {
                no_credit: &["insufficient credits"],
                success: Some(openrouter_credit),
                ..PLAIN
            },
        ),
    ),
    (
        VerifierId::Mistral,
        get_with_bearer(Provider::Mistral, "/v1/models", PLAIN),
    ),
    // Cohere's own key check: 200 with `valid` and the owning organization.
    (
        VerifierId::Cohere,
        Check {
            provider: Provider::Cohere,
            method: Method::Post,
            path: "/v1/check-api-key",
            auth: Auth::Bearer,
            headers: &[],
            answer: Answer::Reading(Reading {
                owner: Owner::Field("/organization_id"),
                success: Some(cohere_valid),
                ..PLAIN
            }),
        },
    ),
    // The account the token belongs to.
    (
        VerifierId::Replicate,
        get_with_bearer(
            Provider::Replicate,
            "/v1/account",
            Reading {
                owner: Owner::Field("/username"),
                ..PLAIN
            },
        ),
    ),
    // The account's balance, and whether it can pay for API calls.
    (
        VerifierId::DeepSeek,
        get_with_bearer(
            Provider::DeepSeek,
            "/user/balance",
            Reading {
                no_credit: &["insufficient balance"],
                success: Some(deepseek_balance),
                ..PLAIN
            },
        ),
    ),
];

/// xAI reports a disabled or blocked key (or team) with 200 and flags.
fn xai_key_state(body: &Value) -> Option<(VerificationStatus, String)> {
    let flag = |name: &str| body[name] == true;
    if flag("api_key_disabled") {
        Some((VerificationStatus::Invalid, "the key is disabled".into()))
    } else if flag("api_key_blocked") {
        Some((VerificationStatus::Invalid, "the key is blocked".into()))
    } else if flag("team_blocked") {
        // The key itself is fine: it works again as soon as its team is unblocked.
        Some((
            VerificationStatus::Restricted,
            "the key's team is blocked".into(),
        ))
    } else {
        None
    }
}

/// An OpenRouter key with a credit limit it has used up answers 200 with nothing remaining.
fn openrouter_credit(body: &Value) -> Option<(VerificationStatus, String)> {
    let remaining = body.pointer("/data/limit_remaining")?.as_f64()?;
    (remaining <= 0.0).then(|| {
        (
            VerificationStatus::QuotaExceeded,
            "the key's credit limit is used up".into(),
        )
    })
}

/// Cohere's check answers 200 for every key it can parse and says `valid: false` for dead ones.
fn cohere_valid(body: &Value) -> Option<(VerificationStatus, String)> {
    (body["valid"] == false).then(|| {
        (
            VerificationStatus::Invalid,
            "Cohere says the key is not valid".into(),
        )
    })
}

/// DeepSeek's balance: `is_available` is false when the account cannot pay for a call.
fn deepseek_balance(body: &Value) -> Option<(VerificationStatus, String)> {
    (body["is_available"] == false).then(|| {
        (
            VerificationStatus::QuotaExceeded,
            "no balance available for API calls".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    use super::*;
    use crate::verify::check::Outcome;

    fn classify(verifier: &str, status: u16, body: &str) -> VerificationStatus {
        let check = check(verifier.parse().unwrap()).unwrap();
        match check.classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        ) {
            Outcome::Done(v) => v.status,
            other => panic!("{verifier} {status}: expected a verdict, got {other:?}"),
        }
    }

    #[test]
    fn every_builtin_rules_verifier_is_known() {
        for verifier in VerifierId::ALL {
            assert!(
                Check::for_verifier(verifier).is_some(),
                "verifier {verifier} has no check"
            );
        }
        let rules = crate::rules::RuleSet::builtin().unwrap();
        for rule in &rules.rules {
            if let Some(verifier) = &rule.verifier {
                assert!(
                    Check::for_verifier(*verifier).is_some(),
                    "rule {}: unknown verifier {verifier}",
                    rule.id
                );
            }
        }
        let mut names: Vec<_> = CHECKS.iter().map(|(name, _)| name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a verifier name is used twice");
    }

    #[test]
    fn bodies_that_say_more_than_their_status() {
        use VerificationStatus::*;
        let xai = |flags: &str| classify("xai", 200, &format!(r#"{{"team_id":"t",{flags}}}"#));
        assert_eq!(xai(r#""api_key_blocked":false"#), Live);
        assert_eq!(xai(r#""api_key_disabled":true"#), Invalid);
        assert_eq!(xai(r#""team_blocked":true"#), Restricted);
        let incorrect = r#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***ab. You can obtain an API key from https://console.x.ai."}"#;
        assert_eq!(classify("xai", 400, incorrect), Invalid);

        assert_eq!(classify("cohere", 200, r#"{"valid":false}"#), Invalid);
        assert_eq!(classify("cohere", 200, r#"{"valid":true}"#), Live);
        let balance = r#"{"is_available":false,"balance_infos":[]}"#;
        assert_eq!(classify("deepseek", 200, balance), QuotaExceeded);
        let limit = r#"{"data":{"label":"sk-or-v1-abc...def","limit":5,"limit_remaining":0}}"#;
        assert_eq!(classify("openrouter", 200, limit), QuotaExceeded);
        let unlimited = r#"{"data":{"label":"x","limit":null,"limit_remaining":null}}"#;
        assert_eq!(classify("openrouter", 200, unlimited), Live);

        let disabled = r#"{"error":{"code":403,"message":"Generative Language API has not been used in project 1 before or it is disabled.","status":"PERMISSION_DENIED","details":[{"reason":"SERVICE_DISABLED"}]}}"#;
        assert_eq!(classify("google-gemini", 403, disabled), Restricted);
        let denied = r#"{"error":{"code":403,"message":"Method doesn't allow unregistered callers.","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(classify("google-gemini", 403, denied), Error);
        let leaked = r#"{"error":{"code":403,"message":"Your API key was reported as leaked. Please use another API key.","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(classify("google-gemini", 403, leaked), Invalid);
        // What some authorization (AQ.) keys get: the endpoint refused the kind of key, which
        // says nothing about this one.
        let unsupported = r#"{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_TYPE_UNSUPPORTED","domain":"googleapis.com"}]}}"#;
        assert_eq!(classify("google-gemini", 401, unsupported), Error);
        assert_eq!(classify("google-gemini", 401, "{}"), Invalid);
    }
}
