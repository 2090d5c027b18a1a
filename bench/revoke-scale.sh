#!/usr/bin/env bash
# bench/revoke-scale.sh: leak to revoked for one live project key in an organization of
# PROJECTS x KEYS keys, with a loopback mock (bench/revoke_mock.py) answering every request after
# LATENCY_MS, as issue 23 part 3 asks. Two runs: verification names the leak's project
# (`openai-project`), and it does not. Each reports wall time, the Administration API requests
# answered and the requests in all, and checks the leak was revoked (exactly one DELETE).
#
# Usage: bench/revoke-scale.sh   (PROJECTS=100 KEYS=1000 LATENCY_MS=50 FERRET=target/debug/ferret)
# The run is network-bound; a debug binary gives the same figures as a release one.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export PROJECTS=${PROJECTS:-100} KEYS=${KEYS:-1000} LATENCY_MS=${LATENCY_MS:-50}
FERRET=${FERRET:-$repo/target/debug/ferret}
[[ -x $FERRET ]] || (cd "$repo" && cargo build --quiet)
work=$(mktemp -d)
trap 'kill "${mock:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
printf '[revoke]\nconfirm_first_delay = "20ms"\nconfirm_checks = 6\n' > "$work/ops.toml"

run_mode() {
    local known=$1 label=$2
    rm -rf "$work/tree" "$work/ledger.sqlite" "$work/port"
    mkdir -p "$work/tree"
    KNOWN_PROJECT=$known python3 "$repo/bench/revoke_mock.py" "$work/tree/.env" "$work/admin" > "$work/port" &
    mock=$!
    while [[ ! -s $work/port ]]; do sleep 0.05; done
    local base
    base="http://127.0.0.1:$(head -1 "$work/port")"
    local start end
    start=$(date +%s.%N)
    (cd "$work/tree" && env -u HTTPS_PROXY -u HTTP_PROXY -u ALL_PROXY -u https_proxy -u http_proxy -u all_proxy \
        FERRET_OPENAI_API_BASE="$base" OPENAI_ADMIN_KEY="$(cat "$work/admin")" \
        FERRET_CACHE_DIR="$work/cache" FERRET_STATE_DIR="$work/state" \
        /usr/bin/time -f "ferret cpu: %U s user %S s sys" "$FERRET" dir . --verify --revoke --yes --format jsonl --ledger "$work/ledger.sqlite" \
        --config "$work/ops.toml" > "$work/report.jsonl") || [[ $? == 1 ]]
    end=$(date +%s.%N)
    local stats
    stats=$(curl -s "$base/__stats")
    kill "$mock"; wait "$mock" 2>/dev/null || true
    python3 - "$label" "$start" "$end" "$stats" "$work/report.jsonl" <<'PY'
import json, sys
label, start, end, stats, report = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
record = json.loads(open(report).readline())
status = (record.get("revocation") or {}).get("status")
assert status == "revoked", f"not revoked: {record.get('revocation')}"
assert len(stats["deleted"]) == 1, stats["deleted"]
print(f"{label:<28} {end - start:6.2f} s  admin requests {stats['admin_requests']:5d}  all requests {stats['requests']:5d}  at most {stats['max_in_flight']} at once  ({status})")
PY
}

echo "organization: $PROJECTS projects x $KEYS keys, ${LATENCY_MS} ms per request"
run_mode 1 "project known"
run_mode 0 "project unknown"
