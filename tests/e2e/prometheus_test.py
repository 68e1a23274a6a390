#!/usr/bin/python3
"""tqdb's metrics scraped by a real Prometheus (Debian's prometheus 2.42).

Starts `tqdb serve --metrics` with an API key, runs REST traffic (create,
upsert, train, search, a bad request), checks `promtool check metrics` on
a scrape, then starts Prometheus on a free loopback port with a scrape
config for the server (1 s interval, the key as a bearer credentials file)
and asks Prometheus' HTTP API for the series until they show the traffic.
Stops both; the server must exit 0.

usage: prometheus_test.py --tqdb BUILD/tools/tqdb
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_util import Serve, check, fail, free_port, http  # noqa: E402


def query(prom, expr):
    """The vector result of an instant query, as {labels tuple: value}."""
    status, body = http("GET", "http://%s/api/v1/query?query=%s" %
                        (prom, urllib.parse.quote(expr)))
    if status != 200:
        return None
    out = {}
    for r in json.loads(body)["data"]["result"]:
        out[tuple(sorted(r["metric"].items()))] = float(r["value"][1])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    args = ap.parse_args()
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            fail(tool + " not found (tools/setup.sh installs Debian's "
                 "prometheus)")

    key = "metrics-test-key"
    tmp_key = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                           "tqdb_prom_key_%d" % os.getpid())
    with open(tmp_key, "w") as f:
        f.write(key + "\n")
    srv = Serve(args.tqdb, ["--api-key-file", tmp_key, "--http", "127.0.0.1:0",
                            "--metrics", "127.0.0.1:0"])
    auth = {"Authorization": "Bearer " + key}
    api = "http://" + srv.http
    prom_proc = None
    try:
        # Traffic over REST (the gateway's calls are counted as transport
        # "http").
        s, b = http("PUT", api + "/collections/docs",
                    {"dim": 16, "ivf": {"nlist": 4}}, auth)
        check(s == 200, "create over REST (%d %s)" % (s, b[:200]))
        rnd = random.Random(5)
        pts = [{"id": i, "vector": [rnd.gauss(0, 1) for _ in range(16)]}
               for i in range(500)]
        for lo in range(0, 500, 100):
            s, b = http("PUT", api + "/collections/docs/points",
                        {"points": pts[lo:lo + 100]}, auth)
            check(s == 200, "upsert a batch of 100")
        s, b = http("POST", api + "/collections/docs/train", {}, auth)
        check(s == 200, "train")
        for i in range(7):
            s, b = http("POST", api + "/collections/docs/points/search",
                        {"vector": pts[i]["vector"], "limit": 3,
                         "params": {"nprobe": 2}}, auth)
            check(s == 200 and json.loads(b)["points"][0]["id"] == str(i),
                  "search %d finds its point" % i)
        s, b = http("POST", api + "/collections/docs/points/search",
                    {"vector": [1.0], "limit": 3}, auth)
        check(s == 400 and "INVALID_ARGUMENT" in b, "a bad search is 400")

        # The scrape: the key is needed, promtool accepts the text.
        metrics_url = "http://%s/metrics" % srv.metrics
        s, _ = http("GET", metrics_url)
        check(s == 401, "/metrics without the key is 401")
        s, text = http("GET", metrics_url, headers=auth)
        check(s == 200 and "tqdb_rpc_requests_total" in text,
              "/metrics with the key")
        names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                 if line and not line.startswith("#")}
        check(all(n.startswith("tqdb_") for n in names),
              "all %d series names start with tqdb_" % len(names))
        pc = subprocess.run(["promtool", "check", "metrics"], input=text,
                            text=True, capture_output=True)
        check(pc.returncode == 0,
              "promtool check metrics: %s" % (pc.stdout + pc.stderr).strip())

        # A real Prometheus scraping it.
        prom_port = free_port()
        prom = "127.0.0.1:%d" % prom_port
        cfg = os.path.join(srv.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: tqdb\n"
                    "    authorization:\n      type: Bearer\n"
                    "      credentials_file: %s\n"
                    "    static_configs:\n      - targets: ['%s']\n"
                    % (tmp_key, srv.metrics))
        prom_log = open(os.path.join(srv.tmp, "prometheus.log"), "w")
        prom_proc = subprocess.Popen(
            ["prometheus", "--config.file", cfg,
             "--storage.tsdb.path", os.path.join(srv.tmp, "tsdb"),
             "--web.listen-address", prom, "--log.level", "warn"],
            stdout=prom_log, stderr=subprocess.STDOUT)
        want = {
            'up{job="tqdb"}': lambda v: v == 1,
            'tqdb_rpc_requests_total{method="tqdb.v1.Points/Search",'
            'code="OK",transport="http"}': lambda v: v == 7,
            'tqdb_rpc_requests_total{method="tqdb.v1.Points/Search",'
            'code="INVALID_ARGUMENT"}': lambda v: v == 1,
            'tqdb_rpc_duration_seconds_count{method="tqdb.v1.Points/Upsert"}':
                lambda v: v == 5,
            'tqdb_search_lists_probed_total': lambda v: v == 14,
            'tqdb_search_codes_scanned_total': lambda v: v > 0,
            'tqdb_ingest_points_total': lambda v: v == 500,
            'tqdb_collection_points{collection="docs"}': lambda v: v == 500,
            'tqdb_collection_trained{collection="docs"}': lambda v: v == 1,
            'tqdb_collection_nlist{collection="docs"}': lambda v: v == 4,
            'tqdb_collection_index_memory_bytes{collection="docs"}':
                lambda v: v > 0,
            'tqdb_rocksdb_block_cache_capacity_bytes': lambda v: v > 0,
            'tqdb_process_resident_memory_bytes': lambda v: v > 1e6,
        }
        deadline = time.time() + 60
        pending = dict(want)
        last = {}
        while pending and time.time() < deadline:
            if prom_proc.poll() is not None:
                fail("prometheus exited with %d" % prom_proc.returncode)
            for expr, ok in list(pending.items()):
                r = query(prom, expr)
                if r:
                    last[expr] = list(r.values())
                    if all(ok(v) for v in r.values()):
                        print("ok: Prometheus has %s = %s" %
                              (expr, list(r.values())), flush=True)
                        del pending[expr]
            time.sleep(0.5)
        if pending:
            fail("Prometheus never showed %s (last: %s)" %
                 (sorted(pending), {k: last.get(k) for k in pending}))
    finally:
        if prom_proc is not None:
            prom_proc.terminate()
            try:
                prom_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom_proc.kill()
        rc = srv.stop()
        os.unlink(tmp_key)
    check(rc == 0, "tqdb serve exits 0 on SIGTERM")
    shutil.rmtree(srv.tmp, ignore_errors=True)
    print("1 passed, 0 failed", flush=True)


if __name__ == "__main__":
    main()
