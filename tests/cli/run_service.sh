#!/usr/bin/env bash
# The log service end to end, through the real binaries: l3af-tlogd on
# 127.0.0.1 (port 0) with a fresh data directory, and l3af-tlog as the
# admin and the publisher: publisher add (DIR/admin.key), package create
# over real eBPF objects, sign, submit -> bundle, bundle verify offline with
# DIR/log.vkey, lookup (name, archive digest, program digest), resubmission,
# conflict (tree size unchanged), namespace, expired and replayed admin
# requests, key-set update, SIGTERM, fsck, restart, resubmission after it.
#   run_service.sh BUILD_DIR
set -uo pipefail
build=$1
L=$build/api/l3af-tlog
D=$build/api/l3af-tlogd
progs=$build/tests/bpf/progs
work=$(mktemp -d /tmp/l3af-service-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
pass=0; fail=0

# expect CODE DESCRIPTION -- COMMAND...: run it, compare the exit status.
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$work/out" 2>"$work/err"; local got=$?
  if [ "$got" = "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $what: exit $got, expected $want"; cat "$work/out" "$work/err"; fi
}
# check DESCRIPTION -- COMMAND...: a condition that must hold.
check() {
  local what=$1; shift 2
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what"; [ -n "${DEBUG:-}" ] && cat "$work/out"; fi
}
# start: run l3af-tlogd on data/ and set $U from its start-up line.
start() {
  "$D" --data data --listen 127.0.0.1:0 2>"$work/tlogd.err" &
  pid=$!
  for _ in $(seq 100); do
    U=$(grep -o "http://127\.0\.0\.1:[0-9]*/" "$work/tlogd.err" | head -1 | sed "s|/$||")
    [ -n "$U" ] && return 0
    sleep 0.1
  done
  echo "l3af-tlogd did not start:"; cat "$work/tlogd.err"; exit 1
}
# stop: SIGTERM, and the exit status must be 0.
stop() {
  kill -TERM "$pid"; wait "$pid"; local rc=$?; pid=
  check "l3af-tlogd stops cleanly on SIGTERM (exit $rc)" -- test "$rc" = 0
}
size() { curl -sf "$U/checkpoint" | sed -n 2p; }
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

start
check "the log has its admin key" -- test -f data/admin.key -a "$(stat -c %a data/admin.key)" = 600
expect 0 "keygen acme" -- $L keygen --name acme --out acme.key
expect 0 "keygen acme2" -- $L keygen --name acme --alg ecdsa-p256 --out acme2.key
expect 0 "publisher add acme" -- $L publisher add --log "$U" --admin-key data/admin.key --id acme \
  --namespace ratelimiting --namespace 'acme-*' --key acme.key.pub
check "the answer names publisher and version 1" -- grep -q '"publisher":"acme".*"version":1' out
expect 1 "registering acme again is a conflict" -- $L publisher add --log "$U" --admin-key data/admin.key \
  --id acme --namespace ratelimiting --key acme.key.pub
check "the message names the HTTP status and code" -- grep -q 'HTTP 409 conflict' err
expect 0 "publisher show" -- $L publisher show --log "$U" --id acme
check "show prints the key set" -- grep -q '"kind":"publisher.keys"' out

mkdir src other outside
cp "$progs/l3af_root.bpf.o" "$progs/xdp_tail.bpf.o" src/
printf '# ratelimiting\nLimits packets per second.\n' > src/README.md
printf 'Dual BSD/GPL\n' > src/LICENSE
expect 0 "package create" -- $L package create src --name ratelimiting --out l3af_ratelimiting.tar.gz
expect 0 "sign" -- $L sign --key acme.key l3af_ratelimiting.tar.gz --version 1.0.0 --platform linux/amd64 \
  --object l3af_root.bpf.o --entry-function xdp_root_prog --out rl.dsse.json
size0=$(size)
expect 0 "submit" -- $L submit --log "$U" rl.dsse.json l3af_ratelimiting.tar.gz --out rl.bundle
check "submit says new" -- grep -q '"existing":false' out
idx=$(json out 'd["index"]')
check "the tree grew by one" -- test "$(size)" = $((size0 + 1))
check "the bundle file starts as a tlog-proof" -- grep -qx 'c2sp.org/tlog-proof@v1' <(head -1 rl.bundle)
expect 0 "bundle verify" -- $L bundle verify --log-key data/log.vkey rl.bundle --artifact l3af_ratelimiting.tar.gz
check "the summary names the package at its index" -- \
  test "$(json out '(d["valid"], d["index"], d["name"], d["version"], d["publisher"], d["kind"])')" = "(True, $idx, 'ratelimiting', '1.0.0', 'acme', 'package')"
cp l3af_ratelimiting.tar.gz other/l3af_ratelimiting.tar.gz && printf 'x' >> other/l3af_ratelimiting.tar.gz
expect 1 "bundle verify refuses another archive" -- $L bundle verify --log-key data/log.vkey rl.bundle --artifact other/l3af_ratelimiting.tar.gz
rm other/l3af_ratelimiting.tar.gz
sed 's/^index .*/index 0/' rl.bundle > bad.bundle
expect 1 "bundle verify refuses a wrong index" -- $L bundle verify --log-key data/log.vkey bad.bundle
$L bench append --data otherlog --count 1 >/dev/null
expect 1 "bundle verify refuses another log's key" -- $L bundle verify --log-key otherlog/log.vkey rl.bundle
check "naming the key" -- grep -q 'not signed by the log key' err

expect 0 "lookup by name" -- $L lookup --log "$U" --name ratelimiting
check "lookup by name finds the entry" -- test "$(json out '[e["index"] for e in d["entries"]]')" = "[$idx]"
sha=$(sha256sum l3af_ratelimiting.tar.gz | cut -d' ' -f1)
expect 0 "lookup by sha256" -- $L lookup --log "$U" --sha256 "$sha"
check "lookup by sha256 finds it" -- test "$(json out '[(e["index"], e["sha256"]) for e in d["entries"]]')" = "[($idx, '$sha')]"
$L package inspect l3af_ratelimiting.tar.gz > inspect.json
prog=$(json inspect.json '[p["insns_sha256"] for o in d["objects"] for p in o["programs"] if p["name"]=="xdp_root_prog"][0]')
expect 0 "lookup by program digest" -- $L lookup --log "$U" --program "$prog"
check "lookup by program finds it" -- test "$(json out '[e["index"] for e in d["entries"]]')" = "[$idx]"
expect 0 "lookup --text" -- $L lookup --log "$U" --name ratelimiting --version 1.0.0 --platform linux/amd64 --text
check "the table has the entry" -- grep -q "^$idx  *ratelimiting  *1\.0\.0  *linux/amd64  *acme  *$sha" out
# Query values are percent-decoded: what a generic HTTP client sends.
expect 0 "lookup with an escaped platform" -- curl -sf "$U/v1/lookup?name=ratelimiting&version=1.0.0&platform=linux%2Famd64"
check "the escaped platform finds the entry" -- test "$(json out '[e["index"] for e in d["entries"]]')" = "[$idx]"
expect 0 "lookup with an escaped name" -- curl -sf "$U/v1/lookup?name=ratelimitin%67"
check "the escaped name finds the entry" -- test "$(json out '[e["index"] for e in d["entries"]]')" = "[$idx]"
expect 22 "an escaped NUL is refused (400)" -- curl -sf "$U/v1/lookup?name=rate%00limiting"
expect 0 "lookup of an unknown name" -- $L lookup --log "$U" --name nothing-here
check "gives no entries" -- grep -qx '{"entries":\[\]}' out
expect 2 "lookup needs one key" -- $L lookup --log "$U" --name a --sha256 "$sha"
expect 2 "lookup refuses a bad digest" -- $L lookup --log "$U" --sha256 ABC

expect 0 "bundle get by index, verified" -- $L bundle get --log "$U" --index "$idx" --out got.bundle --log-key data/log.vkey
expect 0 "the fetched bundle verifies" -- $L bundle verify --log-key data/log.vkey got.bundle
expect 0 "bundle get by sha256" -- $L bundle get --log "$U" --sha256 "$sha" --out got2.bundle
check "and is for the same index" -- grep -qx "index $idx" got2.bundle
expect 1 "bundle get of an entry not in the log" -- $L bundle get --log "$U" --index 999999 --out none.bundle
check "and writes nothing" -- test ! -e none.bundle

expect 0 "resubmit" -- $L submit --log "$U" rl.dsse.json l3af_ratelimiting.tar.gz --out rl2.bundle --log-key data/log.vkey
check "resubmission: same index, existing" -- test "$(json out '(d["index"], d["existing"])')" = "($idx, True)"

cp -r src src2 && printf 'changed\n' >> src2/README.md
expect 0 "a second archive of the same version" -- $L package create src2 --name ratelimiting --out other/l3af_ratelimiting.tar.gz
expect 0 "signed" -- $L sign --key acme.key other/l3af_ratelimiting.tar.gz --version 1.0.0 --platform linux/amd64 --out other.dsse.json
size1=$(size)
expect 1 "is refused" -- $L submit --log "$U" other.dsse.json other/l3af_ratelimiting.tar.gz --out other.bundle
check "as a 409 conflict" -- grep -q 'HTTP 409 conflict' err
check "the tree size is unchanged" -- test "$(size)" = "$size1"
check "no bundle written" -- test ! -e other.bundle

cp -r src outside/zeta
expect 0 "package outside the namespace" -- $L package create outside/zeta --name zeta --out outside/l3af_zeta.tar.gz
expect 0 "signed by acme" -- $L sign --key acme.key outside/l3af_zeta.tar.gz --version 1.0.0 --platform linux/amd64 --out zeta.dsse.json
expect 1 "is refused" -- $L submit --log "$U" zeta.dsse.json outside/l3af_zeta.tar.gz --out zeta.bundle
check "as a 403 namespace" -- grep -q 'HTTP 403 namespace' err
expect 1 "an envelope against another archive is refused" -- $L submit --log "$U" rl.dsse.json other/l3af_ratelimiting.tar.gz --out x.bundle
check "as a 422 digest mismatch" -- grep -q 'HTTP 422 digest_mismatch' err

now=$(date +%s)
expect 1 "an expired admin request is refused" -- $L publisher add --log "$U" --admin-key data/admin.key --id beta \
  --namespace 'beta-*' --key acme2.key.pub --not-before $((now - 2000)) --valid-for 300
check "as 403 expired" -- grep -q 'HTTP 403 expired' err
expect 1 "a request signed by another key is refused" -- $L publisher add --log "$U" --admin-key acme.key --id beta \
  --namespace 'beta-*' --key acme2.key.pub
check "as 403 admin_signature" -- grep -q 'HTTP 403 admin_signature' err
expect 0 "a request written for later" -- $L publisher add --log "$U" --admin-key data/admin.key --id beta \
  --namespace 'beta-*' --key acme2.key.pub --out-request beta.req.json
expect 0 "is sent" -- $L publisher send --log "$U" beta.req.json
expect 1 "and not replayed" -- $L publisher send --log "$U" beta.req.json
check "as 409 replay" -- grep -q 'HTTP 409 replay' err
expect 0 "publisher update adds a key" -- $L publisher update --log "$U" --admin-key data/admin.key --id acme \
  --namespace ratelimiting --namespace 'acme-*' --key acme.key.pub --key acme2.key.pub
check "as version 2" -- grep -q '"publisher":"acme".*"version":2' out
expect 1 "an update with a stale version" -- $L publisher update --log "$U" --admin-key data/admin.key --id acme \
  --namespace ratelimiting --key acme.key.pub --version 2
check "is a conflict" -- grep -q 'HTTP 409 conflict' err

expect 3 "an unreachable log" -- $L submit --log http://127.0.0.1:1 rl.dsse.json l3af_ratelimiting.tar.gz --out x.bundle
expect 2 "submit without --out" -- $L submit --log "$U" rl.dsse.json l3af_ratelimiting.tar.gz
expect 2 "submit with a bad URL" -- $L submit --log ftp://x rl.dsse.json l3af_ratelimiting.tar.gz --out x.bundle
expect 2 "publisher add with --valid-for over 900" -- $L publisher add --log "$U" --admin-key data/admin.key \
  --id gamma --namespace g --key acme.key.pub --valid-for 901
expect 2 "publisher with a bad id" -- $L publisher add --log "$U" --admin-key data/admin.key \
  --id 'Bad Id' --namespace g --key acme.key.pub

stop
expect 0 "fsck after a clean stop" -- $L fsck --data data
check "fsck says ok" -- grep -q ': ok' out
start
expect 0 "resubmit after a restart" -- $L submit --log "$U" rl.dsse.json l3af_ratelimiting.tar.gz --out rl3.bundle
check "same index, existing" -- test "$(json out '(d["index"], d["existing"])')" = "($idx, True)"
expect 0 "the new publisher key signs after the restart" -- sh -c "
  $L sign --key acme2.key l3af_ratelimiting.tar.gz --version 1.0.1 --platform linux/amd64 --out rl101.dsse.json >/dev/null &&
  $L submit --log $U rl101.dsse.json l3af_ratelimiting.tar.gz --out rl101.bundle"
stop

for c in submit publisher lookup bundle; do
  expect 0 "$c --help" -- $L $c --help
  check "$c --help has an example and exit codes" -- grep -q 'Example' out
done

echo "service: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
