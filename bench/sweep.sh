#!/usr/bin/env bash
# bench/sweep.sh: throughput of `ferret github` (repositories per minute) on a set of local
# repositories, against the cost of merely mirroring and reading them with git, in the same run.
#
# Setup (under $BENCH_DIR): $REPOS generated repositories (each $COMMITS commits of $FILES files
# of text, one of them carrying a made-up key), served to ferret as an organization by a static
# stand-in for the GitHub API (python3 -m http.server answering GET /orgs/bench/repos with one
# page listing them, clone URLs file://…). Then, each timed with GNU time (wall, CPU, max RSS):
#   reference:  for each repository: git clone --mirror, then
#               git cat-file --batch-all-objects --batch > /dev/null (fetch + read every object)
#   cold:       ferret github --org bench (clones every mirror, scans every history)
#   warm:       ferret github --org bench --since-last, nothing changed (fetch, refs compared)
#   one change: one repository gets a new commit; ferret github --org bench --since-last
# ferret must report exactly the planted keys on the cold run.
#
# Usage: bench/sweep.sh            (REPOS=100 COMMITS=50 FILES=20 BENCH_DIR=/tmp/ferret-bench-sweep)
#
# Scale mode (SCALE=N, e.g. SCALE=10000): N small repositories (TEMPLATES distinct ones of
# COMMITS=5 commits of FILES=5 files, each with a made-up key, linked under N names) served as
# the organization by bench/sweep_mock.py, which adds LATENCY (default 0.05 s) to every API and
# git request and speaks git smart HTTP, ETags and 304s. Runs: the same reference (mirror and
# read every repository, one after another, over the same mock), cold, warm with nothing
# changed, and one change (a commit pushed to one repository, its pushed_at moved); then the
# listing floor (every page read once, conditionally, one after another, as ferret must),
# requests per run and the sweep state's size. FETCH_CONCURRENCY sets --fetch-concurrency.
set -euo pipefail
REPOS=${REPOS:-100}
COMMITS=${COMMITS:-50}
FILES=${FILES:-20}
BENCH_DIR=${BENCH_DIR:-/tmp/ferret-bench-sweep}
THREADS=${THREADS:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/sweep.sh: %s\n' "$*" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || die "GNU time is needed (apt install time)"
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

rm -rf "$BENCH_DIR"
build_private_ferret
if [[ -n ${SCALE:-} ]]; then
    # shellcheck source=bench/sweep-scale.sh
    source "$repo/bench/sweep-scale.sh"
    exit 0
fi
mkdir -p remotes api/orgs/bench work

say "generating $REPOS repositories ($COMMITS commits of $FILES files each)"
python3 - "$REPOS" "$COMMITS" "$FILES" "$BENCH_DIR" <<PY
$PY_KEYS
import json, os, random, subprocess
repos, commits, files, root = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(7)
marker = "T3Bl" + "bkFJ"
listing, planted = [], []
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
for r in range(repos):
    name = f"repo-{r:03d}"
    bare = f"{root}/remotes/{name}.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", bare], check=True)
    stream = []
    mark = 0
    for c in range(commits):
        stream.append("commit refs/heads/main")
        stream.append(f"committer Bench <bench@example.com> {1700000000 + c * 60} +0000")
        message = f"change {c}"
        stream.append(f"data {len(message)}\n{message}")
        for f in range(files):
            if rng.random() < 0.3 or c == 0:
                lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(40)]
                if c == commits // 2 and f == 0:
                    key = make_key(rng, marker)
                    planted.append(fingerprint(key))
                    lines.append(f"OPENAI_API_KEY={key}")
                text = "\n".join(lines) + "\n"
                stream.append(f"M 100644 inline src/file-{f}.txt")
                stream.append(f"data {len(text.encode())}\n{text}")
        stream.append("")
    subprocess.run(["git", "-C", bare, "fast-import", "--quiet"],
                   input="\n".join(stream).encode(), check=True)
    listing.append({"full_name": f"bench/{name}", "name": name,
                    "clone_url": f"file://{bare}",
                    "html_url": f"https://github.example/bench/{name}",
                    "default_branch": "main", "fork": False, "archived": False})
json.dump(listing, open(f"{root}/api/orgs/bench/repos", "w"))
open(f"{root}/planted.txt", "w").write("\n".join(sorted(planted)) + "\n")
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd api && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/orgs/bench/repos" >/dev/null && break; sleep 0.1; done
export FERRET_GITHUB_API_BASE=http://127.0.0.1:$port GITHUB_TOKEN=bench-token-not-sent-to-file-urls
export FERRET_CACHE_DIR=$BENCH_DIR/cache FERRET_STATE_DIR=$BENCH_DIR/state

measure() { # name, command...: GNU time's wall (s), CPU (s) and max RSS (MB)
    local name=$1; shift
    /usr/bin/time -f '%e %U %S %M' -o "time-$name.txt" "$@" >"out-$name.jsonl" 2>"err-$name.txt" || true
    # GNU time puts "Command exited with non-zero status N" first when the command fails.
    read -r wall user sys rss < <(tail -n 1 "time-$name.txt")
    printf '%-11s wall %7.2f s  cpu %7.2f s  max RSS %6.1f MB  %6.1f repos/min\n' \
        "$name" "$wall" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)" \
        "$(echo "$REPOS * 60 / $wall" | bc -l)"
}

# The reference, as a script GNU time can run (expanded by that bash, hence the quotes).
# shellcheck disable=SC2016
reference='rm -rf refmirrors && mkdir refmirrors
for bare in remotes/*.git; do
    git clone -q --mirror "file://$PWD/$bare" "refmirrors/${bare#remotes/}"
    git -C "refmirrors/${bare#remotes/}" cat-file --batch-all-objects --batch >/dev/null
done'

say "running (ferret $revision, $(nproc) cores)"
measure reference bash -c "$reference"
measure cold "$FERRET" github --org bench --since-last --no-progress --format jsonl "${thread_args[@]}"
measure warm "$FERRET" github --org bench --since-last --no-progress --format jsonl "${thread_args[@]}"
extra=$BENCH_DIR/work/extra
git clone -q "remotes/repo-000.git" "$extra"
echo "one more line" >>"$extra/src/file-1.txt"
git -C "$extra" -c user.name=B -c user.email=b@example.com commit -qam "one more"
git -C "$extra" push -q origin main
measure one-change "$FERRET" github --org bench --since-last --no-progress --format jsonl "${thread_args[@]}"

found=$(python3 -c 'import json,sys; print("\n".join(sorted({json.loads(l)["fingerprint"] for l in open(sys.argv[1]) if l.strip()})))' out-cold.jsonl)
[[ "$found" == "$(sed '/^$/d' planted.txt)" ]] || die "the cold sweep did not report exactly the planted keys"
say "summaries"
for run in cold warm one-change; do grep -h "swept" "err-$run.txt" | sed "s/^/$run: /"; done
