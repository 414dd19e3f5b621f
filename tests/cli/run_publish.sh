#!/usr/bin/env bash
# The publisher's path end to end, as docs/publishing.md walks it, through the
# real l3af-tlog binary and real eBPF objects compiled by the test build:
# keygen (both algorithms), package create (byte-reproducible), package
# inspect (with and without policy), sign, statement verify; and every
# refusal: wrong key, tampered archive, tampered envelope, policy violation,
# existing output files, usage errors.
#   run_publish.sh BUILD_DIR
set -uo pipefail
build=$1
L=$build/api/l3af-tlog
progs=$build/tests/bpf/progs
work=$(mktemp -d /tmp/l3af-publish-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0; fail=0

# expect CODE DESCRIPTION -- COMMAND...: run it, compare the exit status.
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$work/out" 2>"$work/err"; local got=$?
  if [ "$got" = "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $what: exit $got, expected $want"; cat "$work/err"; fi
}
# check DESCRIPTION -- COMMAND...: a condition that must hold.
check() {
  local what=$1; shift 2
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what"; fi
}

mkdir -p src/docs
cp "$progs/l3af_root.bpf.o" "$progs/xdp_tail.bpf.o" src/
printf '# ratelimiting\nLimits packets per second.\n' > src/README.md
printf 'Dual BSD/GPL\n' > src/LICENSE
printf 'rate=100\n' > src/docs/config.txt

expect 0 "keygen ed25519" -- $L keygen --name acme --out acme.key
check "private key is 0600" -- test "$(stat -c %a acme.key)" = 600
check "keygen prints the key id" -- grep -q '"keyid":"[0-9a-f]\{64\}"' out
expect 0 "keygen ecdsa-p256" -- $L keygen --name acme --alg ecdsa-p256 --out acme-ec.key
expect 1 "keygen refuses an existing file" -- $L keygen --name acme --out acme.key
touch lonely.key.pub
expect 1 "keygen refuses an existing public file" -- $L keygen --name acme --out lonely.key
check "and leaves no private key behind" -- test ! -e lonely.key
expect 2 "keygen refuses a name that is not UTF-8" -- $L keygen --name $'\xff' --out bad.key
check "and writes nothing" -- test ! -e bad.key -a ! -e bad.key.pub
expect 2 "keygen unknown alg" -- $L keygen --name acme --alg rsa --out x.key

expect 0 "package create" -- $L package create src --name ratelimiting --version 1.0.0 --platform linux/amd64 --out a.tar.gz
check "manifest names the object as bpf-elf" -- grep -q '"kind":"bpf-elf","mode":"0644","path":"l3af_root.bpf.o"' out
check "manifest file written beside the archive" -- grep -q '"platform":{"arch":"amd64","os":"linux"},"version":"1.0.0"' a.tar.gz.manifest.json
sleep 1; touch src/README.md; chmod 600 src/LICENSE
(umask 077; expect 0 "package create again" -- $L package create src --name ratelimiting --out b.tar.gz)
check "same input, same bytes (time, umask, mtime)" -- cmp -s a.tar.gz b.tar.gz
check "l3af_<name>/ top-level folder" -- sh -c "tar -tzf a.tar.gz | head -1 | grep -qx 'l3af_ratelimiting/'"
expect 0 "package create replaces its own output atomically" -- $L package create src --name ratelimiting --out a.tar.gz
check "and the bytes are unchanged" -- cmp -s a.tar.gz b.tar.gz
ln -s README.md src/link
expect 1 "package create refuses a symlink" -- $L package create src --name ratelimiting --out c.tar.gz
rm src/link
expect 1 "package create bad name" -- $L package create src --name "Bad Name" --out d.tar.gz

expect 0 "package inspect" -- $L package inspect a.tar.gz
check "inspect reports the L3AF root program" -- grep -q '"name":"xdp_root_prog"' out
check "inspect reports bpf_tail_call by name" -- grep -q '"name":"bpf_tail_call"' out
printf '{"version":1,"allow_tail_calls":false}' > notail.json
expect 1 "inspect with a policy that forbids tail calls" -- $L package inspect --policy notail.json a.tar.gz
check "the violation names file, program and rule" -- grep -q '"file":"l3af_root.bpf.o","message":"makes 1 tail call(s)","program":"xdp_root_prog","rule":"allow_tail_calls"' out

cp a.tar.gz l3af_ratelimiting.tar.gz
for k in acme acme-ec; do
  expect 0 "sign with $k" -- $L sign --key $k.key l3af_ratelimiting.tar.gz --version 1.0.0 \
    --platform linux/amd64/bookworm --license "BSD-2-Clause OR GPL-2.0-only" \
    --object l3af_root.bpf.o --entry-function xdp_root_prog --map-name root_progs \
    --out $k.dsse.json
  expect 0 "verify $k signature and subject" -- $L statement verify --key $k.key.pub $k.dsse.json l3af_ratelimiting.tar.gz
  check "predicate carries version and platform" -- grep -q '"platform":{"arch":"amd64","distro":"bookworm","os":"linux"}' out
done
expect 1 "verify with the other key" -- $L statement verify --key acme-ec.key.pub acme.dsse.json
mkdir other && printf 'tampered' > other/l3af_ratelimiting.tar.gz
expect 1 "verify against a different archive of the same name" -- $L statement verify --key acme.key.pub acme.dsse.json other/l3af_ratelimiting.tar.gz
expect 1 "verify against the same bytes under another name" -- $L statement verify --key acme.key.pub acme.dsse.json a.tar.gz
sed 's/"payload":"\(.\)/"payload":"A\1/' acme.dsse.json > bad1.json
expect 1 "verify a tampered envelope" -- $L statement verify --key acme.key.pub bad1.json
P=l3af_ratelimiting.tar.gz
expect 1 "sign refuses an existing envelope" -- $L sign --key acme.key $P --version 1.0.0 --platform linux/amd64 --out acme.dsse.json
expect 1 "sign refuses a policy violation" -- $L sign --key acme.key $P --version 1.0.0 --platform linux/amd64 --policy notail.json --out pol.dsse.json
check "nothing signed on a violation" -- test ! -e pol.dsse.json
expect 1 "sign refuses an unknown entry function" -- $L sign --key acme.key $P --version 1.0.0 --platform linux/amd64 --object l3af_root.bpf.o --entry-function nope --out e.dsse.json
expect 2 "sign refuses a bad platform" -- $L sign --key acme.key $P --version 1.0.0 --platform beos/m68k --out p.dsse.json
expect 2 "sign refuses a Windows platform with a distro" -- $L sign --key acme.key $P --version 1.0.0 --platform windows/amd64/x --out p.dsse.json
expect 2 "sign needs --version" -- $L sign --key acme.key $P --platform linux/amd64 --out v.dsse.json
expect 2 "sign refuses an archive not named l3af_<name>" -- $L sign --key acme.key a.tar.gz --version 1.0.0 --platform linux/amd64 --out n.dsse.json
expect 2 "sign refuses a licence that is not UTF-8" -- $L sign --key acme.key $P --version 1.0.0 --platform linux/amd64 --license $'\xff' --out u.dsse.json
check "nothing signed on usage errors" -- test ! -e n.dsse.json -a ! -e u.dsse.json
for c in keygen package sign statement; do expect 0 "$c --help" -- $L $c --help; done

echo "publish: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
