# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share. Source it after setting `repo` (the
# checkout), BENCH_DIR and THREADS, and defining `say` and `die`.
# The variables it reads and sets belong to the sourcing script:
# shellcheck disable=SC2154,SC2034

# Builds ferret and copies the binary into $BENCH_DIR, then sets FERRET (the copy), revision
# (the commit it was built from) and thread_args (ferret's --threads option), and enters
# $BENCH_DIR.
build_private_ferret() {
    say "building ferret (cargo build --release; may wait for the shared target dir's lock)"
    (cd "$repo" && cargo build --release --quiet)
    target_dir=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    [[ -x $target_dir/release/ferret ]] || die "no binary at $target_dir/release/ferret"
    # A private copy: the target dir is shared, and a rebuild during the runs must not change them.
    mkdir -p "$BENCH_DIR"
    BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
    FERRET=$BENCH_DIR/ferret
    cp "$target_dir/release/ferret" "$FERRET"
    # The commit, and whether the sources just built differ from it (read-only: no index refresh).
    revision=$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')
    if ! (cd "$repo" && git --no-optional-locks diff --quiet HEAD -- src rules Cargo.toml Cargo.lock 2>/dev/null); then
        revision+=" + uncommitted changes"
    fi
    thread_args=()
    [[ -n $THREADS ]] && thread_args=(--threads "$THREADS")

    # Commands run from here, so no .ferret.toml or .ferretignore of the caller's directory applies.
    cd "$BENCH_DIR" || die "cannot enter $BENCH_DIR"
}

# Made-up keys: sk-proj- + 74 random base64url characters + marker + 74 more. A body that
# happens to contain one of the rule's placeholder words (example, xxxxx, 123456…) is drawn
# again, so every planted key must be reported.
# Python defining make_key(rng, marker) and fingerprint(key), to put in front of a script.
PY_KEYS='
import hashlib, random, re, sys
PLACEHOLDER = re.compile(r"(?i)x{5}|(?:your|my|insert|put)[_-]?(?:openai[_-]?)?(?:api[_-]?)?key"
                         r"|example|placeholder|redacted|dummy|abcdef|123456|0{6}")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
def make_key(rng, marker):
    while True:
        head = "".join(rng.choice(ALPHABET) for _ in range(74))
        tail = "".join(rng.choice(ALPHABET) for _ in range(74))
        key = "sk-proj-" + head + marker + tail
        if not PLACEHOLDER.search(key) and key.count(marker) == 1:
            return key
def fingerprint(key):
    return hashlib.sha256(key.encode()).hexdigest()
'
