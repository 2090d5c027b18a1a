//! One verification request and the reading of its answer: what every provider's check is
//! made of, and the classification they share.
//!
//! Providers disagree on how they say "this key is dead" (OpenAI, Groq and Mistral answer 401,
//! Google 400 `API_KEY_INVALID`, xAI 400, Cohere 200 `"valid": false`) and on the shape of their
//! error bodies. What they agree on is decided once, in [`unexplained`] and
//! [`Reading::classify`]: 401 is a dead key, 402 an unpaid one, 429 a rate limit to wait out
//! unless its body speaks of credit, 5xx and network failures are retried, a redirect is never
//! followed, and anything not understood is `error`, never `invalid`. A [`Reading`] adds what
//! one provider's error codes and success bodies mean; OpenAI keeps its own reading
//! ([`super::openai::classify`]) because its answers carry more (scopes, organization, project).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::finding::{Verification, VerificationStatus};
use crate::http::{header, retry_after, shorten};
use crate::provider::Provider;

/// What to do with an answer.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Done(Verification),
    /// Ask again (after the server's `Retry-After`, when it gave one).
    Retry {
        after: Option<Duration>,
        detail: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// How the key travels. Never in the URL: URLs end up in proxy logs and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key is the whole value of this header (`x-api-key`, `x-goog-api-key`).
    Header(&'static str),
}

/// A cheap, read-only, authenticated request that tells whether a key works, and how to read
/// the answer.
#[derive(Debug)]
pub struct Check {
    pub provider: Provider,
    pub method: Method,
    /// Path and query after the API base.
    pub path: &'static str,
    pub auth: Auth,
    /// Headers the provider requires besides the key (an API version).
    pub headers: &'static [(&'static str, &'static str)],
    pub answer: Answer,
}

/// How a check's answer is read.
#[derive(Debug)]
pub enum Answer {
    /// [`super::openai::classify`].
    OpenAi,
    Reading(Reading),
}

impl Check {
    /// The check a rule's `verifier` names, if ferret knows it.
    pub fn for_verifier(verifier: crate::provider::VerifierId) -> Option<&'static Check> {
        super::openai::Endpoint::for_verifier(verifier)
            .map(super::openai::Endpoint::check)
            .or_else(|| super::providers::check(verifier))
    }

    pub fn url(&self, api_base: &str) -> String {
        format!("{api_base}{}", self.path)
    }

    pub fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Outcome {
        match &self.answer {
            Answer::OpenAi => super::openai::classify(status, headers, body),
            Answer::Reading(reading) => reading.classify(status, headers, body),
        }
    }
}

/// What one provider's answers mean beyond the rules every provider shares. Markers are
/// lowercase; each matches an error code, type, status or reason exactly (ignoring case) or
/// appears in the error message.
#[derive(Debug)]
pub struct Reading {
    /// The answer says nothing about the key, whatever its status (Google answers a key kind
    /// the endpoint does not take with 401 `ACCESS_TOKEN_TYPE_UNSUPPORTED`): `error`.
    pub undecided: &'static [&'static str],
    /// The key is unknown, revoked or disabled (HTTP 401 always means that, unless `undecided`
    /// says otherwise).
    pub invalid: &'static [&'static str],
    /// The key works but may not use this endpoint or API (a scope, a disabled API).
    pub restricted: &'static [&'static str],
    /// The key works but its account has no credit left (HTTP 402 always means that).
    pub no_credit: &'static [&'static str],
    /// Where a live key's answer names the account or organization that owns it.
    pub owner: Owner,
    /// What a 2xx body says beyond "the key works": keys that answer 200 while disabled, an
    /// empty balance.
    pub success: Option<SuccessBody>,
}

/// Reads a 2xx body: `Some((status, why))` when it says more than "the key works".
pub type SuccessBody = fn(&Value) -> Option<(VerificationStatus, String)>;

