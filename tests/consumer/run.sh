#!/bin/sh
# Installs the corio build in $1 into a scratch prefix, then builds and runs
# the consumer project in $2 against it, once with find_package(corio) and
# once with pkg-config.
set -eu
build=$1
src=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer"
PKG_CONFIG_PATH="$(find "$work/prefix" -type d -name pkgconfig | head -n 1)"
export PKG_CONFIG_PATH
# shellcheck disable=SC2046 # word splitting of the flags is intended
${CXX:-c++} $(pkg-config --cflags corio) "$src/main.cpp" -o "$work/consumer-pc" $(pkg-config --libs corio)
"$work/consumer-pc"
