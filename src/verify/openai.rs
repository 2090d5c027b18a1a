//! OpenAI: which endpoint checks a key, and what its answer means.
//!
//! Other scanners treat every non-200 as "invalid". OpenAI answers a live key that lacks the
//! `api.model.read` scope with 401 or 403 "Missing scopes", and a live key without credit with
//! 429 `insufficient_quota`; both are keys someone can use, so the body decides, not the
//! status alone. Rate limits, server errors and network failures say nothing about the key:
//! they are retried, then reported as `error`, never `invalid`.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::check::{Answer, Auth, Check, Method, Outcome, unexplained};
use crate::finding::{Verification, VerificationStatus};
use crate::http::{header, shorten};
use crate::provider::{Provider, VerifierId};

/// Which endpoint verifies a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /v1/models`: free, documented, answers for every inference key.
    Models,
    /// `GET /v1/organization/admin_api_keys?limit=1`: admin keys cannot call inference APIs.
    AdminKeys,
}

impl Endpoint {
    /// The endpoint for a rule's `verifier`, if ferret knows it.
    pub fn for_verifier(verifier: VerifierId) -> Option<Endpoint> {
        match verifier {
            VerifierId::OpenAi => Some(Endpoint::Models),
            VerifierId::OpenAiAdmin => Some(Endpoint::AdminKeys),
            _ => None,
        }
    }

    /// The request and reading of this endpoint.
    pub fn check(self) -> &'static Check {
        match self {
            Endpoint::Models => &MODELS,
            Endpoint::AdminKeys => &ADMIN_KEYS,
        }
    }
}

static MODELS: Check = Check {
    provider: Provider::OpenAi,
    method: Method::Get,
    path: "/v1/models",
    auth: Auth::Bearer,
    headers: &[],
    answer: Answer::OpenAi,
};

static ADMIN_KEYS: Check = Check {
    provider: Provider::OpenAi,
    method: Method::Get,
    path: "/v1/organization/admin_api_keys?limit=1",
    auth: Auth::Bearer,
    headers: &[],
    answer: Answer::OpenAi,
};

/// OpenAI's error body: an object with `message`/`type`/`code`, or (on some endpoints) a bare
/// string.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorField,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Object {
        #[serde(default)]
        message: Option<String>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        code: Option<String>,
    },
    Text(String),
}

#[derive(Default)]
pub(crate) struct ApiError {
    pub message: String,
    kind: String,
    code: String,
}

pub(crate) fn parse_error(body: &[u8]) -> ApiError {
    match serde_json::from_slice::<ErrorBody>(body).map(|b| b.error) {
        Ok(ErrorField::Object {
            message,
            kind,
            code,
        }) => ApiError {
            message: message.unwrap_or_default(),
            kind: kind.unwrap_or_default(),
            code: code.unwrap_or_default(),
        },
        Ok(ErrorField::Text(message)) => ApiError {
            message,
            ..ApiError::default()
        },
        Err(_) => ApiError::default(),
    }
}

/// Classifies one answer of the verification endpoint.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Outcome {
    let verdict = |status: VerificationStatus, detail: Option<String>| {
        Outcome::Done(Verification {
            status,
            organization: header(headers, "openai-organization"),
            project: header(headers, "openai-project"),
            request_id: header(headers, "x-request-id"),
            detail,
        })
    };
    use VerificationStatus::*;
    if status.is_success() {
        return verdict(Live, None);
    }
    let error = parse_error(body);
    let detail = (!error.message.is_empty()).then(|| shorten(&error.message));
    let message = error.message.to_ascii_lowercase();
    match status.as_u16() {
        401 | 403 if message.contains("missing scopes") => verdict(Restricted, detail),
        401 if error.code == "mismatched_organization" => verdict(Error, detail),
        // Wrong, revoked or disabled key, deactivated account, or no key sent at all.
        401 => verdict(Invalid, detail),
        429 if error.code == "insufficient_quota"
            || error.kind == "insufficient_quota"
            || message.contains("exceeded your current quota") =>
        {
            verdict(QuotaExceeded, detail)
        }
        _ => unexplained(status, headers, detail, verdict),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn done(outcome: Outcome) -> Verification {
        match outcome {
            Outcome::Done(v) => v,
            other => panic!("expected a verdict, got {other:?}"),
        }
    }

    #[test]
    fn missing_scopes_is_restricted_in_both_error_shapes() {
        let object = br#"{"error":{"message":"You have insufficient permissions for this operation. Missing scopes: api.model.read.","type":"invalid_request_error","param":null,"code":null}}"#;
        let text = br#"{"error":"You have insufficient permissions for this operation. Missing scopes: api.model.read."}"#;
        for status in [401, 403] {
            for body in [&object[..], &text[..]] {
                let v = done(classify(
                    StatusCode::from_u16(status).unwrap(),
                    &HeaderMap::new(),
                    body,
                ));
                assert_eq!(v.status, VerificationStatus::Restricted);
            }
        }
    }

    #[test]
    fn quota_is_live_and_rate_limit_is_retried_after_the_servers_delay() {
        let quota = br#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let v = done(classify(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            quota,
        ));
        assert_eq!(v.status, VerificationStatus::QuotaExceeded);
        assert!(v.is_live());

        let limited = br#"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &headers, limited),
            Outcome::Retry {
                after: Some(Duration::from_secs(3)),
                detail: "Rate limit reached for requests".into()
            }
        );
    }

    #[test]
    fn server_errors_are_retried_never_invalid() {
        let outcome = classify(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"garbage",
        );
        assert!(matches!(outcome, Outcome::Retry { .. }));
    }
}
