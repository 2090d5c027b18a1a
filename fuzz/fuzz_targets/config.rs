//! `.ferret.toml` as found in a scanned tree (untrusted) and as the operator's `--config`:
//! parsing, the allowlist it compiles to, and what each side may use of it.

#![no_main]

use std::path::Path;

use ferret::config::Config;
use ferret::provider::Provider;
use ferret::suppress::Suppressions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut config = match Config::parse(Path::new(".ferret.toml"), text) {
        Ok(config) => config,
        // Errors name the file, line and column, on one line.
        Err(err) => {
            assert!(!err.to_string().contains('\n'), "{err}");
            return;
        }
    };
    // A file found in the scanned tree never decides where keys go or what runs.
    for provider in Provider::ALL {
        assert!(config.operator_api_base(provider).is_none());
    }
    assert!(config.operator_hooks().is_empty());
    let _ = config.untrusted_sections();
    config.operator = true;
    for provider in Provider::ALL {
        let _ = config.operator_api_base(provider);
    }
    let _ = config.operator_revoke_settings();
    let _ = config.operator_rotation_settings();
    for hook in config.operator_hooks() {
        let _ = hook.name();
    }
    match Suppressions::from_config(&config) {
        Ok(suppressions) => {
            let _ = suppressions.suppresses_path("src/main.rs");
        }
        Err(err) => assert!(!err.to_string().contains('\n'), "{err}"),
    }
});
