//! Detection rules: loading `rules/*.toml` (built in) and operator rule directories and
//! compiling them; their examples are templates ([`template`]), run by
//! [`crate::matcher::examples`].
//!
//! A rule file holds `[[rule]]` tables and an optional `[defaults]` table whose fields fill in
//! whatever a rule leaves out, so a family of rules shares one placeholder list.
//!
//! Examples may not contain a real-looking key (none may be committed), so they are templates:
//! `{b64url:74}` stands for 74 random base64url characters (also `alnum`, `hex`, `upper`,
//! `lower`, `digit`; a single character such as `{X:20}` repeats it; N at most
//! [`MAX_TEMPLATE_REPEAT`]), expanded at check time. `«` and `»` around part of an example
//! mark the exact span the rule must report.

use std::fmt;
use std::path::{Path, PathBuf};

use regex::bytes::Regex;
use serde::{Deserialize, Serialize};

use crate::provider::VerifierId;

pub mod template;
pub use template::{ExpandedExample, MAX_TEMPLATE_REPEAT, expand_template};

/// The built-in rule files, compiled into the binary. A test checks that every file under
/// `rules/` is listed here.
///
/// Add new files at the end: the order of the rules is the order of their keywords in the
/// keyword search, whose SIMD prefilter (Teddy) puts keywords into buckets by their position,
/// and a keyword inserted among the others reshuffles the buckets. `AQ.Ab` placed after Google's
/// `AIza` made the keyword search 40% slower on source trees (measured with aho-corasick 1.1.4
/// on 224 MB of crates' sources: 25.9 ms against 18.3 ms); at the end it costs nothing.
pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[
    ("rules/openai.toml", include_str!("../../rules/openai.toml")),
    (
        "rules/anthropic.toml",
        include_str!("../../rules/anthropic.toml"),
    ),
    ("rules/google.toml", include_str!("../../rules/google.toml")),
    (
        "rules/huggingface.toml",
        include_str!("../../rules/huggingface.toml"),
    ),
    ("rules/groq.toml", include_str!("../../rules/groq.toml")),
    ("rules/xai.toml", include_str!("../../rules/xai.toml")),
    (
        "rules/openrouter.toml",
        include_str!("../../rules/openrouter.toml"),
    ),
    ("rules/azure.toml", include_str!("../../rules/azure.toml")),
    (
        "rules/mistral.toml",
        include_str!("../../rules/mistral.toml"),
    ),
    ("rules/cohere.toml", include_str!("../../rules/cohere.toml")),
    (
        "rules/replicate.toml",
        include_str!("../../rules/replicate.toml"),
    ),
    (
        "rules/deepseek.toml",
        include_str!("../../rules/deepseek.toml"),
    ),
    (
        "rules/google-auth.toml",
        include_str!("../../rules/google-auth.toml"),
    ),
];