/// Where an answer names the key's owner.
#[derive(Debug)]
pub enum Owner {
    Unknown,
    Header(&'static str),
    /// A JSON pointer into the success body (`/name`).
    Field(&'static str),
}

impl Reading {
    pub fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Outcome {
        use VerificationStatus::*;
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let verdict =
            |status: VerificationStatus, organization: Option<String>, detail: Option<String>| {
                Outcome::Done(Verification {
                    status,
                    organization,
                    project: None,
                    request_id: header(headers, "request-id")
                        .or_else(|| header(headers, "x-request-id")),
                    detail,
                })
            };
        if status.is_success() {
            let owner = self.owner.read(headers, json.as_ref());
            let Some(success) = self.success else {
                return verdict(Live, owner, None);
            };
            // Where the body carries the verdict (a key that answers 200 while disabled), a
            // body that cannot be read says nothing.
            let Some(body) = &json else {
                let why = "the provider's answer is not JSON; the key's state is unknown";
                return verdict(Error, owner, Some(why.into()));
            };
            return match success(body) {
                Some((status, detail)) => verdict(status, owner, Some(detail)),
                None => verdict(Live, owner, None),
            };
        }
        let error = ErrorText::read(json.as_ref());
        let detail = (!error.message.is_empty()).then(|| shorten(&error.message));
        let says = |markers: &[&str]| status.is_client_error() && error.says(markers);
        if says(self.undecided) {
            verdict(Error, None, detail)
        } else if status == StatusCode::PAYMENT_REQUIRED || says(self.no_credit) {
            verdict(QuotaExceeded, None, detail)
        } else if says(self.restricted) {
            verdict(Restricted, None, detail)
        } else if status == StatusCode::UNAUTHORIZED || says(self.invalid) {
            verdict(Invalid, None, detail)
        } else {
            unexplained(status, headers, detail, |status, detail| {
                verdict(status, None, detail)
            })
        }
    }
}

impl Owner {
    fn read(&self, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
        match self {
            Owner::Unknown => None,
            Owner::Header(name) => header(headers, name),
            Owner::Field(pointer) => match body?.pointer(pointer)? {
                Value::String(text) if !text.is_empty() => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            },
        }
    }
}

/// An error body's message and codes, whatever the provider's shape:
/// `{"error": {"message", "type", "code", "status", "details": [{"reason"}]}}` (OpenAI,
/// Anthropic, Google, Groq, OpenRouter, DeepSeek), `{"error": "<text>"}` (Hugging Face, xAI),
/// `{"message": …}` (Mistral, Cohere), `{"title", "detail"}` (Replicate).
struct ErrorText {
    message: String,
    /// Lowercase.
    codes: Vec<String>,
}

impl ErrorText {
    fn read(body: Option<&Value>) -> ErrorText {
        let text = |value: Option<&Value>| match value? {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        };
        let Some(body) = body else {
            return ErrorText {
                message: String::new(),
                codes: Vec::new(),
            };
        };
        let error = body.get("error");
        let message = [
            error.and_then(|e| e.get("message")),
            error,
            body.get("message"),
            body.get("detail"),
            body.get("title"),
        ]
        .into_iter()
        .find_map(text)
        .unwrap_or_default();
        let mut codes = Vec::new();
        for object in [error, Some(body)].into_iter().flatten() {
            for field in ["type", "code", "status", "reason"] {
                codes.extend(text(object.get(field)));
            }
            if let Some(Value::Array(details)) = object.get("details") {
                codes.extend(details.iter().filter_map(|d| text(d.get("reason"))));
            }
        }
        ErrorText {
            message,
            codes: codes.iter().map(|c| c.to_ascii_lowercase()).collect(),
        }
    }

    fn says(&self, markers: &[&str]) -> bool {
        let message = self.message.to_ascii_lowercase();
        markers
            .iter()
            .any(|marker| self.codes.iter().any(|c| c == marker) || message.contains(marker))
    }
}

/// The answers no provider explains differently: rate limits and server errors are retried
/// (after `Retry-After` when given), a redirect is an error (never followed), and any other
/// status is an error carrying the provider's message. `verdict` builds the provider's result.
pub(crate) fn unexplained(
    status: StatusCode,
    headers: &HeaderMap,
    detail: Option<String>,
    verdict: impl FnOnce(VerificationStatus, Option<String>) -> Outcome,
) -> Outcome {
    match status.as_u16() {
        429 => Outcome::Retry {
            after: retry_after(headers),
            detail: detail.unwrap_or_else(|| "rate limited".into()),
        },
        500..=599 => Outcome::Retry {
            after: retry_after(headers),
            detail: format!("server error {}", status.as_u16()),
        },
        300..=399 => verdict(
            VerificationStatus::Error,
            Some(format!(
                "redirect ({}) not followed: keys are sent only to the configured API base",
                status.as_u16()
            )),
        ),
        code => verdict(
            VerificationStatus::Error,
            Some(detail.unwrap_or_else(|| format!("unexpected HTTP status {code}"))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READING: Reading = Reading {
        undecided: &[],
        invalid: &["api_key_invalid"],
        restricted: &["permission_error"],
        no_credit: &["credit balance is too low"],
        owner: Owner::Field("/owner/id"),
        success: Some(|body| {
            (body["disabled"] == true).then(|| (VerificationStatus::Invalid, "disabled".into()))
        }),
    };

    fn classify(status: u16, body: &str) -> Outcome {
        READING.classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    fn status(outcome: Outcome) -> VerificationStatus {
        match outcome {
            Outcome::Done(v) => v.status,
            other => panic!("expected a verdict, got {other:?}"),
        }
    }

    #[test]
    fn codes_and_messages_of_every_error_shape_are_read() {
        use VerificationStatus::*;
        let google = r#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#;
        assert_eq!(status(classify(400, google)), Invalid);
        let anthropic = r#"{"type":"error","error":{"type":"permission_error","message":"no"}}"#;
        assert_eq!(status(classify(403, anthropic)), Restricted);
        let credit = r#"{"error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the API."}}"#;
        assert_eq!(status(classify(400, credit)), QuotaExceeded);
        assert_eq!(status(classify(402, "{}")), QuotaExceeded);
        assert_eq!(
            status(classify(401, r#"{"message":"Unauthorized"}"#)),
            Invalid
        );
        assert_eq!(status(classify(401, "not json")), Invalid);
        // Not understood: an error, never invalid.
        assert_eq!(status(classify(403, r#"{"error":"Forbidden"}"#)), Error);
        assert_eq!(
            status(classify(400, r#"{"title":"Bad","detail":"?"}"#)),
            Error
        );
        assert!(matches!(classify(429, "{}"), Outcome::Retry { .. }));
        assert!(matches!(classify(529, "{}"), Outcome::Retry { .. }));
    }

    #[test]
    fn success_bodies_name_the_owner_and_may_say_more() {
        let Outcome::Done(v) = classify(200, r#"{"owner":{"id":"acme"}}"#) else {
            panic!()
        };
        assert_eq!(v.status, VerificationStatus::Live);
        assert_eq!(v.organization.as_deref(), Some("acme"));
        assert_eq!(
            status(classify(200, r#"{"disabled":true}"#)),
            VerificationStatus::Invalid
        );
        assert_eq!(
            status(classify(200, r#"{"disabled":tr"#)),
            VerificationStatus::Error,
            "a cut-off body cannot say the key is fine"
        );
    }
}
