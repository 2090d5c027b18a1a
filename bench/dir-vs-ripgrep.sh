#!/usr/bin/env bash
# bench/dir-vs-ripgrep.sh: `ferret dir` against ripgrep on the same input, in the same run.
#
# What it measures, for two inputs built under $BENCH_DIR (and reused by later runs):
#   tree  a large source tree: copies of $TREE_SOURCE (default ~/.cargo/registry/src) until it
#         holds about $TREE_SIZE_MB, or generated text files when the source is missing;
#   log   one $LOG_SIZE_MB log file of realistic lines (timestamps, levels, URLs, hex ids).
# Into each, a few OpenAI-format keys are planted; they are made up at run time (random bodies
# around the marker) and never appear in this script. Then, for each input:
#   ferret:  ferret dir --no-progress --format jsonl PATH > /dev/null
#   plain:   the same with --decode-depth 0 (no look inside base64, UTF-16 or escapes): the
#            ratio ferret/plain is what decoding costs
#   ripgrep: rg --no-ignore --hidden -a -c <marker> PATH > /dev/null   (the cheapest scan that
#            still reads every byte looking for the keys' marker; -a: binary files too, as ferret)
# Each command runs $RUNS times after a warm-up (page cache hot), alternating which tool goes
# first; GNU time gives wall time (%e), user+sys CPU (%U+%S), peak RSS (%M) and the blocks the
# process read from disk (%I: nonzero means the page cache was not warm for that run, which on a
# shared machine happens when something else evicts it). The table shows medians, the ratios
# ferret/rg, the wall-time spread and the most any run read from disk. A separate run of ferret
# checks that it reports exactly the planted keys (by SHA-256 fingerprint), so the figures are
# for a scan that works. (For the log, PATH is the file and rg runs without the two options.)
#
# Run:   bench/dir-vs-ripgrep.sh
# Needs: cargo, python3, rg and GNU time:   sudo apt-get install -y ripgrep time
#        (hyperfine, optional for USE_HYPERFINE=1: sudo apt-get install -y hyperfine)
# Options (environment variables):
#   BENCH_DIR      where inputs go            [${TMPDIR:-/tmp}/ferret-bench]
#   TREE_SOURCE    source tree to copy        [~/.cargo/registry/src]
#   TREE_SIZE_MB   size to copy it up to      [1024]  (0: a single copy)
#   LOG_SIZE_MB    size of the log file       [1024]
#   RUNS           timed runs per command     [3]
#   THREADS        passed to ferret --threads [unset: all cores, as rg does]
#   INPUTS         which inputs to run        ["tree log"]
#   USE_HYPERFINE  1: also run hyperfine (wall time only) on each input  [0]
#   REBUILD        1: delete and rebuild the inputs even if present      [0]
#   BASELINE       another ferret binary (e.g. main's release build) timed the same way in the
#                  same runs, so a change's cost is a ratio from one session        [unset]
# The inputs stay in $BENCH_DIR for the next run (about 2 GB by default); remove it when done.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/ferret-bench}
TREE_SOURCE=${TREE_SOURCE:-$HOME/.cargo/registry/src}
TREE_SIZE_MB=${TREE_SIZE_MB:-1024}
LOG_SIZE_MB=${LOG_SIZE_MB:-1024}
RUNS=${RUNS:-3}
THREADS=${THREADS:-}
INPUTS=${INPUTS:-tree log}
USE_HYPERFINE=${USE_HYPERFINE:-0}
REBUILD=${REBUILD:-0}
BASELINE=${BASELINE:-}

