#!/usr/bin/python3
"""Black-box test of `tqdb serve` with a client nobody here wrote.

Debian's python3-grpcio talks to the real server process, with stubs
generated from proto/ at test time (protoc + grpc_python_plugin from Debian):
health check, reflection lists the services, create a collection, stream
20,000 vectors (use512-debian-pkgdesc when ../shared/data is there, random
vectors otherwise), search with recall against the shared ground truth,
errors as status codes, and a clean SIGTERM shutdown (exit code 0).

usage: grpc_blackbox_test.py --tqdb BUILD/tools/tqdb --proto-dir proto
                             [--data SHARED_DATA_DIR]
"""
import argparse
import array
import importlib
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import API_PROTOS, api_namespaces, check, fail  # noqa: E402


def read_vecs(path, typecode, limit=None):
    """Rows of a TEXMEX .fvecs ("f") or .ivecs ("i") file."""
    rows = []
    with open(path, "rb") as f:
        while limit is None or len(rows) < limit:
            head = f.read(4)
            if not head:
                break
            (d,) = struct.unpack("<i", head)
            a = array.array(typecode)
            a.frombytes(f.read(4 * d))
            rows.append(list(a))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--data", default="")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="tqdb_blackbox_")
    gen = os.path.join(tmp, "gen")
    os.makedirs(gen)
    # The standard protocols are copied under another directory: generated
    # at grpc/health/... they would shadow the grpc package itself.
    std = os.path.join(tmp, "std_protos", "tqdb_std")
    os.makedirs(std)
    for src, dst in (("grpc/health/v1/health.proto", "health.proto"),
                     ("grpc/reflection/v1alpha/reflection.proto",
                      "reflection.proto")):
        with open(os.path.join(args.proto_dir, src)) as f, \
                open(os.path.join(std, dst), "w") as g:
            g.write(f.read())
    plugin = "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin"
    subprocess.run(["protoc", "-I", args.proto_dir, "--python_out=" + gen,
                    "--grpc_out=" + gen, plugin] + list(API_PROTOS),
                   check=True)
    subprocess.run(["protoc", "-I", os.path.join(tmp, "std_protos"),
                    "--python_out=" + gen, "--grpc_out=" + gen, plugin,
                    "tqdb_std/health.proto", "tqdb_std/reflection.proto"],
                   check=True)
    sys.path.insert(0, gen)
    import grpc  # Debian's python3-grpcio
    pb, pbg = api_namespaces()
    hpb = importlib.import_module("tqdb_std.health_pb2")
    hpbg = importlib.import_module("tqdb_std.health_pb2_grpc")
    rpb = importlib.import_module("tqdb_std.reflection_pb2")
    rpbg = importlib.import_module("tqdb_std.reflection_pb2_grpc")

    port_file = os.path.join(tmp, "port")
    server = subprocess.Popen(
        [args.tqdb, "serve", "--data", os.path.join(tmp, "db"), "--listen",
         "127.0.0.1:0", "--port-file", port_file])
    try:
        for _ in range(300):
            if os.path.exists(port_file) or server.poll() is not None:
                break
            time.sleep(0.05)
        check(os.path.exists(port_file), "server started and wrote its port")
        port = int(open(port_file).read())
        opts = [("grpc.max_send_message_length", 64 << 20),
                ("grpc.max_receive_message_length", 64 << 20)]
        ch = grpc.insecure_channel("127.0.0.1:%d" % port, options=opts)
        grpc.channel_ready_future(ch).result(timeout=10)

        # Health and reflection.
        health = hpbg.HealthStub(ch)
        r = health.Check(hpb.HealthCheckRequest(service=""), timeout=10)
        check(r.status == hpb.HealthCheckResponse.SERVING, "health: SERVING")
        r = health.Check(hpb.HealthCheckRequest(service="tqdb.v1.Points"),
                         timeout=10)
        check(r.status == hpb.HealthCheckResponse.SERVING,
              "health of tqdb.v1.Points: SERVING")
        refl = rpbg.ServerReflectionStub(ch)
        resps = list(refl.ServerReflectionInfo(
            iter([rpb.ServerReflectionRequest(list_services="*")]),
            timeout=10))
        names = {s.name for s in resps[0].list_services_response.service}
        for want in ("tqdb.v1.Collections", "tqdb.v1.Points",
                     "tqdb.v1.Snapshots", "grpc.health.v1.Health"):
            check(want in names, "reflection lists " + want)
        resps = list(refl.ServerReflectionInfo(
            iter([rpb.ServerReflectionRequest(
                file_containing_symbol="tqdb.v1.Points")]), timeout=10))
        check(len(resps[0].file_descriptor_response.file_descriptor_proto) > 0,
              "reflection serves the descriptor of tqdb.v1.Points")

        # Data: the real use512 set when present.
        use = os.path.join(args.data, "use512-debian-pkgdesc")
        real = bool(args.data) and os.path.isdir(use)
        if real:
            base = read_vecs(os.path.join(use, "debdesc_use512_base_20k.fvecs"), "f")
            queries = read_vecs(
                os.path.join(use, "debdesc_use512_query_1k.fvecs"), "f", 100)
            gt = read_vecs(
                os.path.join(use, "debdesc_use512_query_1k.gt_ip_top100.ivecs"),
                "i", 100)
            metric = pb.METRIC_IP
        else:
            print("note: shared data absent, using random vectors")
            rng = random.Random(5)
            base = [[rng.gauss(0, 1) for _ in range(64)] for _ in range(20000)]
            queries = base[:100]
            gt = [[i] for i in range(100)]
            metric = pb.METRIC_L2
        dim = len(base[0])
        check(len(base) == 20000, "20,000 vectors to stream (dim %d)" % dim)

        cols = pbg.CollectionsStub(ch)
        pts = pbg.PointsStub(ch)
        info = cols.Create(pb.CreateCollectionRequest(
            name="blackbox", dim=dim, metric=metric,
            quantizer=pb.QuantizerConfig(method=pb.METHOD_RENORM, bits=4),
            ivf=pb.IvfConfig(nlist=64), store_vectors=True), timeout=30)
        check(info.name == "blackbox" and info.dim == dim and
              not info.trained, "Collections.Create")
        try:
            cols.Create(pb.CreateCollectionRequest(name="blackbox", dim=dim),
                        timeout=30)
            fail("duplicate create accepted")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.ALREADY_EXISTS,
                  "duplicate create: ALREADY_EXISTS")

        def batches():
            for start in range(0, len(base), 1000):
                yield pb.UpsertRequest(
                    collection="blackbox",
                    points=[pb.Point(id=i, vector=base[i],
                                     payload=b'{"row": %d}' % i)
                            for i in range(start, min(len(base), start + 1000))])

        t0 = time.time()
        resp = pts.UpsertStream(batches(), timeout=300)
        dt = time.time() - t0
        check(resp.upserted == 20000 and resp.batches == 20,
              "UpsertStream stored 20,000 points in 20 batches "
              "(%.0f vectors/s from Python)" % (20000 / dt))
        check(pts.Count(pb.CountRequest(collection="blackbox"),
                        timeout=30).count == 20000, "Count = 20,000")
        info = cols.Train(pb.TrainCollectionRequest(name="blackbox"),
                          timeout=300)
        check(info.trained and info.nlist == 64 and info.bytes_per_vector > 0,
              "trained: nlist %d, %d bytes/vector" %
              (info.nlist, info.bytes_per_vector))

        hits = 0
        for qi, q in enumerate(queries):
            r = pts.Search(pb.SearchRequest(
                collection="blackbox", vector=q, limit=10,
                params=pb.SearchParams(nprobe=16, rescore=True,
                                       oversampling=4),
                with_payload=(qi == 0)), timeout=30)
            if qi == 0:
                check(r.points[0].payload == b'{"row": %d}' % r.points[0].id,
                      "payload comes back with the hit")
            hits += len({p.id for p in r.points} & set(gt[qi][:10])) if real \
                else int(r.points[0].id == gt[qi][0])
        recall = hits / (10.0 * len(queries)) if real else hits / len(queries)
        check(recall >= 0.85, "search recall %.3f (%s)" %
              (recall, "10-recall@10 vs shared gt, nprobe 16, rescore"
               if real else "self match"))

        r = pts.Search(pb.SearchRequest(
            collection="blackbox", vector=queries[0], limit=5,
            params=pb.SearchParams(nprobe=65)), timeout=30)
        check(len(r.points) == 5 and r.nprobe_used == 64,
              "nprobe 65 > nlist 64: clamped, nprobe_used 64")

        r = pts.SearchBatch(pb.SearchBatchRequest(
            collection="blackbox",
            searches=[pb.SearchRequest(vector=q, limit=5) for q in queries[:32]]),
            timeout=30)
        check(len(r.results) == 32 and all(len(x.points) == 5
                                           for x in r.results),
              "SearchBatch of 32")

        for bad, code, what in [
                (pb.SearchRequest(collection="blackbox", vector=[1.0] * 3,
                                  limit=5),
                 grpc.StatusCode.INVALID_ARGUMENT, "wrong dimension"),
                (pb.SearchRequest(collection="blackbox", vector=queries[0],
                                  limit=0),
                 grpc.StatusCode.INVALID_ARGUMENT, "limit 0"),
                (pb.SearchRequest(collection="nope", vector=queries[0],
                                  limit=5),
                 grpc.StatusCode.NOT_FOUND, "unknown collection")]:
            try:
                pts.Search(bad, timeout=30)
                fail(what + " accepted")
            except grpc.RpcError as e:
                check(e.code() == code, "%s: %s (%s)" %
                      (what, code.name, e.details()))
        try:
            pts.Upsert(pb.UpsertRequest(collection="blackbox", points=[
                pb.Point(id=99999, vector=queries[0]),
                pb.Point(id=99998, vector=[float("nan")] * dim)]), timeout=30)
            fail("NaN accepted")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                  "NaN point rejects its batch (%s)" % e.details())
        check(pts.Count(pb.CountRequest(collection="blackbox"),
                        timeout=30).count == 20000,
              "nothing of the rejected batch stored")
        ch.close()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            fail("server did not stop within 60 s of SIGTERM")
    check(rc == 0, "SIGTERM: server exited 0")
    subprocess.run(["rm", "-rf", tmp])
    print("PASS")


if __name__ == "__main__":
    main()
