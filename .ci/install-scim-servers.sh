#!/usr/bin/env bash
# Installs the third-party SCIM 2.0 servers the interop tests run against, pinned, into the
# directory given as $1 (default: a fresh temporary directory), and prints the path of the
# python of the virtual environment it made there. Export it as ROSTER_SCIM2_PYTHON for
# `cargo test`:
#
#   export ROSTER_SCIM2_PYTHON=$(.ci/install-scim-servers.sh "$HOME/.cache/roster-scim")
#
# - scim2-server (PyPI) in $DIR/py: the reference server.
# - SCIMMY (npm) in $DIR/scimmy, when npm is present: an independent implementation, served by
#   tests/interop/scimmy/server.js. The tests find it next to the venv (or at ROSTER_SCIMMY_DIR).
set -euo pipefail

DIR="${1:-$(mktemp -d)}"
mkdir -p "$DIR"
PY="${PYTHON:-python3}"

if [ ! -x "$DIR/py/bin/python" ]; then
    "$PY" -m venv "$DIR/py" >&2
fi
# Pinned: the tests assert behaviour (204 on PATCH, 409 on duplicates) of exactly these versions.
"$DIR/py/bin/pip" install -q --disable-pip-version-check \
    "scim2-server==0.8.3" "scim2-tester==0.5.2" "scim2-cli==0.6.0" >&2

# Fail here, not in the tests, when the install is broken.
"$DIR/py/bin/python" -c 'import scim2_server.testserver.cli' >&2

if command -v npm > /dev/null; then
    HERE="$(cd "$(dirname "$0")/.." && pwd)"
    mkdir -p "$DIR/scimmy"
    cp "$HERE/tests/interop/scimmy/package.json" "$HERE/tests/interop/scimmy/package-lock.json" "$DIR/scimmy/"
    # Exactly the locked versions (Express 4: with Express 5 SCIMMY's paging is ignored).
    (cd "$DIR/scimmy" && npm ci --silent --no-audit --no-fund) >&2
else
    echo "npm not found: SCIMMY not installed (its interop test will say so)" >&2
fi

echo "$DIR/py/bin/python"
