#!/usr/bin/python3
"""Soak test (not in CI): 4 clients mix upserts, deletes, searches and
retrains against a real `tqdb serve` for --minutes minutes (default 10),
while the server is killed with SIGKILL every --kill-every seconds (default
60) and restarted on the same data directory and port. Loopback only.

Each client owns the ids equal to its number modulo 4, and keeps a model
of what the server acknowledged for them: the version an id was last
upserted with (its vector and payload follow from (id, version)), or
deleted. A call that was in flight when the server died has an unknown
outcome: its ids may be in the state before it or after it, until a later
acknowledged call on them settles it.

During the run, searches check that a point a client just wrote is found
first (exact search for its own vector). At the end the server is
restarted cleanly, and the check is exact: every acknowledged point is
there with its version's vector and payload, every acknowledged delete is
gone, each unsettled id is in one of its two possible states, and Count
equals the number of points that are there. The numbers are printed.

usage: soak.py --tqdb BUILD/tools/tqdb --proto-dir proto
               [--minutes 10] [--kill-every 60] [--dir DIR]
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
from e2e_util import stubs  # noqa: E402

DIM = 32
CLIENTS = 4
BATCH = 50
IDS_PER_CLIENT = 20000


def vector(i, version):
    rng = random.Random(i * 1000003 + version * 7919 + 17)
    return [rng.gauss(0, 1) for _ in range(DIM)]


def payload(i, version):
    return json.dumps({"id": i, "v": version}).encode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ServerProcess:
    def __init__(self, tqdb, data, port, log):
        self.tqdb, self.data, self.port, self.log = tqdb, data, port, log
        self.proc = None
        self.lock = threading.Lock()

    def start(self):
        port_file = self.data + ".port"
        if os.path.exists(port_file):
            os.remove(port_file)
        for _ in range(100):
            self.proc = subprocess.Popen(
                [self.tqdb, "serve", "--data", self.data, "--listen",
                 "127.0.0.1:%d" % self.port, "--port-file", port_file],
                stdout=self.log, stderr=self.log)
            for _ in range(600):
                if os.path.exists(port_file) or self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            if os.path.exists(port_file):
                return
            time.sleep(0.2)  # the port is not free yet: try again
        raise RuntimeError("tqdb serve did not restart")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)


class Model:
    """What the server acknowledged for one client's ids."""

    def __init__(self):
        self.version = {}   # id -> version (present), or None (deleted)
        self.unsure = {}    # id -> set of possible states (version or None)

    def acked_upsert(self, ids, version):
        for i in ids:
            self.version[i] = version
            self.unsure.pop(i, None)

    def acked_delete(self, ids):
        for i in ids:
            self.version[i] = None
            self.unsure.pop(i, None)

    def unknown(self, ids, after):
        for i in ids:
            before = self.unsure.get(i, {self.version.get(i)})
            self.unsure[i] = set(before) | {after}
            self.version.pop(i, None)


