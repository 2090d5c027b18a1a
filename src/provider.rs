//! The providers whose keys ferret can verify, and where each one's keys may be sent.
//!
//! Every provider has a default API base and an override the operator sets with
//! `FERRET_<PROVIDER>_API_BASE` or `[verify.api_bases]` in their own `--config` file (never a
//! `.ferret.toml` found in the scanned tree). Every base, default or not, passes
//! [`checked_api_base`](crate::http::checked_api_base): https, or plain http to loopback only.

use serde::Deserialize;

use crate::http::{HttpError, checked_api_base};

/// A provider with a verification endpoint. The serde names (`openai`, `huggingface`…) are the
/// keys of `[verify.api_bases]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    OpenAi,
    Anthropic,
    Google,
    HuggingFace,
    Groq,
    Xai,
    OpenRouter,
    Mistral,
    Cohere,
    Replicate,
    DeepSeek,
}

impl Provider {
    pub const ALL: [Provider; 11] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Google,
        Provider::HuggingFace,
        Provider::Groq,
        Provider::Xai,
        Provider::OpenRouter,
        Provider::Mistral,
        Provider::Cohere,
        Provider::Replicate,
        Provider::DeepSeek,
    ];

    /// The name in configuration, environment variables and messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Google => "google",
            Provider::HuggingFace => "huggingface",
            Provider::Groq => "groq",
            Provider::Xai => "xai",
            Provider::OpenRouter => "openrouter",
            Provider::Mistral => "mistral",
            Provider::Cohere => "cohere",
            Provider::Replicate => "replicate",
            Provider::DeepSeek => "deepseek",
        }
    }

    /// Where keys are verified unless the operator says otherwise.
    pub fn default_api_base(self) -> &'static str {
        match self {
            Provider::OpenAi => "https://api.openai.com",
            Provider::Anthropic => "https://api.anthropic.com",
            Provider::Google => "https://generativelanguage.googleapis.com",
            Provider::HuggingFace => "https://huggingface.co",
            Provider::Groq => "https://api.groq.com",
            Provider::Xai => "https://api.x.ai",
            Provider::OpenRouter => "https://openrouter.ai",
            Provider::Mistral => "https://api.mistral.ai",
            Provider::Cohere => "https://api.cohere.com",
            Provider::Replicate => "https://api.replicate.com",
            Provider::DeepSeek => "https://api.deepseek.com",
        }
    }

    /// The operator's override: `FERRET_OPENAI_API_BASE`, `FERRET_ANTHROPIC_API_BASE`…
    pub fn env_var(self) -> String {
        format!("FERRET_{}_API_BASE", self.name().to_ascii_uppercase())
    }
}

/// A provider's API base was refused; the message names the setting, and shows of its value
/// no more than [`HttpError`] does.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {} API base (`{}` or `[verify.api_bases] {}`) is refused",
    .provider.name(),
    .provider.env_var(),
    .provider.name()
)]
pub struct BaseError {
    pub provider: Provider,
    #[source]
    pub source: HttpError,
}

/// The API base of every provider, each checked, as the operator configured them.
#[derive(Clone, Debug)]
pub struct ApiBases {
    /// Indexed like [`Provider::ALL`].
    bases: Vec<String>,
}

impl ApiBases {
    /// For each provider: `env(its FERRET_<PROVIDER>_API_BASE)`, else `configured(provider)` (the
    /// operator's own config file), else the provider's default.
    pub fn resolve(
        env: impl Fn(&str) -> Option<String>,
        configured: impl Fn(Provider) -> Option<String>,
    ) -> Result<Self, BaseError> {
        let bases = Provider::ALL
            .iter()
            .map(|&provider| {
                let base = env(&provider.env_var())
                    .or_else(|| configured(provider))
                    .unwrap_or_else(|| provider.default_api_base().to_string());
                checked_api_base(&base).map_err(|source| BaseError { provider, source })
            })
            .collect::<Result<_, _>>()?;
        Ok(ApiBases { bases })
    }

