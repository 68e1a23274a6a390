#!/usr/bin/python3
"""The Python client (rpc/python) as a user gets it: installed offline with
`pip install --no-deps --no-build-isolation` (into a temporary --target, on
Debian's python3-grpcio, python3-protobuf and python3-numpy), its generated
stubs checked against a fresh protoc run (no drift), then unittest cases
against a real `tqdb serve` (one with an API key and a memory limit).

usage: python_client_test.py --tqdb BUILD/tools/tqdb --source rpc/python
"""
import argparse
import filecmp
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_util import Serve  # noqa: E402

ARGS = None
SERVER = None   # Serve, with an API key and a memory limit
KEY = "py-client-key"


def install(source, target):
    """pip-installs a copy of the package (the build must not write into
    the source tree) into target."""
    build = tempfile.mkdtemp(prefix="tqdb_pybuild_")
    src = os.path.join(build, "python")
    shutil.copytree(source, src, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info"))
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps",
                        "--no-build-isolation", "--no-index", "--quiet",
                        "--target", target, src],
                       capture_output=True, text=True, env=env)
    shutil.rmtree(build, ignore_errors=True)
    if r.returncode != 0:
        raise SystemExit("FAIL: pip install: " + r.stdout + r.stderr)


class StubsTest(unittest.TestCase):
    def test_committed_stubs_are_what_protoc_generates(self):
        out = tempfile.mkdtemp(prefix="tqdb_stubs_")
        subprocess.run(["bash", os.path.join(ARGS.source, "generate.sh"), out],
                       check=True)
        generated = sorted(os.listdir(os.path.join(out, "tqdb", "v1")))
        committed_stubs = sorted(
            f for f in os.listdir(os.path.join(ARGS.source, "tqdb", "v1"))
            if f.endswith(("_pb2.py", "_pb2_grpc.py")))
        self.assertEqual(generated, committed_stubs,
                         "run rpc/python/generate.sh (and remove stale stubs)")
        for f in generated:
            fresh = os.path.join(out, "tqdb", "v1", f)
            committed = os.path.join(ARGS.source, "tqdb", "v1", f)
            self.assertTrue(filecmp.cmp(fresh, committed, shallow=False),
                            "%s differs from protoc's output: run "
                            "rpc/python/generate.sh" % committed)
        shutil.rmtree(out)


