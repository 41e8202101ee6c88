#!/usr/bin/env bash
# The table of fault and hostile-input kinds roster handles, measured by running each one
# (issue 11's "must show"). For every row: the exit code(s), objects lost and duplicated on the
# server (its user and group counts and writes before and after), how many times a known token
# or canary appears in anything roster printed or wrote, and roster's peak RSS
# (/usr/bin/time -v). Prints a markdown table on stdout.
#
#   scripts/hostile-table.sh                 # debug build (cargo build first)
#   ROSTER_BIN=target/release/roster scripts/hostile-table.sh
#   FULL=1 scripts/hostile-table.sh          # also the endless fresh cursor at the default caps
#                                            # (20,000 pages: minutes and GBs, see the note)
set -euo pipefail
cd "$(dirname "$0")/.."
R="${ROSTER_BIN:-$PWD/target/debug/roster}"
[ -x "$R" ] || { echo "build roster first (cargo build)" >&2; exit 2; }
W="$(mktemp -d)"
EMU_PID=""
cleanup() { [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

export EMU_TOKEN="tok-$RANDOM$RANDOM-canary"
CANARY="canary-7f3a9c-$RANDOM"
PORT=$((20000 + RANDOM % 20000))
URL="http://127.0.0.1:$PORT"
N_USERS=250

# ---- helpers -------------------------------------------------------------------------------

emu_start() { # ARGS...: an emulator on $PORT
  "$R" emulator --listen "127.0.0.1:$PORT" --token-env EMU_TOKEN "$@" >"$W/emu.out" 2>"$W/emu.err" &
  EMU_PID=$!
  for _ in $(seq 100); do
    curl -sf "$URL/_emulator/stats" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "emulator did not start: $(cat "$W/emu.err")" >&2; exit 2
}
emu_stop() { kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; EMU_PID=""; }
stat_of() { curl -sf "$URL/_emulator/stats" | python3 -c "import json,sys; s=json.load(sys.stdin); print(s['users'], s['groups'], s['writes'])"; }

# The directory: users FIRST..N_USERS-1; group-00 holds users 120.. (its members lie past any
# first page), unless NOGROUPS=1.
config() { # TYPE URL EXTRA_TARGET_YAML [EXTRA_TOP_YAML]
  {
    echo "version: 1"
    echo "users:"
    for i in $(seq "${FIRST:-0}" $((N_USERS - 1))); do
      printf '  - { id: e%04d, user_name: user%d@example.com, given_name: U, family_name: "%d", email: user%d@example.com }\n' "$i" "$i" "$i" "$i"
    done
    if [ -z "${NOGROUPS:-}" ]; then
      echo "groups:"
      printf '  - { id: group-00, name: group-00, members: ['
      for i in $(seq 120 $((N_USERS - 1))); do printf 'e%04d, ' "$i"; done
      echo "] }"
      echo "  - { id: group-01, name: group-01, members: [e0000, e0001, e0002] }"
    fi
    echo "targets:"
    echo "  t:"
    echo "    type: $1"
    echo "    url: $2"
    echo "    auth: { bearer_token_env: EMU_TOKEN }"
    echo "    assign: { all: true }"
    echo "    rate: { reads_per_second: 2000, writes_per_second: 2000, member_operations_per_second: 5000 }"
    echo "    policy: { owns: { external_id: \"^(e[0-9]+|group-[0-9]+)\$\" } }"
    [ -n "${3:-}" ] && echo "$3"
    [ -n "${4:-}" ] && echo "$4"
    true
  }
}

# run NAME DIR CMD...: runs roster under /usr/bin/time; sets RC, RSS_MB, ECHO (token+canary
# occurrences in stdout, stderr and every file under DIR), WALL.
run() {
  local name=$1 dir=$2; shift 2
  local t0; t0=$(date +%s.%N)
  touch "$W/$name.start"; sleep 0.01
  set +e
  (cd "$dir" && timeout 900 /usr/bin/time -v -o "$W/$name.time" "$R" "$@" >"$W/$name.out" 2>"$W/$name.err" </dev/null)
  RC=$?
  set -e
  WALL=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')")
  RSS_MB=$(awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$W/$name.time" 2>/dev/null || echo "?")
  # What roster printed, and every file it wrote or changed in DIR during the run (the inputs
  # hold the canaries by design; the emulator's state file is the server's, not roster's).
  ECHO=$( { cat "$W/$name.out" "$W/$name.err"; find "$dir" -type f -newer "$W/$name.start" ! -name 'state.json*' -exec cat {} + 2>/dev/null; } \
    | { grep -aoE "$EMU_TOKEN|$CANARY" || true; } | wc -l)
  MSG=$( { grep -av '^\s' "$W/$name.err" || true; } | { grep -aE 'error|Error|refus|fail|skipped' || true; } | head -1 | cut -c1-160 | sed 's/|/\\|/g')
}

ROWS=()
row() { ROWS+=("| $* |"); }

# A read fault: converge the directory on a healthy emulator, restart it with FAULT over the
# same state, then plan and apply; lost/duplicated from the server's counts.
read_fault() { # NAME DIALECT TYPE "FAULT ARGS" "EXTRA TARGET YAML" EXPECT
  local name=$1 dialect=$2 ty=$3 fault=$4 extra=$5 expect=$6
  local d="$W/$name"; mkdir -p "$d"
  # EMPTY=1: start from an empty server (the fault then meets the creates), else from the
  # converged directory.
  if [ -z "${EMPTY:-}" ]; then
    cp "$W/state-$dialect.json" "$d/state.json"
    [ -f "$W/state-$dialect.json.journal" ] && cp "$W/state-$dialect.json.journal" "$d/state.json.journal"
  fi
  # shellcheck disable=SC2086
  emu_start --dialect "$dialect" --state "$d/state.json" $fault
  config "$ty" "$URL" "$extra" >"$d/roster.yaml"
  local before; before=$(stat_of)
  run "$name-plan" "$d" plan -c roster.yaml
  local prc=$RC prss=$RSS_MB pecho=$ECHO pwall=$WALL msg=$MSG
  run "$name-apply" "$d" apply --auto-approve -c roster.yaml
  local arc=$RC arss=$RSS_MB aecho=$ECHO
  local after; after=$(stat_of)
  emu_stop
  read -r bu bg bw <<<"$before"; read -r au ag aw <<<"$after"
  aw=$((aw - bw))
  # Lost and duplicated against what the server should hold afterwards: what it held before
  # a failed read, the directory after a successful apply.
  local eu=$bu eg=$bg
  if [ "$arc" = 0 ] || [ -n "${EMPTY:-}" ]; then eu=$N_USERS; eg=2; fi
  local lost=$(( (eu > au ? eu - au : 0) + (eg > ag ? eg - ag : 0) ))
  # From an empty server nothing can be lost: what is missing was not created (exit 5).
  [ -n "${EMPTY:-}" ] && lost=0
  local dup=$(( (au > eu ? au - eu : 0) + (ag > eg ? ag - eg : 0) ))
  local rss=$(( prss > arss ? prss : arss ))
  row "$name | \`$fault\` ($dialect) | $prc / $arc | $expect | $aw | $lost | $dup | $((pecho + aecho)) | $rss | $pwall | $msg"
}

# ---- base states: the directory converged on a healthy emulator, per dialect ---------------

for dialect in generic aws; do
  ty=generic; [ "$dialect" = aws ] && ty=aws-identity-center
  d="$W/base-$dialect"; mkdir -p "$d"
  emu_start --dialect "$dialect" --state "$W/state-$dialect.json"
  config "$ty" "$URL" "" >"$d/roster.yaml"
  run "base-$dialect" "$d" apply --auto-approve -c roster.yaml
  [ "$RC" = 0 ] || { echo "converging $dialect failed: $(cat "$W/base-$dialect.err")" >&2; exit 2; }
  emu_stop
done

# ---- hostile reads -------------------------------------------------------------------------

read_fault lying-totals generic generic "--lying-totals" "" "1 / 1"
read_fault short-cursor-chain aws aws-identity-center "--short-cursor-after 1" "" "1 / 1"
read_fault endless-cursor-fresh aws aws-identity-center "--endless-cursor fresh" "    read: { max_pages: 200 }" "1 / 1"
if [ -n "${FULL:-}" ]; then
  read_fault endless-cursor-fresh-default-caps aws aws-identity-center "--endless-cursor fresh" "" "1 / 1"
fi
read_fault endless-cursor-empty aws aws-identity-center "--endless-cursor empty" "" "1 / 1"
read_fault repeated-cursor aws aws-identity-center "--endless-cursor repeat" "" "1 / 1"
read_fault endless-index generic generic "--endless-index" "" "1 / 1"
read_fault giant-page-200mb generic generic "--giant-page-mb 200" "" "1 / 1"
read_fault giant-page-500mb aws aws-identity-center "--giant-page-mb 500" "" "1 / 1"
read_fault content-length-lie-1gb generic generic "--claim-length-mb 1024" "" "1 / 1"
read_fault content-length-lie-short generic generic "--claim-length-mb 1" "" "1 / 1"
EMPTY=1 read_fault server-errors-30pct-from-empty generic generic "--fail-5xx 0.3 --fault-seed 7" "" "0 / 0 or 5"
EMPTY=1 read_fault throttled-30pct-from-empty aws aws-identity-center "--fail-429 0.3 --fault-seed 7" "" "0 / 0"

# A 409 on a create the plan thought missing: a directory without groups (so the member check
# cannot disprove the read) converged, then served with lying totals while 50 users leave the
# configuration; apply must not deactivate anyone (exit 5, the removals skipped).
name=conflict-409-stops-removals
d="$W/$name"; mkdir -p "$d"
emu_start --dialect generic --state "$d/state.json"
NOGROUPS=1 config generic "$URL" "" >"$d/roster.yaml"
run "$name-converge" "$d" apply --auto-approve -c roster.yaml
emu_stop
emu_start --dialect generic --state "$d/state.json" --lying-totals
FIRST=50 NOGROUPS=1 config generic "$URL" "" >"$d/roster.yaml"
before=$(stat_of)
run "$name" "$d" apply --auto-approve --allow-destroy -c roster.yaml
after=$(stat_of); emu_stop
read -r bu _ bw <<<"$before"; read -r au _ aw <<<"$after"
row "$name | \`--lying-totals\`, 50 users leave the config, \`apply --allow-destroy\` (generic) | $RC | 5 | $((aw - bw)) | $(( bu > au ? bu - au : 0 )) | $(( au > bu ? au - bu : 0 )) | $ECHO | $RSS_MB | $WALL | $MSG"

# Control characters in live values reach neither the terminal nor the markdown plan.
name=control-chars-in-live-data
d="$W/$name"; mkdir -p "$d"
python3 - "$d/seed.json" <<'EOF'
import json, sys
bad = "Mallory\u001b[2J\u001b]0;pwned\u0007"
json.dump({"users": [{"id": "u1", "userName": "user0@example.com", "externalId": "e0000", "displayName": bad,
  "name": {"givenName": "U", "familyName": "0"}, "emails": [{"value": "user0@example.com", "primary": True}], "active": True},
  {"id": "u2", "userName": "old" + bad + "@example.com", "externalId": "e9999", "displayName": bad, "active": True}],
  "groups": []}, open(sys.argv[1], "w"))
EOF
emu_start --seed "$d/seed.json"
N_USERS=1 NOGROUPS=1 config generic "$URL" "" >"$d/roster.yaml"
run "$name-text" "$d" plan -c roster.yaml
t_rc=$RC; t_rss=$RSS_MB
raw=$(cat "$W/$name-text.out" "$W/$name-text.err" | tr -cd '\033\007' | wc -c)
run "$name-md" "$d" plan --format markdown -c roster.yaml
raw=$((raw + $(cat "$W/$name-md.out" "$W/$name-md.err" | tr -cd '\033\007' | wc -c)))
after=$(stat_of); emu_stop
row "$name | ESC/BEL in live userName and displayName, text + markdown plan | $t_rc / $RC | 3 (gate) | $(echo "$after" | cut -d' ' -f3) | 0 | 0 | $ECHO (raw control bytes: $raw) | $t_rss | $WALL | printed escaped (\\\\x1b), never raw"

# ---- hostile configuration -----------------------------------------------------------------

cfg_row() { # NAME DESCRIPTION EXPECT DIR ARGS...
  local name=$1 desc=$2 expect=$3 dir=$4; shift 4
  run "$name" "$dir" "$@"
  row "$name | $desc | $RC | $expect | - | - | - | $ECHO | $RSS_MB | $WALL | $MSG"
}
mkcase() { mkdir -p "$W/$1"; echo "$W/$1"; }
ONE_USER='users:
  - { id: e1, user_name: alice@example.com }'

d=$(mkcase include-absolute)
printf 'version: 1\ninclude: ["/proc/self/environ"]\n' >"$d/roster.yaml"
export ROSTER_TEST_CANARY="$CANARY"
cfg_row include-absolute "\`include: [/proc/self/environ]\` (environment holds a canary)" 1 "$d" validate -c roster.yaml
cfg_row include-absolute-allowed "the same with \`--allow-include-outside\`" 1 "$d" validate -c roster.yaml --allow-include-outside

d=$(mkcase include-dotdot)
mkdir -p "$d/shared" "$d/repo"; echo "$ONE_USER" >"$d/shared/p.yaml"
printf 'version: 1\ninclude: ["../shared/*.yaml"]\n' >"$d/repo/roster.yaml"
cfg_row include-dotdot "\`include: [../shared/*.yaml]\`" 1 "$d/repo" validate -c roster.yaml

d=$(mkcase symlink-out)
mkdir -p "$d/outside" "$d/repo/people"; echo "secret: $CANARY" >"$d/outside/s.yaml"
echo "$ONE_USER" >"$d/repo/people/a.yaml"; ln -s "$d/outside/s.yaml" "$d/repo/people/b.yaml"
printf 'version: 1\ninclude: ["people/*.yaml"]\n' >"$d/repo/roster.yaml"
cfg_row symlink-out-of-tree "a people/*.yaml match that links outside the tree" 1 "$d/repo" validate -c roster.yaml

d=$(mkcase symlink-loops)
mkdir -p "$d/people/deep"; echo "$ONE_USER" >"$d/people/a.yaml"
printf 'users:\n  - { id: e2, user_name: bob@example.com }\n' >"$d/people/deep/b.yaml"
ln -s . "$d/people/x"; ln -s . "$d/people/y"; ln -s .. "$d/people/deep/up"
printf 'version: 1\ninclude: ["people/**/*.yaml"]\n' >"$d/roster.yaml"
cfg_row symlink-loops "\`people/**/*.yaml\` across links \`x -> .\`, \`y -> .\`, \`deep/up -> ..\`" "0 (each file once)" "$d" validate -c roster.yaml

d=$(mkcase dev-zero)
cfg_row dev-zero "\`-c /dev/zero\`" 1 "$d" validate -c /dev/zero
mkfifo "$d/fifo.yaml"
cfg_row fifo "\`-c\` a FIFO (nothing writes to it)" 1 "$d" validate -c fifo.yaml

d=$(mkcase oversize)
truncate -s $(( (64 << 20) + 1 )) "$d/roster.yaml"
cfg_row oversize-config "a 64 MiB + 1 byte configuration file (sparse)" 1 "$d" validate -c roster.yaml

d=$(mkcase not-yaml)
echo "root:\$6\$$CANARY\$xyz:19000:0:99999:7:::" >"$d/shadow"
cfg_row not-yaml-quoted "\`-c\` a file shaped like /etc/shadow (canary inside)" 1 "$d" validate -c shadow
printf 'users: []\n\0%s\n' "$CANARY" >"$d/people.yaml"
printf 'version: 1\ninclude: ["people.yaml"]\n' >"$d/roster.yaml"
cfg_row binary-include "an included .yaml with NUL bytes (canary inside)" 1 "$d" validate -c roster.yaml

d=$(mkcase template-bomb)
cat >"$d/roster.yaml" <<'EOF'
version: 1
users:
  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell }
targets:
  crm:
    type: generic
    url: http://127.0.0.1:9/scim/v2
    auth: { bearer_token_env: EMU_TOKEN }
    assign: { all: true }
    mapping:
      user:
        displayName: "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
EOF
cfg_row template-bomb "a template doubling a string 40 times (\`plan\`)" 1 "$d" plan -c roster.yaml

secret_case() { # NAME DESCRIPTION TARGET_YAML_LINES
  local d; d=$(mkcase "$1")
  printf 'version: 1\n%s\ntargets:\n  t:\n    type: generic\n%s\n    assign: { all: true }\n' "$ONE_USER" "$3" >"$d/roster.yaml"
  cfg_row "$1-validate" "$2 (\`validate\`)" 1 "$d" validate -c roster.yaml
  cfg_row "$1-plan" "$2 (\`plan -vv\`)" 1 "$d" plan -vv -c roster.yaml
}
secret_case token-in-userinfo "token in the URL's userinfo" "    url: http://user:$EMU_TOKEN@127.0.0.1:9/scim/v2
    auth: { bearer_token_env: EMU_TOKEN }"
secret_case token-in-query "token in the URL's query" "    url: http://127.0.0.1:9/scim/v2?token=$EMU_TOKEN
    auth: { bearer_token_env: EMU_TOKEN }"
secret_case token-as-env-name "token given as \`bearer_token_env\`" "    url: http://127.0.0.1:9/scim/v2
    auth: { bearer_token_env: $EMU_TOKEN }"
secret_case token-inline "token written as \`auth.bearer_token\`" "    url: http://127.0.0.1:9/scim/v2
    auth: { bearer_token: $EMU_TOKEN }"
secret_case token-unknown-auth-key "token under an unknown \`auth\` key" "    url: http://127.0.0.1:9/scim/v2
    auth: { bearer_tokn: $EMU_TOKEN }"

# A refused token at the server: 401 names no token.
d=$(mkcase wrong-token)
emu_start
N_USERS=1 NOGROUPS=1 config generic "$URL" "" >"$d/roster.yaml"
(export EMU_TOKEN="$EMU_TOKEN-wrong"; run wrong-token "$d" plan -vv -c roster.yaml; echo "$RC $RSS_MB $WALL $ECHO" >"$W/wrong.res"; echo "$MSG" >"$W/wrong.msg")
emu_stop
read -r rc rss wall _ <"$W/wrong.res"
wrong_echo=$(cat "$W/wrong-token.out" "$W/wrong-token.err" | { grep -aoE "$EMU_TOKEN" || true; } | wc -l)
row "token-refused-401 | a wrong token at the server (\`plan -vv\`) | $rc | 1 | - | - | - | $wrong_echo | $rss | $wall | $(cat "$W/wrong.msg")"

# ---- the table ------------------------------------------------------------------------------

case "$R" in */debug/*) build=debug ;; */release/*) build=release ;; *) build=unknown ;; esac
echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $build build ($R)."
echo
echo "| case | fault or input | exit | expected | server writes | lost | duplicated | token/canary echoes | peak RSS MB | wall s (plan) | message |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
