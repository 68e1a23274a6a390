#!/usr/bin/env bash
# tools/cluster.sh end to end: up (1 etcd, 3 nats-server, 3 tqdb nodes on
# free loopback ports) writes DIR/nodes, status reports every part, the CLI
# ingests through a node, a SIGSTOPped node shows as stopped, down stops
# everything it started, and up on the same DIR restarts the same cluster
# (its collection still there); filters and payload indexes through the
# CLI; tqdb cluster status, drain and undrain; a snapshot made, restored
# and deleted.
# Usage: cluster_sh_test.sh TQDB_BIN SAMPLE_FVECS
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export TQDB_BIN="$1"
sample="$2"
dir="$(mktemp -d "${TMPDIR:-/tmp}/tqdb_cluster_sh.XXXXXX")"
cleanup() {
  bash "$root/tools/cluster.sh" down "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  # Each node's view (a failure here so far was a read through a node whose
  # map had just changed: what each node saw says which).
  while read -r addr _; do
    echo "== tqdb cluster status --server $addr"
    "$TQDB_BIN" cluster status --server "$addr" 2>&1 || true
  done < "$dir/nodes"
  for f in "$dir"/*.log; do echo "== $f"; tail -n 20 "$f"; done
  exit 1
}
ok() { echo "ok: $*"; }

bash "$root/tools/cluster.sh" up "$dir" || fail "up"
[ "$(grep -c . "$dir/nodes")" -eq 3 ] || fail "DIR/nodes has not 3 lines"
while read -r addr pid; do
  [[ "$addr" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "bad address '$addr'"
  kill -0 "$pid" || fail "pid $pid of $addr is not running"
done <"$dir/nodes"
ok "up: DIR/nodes lists 3 running nodes"

out=$(bash "$root/tools/cluster.sh" status "$dir") || fail "status: $out"
[ "$(grep -c "up, registered" <<<"$out")" -eq 3 ] || fail "status: $out"
[ "$(grep -c "^nats-server .* up$" <<<"$out")" -eq 3 ] || fail "status: $out"
grep -q "^etcd .* up$" <<<"$out" || fail "status: $out"
ok "status: etcd, 3 NATS servers, 3 registered nodes"

node1=$(head -1 "$dir/nodes" | cut -d' ' -f1)
node3=$(tail -1 "$dir/nodes" | cut -d' ' -f1)
"$TQDB_BIN" ingest --server "$node1" --collection glove --input "$sample" \
  --create --metric cosine --progress none >"$dir/ingest.out" 2>&1 ||
  fail "ingest: $(cat "$dir/ingest.out")"
grep -q "ingested 18,000 rows" "$dir/ingest.out" || fail "$(cat "$dir/ingest.out")"
"$TQDB_BIN" collections --server "$node3" | grep -q "^glove " ||
  fail "the collection is not listed by another node"
ok "ingest through node 1, listed by node 3"

# Filters through the CLI: a filtered count and scroll answered over the
# shards (eventual reads: polled until the replicas applied the ingest), a
# payload index created on every shard, a bad filter named (exit 2).
ids='{"must": [{"has_id": [3, 5, 17000, 999999]}]}'
n=""
for _ in $(seq 1 100); do
  n=$("$TQDB_BIN" collections --server "$node3" count glove --filter "$ids") ||
    fail "filtered count: $n"
  [ "$n" = 3 ] && break
  sleep 0.1
done
[ "$n" = 3 ] || fail "filtered count: '$n', expected 3"
# Polled too: node 1 may read other replicas than node 3's count did.
for _ in $(seq 1 100); do
  out=$("$TQDB_BIN" scroll --server "$node1" --collection glove --all \
    --no-payload --filter "$ids" | awk 'NR > 1 {printf "%s ", $1}')
  [ "$out" = "3 5 17000 " ] && break
  sleep 0.1
done
[ "$out" = "3 5 17000 " ] || fail "filtered scroll: '$out'"
out=$("$TQDB_BIN" collections --server "$node3" index glove lang keyword) ||
  fail "index: $out"
"$TQDB_BIN" collections --server "$node1" info glove | grep -q '"lang"' ||
  fail "the index is not in the collection's info"
if out=$("$TQDB_BIN" collections --server "$node1" count glove \
  --filter '{"must": [{"key": "x"}]}' 2>&1); then
  fail "a bad filter was accepted: $out"
fi
grep -q "must\[0\]" <<<"$out" || fail "bad filter: $out"
ok "filtered count and scroll over the shards, an index on every shard"

# tqdb cluster: a node's status; node 3 drained (its shards move to nodes 1
# and 2, followed to 0 replicas left), the collection whole meanwhile, a
# drain that would leave too few nodes refused; then the drain ended.
out=$("$TQDB_BIN" cluster status --server "$node3") || fail "status: $out"
grep -q "^node 3 at $node3: etcd connected, NATS connected;" <<<"$out" ||
  fail "cluster status: $out"
out=$("$TQDB_BIN" cluster drain 3 --server "$node1") || fail "drain: $out"
grep -q "^node 3 is being drained" <<<"$out" || fail "drain: $out"
for _ in $(seq 1 300); do
  out=$("$TQDB_BIN" cluster drain 3 --server "$node1") || fail "drain: $out"
  grep -q "0 shard replicas left on it (drained" <<<"$out" && break
  sleep 0.2
done
grep -q "0 shard replicas left on it (drained" <<<"$out" ||
  fail "node 3 not drained in 60 s: $out"
out=$("$TQDB_BIN" cluster status --server "$node1") || fail "status: $out"
grep -Eq "^3 +$node3 +live, draining +0 +0$" <<<"$out" ||
  fail "node 1's view of the drained node 3: $out"
out=$("$TQDB_BIN" cluster status --server "$node3" --json) ||
  fail "status --json: $out"
grep -q '"draining":true' <<<"$out" && grep -q '"mappedReplicas":0' <<<"$out" ||
  fail "status --json of the drained node: $out"
n=$("$TQDB_BIN" collections --server "$node3" count glove) || fail "count: $n"
[ "$n" = 18000 ] || fail "count after the drain: $n"
if out=$("$TQDB_BIN" cluster drain 2 --server "$node3" 2>&1); then
  fail "a drain leaving one node for 2 replicas was accepted: $out"
fi
grep -q "start another node first" <<<"$out" || fail "drain 2: $out"
rc=0
out=$("$TQDB_BIN" cluster drain 9 --server "$node1" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "node 9 is neither registered" <<<"$out" ||
  fail "drain of an unknown node (exit $rc): $out"
out=$("$TQDB_BIN" cluster undrain 3 --server "$node1") || fail "undrain: $out"
grep -q "^node 3 is not being drained" <<<"$out" || fail "undrain: $out"
ok "cluster status; node 3 drained to 0 replicas and undrained"

# Snapshots through the CLI: one of glove made by node 3 (which holds no
# replica now: every shard copied from nodes 1 and 2), listed there,
# restored into the cluster under another name (the same points), refused
# under a taken name (exit 2), deleted.
out=$("$TQDB_BIN" snapshots --server "$node3" create glove) ||
  fail "snapshot: $out"
snap=$(awk '{print $2; exit}' <<<"$out")
path=${out##* at }
[ -d "$path" ] || fail "snapshot: no directory '$path': $out"
"$TQDB_BIN" snapshots --server "$node3" | grep -q "^$snap  *glove " ||
  fail "snapshot $snap not listed by node 3"
out=$("$TQDB_BIN" snapshots restore "$path" --server "$node1" \
  --collection glove --as glove_copy) || fail "restore: $out"
grep -q "^restored collection 'glove' as 'glove_copy': 18,000 points, 1 payload indexes$" <<<"$out" ||
  fail "restore: $out"
node2=$(sed -n 2p "$dir/nodes" | cut -d' ' -f1)
n=""
for _ in $(seq 1 100); do
  n=$("$TQDB_BIN" collections --server "$node2" count glove_copy) ||
    fail "count of the restored collection: $n"
  [ "$n" = 18000 ] && break
  sleep 0.1
done
[ "$n" = 18000 ] || fail "count of the restored collection: $n"
rc=0
out=$("$TQDB_BIN" snapshots restore "$path" --server "$node1" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "collection 'glove' exists" <<<"$out" ||
  fail "a restore over an existing collection (exit $rc): $out"
"$TQDB_BIN" snapshots --server "$node3" delete "$snap" >/dev/null ||
  fail "snapshot delete"
[ ! -e "$path" ] || fail "the deleted snapshot is still in $path"
"$TQDB_BIN" collections --server "$node1" drop glove_copy >/dev/null ||
  fail "drop glove_copy"
ok "a snapshot through node 3, restored as another collection, deleted"

pid2=$(sed -n 2p "$dir/nodes" | cut -d' ' -f2)
kill -STOP "$pid2"
out=$(bash "$root/tools/cluster.sh" status "$dir") || true
grep -q "stopped (SIGSTOP)" <<<"$out" || fail "status of a stopped node: $out"
kill -CONT "$pid2"
ok "status shows a SIGSTOPped node"

bash "$root/tools/cluster.sh" down "$dir" >/dev/null || fail "down"
while read -r kind name addr pid; do
  ! kill -0 "$pid" 2>/dev/null || fail "$kind $name (pid $pid) still runs"
done <"$dir/services"
if bash "$root/tools/cluster.sh" status "$dir" >/dev/null; then
  fail "status after down says all is up"
fi
ok "down stops all 7 processes"

bash "$root/tools/cluster.sh" up "$dir" >/dev/null || fail "up again"
node2=$(sed -n 2p "$dir/nodes" | cut -d' ' -f1)
"$TQDB_BIN" collections --server "$node2" | grep -q "^glove " ||
  fail "the collection is gone after a restart"
ok "up again on the same DIR: same cluster, collection still there"
