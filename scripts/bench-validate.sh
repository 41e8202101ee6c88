#!/usr/bin/env bash
# Benchmark of `roster validate` on a large directory: 100,000 users and 5,000 groups (about
# 500,000 memberships) split into include files the way a real repository is, and two targets
# (one aws-identity-center assigned by groups, one embedded assigned everything).
#
# Prints wall time and peak memory (GNU time's "Maximum resident set size"). Targets: under 2 s
# and under 400 MB.
#
#   scripts/bench-validate.sh              # build release once, generate, time
#   ROSTER_BIN=target/debug/roster scripts/bench-validate.sh   # time another binary, no build
#   N_USERS=10000 N_GROUPS=500 scripts/bench-validate.sh           # a smaller directory
set -euo pipefail

cd "$(dirname "$0")/.."
N_USERS="${N_USERS:-100000}"
N_GROUPS="${N_GROUPS:-5000}"
MEMBERS_PER_GROUP="${MEMBERS_PER_GROUP:-100}"
OUT="${OUT:-target/bench-validate}"
RUNS="${RUNS:-3}"

if [[ -z "${ROSTER_BIN:-}" ]]; then
  cargo build --release --quiet
  ROSTER_BIN=target/release/roster
fi

rm -rf "$OUT"
mkdir -p "$OUT"
python3 - "$OUT" "$N_USERS" "$N_GROUPS" "$MEMBERS_PER_GROUP" <<'PY'
import os, random, sys
out, n_users, n_groups, per_group = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(42)
given = ["Alice", "Bob", "Carol", "Dennis", "Emmy", "Frank", "Grace", "Ken", "Ada", "Linus"]
family = ["Liddell", "Martin", "Shaw", "Ritchie", "Noether", "Oz", "Hopper", "Thompson"]
depts = ["Engineering", "Finance", "Sales", "Support", "Data", "Legal", "People"]
os.makedirs(f"{out}/people", exist_ok=True)
os.makedirs(f"{out}/groups", exist_ok=True)
per_file = 1000
for f in range(0, n_users, per_file):
    lines = ["users:"]
    for i in range(f, min(f + per_file, n_users)):
        g, fam = given[i % len(given)], family[(i // 7) % len(family)]
        uid = f"e{100000 + i}"
        lines += [
            f"  - id: {uid}",
            f"    user_name: {g.lower()}.{fam.lower()}.{i}@example.com",
            f"    given_name: {g}",
            f"    family_name: {fam}",
            f"    email: {g.lower()}.{fam.lower()}.{i}@example.com",
            f"    department: {depts[i % len(depts)]}",
            f"    title: Engineer {i % 5}",
        ]
        if i > 0:
            # a manager tree: everyone reports to someone with a smaller number
            lines.append(f"    manager: e{100000 + (i - 1) // 10}")
        if i % 50 == 0:
            lines.append("    active: false")
    with open(f"{out}/people/people-{f // per_file:04d}.yaml", "w") as fh:
        fh.write("\n".join(lines) + "\n")
per_gfile = 100
for f in range(0, n_groups, per_gfile):
    lines = ["groups:"]
    for j in range(f, min(f + per_gfile, n_groups)):
        members = rng.sample(range(n_users), min(per_group, n_users))
        lines += [
            f"  - id: g-{j:05d}",
            f"    name: team-{j:05d}",
            f"    description: Team number {j}",
            "    members: [" + ", ".join(f"e{100000 + m}" for m in sorted(members)) + "]",
        ]
        if j % 10 != 0 and j >= 10:
            # nested groups: each includes its "parent" decade group (no cycles)
            lines.append(f"    include: [team-{(j // 10) * 10:05d}]")
    with open(f"{out}/groups/groups-{f // per_gfile:04d}.yaml", "w") as fh:
        fh.write("\n".join(lines) + "\n")
with open(f"{out}/roster.yaml", "w") as fh:
    fh.write("""version: 1
include: [people/*.yaml, groups/*.yaml]
targets:
  aws:
    type: aws-identity-center
    url: https://scim.us-east-1.amazonaws.com/bench/scim/v2
    auth: { bearer_token_env: AWS_SCIM_TOKEN }
    assign: { groups: [team-00000, team-00010, team-00020, team-00030] }
    policy:
      owns: { external_id: "^(e[0-9]+|g-.+)$" }
  sandbox:
    type: embedded
    path: .roster/embedded.json
    assign: { all: true }
    policy:
      owns: { external_id: "^(e[0-9]+|g-.+)$" }
""")
PY

echo "generated: $N_USERS users, $N_GROUPS groups (~$((N_GROUPS * MEMBERS_PER_GROUP)) memberships), $(find "$OUT" -name '*.yaml' | wc -l) files, $(du -sh "$OUT" | cut -f1) in $OUT"
echo "cores: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $ROSTER_BIN"
for run in $(seq 1 "$RUNS"); do
  # GNU time's -v report goes to the file; validate's own output is kept to show it passed
  /usr/bin/time -v -o "$OUT/time.txt" "$ROSTER_BIN" validate -c "$OUT/roster.yaml" >"$OUT/stdout.txt" 2>"$OUT/stderr.txt" || {
    echo "validate failed:"; head -40 "$OUT/stderr.txt"; exit 1;
  }
  wall=$(grep 'Elapsed (wall clock)' "$OUT/time.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$OUT/time.txt" | awk '{print $NF}')
  # CPU time shows how much of the wall time other load on the machine took
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$OUT/time.txt")
  echo "run $run: wall $wall, cpu ${cpu}s, peak RSS $((rss / 1024)) MB  ($(cat "$OUT/stdout.txt"))"
done
