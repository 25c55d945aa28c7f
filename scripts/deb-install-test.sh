#!/bin/sh
# The Debian package's install test, as root on a Debian 12 machine (a fresh
# one, or a container): builds the .deb from a configured and built tree,
# installs it with apt (which pulls its dependencies), builds
# examples/ledger with the installed /usr/bin/ptmcc, and checks that a good
# call runs the primary and an overdraft is diverted.  Removes the package
# afterwards unless KEEP=1.  Not part of `make check`: it changes /usr.
#
#   scripts/deb-install-test.sh [build-dir]
set -eu
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "deb-install-test: run as root (it installs into /usr)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
(cd "$BUILD" && cpack -G DEB -B "$OUT" >/dev/null)
DEB=$(ls "$OUT"/ptm_*.deb)
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$DEB"
cd "$OUT"
/usr/bin/ptmcc --version | tail -1
/usr/bin/ptmcc -O2 -Wall -Wextra -Werror "$SRC/examples/ledger/ledger.c" -o ledger
mkdir data
[ "$(./ledger data add alice 1000)" = "ok: alice +1000" ]
rc=0; out=$(./ledger data add alice -5000) || rc=$?
[ "$rc" = 3 ] && [ "$out" = "rejected: alice -5000" ]
pkg-config --cflags --libs ptm >/dev/null
man -w ptmcc >/dev/null 2>&1 || [ ! -x /usr/bin/man ] || { echo "deb-install-test: no ptmcc(1)" >&2; exit 1; }
echo "deb-install-test: the installed ptmcc built the ledger; a good call ran, an overdraft was diverted"
[ "${KEEP:-0}" = 1 ] || apt-get remove -y -qq ptm
