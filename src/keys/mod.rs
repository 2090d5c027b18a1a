//! The organizations' keys themselves, not leaks: `ferret keys list` (every key with its owner,
//! age, last use and what ferret's ledger knows, read by [`crate::revoke::inventory`]),
//! `ferret keys audit` (the keys held to the operator's `[policy]`: [`policy`]) and the
//! reports of both and of `ferret keys rotate` ([`output`], with SARIF in [`sarif`]). Rotation
//! itself is [`crate::revoke::scheduled`], on the path leaks take.

pub mod output;
pub mod policy;
pub mod sarif;
