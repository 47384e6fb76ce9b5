#!/bin/sh
# msgpack-cxx (header-only; Debian: libmsgpack-cxx-dev), the codec of
# corio::multiprocessing. The Debian package depends on libboost-dev
# (Boost 1.74), which conflicts with libboost1.81-dev (the Boost.Asio peer
# of the benchmarks needs it), and corio uses msgpack-cxx without Boost
# (MSGPACK_NO_BOOST). So: the package if it installs; otherwise its headers,
# unpacked from the same package (apt-get download) into DEST, where
# CMake looks for them too.
set -eu
DEST=${1:-.deps/msgpack}
[ -f /usr/include/msgpack.hpp ] && exit 0
[ -f "$DEST/usr/include/msgpack.hpp" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmsgpack-cxx-dev >/dev/null 2>&1; then
  exit 0
fi
echo "libmsgpack-cxx-dev does not install here (its libboost-dev conflicts with another Boost):" \
     "unpacking its headers into $DEST" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download libmsgpack-cxx-dev >/dev/null)
mkdir -p "$DEST"
dpkg-deb -x "$tmp"/libmsgpack-cxx-dev_*.deb "$DEST"
test -f "$DEST/usr/include/msgpack.hpp"
