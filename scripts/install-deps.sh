#!/bin/sh
# Installs the Debian 12 packages PTM builds and tests with, only those missing.
# Safe to run repeatedly: with everything present it does nothing and needs no network.
set -eu

PKGS="clang-19 libclang-19-dev llvm-19-dev llvm-19-tools flex bison liblua5.4-dev lua5.4 liblua5.3-dev
libcriterion-dev libseccomp-dev libsqlite3-dev libjansson-dev cmake pkg-config make gcc python3
valgrind strace libclang-rt-19-dev scdoc ccache meson ninja-build bear dpkg-dev
redis-server libhiredis-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
