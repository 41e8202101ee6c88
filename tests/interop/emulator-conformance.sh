#!/usr/bin/env bash
# Conformance of `roster emulator --dialect generic` against scim2-tester (PyPI).
# Usage: tests/interop/emulator-conformance.sh [VENV]   (VENV holds scim2-cli; made in a temp dir if absent)
# Prints every check, then the count per status; exits non-zero if any check is not SUCCESS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${1:-}
if [ -z "$VENV" ]; then
    VENV=$(mktemp -d)/py
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "scim2-server==0.8.3" "scim2-tester==0.5.2" "scim2-cli==0.6.0"
fi
BIN=${ROSTER_BIN:-$ROOT/target/debug/roster}
[ -x "$BIN" ] || (cd "$ROOT" && cargo build -q)
WORK=$(mktemp -d)
export SCIM_TEST_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$BIN" emulator --dialect generic --listen 127.0.0.1:0 --token-env SCIM_TEST_TOKEN > "$WORK/out" 2> "$WORK/err" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
    grep -q 'listening on' "$WORK/out" && break
    sleep 0.1
done
URL=$(sed -n 's/^roster emulator listening on \(http[^ ]*\).*/\1/p' "$WORK/out")
[ -n "$URL" ] || { echo "emulator did not start"; cat "$WORK/err"; exit 1; }
set +e
"$VENV/bin/scim2" --url "$URL" -h "Authorization: Bearer $SCIM_TEST_TOKEN" test > "$WORK/report" 2>&1
set -e
cat "$WORK/report"
echo "---"
TOTAL=$(grep -cE '^(SUCCESS|ERROR|CRITICAL|WARNING|SKIPPED)' "$WORK/report" || true)
OK=$(grep -cE '^SUCCESS' "$WORK/report" || true)
echo "scim2-tester: $OK of $TOTAL checks SUCCESS"
grep -oE '^(SUCCESS|ERROR|CRITICAL|WARNING|SKIPPED)' "$WORK/report" | sort | uniq -c
[ "$TOTAL" -gt 0 ] && [ "$OK" -eq "$TOTAL" ]
