#!/usr/bin/env bash
# Regenerates the Python stubs of proto/tqdb/v1/*.proto into OUT
# (default: rpc/python, beside the client) with Debian's protoc and
# grpc_python_plugin. tests/e2e/python_client_test.py runs it into a
# temporary directory and compares with the committed files.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/rpc/python}"
protoc -I "$root/proto" --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
  tqdb/v1/collections.proto tqdb/v1/points.proto tqdb/v1/snapshots.proto
