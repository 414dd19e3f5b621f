#!/usr/bin/env bash
# Install what l3af-tlog needs on Debian 12, only if something is missing.
# Run as root (or with sudo available). Idempotent: a machine that has
# everything makes no network call.
#   scripts/install-deps.sh           what building, running and testing need
#   scripts/install-deps.sh --bench   also nginx and wrk, the baselines of
#                                     `l3af-tlog bench read` (docs/benchmarks.md)
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev
  libssl-dev libsodium-dev libsqlite3-dev sqlite3
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev
  libbpf-dev libelf-dev zlib1g-dev libarchive-dev
  libzstd-dev liblzma-dev libbz2-dev nettle-dev
  libcmocka-dev curl golang-go golang-golang-x-mod-dev
)
case "${1:-}" in
  "") ;;
  --bench) PACKAGES+=(nginx-light wrk) ;;
  *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
