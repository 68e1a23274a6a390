#!/usr/bin/python3
"""End-to-end test of every tqdb subcommand against a real `tqdb serve`
process and against an embedded data directory.

Covers: collections (create, list, info --json, train, drop), ingest of
every format (fvecs bvecs ivecs fbin u8bin npy hdf5 jsonl csv, with --ids and
--payload), search (--vector, --query-file --row, --json, --exact), the
error contract (exit code 2, a message naming the file and the row or line,
how many rows were committed, resuming with --skip), usage errors, bench
and distortion smoke runs, snapshots (create, list, restore into the
server and into a data directory, delete), and a clean SIGTERM stop of the
server.

usage: cli_test.py --tqdb BUILD/tools/tqdb
"""
import argparse
import array
import json
import math
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import h5py  # Debian's python3-h5py, to write ann-benchmarks files
import numpy as np  # Debian's python3-numpy, to write .npy files

TQDB = None
FAILS = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        FAILS.append(msg)


def run(*args, expect=0):
    p = subprocess.run([TQDB] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=600)
    if expect is not None and p.returncode != expect:
        print("command:", " ".join(str(a) for a in args))
        print("stdout:", p.stdout)
        print("stderr:", p.stderr)
    return p


def vectors(n, d, seed):
    rng = random.Random(seed)
    return [[rng.gauss(0, 1) for _ in range(d)] for _ in range(n)]


def write_vecs(path, rows, typecode):
    with open(path, "wb") as f:
        for r in rows:
            f.write(struct.pack("<i", len(r)))
            f.write(array.array(typecode, r).tobytes())


def write_bin(path, rows, typecode):
    with open(path, "wb") as f:
        f.write(struct.pack("<II", len(rows), len(rows[0])))
        for r in rows:
            f.write(array.array(typecode, r).tobytes())


