//! Continuous integration: deciding what a CI run should scan from what triggered it. Only the
//! decision lives here; the scan itself is the same one `ferret git` runs.

pub mod github;
