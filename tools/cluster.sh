#!/usr/bin/env bash
# A tqdb cluster on this machine (README "Cluster"), every part on a free
# loopback port with its data under DIR:
#
#   tools/cluster.sh up DIR      1 etcd, 3 nats-server (JetStream, clustered)
#                                and 3 `tqdb serve --cluster` nodes; returns
#                                once every node serves and is registered,
#                                and writes DIR/nodes: one line per tqdb node,
#                                "HOST:PORT PID".
#   tools/cluster.sh down DIR    stops everything `up` started (tqdb nodes
#                                first, SIGTERM then SIGKILL after 30 s);
#                                the data stays: `up DIR` again restarts the
#                                same cluster on the same ports.
#   tools/cluster.sh status DIR  each part's state (process, port, and for
#                                tqdb nodes their registration in etcd).
#
# Environment: TQDB_BIN (default build/tools/tqdb: run tools/build.sh
# --target tqdb first), TQDB_CLUSTER_NODES (3), TQDB_CLUSTER_NATS (3),
# TQDB_STREAM_REPLICAS (3, at most the NATS servers).
# Exit codes: 0 done, 1 a part did not start or stop (its log is named),
# 2 usage.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tqdb="${TQDB_BIN:-${TQDB_BUILD_DIR:-$root/build}/tools/tqdb}"
nodes="${TQDB_CLUSTER_NODES:-3}"
nats_n="${TQDB_CLUSTER_NATS:-3}"
stream_replicas="${TQDB_STREAM_REPLICAS:-3}"
[ "$stream_replicas" -gt "$nats_n" ] && stream_replicas="$nats_n"
etcd_bin="$(command -v etcd || echo /usr/bin/etcd)"
etcdctl_bin="$(command -v etcdctl || echo /usr/bin/etcdctl)"
nats_bin="$(command -v nats-server || echo /usr/sbin/nats-server)"

