#!/usr/bin/python3
"""The README's REST and Python examples, run as they are against a live
`tqdb serve --http`, so that they cannot drift from what the server does.

The blocks are the fenced ones after the line
`<!-- tests/e2e/readme_test.py runs the block below ... -->`:
- sh: commands, each followed by `# => STATUS ANSWER`; every command runs
  in bash with $TQDB set to the server, and must answer that HTTP status
  and contain ANSWER (the README shortens long answers);
- python: run with the client of rpc/python importable and the address
  replaced by the server's; its output must match the `# ` lines at its end.

usage: readme_test.py --tqdb BUILD/tools/tqdb --readme README.md
                      --python-client rpc/python
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_util import Serve, check, fail  # noqa: E402

MARKER = "<!-- tests/e2e/readme_test.py runs the block below"


def blocks(readme):
    """(language, text) of each marked fenced block."""
    out = []
    lines = readme.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(MARKER):
            continue
        m = re.match(r"```(\w+)$", lines[i + 1])
        if not m:
            fail("README: no fenced block after the marker at line %d" %
                 (i + 1))
        end = lines.index("```", i + 2)
        out.append((m.group(1), "\n".join(lines[i + 2:end])))
    return out


def run_sh(block, base):
    commands, current = [], []
    for line in block.splitlines():
        m = re.match(r"# => (\d{3}) (.*)$", line)
        if m:
            if not current:
                fail("README: an answer without a command: " + line)
            commands.append(("\n".join(current), int(m.group(1)),
                             m.group(2)))
            current = []
        else:
            current.append(line)
    if current:
        fail("README: a command without its answer: " + "\n".join(current))
    check(len(commands) >= 10, "README has %d curl examples" % len(commands))
    env = dict(os.environ, TQDB=base)
    for k in [k for k in env if k.lower().endswith("_proxy")]:
        del env[k]
    for cmd, status, answer in commands:
        # The status after the body, on a line of its own.
        script = ("curl() { command curl --write-out '\\n%{http_code}' "
                  "\"$@\"; }\n" + cmd)
        r = subprocess.run(["bash", "-c", script], capture_output=True,
                           text=True, env=env, timeout=60)
        body, _, got = r.stdout.rpartition("\n")
        first = cmd.splitlines()[0]
        if r.returncode != 0 or got != str(status) or answer not in body:
            fail("README example `%s`: expected %d with %s, got %s %s %s" %
                 (first, status, answer, got, body[:300], r.stderr[:300]))
        check(True, "README: %s -> %d" % (first[:70], status))


def run_python(block, grpc_address, client_dir):
    expected = [line[2:] for line in block.splitlines()
                if line.startswith("# ")]
    code = block.replace('"127.0.0.1:7700"', '"%s"' % grpc_address)
    check(code != block, "README Python example names the server address")
    env = dict(os.environ, PYTHONPATH=client_dir, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, env=env, timeout=60)
    got = r.stdout.strip().splitlines()
    if r.returncode != 0 or got != expected:
        fail("README Python example: expected %s, got %s %s" %
             (expected, got, r.stderr[-1000:]))
    check(True, "README Python example prints %s" % got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tqdb", required=True)
    ap.add_argument("--readme", required=True)
    ap.add_argument("--python-client", required=True)
    args = ap.parse_args()
    if shutil.which("curl") is None:
        fail("curl not found (tools/setup.sh installs it)")
    with open(args.readme) as f:
        found = blocks(f.read())
    langs = sorted(lang for lang, _ in found)
    check(langs == ["python", "sh"], "README has the marked blocks %s" % langs)
    for lang, block in found:
        # A fresh server for each: both create the collection "docs".
        # (A bare port is a loopback one.)
        srv = Serve(args.tqdb, ["--http", "0"])
        check(srv.http.startswith("127.0.0.1:"),
              "--http 0 listens on loopback: %s" % srv.http)
        try:
            if lang == "sh":
                run_sh(block, "http://" + srv.http)
            else:
                run_python(block, srv.grpc, os.path.abspath(args.python_client))
        finally:
            rc = srv.stop()
            shutil.rmtree(srv.tmp, ignore_errors=True)
        check(rc == 0, "tqdb serve exits 0 on SIGTERM")
    print("1 passed, 0 failed", flush=True)


if __name__ == "__main__":
    main()
