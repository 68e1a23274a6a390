"""tools/cluster_bench.sh's client: waits for a cluster to apply an ingest,
then times searches one at a time against a single server and a cluster
node with the same data (Debian's python3-grpcio and the committed stubs
of rpc/python), and prints the comparison table.

  cluster_bench.py wait-count ADDR COLLECTION N
  cluster_bench.py compare SINGLE CLUSTER COLLECTION QUERIES.fvecs GT.ivecs
                   SINGLE_ROWS_S CLUSTER_ROWS_S CLUSTER_APPLIED_S
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "rpc",
                                "python"))
import grpc  # noqa: E402
from tqdb.v1 import points_pb2, points_pb2_grpc  # noqa: E402


def read_vecs(path, fmt):
    rows = []
    with open(path, "rb") as f:
        while True:
            head = f.read(4)
            if not head:
                return rows
            (d,) = struct.unpack("<i", head)
            rows.append(struct.unpack("<%d%s" % (d, fmt), f.read(4 * d)))


def stub(addr):
    return points_pb2_grpc.PointsStub(grpc.insecure_channel(addr))


def wait_count(addr, coll, n):
    points = stub(addr)
    deadline = time.time() + 600
    while time.time() < deadline:
        got = points.Count(points_pb2.CountRequest(collection=coll)).count
        if got >= n:
            return
        time.sleep(0.2)
    sys.exit("count stayed below %d" % n)


def timed(points, coll, queries, gt, exact):
    lat, hits = [], 0
    for q, truth in zip(queries, gt):
        req = points_pb2.SearchRequest(collection=coll, vector=q, limit=10)
        req.params.exact = exact
        t0 = time.perf_counter()
        resp = points.Search(req)
        lat.append((time.perf_counter() - t0) * 1000)
        hits += len({p.id for p in resp.points} & set(truth[:10]))
    lat.sort()
    pick = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]  # noqa: E731
    return pick(0.5), pick(0.99), hits / (10.0 * len(queries))


def compare(single, cluster, coll, qpath, gtpath, single_rate, cluster_rate,
            applied_s):
    queries = read_vecs(qpath, "f")
    gt = read_vecs(gtpath, "i")
    rows = []
    for exact in (False, True):
        for name, addr in (("single server", single),
                           ("cluster node 1", cluster)):
            points = stub(addr)
            timed(points, coll, queries[:50], gt[:50], exact)  # warm up
            p50, p99, recall = timed(points, coll, queries, gt, exact)
            rows.append((name, "exact" if exact else "nprobe 16", p50, p99,
                         recall))
    print("ingest (CLI, batches of 1000): single server %s rows/s, cluster "
          "%s rows/s acknowledged (%.2fx); every replica applied after "
          "%.1f s" % (single_rate, cluster_rate,
                      float(cluster_rate) / float(single_rate),
                      float(applied_s)))
    print("%-15s %-10s %9s %9s %10s" % ("searched on", "search", "p50 ms",
                                         "p99 ms", "recall@10"))
    for r in rows:
        print("%-15s %-10s %9.2f %9.2f %10.3f" % r)


if __name__ == "__main__":
    if sys.argv[1] == "wait-count":
        wait_count(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "compare":
        compare(*sys.argv[2:10])
    else:
        sys.exit(__doc__)