class ClientTest(unittest.TestCase):
    def setUp(self):
        import tqdb_client
        self.tc = tqdb_client
        self.db = tqdb_client.Client(SERVER.grpc, api_key=KEY)
        self.name = self.id().split(".")[-1][:60]

    def tearDown(self):
        try:
            self.db.delete_collection(self.name)
        except self.tc.Error:
            pass
        self.db.close()

    def test_create_upsert_search_retrieve_count_delete(self):
        import grpc
        import numpy as np
        info = self.db.create_collection(self.name, dim=32, metric="cosine",
                                         bits=4, nlist=8, refine="f32",
                                         prefix_sharing="always")
        self.assertEqual((info.refine, info.prefix_sharing),
                         ("f32", "always"))
        with self.assertRaises(ValueError):
            self.db.create_collection("x", dim=4, prefix_sharing="sometimes")
        self.assertEqual((info.name, info.dim, info.count, info.metric,
                          info.method, info.bits), (self.name, 32, 0,
                                                    "cosine", "renorm", 4))
        rng = np.random.default_rng(1)
        x = rng.standard_normal((2500, 32)).astype(np.float64)  # any dtype
        ids = np.arange(100, 2600)
        # Payloads are JSON: values, or bytes of JSON text as they are.
        payloads = [{"row": i} if i % 2 else b'"text"' for i in range(2500)]
        n = self.db.upsert(self.name, ids, x, payloads, batch_size=400,
                           wait=True)
        self.assertEqual(n, 2500)
        self.assertEqual(self.db.count(self.name), 2500)
        info = self.db.train(self.name)
        self.assertTrue(info.trained)
        self.assertTrue(info.codec.startswith("renorm 4-bit ("), info.codec)
        self.assertEqual(info.nlist, 8)
        self.assertGreater(info.memory.index_bytes, 0)
        self.assertEqual(info.memory.limit_bytes, 4 << 20)

        hits = self.db.search(self.name, x[7], limit=5, rescore=True,
                              nprobe=8)
        self.assertIsInstance(hits[0], self.tc.ScoredPoint)
        self.assertEqual(hits[0].id, 107)
        self.assertAlmostEqual(hits[0].score, 1.0, places=4)
        self.assertEqual(hits[0].payload, {"row": 7})
        self.assertIsNone(hits[0].vector)
        self.assertEqual([h.score for h in hits],
                         sorted((h.score for h in hits), reverse=True))
        # Pages: offset skips the best results of the same search.
        ten = self.db.search(self.name, x[7], limit=10, exact=True)
        page2 = self.db.search(self.name, x[7], limit=5, offset=5, exact=True)
        self.assertEqual([h.id for h in page2], [h.id for h in ten[5:]])
        # Search by example: one positive is its own vector's search
        # without itself; with a negative, 2 * mean(pos) - mean(neg) of the
        # normalized vectors (cosine).
        like = self.db.recommend(self.name, [107], limit=5, exact=True)
        self.assertEqual([h.id for h in like], [h.id for h in ten[1:6]])
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = 2 * (unit[7] + unit[9]) / 2 - unit[11]
        steered = self.db.recommend(self.name, [107, 109], [111], limit=5,
                                    exact=True)
        want = self.db.search(self.name, q, limit=8, exact=True)
        self.assertEqual([h.id for h in steered],
                         [h.id for h in want
                          if h.id not in (107, 109, 111)][:5])
        # The strategies: sum_scores is the search of sum(pos) - sum(neg)
        # (unit vectors), its scores times that query's norm; best_score
        # ranks by f(best positive) or -f(best negative), from the vectors.
        s = unit[7] + unit[9] - unit[11]
        summed = self.db.recommend(self.name, [107, 109], [111], limit=5,
                                   exact=True, strategy="sum_scores")
        want = [h for h in self.db.search(self.name, s, limit=8, exact=True)
                if h.id not in (107, 109, 111)][:5]
        self.assertEqual([h.id for h in summed], [h.id for h in want])
        for got_hit, want_hit in zip(summed, want):
            self.assertAlmostEqual(got_hit.score,
                                   want_hit.score * np.linalg.norm(s),
                                   places=4)
        best = self.db.recommend(self.name, [107, 109], [111], limit=5,
                                 exact=True, strategy="best_score")
        pos = np.maximum(unit @ unit[7], unit @ unit[9])
        neg = unit @ unit[11]
        def squash(v):
            return 0.5 * (v / (1 + np.abs(v)) + 1)
        score = np.where(pos > neg, squash(pos), -squash(neg))
        score[[7, 9, 11]] = -np.inf
        order = np.argsort(-score, kind="stable")[:5]
        self.assertEqual([h.id for h in best], [100 + int(i) for i in order])
        for h, i in zip(best, order):
            self.assertAlmostEqual(h.score, score[i], places=5)
        with self.assertRaises(ValueError):
            self.db.recommend(self.name, [107], strategy="best")
        # Examples as vectors (a list, an array): no point is left out, so
        # point 107's own vector finds it first.
        own = self.db.recommend(self.name, [x[7].tolist()], limit=6,
                                exact=True)
        self.assertEqual([h.id for h in own], [h.id for h in ten[:6]])
        # Point 109's own vector as a positive: 109 first (f(1)), then the
        # ranking by ids.
        mixed = self.db.recommend(self.name, [107, x[9]], [x[11]], limit=5,
                                  exact=True, strategy="best_score")
        self.assertEqual([h.id for h in mixed],
                         [109] + [h.id for h in best][:4])
        # New vectors, payloads kept.
        ones = np.ones((1, 32))
        self.assertEqual(self.db.update_vectors(self.name, [2599], ones,
                                                wait=True), 1)
        moved = self.db.retrieve(self.name, [2599], with_vectors=True)[0]
        self.assertTrue(np.allclose(moved.vector, ones[0]))
        self.assertEqual(moved.payload, {"row": 2499})
        with self.assertRaises(self.tc.Error) as e:
            self.db.update_vectors(self.name, [99999], ones)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(self.tc.Error) as e:
            self.db.recommend(self.name, [107, 99999])
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("positive example 99999", str(e.exception))
        # Groups by the payload's "row" (odd rows have one; one point each).
        full = self.db.search(self.name, x[7], limit=60, exact=True)
        rows = [h.payload["row"] for h in full
                if isinstance(h.payload, dict)][:3]
        groups = self.db.search_groups(self.name, x[7], "row", limit=3,
                                       group_size=2, exact=True)
        self.assertIsInstance(groups[0], self.tc.PointGroup)
        self.assertEqual([g.value for g in groups], rows)
        self.assertEqual([len(g.hits) for g in groups], [1, 1, 1])
        self.assertEqual(groups[0].hits[0].payload, {"row": rows[0]})
        hits = self.db.search(self.name, x[8], limit=1, exact=True,
                              with_vectors=True)
        self.assertEqual(hits[0].payload, "text")
        self.assertEqual(hits[0].vector.dtype, np.float32)
        np.testing.assert_allclose(hits[0].vector, x[8], rtol=1e-6)

        batch = self.db.search_batch(self.name, x[:20], limit=3, rescore=True,
                                     nprobe=8)
        self.assertEqual(len(batch), 20)
        self.assertEqual([r[0].id for r in batch], list(range(100, 120)))
        # Adaptive probing reaches the server: a point's own list holds the
        # best score, and the lists after it may be skipped.
        adaptive = self.db.search_batch(self.name, x[:20], limit=3,
                                        nprobe=8, probe_sigmas=3.0)
        self.assertEqual([r[0].id for r in adaptive], list(range(100, 120)))

        recs = self.db.retrieve(self.name, [101, 99999, 100],
                                with_vectors=True)
        self.assertEqual([r.id for r in recs], [101, 100])
        self.assertEqual(recs[0].payload, {"row": 1})
        self.assertEqual(recs[0].vector.shape, (32,))

        self.assertEqual(self.db.delete(self.name, [100, 101, 5], wait=True),
                         2)
        self.assertEqual(self.db.count(self.name), 2498)
        names = [c.name for c in self.db.list_collections()]
        self.assertIn(self.name, names)

    def test_sparse_vectors_and_hybrid_search(self):
        import grpc
        import numpy as np
        self.db.create_collection(self.name, dim=8, metric="l2")
        rng = np.random.default_rng(11)
        x = rng.standard_normal((120, 8)).astype(np.float32)
        # Point i: terms i % 5 and 10 + i % 7 ({index: value}); every tenth
        # as (indices, values); every third none.
        sparse = []
        for i in range(120):
            if i % 3 == 0:
                sparse.append(None)
            elif i % 10 == 1:
                sparse.append(([10 + i % 7, i % 5], [0.5, 1.0 + i / 100]))
            else:
                sparse.append({i % 5: 1.0 + i / 100, 10 + i % 7: 0.5})
        self.db.upsert(self.name, range(120), x, [{"i": i} for i in range(120)],
                       sparse_vectors=sparse, wait=True)
        info = self.db.get_collection(self.name)
        self.assertEqual(info.sparse_points, 80)
        self.assertGreater(info.memory.sparse_bytes, 80 * 2 * 18)
        q = {2: 2.0, 13: 1.0}
        want = []
        for i, s in enumerate(sparse):
            if s is None:
                continue
            d = dict(zip(*s)) if isinstance(s, tuple) else s
            if any(t in d for t in q):
                want.append((-sum(np.float32(v) * np.float32(d.get(t, 0))
                                  for t, v in q.items()), i))
        want.sort()
        hits = self.db.search(self.name, None, limit=6, sparse=q,
                              with_vectors=True)
        self.assertEqual([h.id for h in hits], [i for _, i in want[:6]])
        for h, (score, _) in zip(hits, want):
            self.assertAlmostEqual(h.score, -score, places=5)
        i = hits[0].id
        got = hits[0].sparse_vector
        self.assertEqual(sorted(got), sorted([i % 5, 10 + i % 7]))
        self.assertAlmostEqual(got[i % 5], 1.0 + i / 100, places=6)
        self.assertEqual(got[10 + i % 7], 0.5)
        # sparse_idf: each value weighed by ln(1 + (N - n + .5) / (n + .5)).
        holders = {}
        for sv in sparse:
            if sv is not None:
                d = dict(zip(*sv)) if isinstance(sv, tuple) else sv
                for t in d:
                    holders[t] = holders.get(t, 0) + 1
        n_all = sum(1 for sv in sparse if sv is not None)
        weighted = {t: v * math.log(1 + (n_all - holders[t] + 0.5) /
                                    (holders[t] + 0.5)) for t, v in q.items()}
        self.assertEqual(
            [h.id for h in self.db.search(self.name, None, limit=6, sparse=q,
                                          sparse_idf=True)],
            [h.id for h in self.db.search(self.name, None, limit=6,
                                          sparse=weighted)])
        # Hybrid: the RRF of the two searches (rrf_k 2: 1 / (2 + position)).
        dense = self.db.search(self.name, x[7], limit=20, exact=True)
        by_sparse = self.db.search(self.name, None, limit=20, sparse=q)
        fused = {}
        for hits_ in (dense, by_sparse):
            for pos, h in enumerate(hits_):
                fused[h.id] = fused.get(h.id, 0) + 1 / (2 + pos)
        order = sorted(fused, key=lambda i: (-fused[i], i))[:5]
        hybrid = self.db.search(self.name, x[7], limit=5, sparse=q,
                                exact=True, prefetch_limit=20)
        self.assertEqual([h.id for h in hybrid], order)
        self.assertEqual(hybrid[0].payload, {"i": order[0]})
        dbsf = self.db.search(self.name, x[7], limit=5, sparse=q,
                              exact=True, fusion="dbsf")
        self.assertEqual(len(dbsf), 5)
        with self.assertRaises(ValueError):
            self.db.search(self.name, x[7], sparse=q, fusion="sum")
        with self.assertRaises(TypeError):
            self.db.upsert(self.name, [500], x[:1], sparse_vectors=[[1, 2, 3]])
        with self.assertRaises(self.tc.Error) as e:
            self.db.search(self.name, None, sparse=([1, 1], [1.0, 2.0]))
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("index 1 twice", str(e.exception))
        # update_vectors keeps a sparse vector unless given a new one.
        self.db.update_vectors(self.name, [1, 2], x[:2],
                               sparse_vectors=[None, {40: 3.0}], wait=True)
        got = self.db.retrieve(self.name, [1, 2], with_vectors=True)
        self.assertEqual(sorted(got[0].sparse_vector), [1, 11])
        self.assertAlmostEqual(got[0].sparse_vector[1], 1.01, places=6)
        self.assertEqual(got[1].sparse_vector, {40: 3.0})

    def test_bm25_texts(self):
        import grpc
        import numpy as np
        info = self.db.create_collection(
            self.name, dim=8, bm25={"language": "none", "avg_len": 6,
                                    "k1": 1.5})
        self.assertEqual(info.bm25, {"language": "none", "k1": 1.5,
                                     "b": 0.75, "avg_len": 6.0})
        words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
        texts = []
        for i in range(60):
            n = 2 + i % 7
            texts.append(" ".join(words[(i * 7 + j * j) % 6].upper()
                                  if j % 3 == 0 else words[(i * 7 + j * j) % 6]
                                  for j in range(n)) + "." if i % 4 else None)
        rng = np.random.default_rng(5)
        x = rng.standard_normal((60, 8)).astype(np.float32)
        self.db.upsert(self.name, range(60), x,
                       [{"text": t} for t in texts], texts=texts, wait=True)
        self.assertEqual(self.db.get_collection(self.name).sparse_points, 45)
        # The test's own BM25 (no stemming: lower-cased words), IDF over
        # the points given a text.
        docs = {i: t.lower().rstrip(".").split() for i, t in enumerate(texts)
                if t}
        query = "Gamma zeta zeta"
        qt = set(query.lower().split())
        n_docs = len(docs)
        want = []
        for i, d in docs.items():
            score, hit = 0.0, False
            for t in qt:
                tf = d.count(t)
                if not tf:
                    continue
                hit = True
                n = sum(1 for e in docs.values() if t in e)
                idf = math.log(1 + (n_docs - n + 0.5) / (n + 0.5))
                score += idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * len(d) / 6))
            if hit:
                want.append((-score, i))
        want.sort()
        hits = self.db.search(self.name, None, limit=8, text=query)
        self.assertEqual([h.id for h in hits], [i for _, i in want[:8]])
        for h, (score, i) in zip(hits, want):
            self.assertAlmostEqual(h.score, -score, places=4)
            self.assertEqual(h.payload, {"text": texts[i]})
        hybrid = self.db.search(self.name, x[3], limit=4, text=query,
                                exact=True, fusion="dbsf")
        self.assertEqual(len(hybrid), 4)
        batch = self.db.search_batch(self.name, None, limit=5,
                                     texts=[query, "alpha"])
        self.assertEqual([h.id for h in batch[0]], [h.id for h in hits[:5]])
        self.assertEqual([h.id for h in batch[1]],
                         [h.id for h in self.db.search(self.name, None, limit=5,
                                                       text="alpha")])
        both = self.db.search_batch(self.name, x[3:4], limit=4, exact=True,
                                    texts=[query], fusion="dbsf")
        self.assertEqual([h.id for h in both[0]], [h.id for h in hybrid])
        self.db.update_vectors(self.name, [1], x[1:2], texts=["omega"])
        self.assertEqual([h.id for h in self.db.search(
            self.name, None, text="OMEGA")], [1])
        with self.assertRaises(ValueError):
            self.db.upsert(self.name, [1], x[:1], texts=["a"],
                           sparse_vectors=[{1: 1.0}])
        with self.assertRaises(ValueError):
            self.db.search(self.name, None, text="a", sparse={1: 1.0})
        with self.assertRaises(self.tc.Error) as e:
            self.db.search(self.name, None, text="...")
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("holds no words", str(e.exception))

    def test_formula_boosting(self):
        import grpc
        import numpy as np
        self.db.create_collection(self.name, dim=8, metric="ip")
        rng = np.random.default_rng(9)
        x = rng.standard_normal((120, 8)).astype(np.float32)

        def payload(i):
            p = {"tag": "h1" if i % 4 == 0 else "p",
                 "loc": {"lat": 52.0 + i / 100, "lon": 13.0},
                 "at": "2024-03-%02dT00:00:00Z" % (1 + i % 28)}
            if i % 3:
                p["pop"] = i % 7
            return p
        self.db.upsert(self.name, np.arange(120), x,
                       [payload(i) for i in range(120)], wait=True)
        formula = {"sum": [
            "$score",
            {"mult": [0.3, {"key": "tag", "match": {"value": "h1"}}]},
            {"mult": [0.1, "pop"]},
            {"exp_decay": {"x": {"geo_distance": {
                "origin": {"lat": 52.0, "lon": 13.0}, "to": "loc"}},
                "scale": 50000}},
            {"neg": {"lin_decay": {"x": {"datetime_key": "at"},
                                   "target": {"datetime": "2024-03-28"},
                                   "scale": 86400 * 30}}}]}

        def boost(score, i):  # the test's own reading of the formula
            p = payload(i)
            lat = math.radians(p["loc"]["lat"]) - math.radians(52.0)
            meters = 6371008.8 * abs(lat)  # same meridian: the arc
            day = 1 + i % 28
            return (score + 0.3 * (p["tag"] == "h1") + 0.1 * p.get("pop", 2)
                    + math.exp(math.log(0.5) / 50000 * meters)
                    - max(0.0, 1 - 0.5 / (86400 * 30) * abs(day - 28) * 86400))
        plain = self.db.search(self.name, x[5], limit=40, exact=True)
        want = sorted(((boost(h.score, h.id), h.id) for h in plain),
                      key=lambda t: (-t[0], t[1]))
        hits = self.db.search(self.name, x[5], limit=6, exact=True,
                              prefetch_limit=40, formula=formula,
                              defaults={"pop": 2})
        self.assertEqual([h.id for h in hits], [i for _, i in want[:6]])
        for h, (score, _) in zip(hits, want):
            self.assertAlmostEqual(h.score, score, places=3)
        self.assertEqual(hits[0].payload, payload(hits[0].id))
        # No default: the server names a point without pop.
        with self.assertRaises(self.tc.Error) as e:
            self.db.search(self.name, x[5], limit=6, exact=True,
                           prefetch_limit=40, formula=formula)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("'pop' has no value in its payload", str(e.exception))
        with self.assertRaises(ValueError) as v:
            self.db.search(self.name, x[5], formula={"div": {"left": 1}})
        self.assertIn("formula.div: needs left and right", str(v.exception))
        with self.assertRaises(ValueError):
            self.db.search(self.name, x[5], defaults={"pop": 1})
        batch = self.db.search_batch(self.name, x[5:8], limit=6, exact=True,
                                     prefetch_limit=40, formula=formula,
                                     defaults={"pop": 2})
        self.assertEqual([h.id for h in batch[0]], [h.id for h in hits])
        for row, got in zip(x[6:8], batch[1:]):
            self.assertEqual([h.id for h in got], [h.id for h in self.db.search(
                self.name, row, limit=6, exact=True, prefetch_limit=40,
                formula=formula, defaults={"pop": 2})])

    def test_payload_selectors(self):
        import grpc
        import numpy as np
        self.db.create_collection(self.name, dim=8, metric="ip")
        rng = np.random.default_rng(5)
        x = rng.standard_normal((200, 8)).astype(np.float32)

        def payload(i):
            return {"title": "t%d" % i,
                    "meta": {"lang": "en" if i % 2 else "de", "n": i},
                    "chunks": [{"text": "c%d" % j, "at": j}
                               for j in range(i % 3)]}
        self.db.upsert(self.name, np.arange(200), x,
                       [payload(i) for i in range(200)], wait=True)

        def only(i, *keys):  # the test's own reading of a selection
            p = payload(i)
            out = {}
            for k in keys:
                if "." in k:
                    top, sub = k.split(".")
                    out.setdefault(top, {})[sub] = p[top][sub]
                else:
                    out[k] = p[k]
            return out
        hits = self.db.search(self.name, x[3], limit=10,
                              with_payload=["title", "meta.n"])
        self.assertEqual(len(hits), 10)
        for h in hits:
            self.assertEqual(h.payload, only(h.id, "title", "meta.n"))
        hits = self.db.search(self.name, x[4], limit=10, with_payload={
            "exclude": ["chunks", "meta.lang"]})
        for h in hits:
            self.assertEqual(h.payload, only(h.id, "title", "meta.n"))
        texts = self.db.search_batch(self.name, x[:3], limit=5,
                                     with_payload={"include": ["chunks.text"]})
        for row in texts:
            for h in row:
                want = [{"text": c["text"]} for c in payload(h.id)["chunks"]]
                self.assertEqual(h.payload, {"chunks": want} if want else {})
        recs = self.db.retrieve(self.name, [5, 6], with_payload=["meta"])
        self.assertEqual([r.payload for r in recs],
                         [{"meta": payload(5)["meta"]},
                          {"meta": payload(6)["meta"]}])
        seen = 0
        for r in self.db.scroll_all(self.name, page_size=64,
                                    with_payload={"include": ["meta"],
                                                  "exclude": ["meta.n"]}):
            self.assertEqual(r.payload, {"meta": {"lang": payload(r.id)[
                "meta"]["lang"]}})
            seen += 1
        self.assertEqual(seen, 200)
        groups = self.db.search_groups(self.name, x[7], "meta.lang", limit=2,
                                       group_size=2, with_payload=["title"])
        self.assertEqual(sorted(g.value for g in groups), ["de", "en"])
        for g in groups:
            for h in g.hits:
                self.assertEqual(h.payload, only(h.id, "title"))
                self.assertEqual(payload(h.id)["meta"]["lang"], g.value)
        # The whole payload without a selector; errors.
        self.assertEqual(self.db.retrieve(self.name, [9])[0].payload,
                         payload(9))
        with self.assertRaises(self.tc.Error) as e:
            self.db.search(self.name, x[0], with_payload=["chunks[1].text"])
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("payload_selector.include[0]", e.exception.message)
        with self.assertRaises(TypeError):
            self.db.search(self.name, x[0], with_payload="title")
        with self.assertRaises(ValueError):
            self.db.search(self.name, x[0], with_payload={"only": ["a"]})

    def test_filters_scroll_payload_updates_and_field_indexes(self):
        import grpc
        import numpy as np
        self.db.create_collection(self.name, dim=16, metric="cosine", nlist=4)
        rng = np.random.default_rng(2)
        x = rng.standard_normal((400, 16)).astype(np.float32)
        payloads = [{"lang": ["en", "de", "fr", "ja"][i % 4], "year": 2000 + i
                     % 25, "tags": ["a"] if i % 10 == 0 else [],
                     "title": "Item %d: %s" % (
                         i, ["Red fox", "blue Whale", "red whale."][i % 3]),
                     "at": "20%02d-06-01T12:00:00+02:00" % (i % 25),
                     "loc": {"lon": 0.01 * (i % 20), "lat": 0.01 * (i // 20)}}
                    for i in range(400)]
        self.db.upsert(self.name, np.arange(400), x, payloads, wait=True)
        info = self.db.create_field_index(self.name, "lang", "keyword")
        self.assertEqual((info.field, info.type, info.ready, info.points),
                         ("lang", "keyword", True, 400))
        self.db.create_field_index(self.name, "year", "integer")
        self.db.train(self.name)
        names = [i.field for i in
                 self.db.get_collection(self.name).payload_indexes]
        self.assertEqual(names, ["lang", "year"])

        en_recent = {"must": [{"key": "lang", "match": {"value": "en"}},
                              {"key": "year", "range": {"gte": 2020}}]}
        want = [i for i in range(400) if i % 4 == 0 and 2000 + i % 25 >= 2020]
        self.assertEqual(self.db.count(self.name, en_recent), len(want))
        hits = self.db.search(self.name, x[0], limit=10, rescore=True,
                              nprobe=1, filter=en_recent)
        self.assertEqual(len(hits), 10)  # a full page, at nprobe 1
        for h in hits:
            self.assertEqual(h.payload["lang"], "en")
            self.assertGreaterEqual(h.payload["year"], 2020)
        exact = self.db.search(self.name, x[0], limit=10, exact=True,
                               filter=en_recent)
        self.assertEqual([h.id for h in exact],
                         [h.id for h in hits])
        batch = self.db.search_batch(self.name, x[:3], limit=5,
                                     filter={"must": [{"has_id": [1, 2, 3]}]})
        self.assertEqual([sorted(h.id for h in r) for r in batch],
                         [[1, 2, 3]] * 3)

        # Facet counts: the most frequent values, ties by value.
        self.assertEqual(
            [(h.value, h.count) for h in self.db.facet(self.name, "lang")],
            [("de", 100), ("en", 100), ("fr", 100), ("ja", 100)])
        recent = {"must": [{"key": "year", "range": {"gte": 2020}}]}
        self.assertEqual(
            [(h.value, h.count) for h in
             self.db.facet(self.name, "year", recent, limit=2)],
            [(2020, 16), (2021, 16)])
        with self.assertRaises(self.tc.Error) as e:
            self.db.facet(self.name, "tags")
        self.assertEqual(e.exception.code,
                         grpc.StatusCode.FAILED_PRECONDITION)

        # Full text: every word (any case, punctuation aside), some word;
        # the same on the payloads and through a text index.
        red_whale = {"must": [{"key": "title", "match": {"text": "RED whale"}}]}
        fox_or_7 = {"must": [{"key": "title",
                              "match": {"text_any": "fox, 7"}}]}
        want_rw = [i for i in range(400) if i % 3 == 2]
        want_f7 = [i for i in range(400) if i % 3 == 0 or i == 7]
        for indexed in (False, True):
            if indexed:
                info = self.db.create_field_index(self.name, "title", "text")
                self.assertEqual((info.type, info.points), ("text", 400))
            self.assertEqual(self.db.count(self.name, red_whale), len(want_rw))
            self.assertEqual([r.id for r in self.db.scroll_all(
                self.name, fox_or_7, page_size=50)], want_f7)
        with self.assertRaises(ValueError):
            self.db.count(self.name, {"must": [
                {"key": "title", "match": {"text": ["red"]}}]})
        with self.assertRaises(self.tc.Error) as e:
            self.db.count(self.name, {"must": [
                {"key": "title", "match": {"value": "red"}}]})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.db.delete_field_index(self.name, "title")

        # Datetimes (RFC 3339, any offset): a "range" of strings.
        since_2020 = {"must": [{"key": "at", "range": {
            "gte": "2020-06-01T10:00:00Z", "lt": "2023-01-01"}}]}
        for indexed in (False, True):
            if indexed:
                info = self.db.create_field_index(self.name, "at", "datetime")
                self.assertEqual((info.type, info.points), ("datetime", 400))
            self.assertEqual(self.db.count(self.name, since_2020),
                             len([i for i in range(400)
                                  if 20 <= i % 25 <= 22]))
        with self.assertRaises(ValueError):
            self.db.count(self.name, {"must": [{"key": "at", "range": {
                "gte": "2020-01-01", "lt": 5}}]})
        # Ordered by the datetime index (microseconds), latest first, from
        # a datetime string.
        import calendar
        page = self.db.scroll(self.name, limit=3, order_by="at",
                              descending=True, start_from="2021-01-01")
        stamp = calendar.timegm((2020, 6, 1, 10, 0, 0)) * 1e6
        self.assertEqual([(r.id, r.order_value) for r in page.points],
                         [(20, stamp), (45, stamp), (70, stamp)])
        self.db.delete_field_index(self.name, "at")

        # Geo shapes (Python's own haversine and tests as the reference)
        # and values_count, on the payloads and through a geo index.
        import math

        def meters(a, b):
            la, lb = math.radians(a[1]), math.radians(b[1])
            h = (math.sin((lb - la) / 2) ** 2 + math.cos(la) * math.cos(lb)
                 * math.sin(math.radians(b[0] - a[0]) / 2) ** 2)
            return 6371008.8 * 2 * math.asin(math.sqrt(h))

        at = [(0.01 * (i % 20), 0.01 * (i // 20)) for i in range(400)]
        square = [{"lon": x, "lat": y} for x, y in
                  ((0.025, 0.025), (0.125, 0.025), (0.125, 0.125),
                   (0.025, 0.125), (0.025, 0.025))]
        hole = [{"lon": x, "lat": y} for x, y in
                ((0.055, 0.055), (0.075, 0.055), (0.075, 0.075),
                 (0.055, 0.075), (0.055, 0.055))]
        shapes = [
            ({"geo_radius": {"center": {"lon": 0.1, "lat": 0.1},
                             "radius": 3000}},
             lambda p: meters((0.1, 0.1), p) < 3000),
            ({"geo_bounding_box": {"top_left": {"lon": 0.015, "lat": 0.1},
                                   "bottom_right": {"lon": 0.1,
                                                    "lat": 0.015}}},
             lambda p: 0.015 < p[0] < 0.1 and 0.015 < p[1] < 0.1),
            ({"geo_polygon": {"exterior": {"points": square},
                              "interiors": [{"points": hole}]}},
             lambda p: 0.025 < p[0] < 0.125 and 0.025 < p[1] < 0.125
             and not (0.055 <= p[0] <= 0.075 and 0.055 <= p[1] <= 0.075))]
        for indexed in (False, True):
            if indexed:
                info = self.db.create_field_index(self.name, "loc", "geo")
                self.assertEqual((info.type, info.points), ("geo", 400))
            for shape, inside in shapes:
                want_geo = [i for i in range(400) if inside(at[i])]
                self.assertGreater(len(want_geo), 5)
                got = self.db.scroll_all(
                    self.name, {"must": [dict(key="loc", **shape)]},
                    page_size=64)
                self.assertEqual([r.id for r in got], want_geo, shape)
            self.assertEqual(self.db.count(self.name, {"must": [
                {"key": "tags", "values_count": {"gte": 1}}]}), 40)
        with self.assertRaises(ValueError):
            self.db.count(self.name, {"must": [{"key": "loc", "geo_radius": {
                "center": {"lon": "0", "lat": 0}, "radius": 1}}]})
        with self.assertRaises(self.tc.Error) as e:
            self.db.count(self.name, {"must": [{"key": "loc", "geo_radius": {
                "center": {"lon": 0, "lat": 91}, "radius": 1}}]})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(e.exception.message, "must[0].geo_radius.center."
                         "lat: 91 is out of -90..90")
        self.db.delete_field_index(self.name, "loc")

        # Nested: one element of the array meets the whole filter.
        self.db.set_payload(self.name, {"parts": [
            {"kind": "bolt", "mm": 5}, {"kind": "nut", "mm": 8}]}, [1, 2],
            wait=True)
        bolt_8 = {"must": [{"nested": {"key": "parts", "filter": {"must": [
            {"key": "kind", "match": {"value": "bolt"}},
            {"key": "mm", "range": {"gte": 8}}]}}}]}
        self.assertEqual(self.db.count(self.name, bolt_8), 0)
        bolt_8["must"][0]["nested"]["filter"]["must"][1]["range"] = {"lt": 8}
        self.assertEqual(self.db.count(self.name, bolt_8), 2)
        with self.assertRaises(self.tc.Error) as e:
            self.db.count(self.name, {"must": [{"nested": {
                "key": "parts", "filter": {"must": [{"has_id": [1]}]}}}]})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.db.delete_payload_keys(self.name, ["parts"], [1, 2], wait=True)

        # Scroll: pages in id order, all of them.
        page = self.db.scroll(self.name, en_recent, limit=3)
        self.assertEqual([r.id for r in page.points], want[:3])
        self.assertEqual(page.next_offset, want[3])
        self.assertEqual([r.id for r in self.db.scroll_all(
            self.name, en_recent, page_size=4)], want)

        # Ordered by year, newest first, then by id, every page.
        by_year = sorted(range(400), key=lambda i: (-(i % 25), i))
        self.assertEqual(
            [(r.id, r.order_value) for r in self.db.scroll_all(
                self.name, order_by="year", descending=True, page_size=33)],
            [(i, float(2000 + i % 25)) for i in by_year])
        page = self.db.scroll(self.name, en_recent, limit=2, order_by="year",
                              start_from=2021)
        self.assertEqual([(r.id, r.order_value) for r in page.points],
                         [(96, 2021.0), (196, 2021.0)])
        self.assertEqual((page.next_order_value, page.next_offset),
                         (2021.0, 296))

        # Payload updates by id and by filter.
        self.assertEqual(self.db.set_payload(self.name, {"starred": True},
                                             [4, 8], wait=True), 2)
        starred = {"must": [{"key": "starred", "match": {"value": True}}]}
        self.assertEqual(self.db.count(self.name, starred), 2)
        self.assertEqual(self.db.overwrite_payload(
            self.name, {"lang": "xx"}, filter={"must": [{"has_id": [8]}]},
            wait=True), 1)
        self.assertEqual(self.db.retrieve(self.name, [8])[0].payload,
                         {"lang": "xx"})
        self.assertEqual(self.db.delete_payload_keys(
            self.name, ["starred"], filter=starred, wait=True), 1)
        self.assertEqual(self.db.count(self.name, starred), 0)

        # Delete by filter; bad filters.
        self.assertEqual(self.db.delete(self.name, filter={
            "must": [{"key": "lang", "match": {"any": ["de", "fr"]}}]},
            wait=True), 200)
        self.assertEqual(self.db.count(self.name), 200)
        with self.assertRaises(ValueError) as e:
            self.db.count(self.name, {"must": [{"key": "year",
                                                "range": {"gt": True}}]})
        self.assertIn("must[0].range.gt: expected a number", str(e.exception))
        with self.assertRaises(self.tc.Error) as e:  # not a datetime
            self.db.count(self.name, {"must": [{"key": "year",
                                                "range": {"gt": "x"}}]})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("must[0].datetime_range.gt: expected an RFC 3339 "
                      "datetime", e.exception.message)
        with self.assertRaises(self.tc.Error) as e:  # the server's rules
            self.db.count(self.name, {"must": [{"key": "lang",
                                                "range": {"gt": 1}}]})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("must[0]", e.exception.message)
        with self.assertRaises(ValueError):
            self.db.delete(self.name)  # neither ids nor a filter
        self.db.delete_field_index(self.name, "year")
        self.assertEqual([i.field for i in self.db.get_collection(
            self.name).payload_indexes], ["lang"])

    def test_errors_carry_the_code_and_the_servers_message(self):
        import grpc
        info = self.db.create_collection(self.name, dim=4)
        self.assertEqual((info.refine, info.prefix_sharing, info.pca_weighting,
                          info.codec), ("raw", "auto", "auto", ""))
        with self.assertRaises(ValueError):
            self.db.create_collection("x", dim=4, pca_weighting="yes")
        with self.assertRaises(self.tc.Error) as e:  # pca only
            self.db.create_collection("x", dim=4, pca_weighting="on")
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        pca = self.name + "_pca"
        self.assertEqual(self.db.create_collection(
            pca, dim=4, method="pca", pca_weighting="off").pca_weighting, "off")
        self.db.delete_collection(pca)
        with self.assertRaises(self.tc.Error) as e:
            self.db.create_collection(self.name, dim=4)
        self.assertEqual(e.exception.code, grpc.StatusCode.ALREADY_EXISTS)
        with self.assertRaises(self.tc.Error) as e:
            self.db.search(self.name, [1.0, 2.0], limit=3)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("2 dimensions", e.exception.message)
        with self.assertRaises(self.tc.Error) as e:
            self.db.search(self.name, [1.0, 2.0, 3.0, 4.0], limit=3,
                           probe_sigmas=-1.0)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("probe_sigmas", e.exception.message)
        with self.assertRaises(self.tc.Error) as e:
            self.db.count("no_such_collection")
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(ValueError):
            self.db.upsert(self.name, [1, 2], [[1, 2, 3, 4]])
        # A bad batch of a stream: the ones before it are stored.
        vecs = [[1.0, 0, 0, 0]] * 3 + [[float("nan"), 0, 0, 0]]
        with self.assertRaises(self.tc.Error) as e:
            self.db.upsert(self.name, [1, 2, 3, 4], vecs, batch_size=2)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("1 batches, 2 points before it were stored",
                      e.exception.message)
        self.assertEqual(self.db.count(self.name), 2)
        # Without the key.
        with self.tc.Client(SERVER.grpc, retries=0) as anon:
            with self.assertRaises(self.tc.Error) as e:
                anon.list_collections()
            self.assertEqual(e.exception.code,
                             grpc.StatusCode.UNAUTHENTICATED)

    def test_memory_limit_is_resource_exhausted(self):
        import grpc
        import numpy as np
        self.db.create_collection(self.name, dim=512)
        x = np.ones((3000, 512), dtype=np.float32)
        with self.assertRaises(self.tc.Error) as e:
            # 4 MiB limit, 2 kB a vector in memory while untrained.
            self.db.upsert(self.name, np.arange(3000), x, batch_size=3000)
        self.assertEqual(e.exception.code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("collection '%s'" % self.name, e.exception.message)
        self.assertIn("upserting 3000 new points", e.exception.message)
        self.assertIn("memory limit 4194304", e.exception.message)
        self.assertEqual(self.db.count(self.name), 0)
        info = self.db.get_collection(self.name)
        self.assertEqual(info.memory.limit_bytes, 4 << 20)

    def test_an_alias_moves_to_a_rebuilt_collection_at_once(self):
        import grpc
        import numpy as np
        v1, v2, alias = self.name + "_v1", self.name + "_v2", self.name + "_a"
        try:
            self.db.create_collection(v1, dim=4)
            self.db.upsert(v1, [1], np.ones((1, 4)), wait=True)
            self.db.create_collection(v2, dim=4, bits=2)
            self.db.upsert(v2, [1, 2], np.ones((2, 4)), wait=True)
            self.db.create_alias(alias, v1)
            self.assertEqual(self.db.count(alias), 1)
            self.db.update_aliases([("delete", alias), ("create", alias, v2)])
            self.assertEqual(self.db.count(alias), 2)
            self.assertEqual(self.db.search(alias, [1, 1, 1, 1], limit=2,
                                            exact=True)[0].id in (1, 2), True)
            self.assertEqual(self.db.list_aliases(), {alias: v2})
            self.assertEqual(self.db.list_aliases(v1), {})
            with self.assertRaises(self.tc.Error) as e:
                self.db.create_alias(alias, v1)  # exists: move it instead
            self.assertEqual(e.exception.code, grpc.StatusCode.ALREADY_EXISTS)
            self.db.delete_collection(v2)  # its aliases go with it
            self.assertEqual(self.db.list_aliases(), {})
        finally:
            for c in (v1, v2):
                try:
                    self.db.delete_collection(c)
                except self.tc.Error:
                    pass

    def test_snapshots_create_list_delete(self):
        import grpc
        import numpy as np
        self.db.create_collection(self.name, dim=4)
        self.db.upsert(self.name, [1], np.ones((1, 4)), wait=True)
        path = self.db.create_snapshot(self.name)
        name = path.rstrip("/").split("/")[-1]
        self.assertIn(name, self.db.list_snapshots())
        self.db.delete_snapshot(name)
        self.assertNotIn(name, self.db.list_snapshots())
        with self.assertRaises(self.tc.Error) as e:
            self.db.delete_snapshot(name)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_retries_unavailable_until_the_server_is_up(self):
        import numpy as np
        import tqdb_client
        # A second server on a port that is not open yet: the client retries
        # with backoff until it is.
        from ops_util import free_port
        port = free_port()
        out = {}

        def call():
            with tqdb_client.Client("127.0.0.1:%d" % port, retries=8,
                                    backoff=0.2, timeout=5) as c:
                out["list"] = c.list_collections()
        t = threading.Thread(target=call)
        t.start()
        time.sleep(1.0)
        late = subprocess.Popen(
            [ARGS.tqdb, "serve", "--data", tempfile.mkdtemp(), "--listen",
             "127.0.0.1:%d" % port], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            t.join(timeout=60)
            self.assertFalse(t.is_alive())
            self.assertEqual(out.get("list"), [])
        finally:
            late.terminate()
            late.wait(timeout=60)
        # And gives up with UNAVAILABLE when it never comes.
        with tqdb_client.Client("127.0.0.1:%d" % free_port(), retries=2,
                                backoff=0.05, timeout=2) as c:
            t0 = time.time()
            with self.assertRaises(tqdb_client.Error) as e:
                c.count("x")
            self.assertEqual(e.exception.code.name, "UNAVAILABLE")
            self.assertLess(time.time() - t0, 10)
        del np


def main():
    global ARGS, SERVER
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--source", required=True)
    ARGS, rest = ap.parse_known_args()
    ARGS.source = os.path.abspath(ARGS.source)
    target = tempfile.mkdtemp(prefix="tqdb_pyclient_")
    install(ARGS.source, target)
    sys.path.insert(0, target)
    import tqdb_client
    assert tqdb_client.__file__.startswith(target), tqdb_client.__file__
    key_file = os.path.join(target, "key")
    with open(key_file, "w") as f:
        f.write(KEY + "\n")
    SERVER = Serve(ARGS.tqdb, ["--api-key-file", key_file, "--memory-limit",
                               "4M"])
    try:
        prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False,
                             verbosity=2)
    finally:
        rc = SERVER.stop()
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(SERVER.tmp, ignore_errors=True)
    ok = prog.result.wasSuccessful() and rc == 0
    if rc != 0:
        print("FAIL: tqdb serve exited %d" % rc)
    r = prog.result
    print("%d passed, %d failed" % (r.testsRun - len(r.failures) -
                                    len(r.errors), len(r.failures) +
                                    len(r.errors)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
