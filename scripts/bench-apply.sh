#!/usr/bin/env bash
# End-to-end benchmark of `roster apply`: N user creates (default 10,000) into an empty target,
# each scenario against a fresh server. Prints the wall time of the whole command (process start,
# the plan's read, the apply), the apply phase alone (from --report), the floor N/rate, the
# requests sent, the 429s received, and checks that the target holds exactly N users and that
# the next plan is empty.
#
# Scenarios (SCENARIOS="rate p1 norate scim2" by default):
#   rate    emulator --latency-ms 20 --rate-limit-write 250; target `rate: { writes_per_second: 250 }`
#   p1      the same with --parallelism 1
#   norate  the same emulator; no `rate` in the target (adapting to 429 alone)
#   scim2   scim2-server (PyPI) with no rate; needs ROSTER_SCIM2_PYTHON (a venv python with
#           scim2-server installed, as .ci/install-scim-servers.sh makes)
#
#   scripts/bench-apply.sh
#   N=2000 SCENARIOS="rate norate" ROSTER_BIN=target/debug/roster scripts/bench-apply.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-10000}"
RATE="${RATE:-250}"
LATENCY_MS="${LATENCY_MS:-20}"
SCENARIOS="${SCENARIOS:-rate p1 norate scim2}"
OUT="${OUT:-target/bench-apply}"

if [[ -z "${ROSTER_BIN:-}" ]]; then
  cargo build --release --quiet
  ROSTER_BIN=target/release/roster
fi
ROSTER_BIN="$(realpath "$ROSTER_BIN")"
rm -rf "$OUT" && mkdir -p "$OUT"
export BENCH_TOKEN=bench-token

users_yaml() {
  python3 - "$N" <<'PY'
import sys
n = int(sys.argv[1])
print("version: 1\nusers:")
for i in range(n):
    name = f"user{i:06}@example.com"
    print(f"  - {{ id: e{i}, user_name: {name}, given_name: Given{i}, family_name: Family{i}, email: {name}, title: Engineer }}")
PY
}
users_yaml > "$OUT/users.yaml"

SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
trap stop_server EXIT

start_emulator() {
  "$ROSTER_BIN" emulator --dialect generic --listen 127.0.0.1:0 --token-env BENCH_TOKEN \
    --latency-ms "$LATENCY_MS" --rate-limit-write "$RATE" > "$OUT/server.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$OUT/server.out" && break; sleep 0.1; done
  URL=$(sed -n 's/^roster emulator listening on \(http[^ ]*\).*/\1/p' "$OUT/server.out")
  [[ -n "$URL" ]] || { echo "emulator did not start"; cat "$OUT/server.out"; exit 1; }
}

start_scim2() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$ROSTER_SCIM2_PYTHON" -c "import sys, scim2_server.testserver.cli as c; \
c.ThreadingWSGIServer.request_queue_size = 1024; sys.argv[0]='scim2-server'; c.main()" \
    --hostname 127.0.0.1 --port "$port" --bearer-token "$BENCH_TOKEN" > "$OUT/server.out" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/ServiceProviderConfig" || true)
    [[ "$code" == 200 || "$code" == 401 ]] && return
    sleep 0.1
  done
  echo "scim2-server did not start"; cat "$OUT/server.out"; exit 1
}

count_users() {
  curl -s -H "Authorization: Bearer $BENCH_TOKEN" "$URL/Users?count=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["totalResults"])'
}

run() {
  local name="$1" rate_line="$2" extra="$3" dir="$OUT/$1"
  mkdir -p "$dir"
  cp "$OUT/users.yaml" "$dir/roster.yaml"
  cat >> "$dir/roster.yaml" <<EOF
targets:
  t:
    type: generic
    url: $URL
    auth: { bearer_token_env: BENCH_TOKEN }
    assign: { all: true }
$rate_line
EOF
  local code=0
  /usr/bin/time -v "$ROSTER_BIN" apply -c "$dir/roster.yaml" --auto-approve -q $extra \
    --report "$dir/report.json" > "$dir/apply.txt" 2> "$dir/time.txt" || code=$?
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time.txt")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
  local plan_code=0
  "$ROSTER_BIN" plan -c "$dir/roster.yaml" --detailed-exitcode -q > /dev/null 2>&1 || plan_code=$?
  python3 - "$name" "$dir/report.json" "$N" "$RATE" "$wall" "$rss" "$code" "$plan_code" "$(count_users)" <<'PY'
import json, sys
name, report, n, rate, wall, rss, code, plan_code, users = sys.argv[1:]
n, rate = int(n), float(rate)
r = json.load(open(report))
t = r["targets"][0]
req = t["requests"]
floor = n / rate
m, s = wall.split(":")[-2:]
wall_s = int(m) * 60 + float(s)
print(f"{name:7} exit {code}  apply {t['seconds']:7.2f} s  (whole command {wall_s:6.2f} s, peak {int(rss)//1024} MB)"
      f"  floor {floor:.0f} s  ratio {t['seconds']/floor:.3f}"
      f"  POST {req['post']}  GET {req['get']}  retries {req['retries']}  429s {req['throttled']}"
      f"  users on server {users}  next plan exit {plan_code}")
PY
}

for s in $SCENARIOS; do
  case "$s" in
    rate)   start_emulator; run rate   "    rate: { writes_per_second: $RATE }" "" ;;
    p1)     start_emulator; run p1     "    rate: { writes_per_second: $RATE }" "--parallelism 1" ;;
    norate) start_emulator; run norate "" "" ;;
    scim2)
      if [[ -z "${ROSTER_SCIM2_PYTHON:-}" ]]; then echo "scim2   skipped: ROSTER_SCIM2_PYTHON is not set"; continue; fi
      start_scim2; run scim2 "" "" ;;
    *) echo "unknown scenario $s"; exit 2 ;;
  esac
  stop_server
done
