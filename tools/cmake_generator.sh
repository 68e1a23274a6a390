# Sourced by tools/build.sh, tools/sanitize.sh and tools/fuzz.sh.
# cmake_generator BUILD_DIR: the `-G` arguments for configuring BUILD_DIR.
# Ninja where installed (tools/setup.sh installs it): CMake's Ninja
# generator lets a target's files compile while the libraries it links are
# still being built, where Make waits for each library first; on 2 cores
# the chain quant -> index -> db -> rpc left one core idle for much of the
# ASan build. A directory configured before keeps its generator (CMake
# refuses to switch one).
cmake_generator() {
  if [ ! -f "$1/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then
    echo "-G"
    echo "Ninja"
  fi
}
