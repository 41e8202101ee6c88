#!/usr/bin/env bash
# Installs the third-party SCIM 2.0 servers the interop tests run against, pinned, into a
# virtual environment in the directory given as $1 (default: a fresh temporary directory), and
# prints the path of that environment's python. Export it as ROSTER_SCIM2_PYTHON for `cargo test`.
#
#   export ROSTER_SCIM2_PYTHON=$(.ci/install-scim-servers.sh "$HOME/.cache/roster-scim")
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

echo "$DIR/py/bin/python"
