//! Proof that a key of the organization is the leaked key, before anything destructive.
//!
//! The Administration API shows each key only as a `redacted_value` (a visible head and tail,
//! e.g. `sk-proj-...AbCd`), so a redaction alone cannot tell the leak from another key that
//! shares its last characters, in this organization or any other. A key is acted on only when
//! every piece of evidence agrees:
//!
//! 1. the organization that answered verification of the leak is the admin key's own (both
//!    named by the `openai-organization` header of their answers);
//! 2. the project that answered verification, when it is known, holds the key;
//! 3. the redaction fits the leak, showing at least [`MIN_VISIBLE`] characters that are not
//!    the constant prefix of the key's kind;
//! 4. exactly one key remains.
//!
//! No heuristic (creation dates, names, last use) ever chooses between candidates: several
//! fits are [`Identity::Ambiguous`], missing evidence is [`Identity::Unproven`] (reported as
//! `ambiguous`), another organization's key is [`Identity::NotOurs`].
//!
//! The same rules hold for every provider, with what each one's answers offer (README,
//! "Revocation and rotation"): Anthropic's organization is the `anthropic-organization-id` of
//! the verification answer and the `id` of the admin key's `/v1/organizations/me`; OpenRouter
//! names no organization, so [`identify_openrouter`] asks the leak itself which key it is.

/// Fewest characters a redaction must show beyond the kind's constant prefix to tell keys
/// apart: four base-64 characters are one in 16.7 million.
pub const MIN_VISIBLE: usize = 4;

/// The same 24 bits for a key of hex digits (OpenRouter's `sk-or-v1-` + 64 hex).
pub const MIN_VISIBLE_HEX: usize = 6;

/// Constant tails of key kinds: every Anthropic key ends in `AA`, which tells nothing.
const KIND_SUFFIXES: &[(&str, &str)] = &[("sk-ant-", "AA")];

/// Characters a redaction of `secret`'s kind must show.
pub fn min_visible(secret: &str) -> usize {
    if secret.starts_with("sk-or-v1-") {
        MIN_VISIBLE_HEX
    } else {
        MIN_VISIBLE
    }
}

/// Constant heads of the key kinds whose keys a revoker looks up, longest first: they tell a
/// key's kind, not which key it is.
const KIND_PREFIXES: &[&str] = &[
    "sk-ant-admin01-",
    "sk-ant-api03-",
    "sk-svcacct-",
    "sk-service-",
    "sk-or-v1-",
    "sk-admin-",
    "sk-proj-",
    "sk-None-",
    "sk-",
];

/// What is known about the leaked key and about the organization of the admin key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Evidence<'a> {
    /// The organization that answered verification of the leak.
    pub leak_organization: Option<&'a str>,
    /// The project that answered verification of the leak, if the provider said.
    pub leak_project: Option<&'a str>,
    /// The organization the Administration API answered for.
    pub admin_organization: Option<&'a str>,
}

/// Which key of the organization the leak is, or why none can be named.
#[derive(Debug, PartialEq, Eq)]
pub enum Identity<T> {
    /// Proven: act on this key.
    One(T),
    /// Several keys fit the evidence: a human decides.
    Ambiguous(Vec<T>),
    /// The leak is not a key of this organization (or no key of it fits).
    NotOurs(String),
    /// Evidence needed for a proof is missing.
    Unproven(String),
}

/// How a key of the organization appears in its inventory.
pub trait Listed {
    fn redacted_value(&self) -> &str;
    /// The project (or workspace) holding the key; `None` for organization-wide keys.
    fn project(&self) -> Option<&str>;
}

