//! Counts of long work as it goes (objects of a history, keys to verify), told to whoever shows
//! progress: the library counts, the command line draws.

/// Hears how much there is to do, which may grow as work is discovered, and each piece done.
pub trait Progress: Send + Sync + std::fmt::Debug {
    fn more_to_do(&self, pieces: u64);
    fn done(&self, pieces: u64);
}
