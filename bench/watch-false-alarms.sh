#!/usr/bin/env bash
# bench/watch-false-alarms.sh: the usage watch's false alarms and detection, as issue 21 asks.
# bench/watch_mock.py serves DAYS (30) days of synthetic hourly usage of KEYS (1,000) keys with
# daily and weekly cycles and noise, ABUSED (90) of them with injected abuse of ABUSE_FACTORS
# (2x, 5x, 20x) for ABUSE_HOURS (4) hours. The real `ferret watch usage` binary runs against it
# as cron would: a first pass at the end of day BACKFILL (15; it reads days 0..14 and judges
# day 14), then one pass at the end of each later day (each reads and judges its 24 new hours),
# all with one state file. Then, from the passes' JSON:
#   - false alarms: anomalies on keys never abused, and on abused keys outside their abuse
#     hours (and the 24 hours after), per key-day judged, by kind;
#   - detection: abused keys with an anomaly within their abuse hours, per factor, and the
#     delay from the abuse's first hour to the first anomaly hour.
#
# Usage: bench/watch-false-alarms.sh   (KEYS=1000 DAYS=30 FERRET=target/debug/ferret
#        CONFIG=extra [watch] lines; FERRET_PROFILE=release builds a release binary first)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export KEYS=${KEYS:-1000} DAYS=${DAYS:-30} ABUSED=${ABUSED:-90} ABUSE_HOURS=${ABUSE_HOURS:-4}
export ABUSE_FACTORS=${ABUSE_FACTORS:-2,5,20} SEED=${SEED:-7}
BACKFILL=${BACKFILL:-15}
# A Monday, UTC midnight, in the past.
export START=${START:-1793577600}
if [[ -z ${FERRET:-} ]]; then
    if [[ ${FERRET_PROFILE:-debug} == release ]]; then
        (cd "$repo" && cargo build --release --quiet)
        FERRET=$repo/target/release/ferret
    else
        (cd "$repo" && cargo build --quiet)
        FERRET=$repo/target/debug/ferret
    fi
fi
work=$(mktemp -d)
# KEEP=DIR keeps the passes' JSON and the ground truth there.
trap 'kill "${mock:-0}" 2>/dev/null || true; [[ -n ${KEEP:-} ]] && cp -r "$work" "$KEEP"; rm -rf "$work"' EXIT
printf '[watch]\nbackfill_days = %d\n%b\n' "$BACKFILL" "${CONFIG:-}" > "$work/ops.toml"

python3 "$repo/bench/watch_mock.py" "$work/truth.json" > "$work/port" &
mock=$!
while [[ ! -s $work/port ]]; do sleep 0.05; done
base="http://127.0.0.1:$(head -1 "$work/port")"

started=$(date +%s)
for ((day = BACKFILL; day <= DAYS; day++)); do
    now=$((START + day * 86400 + 20 * 60))
    code=0
    env -u HTTPS_PROXY -u HTTP_PROXY -u ALL_PROXY -u https_proxy -u http_proxy -u all_proxy \
        FERRET_OPENAI_API_BASE="$base" OPENAI_ADMIN_KEY=bench-admin \
        "$FERRET" watch usage --format json --now "$now" --state "$work/watch.sqlite" \
        --config "$work/ops.toml" > "$work/pass-$day.json" || code=$?
    [[ $code -le 1 ]] || { echo "pass $day failed (exit $code)" >&2; exit 1; }
done
elapsed=$(($(date +%s) - started))

python3 - "$work" "$BACKFILL" "$DAYS" "$elapsed" <<'EOF'
import glob, json, sys
from collections import Counter, defaultdict
from datetime import datetime
work, backfill, days, elapsed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
truth = json.load(open(work + "/truth.json"))
abused = truth["abused"]
hour_of = lambda text: int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) // 3600
anomalies, judged, not_enough = [], 0, Counter()
for path in glob.glob(work + "/pass-*.json"):
    p = json.load(open(path))
    anomalies += p["anomalies"]
    for key in p["keys"]:
        judged += key["hours_judged"] > 0
        if key["status"] == "not_enough_history":
            not_enough[key["key_id"]] += 1
false = Counter()
first_hit = {}
for a in anomalies:
    h, k = hour_of(a["hour"]), a["key_id"]
    abuse = abused.get(k)
    if abuse and abuse["start"] <= h < abuse["start"] + abuse["hours"]:
        first_hit[k] = min(first_hit.get(k, h), h)
    elif abuse and abuse["start"] <= h < abuse["start"] + abuse["hours"] + 24:
        pass  # the abuse's aftermath (a baseline hour of it): neither false nor a detection
    else:
        false[a["kind"]] += 1
key_days = judged
print(f"passes: {days - backfill + 1} (days {backfill - 1}..{days - 1} judged), {elapsed}s in all")
print(f"key-days judged (keys with use, per pass): {key_days}")
total = sum(false.values())
print(f"false alarms: {total} ({total / key_days:.4f} per key-day; "
      f"{total / key_days * 30:.3f} per key-month) by kind: {dict(false)}")
print(f"keys ever reported 'not enough history': {len(not_enough)}")
by_factor = defaultdict(list)
for k, a in abused.items():
    by_factor[a["factor"]].append(k)
for factor in sorted(by_factor):
    keys = by_factor[factor]
    hits = [k for k in keys if k in first_hit]
    delays = sorted(first_hit[k] - abused[k]["start"] for k in hits)
    mean = sum(delays) / len(delays) if delays else float("nan")
    print(f"abuse {factor:g}x for {abused[keys[0]]['hours']}h: detected {len(hits)}/{len(keys)} "
          f"({len(hits) / len(keys):.0%}); delay to first anomaly hour: mean {mean:.2f}h, "
          f"max {max(delays) if delays else 'n/a'}h")
EOF
