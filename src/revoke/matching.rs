//! Which key of the organization a leaked key is: the Administration API shows each key only
//! as a `redacted_value` (a visible head and tail, e.g. `sk-abc...def`), so a leak fits every
//! key whose head and tail it shares. One fit is acted on; several are narrowed by what
//! verification and history tell (the project that answered, keys created after the leak was
//! first committed cannot be it); what stays ambiguous is left for a human.

/// Whether `secret` can be the key shown as `redacted`.
pub fn redaction_fits(redacted: &str, secret: &str) -> bool {
    let Some((head, tail)) = split_redacted(redacted) else {
        return redacted == secret;
    };
    // A redaction that shows almost nothing identifies nothing.
    head.len() + tail.len() >= 4
        && head.len() + tail.len() < secret.len()
        && secret.starts_with(head)
        && secret.ends_with(tail)
}

/// The visible head and tail around the hidden middle: `...`, `…` or a run of `*`.
fn split_redacted(redacted: &str) -> Option<(&str, &str)> {
    let (head, tail) = redacted
        .split_once("...")
        .or_else(|| redacted.split_once('…'))
        .or_else(|| redacted.split_once('*'))?;
    Some((head.trim_end_matches('*'), tail.trim_start_matches('*')))
}

/// The outcome of looking a leak up.
#[derive(Debug)]
pub enum Resolution<T> {
    One(T),
    /// Several keys fit, even after narrowing.
    Ambiguous(Vec<T>),
    NoMatch,
}

/// What narrows several fits down.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hints<'a> {
    /// The project that answered verification (`openai-project`).
    pub project: Option<&'a str>,
    /// When the leak was first committed (Unix seconds): a key created later is not it.
    pub first_seen: Option<i64>,
}

/// Picks the key `secret` is among `keys`, given each key's redacted value, project and
/// creation time.
pub fn resolve<T: Clone>(
    keys: &[T],
    secret: &str,
    hints: Hints,
    redacted: impl Fn(&T) -> &str,
    project: impl Fn(&T) -> Option<&str>,
    created_at: impl Fn(&T) -> i64,
) -> Resolution<T> {
    let mut fits: Vec<&T> = keys
        .iter()
        .filter(|k| redaction_fits(redacted(k), secret))
        .collect();
    // Each narrowing applies only when it leaves a candidate: a hint may be wrong.
    let narrow = |fits: &mut Vec<&T>, keep: &dyn Fn(&T) -> bool| {
        if fits.len() > 1 && fits.iter().any(|k| keep(k)) {
            fits.retain(|k| keep(k));
        }
    };
    if let Some(hint) = hints.project {
        narrow(&mut fits, &|k| project(k) == Some(hint));
    }
    if let Some(first_seen) = hints.first_seen {
        narrow(&mut fits, &|k| created_at(k) <= first_seen);
    }
    match fits.as_slice() {
        [] => Resolution::NoMatch,
        [one] => Resolution::One((*one).clone()),
        many => Resolution::Ambiguous(many.iter().map(|k| (*k).clone()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_tail_must_both_fit() {
        let secret = format!("sk-proj-{}wxyz", "a".repeat(60));
        assert!(redaction_fits("sk-proj-...wxyz", &secret));
        assert!(redaction_fits("sk-proj-********wxyz", &secret));
        assert!(redaction_fits("sk-p…wxyz", &secret));
        assert!(!redaction_fits("sk-proj-...wxya", &secret));
        assert!(!redaction_fits("sk-admin...wxyz", &secret));
        // Shows nothing: fits everything, so it identifies nothing.
        assert!(!redaction_fits("...", &secret));
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Key(&'static str, &'static str, i64);

    fn run(keys: &[Key], hints: Hints) -> Resolution<Key> {
        let secret = format!("sk-proj-{}wxyz", "a".repeat(60));
        resolve(keys, &secret, hints, |k| k.0, |k| Some(k.1), |k| k.2)
    }

    #[test]
    fn several_fits_are_narrowed_by_project_then_by_creation_time() {
        let keys = [
            Key("sk-proj-...wxyz", "proj_a", 100),
            Key("sk-proj-...wxyz", "proj_b", 100),
            Key("sk-proj-...wxyz", "proj_b", 900),
            Key("sk-proj-...0000", "proj_b", 100),
        ];
        assert!(matches!(run(&keys, Hints::default()), Resolution::Ambiguous(k) if k.len() == 3));
        let by_project = Hints {
            project: Some("proj_b"),
            first_seen: None,
        };
        assert!(matches!(run(&keys, by_project), Resolution::Ambiguous(k) if k.len() == 2));
        let both = Hints {
            project: Some("proj_b"),
            first_seen: Some(500),
        };
        assert!(matches!(run(&keys, both), Resolution::One(k) if k == keys[1]));
        // A hint that would leave nothing is ignored.
        let wrong = Hints {
            project: Some("proj_z"),
            first_seen: Some(1),
        };
        assert!(matches!(run(&keys, wrong), Resolution::Ambiguous(k) if k.len() == 3));
        assert!(matches!(
            run(&keys[3..], Hints::default()),
            Resolution::NoMatch
        ));
    }
}
