#!/usr/bin/env bash
# The README's test command: installs what is missing (apt), builds tqdb in
# Release with all cores and runs every test with ctest. Non-zero exit on any
# failure. Tests that need ../shared/data skip with a message where it is
# absent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/tools/setup.sh"
bash "$root/tools/build.sh"
cd "${TQDB_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" --timeout 900
# The ingest readers' libFuzzer fuzzers, 30 s each (clang, build-fuzz/).
bash "$root/tools/fuzz.sh" 30
