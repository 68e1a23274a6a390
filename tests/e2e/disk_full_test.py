#!/usr/bin/python3
"""A full disk, end to end (issue 17, item 1): a real `tqdb serve` on a
40 MB tmpfs, a gRPC client from Debian's python3-grpcio.

The disk holds a ballast file; the client upserts (wait = true) until the
disk is full. Then: writes fail with RESOURCE_EXHAUSTED (over REST: 507)
and keep failing,
searches, gets and counts keep serving, and the server stays up (it used to
abort 5 s after the first failed write, on an assertion in RocksDB's info
log). The ballast is deleted: writes resume by themselves, without a
restart. At the end every acknowledged point is there, exactly, after a
clean SIGTERM (exit 0) and a restart.

Needs root (mount -t tmpfs); without it the test is skipped (exit 77) with
a message saying so. TQDB_KEEP_TMP=1 keeps the tmpfs mounted and its files
(the server's log, the data directory with RocksDB's LOG) for a look.

usage: disk_full_test.py --tqdb BUILD/tools/tqdb --proto-dir proto
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Server, check, fail, stubs  # noqa: E402
from ops_util import free_port, http  # noqa: E402

SKIP = 77
DIM = 64
BATCH = 200


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--proto-dir", required=True)
    args = ap.parse_args()
    tqdb = os.path.abspath(args.tqdb)

    tmp = tempfile.mkdtemp(prefix="tqdb_disk_full_")
    mnt = os.path.join(tmp, "disk")
    os.makedirs(mnt)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs",
                        mnt], capture_output=True, text=True)
    if m.returncode != 0:
        print("SKIP: cannot mount a 40 MB tmpfs (this test needs root): " +
              (m.stderr.strip() or "mount exit %d" % m.returncode))
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(SKIP)
    try:
        run(tqdb, args.proto_dir, tmp, mnt)
    finally:
        if os.environ.get("TQDB_KEEP_TMP"):
            print("kept " + tmp)
        else:
            subprocess.run(["umount", "-l", mnt])
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


def run(tqdb, proto_dir, tmp, mnt):
    grpc, pb, pbg = stubs(proto_dir, tmp)
    ballast = os.path.join(mnt, "ballast")
    with open(ballast, "wb") as f:
        f.write(b"\0" * (20 << 20))
    data = os.path.join(mnt, "db")
    log = open(os.path.join(tmp, "server.log"), "w")
    rest = "http://127.0.0.1:%d" % free_port()
    server = Server(tqdb, data, tmp, log=log,
                    extra=["--http", rest[len("http://"):]])
    ch = grpc.insecure_channel(server.address)
    cols, pts = pbg.CollectionsStub(ch), pbg.PointsStub(ch)
    cols.Create(pb.CreateCollectionRequest(name="c", dim=DIM), timeout=30)

    rng = random.Random(17)
    vectors = {}

    def batch(first):
        pts_ = []
        for i in range(first, first + BATCH):
            vectors[i] = [rng.gauss(0, 1) for _ in range(DIM)]
            pts_.append(pb.Point(id=i, vector=vectors[i],
                                 payload=b'{"i": %d}' % i))
        return pb.UpsertRequest(collection="c", points=pts_, wait=True)

    acked = []  # first ids of acknowledged batches
    nxt = 0
    code = None
    t0 = time.time()
    while time.time() - t0 < 300:
        try:
            pts.Upsert(batch(nxt), timeout=60)
            acked.append(nxt)
            nxt += BATCH
        except grpc.RpcError as e:
            code, details = e.code(), e.details()
            break
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED,
          "the disk filled after %d points: RESOURCE_EXHAUSTED (%s)" %
          (len(acked) * BATCH, (details or "")[:160]))
    n = len(acked) * BATCH

    # Longer than the 5 s after which the server used to abort.
    probe = list(vectors[acked[-1]])
    for second in range(8):
        time.sleep(1)
        check(server.alive(), "server up %d s into the full disk" %
              (second + 1))
        r = pts.Search(pb.SearchRequest(collection="c", vector=probe,
                                        limit=3, with_payload=True),
                       timeout=30)
        if second == 0:
            check(r.points[0].id == acked[-1] and
                  r.points[0].payload == b'{"i": %d}' % acked[-1],
                  "search serves (the last acknowledged point is found)")
        check(pts.Count(pb.CountRequest(collection="c"),
                        timeout=30).count == n, "count = %d" % n)
        try:
            pts.Upsert(batch(nxt), timeout=60)
            fail("an upsert succeeded on the full disk")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                fail("upsert on the full disk: %s %s" % (e.code(),
                                                         e.details()))
    got = pts.Get(pb.GetPointsRequest(collection="c", ids=[acked[0]],
                                      with_vectors=True), timeout=30)
    check(len(got.points) == 1, "get serves")
    # Over REST: 507 (not the 429 of a limit), the same code and message.
    status, body = http("PUT", rest + "/collections/c/points", {
        "wait": True, "points": [{"id": nxt, "vector": [0.5] * DIM}]})
    check(status == 507 and '"RESOURCE_EXHAUSTED"' in body and
          "the disk is full" in body,
          "REST upsert on the full disk: %d %s" % (status, body))
    status, body = http("POST", rest + "/collections/c/points/count", {})
    check(status == 200 and '"%d"' % n in body, "REST count serves: " + body)

    os.remove(ballast)

    def upsert_once_accepted(first):
        """Upserts a batch, retrying RESOURCE_EXHAUSTED for up to 60 s:
        after the space returns, the flush and compaction that catch up
        write their files before they delete the old ones, and may fill
        the disk again for a while (once seen under ASan)."""
        t0 = time.time()
        while True:
            try:
                pts.Upsert(batch(first), timeout=60)
                return time.time() - t0
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    fail("upsert after space returned: %s %s" %
                         (e.code(), e.details()))
                if time.time() - t0 > 60:
                    fail("writes did not resume within 60 s of freeing 20 MB")
                time.sleep(0.2)

    waited = upsert_once_accepted(nxt)
    acked.append(nxt)
    nxt += BATCH
    check(True, "writes resumed by themselves %.1f s after 20 MB were freed" %
          waited)
    for _ in range(5):
        upsert_once_accepted(nxt)
        acked.append(nxt)
        nxt += BATCH
    check(server.alive(), "the same server process throughout")

    def verify(what):
        n = len(acked) * BATCH
        check(pts.Count(pb.CountRequest(collection="c"), timeout=30).count == n,
              "%s: count = %d acknowledged points exactly" % (what, n))
        for first in acked:
            got = pts.Get(pb.GetPointsRequest(
                collection="c", ids=list(range(first, first + BATCH)),
                with_vectors=True, with_payload=True), timeout=60)
            if len(got.points) != BATCH:
                fail("%s: batch at %d has %d of %d points" %
                     (what, first, len(got.points), BATCH))
            for p in got.points:
                if p.payload != b'{"i": %d}' % p.id or \
                        max(abs(a - b) for a, b in
                            zip(p.vector, vectors[p.id])) > 1e-6:
                    fail("%s: point %d differs" % (what, p.id))
        check(True, "%s: every acknowledged point stored as written" % what)

    verify("after recovery")
    ch.close()
    check(server.stop() == 0, "SIGTERM: exit 0 (flushed and closed)")
    server = Server(tqdb, data, tmp, log=log)
    ch = grpc.insecure_channel(server.address)
    pts = pbg.PointsStub(ch)
    verify("after a restart")
    ch.close()
    check(server.stop() == 0, "SIGTERM again: exit 0")


if __name__ == "__main__":
    main()
