#!/usr/bin/python3
"""Filtered search end to end: a real `tqdb serve`, loaded and indexed with
the CLI, queried over gRPC (Debian's python3-grpcio, the stubs of
rpc/python) and with the CLI, every answer checked against Python's own
evaluation of the filter on the payloads and exact search over the
matching rows.

Data: the first 3,000 Debian package descriptions of use512-debian-pkgdesc
with their payloads (section, installed_size_kb, tags...) and the
description's text as "description" when the shared data is there, else
3,000 synthetic clustered vectors whose section follows the cluster
(correlated with the vectors, like the real one) and descriptions of words
drawn by section.

Covers: payload indexes created over a loaded collection (CLI), filtered
search (full pages, every hit matching, recall against exact filtered
search; plans), full-text conditions over a text index (match text and
text_any, Python's own words), count, facet counts, scroll (every page;
ordered by a field), a filter on a field without an index (right answer, reported
unindexed), delete by filter, payload updates, bad filters (INVALID_ARGUMENT
naming the place, CLI exit 2, nothing written, the server serving on), and
the indexes after a restart.

usage: filter_test.py --tqdb BUILD/tools/tqdb --python-stubs rpc/python
                      [--data SHARED_DATA_DIR]
"""
import argparse
import collections
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_util import Serve, check, fail  # noqa: E402

N = 3000
K = 10


def read_fvecs(path, limit):
    rows = []
    with open(path, "rb") as f:
        while len(rows) < limit:
            head = f.read(4)
            if not head:
                break
            (d,) = struct.unpack("<i", head)
            rows.append(list(struct.unpack("<%df" % d, f.read(4 * d))))
    return rows


def write_fvecs(path, rows):
    with open(path, "wb") as f:
        for r in rows:
            f.write(struct.pack("<i", len(r)))
            f.write(struct.pack("<%df" % len(r), *r))


def synthetic(rng):
    """Clustered vectors; the section is the cluster's (correlated)."""
    import random
    d, clusters = 32, 24
    centers = [[rng.gauss(0, 1) for _ in range(d)] for _ in range(clusters)]
    base, payloads = [], []
    sizes = ["libs"] * 6 + ["devel"] * 4 + ["web", "games", "doc", "math",
                                            "sound", "net"] * 2 + ["x11", "tex"]
    for i in range(N):
        c = int(clusters * (rng.random() ** 2))  # unequal clusters
        v = [x + rng.gauss(0, 0.4) for x in centers[c]]
        base.append(v)
        section = sizes[c % len(sizes)]
        words = [section, "Data", "tool", "library", "files", "Python",
                 "module", "the", "for", "and", "GNU", "plugin", "x"]
        payloads.append({"section": section,
                         "installed_size_kb": rng.randrange(1, 600),
                         "priority": rng.choice(["optional", "important"]),
                         "tags": ["role::doc"] if rng.random() < 0.1 else [],
                         "description": ", ".join(
                             rng.choice(words) for _ in range(6))})
    queries = [[x + rng.gauss(0, 0.5) for x in centers[int(clusters *
                                                           rng.random())]]
               for _ in range(30)]
    del random
    return base, payloads, queries


def words(text):
    """Python's cut of a text into words (for the texts here: runs of
    letters and digits, lowercased)."""
    return set(re.findall(r"[^\W_]+", text.lower()))


