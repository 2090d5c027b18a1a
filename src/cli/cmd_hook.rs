//! `ferret hook install`: write the git pre-commit hook (see [`crate::git_hook`]).

use anyhow::Context;

use super::{HookAction, HookArgs};
use crate::git_hook::{self, CHAINED_HOOK, Existing, Installed};

pub fn run(args: HookArgs) -> anyhow::Result<u8> {
    let HookAction::Install { repo, force, chain } = args.action;
    let existing = if chain {
        Existing::Chain
    } else if force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    let ferret = std::env::current_exe()
        .context("cannot tell where this ferret binary is, to call it from the hook")?;
    match git_hook::install(&repo, &ferret, existing)? {
        Installed::Unchanged { hook } => {
            println!(
                "ferret's pre-commit hook is already installed: {}",
                hook.display()
            );
        }
        Installed::Written { hook, chained } => {
            println!(
                "installed the pre-commit hook {} (runs {} git --staged)",
                hook.display(),
                ferret.display()
            );
            if chained {
                println!("the hook that was there is now {CHAINED_HOOK} beside it, and runs first");
            }
        }
    }
    Ok(0)
}
