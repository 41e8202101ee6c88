#!/usr/bin/env bash
# Benchmark of roster's pacing against limits nobody configured (issue 12). For each limit
# shape of the emulator (token bucket with a burst of 5, fixed one-second window, sliding
# one-second window), with and without 5% random 429s, N creates (default 1,000) by
# `roster apply` into an empty target whose configuration has no `rate`, against a hidden
# limit of RATE writes/s (default 25) and LATENCY_MS (default 20) per answer. Then the same
# with the rate configured (`rate: { writes_per_second: RATE }`), and `roster plan` of
# PLAN_N users (default 5,000) held by the server against a hidden READ_RATE reads/s (default
# 10).
#
# Per row: the apply phase's seconds (from --report) against the floor N/RATE (for the plan:
# successful reads / READ_RATE), the share of writes answered 429 in all and split into the
# limit's 429s and the injected ones (the emulator's own counts), the exit code and the users
# on the server afterwards.
#
#   scripts/bench-pace.sh
#   N=300 ROSTER_BIN=target/debug/roster scripts/bench-pace.sh
#   FAULT_SEED=3 scripts/bench-pace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000}"
RATE="${RATE:-25}"
READ_RATE="${READ_RATE:-10}"
PLAN_N="${PLAN_N:-5000}"
LATENCY_MS="${LATENCY_MS:-20}"
NOISE="${NOISE:-0.05}"
# The seed of the emulator's random 429s: which requests the noise hits.
FAULT_SEED="${FAULT_SEED:-7}"
OUT="${OUT:-target/bench-pace}"

if [[ -z "${ROSTER_BIN:-}" ]]; then
  cargo build --release --quiet --bin roster
  ROSTER_BIN=target/release/roster
fi
ROSTER_BIN="$(realpath "$ROSTER_BIN")"
rm -rf "$OUT" && mkdir -p "$OUT"
export BENCH_TOKEN=bench-token

users_yaml() {
  python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
print("version: 1\nusers:")
for i in range(n):
    name = f"user{i:06}@example.com"
    print(f"  - {{ id: e{i}, user_name: {name}, given_name: Given{i}, family_name: Family{i}, email: {name} }}")
PY
}

seed_json() {
  python3 - "$1" <<'PY'
import json, sys
n = int(sys.argv[1])
users = [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
          "userName": f"user{i:06}@example.com", "externalId": f"e{i}",
          "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
          "emails": [{"value": f"user{i:06}@example.com", "primary": True, "type": "work"}],
          "active": True} for i in range(n)]
print(json.dumps({"users": users, "groups": []}))
PY
}

SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
trap stop_server EXIT

start_emulator() {
  "$ROSTER_BIN" emulator --dialect generic --listen 127.0.0.1:0 --token-env BENCH_TOKEN \
    --latency-ms "$LATENCY_MS" --fault-seed "$FAULT_SEED" "$@" > "$OUT/server.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$OUT/server.out" && break; sleep 0.1; done
  URL=$(sed -n 's/^roster emulator listening on \(http[^ ]*\).*/\1/p' "$OUT/server.out")
  [[ -n "$URL" ]] || { echo "emulator did not start"; cat "$OUT/server.out"; exit 1; }
}

stats() { curl -s "$URL/_emulator/stats"; }

config() {
  local dir="$1" n="$2" rate_line="$3"
  mkdir -p "$dir"
  users_yaml "$n" > "$dir/roster.yaml"
  cat >> "$dir/roster.yaml" <<EOF
targets:
  t:
    type: generic
    url: $URL
    auth: { bearer_token_env: BENCH_TOKEN }
    assign: { all: true }
$rate_line
EOF
}

printf '%-22s %-6s %5s %8s %7s %7s %6s %8s %8s %8s %7s\n' \
  scenario noise exit seconds floor ratio POSTs "429 all" "limit" injected users

apply_row() {
  local name="$1" noise="$2" rate_line="$3"; shift 3
  local fail=()
  [[ "$noise" != 0 ]] && fail=(--fail-429 "$noise")
  start_emulator --rate-limit-write "$RATE" "${fail[@]}" "$@"
  local dir="$OUT/$name-$noise"
  config "$dir" "$N" "$rate_line"
  local code=0
  "$ROSTER_BIN" apply -c "$dir/roster.yaml" --auto-approve -q \
    --report "$dir/report.json" > "$dir/apply.txt" 2> "$dir/apply.err" || code=$?
  stats > "$dir/stats.json"
  python3 - "$name" "$noise" "$code" "$dir/report.json" "$dir/stats.json" "$N" "$RATE" <<'PY'
import json, sys
name, noise, code, report, stats, n, rate = sys.argv[1:]
n, rate = int(n), float(rate)
try:
    t = json.load(open(report))["targets"][0]
    secs, req = t["seconds"], t["requests"]
except Exception:
    secs, req = float("nan"), {"post": 0, "throttled": 0}
s = json.load(open(stats))
post = max(req["post"], 1)
floor = n / rate
print(f"{name:22} {noise:6} {code:>5} {secs:8.2f} {floor:7.1f} {secs/floor:7.3f} {req['post']:6}"
      f" {req['throttled']/post:8.2%} {s['limited_writes']/post:8.2%} {s['injected_429']/post:8.2%}"
      f" {s['users']:7}")
PY
  stop_server
}

for noise in 0 "$NOISE"; do
  apply_row "bucket burst 5" "$noise" "" --rate-limit-shape bucket --rate-limit-burst 5
  apply_row "fixed window" "$noise" "" --rate-limit-shape fixed
  apply_row "sliding window" "$noise" "" --rate-limit-shape sliding
done
apply_row "configured rate" 0 "    rate: { writes_per_second: $RATE }" --rate-limit-shape bucket

# plan: PLAN_N users held by the server, the same users desired, a hidden read limit.
seed_json "$PLAN_N" > "$OUT/seed.json"
start_emulator --rate-limit-read "$READ_RATE" --seed "$OUT/seed.json"
dir="$OUT/plan"
config "$dir" "$PLAN_N" ""
before=$(stats)
code=0
start=$(date +%s.%N)
"$ROSTER_BIN" plan -c "$dir/roster.yaml" -q > "$dir/plan.txt" 2> "$dir/plan.err" || code=$?
end=$(date +%s.%N)
stats > "$dir/stats.json"
python3 - "$code" "$start" "$end" "$before" "$dir/stats.json" "$READ_RATE" "$PLAN_N" <<'PY'
import json, sys
code, start, end, before, stats, rate, n = sys.argv[1:]
b, s = json.loads(before), json.load(open(stats))
reads = s["reads"] - b["reads"]
secs = float(end) - float(start)
floor = reads / float(rate)
limited = s["limited_reads"]
gets = reads + limited
print(f"{'plan ' + n + ' users':22} {'0':6} {code:>5} {secs:8.2f} {floor:7.1f} {secs/floor:7.3f}"
      f" {'GETs ' + str(gets):>6} {limited/max(gets,1):8.2%} {limited/max(gets,1):8.2%} {0:8.2%} {s['users']:7}")
PY
stop_server
