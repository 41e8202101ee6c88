#!/usr/bin/env bash
# End-to-end benchmark of adopting a tenant: `roster import` against `roster emulator --dialect
# aws` (no rate limit) seeded with N_USERS users and N_GROUPS groups (a mix: managers,
# departments, titles, inactive users, display names that are not "given family", users in
# several groups, plus the groups AWS creates itself), into an empty configuration; then the
# first `roster plan --detailed-exitcode` with the written files included, which must be empty.
#
# Prints, for the import and for the plan: the wall time, the requests issued next to the
# minimum the AWS rules allow (ceil(users/100) + ceil(groups/100) + one page of up to 100
# members per group read, for every group the preset does not ignore), the peak memory, and how
# long the same requests take at AWS's 40 reads/s.
#
#   scripts/bench-import.sh                         # build release once, generate, run
#   ROSTER_BIN=target/debug/roster N_USERS=2000 N_GROUPS=100 scripts/bench-import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N_USERS="${N_USERS:-20000}"
N_GROUPS="${N_GROUPS:-1000}"
OUT="${OUT:-target/bench-import}"

if [[ -z "${ROSTER_BIN:-}" ]]; then
  cargo build --release --quiet
  ROSTER_BIN=target/release/roster
fi
rm -rf "$OUT" && mkdir -p "$OUT"

python3 - "$OUT" "$N_USERS" "$N_GROUPS" <<'PY'
import json, sys
out, n_users, n_groups = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
users = []
for i in range(n_users):
    name = f"user{i:06}@example.com"
    u = {"id": f"u{i}", "externalId": f"e{i}", "userName": name,
         "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
         "displayName": f"Nick {i}" if i % 13 == 0 else f"Given{i} Family{i}",
         "emails": [{"value": name, "type": "work", "primary": True}],
         "active": i % 11 != 5}
    if i % 4 == 0:
        u["title"] = "Engineer"
    x = {}
    if i % 3 == 0:
        x["department"] = f"Dept{i % 17}"
    if i >= 10 and i % 2 == 0:
        x["manager"] = {"value": f"u{i // 10}"}
    if x:
        u[ent] = x
        u["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:User", ent]
    users.append(u)
groups, minimum_members = [], 0
for g in range(n_groups):
    # Sizes from 0 to 250 members, so some groups take several member pages.
    size = (g * 37) % 251
    ids = sorted({(g * 53 + k * 7) % n_users for k in range(size)})
    groups.append({"id": f"g{g}", "externalId": f"grp{g}", "displayName": f"group-{g:04}",
                   "members": [{"value": f"u{i}"} for i in ids]})
    minimum_members += max(1, (len(ids) + 99) // 100)
groups.append({"id": "g-ct", "displayName": "AWSControlTowerAdmins", "members": [{"value": "u1"}]})
minimum = (n_users + 99) // 100 + (len(groups) + 99) // 100 + minimum_members
with open(f"{out}/seed.json", "w") as fh:
    json.dump({"users": users, "groups": groups}, fh)
with open(f"{out}/minimum", "w") as fh:
    fh.write(str(minimum))
PY

target_yaml() {
  cat <<EOF
targets:
  aws:
    type: aws-identity-center
    url: $1
    auth: { bearer_token_env: BENCH_TOKEN }
    assign: { all: true }
    rate: { reads_per_second: 1000000, writes_per_second: 1000000, member_operations_per_second: 1000000 }
    policy: { owns: { external_id: "^e[0-9]+$" } }
EOF
}

export BENCH_TOKEN=bench-token
"$ROSTER_BIN" emulator --dialect aws --listen 127.0.0.1:0 --token-env BENCH_TOKEN --seed "$OUT/seed.json" > "$OUT/emulator.out" 2>&1 &
EMU=$!
trap 'kill $EMU 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q "listening on" "$OUT/emulator.out" && break; sleep 0.1; done
URL=$(sed -n 's/^roster emulator listening on \(http[^ ]*\).*/\1/p' "$OUT/emulator.out")
[[ -n "$URL" ]] || { echo "emulator did not start"; cat "$OUT/emulator.out"; exit 1; }

stat() { python3 -c "import json,urllib.request;print(json.load(urllib.request.urlopen('$URL/_emulator/stats'))['$1'])"; }
min=$(cat "$OUT/minimum")

# One command, timed, with the emulator's reads and writes counted around it.
measure() {
  local name=$1; shift
  local reads0 writes0 code=0
  reads0=$(stat reads); writes0=$(stat writes)
  /usr/bin/time -v "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" || code=$?
  local reads=$(( $(stat reads) - reads0 )) writes=$(( $(stat writes) - writes0 ))
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/$name.err")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/$name.err")
  echo "$name: exit code $code; wall $wall; peak memory $((rss / 1024)) MB"
  echo "  requests: $reads reads, $writes writes; minimum under the AWS rules: $min (ratio $(python3 -c "print(round($reads/$min, 3))"))"
  echo "  the same $reads reads at AWS's 40 reads/s: $(python3 -c "print(round($reads/40, 1))") s"
  eval "${name}_code=$code"
}

{ echo "version: 1"; target_yaml "$URL"; } > "$OUT/roster.yaml"
echo "users $N_USERS, groups $N_GROUPS (+1 AWS group, ignored)"
measure import "$ROSTER_BIN" import -c "$OUT/roster.yaml" --target aws --write "$OUT/imported"
grep -E '^(Import complete|warning)' "$OUT/import.err" || true

{ echo "version: 1"; echo "include: [imported/*.yaml]"; target_yaml "$URL"; } > "$OUT/roster.yaml"
measure plan "$ROSTER_BIN" plan -c "$OUT/roster.yaml" --detailed-exitcode
tail -1 "$OUT/plan.out"
# shellcheck disable=SC2154 # set by measure
if [[ "$plan_code" == 0 ]]; then echo "the plan after import is empty"; else echo "the plan after import is NOT empty"; exit 1; fi
