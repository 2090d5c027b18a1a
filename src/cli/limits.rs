//! Limits on what a command line may ask for: more worker threads than can be useful only
//! cost memory and scheduling (a `--threads 100000` once started 11,601 threads that spun for
//! half an hour on a 48 KB tree), so the count is capped with a warning.

/// Worker threads per core beyond which more are capped: scanning is CPU-bound, and reading
/// git packs or files waits on I/O for a fraction of the time at most.
pub const THREADS_PER_CORE: usize = 4;

/// The most worker threads any machine gets, however many cores it reports.
pub const MAX_THREADS: usize = 256;

/// `--threads N`: `N`, or the cap ([`THREADS_PER_CORE`] per core, at most [`MAX_THREADS`])
/// with a warning when `N` is above it. 0 keeps its meaning (one thread per core).
pub fn parse_threads(text: &str) -> Result<usize, String> {
    let asked: usize = text
        .trim()
        .parse()
        .map_err(|_| "not a whole number of threads".to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cap = (cores * THREADS_PER_CORE).min(MAX_THREADS);
    if asked > cap {
        super::warn(format_args!(
            "--threads {asked} is more than can be useful here; {cap} are used \
             ({THREADS_PER_CORE} per core, at most {MAX_THREADS})"
        ));
        return Ok(cap);
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_kept_and_large_ones_capped() {
        assert_eq!(parse_threads("0"), Ok(0));
        assert_eq!(parse_threads("1"), Ok(1));
        let capped = parse_threads("100000").unwrap();
        assert!((1..=MAX_THREADS).contains(&capped));
        assert!(parse_threads("-1").is_err());
        assert!(parse_threads("many").is_err());
    }
}
