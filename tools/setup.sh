#!/usr/bin/env bash
# Installs exactly the Debian packages tqdb needs to build, test and benchmark.
# Idempotent: when every package is already installed it does nothing (no
# apt-get update). Works as root, or through sudo for other users.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake g++ make pkg-config clang-format
  # the linker and the build tool of every build (CMakeLists.txt: TQDB_LLD;
  # tools/cmake_generator.sh)
  lld ninja-build
  # libraries (see DEVELOPERS.md / README for the recipe)
  libabsl-dev
  libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc
  libhwy-dev
  librocksdb-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  # LAPACK: the "pca" codec's eigendecomposition
  libblas-dev liblapack-dev
  # the peer measured by benchmarks (optional at build time, installed here)
  libfaiss-dev
  # the black-box gRPC test's client (stubs generated at test time), and the
  # CLI end-to-end test's file writers (.npy, .hdf5)
  python3-grpcio python3-protobuf python3-numpy python3-h5py
  # the TLS test's self-signed certificate
  openssl
  # tqdb ingest's file readers (tools/io/): HDF5 and JSON Lines; payloads
  # are JSON in the database too
  libhdf5-dev nlohmann-json3-dev
  # payload indexes: compressed bitmaps (CRoaring)
  libroaring-dev
  # BM25 full-text ranking: Snowball stemmers
  libstemmer-dev
  # the readers' libFuzzer fuzzers (tools/fuzz.sh)
  clang
  # tqdb serve's metrics and REST API (prometheus-cpp, cpp-httplib), and
  # their end-to-end tests: a real Prometheus and promtool, headless
  # Chromium with chromedriver for the dashboard, curl for the README's
  # examples, pip (offline install of the Python client)
  prometheus-cpp-dev libcpp-httplib-dev
  prometheus chromium chromium-driver curl python3-pip python3-setuptools
  python3-wheel
  # the cluster (tqdb serve --cluster, tools/cluster.sh, tests/cluster): etcd
  # and NATS JetStream as services, libnats (the C client), and etcd's own
  # .proto files with their imports (gogoproto, google/api) for the C++
  # stubs of its v3 API (proto/etcd/)
  etcd-server etcd-client nats-server libnats-dev golang-etcd-server-dev
  golang-github-gogo-protobuf-dev golang-github-gogo-googleapis-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup: missing packages (${missing[*]}) and not root, no sudo" >&2
    exit 1
  fi
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
