#!/usr/bin/env bash
# Runs scim2-tester's conformance checks (discovery, CRUD, attributes, PATCH on every attribute)
# against a SCIM server, e.g. roster's emulator:
#
#   SCIM_TOKEN=... tests/interop/scim2-tester.sh http://127.0.0.1:PORT
#
# Needs ROSTER_SCIM2_PYTHON (from .ci/install-scim-servers.sh). Exits non-zero when a check is not
# SUCCESS. The token is read from SCIM_TOKEN (scim2 takes it as an argument, so use a test token).
set -euo pipefail
URL="${1:?usage: SCIM_TOKEN=... $0 BASE_URL}"
: "${ROSTER_SCIM2_PYTHON:?run .ci/install-scim-servers.sh and export its output}"
: "${SCIM_TOKEN:?set SCIM_TOKEN}"
BIN="$(dirname "$ROSTER_SCIM2_PYTHON")"
exec "$BIN/scim2" --url "$URL" -h "Authorization: Bearer $SCIM_TOKEN" test