/// Default for how far a match may extend from its keyword, in bytes.
pub const DEFAULT_MAX_MATCH_LEN: usize = 600;

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{file}: {reason}")]
    Parse { file: String, reason: String },
    #[error("{file}: rule `{id}`: {reason}")]
    Invalid {
        file: String,
        id: String,
        reason: String,
    },
    #[error("{file}: rule id `{id}` is already defined")]
    DuplicateId { file: String, id: String },
    /// The I/O error is the `source`, which the command line prints after this message
    /// (so it is not repeated in it).
    #[error("cannot read rules from {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// GitHub code scanning's `security-severity` (a score in (0, 10]).
    pub fn security_severity(self) -> &'static str {
        match self {
            Severity::Low => "3.0",
            Severity::Medium => "5.5",
            Severity::High => "8.0",
            Severity::Critical => "9.5",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Fields shared by every rule of a file unless the rule sets its own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDefaults {
    severity: Option<Severity>,
    keywords: Option<Vec<String>>,
    min_entropy: Option<f64>,
    placeholders: Option<Vec<String>>,
    verifier: Option<String>,
    max_len: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    name: String,
    description: Option<String>,
    severity: Option<Severity>,
    keywords: Option<Vec<String>>,
    pattern: String,
    #[serde(default)]
    balanced: bool,
    min_entropy: Option<f64>,
    placeholders: Option<Vec<String>>,
    verifier: Option<String>,
    max_len: Option<usize>,
    block: Option<BlockSpec>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    counterexamples: Vec<String>,
}

/// `block = { value = '…', name = '…' }`: see [`Block`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockSpec {
    value: String,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    defaults: RuleDefaults,
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// A compiled detection rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub severity: Severity,
    /// Literal strings, one of which must occur in every match (the Aho-Corasick prefilter).
    pub keywords: Vec<String>,
    pub pattern: Regex,
    /// The regex's `head` and `tail` groups must be equally long (OpenAI keys put the
    /// `T3BlbkFJ` marker in the middle of the body; a truncated key fails this). A longer tail
    /// is cut to the head's length when a `-` or `_` stands there (a suffix glued to the key).
    pub balanced: bool,
    /// Minimum Shannon entropy, in bits per byte, of the secret.
    pub min_entropy: Option<f64>,
    /// A secret matching this is a placeholder, not a key.
    pub placeholders: Option<Regex>,
    /// Which verifier checks this rule's secrets (checked when the rule loads).
    pub verifier: Option<VerifierId>,
    /// How far from its keyword a match may reach, in bytes.
    pub max_len: usize,
    /// For a key with no prefix of its own: where else its provider's name may stand.
    pub block: Option<Block>,
    pub examples: Vec<String>,
    pub counterexamples: Vec<String>,
    /// The file the rule came from.
    pub origin: String,
}

/// A rule whose key needs its provider's name nearby may also find it when the name is not
/// before the key on its line: a value of the key's shape, assigned to a name that says key,
/// token, secret or password (or to `value`), is reported when `name` stands on its line or in
/// its enclosing block (the matcher's `context` module says what that is).
#[derive(Debug)]
pub struct Block {
    /// The key's shape alone (`[A-Za-z0-9]{32}`).
    pub value: Regex,
    /// What names the provider: the rule's keywords, any case, unless the rule says more.
    pub name: Regex,
}

impl Rule {
    /// The bytes of `whole` that are the secret: the `secret` group when the pattern has one.
    pub fn secret_group(&self) -> Option<usize> {
        self.pattern
            .capture_names()
            .position(|name| name == Some("secret"))
    }
}

