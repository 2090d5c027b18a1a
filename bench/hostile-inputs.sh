#!/usr/bin/env bash
# bench/hostile-inputs.sh: the release build of ferret against inputs too large for `cargo test`
# (tests/integration/hostile_inputs.rs has the quick ones), each built under $BENCH_DIR and deleted after its
# run:
#   sparse-4g   ferret dir: a 4 GB sparse file (a hole, read as zeros) with a key at its end
#   line-1g     ferret dir: one line of 1 GB, a key at its end
#   files-1m    ferret dir: a directory of 1,000,000 empty files (and one with a key)
#   refs-100k   ferret git: a repository with 100,000 refs (tags) to the commit of a key
#   blob-10g    ferret git: a 10 GB blob of zeros (10 MB packed, made by git fast-import from a
#               stream, never on disk whole) beside a file with a key
#   decode      ferret dir: inputs of $DECODE_MB MB built to make decoding expensive (floods of the
#               OpenAI marker in base64 on one line, wrapped, nested three deep, and under every
#               alignment; in UTF-16, base64 of UTF-16, JSON and percent escapes; random base64),
#               each with a key at its end encoded the same way, timed against plain text of the
#               same size in the same run: a second table gives each one's CPU time as a ratio to
#               plain text's (median of $DECODE_RUNS runs)
# Each run is `timeout $TIMEOUT /usr/bin/time -v ferret …`; the table gives the exit code, wall
# time, CPU time (what a shared machine's load does not inflate), peak RSS, whether the planted key was reported, and ferret's first warning. Every case
# must end (exit 1: the key was found) in bounded memory with, where something was left out,
# a warning saying what.
#
# Run:   bench/hostile-inputs.sh
# Needs: cargo, git, python3, GNU time (sudo apt-get install -y time); about 12 GB of free disk
#        for the largest input at a time (files-1m needs a million inodes).
# Options (environment variables):
#   BENCH_DIR  where inputs go              [${TMPDIR:-/tmp}/ferret-hostile]
#   CASES      which cases to run           ["sparse-4g line-1g files-1m refs-100k blob-10g decode"]
#   DECODE_MB  size of each decode input    [64]
#   DECODE_RUNS runs of each decode input   [3]
#   TIMEOUT    seconds before a run is a hang [600]
#   THREADS    passed to ferret --threads   [unset: all cores]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/ferret-hostile}
CASES=${CASES:-sparse-4g line-1g files-1m refs-100k blob-10g decode}
DECODE_MB=${DECODE_MB:-64}
DECODE_RUNS=${DECODE_RUNS:-3}
TIMEOUT=${TIMEOUT:-600}
THREADS=${THREADS:-}

die() { echo "hostile-inputs: $*" >&2; exit 2; }
say() { echo "== $*" >&2; }

[[ -x /usr/bin/time ]] || die "GNU time is missing: sudo apt-get install -y time"
command -v git >/dev/null || die "git is missing"

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
build_private_ferret

# One made-up key for every case, and its fingerprint.
read -r KEY FINGERPRINT < <(python3 -c "$PY_KEYS
rng = random.Random()
key = make_key(rng, 'T3Bl' + 'bkFJ')
print(key, fingerprint(key))")

results=()
decode_results=()

# run_case NAME DIR FERRET-ARGS...: times ferret in DIR and adds a row to the table.
run_case() {
    local name=$1 dir=$2
    shift 2
    local out=$BENCH_DIR/$name.out err=$BENCH_DIR/$name.err timing=$BENCH_DIR/$name.time
    say "$name: ferret $*"
    local code=0
    (cd "$dir" && timeout "$TIMEOUT" /usr/bin/time -v -o "$timing" \
        "$FERRET" "$@" "${thread_args[@]}" --no-progress --format jsonl >"$out" 2>"$err") || code=$?
    local wall cpu rss found warning
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$timing" 2>/dev/null || true)
    cpu=$(awk -F': ' '/(User|System) time/ { s += $2 } END { printf "%.2f s", s }' "$timing" 2>/dev/null || true)
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f MB", $2 / 1024 }' "$timing" 2>/dev/null || true)
    ((code == 124)) && wall="> ${TIMEOUT}s (hung, killed)"
    if grep -q "\"fingerprint\":\"$FINGERPRINT\"" "$out"; then found=yes; else found=NO; fi
    warning=$(grep -m1 -i 'warning' "$err" | cut -c1-140 || true)
    results+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$name" "$code" "${wall:-?}" "${cpu:-?}" "${rss:-?}" "$found" "${warning:-none}")")
    rm -f "$out"
}