/// Checks the organizations, then finds the one key of `keys` that `secret` is.
pub fn identify<T: Listed + Clone>(keys: &[T], secret: &str, evidence: Evidence) -> Identity<T> {
    if let Err(refusal) = same_organization(evidence) {
        return refusal;
    }
    let in_project = |key: &&T| match evidence.leak_project {
        Some(project) => key.project() == Some(project),
        None => true,
    };
    let fits: Vec<&T> = keys
        .iter()
        .filter(in_project)
        .filter(|k| redaction_fits(k.redacted_value(), secret))
        .collect();
    match fits.as_slice() {
        [] => Identity::NotOurs(match evidence.leak_project {
            Some(project) => format!("no key of project {project} in this organization fits it"),
            None => "no key of this organization fits it".to_string(),
        }),
        [one] if visible_characters(one.redacted_value(), secret) < min_visible(secret) => {
            Identity::Unproven(format!(
                "its redaction `{}` shows fewer than {} characters beyond the key's kind, which \
                 cannot tell it from other keys",
                one.redacted_value(),
                min_visible(secret)
            ))
        }
        [one] => Identity::One((*one).clone()),
        many => Identity::Ambiguous(many.iter().map(|k| (*k).clone()).collect()),
    }
}

/// Whether the leak and the admin key are proven to be of one organization.
fn same_organization<T>(evidence: Evidence) -> Result<(), Identity<T>> {
    let Some(admin) = evidence.admin_organization.filter(|o| !o.is_empty()) else {
        return Err(Identity::Unproven(
            "the Administration API did not name its organization, so the key cannot be proven \
             to be this organization's"
                .to_string(),
        ));
    };
    let Some(leak) = evidence.leak_organization.filter(|o| !o.is_empty()) else {
        return Err(Identity::Unproven(
            "verification did not name the key's organization, so it cannot be proven to be \
             this organization's"
                .to_string(),
        ));
    };
    if leak != admin {
        return Err(Identity::NotOurs(format!(
            "it belongs to organization `{leak}`, the admin key to `{admin}`: tell its owner"
        )));
    }
    Ok(())
}

/// Whether `secret` can be the key shown as `redacted` (a head and tail around `...`, `…` or
/// a run of `*`). A redaction that shows nothing fits nothing.
pub fn redaction_fits(redacted: &str, secret: &str) -> bool {
    let Some((head, tail)) = split_redacted(redacted) else {
        return redacted == secret;
    };
    !(head.is_empty() && tail.is_empty())
        && head.len() + tail.len() < secret.len()
        && secret.starts_with(head)
        && secret.ends_with(tail)
}

/// How many characters of `redacted` tell keys of one kind apart: its tail, and whatever its
/// head shows beyond the kind's constant prefix.
pub fn visible_characters(redacted: &str, secret: &str) -> usize {
    let Some((head, tail)) = split_redacted(redacted) else {
        return redacted.len();
    };
    let prefix = KIND_PREFIXES
        .iter()
        .find(|p| secret.starts_with(**p))
        .map_or(0, |p| p.len());
    let suffix = KIND_SUFFIXES
        .iter()
        .find(|(kind, tail)| secret.starts_with(kind) && secret.ends_with(tail))
        .map_or(0, |(_, tail)| tail.len());
    head.len().saturating_sub(prefix) + tail.len().saturating_sub(suffix)
}

/// What an OpenRouter leak says of itself (`GET /api/v1/key` asked with the leak).
#[derive(Clone, Copy, Debug, Default)]
pub struct OwnWords<'a> {
    /// Its redacted form, as the provider writes it.
    pub label: Option<&'a str>,
    /// The user who created it.
    pub creator: Option<&'a str>,
}