usage() {
  echo "usage: tools/cluster.sh up|down|status DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd="$1"
dir="$2"

starting=""
die() {
  echo "cluster.sh: $*" >&2
  # A failed `up` stops what it started (logs and data stay).
  if [ -n "$starting" ] && [ -f "$dir/services.new" ]; then
    mv "$dir/services.new" "$dir/services"
  fi
  if [ -n "$starting" ] && [ -f "$dir/services" ]; then
    starting=""
    down >/dev/null
  fi
  exit 1
}

# n free loopback ports, one a line (bound together, then released).
free_ports() {
  /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A pid from DIR/services that is still the program we started.
alive() {
  local pid="$1" prog="$2"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$prog"
}

# Waits up to $2 tenths of a second for `$1` to succeed.
wait_for() {
  local check="$1" tenths="$2"
  for _ in $(seq 1 "$tenths"); do
    eval "$check" && return 0
    sleep 0.1
  done
  return 1
}

start_bg() {  # log, then the command: started in its own session
  local log="$1"
  shift
  setsid "$@" >>"$log" 2>&1 </dev/null &
  echo $!
}

up() {
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ -x "$tqdb" ] || die "no tqdb binary at $tqdb (run tools/build.sh --target tqdb, or set TQDB_BIN)"
  if [ -f "$dir/services" ]; then
    while read -r kind name addr pid; do
      alive "$pid" "$kind" && die "$kind $name (pid $pid) of $dir is still running: tools/cluster.sh down $dir first"
    done <"$dir/services"
  fi
  # Ports: kept from an earlier `up` (etcd's peer URL and the NATS routes
  # are in their data), else new ones.
  if [ ! -f "$dir/ports" ]; then
    echo $(free_ports $((2 + 2 * nats_n + nodes))) >"$dir/ports"
  fi
  read -r -a ports <"$dir/ports"
  [ "${#ports[@]}" -eq $((2 + 2 * nats_n + nodes)) ] ||
    die "$dir/ports does not match $nats_n NATS servers and $nodes nodes"
  local etcd_port="${ports[0]}" etcd_peer="${ports[1]}"
  : >"$dir/services.new"
  starting=1

  local client="http://127.0.0.1:$etcd_port" peer="http://127.0.0.1:$etcd_peer"
  local pid
  pid=$(start_bg "$dir/etcd.log" "$etcd_bin" --name e0 --data-dir "$dir/etcd" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "e0=$peer" --logger zap --log-outputs stderr)
  echo "etcd e0 127.0.0.1:$etcd_port $pid" >>"$dir/services.new"
  wait_for "ETCDCTL_API=3 '$etcdctl_bin' --endpoints=127.0.0.1:$etcd_port --dial-timeout=1s endpoint health >/dev/null 2>&1" 200 ||
    die "etcd did not start on 127.0.0.1:$etcd_port (log: $dir/etcd.log)"

  local routes="" i
  for ((i = 0; i < nats_n; i++)); do
    routes="${routes:+$routes,}nats://127.0.0.1:${ports[$((2 + 2 * i + 1))]}"
  done
  local nats_urls=""
  for ((i = 0; i < nats_n; i++)); do
    local cport="${ports[$((2 + 2 * i))]}" rport="${ports[$((2 + 2 * i + 1))]}"
    mkdir -p "$dir/nats/n$i"
    pid=$(start_bg "$dir/nats$i.log" "$nats_bin" -js -sd "$dir/nats/n$i" \
      -a 127.0.0.1 -p "$cport" -n "n$i" --cluster_name tqdb \
      --cluster "nats://127.0.0.1:$rport" --routes "$routes")
    echo "nats-server n$i 127.0.0.1:$cport $pid" >>"$dir/services.new"
    nats_urls="${nats_urls:+$nats_urls,}nats://127.0.0.1:$cport"
  done
  for ((i = 0; i < nats_n; i++)); do
    wait_for "port_open ${ports[$((2 + 2 * i))]}" 200 ||
      die "nats-server n$i did not start (log: $dir/nats$i.log)"
  done

  : >"$dir/nodes.new"
  for ((i = 1; i <= nodes; i++)); do
    local port="${ports[$((1 + 2 * nats_n + i))]}"
    mkdir -p "$dir/node$i"
    rm -f "$dir/node$i/port"
    pid=$(start_bg "$dir/node$i.log" "$tqdb" serve --data "$dir/node$i/data" \
      --listen "127.0.0.1:$port" --advertise "127.0.0.1:$port" \
      --port-file "$dir/node$i/port" \
      --cluster "etcd=127.0.0.1:$etcd_port" --nats "$nats_urls" \
      --node-id "$i" --stream-replicas "$stream_replicas")
    echo "tqdb $i 127.0.0.1:$port $pid" >>"$dir/services.new"
    echo "127.0.0.1:$port $pid" >>"$dir/nodes.new"
  done
  mv "$dir/services.new" "$dir/services"
  # 90 s: a node waits up to 60 s for JetStream (nats_timeout) when NATS
  # restarted as a whole and recovers its state first.
  for ((i = 1; i <= nodes; i++)); do
    pid=$(awk -v n="$i" '$1 == "tqdb" && $2 == n {print $4}' "$dir/services")
    wait_for "[ -s '$dir/node$i/port' ] || ! kill -0 $pid 2>/dev/null" 900
    [ -s "$dir/node$i/port" ] ||
      die "tqdb node $i did not start (log: $dir/node$i.log): $(tail -n 3 "$dir/node$i.log")"
  done
  wait_for "[ \$(ETCDCTL_API=3 '$etcdctl_bin' --endpoints=127.0.0.1:$etcd_port get --prefix tqdb/nodes/ --keys-only 2>/dev/null | grep -c .) -ge $nodes ]" 300 ||
    die "not every tqdb node registered in etcd (logs: $dir/node*.log)"
  mv "$dir/nodes.new" "$dir/nodes"
  starting=""
  echo "cluster up in $dir: etcd 127.0.0.1:$etcd_port, nats $nats_urls"
  echo "tqdb nodes ($dir/nodes):"
  sed 's/^/  /' "$dir/nodes"
}

stop_kind() {  # stops every service of one kind, in parallel
  local kind="$1" stopped=()
  while read -r k name addr pid; do
    [ "$k" = "$kind" ] || continue
    if alive "$pid" "$k"; then
      kill -CONT "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
      stopped+=("$pid")
    fi
  done <"$dir/services"
  local pid
  for pid in "${stopped[@]}"; do
    if ! wait_for "! kill -0 $pid 2>/dev/null" 300; then
      echo "cluster.sh: $kind pid $pid did not stop on SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

down() {
  [ -f "$dir/services" ] || die "$dir was not started by tools/cluster.sh up"
  stop_kind tqdb
  stop_kind nats-server
  stop_kind etcd
  rm -f "$dir/nodes"
  echo "cluster down in $dir (data kept)"
}

status() {
  [ -f "$dir/services" ] || die "$dir was not started by tools/cluster.sh up"
  local etcd_addr registered=""
  etcd_addr=$(awk '$1 == "etcd" {print $3}' "$dir/services")
  registered=$(ETCDCTL_API=3 "$etcdctl_bin" --endpoints="$etcd_addr" \
    --dial-timeout=1s --command-timeout=2s get --prefix tqdb/nodes/ 2>/dev/null |
    grep -o '"address":"[^"]*"' | cut -d'"' -f4 || true)
  local down=0
  while read -r kind name addr pid; do
    local state="down"
    if alive "$pid" "$kind"; then
      if grep -q "^State:.*T (stopped)" "/proc/$pid/status" 2>/dev/null; then
        state="stopped (SIGSTOP)"
      elif port_open "${addr##*:}"; then
        state="up"
      else
        state="running, port closed"
      fi
    fi
    if [ "$kind" = "tqdb" ] && [ "$state" = "up" ]; then
      if grep -qx "$addr" <<<"$registered"; then
        state="up, registered"
      else
        state="up, not registered"
      fi
    fi
    [ "$state" = "down" ] && down=$((down + 1))
    printf '%-12s %-4s %-22s pid %-8s %s\n' "$kind" "$name" "$addr" "$pid" "$state"
  done <"$dir/services"
  [ "$down" -eq 0 ]
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) usage ;;
esac
