#!/usr/bin/env bash
# Configures (Release) and builds tqdb in build/ with all cores.
# Usage: tools/build.sh [cmake --build args, e.g. --target tqdb]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TQDB_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" "$@"
