#!/usr/bin/python3
"""The dashboard in a real browser: Debian's headless Chromium, driven over
the W3C WebDriver protocol by Debian's chromedriver (plain HTTP, no client
library), against a live `tqdb serve --http` with data in it.

Loads /dashboard/, checks the collections table (count, memory, training
state) and the list-size histogram, opens the point browser, clicks "search
by this point", waits for the neighbours, checks the results table (the
point itself first, scores, payloads), screenshots the page and the
results table (PNG files in the test's directory, checked to be real
images of the table's size), and checks the benchmark chart is shown.
Robust with no network: every Chromium flag that would reach out is off.

usage: dashboard_test.py --tqdb BUILD/tools/tqdb [--keep DIR]
"""
import argparse
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_util import Serve, check, fail, free_port, http  # noqa: E402

CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions",
    "--disable-dev-shm-usage", "--window-size=1280,1600",
]


class WebDriver:
    """The few W3C WebDriver commands the test needs."""

    def __init__(self, url, user_data_dir):
        self.url = url
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": shutil.which("chromium") or "/usr/bin/chromium",
                "args": CHROME_FLAGS + ["--user-data-dir=" + user_data_dir],
            }}}}
        r = self._call("POST", "/session", caps, timeout=60)
        self.session = r["sessionId"]

    def _call(self, method, path, body=None, timeout=30):
        status, text = http(method, self.url + path,
                            body if body is not None else
                            ({} if method == "POST" else None),
                            timeout=timeout)
        value = json.loads(text).get("value") if text else None
        if status != 200:
            fail("webdriver %s %s: %d %s" % (method, path, status, text[:500]))
        if path == "/session":
            return value
        return value

    def cmd(self, method, path, body=None):
        return self._call(method, "/session/%s%s" % (self.session, path),
                          body)

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync",
                        {"script": script, "args": list(args)})

    def find(self, css):
        r = self.cmd("POST", "/elements", {"using": "css selector",
                                          "value": css})
        return [list(e.values())[0] for e in r]

    def click(self, element):
        self.cmd("POST", "/element/%s/click" % element)

    def wait(self, what, script, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.1)
        status = self.js("return document.getElementById('status')"
                         ".textContent")
        fail("timed out waiting for %s (page status: %s)" % (what, status))

    def screenshot(self, path, element=None):
        b64 = self.cmd("GET", "/element/%s/screenshot" % element
                       if element else "/screenshot")
        data = base64.b64decode(b64)
        with open(path, "wb") as f:
            f.write(data)
        return data

    def quit(self):
        try:
            self._call("DELETE", "/session/" + self.session)
        except SystemExit:
            pass


