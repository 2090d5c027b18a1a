//! Rule files as an operator's `--rules DIR` holds them: parsing and compiling the rules, a
//! matcher over them, `ferret rules check` (example expansion and matching), and a search of
//! the file's own text.

#![no_main]

use ferret::matcher::examples::check_examples;
use ferret::matcher::{ChunkScanner, Matcher};
use ferret::rules::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut rules = RuleSet::default();
    if rules.add_file("fuzz.toml", text).is_err() {
        return;
    }
    let matcher = Matcher::new(rules);
    let _ = check_examples(&matcher, 0);
    let mut scanner = ChunkScanner::new(&matcher);
    scanner
        .scan_reader(data, |m| {
            let _ = m.secret.redacted();
        })
        .expect("reading from memory cannot fail");
});
