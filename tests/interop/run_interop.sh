#!/usr/bin/env bash
# Interop: an independent implementation (Go's golang.org/x/mod/sumdb/tlog
# and note, Debian's golang-golang-x-mod-dev) verifies every entry, every
# tile, the root and the checkpoint signature of a log served by a real
# l3af-tlogd on 127.0.0.1, and of the same log exported as static files.
#   run_interop.sh BUILD_DIR SOURCE_DIR
# Exit 77 (skipped) with a reason if Go or x/mod is not installed.
set -euo pipefail
build=$1; src=$2
gopath=/usr/share/gocode
if ! command -v go >/dev/null || [ ! -d $gopath/src/golang.org/x/mod/sumdb/tlog ]; then
  echo "SKIP: needs golang-go and golang-golang-x-mod-dev (scripts/install-deps.sh installs them)"
  exit 77
fi
work=$(mktemp -d /tmp/l3af-interop-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Build offline, in GOPATH mode against the Debian package's sources.
cp "$src/tests/interop/verify_log.go" "$work/"
(cd "$work" && GO111MODULE=off GOPATH=$gopath GOCACHE=$work/gocache GOFLAGS= \
  go build -o verify_log verify_log.go)

start_tlogd() {
  "$build/api/l3af-tlogd" --data "$work/log" --listen 127.0.0.1:0 2>"$work/tlogd.err" &
  pid=$!
  url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/tlogd.err" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "l3af-tlogd did not start:"; cat "$work/tlogd.err"; exit 1; }
}

# l3af-tlogd creates the log (entry 0: its admin.root genesis entry); then
# 70,000 more entries: full and partial tiles at levels 0 and 1, a partial at 2.
start_tlogd
kill -TERM "$pid"; wait "$pid"; pid=""
"$build/api/l3af-tlog" bench append --data "$work/log" --count 70000 --batch 4096 >/dev/null
start_tlogd
vkey=$(cat "$work/log/log.vkey")
"$work/verify_log" "$url" "$vkey"
kill -TERM "$pid"; wait "$pid"; pid=""

"$build/api/l3af-tlog" export --data "$work/log" --out "$work/www" >/dev/null
"$work/verify_log" "$work/www" "$vkey"

# A wrong key must not verify.
# The golang.org/x/mod sumdb/note example key: valid, but not this log's.
other="PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
if "$work/verify_log" "$work/www" "$other" 2>/dev/null; then
  echo "verify_log accepted a wrong key"; exit 1
fi
echo "interop: passed"