def matches(f, pid, p):
    """Python's own reading of the filter subset the test uses."""
    def cond(c):
        if "has_id" in c:
            return pid in c["has_id"]
        if "is_empty" in c:
            v = p.get(c["is_empty"]["key"])
            return v is None or v == []
        if any(k in c for k in ("must", "should", "must_not")):
            return matches(c, pid, p)
        v = p.get(c["key"])
        vals = v if isinstance(v, list) else [v]
        if "values_count" in c:
            n = 0 if v is None else len(vals)
            r = c["values_count"]
            return (("gt" not in r or n > r["gt"]) and
                    ("gte" not in r or n >= r["gte"]) and
                    ("lt" not in r or n < r["lt"]) and
                    ("lte" not in r or n <= r["lte"]))
        if "match" in c:
            m = c["match"]
            if "value" in m:
                return m["value"] in vals
            if "any" in m:
                return any(x in m["any"] for x in vals)
            have = set()
            for x in vals:
                if isinstance(x, str):
                    have |= words(x)
            if "text" in m:
                return words(m["text"]) <= have
            if "text_any" in m:
                return bool(words(m["text_any"]) & have)
        r = c["range"]
        return any(isinstance(x, (int, float)) and not isinstance(x, bool) and
                   ("gt" not in r or x > r["gt"]) and
                   ("gte" not in r or x >= r["gte"]) and
                   ("lt" not in r or x < r["lt"]) and
                   ("lte" not in r or x <= r["lte"]) for x in vals)
    return (all(cond(c) for c in f.get("must", [])) and
            not any(cond(c) for c in f.get("must_not", [])) and
            (not f.get("should") or any(cond(c) for c in f["should"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--python-stubs", required=True)
    ap.add_argument("--data", default="")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.python_stubs))
    import grpc
    from e2e_util import api_namespaces
    pb, rpc = api_namespaces()
    import random
    rng = random.Random(14)

    tmp = tempfile.mkdtemp(prefix="tqdb_filter_e2e_")
    set_dir = os.path.join(args.data, "use512-debian-pkgdesc")
    base_file = os.path.join(set_dir, "debdesc_use512_base_20k.fvecs")
    if args.data and os.path.exists(base_file):
        base = read_fvecs(base_file, N)
        with open(os.path.join(set_dir,
                               "debdesc_use512_base_20k.payload.jsonl")) as f:
            payloads = [json.loads(next(f)) for _ in range(N)]
        with open(os.path.join(set_dir, "debdesc_use512_base_20k.texts.tsv"),
                  encoding="utf-8") as f:
            for p in payloads:
                p["description"] = next(f).rstrip("\n").split("\t", 1)[1]
        queries = read_fvecs(os.path.join(
            set_dir, "debdesc_use512_query_1k.fvecs"), 30)
        metric, what = "ip", "use512-debian-pkgdesc (first 3,000 rows)"
    else:
        print("(no shared data: synthetic clustered vectors)")
        base, payloads, queries = synthetic(rng)
        metric, what = "l2", "synthetic"
    write_fvecs(os.path.join(tmp, "base.fvecs"), base)
    write_fvecs(os.path.join(tmp, "q.fvecs"), queries)
    with open(os.path.join(tmp, "p.jsonl"), "w") as f:
        for p in payloads:
            f.write(json.dumps(p) + "\n")

    def exact(q, ids):
        def score(i):
            v = base[i]
            if metric == "ip":
                return sum(a * b for a, b in zip(q, v))
            return -sum((a - b) ** 2 for a, b in zip(q, v))
        return sorted(ids, key=score, reverse=True)[:K]

    def cli(*a, expect=0):
        r = subprocess.run([args.tqdb] + [str(x) for x in a],
                           capture_output=True, text=True)
        if r.returncode != expect:
            fail("tqdb %s: exit %d, expected %d\n%s%s" % (
                " ".join(map(str, a)), r.returncode, expect, r.stdout,
                r.stderr))
        return r

    server = Serve(args.tqdb)
    data_dir = server.data
    first_tmp = server.tmp
    try:
        addr = server.grpc
        cli("ingest", "--server", addr, "--collection", "docs", "--input",
            os.path.join(tmp, "base.fvecs"), "--payload",
            os.path.join(tmp, "p.jsonl"), "--create", "--metric", metric,
            "--nlist", 32, "--train", "--progress", "none")
        cli("collections", "--server", addr, "index", "docs", "section",
            "keyword")
        cli("collections", "--server", addr, "index", "docs",
            "installed_size_kb", "integer")
        cli("collections", "--server", addr, "index", "docs",
            "description", "text")
        check(True, "%s: %d points loaded, trained, three payload indexes "
              "built over them (CLI)" % (what, N))
        ch = grpc.insecure_channel(addr)
        points = rpc.PointsStub(ch)
        colls = rpc.CollectionsStub(ch)
        info = colls.Get(pb.GetCollectionRequest(name="docs"))
        check([(i.field, i.ready, i.points) for i in info.payload_indexes] ==
              [("description", True, N), ("installed_size_kb", True, N),
               ("section", True, N)],
              "payload indexes listed, ready, %d points each" % N)

        def to_proto(f):
            """Qdrant's JSON syntax to tqdb.v1.Filter, for the test's
            subset (the Python client has the full conversion)."""
            out = pb.Filter()
            for clause in ("must", "should", "must_not"):
                for c in f.get(clause, []):
                    pc = getattr(out, clause).add()
                    if "has_id" in c:
                        pc.has_id.has_id.extend(c["has_id"])
                    elif "is_empty" in c:
                        pc.is_empty.key = c["is_empty"]["key"]
                    elif "match" in c:
                        pc.field.key = c["key"]
                        m = c["match"]
                        if "value" in m:
                            pc.field.match.value.keyword = m["value"]
                        elif "text" in m or "text_any" in m:
                            op = "text" if "text" in m else "text_any"
                            setattr(pc.field.match, op, m[op])
                        else:
                            pc.field.match.any.keywords.extend(m["any"])
                    elif "values_count" in c:
                        pc.field.key = c["key"]
                        for op, v in c["values_count"].items():
                            setattr(pc.field.values_count, op, v)
                    else:
                        pc.field.key = c["key"]
                        for op, v in c["range"].items():
                            setattr(pc.field.range, op, v)
            return out

        counts = {}
        for p in payloads:
            counts[p["section"]] = counts.get(p["section"], 0) + 1
        by_size = sorted(counts, key=lambda s: -counts[s])
        common, rare = by_size[0], [s for s in by_size if counts[s] >= K][-1]
        # Words of the descriptions: a frequent one, the fifth most frequent
        # beside it (both must be there; asked in capitals with
        # punctuation), and two others for text_any.
        doc_words = [words(p["description"]) for p in payloads]
        ranked = [w for w, _ in collections.Counter(
            w for ws in doc_words for w in ws).most_common()]
        beside = collections.Counter(
            w for ws in doc_words if ranked[10] in ws for w in ws
            if w != ranked[10]).most_common(5)
        both = "%s, %s!" % (ranked[10].upper(), beside[-1][0])
        either = "%s %s" % (ranked[2], ranked[30])
        filters = [
            ("common section", {"must": [{"key": "section", "match":
                                          {"value": common}}]}),
            ("rare section", {"must": [{"key": "section", "match":
                                        {"value": rare}}]}),
            ("size range, not docs", {
                "must": [{"key": "installed_size_kb", "range": {"lt": 300}}],
                "must_not": [{"key": "section", "match": {"any": ["doc"]}}]}),
            ("a few ids", {"must": [{"has_id": [5, 17, 1000, 2999]}]}),
            ("text '%s'" % both, {"must": [{"key": "description", "match":
                                            {"text": both}}]}),
            ("text_any '%s', a size range" % either, {
                "must": [{"key": "description", "match": {"text_any": either}},
                         {"key": "installed_size_kb", "range": {"gte": 50}}]}),
            # (Read from the payloads: "tags" is reported unindexed.)
            ("two tags or more, not docs", {
                "must": [{"key": "tags", "values_count": {"gte": 2}}],
                "must_not": [{"key": "section", "match": {"any": ["doc"]}}]}),
        ]
        nprobe = 8
        unfiltered = 0.0
        for q in queries:
            r = points.Search(pb.SearchRequest(
                collection="docs", vector=q, limit=K,
                params=pb.SearchParams(nprobe=nprobe, rescore=True)))
            unfiltered += len({p.id for p in r.points} &
                              set(exact(q, range(N)))) / K
        unfiltered /= len(queries)
        print("unfiltered 10-recall@10 at nprobe %d of 32: %.3f" % (
            nprobe, unfiltered))
        for name, f in filters:
            want_ids = [i for i, p in enumerate(payloads) if matches(f, i, p)]
            recall, full, plans = 0.0, 0, set()
            for qi, q in enumerate(queries):
                req = pb.SearchRequest(collection="docs", vector=q, limit=K,
                                       with_payload=True, filter=to_proto(f),
                                       params=pb.SearchParams(
                                           nprobe=nprobe, rescore=True))
                r = points.Search(req)
                plans.add(r.plan.kind)
                got = [p.id for p in r.points]
                for p in r.points:
                    if not matches(f, p.id, json.loads(p.payload)):
                        fail("%s: hit %d does not match" % (name, p.id))
                if r.plan.matches != len(want_ids):
                    fail("%s: plan says %d matches, %d do" % (
                        name, r.plan.matches, len(want_ids)))
                full += len(got) == min(K, len(want_ids))
                truth = exact(q, want_ids)
                recall += len(set(got) & set(truth)) / max(1, len(truth))
            recall /= len(queries)
            check(full == len(queries),
                  "%s (%d matches): every page full, every hit matching "
                  "(plans %s)" % (name, len(want_ids), sorted(plans)))
            # 30 queries: a few hundredths of noise either way.
            check(recall >= min(0.95, unfiltered - 0.03),
                  "%s: 10-recall@10 %.3f against exact search over the "
                  "matching rows (unfiltered %.3f)" % (name, recall,
                                                       unfiltered))
            c = points.Count(pb.CountRequest(collection="docs",
                                             filter=to_proto(f)))
            unindexed = sorted(x["key"] for x in f.get("must", [])
                               if "values_count" in x)
            check(c.count == len(want_ids) and
                  list(c.unindexed_fields) == unindexed,
                  "%s: count %d" % (name, c.count))

        # Scroll every page of a filter; a field without an index.
        f = {"must": [{"key": "priority", "match": {"value": "optional"}}],
             "must_not": [{"is_empty": {"key": "tags"}}]}
        want_ids = [i for i, p in enumerate(payloads) if matches(f, i, p)]
        seen, offset, pages = [], None, 0
        while True:
            req = pb.ScrollRequest(collection="docs", filter=to_proto(f),
                                   limit=7, with_payload=True)
            if offset is not None:
                req.offset = offset
            page = points.Scroll(req)
            pages += 1
            seen += [p.id for p in page.points]
            if not page.HasField("next_page_offset"):
                break
            offset = page.next_page_offset
        check(seen == want_ids and list(page.unindexed_fields) ==
              ["priority", "tags"],
              "scroll: %d pages, the %d matches in id order; fields without "
              "an index reported (%s)" % (pages, len(want_ids),
                                          list(page.unindexed_fields)))

        # The CLI: search --filter --json, count, scroll --all.
        f = filters[0][1]
        r = cli("search", "--server", addr, "--collection", "docs",
                "--query-file", os.path.join(tmp, "q.fvecs"), "--row", 3,
                "--k", K, "--nprobe", nprobe, "--rescore", "--filter",
                json.dumps(f), "--json")
        out = json.loads(r.stdout)
        g = points.Search(pb.SearchRequest(
            collection="docs", vector=queries[3], limit=K,
            filter=to_proto(f), params=pb.SearchParams(nprobe=nprobe,
                                                       rescore=True)))
        check([h["id"] for h in out["results"]] == [p.id for p in g.points]
              and all(h["payload"]["section"] == common
                      for h in out["results"]) and "plan" in out,
              "tqdb search --filter --json: the gRPC answer, payloads, the "
              "plan (%s)" % out["plan"])
        with open(os.path.join(tmp, "f.json"), "w") as fh:
            json.dump(filters[2][1], fh)
        r = cli("collections", "--server", addr, "count", "docs", "--filter",
                "@" + os.path.join(tmp, "f.json"))
        n2 = len([i for i, p in enumerate(payloads)
                  if matches(filters[2][1], i, p)])
        check(str(n2) in r.stdout, "tqdb collections count --filter @FILE: "
              "%s" % r.stdout.strip())
        # Facet counts of section (indexed) among the filter's matches:
        # the most frequent sections, ties by name, as Python counts them.
        r = cli("collections", "--server", addr, "facet", "docs", "section",
                "--filter", "@" + os.path.join(tmp, "f.json"), "--limit", 5,
                "--json")
        counts = {}
        for i, p in enumerate(payloads):
            if matches(filters[2][1], i, p) and "section" in p:
                counts[p["section"]] = counts.get(p["section"], 0) + 1
        want = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        got = [(h["value"], h["count"]) for h in json.loads(r.stdout)["hits"]]
        check(got == want, "tqdb collections facet --filter --limit --json: "
              "the sections Python counts (%s)" % got)
        r = cli("scroll", "--server", addr, "--collection", "docs",
                "--filter", json.dumps(filters[3][1]), "--all", "--json")
        ids = [json.loads(line)["id"] for line in r.stdout.splitlines()]
        check(ids == [5, 17, 1000, 2999], "tqdb scroll --all --json: %s" % ids)
        # Ordered by installed_size_kb (indexed), largest first, then ids:
        # every page of 7 of the rare section, as Python sorts them.
        rare_f = filters[1][1]
        want = sorted(((p["installed_size_kb"], i) for i, p in
                       enumerate(payloads) if matches(rare_f, i, p) and
                       isinstance(p.get("installed_size_kb"), int)),
                      key=lambda e: (-e[0], e[1]))
        r = cli("scroll", "--server", addr, "--collection", "docs",
                "--filter", json.dumps(rare_f), "--order-by",
                "installed_size_kb", "--desc", "--limit", 7, "--all",
                "--json")
        got = [(int(p["order_value"]), p["id"]) for p in
               map(json.loads, r.stdout.splitlines())]
        check(got == want and len(want) > 7,
              "tqdb scroll --order-by --desc --all: the %d sizes of the rare "
              "section largest first, as Python sorts them" % len(want))

        # Bad filters: the place named, exit 2, nothing written.
        bad = {"must": [{"key": "installed_size_kb", "range": {"gt": "x"}}]}
        r = cli("collections", "--server", addr, "count", "docs", "--filter",
                json.dumps(bad), expect=2)
        check("must[0].range.gt" in r.stderr, "CLI: a bad filter exits 2 "
              "naming its place: %s" % r.stderr.strip())
        wrong_type = pb.Filter()
        cond = wrong_type.must.add().field
        cond.key = "section"
        cond.range.gt = 3
        try:
            points.Delete(pb.DeletePointsRequest(collection="docs",
                                                 filter=wrong_type))
            fail("a range on a keyword index was accepted")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and
                  "must[0]" in e.details(),
                  "gRPC: INVALID_ARGUMENT naming the place (%s)" %
                  e.details())
        check(points.Count(pb.CountRequest(collection="docs")).count == N,
              "nothing deleted by the rejected request; the server serves on")

        # Payload update, then delete by filter.
        up = points.SetPayload(pb.SetPayloadRequest(
            collection="docs", payload=b'{"section": "moved"}',
            filter=to_proto(filters[3][1]), wait=True))
        cur = {i: dict(p) for i, p in enumerate(payloads)}
        for i in filters[3][1]["must"][0]["has_id"]:
            cur[i]["section"] = "moved"
        moved = {"must": [{"key": "section", "match": {"value": "moved"}}]}
        c = points.Count(pb.CountRequest(collection="docs",
                                         filter=to_proto(moved)))
        check(up.updated == 4 and c.count == 4,
              "SetPayload by filter: 4 points moved to a new section, the "
              "index follows")
        gone = [i for i, p in cur.items() if p["section"] == rare]
        for i in gone:
            del cur[i]
        d = points.Delete(pb.DeletePointsRequest(
            collection="docs", filter=to_proto(filters[1][1]), wait=True))
        check(d.deleted == len(gone) and points.Count(pb.CountRequest(
            collection="docs")).count == len(cur),
            "delete by filter: the %d points of section %s" % (
                d.deleted, rare))
        ch.close()
        rc = server.stop()
        check(rc == 0, "tqdb serve exits 0 on SIGTERM")

        # Restart on the same directory: the indexes come back.
        server = Serve(args.tqdb, data=data_dir)
        ch = grpc.insecure_channel(server.grpc)
        points = rpc.PointsStub(ch)
        c = points.Count(pb.CountRequest(collection="docs",
                                         filter=to_proto(moved)))
        c2 = points.Count(pb.CountRequest(collection="docs",
                                          filter=to_proto(filters[0][1])))
        text_f = filters[4][1]
        c3 = points.Count(pb.CountRequest(collection="docs",
                                          filter=to_proto(text_f)))
        check(c.count == 4 and not c.unindexed_fields and
              c2.count == sum(p["section"] == common for p in cur.values())
              and not c3.unindexed_fields and
              c3.count == sum(matches(text_f, i, p) for i, p in cur.items()),
              "after a restart: the same counts from the indexes (text: %d)"
              % c3.count)
        ch.close()
    finally:
        rc = server.stop()
        shutil.rmtree(server.tmp, ignore_errors=True)
        shutil.rmtree(first_tmp, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    check(rc == 0, "tqdb serve exits 0 on SIGTERM (after the restart)")
    print("PASS")


if __name__ == "__main__":
    main()
