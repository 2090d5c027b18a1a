# shellcheck shell=bash
# bench/sweep-scale.sh: the scale mode of bench/sweep.sh (SCALE=N), sourced by it after the
# build, in $BENCH_DIR. See bench/sweep.sh's header for what it measures.
# The variables it reads belong to bench/sweep.sh and bench/lib.sh:
# shellcheck disable=SC2154
TEMPLATES=${TEMPLATES:-20}
COMMITS=${COMMITS_SCALE:-5}
FILES=${FILES_SCALE:-5}
LATENCY=${LATENCY:-0.05}
FETCH_CONCURRENCY=${FETCH_CONCURRENCY:-8}
mkdir -p templates remotes work

say "generating $TEMPLATES template repositories ($COMMITS commits of $FILES files), $SCALE names"
python3 - "$TEMPLATES" "$COMMITS" "$FILES" "$BENCH_DIR" "$SCALE" <<PY
$PY_KEYS
import os, random, subprocess
templates, commits, files, root, scale = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                          sys.argv[4], int(sys.argv[5]))
rng = random.Random(7)
marker = "T3Bl" + "bkFJ"
planted = []
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
for t in range(templates):
    bare = f"{root}/templates/t{t:02d}.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", bare], check=True)
    stream = []
    for c in range(commits):
        message = f"change {c}"
        stream += ["commit refs/heads/main",
                   f"committer Bench <bench@example.com> {1700000000 + c * 60} +0000",
                   f"data {len(message)}\\n{message}"]
        for f in range(files):
            lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(20)]
            if c == commits // 2 and f == 0:
                key = make_key(rng, marker)
                planted.append(fingerprint(key))
                lines.append(f"OPENAI_API_KEY={key}")
            text = "\\n".join(lines) + "\\n"
            stream += [f"M 100644 inline src/file-{f}.txt", f"data {len(text.encode())}\\n{text}"]
        stream.append("")
    subprocess.run(["git", "-C", bare, "fast-import", "--quiet"],
                   input="\\n".join(stream).encode(), check=True)
    subprocess.run(["git", "-C", bare, "config", "http.uploadpack", "true"], check=True)
for r in range(scale):
    os.symlink(f"../templates/t{r % templates:02d}.git", f"{root}/remotes/repo-{r:05d}.git")
open(f"{root}/planted.txt", "w").write("\\n".join(sorted(set(planted))) + "\\n")
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$repo/bench/sweep_mock.py" --root "$BENCH_DIR/remotes" --port "$port" --latency "$LATENCY" \
    >mock.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$base/_stats" >/dev/null && break; sleep 0.1; done
export FERRET_GITHUB_API_BASE=$base GITHUB_TOKEN=bench-token-for-the-loopback-mock
export FERRET_CACHE_DIR=$BENCH_DIR/cache FERRET_STATE_DIR=$BENCH_DIR/state
stats() { curl -sf "$base/_stats"; }

measure() { # name, command...: GNU time's wall (s), CPU (s) and max RSS (MB), mock requests
    local name=$1; shift
    local before after
    before=$(stats)
    /usr/bin/time -f '%e %U %S %M' -o "time-$name.txt" "$@" >"out-$name.jsonl" 2>"err-$name.txt" || true
    after=$(stats)
    read -r wall user sys rss < <(tail -n 1 "time-$name.txt")
    printf '%-11s wall %8.2f s  cpu %7.2f s  max RSS %6.1f MB  %8.1f repos/min  %s\n' \
        "$name" "$wall" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)" \
        "$(echo "$SCALE * 60 / $wall" | bc -l)" \
        "$(python3 -c 'import json,sys; a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2]); print("requests: %d pages (%d not modified), %d git" % (b["pages"]-a["pages"], b["not_modified"]-a["not_modified"], b["git"]-a["git"]))' "$before" "$after")"
}

# The reference of bench/sweep.sh, over the same mock (and its latency).
# shellcheck disable=SC2016
reference='rm -rf refmirrors && mkdir refmirrors
for bare in remotes/*.git; do
    name=${bare#remotes/}
    git clone -q --mirror "'"$base"'/bench/$name" "refmirrors/$name"
    git -C "refmirrors/$name" cat-file --batch-all-objects --batch >/dev/null
done'
args=(github --org bench --since-last --no-progress --format jsonl
      --fetch-concurrency "$FETCH_CONCURRENCY" "${thread_args[@]}")

say "running (ferret $revision, $(nproc) cores, $SCALE repositories, ${LATENCY}s a request)"
if [[ ${REFERENCE:-1} != 0 ]]; then measure reference bash -c "$reference"; fi
measure cold "$FERRET" "${args[@]}"
measure warm "$FERRET" "${args[@]}"
# One repository gets a commit: its own copy, pushed to, and its pushed_at moved.
rm remotes/repo-00000.git && cp -r templates/t00.git remotes/repo-00000.git
git clone -q remotes/repo-00000.git work/extra
echo "one more line" >>work/extra/src/file-1.txt
git -C work/extra -c user.name=B -c user.email=b@example.com commit -qam "one more"
git -C work/extra push -q origin main
curl -sf -X POST "$base/_pushed/repo-00000" >/dev/null
measure one-change "$FERRET" "${args[@]}"

# The floor: every listing page, read once and conditionally, one after another.
floor=$(python3 - "$base" <<'PY'
import sys, time, urllib.request
base, url, etags, start = sys.argv[1], "/orgs/bench/repos?type=all&sort=created&direction=asc&per_page=100", {}, 0
def read(conditional):
    global url
    u, pages = base + url, 0
    while u:
        request = urllib.request.Request(u)
        if conditional and u in etags:
            request.add_header("If-None-Match", etags[u])
        try:
            response = urllib.request.urlopen(request)
            etags[u] = response.headers["etag"]
            link = response.headers.get("link") or ""
        except urllib.error.HTTPError as e:
            link = e.headers.get("link") or ""
        pages += 1
        u = next((p.split(";")[0].strip()[1:-1] for p in link.split(",") if 'rel="next"' in p), None)
    return pages
read(False)
start = time.time()
pages = read(True)
print("%d pages, %.2f s" % (pages, time.time() - start))
PY
)
found=$(python3 -c 'import json,sys; print("\n".join(sorted({json.loads(l)["fingerprint"] for l in open(sys.argv[1]) if l.strip()})))' out-cold.jsonl)
[[ "$found" == "$(sed '/^$/d' planted.txt)" ]] || die "the cold sweep did not report exactly the planted keys"
warm_found=$(python3 -c 'import json,sys; print(len([l for l in open(sys.argv[1]) if l.strip()]))' out-warm.jsonl)
cold_found=$(python3 -c 'import json,sys; print(len([l for l in open(sys.argv[1]) if l.strip()]))' out-cold.jsonl)
[[ "$warm_found" == "$cold_found" ]] || die "the warm sweep reported $warm_found findings, the cold one $cold_found"
printf 'listing floor: %s (conditional, one after another)\n' "$floor"
printf 'sweep state: %s bytes for %s repositories\n' "$(stat -c %s state/sweep.sqlite)" "$SCALE"
say "summaries"
for run in cold warm one-change; do grep -h "swept" "err-$run.txt" | sed "s/^/$run: /"; done
