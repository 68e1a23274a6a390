#!/usr/bin/env bash
# The cluster's cost, measured in one run on this machine (README "Cluster",
# goals of issue 15): the same data ingested and searched through a single
# `tqdb serve` and through a 3-node cluster (tools/cluster.sh: 1 etcd,
# 3 nats-server, 3 tqdb nodes, 16 shards x 2 replicas):
#   - ingest rate through the log (the CLI, batches of 1000, until every
#     point is acknowledged, then until every replica applied it) vs the
#     single server's;
#   - search latency p50/p99 of 1,000 queries one at a time (k 10, default
#     nprobe, and exact) against node 1 vs the single server, and recall@10
#     against the data set's ground truth.
# Usage: tools/cluster_bench.sh [DATA_DIR]   (default: the shared GloVe-100
# 100k set, /work/shared/data/glove100-wink); writes the table to stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tqdb="${TQDB_BIN:-${TQDB_BUILD_DIR:-$root/build}/tools/tqdb}"
data="${1:-${TQDB_SHARED_DATA:-/work/shared/data}/glove100-wink}"
base=$(ls "$data"/*base*.fvecs | head -1)
queries=$(ls "$data"/*quer*.fvecs | head -1)
gt=$(ls "$data"/*gt_angular*top100*.ivecs | head -1)
[ -x "$tqdb" ] || { echo "build tqdb first (tools/build.sh --target tqdb)" >&2; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/tqdb_cluster_bench.XXXXXX")"
single_pid=""
cleanup() {
  [ -n "$single_pid" ] && kill "$single_pid" 2>/dev/null && wait "$single_pid" 2>/dev/null
  TQDB_BIN="$tqdb" bash "$root/tools/cluster.sh" down "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# CPU seconds (user + system) a process has used so far.
cpu_of() {
  awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0
}
# CPU seconds of every process of a kind in DIR/services, summed.
cpu_kind() {
  local total=0 pid
  for pid in $(awk -v k="$2" '$1 == k {print $4}' "$1/services"); do
    total=$(echo "$total + $(cpu_of "$pid")" | bc)
  done
  echo "$total"
}

# Ingest: prints "rows/s" from the CLI's own timing.
ingest() {
  "$tqdb" ingest --server "$1" --collection bench --input "$base" --create \
    --metric cosine --batch 1000 --progress none >"$work/ingest.out" 2>&1 ||
    { cat "$work/ingest.out" >&2; exit 1; }
  cat "$work/ingest.out" |
    grep -o '([0-9,]* rows/s)' | tr -d '(),' | cut -d' ' -f1
}

echo "== single server"
"$tqdb" serve --data "$work/single" --listen 127.0.0.1:0 \
  --port-file "$work/single.port" >"$work/single.log" 2>&1 &
single_pid=$!
for _ in $(seq 1 100); do [ -s "$work/single.port" ] && break; sleep 0.1; done
single="127.0.0.1:$(cat "$work/single.port")"
single_cpu0=$(cpu_of "$single_pid")
single_rate=$(ingest "$single")
single_cpu=$(echo "$(cpu_of "$single_pid") - $single_cpu0" | bc)
"$tqdb" collections --server "$single" train bench >/dev/null

echo "== cluster (3 nodes)"
TQDB_BIN="$tqdb" bash "$root/tools/cluster.sh" up "$work/cluster" >/dev/null
node1=$(head -1 "$work/cluster/nodes" | cut -d' ' -f1)
for k in tqdb nats-server etcd; do
  eval "cpu0_${k//-/_}=$(cpu_kind "$work/cluster" "$k")"
done
t0=$(date +%s.%N)
cluster_rate=$(ingest "$node1")
rows=$(/usr/bin/python3 -c 'import os, struct, sys
f = open(sys.argv[1], "rb"); d = struct.unpack("<i", f.read(4))[0]
print(os.path.getsize(sys.argv[1]) // (4 + 4 * d))' "$base")
/usr/bin/python3 "$root/tools/cluster_bench.py" wait-count "$node1" bench "$rows"
applied_s=$(echo "$(date +%s.%N) - $t0" | bc)
cpu_tqdb=$(echo "$(cpu_kind "$work/cluster" tqdb) - $cpu0_tqdb" | bc)
cpu_nats=$(echo "$(cpu_kind "$work/cluster" nats-server) - $cpu0_nats_server" | bc)
cpu_etcd=$(echo "$(cpu_kind "$work/cluster" etcd) - $cpu0_etcd" | bc)
echo "CPU seconds for the ingest: single server $single_cpu; cluster until" \
  "applied: 3 tqdb nodes $cpu_tqdb, 3 nats-server $cpu_nats, etcd $cpu_etcd" \
  "(this machine has $(nproc) cores)"
"$tqdb" collections --server "$node1" train bench >/dev/null

/usr/bin/python3 "$root/tools/cluster_bench.py" compare "$single" "$node1" \
  bench "$queries" "$gt" "$single_rate" "$cluster_rate" "$applied_s"
