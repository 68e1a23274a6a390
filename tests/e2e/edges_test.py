#!/usr/bin/python3
"""The edges of issue 17, end to end, with the real `tqdb` binary and a
gRPC client from Debian's python3-grpcio:

- a second `tqdb serve` on a busy port exits 1 with "address in use" (it
  used to share the port through SO_REUSEPORT);
- `--listen` beyond loopback with no API key and no TLS warns (checked on
  the busy port: this test never listens beyond loopback);
- the default `tqdb search` (nprobe 16) on a collection with nlist 4 over
  the server works and says "nprobe 4";
- `tqdb serve --max-payload-bytes`;
- snapshots: serving a snapshot directory is refused and leaves it as it
  was; `serve --restore` serves a copy; Snapshots.Delete.

usage: edges_test.py --tqdb BUILD/tools/tqdb --proto-dir proto
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Server, check, stubs  # noqa: E402

TQDB = None


def run(*args):
    return subprocess.run([TQDB] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=300)


def tree(path):
    """name -> sha256 of every file under path."""
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = hashlib.sha256(
                    fh.read()).hexdigest()
    return out


def main():
    global TQDB
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--proto-dir", required=True)
    args = ap.parse_args()
    TQDB = os.path.abspath(args.tqdb)
    tmp = tempfile.mkdtemp(prefix="tqdb_edges_")
    grpc, pb, pbg = stubs(args.proto_dir, tmp)
    log = open(os.path.join(tmp, "server.log"), "w")
    server = Server(TQDB, os.path.join(tmp, "db"), tmp,
                    extra=["--max-payload-bytes", "64"], log=log)
    try:
        # A busy port.
        p = run("serve", "--data", os.path.join(tmp, "db2"), "--listen",
                server.address)
        check(p.returncode == 1 and "address in use" in p.stderr,
              "second serve on %s: exit %d, %s" %
              (server.address, p.returncode, p.stderr.strip()[-80:]))
        check("warning" not in p.stderr, "loopback: no exposure warning")
        p = run("serve", "--data", os.path.join(tmp, "db2"), "--listen",
                "0.0.0.0:%d" % server.port)
        check(p.returncode == 1 and "warning: --listen 0.0.0.0" in p.stderr
              and "no API key" in p.stderr,
              "0.0.0.0 without API key or TLS: a warning")

        # Default nprobe on nlist 4, over the server.
        rng = random.Random(3)
        rows = os.path.join(tmp, "rows.jsonl")
        with open(rows, "w") as f:
            for i in range(400):
                f.write(json.dumps({"id": i,
                                    "vector": [rng.gauss(0, 1)
                                               for _ in range(8)],
                                    "payload": {"i": i}}) + "\n")
        p = run("ingest", "--server", server.address, "--collection", "c",
                "--input", rows, "--create", "--nlist", "4", "--train",
                "--progress", "none")
        check(p.returncode == 0, "ingest --nlist 4 --train: " +
              (p.stdout + p.stderr).strip()[-100:])
        p = run("search", "--server", server.address, "--collection", "c",
                "--vector", "1,0,0,0,0,0,0,0", "--k", "3")
        check(p.returncode == 0 and "nprobe 4)" in p.stdout,
              "default search (nprobe 16) on nlist 4: " +
              (p.stdout.splitlines()[0] if p.stdout else p.stderr.strip()))
        p = run("search", "--server", server.address, "--collection", "c",
                "--vector", "1,0,0,0,0,0,0,0", "--k", "3", "--json")
        check(p.returncode == 0 and json.loads(p.stdout)["nprobe_used"] == 4,
              "search --json: nprobe_used 4")

        # The payload limit.
        ch = grpc.insecure_channel(server.address)
        pts, snaps = pbg.PointsStub(ch), pbg.SnapshotsStub(ch)
        try:
            pts.Upsert(pb.UpsertRequest(collection="c", points=[pb.Point(
                id=1000, vector=[1.0] * 8,
                payload=json.dumps({"x": "y" * 70}).encode())]), timeout=30)
            check(False, "a 79-byte payload passed --max-payload-bytes 64")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and
                  "max_payload_bytes 64" in e.details(),
                  "--max-payload-bytes 64: " + e.details())

        # Snapshots.
        snap = snaps.Create(pb.CreateSnapshotRequest(), timeout=60)
        extra = snaps.Create(pb.CreateSnapshotRequest(collection="c"),
                             timeout=60)
        before = tree(snap.path)
        p = run("serve", "--data", snap.path, "--listen", "127.0.0.1:0")
        check(p.returncode == 2 and "is a snapshot" in p.stderr,
              "serving a snapshot directory is refused: " +
              p.stderr.strip()[-100:])
        restored = os.path.join(tmp, "restored")
        copy = Server(TQDB, restored, tmp, extra=["--restore", snap.path],
                      log=log)
        cch = grpc.insecure_channel(copy.address)
        cpts = pbg.PointsStub(cch)
        check(cpts.Count(pb.CountRequest(collection="c"), timeout=30).count
              == 400, "serve --restore: 400 points")
        cpts.Upsert(pb.UpsertRequest(collection="c", wait=True, points=[
            pb.Point(id=5000, vector=[0.5] * 8, payload=b'{"new": 1}')]),
            timeout=30)
        cch.close()
        check(copy.stop() == 0, "restored server: SIGTERM, exit 0")
        check(tree(snap.path) == before,
              "the snapshot is byte for byte as it was (%d files)" %
              len(before))
        snaps.Delete(pb.DeleteSnapshotRequest(name=extra.name), timeout=30)
        left = [s.name for s in snaps.List(pb.ListSnapshotsRequest(),
                                           timeout=30).snapshots]
        check(left == [snap.name] and not os.path.exists(extra.path),
              "Snapshots.Delete removed %s" % extra.name)
        try:
            snaps.Delete(pb.DeleteSnapshotRequest(name="../db"), timeout=30)
            check(False, "Snapshots.Delete took '../db'")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                  "Snapshots.Delete '../db': INVALID_ARGUMENT")
        ch.close()
    finally:
        rc = server.stop()
    check(rc == 0, "SIGTERM: exit 0")
    shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
