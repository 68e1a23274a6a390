"""Helpers of the end-to-end tests that talk gRPC to a real `tqdb serve`
(the fault tests, the soak test): Python stubs generated from proto/ at
test time with Debian's protoc and grpc_python_plugin, and a server process
started on a free loopback port.
"""
import importlib
import os
import signal
import subprocess
import sys
import time


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def stubs(proto_dir, tmp):
    """(grpc, tqdb_pb2, tqdb_pb2_grpc) generated from proto_dir into tmp."""
    gen = os.path.join(tmp, "gen")
    os.makedirs(gen, exist_ok=True)
    subprocess.run(["protoc", "-I", proto_dir, "--python_out=" + gen,
                    "--grpc_out=" + gen,
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    "tqdb/v1/tqdb.proto"], check=True)
    sys.path.insert(0, gen)
    import grpc  # Debian's python3-grpcio
    pb = importlib.import_module("tqdb.v1.tqdb_pb2")
    pbg = importlib.import_module("tqdb.v1.tqdb_pb2_grpc")
    return grpc, pb, pbg


class Server:
    """`tqdb serve --data DIR --listen 127.0.0.1:0 [extra...]`, waited for
    until it writes its port."""

    def __init__(self, tqdb, data, tmp, extra=(), log=None):
        self.port_file = os.path.join(tmp, "port")
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self.proc = subprocess.Popen(
            [tqdb, "serve", "--data", data, "--listen", "127.0.0.1:0",
             "--port-file", self.port_file] + list(extra),
            stdout=log, stderr=log)
        for _ in range(600):
            if os.path.exists(self.port_file) or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not os.path.exists(self.port_file):
            self.proc.kill()
            fail("tqdb serve did not start (exit code %s)" % self.proc.poll())
        self.port = int(open(self.port_file).read())
        self.address = "127.0.0.1:%d" % self.port

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("tqdb serve did not stop within %d s of SIGTERM" % timeout)

    def kill9(self):
        self.proc.kill()
        return self.proc.wait()
