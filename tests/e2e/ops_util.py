"""What the end-to-end tests of the REST API, the dashboard, the metrics and
the Python client share: a real `tqdb serve` on loopback ports it picks
itself (port 0, read back from its start-up lines), plain HTTP calls, free
ports for the other programs the tests start, and a clean stop."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def fail(msg):
    print("FAIL: " + msg, flush=True)
    raise SystemExit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def free_port():
    """A loopback port free now (for programs that cannot take port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Loopback only: no proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None, timeout=30):
    """(status, body text) of one HTTP call; never raises on 4xx/5xx, and a
    connection error is status 0."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


class Serve:
    """`tqdb serve` on a fresh data directory, every listener on port 0.

    extra: more flags ("--http", "127.0.0.1:0", ...). After start, .grpc,
    .http and .metrics hold "host:port" (None when not served)."""

    def __init__(self, tqdb, extra=(), data=None):
        self.tmp = tempfile.mkdtemp(prefix="tqdb_e2e_")
        self.data = data or os.path.join(self.tmp, "db")
        self.log = open(os.path.join(self.tmp, "serve.log"), "w+")
        self.proc = subprocess.Popen(
            [tqdb, "serve", "--data", self.data, "--listen", "127.0.0.1:0",
             *extra], stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.grpc = self.http = self.metrics = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                self.log.seek(0)
                fail("tqdb serve exited: " + self.log.read())
            m = re.search(r"serving .* on (\S+)", line)
            if m:
                self.grpc = m.group(1)
            m = re.search(r"REST on https?://(\S+?)/collections", line)
            if m:
                self.http = m.group(1)
            m = re.search(r"metrics on http://(\S+?)/metrics", line)
            if m:
                self.metrics = m.group(1)
            wants_http = "--http" in extra
            wants_metrics = "--metrics" in extra
            if (self.grpc and (self.http or not wants_http) and
                    (self.metrics or not wants_metrics)):
                return
        fail("tqdb serve did not start in 30 s")

    def stop(self):
        """SIGTERM; the server must exit 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("tqdb serve did not stop within 60 s of SIGTERM")
        self.proc.stdout.close()
        self.log.close()
        return rc
