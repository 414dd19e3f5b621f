#!/usr/bin/env bash
# l3af-verify end to end: the CLI offline (exit codes 0/1/2, reasons in the
# JSON), extract and file, online mode against a real l3af-tlogd on
# 127.0.0.1 serving the fixture's log (allow, deny, not logged, a log that
# stops answering and one that answers garbage: exit 3), and the Go example
# examples/l3afd-verify built offline with Debian's golang-go.
#   run_cli.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1; src=$2
V=$build/verifier/l3af-verify
work=$(mktemp -d /tmp/l3af-vcli-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$work/fx/env.sh" ] && rm -rf "$(dirname "$(grep ^LOGDIR= "$work/fx/env.sh" | cut -d= -f2)")"
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
# expect CODE REASON -- ARGS: run l3af-verify, check exit code and reason code in the JSON.
expect() {
  local want=$1 reason=$2; shift 3
  local out rc=0
  out=$("$V" "$@" 2>"$work/stderr") || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL: want exit $want, got $rc: l3af-verify $*"; echo "$out"; cat "$work/stderr"; fails=$((fails+1)); return 0
  fi
  if [ "$reason" != "-" ] && ! grep -q "\"code\":\"$reason\"" <<<"$out"; then
    echo "FAIL: no reason $reason: l3af-verify $*"; echo "$out"; fails=$((fails+1)); return 0
  fi
  echo "ok: exit $rc ${reason/-/}: ${*:1:1}"
}

mkdir "$work/fx"
"$build/tests/verifier/verify_make_fixture" "$work/fx"
# shellcheck disable=SC1091
. "$work/fx/env.sh"
fx=$work/fx
common=(--policy "$fx/policy" --node-policy "$fx/node.json")
ok=(--name "$OK_NAME" --version "$OK_VERSION" --platform "$OK_PLATFORM" --file "$OK_FILE")

# Offline.
expect 0 - -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --bundle "$fx/OK.bundle" "${common[@]}" --state "$work/s1"
expect 0 - -- check "${ok[@]}" --artifact - --bundle "$fx/OK.bundle" "${common[@]}" --state "$work/s1" <"$fx/OK.tar.gz"
cp "$fx/OK.tar.gz" "$work/bad.tar.gz"; printf 'X' | dd of="$work/bad.tar.gz" bs=1 seek=100 conv=notrunc status=none
expect 1 artifact_digest -- check "${ok[@]}" --artifact "$work/bad.tar.gz" --bundle "$fx/OK.bundle" "${common[@]}" --state "$work/s1"
expect 1 version -- check --name "$OK_NAME" --version 2.0.0 --platform "$OK_PLATFORM" --file "$OK_FILE" --artifact "$fx/OK.tar.gz" --bundle "$fx/OK.bundle" "${common[@]}" --state "$work/s1"
expect 1 helper -- check --name "$HELPER_NAME" --version "$HELPER_VERSION" --platform "$HELPER_PLATFORM" --file "$HELPER_FILE" --artifact "$fx/HELPER.tar.gz" --bundle "$fx/HELPER.bundle" "${common[@]}" --state "$work/s1"
expect 2 usage -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" "${common[@]}" --state "$work/s1"
expect 2 usage -- check --bogus
expect 2 config -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --bundle "$fx/OK.bundle" --policy "$fx/policy-dev" --state "$work/s1"
expect 0 - -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --bundle "$fx/OK.bundle" --policy "$fx/policy-dev" --dev-allow-no-witnesses --state "$work/s1"

# Extract, then file before load.
exe=(--name "$EXE_NAME" --version "$EXE_VERSION" --platform "$EXE_PLATFORM" --file "$EXE_FILE" --artifact "$fx/EXE.tar.gz" --bundle "$fx/EXE.bundle")
expect 0 - -- extract "${exe[@]}" "${common[@]}" --state "$work/s1" --out "$work/x"
[ "$(stat -c %a "$work/x")" = 700 ] || { echo "FAIL: extract dir mode"; fails=$((fails+1)); }
[ "$(stat -c %a "$work/x/run.sh")" = 755 ] || { echo "FAIL: run.sh mode"; fails=$((fails+1)); }
expect 2 extract -- extract "${exe[@]}" "${common[@]}" --state "$work/s1" --out "$work/x"
expect 0 - -- file --dir "$work/x" --path xdp_tail.bpf.o
expect 0 - -- file --dir "$work/x" --path run.sh
echo tampered >>"$work/x/run.sh"
expect 1 size -- file --dir "$work/x" --path run.sh
expect 1 not_in_manifest -- file --dir "$work/x" --path nothing
expect 2 usage -- file --dir "$work/x"

# Online, against the real server on the fixture's log.
"$build/api/l3af-tlogd" --data "$LOGDIR" --listen 127.0.0.1:0 --origin "$ORIGIN" 2>"$work/tlogd.err" &
pids+=($!)
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/tlogd.err" | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "l3af-tlogd did not start:"; cat "$work/tlogd.err"; exit 1; }
dev=(--policy "$fx/policy-dev" --dev-allow-no-witnesses)
expect 0 - -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2"
# The state now holds the served size; an offline bundle of the same size agrees.
expect 0 - -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2"
expect 1 helper -- check --name "$HELPER_NAME" --version "$HELPER_VERSION" --platform "$HELPER_PLATFORM" --file "$HELPER_FILE" --artifact "$fx/HELPER.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2"
expect 1 not_logged -- check "${ok[@]}" --artifact "$work/bad.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2"
# One artifact logged for two versions: each request gets its own entry.
expect 0 - -- check --name "$OK2_NAME" --version "$OK2_VERSION" --platform "$OK2_PLATFORM" --file "$OK2_FILE" --artifact "$fx/OK2.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2b"
expect 0 - -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2c"
expect 1 not_logged -- check --name "$OK_NAME" --version 7.7.7 --platform "$OK_PLATFORM" --file "$OK_FILE" --artifact "$fx/OK.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2"
# No fetch holds STATE/lock: with the lock held elsewhere, an unreachable log
# is reported at once (exit 3), not after the holder lets go.
mkdir -m 700 "$work/s2l"
exec 9>"$work/s2l/lock"
flock -x 9
start=$(date +%s)
rc=0
timeout 15 "$V" check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "http://127.0.0.1:1" "${dev[@]}" --state "$work/s2l" --timeout 1000 >"$work/lockout" 2>&1 9>&- || rc=$?
exec 9>&-
if [ "$rc" != 3 ] || [ $(( $(date +%s) - start )) -gt 10 ]; then
  echo "FAIL: online check waited for STATE/lock (exit $rc)"; cat "$work/lockout"; fails=$((fails+1))
else
  echo "ok: exit 3 with STATE/lock held elsewhere"
fi
# With witnesses required, the log's own (uncosigned) checkpoint is not enough.
expect 1 quorum -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "$url" --policy "$fx/policy" --state "$work/s3"
# Freeze: a log that stops answering.
kill -STOP "${pids[0]}"
expect 3 log_unreachable -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "$url" "${dev[@]}" --state "$work/s2" --timeout 1000
kill -CONT "${pids[0]}"
# Nothing listening.
expect 3 log_unreachable -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "http://127.0.0.1:1" "${dev[@]}" --state "$work/s2" --timeout 1000
# A log that answers garbage.
if command -v python3 >/dev/null; then
  hex=$(sha256sum "$fx/OK.tar.gz" | cut -d' ' -f1)
  mkdir -p "$work/www/v1/bundle/sha256"
  echo "garbage" >"$work/www/v1/bundle/sha256/$hex"
  (cd "$work/www" && exec python3 -m http.server 0 --bind 127.0.0.1 >"$work/py.out" 2>&1) &
  pids+=($!)
  purl=""
  for _ in $(seq 1 100); do
    purl=$(grep -o 'port [0-9]*' "$work/py.out" | head -1 | sed 's/port /http:\/\/127.0.0.1:/' || true)
    [ -n "$purl" ] && break
    sleep 0.1
  done
  [ -n "$purl" ] && expect 3 log_answer -- check "${ok[@]}" --artifact "$fx/OK.tar.gz" --log "$purl" "${dev[@]}" --state "$work/s2" --timeout 2000
fi

# The Go example, the way l3afd would run it (offline build, no modules fetched).
if command -v go >/dev/null; then
  cp -r "$src/examples/l3afd-verify" "$work/go"
  (cd "$work/go" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE=$work/gocache GOPATH=$work/gopath \
    go build -o "$work/l3afd-verify" .)
  "$work/l3afd-verify" -verify "$V" -name "$EXE_NAME" -version "$EXE_VERSION" -platform "$EXE_PLATFORM" -file "$EXE_FILE" \
    -artifact "$fx/EXE.tar.gz" -bundle "$fx/EXE.bundle" -policy "$fx/policy" -state "$work/s4" -out "$work/gox" \
    | tee "$work/go.out"
  grep -q "would load" "$work/go.out" || { echo "FAIL: Go example loaded nothing"; fails=$((fails+1)); }
  rc=0
  "$work/l3afd-verify" -verify "$V" -name "$HELPER_NAME" -version "$HELPER_VERSION" -platform "$HELPER_PLATFORM" -file "$HELPER_FILE" \
    -artifact "$fx/HELPER.tar.gz" -bundle "$fx/HELPER.bundle" -policy "$fx/policy" -state "$work/s4" -out "$work/goh" || rc=$?
  [ "$rc" = 1 ] || { echo "FAIL: Go example: denied package gave exit $rc"; fails=$((fails+1)); }
  rc=0
  "$work/l3afd-verify" -verify "$V" -name "$OK_NAME" -version "$OK_VERSION" -platform "$OK_PLATFORM" -file "$OK_FILE" \
    -artifact "$fx/OK.tar.gz" -log "$url" -policy "$fx/policy-dev" -dev-allow-no-witnesses -state "$work/s5" -out "$work/goo" || rc=$?
  [ "$rc" = 0 ] || { echo "FAIL: Go example online gave exit $rc"; fails=$((fails+1)); }
else
  echo "note: golang-go not installed, Go example not run"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "verify cli: passed"
