#!/usr/bin/env bash
# Configures (Release) and builds tqdb in build/ with all cores.
# Usage: tools/build.sh [cmake --build args, e.g. --target tqdb]
# TQDB_UNITY=ON compiles each target's sources a few at a time in one file
# (CMAKE_UNITY_BUILD: shared headers parsed once per batch), as
# tools/test.sh does for CI's time; the default, file by file, is the build
# that checks each file compiles on its own.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TQDB_BUILD_DIR:-$root/build}"
source "$root/tools/cmake_generator.sh"
mapfile -t generator < <(cmake_generator "$build")
cmake "${generator[@]}" -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_UNITY_BUILD="${TQDB_UNITY:-OFF}" >/dev/null
cmake --build "$build" -j "$(nproc)" "$@"