die() { echo "dir-vs-ripgrep: $*" >&2; exit 2; }
say() { echo "== $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Tools
missing=()
command -v rg >/dev/null || missing+=(ripgrep)
[[ -x /usr/bin/time ]] && /usr/bin/time -f %e true >/dev/null 2>&1 || missing+=(time)
[[ $USE_HYPERFINE == 1 ]] && ! command -v hyperfine >/dev/null && missing+=(hyperfine)
if ((${#missing[@]})); then
    die "missing ${missing[*]}; install with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
fi
command -v python3 >/dev/null || die "python3 is needed to build the inputs"
command -v cargo >/dev/null || die "cargo is needed to build ferret"

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
build_private_ferret


# ---------------------------------------------------------------------------------------------
# Input (a): the tree
build_tree() {
    local tree=$BENCH_DIR/tree
    local want="source=$TREE_SOURCE size_mb=$TREE_SIZE_MB"
    if [[ $REBUILD != 1 && -f $BENCH_DIR/tree.ready && $(<"$BENCH_DIR/tree.ready") == "$want" ]]; then
        say "reusing $tree ($want)"
        return
    fi
    rm -rf "$tree" "$BENCH_DIR/tree.ready" "$BENCH_DIR/tree.fingerprints"
    mkdir -p "$tree"
    if [[ -d $TREE_SOURCE ]]; then
        local source_mb copies i
        source_mb=$(du -sm --apparent-size "$TREE_SOURCE" | cut -f1)
        ((source_mb > 0)) || source_mb=1
        copies=$(((TREE_SIZE_MB + source_mb - 1) / source_mb))
        ((copies >= 1)) || copies=1
        say "copying $TREE_SOURCE (${source_mb} MB) $copies times into $tree"
        for ((i = 1; i <= copies; i++)); do
            cp -r "$TREE_SOURCE" "$tree/$(printf 'copy-%02d' "$i")"
        done
    else
        say "$TREE_SOURCE is missing: generating ~${TREE_SIZE_MB} MB of text files in $tree"
        python3 - "$tree" "$TREE_SIZE_MB" <<'EOF'
import os, random, sys
root, size_mb = sys.argv[1], max(int(sys.argv[2]), 1)
rng = random.Random(7)
words = ("let mut self fn pub struct impl match return if else for while loop use crate mod "
         "const static async await where type trait enum Some None Ok Err Vec String Option "
         "Result buffer index value count offset length reader writer config error").split()
def line():
    indent = "    " * rng.randrange(4)
    body = " ".join(rng.choice(words) for _ in range(rng.randrange(2, 12)))
    return f"{indent}{body};  // {rng.getrandbits(64):016x}\n"
written, n = 0, 0
while written < size_mb << 20:
    d = os.path.join(root, f"crate-{n // 200:04d}", "src", f"m{n % 7}")
    os.makedirs(d, exist_ok=True)
    text = "".join(line() for _ in range(rng.randrange(20, 1500)))
    with open(os.path.join(d, f"file{n:06d}.rs"), "w") as f:
        f.write(text)
    written += len(text)
    n += 1
EOF
    fi
    say "planting keys in the tree"
    python3 - "$tree" "$MARKER" >"$BENCH_DIR/tree.fingerprints" <<EOF
$PY_KEYS
import os
root, marker = sys.argv[1], sys.argv[2]
rng = random.Random(2024)
candidates = []
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for name in sorted(filenames):
        if name.endswith((".rs", ".toml", ".md", ".py", ".c", ".yml")):
            path = os.path.join(dirpath, name)
            if 4096 <= os.path.getsize(path) <= 1 << 20:
                candidates.append(path)
if len(candidates) < 6:
    sys.exit("too few text files in the tree to plant keys")
lines_for = {
    ".rs": 'const OPENAI_API_KEY: &str = "{}";\n',
    ".toml": 'openai_api_key = "{}"\n',
    ".md": "    export OPENAI_API_KEY={}\n",
    ".py": 'client = OpenAI(api_key="{}")\n',
    ".c": 'static const char *key = "{}";\n',
    ".yml": "  OPENAI_API_KEY: {}\n",
}
planted = []
# Five existing files, spread over the tree; the key goes on a line of its own mid-file.
for path in rng.sample(candidates, 5):
    with open(path, "rb") as f:
        data = f.read()
    at = data.find(b"\n", len(data) // 2) + 1 or len(data)
    key = make_key(rng, marker)
    line = lines_for[os.path.splitext(path)[1]].format(key).encode()
    with open(path, "wb") as f:
        f.write(data[:at] + line + data[at:])
    planted.append((path, key))
# And one hidden .env file, as people leave them.
top = sorted(os.listdir(root))[-1]
path = os.path.join(root, top, ".env")
key = make_key(rng, marker)
with open(path, "w") as f:
    f.write("DATABASE_URL=postgres://app@localhost/app\nOPENAI_API_KEY=" + key + "\nDEBUG=0\n")
planted.append((path, key))
for path, key in planted:
    print(fingerprint(key), os.path.relpath(path, root))
EOF
    echo "$want" >"$BENCH_DIR/tree.ready"
}

# ---------------------------------------------------------------------------------------------
# Input (b): the log file
build_log() {
    local log=$BENCH_DIR/app.log
    local want="size_mb=$LOG_SIZE_MB"
    if [[ $REBUILD != 1 && -f $BENCH_DIR/log.ready && $(<"$BENCH_DIR/log.ready") == "$want" ]]; then
        say "reusing $log ($want)"
        return
    fi
    rm -f "$log" "$BENCH_DIR/log.ready" "$BENCH_DIR/log.fingerprints"
    say "writing a ${LOG_SIZE_MB} MB log file at $log"
    python3 - "$log" "$LOG_SIZE_MB" "$MARKER" >"$BENCH_DIR/log.fingerprints" <<EOF
$PY_KEYS
import time
path, size, marker = sys.argv[1], int(sys.argv[2]) << 20, sys.argv[3]
rng = random.Random(11)
hexes = ["%032x" % rng.getrandbits(128) for _ in range(8192)]
users = ["u_%d" % rng.randrange(10**6) for _ in range(2048)]
ips = ["10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(2048)]
paths = ["/api/v1/users/{}", "/api/v1/orders/{}/items", "/api/v2/search?q=shoes&page={}",
         "/static/app.{}.js", "/healthz", "/api/v1/sessions/{}/refresh", "/graphql"]
hosts = ["https://payments.internal.example.net/v2/charge", "https://auth.corp.local/oauth/token",
         "http://10.0.4.17:8080/metrics", "https://api.partner.io/v3/webhooks/deliver",
         "https://cdn.assets.local/img/{}.png"]
services = ["http", "db", "cache", "worker-1", "worker-2", "auth", "billing", "scheduler"]
agents = ['"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"', '"curl/8.5.0"', '"okhttp/4.12.0"',
          '"python-requests/2.32.3"']
def line(t):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % rng.randrange(1000)
    h, u, ip = rng.choice(hexes), rng.choice(users), rng.choice(ips)
    r = rng.random()
    if r < 0.45:
        p = rng.choice(paths).format(rng.randrange(10**6))
        status = rng.choice((200, 200, 200, 201, 204, 301, 304, 400, 404, 500))
        return (f"{ts} INFO  [http] {rng.choice(('GET', 'POST', 'PUT'))} {p} {status} "
                f"{rng.random() * 300:.1f}ms req_id={h} ip={ip} ua={rng.choice(agents)}\n")
    if r < 0.60:
        return (f"{ts} DEBUG [cache] miss key=session:{h[:24]} ttl={rng.choice((60, 600, 3600))} "
                f"node=cache-{rng.randrange(8)} took={rng.randrange(900)}us user={u}\n")
    if r < 0.72:
        return (f"{ts} WARN  [db] slow query {rng.randrange(200, 5000)}ms: SELECT id, total FROM orders "
                f"WHERE customer_id = {rng.randrange(10**6)} ORDER BY created_at DESC LIMIT 50\n")
    if r < 0.82:
        return (f"{ts} ERROR [{rng.choice(services)}] job {h} failed: upstream "
                f"{rng.choice(hosts).format(h[:12])} returned {rng.choice((502, 503, 504))} "
                f"(attempt {rng.randrange(1, 6)}/5)\n")
    if r < 0.92:
        return (f"{ts} INFO  [auth] user {u} logged in from {ip} via https://sso.corp.local/callback"
                f"?state={h[:16]} mfa={rng.choice(('totp', 'webauthn', 'none'))}\n")
    if r < 0.999:
        return (f"{ts} INFO  [{rng.choice(services)}] processed batch {rng.randrange(10**5)} "
                f"items={rng.randrange(5000)} trace={h} span={rng.getrandbits(64):016x}\n")
    # Redacted keys, as a careful logger writes them: never reported.
    return f"{ts} INFO  [openai] using key sk-proj-****{h[:4]} for model gpt-4o-mini user={u}\n"
def leak(t, key, how):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"
    if how == 0:
        return f"{ts} DEBUG [http] outgoing request headers: {{'Authorization': 'Bearer {key}', 'Content-Type': 'application/json'}}\n"
    if how == 1:
        return f'{ts} INFO  [config] loaded settings: {{"openai_api_key":"{key}","model":"gpt-4o"}}\n'
    return f"{ts} ERROR [billing] OpenAI call failed, retrying with OPENAI_API_KEY={key} (status 429)\n"
# Keys at 10 %, 50 % and 90 % of the file, and one three lines before its end.
at = [size // 10, size // 2, size * 9 // 10]
planted, written, t, batch = [], 0, 1763800000, []
with open(path, "w") as out:
    while True:
        t += rng.random() * 0.01
        if at and written >= at[0]:
            at.pop(0)
            key = make_key(rng, marker)
            planted.append(key)
            s = leak(t, key, len(planted) % 3)
        else:
            s = line(t)
        batch.append(s)
        written += len(s)
        if len(batch) >= 50000:
            out.write("".join(batch))
            batch = []
        if written >= size:
            break
    key = make_key(rng, marker)
    planted.append(key)
    batch += [leak(t, key, 2), line(t + 0.1), line(t + 0.2), line(t + 0.3)]
    out.write("".join(batch))
for key in planted:
    print(fingerprint(key), "app.log")
EOF
    echo "$want" >"$BENCH_DIR/log.ready"
}

# ---------------------------------------------------------------------------------------------
# Measuring

# Runs a command under GNU time; appends "wall cpu rss_kb disk_blocks" to the file $1. Exit codes 0 and 1
# both mean success for both tools (1: found something / found nothing).
timed() {
    local out=$1 tfile rc=0
    shift
    tfile=$(mktemp)
    /usr/bin/time -o "$tfile" -f "%e %U %S %M %I" "$@" >/dev/null 2>>"$BENCH_DIR/stderr.log" || rc=$?
    if ((rc > 1)); then
        die "exit code $rc from: $* (stderr in $BENCH_DIR/stderr.log)"
    fi
    # GNU time puts "Command exited with non-zero status 1" before the figures.
    tail -n 1 "$tfile" | awk '{ printf "%s %.2f %s %s\n", $1, $2 + $3, $4, $5 }' >>"$out"
    rm -f "$tfile"
}

# Median of column $2 of file $1.
median() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
maximum() { awk -v c="$2" '{ print $c }' "$1" | sort -g | tail -n 1; }

# Checks that ferret reports exactly the planted keys of input $1 (whose path is $2).
check_findings() {
    local name=$1 path=$2 report=$BENCH_DIR/$1.findings.jsonl rc=0
    "$FERRET" dir --no-progress --format jsonl "${thread_args[@]}" "$path" >"$report" 2>>"$BENCH_DIR/stderr.log" || rc=$?
    ((rc <= 1)) || die "ferret failed on $path with exit code $rc (stderr in $BENCH_DIR/stderr.log)"
    python3 - "$report" "$BENCH_DIR/$name.fingerprints" <<'EOF'
import json, sys
found = [json.loads(l)["fingerprint"] for l in open(sys.argv[1]) if l.strip()]
planted = [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
missed = set(planted) - set(found)
extra = [f for f in found if f not in set(planted)]
print(f"   ferret reported {len(found)} findings; planted {len(planted)}, "
      f"missed {len(missed)}, other findings {len(extra)}", file=sys.stderr)
if missed or len(found) != len(planted):
    sys.exit("correctness check FAILED: see " + sys.argv[1])
EOF
}

results=$BENCH_DIR/results.tsv
commands=()
printf 'input\ttool\twall_s\twall_range_s\tcpu_s\trss_mb\tmax_disk_mb\n' >"$results"

bench() {
    local name=$1 path=$2 bytes files f_runs r_runs i
    local -a ferret_cmd plain_cmd rg_cmd base_cmd
    if [[ -d $path ]]; then
        ferret_cmd=("$FERRET" dir --no-progress --format jsonl "${thread_args[@]}" "$path")
        rg_cmd=(rg --no-ignore --hidden -a -c "$MARKER" "$path")
        files=$(find "$path" -type f | wc -l)
    else
        ferret_cmd=("$FERRET" dir --no-progress --format jsonl "${thread_args[@]}" "$path")
        rg_cmd=(rg -a -c "$MARKER" "$path")
        files=1
    fi
    # The same scan with decoding off: what looking inside encodings costs.
    plain_cmd=("${ferret_cmd[@]:0:${#ferret_cmd[@]}-1}" --decode-depth 0 "$path")
    base_cmd=()
    [[ -n $BASELINE ]] && base_cmd=("$BASELINE" "${ferret_cmd[@]:1}")
    bytes=$(du -sb "$path" | cut -f1)
    say "$name: $path, $((bytes >> 20)) MB in $files files"
    # Warm-up: read everything once (and check ferret's findings while at it).
    say "$name: warming the page cache and checking ferret's findings"
    "${rg_cmd[@]}" >/dev/null 2>&1 || true
    check_findings "$name" "$path"
    echo "   rg counts $("${rg_cmd[@]}" 2>/dev/null | awk -F: '{ n += $NF } END { print n + 0 }') lines with the marker" >&2

    f_runs=$BENCH_DIR/$name.ferret.runs r_runs=$BENCH_DIR/$name.rg.runs
    p_runs=$BENCH_DIR/$name.plain.runs b_runs=$BENCH_DIR/$name.base.runs
    : >"$f_runs"
    : >"$r_runs"
    : >"$p_runs"
    : >"$b_runs"
    local tools=(ferret plain rg)
    ((${#base_cmd[@]})) && tools+=(base)
    for ((i = 1; i <= RUNS; i++)); do
        say "$name: run $i/$RUNS"
        if ((i % 2)); then
            timed "$f_runs" "${ferret_cmd[@]}"
            ((${#base_cmd[@]})) && timed "$b_runs" "${base_cmd[@]}"
            timed "$p_runs" "${plain_cmd[@]}"
            timed "$r_runs" "${rg_cmd[@]}"
        else
            timed "$r_runs" "${rg_cmd[@]}"
            timed "$p_runs" "${plain_cmd[@]}"
            ((${#base_cmd[@]})) && timed "$b_runs" "${base_cmd[@]}"
            timed "$f_runs" "${ferret_cmd[@]}"
        fi
    done
    for tool in "${tools[@]}"; do
        local runs=$BENCH_DIR/$name.$tool.runs
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$tool" "$(median "$runs" 1)" "$(minmax "$runs" 1)" \
            "$(median "$runs" 2)" "$(median "$runs" 3 | awk '{ printf "%.1f", $1 / 1024 }')" \
            "$(maximum "$runs" 4 | awk '{ printf "%.1f", $1 * 512 / 1048576 }')" >>"$results"
    done
    commands+=("$name ferret: $(printf '%q ' "${ferret_cmd[@]}")> /dev/null"
        "$name plain:  $(printf '%q ' "${plain_cmd[@]}")> /dev/null"
        "$name rg:     $(printf '%q ' "${rg_cmd[@]}")> /dev/null")
    ((${#base_cmd[@]})) && commands+=("$name base:   $(printf '%q ' "${base_cmd[@]}")> /dev/null")
    if [[ $USE_HYPERFINE == 1 ]]; then
        hyperfine --style basic --warmup 1 --runs "$RUNS" -i \
            --export-markdown "$BENCH_DIR/$name.hyperfine.md" \
            -n ferret "$(printf '%q ' "${ferret_cmd[@]}") >/dev/null" \
            -n rg "$(printf '%q ' "${rg_cmd[@]}") >/dev/null" >&2
    fi
}

: >"$BENCH_DIR/stderr.log"
for input in $INPUTS; do
    case $input in
        tree) build_tree; bench tree "$BENCH_DIR/tree" ;;
        log) build_log; bench log "$BENCH_DIR/app.log" ;;
        *) die "unknown input '$input' (INPUTS may list: tree log)" ;;
    esac
done

# ---------------------------------------------------------------------------------------------
# Report
echo
echo "ferret $("$FERRET" --version | awk '{ print $2 }') ($revision)" \
    "vs $(rg --version | head -n 1); $(nproc) cores; median of $RUNS runs; page cache warm"
python3 - "$results" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"{'input':<6} {'tool':<7} {'wall s':>8} {'(min-max)':>13} {'user+sys s':>11} {'peak RSS MB':>12}"
      f" {'disk MB (max)':>14}")
for r in rows:
    print(f"{r['input']:<6} {r['tool']:<7} {float(r['wall_s']):>8.2f} {r['wall_range_s']:>13} "
          f"{float(r['cpu_s']):>11.2f} {float(r['rss_mb']):>12.1f} {float(r['max_disk_mb']):>14.1f}")
print()
by = {(r["input"], r["tool"]): r for r in rows}
for name in dict.fromkeys(r["input"] for r in rows):
    f, g = by[(name, "ferret")], by[(name, "rg")]
    ratio = lambda k: f"x{float(f[k]) / float(g[k]):.2f}" if float(g[k]) else "n/a (rg under 0.01 s)"
    print(f"{name:<6} ferret/rg: wall {ratio('wall_s')}, CPU {ratio('cpu_s')}; "
          f"ferret peak RSS {float(f['rss_mb']):.1f} MB")
    p = by[(name, "plain")]
    print(f"{name:<6} decoding on/off (ferret / ferret --decode-depth 0): "
          f"wall x{float(f['wall_s']) / float(p['wall_s']):.2f}, "
          f"CPU x{float(f['cpu_s']) / float(p['cpu_s']):.2f}")
    if (name, "base") in by:
        b = by[(name, "base")]
        print(f"{name:<6} ferret/baseline: wall x{float(f['wall_s']) / float(b['wall_s']):.2f}, "
              f"CPU x{float(f['cpu_s']) / float(b['cpu_s']):.2f}")
EOF
echo
echo "commands (run from $BENCH_DIR):"
printf '  %s\n' "${commands[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
echo "(raw runs, one 'wall cpu rss_kb disk_blocks' line each: $BENCH_DIR/*.runs; summary: $results)"
