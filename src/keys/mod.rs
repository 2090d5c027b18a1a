//! The organizations' keys themselves, not leaks: `ferret keys list` (every key with its owner,
//! age, last use and what ferret's ledger knows, read by [`crate::revoke::inventory`]),
//! `ferret keys audit` (the keys held to the operator's `[policy]`: [`policy`]) and the
//! reports of both and of `ferret keys rotate` ([`output`], with SARIF in [`sarif`]). Rotation
//! itself is [`crate::revoke::scheduled`], on the path leaks take.

pub mod output;
pub mod policy;
pub mod sarif;

use std::collections::HashMap;

use serde::Deserialize;

use crate::report::RecordError;
use crate::revoke::inventory::Inventory;

/// Places a leak is reported at, at most: the list names where to look, the report has all.
const MAX_PLACES: usize = 5;

/// The fields of a scan report's record that say where a key was seen.
#[derive(Deserialize)]
struct Seen {
    fingerprint: String,
    path: String,
    line: u64,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    repository: Option<String>,
}

/// Adds to each leak the ledger knows of the places a scan report (JSON or JSONL, redacted or
/// not) saw it, matched by fingerprint.
pub fn add_places(inventory: &mut Inventory, report: &str) -> Result<(), RecordError> {
    let mut places: HashMap<String, Vec<String>> = HashMap::new();
    for (_, seen) in crate::report::parse_records::<Seen>(report)? {
        let mut place = format!("{}:{}", seen.path, seen.line);
        if let Some(commit) = &seen.commit {
            let short: String = commit.chars().take(12).collect();
            place.push_str(&format!(" @ {short}"));
        }
        if let Some(repository) = &seen.repository {
            place.push_str(&format!(" in {repository}"));
        }
        let known = places.entry(seen.fingerprint).or_default();
        if !known.contains(&place) && known.len() < MAX_PLACES {
            known.push(place);
        }
    }
    for key in &mut inventory.keys {
        for known in key.ferret.iter_mut().filter(|k| k.event == "leaked") {
            for place in places.get(&known.fingerprint).into_iter().flatten() {
                if !known.places.contains(place) && known.places.len() < MAX_PLACES {
                    known.places.push(place.clone());
                }
            }
        }
    }
    Ok(())
}
