#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then
#  1. release build + every test (ctest),
#  2. ASan+UBSan build (no recovery) + every test again,
#  3. libFuzzer build + each fuzz target for a short run over its seed corpus.
# Ends with "N passed, N failed". About 5-8 minutes on 2 cores.
# Longer runs (fuzzing for hours, many more crash kills) are in docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
passed=0; failed=0

run_ctest() { # dir label
  if (cd "$1" && ctest --output-on-failure -j"$jobs"); then
    passed=$((passed + 1)); echo "test: $2: passed"
  else
    failed=$((failed + 1)); echo "test: $2: FAILED"
  fi
}

scripts/build.sh release
run_ctest build "release build"

scripts/build.sh sanitize
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest build-asan "ASan+UBSan build"

if [ -x scripts/fuzz.sh ]; then
  if scripts/fuzz.sh smoke; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
