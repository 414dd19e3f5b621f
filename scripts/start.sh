#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout to a running log:
# installs what is missing, builds, and runs l3af-tlogd in the foreground on
# its embedded default (SQLite under ./data). Ctrl-C stops it cleanly.
#   L3AF_DATA (default ./data)  L3AF_LISTEN (default 127.0.0.1:8080)
#   L3AF_ORIGIN (default l3af-tlog.local/log; used when the log is created)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
data=${L3AF_DATA:-./data}
listen=${L3AF_LISTEN:-127.0.0.1:8080}
args=(--data "$data" --listen "$listen")
[ -n "${L3AF_ORIGIN:-}" ] && args+=(--origin "$L3AF_ORIGIN")
exec ./build/api/l3af-tlogd "${args[@]}"