class Client(threading.Thread):
    def __init__(self, k, address, grpc, pb, pbg, stop, stats, errors):
        super().__init__(daemon=True)
        self.k, self.grpc, self.pb = k, grpc, pb
        self.stop, self.stats, self.errors = stop, stats, errors
        self.model = Model()
        self.rng = random.Random(100 + k)
        self.next_version = 1
        ch = grpc.insecure_channel(address)
        self.pts = pbg.PointsStub(ch)
        self.cols = pbg.CollectionsStub(ch)

    def count(self, what):
        with self.stats["lock"]:
            self.stats[what] = self.stats.get(what, 0) + 1

    def ids(self, n):
        return [self.rng.randrange(IDS_PER_CLIENT) * CLIENTS + self.k
                for _ in range(n)]

    def call(self, what, fn):
        """(ok, outcome known). A call the server may have received before
        it died (UNAVAILABLE after sending, a reset connection): the outcome
        is unknown. A connection refused: not sent, not applied."""
        try:
            fn()
            self.count(what + " ok")
            return True, True
        except self.grpc.RpcError as e:
            code = e.code()
            details = e.details() or ""
            if code == self.grpc.StatusCode.UNAVAILABLE and (
                    "failed to connect" in details or
                    "Connection refused" in details):
                # Never sent: the server was down. Not applied.
                self.count(what + " refused (server down)")
                time.sleep(0.2)
                return False, True
            if code in (self.grpc.StatusCode.UNAVAILABLE,
                        self.grpc.StatusCode.DEADLINE_EXCEEDED,
                        self.grpc.StatusCode.CANCELLED,
                        self.grpc.StatusCode.UNKNOWN,
                        self.grpc.StatusCode.INTERNAL):
                self.count(what + " interrupted")
                time.sleep(0.2)
                return False, False
            self.count(what + " error")
            self.errors.append("%s: %s %s" % (what, code, e.details()))
            return False, True

    def run(self):
        pb = self.pb
        while not self.stop.is_set():
            r = self.rng.random()
            if r < 0.45:
                ids = sorted(set(self.ids(BATCH)))
                v = self.next_version
                self.next_version += 1
                req = pb.UpsertRequest(collection="soak", wait=True, points=[
                    pb.Point(id=i, vector=vector(i, v), payload=payload(i, v))
                    for i in ids])
                ok, known = self.call(
                    "upsert", lambda: self.pts.Upsert(req, timeout=60))
                if ok:
                    self.model.acked_upsert(ids, v)
                    self.check_found(ids[0], v)
                elif not known:
                    self.model.unknown(ids, v)
            elif r < 0.60:
                ids = sorted(set(self.ids(BATCH // 2)))
                req = pb.DeletePointsRequest(collection="soak", ids=ids,
                                             wait=True)
                ok, known = self.call(
                    "delete", lambda: self.pts.Delete(req, timeout=60))
                if ok:
                    self.model.acked_delete(ids)
                elif not known:
                    self.model.unknown(ids, None)
            elif r < 0.995:
                q = vector(self.rng.randrange(10**6), 0)
                self.call("search", lambda: self.pts.Search(pb.SearchRequest(
                    collection="soak", vector=q, limit=10,
                    params=pb.SearchParams(nprobe=8)), timeout=60))
            else:
                self.call("retrain", lambda: self.cols.Train(
                    pb.TrainCollectionRequest(name="soak", retrain=True),
                    timeout=600))

    def check_found(self, i, v):
        """The point just acknowledged is its own nearest neighbour."""
        try:
            r = self.pts.Search(self.pb.SearchRequest(
                collection="soak", vector=vector(i, v), limit=1,
                params=self.pb.SearchParams(exact=True), with_payload=True),
                timeout=60)
        except self.grpc.RpcError:
            return  # the server went down meanwhile
        if r.points and r.points[0].id == i and \
                r.points[0].payload == payload(i, v):
            self.count("read-your-write ok")
        else:
            self.count("read-your-write MISSING")
            self.errors.append("point %d v%d not found first right after "
                               "its upsert" % (i, v))


def verify(pts, pb, grpc, clients):
    """Exact check of the final state; returns (present, checked, errors)."""
    errors = []
    states = {}  # id -> allowed states
    for c in clients:
        for i, v in c.model.version.items():
            states[i] = {v}
        for i, s in c.model.unsure.items():
            states[i] = set(s)
    present = 0
    unsure_settled = 0
    ids = sorted(states)
    for lo in range(0, len(ids), 1000):
        chunk = ids[lo:lo + 1000]
        got = {p.id: p for p in pts.Get(pb.GetPointsRequest(
            collection="soak", ids=chunk, with_vectors=True,
            with_payload=True), timeout=120).points}
        for i in chunk:
            allowed = states[i]
            p = got.get(i)
            if p is None:
                state = None
            else:
                try:
                    state = json.loads(p.payload)["v"]
                except (ValueError, KeyError):
                    state = "bad payload %r" % p.payload
                if state in allowed and any(
                        abs(a - b) > 1e-5
                        for a, b in zip(p.vector, vector(i, state))):
                    errors.append("point %d: vector is not version %s's" %
                                  (i, state))
            if state not in allowed:
                errors.append("point %d is %s, expected %s" %
                              (i, "absent" if state is None else
                               "version %s" % state, sorted(
                                   allowed, key=lambda x: (x is None, x))))
            if p is not None:
                present += 1
            if len(allowed) > 1:
                unsure_settled += 1
    count = pts.Count(pb.CountRequest(collection="soak"), timeout=60).count
    if count != present:
        errors.append("Count says %d, %d points are there" % (count, present))
    return count, present, len(ids), unsure_settled, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--kill-every", type=float, default=60)
    ap.add_argument("--dir", default="")
    args = ap.parse_args()
    tmp = args.dir or tempfile.mkdtemp(prefix="tqdb_soak_")
    os.makedirs(tmp, exist_ok=True)
    grpc, pb, pbg = stubs(args.proto_dir, tmp)
    log = open(os.path.join(tmp, "server.log"), "w")
    port = free_port()
    server = ServerProcess(os.path.abspath(args.tqdb),
                           os.path.join(tmp, "db"), port, log)
    server.start()
    address = "127.0.0.1:%d" % port
    ch = grpc.insecure_channel(address)
    pbg.CollectionsStub(ch).Create(pb.CreateCollectionRequest(
        name="soak", dim=DIM, metric=pb.METRIC_L2), timeout=60)

    stop = threading.Event()
    stats = {"lock": threading.Lock()}
    errors = []
    clients = [Client(k, address, grpc, pb, pbg, stop, stats, errors)
               for k in range(CLIENTS)]
    t0 = time.time()
    for c in clients:
        c.start()
    kills = 0
    end = t0 + args.minutes * 60
    next_kill = t0 + args.kill_every
    while time.time() < end:
        time.sleep(min(1.0, max(0.0, end - time.time())))
        if time.time() >= next_kill and time.time() < end:
            server.kill9()
            kills += 1
            time.sleep(random.Random(kills).uniform(0.1, 1.5))
            server.start()
            next_kill += args.kill_every
            print("%4.0f s: kill -9 #%d, restarted" % (time.time() - t0,
                                                       kills), flush=True)
    stop.set()
    for c in clients:
        c.join(timeout=700)
    run_s = time.time() - t0
    rc = server.stop()
    server.start()
    ch = grpc.insecure_channel(address)
    pts = pbg.PointsStub(ch)
    info = pbg.CollectionsStub(ch).Get(
        pb.GetCollectionRequest(name="soak"), timeout=60)
    count, present, checked, unsure, verrors = verify(pts, pb, grpc, clients)
    final_rc = server.stop()

    print("soak: %.1f minutes, %d clients, kill -9 every %.0f s" %
          (run_s / 60, CLIENTS, args.kill_every))
    print("  kill -9: %d (each followed by a restart); final SIGTERM exit %d, "
          "%d" % (kills, rc, final_rc))
    for k in sorted(k for k in stats if k != "lock"):
        print("  %-28s %d" % (k, stats[k]))
    print("  collection: %d points, trained %s, nlist %d, generation %d" %
          (info.count, info.trained, info.nlist, info.generation))
    print("  checked at the end: %d ids (%d with an unknown outcome, each in "
          "one of its two states), %d present, Count %d" %
          (checked, unsure, present, count))
    all_errors = errors + verrors
    print("  errors: %d" % len(all_errors))
    for e in all_errors[:20]:
        print("    " + e)
    if not args.dir:
        shutil.rmtree(tmp, ignore_errors=True)
    ok = not all_errors and rc == 0 and final_rc == 0
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