def start_server(tmp, name, *flags):
    """`tqdb serve` over tmp/name on a free loopback port: (process,
    address)."""
    port_file = os.path.join(tmp, name + ".port")
    server = subprocess.Popen([TQDB, "serve", "--data", os.path.join(tmp, name),
                               "--listen", "127.0.0.1:0", "--port-file",
                               port_file, *flags],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    for _ in range(200):
        if os.path.exists(port_file):
            break
        time.sleep(0.05)
    return server, "127.0.0.1:" + open(port_file).read().strip()


def main():
    global TQDB
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    TQDB = os.path.abspath(ap.parse_args().tqdb)
    tmp = tempfile.mkdtemp(prefix="tqdb_cli_e2e_")
    d = 16
    base = vectors(1200, d, 1)
    ubase = [[random.Random(i).randrange(256) for _ in range(d)]
             for i in range(300)]

    # Files of every format.
    f = {}
    f["fvecs"] = os.path.join(tmp, "a.fvecs")
    write_vecs(f["fvecs"], base, "f")
    f["bvecs"] = os.path.join(tmp, "a.bvecs")
    write_vecs(f["bvecs"], ubase, "B")
    f["ivecs"] = os.path.join(tmp, "a.ivecs")
    write_vecs(f["ivecs"], ubase, "i")
    f["fbin"] = os.path.join(tmp, "a.fbin")
    write_bin(f["fbin"], base, "f")
    f["u8bin"] = os.path.join(tmp, "a.u8bin")
    write_bin(f["u8bin"], ubase, "B")
    f["npy"] = os.path.join(tmp, "a.npy")
    np.save(f["npy"], np.array(base, dtype=np.float16))
    f["hdf5"] = os.path.join(tmp, "a.hdf5")
    with h5py.File(f["hdf5"], "w") as h:
        h.create_dataset("train", data=np.array(base, dtype=np.float32))
        h.create_dataset("test", data=np.array(base[:10], dtype=np.float32))
    f["jsonl"] = os.path.join(tmp, "a.jsonl")
    with open(f["jsonl"], "w") as out:
        for i, r in enumerate(base):
            out.write(json.dumps({
                "id": 5000 + i, "vector": r, "payload": {"n": i, "tag": "j"},
                "sparse_vector": {"indices": [100 + i % 7, i % 20],
                                  "values": [0.5, 1 + i / 1000]}}) + "\n")
    f["csv"] = os.path.join(tmp, "a.csv")
    with open(f["csv"], "w") as out:
        out.write("id," + ",".join("v%d" % j for j in range(d)) + "\n")
        for i, r in enumerate(base):
            out.write("%d,%s\n" % (9000 + i, ",".join(repr(x) for x in r)))
    ids_file = os.path.join(tmp, "ids.txt")
    with open(ids_file, "w") as out:
        out.writelines("%d\n" % (100000 + 3 * i) for i in range(len(base)))
    payload_file = os.path.join(tmp, "payload.jsonl")
    with open(payload_file, "w") as out:
        out.writelines(json.dumps({"row": i}) + "\n" for i in range(len(base)))

    # The server.
    server, addr = start_server(tmp, "srv")
    targets = [("server", ["--server", addr]),
               ("embedded", ["--data", os.path.join(tmp, "emb")])]

    for tname, target in targets:
        print("== " + tname)
        # Every format, into its own collection.
        for fmt, path in f.items():
            n = 300 if fmt in ("bvecs", "ivecs", "u8bin") else 1200
            p = run("ingest", *target, "--collection", "c_" + fmt, "--input",
                    path, "--create", "--metric", "l2",
                    "--bits", "4", "--progress", "none")
            check(p.returncode == 0 and ("ingested %s rows" %
                                         format(n, ",")) in p.stdout,
                  "%s: ingest .%s (%d rows)" % (tname, fmt, n))
            p = run("collections", "info", "c_" + fmt, *target, "--json")
            info = json.loads(p.stdout) if p.returncode == 0 else {}
            check(info.get("count") == n and info.get("dim") == d and
                  info.get("name") == "c_" + fmt and "trained" in info,
                  "%s: collections info --json c_%s: count %s" %
                  (tname, fmt, info.get("count")))
        # Ids from the file, the format, or the row; payloads.
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "1", "--exact",
                "--json")
        r = json.loads(p.stdout)["results"][0] if p.returncode == 0 else {}
        check(r.get("id") == 5007 and r.get("payload") ==
              {"n": 7, "tag": "j"}, "%s: jsonl ids and payloads" % tname)
        # --payload-include / --payload-exclude (search and scroll).
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "2", "--exact",
                "--payload-include", "tag", "--json")
        hits = json.loads(p.stdout)["results"] if p.returncode == 0 else []
        check(len(hits) == 2 and all(h["payload"] == {"tag": "j"}
                                     for h in hits),
              "%s: search --payload-include tag (%s)" % (tname, hits))
        p = run("scroll", *target, "--collection", "c_jsonl", "--limit", "3",
                "--payload-exclude", "tag", "--json")
        pts = json.loads(p.stdout)["points"] if p.returncode == 0 else []
        check([q["payload"] for q in pts] ==
              [{"n": q["id"] - 5000} for q in pts] and len(pts) == 3,
              "%s: scroll --payload-exclude tag (%s)" % (tname, pts))
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--payload-include",
                "tag[0]")
        check(p.returncode == 2 and "--payload-include[0]" in p.stderr,
              "%s: search --payload-include tag[0] exits 2 naming it "
              "(%d: %s)" % (tname, p.returncode, p.stderr.strip()))
        # --offset: the page after the best N of the same search.
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "6", "--exact",
                "--json")
        six = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "3", "--offset",
                "3", "--exact", "--json")
        page = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        check(len(six) == 6 and page == six[3:],
              "%s: search --offset 3 --k 3 is ranks 4-6 (%s of %s)" %
              (tname, page, six))
        # --formula: the best --prefetch of the search rescored, highest
        # first ($score + 0.01 n, the test's own reading), paged by --offset.
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "20", "--exact",
                "--json")
        plain = json.loads(p.stdout)["results"] if p.returncode == 0 else []
        want = sorted(((h["score"] + 0.01 * (h["id"] - 5000), h["id"])
                       for h in plain), key=lambda t: (-t[0], t[1]))
        boost = '{"sum": ["$score", {"mult": [0.01, "n"]}]}'
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "5", "--exact",
                "--prefetch", "20", "--formula", boost, "--json")
        got = json.loads(p.stdout)["results"] if p.returncode == 0 else []
        check(len(plain) == 20 and [h["id"] for h in got] ==
              [i for _, i in want[:5]] and
              all(abs(h["score"] - w) < 1e-4 for h, (w, _) in zip(got, want)),
              "%s: search --formula ranks the prefetched points by it "
              "(%s of %s; %s)" % (tname, got, want[:5], p.stderr.strip()))
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "3", "--offset",
                "2", "--exact", "--prefetch", "20", "--formula", boost,
                "--json")
        page = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        check(page == [i for _, i in want[2:5]],
              "%s: search --formula --offset 2 --k 3 is its ranks 3-5 (%s; %s)"
              % (tname, page, p.stderr.strip()))
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--formula", '"rank"',
                "--formula-defaults", '{"rank": 2}', "--k", "3", "--json")
        check(p.returncode == 0 and all(
            h["score"] == 2 for h in json.loads(p.stdout)["results"]),
              "%s: --formula-defaults stands in for a missing key (%s)"
              % (tname, p.stderr.strip()))
        for bad, why in (
                (["--formula", '{"sum": []}'],
                 "--formula: sum: needs at least one expression"),
                (["--formula", "{"], "--formula is not valid JSON"),
                (["--formula-defaults", "{}"],
                 "--formula-defaults goes with --formula"),
                (["--prefetch", "9"], "--prefetch goes with a hybrid search")):
            p = run("search", *target, "--collection", "c_jsonl", "--vector",
                    ",".join(repr(x) for x in base[7]), *bad)
            check(p.returncode == 2 and why in p.stderr,
                  "%s: search %s exits 2 (%d: %s)" %
                  (tname, " ".join(bad), p.returncode, p.stderr.strip()))
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--formula", '"rank"')
        check(p.returncode != 0 and "'rank' has no value in its payload" in
              p.stderr, "%s: a formula over a missing key fails naming it "
              "(%d: %s)" % (tname, p.returncode, p.stderr.strip()))
        # --sparse alone: the rows' sparse vectors by dot product (the
        # test's own, in float32 as the server sums); with --vector, the
        # RRF of the two searches.
        want = []
        for i in range(len(base)):
            if i % 20 == 3 or i % 7 == 4:
                dot = np.float32(0)
                if i % 20 == 3:
                    dot += np.float32(2) * np.float32(1 + i / 1000)
                if i % 7 == 4:
                    dot += np.float32(1) * np.float32(0.5)
                want.append((-dot, 5000 + i))
        want = [i for _, i in sorted(want)]
        p = run("search", *target, "--collection", "c_jsonl", "--sparse",
                "104:1,3:2", "--k", "8", "--json")
        sparse = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        check(sparse == want[:8], "%s: search --sparse is the dot product's "
              "ranking (%s of %s; %s)" % (tname, sparse, want[:8],
                                          p.stderr.strip()))
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "8", "--exact",
                "--json")
        dense = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        fused = {}
        for ranked in (dense, sparse):
            for pos, i in enumerate(ranked):
                fused[i] = fused.get(i, 0) + 1 / (2 + pos)
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--sparse", "104:1,3:2",
                "--k", "4", "--prefetch", "8", "--exact", "--json")
        hybrid = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        check(hybrid == sorted(fused, key=lambda i: (-fused[i], i))[:4],
              "%s: search --vector --sparse is the RRF of the two (%s; %s)"
              % (tname, hybrid, p.stderr.strip()))
        for bad, why in ((["--sparse", "3:x"], "item 1 ('3:x')"),
                         (["--sparse", "3:1", "--fusion", "dbsf"],
                          "a hybrid search"),
                         (["--sparse", "3:1", "--like", "5007"],
                          "--sparse does not go with")):
            p = run("search", *target, "--collection", "c_jsonl", *bad)
            check(p.returncode == 2 and why in p.stderr,
                  "%s: search %s exits 2 (%d: %s)" %
                  (tname, " ".join(bad), p.returncode, p.stderr.strip()))
        # BM25: rows' "text" into a collection created with --bm25; --text
        # ranks as the test's own BM25 (no stemming: lower-cased words).
        texts = ["%s %s" % (["Red", "green", "blue"][i % 3],
                            " ".join(["fox", "dog", "cat", "owl"][(i * j) % 4]
                                     for j in range(1 + i % 5)))
                 for i in range(30)]
        tfile = os.path.join(tmp, "texts_%s.jsonl" % tname)
        with open(tfile, "w") as out:
            for i, t in enumerate(texts):
                out.write(json.dumps({"id": i, "vector": base[i], "text": t,
                                      "payload": {"t": t}}) + "\n")
        p = run("ingest", *target, "--collection", "c_text", "--input",
                tfile, "--create", "--bm25", "none", "--bm25-avg-len", "4",
                "--progress", "none")
        p2 = run("collections", "info", "c_text", *target, "--json")
        info = json.loads(p2.stdout) if p2.returncode == 0 else {}
        bm = info.get("bm25") or {}
        check(p.returncode == 0 and bm.get("language") == "none" and
              abs(bm.get("k1", 0) - 1.2) < 1e-6 and bm.get("b") == 0.75 and
              bm.get("avg_len") == 4 and info.get("sparse_points") == 30,
              "%s: ingest --bm25 takes the rows' texts (%s; %s)" %
              (tname, info.get("bm25"), p.stderr.strip()))
        docs = [t.lower().split() for t in texts]
        want = []
        for i, doc in enumerate(docs):
            score = 0.0
            for term in ("blue", "owl"):
                tf = doc.count(term)
                if tf:
                    n = sum(1 for e in docs if term in e)
                    idf = math.log(1 + (30 - n + 0.5) / (n + 0.5))
                    score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 *
                                                           len(doc) / 4))
            if score:
                want.append((-score, i))
        want = [i for _, i in sorted(want)]
        p = run("search", *target, "--collection", "c_text", "--text",
                "Owl, blue!", "--k", "6", "--json")
        got = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        check(got == want[:6], "%s: search --text is the BM25 ranking "
              "(%s of %s; %s)" % (tname, got, want[:6], p.stderr.strip()))
        # --text-field: the texts from the payloads, as if each row's
        # "text"; --group-by of a --text search groups its ranking.
        colors = ["red", "green", "blue"]
        pfile = os.path.join(tmp, "payload_texts_%s.jsonl" % tname)
        with open(pfile, "w") as out:
            for i, t in enumerate(texts):
                out.write(json.dumps({"id": i, "vector": base[i], "payload": {
                    "doc": {"body": t}, "c": colors[i % 3]}}) + "\n")
        p = run("ingest", *target, "--collection", "c_text2", "--input",
                pfile, "--create", "--bm25", "none", "--bm25-avg-len", "4",
                "--text-field", "doc.body", "--progress", "none")
        p2 = run("search", *target, "--collection", "c_text2", "--text",
                 "Owl, blue!", "--k", "6", "--json")
        got = [h["id"] for h in json.loads(p2.stdout)["results"]] \
            if p2.returncode == 0 else []
        check(p.returncode == 0 and got == want[:6],
              "%s: ingest --text-field doc.body indexes the payloads' texts "
              "(%s of %s; %s)" % (tname, got, want[:6], p.stderr.strip()))
        p = run("search", *target, "--collection", "c_text2", "--text",
                "Owl, blue!", "--group-by", "c", "--k", "2", "--json")
        groups = json.loads(p.stdout)["groups"] if p.returncode == 0 else []
        firsts = [g["hits"][0]["id"] for g in groups]
        check(len(groups) == 2 and firsts[0] == want[0] and
              all(colors[h["id"] % 3] == g["value"] for g in groups
                  for h in g["hits"]) and
              firsts[1] == next(i for i in want if i % 3 != want[0] % 3),
              "%s: search --text --group-by c: the ranking's best of each "
              "group (%s; %s)" % (tname, groups, p.stderr.strip()))
        with open(pfile, "a") as out:
            out.write(json.dumps({"id": 99, "vector": base[0], "payload": {
                "doc": {"body": 7}}}) + "\n")
        p = run("ingest", *target, "--collection", "c_text2", "--input",
                pfile, "--text-field", "doc.body", "--progress", "none")
        check(p.returncode == 2 and "row 31: payload field 'doc.body' holds "
              "number, not text" in p.stderr,
              "%s: --text-field over a number exits 2 naming the row "
              "(%d: %s)" % (tname, p.returncode, p.stderr.strip()))
        bad_file = os.path.join(tmp, "bad_text_%s.jsonl" % tname)
        with open(bad_file, "w") as out:
            out.write(json.dumps({"id": 1, "vector": base[0], "text": "a"})
                      + "\n")
            out.write(json.dumps({"id": 2, "vector": base[1], "text": "b",
                                  "sparse_vector": {"indices": [1],
                                                    "values": [1]}}) + "\n")
        p = run("ingest", *target, "--collection", "c_text", "--input",
                bad_file, "--progress", "none")
        check(p.returncode == 2 and "bad_text_%s.jsonl" % tname in p.stderr
              and "line 2" in p.stderr and "give one" in p.stderr,
              "%s: a row with a text and a sparse vector exits 2 naming its "
              "line (%d: %s)" % (tname, p.returncode, p.stderr.strip()))
        p = run("search", *target, "--collection", "c_jsonl", "--text", "owl")
        check(p.returncode != 0 and "has no bm25 settings" in p.stderr,
              "%s: search --text without bm25 settings fails saying so "
              "(%d: %s)" % (tname, p.returncode, p.stderr.strip()))
        # --like: search by example, the example itself left out.
        p = run("search", *target, "--collection", "c_jsonl", "--like",
                "5007", "--k", "5", "--exact", "--json")
        like = [h["id"] for h in json.loads(p.stdout)["results"]] \
            if p.returncode == 0 else []
        check(len(six) == 6 and six[0] == 5007 and like == six[1:],
              "%s: search --like 5007 is its vector's search without it "
              "(%s of %s)" % (tname, like, six))
        # --strategy best_score with one --like point ranks as its search
        # (sum_scores too); --unlike alone needs one of them.
        for strategy in ("best_score", "sum_scores"):
            p = run("search", *target, "--collection", "c_jsonl", "--like",
                    "5007", "--strategy", strategy, "--k", "5", "--exact",
                    "--json")
            ranked = [h["id"] for h in json.loads(p.stdout)["results"]] \
                if p.returncode == 0 else []
            check(ranked == six[1:],
                  "%s: search --like 5007 --strategy %s is its vector's "
                  "ranking without it (%s of %s; %s)" %
                  (tname, strategy, ranked, six, p.stderr.strip()))
        p = run("search", *target, "--collection", "c_jsonl", "--unlike",
                "5007")
        check(p.returncode == 2 and
              "--strategy best_score or sum_scores" in p.stderr,
              "%s: search --unlike alone exits 2 naming the strategies "
              "(%d: %s)" % (tname, p.returncode, p.stderr.strip()))
        p = run("search", *target, "--collection", "c_jsonl", "--like",
                "5007", "--strategy", "best")
        check(p.returncode == 2 and "'best' is not average_vector" in p.stderr,
              "%s: search --strategy best exits 2 (%d: %s)" %
              (tname, p.returncode, p.stderr.strip()))
        # --group-by: groups of the same ranking (n is the row: one point
        # a group; every point's tag is "j": one group).
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "3", "--exact",
                "--group-by", "n", "--group-size", "2", "--json")
        groups = json.loads(p.stdout)["groups"] if p.returncode == 0 else []
        check([g["value"] for g in groups] == [str(i - 5000) for i in six[:3]]
              and all(len(g["hits"]) == 1 for g in groups),
              "%s: search --group-by n: one group a row, in rank order (%s)"
              % (tname, groups))
        p = run("search", *target, "--collection", "c_jsonl", "--vector",
                ",".join(repr(x) for x in base[7]), "--exact", "--group-by",
                "tag", "--group-size", "4", "--json")
        groups = json.loads(p.stdout)["groups"] if p.returncode == 0 else []
        check(len(groups) == 1 and groups[0]["value"] == "j" and
              [h["id"] for h in groups[0]["hits"]] == six[:4],
              "%s: search --group-by tag --group-size 4: one group, the best "
              "4 (%s)" % (tname, groups))
        p = run("search", *target, "--collection", "c_jsonl", "--like",
                "5007,123456789")
        check(p.returncode == 2 and "positive example 123456789" in p.stderr,
              "%s: search --like of an unknown id exits 2 naming it (%d: %s)"
              % (tname, p.returncode, p.stderr.strip()))
        p = run("search", *target, "--collection", "c_csv", "--query-file",
                f["fvecs"], "--row", "11", "--k", "1", "--exact", "--json")
        r = json.loads(p.stdout)["results"][0] if p.returncode == 0 else {}
        check(r.get("id") == 9011, "%s: csv ids, search --query-file --row" %
              tname)
        p = run("ingest", *target, "--collection", "c_ids", "--input",
                f["fvecs"], "--ids", ids_file, "--payload", payload_file,
                "--create", "--progress", "none")
        p = run("search", *target, "--collection", "c_ids", "--query-file",
                f["fvecs"], "--row", "20", "--k", "3", "--json")
        r = json.loads(p.stdout)["results"][0] if p.returncode == 0 else {}
        check(r.get("id") == 100060 and r.get("payload") == {"row": 20},
              "%s: --ids and --payload files" % tname)
        p = run("search", *target, "--collection", "c_fvecs", "--query-file",
                f["fvecs"], "--row", "3", "--k", "5")
        check(p.returncode == 0 and "rank" in p.stdout and
              p.stdout.splitlines()[2].split()[1] == "3",
              "%s: search prints a table, self match first" % tname)
        # collections list / train / drop.
        p = run("collections", *target, "--json")
        names = [c["name"] for c in json.loads(p.stdout)]
        check("c_fvecs" in names and "c_csv" in names,
              "%s: collections list --json" % tname)
        p = run("collections", "list", *target)
        check(p.returncode == 0 and "c_npy" in p.stdout,
              "%s: collections list (table)" % tname)
        p = run("collections", "train", "c_fvecs", *target, "--json")
        check(p.returncode == 0 and json.loads(p.stdout)["trained"],
              "%s: collections train" % tname)
        p = run("collections", "create", "made", *target, "--dim", "8",
                "--metric", "l2", "--method", "mse", "--bits", "3", "--json")
        check(p.returncode == 0 and json.loads(p.stdout)["method"] == "mse",
              "%s: collections create" % tname)
        p = run("collections", "drop", "made", *target)
        check(p.returncode == 0, "%s: collections drop" % tname)
        p = run("collections", "drop", "made", *target, expect=2)
        check(p.returncode == 2 and "not found" in p.stderr,
              "%s: drop of a missing collection: exit 2" % tname)

        # Bad input: exit 2, file and row, committed rows, resume.
        trunc = os.path.join(tmp, "trunc.fvecs")
        with open(f["fvecs"], "rb") as src, open(trunc, "wb") as dst:
            dst.write(src.read(4 * (d + 1) * 700 + 10))
        p = run("ingest", *target, "--collection", "t", "--input", trunc,
                "--create", "--batch", "100", "--progress", "none", expect=2)
        check(p.returncode == 2 and "trunc.fvecs" in p.stderr and
              "row 701" in p.stderr and "700 rows committed" in p.stderr and
              "--skip 700" in p.stderr,
              "%s: truncated file: exit 2, row 701, 700 committed (%s)" %
              (tname, p.stderr.strip().splitlines()[0] if p.stderr else ""))
        # The fixed file resumes where it stopped.
        p = run("ingest", *target, "--collection", "t", "--input",
                f["fvecs"], "--skip", "700", "--progress", "none")
        p = run("collections", "info", "t", *target, "--json")
        check(json.loads(p.stdout)["count"] == 1200,
              "%s: resume with --skip 700 completes (1200 points)" % tname)
        bad = os.path.join(tmp, "bad.csv")
        with open(bad, "w") as out:
            for i in range(50):
                row = base[i][:]
                if i == 33:
                    row[4] = float("nan")
                out.write("%d,%s\n" % (i, ",".join(repr(x) for x in row)))
        p = run("ingest", *target, "--collection", "bad", "--input", bad,
                "--create", "--batch", "10", "--progress", "none", expect=2)
        check(p.returncode == 2 and "bad.csv" in p.stderr and
              "line 34" in p.stderr and "30 rows committed" in p.stderr,
              "%s: NaN in a csv: exit 2, line 34, 30 committed" % tname)
        badj = os.path.join(tmp, "bad.jsonl")
        with open(badj, "w") as out:
            out.write(json.dumps({"vector": base[0]}) + "\n")
            out.write('{"vector": [1, 2,\n')
        p = run("ingest", *target, "--collection", "bad", "--input", badj,
                expect=2)
        check(p.returncode == 2 and "bad.jsonl" in p.stderr and
              "line 2" in p.stderr, "%s: unparsable JSON: exit 2, line 2" %
              tname)
        wrongd = os.path.join(tmp, "wrongd.fvecs")
        write_vecs(wrongd, base[:5] + [base[5][:d - 1]] + base[6:9], "f")
        p = run("ingest", *target, "--collection", "bad", "--input", wrongd,
                expect=2)
        check(p.returncode == 2 and "wrongd.fvecs" in p.stderr and
              "row 6" in p.stderr, "%s: wrong dimension in row 6: exit 2" %
              tname)
        other = os.path.join(tmp, "other.fvecs")
        write_vecs(other, vectors(5, d + 1, 3), "f")
        p = run("ingest", *target, "--collection", "bad", "--input", other,
                expect=2)
        check(p.returncode == 2 and "dimension 17" in p.stderr,
              "%s: file of another dimension than the collection" % tname)
        unk = os.path.join(tmp, "a.xyz")
        shutil.copy(f["fvecs"], unk)
        p = run("ingest", *target, "--collection", "bad", "--input", unk,
                expect=2)
        check(p.returncode == 2 and "a.xyz" in p.stderr,
              "%s: unknown extension: exit 2" % tname)
        p = run("search", *target, "--collection", "nope", "--vector",
                "1,2", expect=2)
        check(p.returncode == 2 and "nope" in p.stderr,
              "%s: search of an unknown collection: exit 2" % tname)
        p = run("search", *target, "--collection", "c_fvecs", "--vector",
                "1,2,3", expect=2)
        check(p.returncode == 2 and "16" in p.stderr,
              "%s: query of the wrong dimension: exit 2" % tname)

    # Aliases through the CLI: made, moved, listed, deleted; a search
    # through an alias is its collection's.
    for tname, target in targets:
        p = run("collections", *target, "alias", "cur", "c_csv")
        check(p.returncode == 0 and "names collection 'c_csv'" in p.stdout,
              "%s: collections alias cur c_csv" % tname)
        p = run("collections", *target, "alias", "cur", "c_jsonl")
        check(p.returncode == 0, "%s: the alias moved to c_jsonl" % tname)
        p = run("collections", *target, "aliases", "--json")
        check(p.returncode == 0 and json.loads(p.stdout) ==
              {"cur": "c_jsonl"}, "%s: collections aliases: %s" %
              (tname, p.stdout.strip()))
        p = run("search", *target, "--collection", "cur", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "1", "--exact",
                "--json")
        r = json.loads(p.stdout)["results"][0] if p.returncode == 0 else {}
        check(r.get("id") == 5007, "%s: a search through the alias" % tname)
        p = run("collections", *target, "drop", "cur", expect=2)
        check(p.returncode == 2 and "is an alias" in p.stderr,
              "%s: drop of an alias: exit 2" % tname)
        p = run("collections", *target, "unalias", "cur")
        check(p.returncode == 0, "%s: collections unalias cur" % tname)
        p = run("collections", *target, "unalias", "cur", expect=2)
        check(p.returncode == 2 and "not found" in p.stderr,
              "%s: unalias of an unknown alias: exit 2" % tname)

    # tqdb snapshots against the server: create one of c_jsonl, list it,
    # restore it into the running server under another name and into a new
    # data directory (the same points and payloads), refused over an
    # existing collection (exit 2), deleted.
    p = run("snapshots", "--server", addr, "create", "c_jsonl", "--json")
    snap = json.loads(p.stdout) if p.returncode == 0 else {}
    check(snap.get("collection") == "c_jsonl" and
          os.path.isdir(snap.get("path", "")),
          "snapshots create c_jsonl: %s" % (snap or p.stderr.strip()))
    p = run("snapshots", "--server", addr, "list", "--json")
    listed = json.loads(p.stdout) if p.returncode == 0 else []
    check([x["name"] for x in listed] == [snap.get("name")],
          "snapshots list --json: %s" % listed)
    for where, restored in (("server", ["--server", addr]),
                            ("data", ["--data", os.path.join(tmp, "rst")])):
        p = run("snapshots", "restore", snap.get("path", ""), *restored,
                "--collection", "c_jsonl", "--as", "c_back")
        check(p.returncode == 0 and "restored collection 'c_jsonl' as "
              "'c_back': 1,200 points" in p.stdout,
              "snapshots restore --%s: %s" % (where, p.stdout.strip() or
                                              p.stderr.strip()))
        p = run("search", *restored, "--collection", "c_back", "--vector",
                ",".join(repr(x) for x in base[7]), "--k", "1", "--exact",
                "--json")
        r = json.loads(p.stdout)["results"][0] if p.returncode == 0 else {}
        check(r.get("id") == 5007 and r.get("payload") ==
              {"n": 7, "tag": "j"},
              "restored into --%s: ids and payloads as ingested" % where)
    # A restore that fails midway (a server whose payload limit the
    # snapshot's payloads pass) leaves no partial collection behind.
    small, small_addr = start_server(tmp, "small", "--max-payload-bytes", "8")
    p = run("snapshots", "restore", snap.get("path", ""), "--server",
            small_addr, expect=2)
    check(p.returncode == 2 and "was dropped" in p.stderr,
          "a restore failing midway: exit 2, the partial collection dropped "
          "(%s)" % p.stderr.strip())
    p = run("collections", "--server", small_addr, "--json")
    check(p.returncode == 0 and "c_jsonl" not in p.stdout,
          "nothing left behind: %s" % p.stdout.strip())
    small.send_signal(signal.SIGTERM)
    small.wait(timeout=60)
    p = run("snapshots", "restore", snap.get("path", ""), "--server", addr,
            expect=2)
    check(p.returncode == 2 and "collection 'c_jsonl' exists" in p.stderr,
          "snapshots restore over an existing collection: exit 2 (%s)" %
          p.stderr.strip())
    p = run("snapshots", "--server", addr, "delete", snap.get("name", "x"))
    check(p.returncode == 0 and not os.path.exists(snap.get("path", "")),
          "snapshots delete")
    p = run("snapshots", "--server", addr, "delete", "nope", expect=2)
    check(p.returncode == 2 and "no snapshot 'nope'" in p.stderr,
          "snapshots delete of an unknown name: exit 2")

    # Usage errors.
    for args in (["ingest"], ["ingest", "--collection", "x", "--input", "y"],
                 ["search", "--collection", "x", "--server", addr],
                 ["collections", "frobnicate", "--server", addr],
                 ["snapshots", "restore", "--server", addr],
                 ["snapshots", "create", "--as", "x", "--server", addr],
                 ["serve"], ["nosuchcommand"],
                 ["ingest", "--bogus-flag", "1"]):
        p = run(*args, expect=2)
        check(p.returncode == 2, "usage error exits 2: tqdb " +
              " ".join(args[:2]))
    for cmd in ("ingest", "search", "collections", "serve", "snapshots",
                "bench", "distortion"):
        p = run(cmd, "--help")
        check(p.returncode == 0 and "usage" in p.stdout,
              "tqdb %s --help" % cmd)
    # tqdb cluster against a single server: exit 2, saying it is not a
    # cluster node (or, built without the cluster, that it is not built in).
    p = run("cluster", "status", "--server", addr, expect=2)
    check(p.returncode == 2 and ("is not a cluster node" in p.stderr or
                                 "built without the cluster" in p.stderr),
          "tqdb cluster status on a single server: exit 2 (%s)" %
          p.stderr.strip())
    # Unreachable server: exit 1 (nothing wrong with the input).
    p = run("collections", "--server", "127.0.0.1:1", expect=1)
    check(p.returncode == 1 and "127.0.0.1:1" in p.stderr,
          "unreachable server: exit 1, names the address")

    # bench and distortion on the same files (smoke).
    p = run("bench", "--base", f["fvecs"], "--queries", f["fvecs"],
            "--metric", "ip", "--methods", "renorm,pq", "--bits", "2",
            "--nprobe", "all", "--max-queries", "50")
    check(p.returncode == 0 and "renorm" in p.stdout, "tqdb bench runs")
    p = run("distortion", "--input", f["fvecs"], "--bits", "2")
    check(p.returncode == 0, "tqdb distortion runs")

    server.send_signal(signal.SIGTERM)
    try:
        rc = server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        rc = -1
    check(rc == 0, "tqdb serve stops cleanly on SIGTERM (exit %d)" % rc)
    shutil.rmtree(tmp)
    if FAILS:
        print("%d checks failed" % len(FAILS))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