/// Which key of a management key's account an OpenRouter leak is. OpenRouter names no
/// organization in its answers, and a management key lists only its own account's keys; so the
/// proof is that exactly one listed key has the leak's own label (the provider's redaction of
/// this very key), fits the leak with at least [`MIN_VISIBLE_HEX`] hex digits shown, and was
/// created by the user the leak names. Without the leak's own label and creator nothing is
/// proven.
pub fn identify_openrouter<T: Listed + Clone>(
    keys: &[T],
    secret: &str,
    own: OwnWords,
    creator_of: impl Fn(&T) -> Option<&str>,
) -> Identity<T> {
    let (Some(label), Some(creator)) = (
        own.label.filter(|l| !l.is_empty()),
        own.creator.filter(|c| !c.is_empty()),
    ) else {
        return Identity::Unproven(
            "the key's own record (GET /api/v1/key) did not give its label and creator, so it \
             cannot be proven to be a key of this account"
                .to_string(),
        );
    };
    if !redaction_fits(label, secret) {
        return Identity::Unproven(format!(
            "the key's own label `{label}` does not fit the key: the answer cannot be trusted"
        ));
    }
    let labelled: Vec<&T> = keys
        .iter()
        .filter(|k| k.redacted_value() == label)
        .collect();
    if labelled.iter().any(|k| creator_of(k).is_none()) {
        return Identity::Unproven(format!(
            "the account's key list does not say who created the keys labelled `{label}`, so \
             none can be proven to be the leak"
        ));
    }
    let same: Vec<T> = labelled
        .into_iter()
        .filter(|k| creator_of(k) == Some(creator))
        .cloned()
        .collect();
    let evidence = Evidence {
        leak_organization: Some(creator),
        leak_project: None,
        admin_organization: Some(creator),
    };
    match identify(&same, secret, evidence) {
        Identity::NotOurs(_) => Identity::NotOurs(format!(
            "no key of the management key's account has its label `{label}` and creator"
        )),
        other => other,
    }
}