    pub fn get(&self, provider: Provider) -> &str {
        let index = Provider::ALL
            .iter()
            .position(|&p| p == provider)
            .expect("ALL lists every provider");
        &self.bases[index]
    }

    /// Every provider's base.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.bases.iter().map(String::as_str)
    }
}

/// A verification a rule asks for (its `verifier`): which provider's endpoint checks its keys.
/// Parsed when rules load, so a misspelt verifier is an error, never a rule that is silently
/// left unverified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VerifierId {
    OpenAi,
    OpenAiAdmin,
    Anthropic,
    AnthropicAdmin,
    GoogleGemini,
    HuggingFace,
    Groq,
    Xai,
    OpenRouter,
    Mistral,
    Cohere,
    Replicate,
    DeepSeek,
}

impl VerifierId {
    pub const ALL: [VerifierId; 13] = [
        VerifierId::OpenAi,
        VerifierId::OpenAiAdmin,
        VerifierId::Anthropic,
        VerifierId::AnthropicAdmin,
        VerifierId::GoogleGemini,
        VerifierId::HuggingFace,
        VerifierId::Groq,
        VerifierId::Xai,
        VerifierId::OpenRouter,
        VerifierId::Mistral,
        VerifierId::Cohere,
        VerifierId::Replicate,
        VerifierId::DeepSeek,
    ];

    /// The name rule files use.
    pub fn name(self) -> &'static str {
        match self {
            VerifierId::OpenAi => "openai",
            VerifierId::OpenAiAdmin => "openai-admin",
            VerifierId::Anthropic => "anthropic",
            VerifierId::AnthropicAdmin => "anthropic-admin",
            VerifierId::GoogleGemini => "google-gemini",
            VerifierId::HuggingFace => "huggingface",
            VerifierId::Groq => "groq",
            VerifierId::Xai => "xai",
            VerifierId::OpenRouter => "openrouter",
            VerifierId::Mistral => "mistral",
            VerifierId::Cohere => "cohere",
            VerifierId::Replicate => "replicate",
            VerifierId::DeepSeek => "deepseek",
        }
    }
}

impl std::str::FromStr for VerifierId {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        VerifierId::ALL
            .into_iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = VerifierId::ALL.iter().map(|v| v.name()).collect();
                format!("unknown verifier `{name}` (known: {})", known.join(", "))
            })
    }
}

impl std::fmt::Display for VerifierId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_beats_configuration_beats_default_and_every_base_is_checked() {
        let bases = ApiBases::resolve(
            |var| (var == "FERRET_ANTHROPIC_API_BASE").then(|| "http://127.0.0.1:9/".into()),
            |provider| (provider == Provider::Groq).then(|| "https://groq.internal".into()),
        )
        .unwrap();
        assert_eq!(bases.get(Provider::Anthropic), "http://127.0.0.1:9");
        assert_eq!(bases.get(Provider::Groq), "https://groq.internal");
        assert_eq!(bases.get(Provider::OpenAi), "https://api.openai.com");

        let refused = ApiBases::resolve(
            |var| (var == "FERRET_XAI_API_BASE").then(|| "http://example.com".into()),
            |_| None,
        );
        assert!(matches!(
            refused,
            Err(BaseError {
                provider: Provider::Xai,
                source: HttpError::InsecureBase(_)
            })
        ));
    }

    #[test]
    fn variable_names_follow_the_provider_names() {
        assert_eq!(Provider::OpenAi.env_var(), "FERRET_OPENAI_API_BASE");
        assert_eq!(
            Provider::HuggingFace.env_var(),
            "FERRET_HUGGINGFACE_API_BASE"
        );
        for provider in Provider::ALL {
            let parsed: Provider =
                serde_json::from_value(serde_json::json!(provider.name())).unwrap();
            assert_eq!(parsed, provider);
        }
    }
}
