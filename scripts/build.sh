#!/usr/bin/env bash
# Configure and build one flavour of l3af-tlog with CMake.
#   scripts/build.sh [release|sanitize|fuzz]   (default: release)
# Build trees: build/ (release), build-asan/ (ASan+UBSan), build-fuzz/ (clang libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=$(nproc 2>/dev/null || echo 2)
case "$flavour" in
  release)  dir=build;      args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  sanitize) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DL3AF_SANITIZE=ON) ;;
  fuzz)     dir=build-fuzz; args=(-DCMAKE_BUILD_TYPE=Debug -DL3AF_FUZZ=ON -DCMAKE_C_COMPILER=clang) ;;
  *) echo "usage: $0 [release|sanitize|fuzz]" >&2; exit 2 ;;
esac
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
cmake -S . -B "$dir" "${args[@]}" -DL3AF_WERROR="$werror" >/dev/null
cmake --build "$dir" -j"$jobs"
echo "build: $flavour build in $dir/"