/// The visible head and tail around the hidden middle.
fn split_redacted(redacted: &str) -> Option<(&str, &str)> {
    let (head, tail) = redacted
        .split_once("...")
        .or_else(|| redacted.split_once('…'))
        .or_else(|| redacted.split_once('*'))?;
    Some((head.trim_end_matches('*'), tail.trim_start_matches('*')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Key(&'static str, &'static str);

    impl Listed for Key {
        fn redacted_value(&self) -> &str {
            self.0
        }
        fn project(&self) -> Option<&str> {
            Some(self.1)
        }
    }

    fn secret() -> String {
        format!("sk-proj-{}wxyz", "a".repeat(60))
    }

    fn ours(project: Option<&'static str>) -> Evidence<'static> {
        Evidence {
            leak_organization: Some("acme"),
            leak_project: project,
            admin_organization: Some("acme"),
        }
    }

    #[test]
    fn head_and_tail_must_both_fit() {
        let secret = secret();
        assert!(redaction_fits("sk-proj-...wxyz", &secret));
        assert!(redaction_fits("sk-proj-********wxyz", &secret));
        assert!(redaction_fits("sk-p…wxyz", &secret));
        assert!(!redaction_fits("sk-proj-...wxya", &secret));
        assert!(!redaction_fits("sk-admin...wxyz", &secret));
        assert!(!redaction_fits("...", &secret));
    }

    #[test]
    fn the_kinds_prefix_tells_nothing() {
        let secret = secret();
        assert_eq!(visible_characters("sk-proj-...wxyz", &secret), 4);
        assert_eq!(visible_characters("sk-proj-aa...yz", &secret), 4);
        assert_eq!(visible_characters("sk-proj-...z", &secret), 1);
        let legacy = format!("sk-{}", "b".repeat(48));
        assert_eq!(visible_characters("sk-bbbbb...bbbb", &legacy), 9);
    }

    #[test]
    fn another_organizations_key_is_never_ours_whatever_fits() {
        let keys = [Key("sk-proj-...wxyz", "proj_prod")];
        let theirs = Evidence {
            leak_organization: Some("someone-else"),
            leak_project: Some("proj_theirs"),
            admin_organization: Some("acme"),
        };
        assert!(matches!(
            identify(&keys, &secret(), theirs),
            Identity::NotOurs(reason) if reason.contains("someone-else")
        ));
        // Without both organizations there is no proof at all.
        for evidence in [
            Evidence {
                leak_organization: None,
                ..ours(None)
            },
            Evidence {
                admin_organization: None,
                ..ours(None)
            },
        ] {
            assert!(matches!(
                identify(&keys, &secret(), evidence),
                Identity::Unproven(_)
            ));
        }
    }

    #[test]
    fn the_project_is_a_hard_filter_and_nothing_chooses_between_fits() {
        let keys = [
            Key("sk-proj-...wxyz", "proj_a"),
            Key("sk-proj-...wxyz", "proj_b"),
            Key("sk-proj-...wxyz", "proj_b"),
            Key("sk-proj-...0000", "proj_b"),
        ];
        assert!(matches!(
            identify(&keys, &secret(), ours(None)),
            Identity::Ambiguous(k) if k.len() == 3
        ));
        assert!(matches!(
            identify(&keys, &secret(), ours(Some("proj_b"))),
            Identity::Ambiguous(k) if k.len() == 2
        ));
        assert_eq!(
            identify(&keys, &secret(), ours(Some("proj_a"))),
            Identity::One(keys[0].clone())
        );
        // A project that holds no fit is not ignored: the key is not found there.
        assert!(matches!(
            identify(&keys, &secret(), ours(Some("proj_z"))),
            Identity::NotOurs(_)
        ));
        assert!(matches!(
            identify(&keys[3..], &secret(), ours(None)),
            Identity::NotOurs(_)
        ));
    }

    #[test]
    fn constant_tails_and_hex_keys_need_more_to_show() {
        let anthropic = format!("sk-ant-api03-R2D{}igAA", "x".repeat(89));
        // Three beyond the prefix, and `ig`: `AA` ends every Anthropic key.
        assert_eq!(visible_characters("sk-ant-api03-R2D...igAA", &anthropic), 5);
        assert_eq!(visible_characters("sk-ant-api03-...xAA", &anthropic), 1);
        let openrouter = format!("sk-or-v1-0e6{}c96", "a".repeat(58));
        assert_eq!(visible_characters("sk-or-v1-0e6...c96", &openrouter), 6);
        assert_eq!(min_visible(&openrouter), 6);
        assert_eq!(min_visible(&anthropic), 4);
        let keys = [Key("sk-or-v1-0e...c96", "")];
        assert!(matches!(
            identify(&keys, &openrouter, ours(None)),
            Identity::Unproven(_)
        ));
    }

    #[test]
    fn an_openrouter_key_is_the_one_with_its_own_label_and_creator() {
        let secret = format!("sk-or-v1-0e6{}c96", "a".repeat(58));
        // (label, creator)
        let keys = [
            Key("sk-or-v1-0e6...c96", "user_a"),
            Key("sk-or-v1-0e6...c96", "user_b"),
            Key("sk-or-v1-111...c96", "user_a"),
        ];
        fn creator(k: &Key) -> Option<&str> {
            Some(k.1)
        }
        let own = |label, creator| OwnWords {
            label: Some(label),
            creator: Some(creator),
        };
        assert_eq!(
            identify_openrouter(&keys, &secret, own("sk-or-v1-0e6...c96", "user_a"), creator),
            Identity::One(keys[0].clone())
        );
        assert!(matches!(
            identify_openrouter(&keys, &secret, own("sk-or-v1-0e6...c96", "user_c"), creator),
            Identity::NotOurs(_)
        ));
        let twins = [keys[0].clone(), keys[0].clone()];
        assert!(matches!(
            identify_openrouter(&twins, &secret, own("sk-or-v1-0e6...c96", "user_a"), creator),
            Identity::Ambiguous(k) if k.len() == 2
        ));
        // Without the leak's own words, or with a label that is not the leak's: no proof.
        let silent = OwnWords {
            label: Some("sk-or-v1-0e6...c96"),
            creator: None,
        };
        assert!(matches!(
            identify_openrouter(&keys, &secret, silent, creator),
            Identity::Unproven(_)
        ));
        assert!(matches!(
            identify_openrouter(&keys, &secret, own("sk-or-v1-111...c96", "user_a"), creator),
            Identity::Unproven(_)
        ));
    }

    #[test]
    fn a_redaction_showing_too_little_proves_nothing() {
        let keys = [Key("sk-proj-...z", "proj_a")];
        assert!(matches!(
            identify(&keys, &secret(), ours(None)),
            Identity::Unproven(_)
        ));
    }
}
