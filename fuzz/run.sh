#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each (default 60) and says which
# crashed. Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   fuzz/run.sh                       # every target, a minute each
#   FUZZ_SECONDS=600 fuzz/run.sh git  # one target, ten minutes
#
# Each target starts from its seeds (fuzz/corpus/TARGET, committed) plus what earlier runs
# found (fuzz/work/TARGET, not committed: thousands of machine-made inputs). A crash leaves
# its input in fuzz/artifacts/TARGET/; `cargo +nightly fuzz run TARGET FILE` replays it.
set -uo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-60}
# An input running longer than this (seconds) is a hang.
timeout=${FUZZ_TIMEOUT:-20}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: needs cargo-fuzz and a nightly toolchain:" >&2
    echo "  rustup toolchain install nightly && cargo install cargo-fuzz" >&2
    exit 2
fi
if (($# > 0)); then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Longest input per target: the matcher's must pass its smallest chunk (a few KiB) to cut
# inside lines; damage lists need few bytes.
max_len() {
    case $1 in
        matcher | decode_nested) echo 16384 ;;
        rules) echo 32768 ;;
        git) echo 512 ;;
        *) echo 4096 ;;
    esac
}

# -a: debug assertions and overflow checks on, as in the test suite.
nice cargo +nightly fuzz build -a || exit 2

failed=()
for target in "${targets[@]}"; do
    mkdir -p "work/$target" "corpus/$target"
    echo "== $target: ${seconds}s"
    if nice cargo +nightly fuzz run -a "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
        -max_len="$(max_len "$target")" -print_final_stats=1 2>"work/$target.log"; then
        grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "work/$target.log" || true
    else
        failed+=("$target")
        grep -E "^(==[0-9]+==|thread '|SUMMARY|artifact_prefix|Test unit written)" \
            "work/$target.log" | head -20
        echo "   full log: fuzz/work/$target.log"
    fi
done

if ((${#failed[@]} > 0)); then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "no crash in ${targets[*]}"