/// Every rule in use, in a stable order (built-ins first, in file order).
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The rules compiled into the binary.
    pub fn builtin() -> Result<Self, RuleError> {
        let mut set = RuleSet::default();
        for (name, text) in BUILTIN_RULE_FILES {
            set.add_file(name, text)?;
        }
        Ok(set)
    }

    /// Built-ins plus every `*.toml` in `dir` (sorted by name).
    pub fn with_dir(mut self, dir: &Path) -> Result<Self, RuleError> {
        let io = |source| RuleError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| RuleError::Io {
                path: path.clone(),
                source,
            })?;
            self.add_file(&path.display().to_string(), &text)?;
        }
        Ok(self)
    }

    /// Parses and compiles one rule file's text.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<(), RuleError> {
        let parsed: RuleFile = toml::from_str(text).map_err(|err| {
            let (line, column) =
                crate::units::line_and_column(text, err.span().map_or(0, |s| s.start));
            RuleError::Parse {
                file: format!("{file}:{line}:{column}"),
                reason: err.message().trim().replace('\n', " "),
            }
        })?;
        for spec in parsed.rule {
            let rule = compile(file, spec, &parsed.defaults)?;
            if self.rules.iter().any(|r| r.id == rule.id) {
                return Err(RuleError::DuplicateId {
                    file: file.to_string(),
                    id: rule.id,
                });
            }
            self.rules.push(rule);
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

fn compile(file: &str, spec: RuleSpec, defaults: &RuleDefaults) -> Result<Rule, RuleError> {
    let invalid = |reason: String| RuleError::Invalid {
        file: file.to_string(),
        id: spec.id.clone(),
        reason,
    };
    let verifier = spec
        .verifier
        .as_deref()
        .or(defaults.verifier.as_deref())
        .map(str::parse::<VerifierId>)
        .transpose()
        .map_err(invalid)?;
    // A regex error draws a caret under the pattern on lines of its own; errors are one line.
    let bad_regex = |what: &str, e: regex::Error| invalid(format!("{what}: {}", regex_reason(&e)));
    let pattern = Regex::new(&spec.pattern).map_err(|e| bad_regex("pattern", e))?;
    let keywords = spec
        .keywords
        .clone()
        .or_else(|| defaults.keywords.clone())
        .unwrap_or_default();
    if keywords.is_empty() || keywords.iter().any(|k| k.is_empty()) {
        return Err(invalid("needs at least one non-empty keyword".into()));
    }
    if spec.balanced {
        let names: Vec<_> = pattern.capture_names().flatten().collect();
        if !names.contains(&"head") || !names.contains(&"tail") {
            return Err(invalid(
                "`balanced` needs capture groups named `head` and `tail`".into(),
            ));
        }
    }
    let placeholders = match spec
        .placeholders
        .as_ref()
        .or(defaults.placeholders.as_ref())
    {
        Some(list) if !list.is_empty() => Some(
            Regex::new(&format!("(?:{})", list.join(")|(?:")))
                .map_err(|e| bad_regex("placeholders", e))?,
        ),
        _ => None,
    };
    let block = match &spec.block {
        Some(block) => {
            let keywords: Vec<String> = keywords.iter().map(|k| regex::escape(k)).collect();
            let name = block
                .name
                .clone()
                .unwrap_or_else(|| format!("(?i){}", keywords.join("|")));
            Some(Block {
                value: Regex::new(&block.value).map_err(|e| bad_regex("block.value", e))?,
                name: Regex::new(&name).map_err(|e| bad_regex("block.name", e))?,
            })
        }
        None => None,
    };
    let severity = spec
        .severity
        .or(defaults.severity)
        .ok_or_else(|| invalid("needs a severity".into()))?;
    Ok(Rule {
        description: spec
            .description
            .clone()
            .unwrap_or_else(|| spec.name.clone()),
        id: spec.id,
        name: spec.name,
        severity,
        keywords,
        pattern,
        balanced: spec.balanced,
        min_entropy: spec.min_entropy.or(defaults.min_entropy),
        placeholders,
        verifier,
        max_len: spec
            .max_len
            .or(defaults.max_len)
            .unwrap_or(DEFAULT_MAX_MATCH_LEN),
        block,
        examples: spec.examples,
        counterexamples: spec.counterexamples,
        origin: file.to_string(),
    })
}

/// What is wrong with a regex, without the regex: a pattern built around a key would print
/// the key (`unclosed group`, `the compiled regex is too big`).
pub fn regex_reason(err: &regex::Error) -> String {
    let text = err.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_string);
    match (err, reason) {
        (_, Some(reason)) => reason,
        (regex::Error::CompiledTooBig(limit), None) => {
            format!("the compiled regex is larger than {limit} bytes")
        }
        _ => "not a valid regular expression".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_file_is_compiled_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("rules/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|name| name.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = BUILTIN_RULE_FILES
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn builtin_rules_compile_with_unique_ids() {
        let set = RuleSet::builtin().unwrap();
        assert!(set.rules.len() >= 5);
    }

    #[test]
    fn bad_rule_files_are_errors_naming_the_problem() {
        let mut set = RuleSet::default();
        let err = set.add_file("x.toml", "[[rule]]\nid = 3").unwrap_err();
        // `file:line:column: reason`, like configuration errors.
        assert!(err.to_string().starts_with("x.toml:2:6: "), "{err}");
        let err = set
            .add_file(
                "y.toml",
                "[[rule]]\nid='a'\nname='a'\nseverity='low'\nkeywords=['k']\npattern='('",
            )
            .unwrap_err();
        assert!(err.to_string().contains("rule `a`: pattern"), "{err}");
        // A misspelt verifier is an error, not a rule whose keys are silently never verified.
        let err = set
            .add_file(
                "z.toml",
                "[[rule]]\nid='b'\nname='b'\nseverity='low'\nkeywords=['k']\npattern='k'\n\
                 verifier='opnai'",
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown verifier `opnai`"),
            "{err}"
        );
    }
}