# write_decode_inputs DIR: one directory per decode case under DIR, each holding one file of
# $DECODE_MB MB with the key at its end (in the case's encoding).
write_decode_inputs() {
    python3 - "$1" "$DECODE_MB" "$KEY" <<'EOF'
import base64, os, random, sys
root, size, key = sys.argv[1], int(sys.argv[2]) << 20, sys.argv[3]
marker = "T3Bl" + "bkFJ"
env = f"OPENAI_API_KEY={key}\n"
b64 = lambda b: base64.b64encode(b).decode()
def flood(n, unit):
    return (unit * (n // len(unit) + 1))[:n]
def wrap(text, width):
    return "".join(text[i:i + width] + "\n" for i in range(0, len(text), width))
def utf16(text):
    return text.encode("utf-16-le")
rng = random.Random(5)
words = ("let mut self fn pub struct impl match return if else for while loop use crate mod const "
         "static async await where type trait enum Some None Ok Err Vec String Option Result").split()
def code_line():
    return "    " + " ".join(rng.choice(words) for _ in range(rng.randrange(2, 12))) + \
        f";  // {rng.getrandbits(64):016x}\n"
plain, n = [], 0
while n < size:
    plain.append(code_line())
    n += len(plain[-1])
# Each input is about `size` bytes; the key goes at its end, encoded as the input is.
cases = {
    "plain": ("".join(plain)[:size] + "\n" + env).encode(),
    "marker-plain": (wrap(flood(size, marker), 96) + env).encode(),
    "b64-line": (b64(flood(size * 3 // 4, marker).encode()) + "\n" + b64(env.encode()) + "\n").encode(),
    "b64-wrapped": wrap(b64((flood(size * 3 // 4, marker) + "\n" + env).encode()), 76).encode(),
    "b64-nested": (flood(size, b64(b64(b64(flood(1 << 20, marker).encode()).encode()).encode()))
                   + "\n" + b64(b64(b64(env.encode()).encode()).encode()) + "\n").encode(),
    "b64-every-alignment": (flood(size, b64(b64(b64(b"A" * (1 << 20)).encode()).encode()))
                            + "\n" + b64(env.encode()) + "\n").encode(),
    "b64-random": (b64(os.urandom(size * 3 // 4)) + "\n" + b64(env.encode()) + "\n").encode(),
    "utf16le-lines": utf16(wrap(flood(size // 2, marker), 120) + env),
    "utf16le-line": utf16(flood(size // 2, marker) + "\n" + env),
    "b64-utf16le": (b64(utf16(flood(size * 3 // 8, marker) + "\n" + env)) + "\n").encode(),
    "json-escapes": (flood(size, marker + "\\u002d") + "\n" + env).encode(),
    "percent": (flood(size, marker + "%2D") + "\n" + env).encode(),
}
for name, data in cases.items():
    os.makedirs(os.path.join(root, name))
    with open(os.path.join(root, name, "input"), "wb") as f:
        f.write(data)
EOF
}

# median_of FILE COLUMN: the median of a column of GNU time's '%e %U %S %M' lines (column 2:
# user + system time).
median_of() {
    awk -v c="$2" '/^[0-9]/ { print (c == 2 ? $2 + $3 : $c) }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# run_decode_cases DIR: times ferret on each decode input under DIR (median CPU time of
# $DECODE_RUNS runs) and adds a row per input with its ratio to plain text's CPU time.
run_decode_cases() {
    local dir=$1 name times cpu wall rss found plain_cpu='' run
    say "decode: writing the inputs ($DECODE_MB MB each)"
    write_decode_inputs "$dir"
    for name in plain marker-plain b64-line b64-wrapped b64-nested b64-every-alignment b64-random \
        utf16le-lines utf16le-line b64-utf16le json-escapes percent; do
        say "decode: $name"
        times=$BENCH_DIR/decode-$name.times
        : >"$times"
        for ((run = 1; run <= DECODE_RUNS; run++)); do
            (cd "$dir/$name" && timeout "$TIMEOUT" /usr/bin/time -a -o "$times" -f '%e %U %S %M' \
                "$FERRET" dir . "${thread_args[@]}" --no-progress --format jsonl \
                >"$BENCH_DIR/decode.out" 2>/dev/null) || true
        done
        cpu=$(median_of "$times" 2)
        wall=$(median_of "$times" 1)
        rss=$(awk '/^[0-9]/ { print $4 }' "$times" | sort -g | tail -n 1 | awk '{ printf "%.0f MB", $1 / 1024 }')
        if grep -q "\"fingerprint\":\"$FINGERPRINT\"" "$BENCH_DIR/decode.out"; then found=yes; else found=NO; fi
        [[ -n $plain_cpu ]] || plain_cpu=$cpu
        decode_results+=("$(awk -v n="$name" -v c="$cpu" -v w="$wall" -v p="$plain_cpu" -v r="$rss" -v f="$found" \
            'BEGIN { printf "| %s | %.2f s | %.2f s | %s | %s | %s |", n, c, w, (p > 0 ? sprintf("%.1fx", c / p) : "n/a"), r, f }')")
        rm -f "$times" "$BENCH_DIR/decode.out"
    done
}

# new_repo_with_key REPO: a new repository at REPO whose one commit adds app.env with the key.
new_repo_with_key() {
    git init -q -b main "$1"
    printf 'OPENAI_API_KEY=%s\n' "$KEY" >"$1/app.env"
    git -C "$1" add app.env
    git -C "$1" -c user.name=bench -c user.email=bench@example.com commit -q -m key
}

for name in $CASES; do
    input=$BENCH_DIR/$name
    rm -rf "$input"
    mkdir -p "$input"
    case $name in
    sparse-4g)
        truncate -s 4G "$input/disk.img"
        printf '\nOPENAI_API_KEY=%s\n' "$KEY" >>"$input/disk.img"
        run_case "$name" "$input" dir .
        ;;
    line-1g)
        { head -c 1G /dev/zero | tr '\0' 'a'; printf ' OPENAI_API_KEY=%s\n' "$KEY"; } >"$input/one-line.log"
        run_case "$name" "$input" dir .
        ;;
    files-1m)
        say "$name: creating 1,000,000 empty files"
        python3 - "$input" <<'EOF'
import os, sys
root = sys.argv[1]
for d in range(1000):
    path = os.path.join(root, f"d{d:03}")
    os.mkdir(path)
    for f in range(1000):
        os.close(os.open(os.path.join(path, f"f{f:03}"), os.O_CREAT | os.O_WRONLY, 0o644))
EOF
        printf 'OPENAI_API_KEY=%s\n' "$KEY" >"$input/d999/app.env"
        run_case "$name" "$input" dir .
        ;;
    refs-100k)
        new_repo_with_key "$input/repo"
        commit=$(git -C "$input/repo" rev-parse HEAD)
        say "$name: creating 100,000 refs"
        for i in $(seq -w 0 99999); do echo "create refs/tags/t$i $commit"; done |
            git -C "$input/repo" update-ref --stdin
        git -C "$input/repo" pack-refs --all
        run_case "$name" "$input/repo" git .
        ;;
    blob-10g)
        git init -q -b main "$input/repo"
        say "$name: streaming a 10 GB blob into git fast-import"
        size=$((10 << 30))
        env_text=$(printf 'OPENAI_API_KEY=%s\n' "$KEY")
        {
            printf 'blob\nmark :1\ndata %d\n' "$size"
            head -c "$size" /dev/zero
            printf '\nblob\nmark :2\ndata %d\n%s\n' "$((${#env_text} + 1))" "$env_text"
            printf 'commit refs/heads/main\ncommitter bench <bench@example.com> 1700000000 +0000\n'
            printf 'data 5\nbomb\nM 100644 :1 zeros.bin\nM 100644 :2 app.env\n\n'
        } | git -C "$input/repo" fast-import --quiet
        du -sh "$input/repo/.git" >&2
        run_case "$name" "$input/repo" git .
        ;;
    decode)
        run_decode_cases "$input"
        ;;
    *) die "unknown case $name" ;;
    esac
    rm -rf "$input"
done

echo
echo "ferret $revision, $(nproc) cores; timeout ${TIMEOUT}s"
echo
if ((${#results[@]})); then
    echo '| case | exit | wall | CPU (user+sys) | peak RSS | key found | first warning |'
    echo '| --- | --- | --- | --- | --- | --- | --- |'
    printf '%s\n' "${results[@]}"
fi
if ((${#decode_results[@]})); then
    echo
    echo "Decoding, $DECODE_MB MB inputs, median of $DECODE_RUNS runs (ratio: CPU time to plain text's):"
    echo
    echo '| input | CPU (user+sys) | wall | ratio to plain text | peak RSS | key found |'
    echo '| --- | --- | --- | --- | --- | --- |'
    printf '%s\n' "${decode_results[@]}"
fi
