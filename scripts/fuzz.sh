#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) and run them.
#   scripts/fuzz.sh smoke          each target ~15 s over its seed corpus (part of scripts/test.sh)
#   scripts/fuzz.sh long [SECONDS] each target for SECONDS (default 3600), corpus grows in place
# A crash leaves crash-* in the current directory: copy it into
# tests/fuzz/corpus/NAME/ so that every later test run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-smoke}
case "$mode" in
  smoke) secs=10 ;;
  long) secs=${2:-3600} ;;
  *) echo "usage: $0 smoke|long [SECONDS]" >&2; exit 2 ;;
esac
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DL3AF_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_note fuzz_checkpoint fuzz_tile_path fuzz_proof fuzz_statement fuzz_elf fuzz_package fuzz_proof_text fuzz_bundle fuzz_entry fuzz_admin_request fuzz_tlogd_config fuzz_trust_policy fuzz_node_policy
failed=0
for bin in build-fuzz/tests/fuzz/fuzz_*; do
  name=${bin##*/fuzz_}
  corpus=tests/fuzz/corpus/$name
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
       "$work" >"$work.log" 2>&1; then
    echo "fuzz: $name FAILED; last lines:"; tail -30 "$work.log"; failed=1
  else
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$work.log" | tail -1 || true
  fi
  [ "$mode" = long ] && cp -n "$work"/* "$corpus"/ 2>/dev/null || true
  rm -rf "$work" "$work.log"
done
[ "$failed" -eq 0 ] && echo "fuzz: all targets ran clean"
exit "$failed"
