#!/usr/bin/env bash
# End-to-end benchmark of `roster plan` against `roster emulator --dialect aws` (no rate limit),
# seeded with N_USERS users and N_GROUPS groups of which N_MANAGED are in the configuration
# (each with MEMBERS members). Live state equals the configuration, so the plan is empty.
#
# Prints the requests roster issued next to the minimum the AWS rules allow
# (ceil(users/100) + ceil(groups/100) + one membership page per managed group), the wall time,
# the peak memory, and how long the same requests take at AWS's 40 reads/s.
#
#   scripts/bench-plan-e2e.sh                      # build release once, generate, run
#   ROSTER_BIN=target/debug/roster N_USERS=2000 N_GROUPS=200 N_MANAGED=20 scripts/bench-plan-e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N_USERS="${N_USERS:-100000}"
N_GROUPS="${N_GROUPS:-10000}"
N_MANAGED="${N_MANAGED:-1000}"
MEMBERS="${MEMBERS:-50}"
OUT="${OUT:-target/bench-plan-e2e}"

if [[ -z "${ROSTER_BIN:-}" ]]; then
  cargo build --release --quiet
  ROSTER_BIN=target/release/roster
fi
rm -rf "$OUT" && mkdir -p "$OUT/people"

python3 - "$OUT" "$N_USERS" "$N_GROUPS" "$N_MANAGED" "$MEMBERS" <<'PY'
import json, sys
out, n_users, n_groups, n_managed, members = sys.argv[1], *map(int, sys.argv[2:])
users, live_users = [], []
for i in range(n_users):
    uid, name = f"e{i}", f"user{i:06}@example.com"
    users.append(f"  - {{ id: {uid}, user_name: {name}, given_name: Given{i}, family_name: Family{i}, email: {name} }}")
    live_users.append({"id": f"u{i}", "externalId": uid, "userName": name,
        "displayName": f"Given{i} Family{i}", "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "emails": [{"value": name, "type": "work", "primary": True}], "active": True})
per_file = 5000
for f in range(0, n_users, per_file):
    with open(f"{out}/people/p{f // per_file:03}.yaml", "w") as fh:
        fh.write("users:\n" + "\n".join(users[f:f + per_file]) + "\n")
groups, live_groups = [], []
for g in range(n_groups):
    ids = [(g * members + k) % n_users for k in range(members)]
    live_groups.append({"id": f"g{g}", "externalId": f"grp{g}", "displayName": f"group-{g}",
                        "members": [{"value": f"u{i}"} for i in ids]})
    if g < n_managed:
        groups.append(f"  - {{ id: grp{g}, name: group-{g}, members: [{', '.join(f'e{i}' for i in ids)}] }}")
with open(f"{out}/seed.json", "w") as fh:
    json.dump({"users": live_users, "groups": live_groups}, fh)
with open(f"{out}/roster.yaml", "w") as fh:
    fh.write("version: 1\ninclude: [people/*.yaml]\ngroups:\n" + "\n".join(groups) + "\n")
    fh.write("""targets:
  aws:
    type: aws-identity-center
    url: URL_PLACEHOLDER
    auth: { bearer_token_env: BENCH_TOKEN }
    assign: { all: true }
    rate: { reads_per_second: 1000000, writes_per_second: 1000000, member_operations_per_second: 1000000 }
    policy: { owns: { external_id: "^e[0-9]+$" } }
""")
PY

export BENCH_TOKEN=bench-token
"$ROSTER_BIN" emulator --dialect aws --listen 127.0.0.1:0 --token-env BENCH_TOKEN --seed "$OUT/seed.json" > "$OUT/emulator.out" 2>&1 &
EMU=$!
trap 'kill $EMU 2>/dev/null || true' EXIT
# Seeding a million users takes the emulator minutes: EMULATOR_WAIT_S (default 60) bounds the wait.
for _ in $(seq 1 $(( ${EMULATOR_WAIT_S:-60} * 10 ))); do grep -q "listening on" "$OUT/emulator.out" && break; sleep 0.1; done
URL=$(sed -n 's/^roster emulator listening on \(http[^ ]*\).*/\1/p' "$OUT/emulator.out")
[[ -n "$URL" ]] || { echo "emulator did not start"; cat "$OUT/emulator.out"; exit 1; }
sed -i "s#URL_PLACEHOLDER#$URL#" "$OUT/roster.yaml"

stats() { python3 -c "import json,urllib.request;print(json.load(urllib.request.urlopen('$URL/_emulator/stats'))['reads'])"; }
before=$(stats)
# -v logs "read live state ... seconds=S" when the read ends and "target aws: N changes" when
# the plan is made; stamping each stderr line as it arrives splits the wall time into reading
# the configuration (start to the read's start), reading live state, planning, and rendering.
start=$(python3 -c "import time; print(time.time())")
# Resident memory sampled every 0.1 s, to place the peak in the split below.
( while sleep 0.1; do
    pid=$(pgrep -n -f "^$ROSTER_BIN -v plan" || true)
    [[ -n "$pid" ]] && echo "$(date +%s.%N) $(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null)"
  done ) > "$OUT/rss.txt" 2>/dev/null &
SAMPLER=$!
set +e
/usr/bin/time -v -o "$OUT/time.txt" "$ROSTER_BIN" -v plan -c "$OUT/roster.yaml" --detailed-exitcode \
  2>&1 > "$OUT/plan.txt" | python3 -u -c '
import sys, time
for line in sys.stdin:
    sys.stdout.write(f"{time.time():.3f} {line}")' > "$OUT/log.txt"
code=${PIPESTATUS[0]}
set -e
kill "$SAMPLER" 2>/dev/null || true
end=$(python3 -c "import time; print(time.time())")
after=$(stats)
tail -2 "$OUT/plan.txt"
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/time.txt")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/time.txt")
reads=$((after - before))
min=$(( (N_USERS + 99) / 100 + (N_GROUPS + 99) / 100 + N_MANAGED * ((MEMBERS + 99) / 100) ))
echo "users $N_USERS, groups $N_GROUPS ($N_MANAGED managed, $MEMBERS members each); exit code $code"
echo "requests issued: $reads; minimum under the AWS rules: $min (ratio $(python3 -c "print(round($reads/$min, 3))"))"
echo "wall: $wall; peak memory: $((rss / 1024)) MB"
echo "the same $reads reads at AWS's 40 reads/s: $(python3 -c "print(round($reads/40, 1))") s"
python3 - "$OUT/log.txt" "$start" "$end" <<'PY'
import re, sys
log, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
read_end = planned = read_s = None
for line in open(log):
    stamp, _, text = line.partition(" ")
    m = re.search(r"seconds=([0-9.]+).*read live state|read live state.*seconds=([0-9.]+)", text)
    if m and read_end is None:
        read_end, read_s = float(stamp), float(m.group(1) or m.group(2))
    elif re.search(r"target \S+: \d+ changes", text) and planned is None:
        planned = float(stamp)
if read_end is None or planned is None:
    print("time split: not found in the -v log", log)
else:
    parse = read_end - read_s - start
    print(f"time split: parse {parse:.1f} s, read {read_s:.1f} s, plan {planned - read_end:.1f} s, "
          f"render and exit {end - planned:.1f} s")
    rss = []
    for line in open(log.replace("log.txt", "rss.txt")):
        parts = line.split()
        if len(parts) == 2:
            rss.append((float(parts[0]), int(parts[1]) // 1024))
    phases = [("parse", start, read_end - read_s), ("read", read_end - read_s, read_end),
              ("plan", read_end, planned), ("render", planned, end)]
    print("peak RSS by phase (sampled): " + ", ".join(
        f"{name} {max((r for t, r in rss if a <= t < b), default=0)} MB" for name, a, b in phases))
PY