def png_size(data):
    """(width, height) of a PNG, or None."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", data[16:24])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--keep", default="", help="copy the screenshots here")
    args = ap.parse_args()
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None:
            fail(tool + " not found (tools/setup.sh installs chromium and "
                 "chromium-driver)")

    work = tempfile.mkdtemp(prefix="tqdb_dashboard_")
    svg = os.path.join(work, "bench.svg")
    with open(svg, "w") as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="300" '
                'height="120"><rect width="300" height="120" fill="#eef"/>'
                '<text x="10" y="60">recall vs QPS</text></svg>')
    srv = Serve(args.tqdb, ["--http", "127.0.0.1:0", "--bench-svg", svg])
    api = "http://" + srv.http
    driver_proc = None
    wd = None
    try:
        # Two collections: "words" trained (histogram), "empty" untrained.
        s, b = http("PUT", api + "/collections/words",
                    {"dim": 8, "ivf": {"nlist": 4}})
        check(s == 200, "create 'words'")
        check(http("PUT", api + "/collections/empty", {"dim": 4})[0] == 200,
              "create 'empty'")
        pts = []
        for i in range(300):
            v = [((i * 7 + j * 13) % 17) / 17.0 + (0.5 if j == i % 8 else 0)
                 for j in range(8)]
            payload = base64.b64encode(
                json.dumps({"word": "w%d" % i}).encode()).decode()
            pts.append({"id": i, "vector": v, "payload": payload})
        check(http("PUT", api + "/collections/words/points",
                   {"points": pts, "wait": True})[0] == 200, "upsert 300")
        check(http("POST", api + "/collections/words/train", {})[0] == 200,
              "train 'words'")

        port = free_port()
        driver_log = open(os.path.join(work, "chromedriver.log"), "w")
        driver_proc = subprocess.Popen(
            ["chromedriver", "--port=%d" % port, "--allowed-ips=127.0.0.1"],
            stdout=driver_log, stderr=subprocess.STDOUT)
        driver = "http://127.0.0.1:%d" % port
        deadline = time.time() + 30
        while http("GET", driver + "/status")[0] != 200:
            if time.time() > deadline or driver_proc.poll() is not None:
                fail("chromedriver did not start")
            time.sleep(0.1)
        wd = WebDriver(driver, os.path.join(work, "profile"))

        wd.go(api + "/dashboard/")
        rows = wd.wait("the collections table", """
            const rows = document.querySelectorAll('#collections tbody tr');
            return rows.length === 2 ? Array.from(rows, r =>
                Array.from(r.cells, c => c.textContent)) : null;""")
        words = [r for r in rows if r[0] == "words"][0]
        empty = [r for r in rows if r[0] == "empty"][0]
        check(words[1] == "300" and words[5].startswith("trained") and
              words[6] == "4", "collections table: words %s" % words)
        check(empty[1] == "0" and empty[5] == "untrained",
              "collections table: empty %s" % empty)
        check(words[8].endswith("B") and words[8] != "0 B",
              "memory column %s" % words[8])

        wd.click(wd.find("#collections tbody tr")[
            [r[0] for r in rows].index("words")])
        bars = wd.wait("the list-size histogram", """
            const b = document.querySelectorAll('#histogram rect.bar');
            return b.length > 0 ? b.length : null;""")
        check(bars >= 2, "list-size histogram has %d buckets" % bars)
        points = wd.wait("the point browser", """
            const r = document.querySelectorAll('#points tbody tr');
            return r.length > 0 ? Array.from(r, x => x.cells[0].textContent +
                ' ' + x.cells[1].textContent) : null;""")
        check(len(points) == 20 and points[3] == '3 {"word": "w3"}',
              "point browser shows ids 0..19 with payloads (%s)" % points[3])
        # Next page.
        wd.click(wd.find("#page-next")[0])
        wd.wait("the next page", """
            const r = document.querySelector('#points tbody tr');
            return r && r.cells[0].textContent === '20';""")
        check(True, "next page starts at id 20")
        # A filter (Qdrant's syntax) over the scroll: only its points.
        wd.js("document.getElementById('page-filter').value = arguments[0];",
              '{"must": [{"has_id": [3, 5, 7, 90]}], "must_not": '
              '[{"key": "word", "match": {"value": "w90"}}]}')
        wd.click(wd.find("#page-filter-apply")[0])
        shown = wd.wait("the filtered page", """
            const r = document.querySelectorAll('#points tbody tr');
            const ids = Array.from(r, x => x.cells[0].textContent);
            return ids.length === 3 ? ids : null;""")
        check(shown == ["3", "5", "7"], "filtered point browser: %s" % shown)
        wd.js("document.getElementById('page-filter').value = '';")
        wd.click(wd.find("#page-filter-apply")[0])
        wd.wait("the unfiltered first page", """
            const r = document.querySelectorAll('#points tbody tr');
            return r.length === 20 && r[0].cells[0].textContent === '0';""")
        wd.click(wd.find("#page-next")[0])
        wd.wait("the next page again", """
            const r = document.querySelector('#points tbody tr');
            return r && r.cells[0].textContent === '20';""")
        buttons = wd.find("#points tbody button.search-by")
        wd.click(buttons[5])  # point 25
        results = wd.wait("the neighbours", """
            const r = document.querySelectorAll('#results tbody tr');
            return r.length > 0 ? Array.from(r, x => Array.from(x.cells,
                c => c.textContent)) : null;""")
        check(len(results) == 10, "10 neighbours shown")
        check(results[0][1] == "25" and results[0][3] == '{"word": "w25"}',
              "the point itself comes first, with its payload: %s" %
              results[0])
        scores = [float(r[2]) for r in results]
        check(scores == sorted(scores, reverse=True),
              "scores best first: %s" % scores[:4])

        # Screenshots: the page, and the results table itself.
        page = wd.screenshot(os.path.join(work, "dashboard.png"))
        table = wd.find("#results")[0]
        wd.js("document.getElementById('results').scrollIntoView("
              "{block: 'start'});")
        shot = wd.screenshot(os.path.join(work, "results.png"), table)
        size = png_size(shot)
        rect = wd.cmd("GET", "/element/%s/rect" % table)
        check(png_size(page) is not None and len(page) > 10000,
              "page screenshot is a PNG of %s" % (png_size(page),))
        check(size is not None and size[0] >= 300 and size[1] >= 100 and
              abs(size[1] - rect["height"]) <= 2,
              "results table screenshot %s matches the table (%dx%d)" %
              (size, rect["width"], rect["height"]))
        bench = wd.wait("the benchmark chart", """
            const i = document.getElementById('bench');
            return !document.getElementById('bench-section').hidden &&
                i.complete && i.naturalWidth > 0 ? i.naturalWidth : null;""")
        check(bench == 300, "benchmark chart shown")
        status = wd.js("return document.getElementById('status').textContent")
        check(status == "searched by point 25", "status line: %s" % status)
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for f in ("dashboard.png", "results.png"):
                shutil.copy(os.path.join(work, f), args.keep)
    finally:
        if wd is not None:
            wd.quit()
        if driver_proc is not None:
            driver_proc.terminate()
            try:
                driver_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                driver_proc.kill()
        rc = srv.stop()
    check(rc == 0, "tqdb serve exits 0 on SIGTERM")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(srv.tmp, ignore_errors=True)
    print("1 passed, 0 failed", flush=True)


if __name__ == "__main__":
    main()
