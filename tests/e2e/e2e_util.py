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
import types
import time


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


# The API's files (one package, tqdb.v1).
API_PROTOS = ("tqdb/v1/collections.proto", "tqdb/v1/points.proto",
              "tqdb/v1/snapshots.proto")


def merged(modules):
    """One namespace with the public names of `modules`."""
    ns = types.SimpleNamespace()
    for name in modules:
        m = importlib.import_module(name)
        vars(ns).update({k: v for k, v in vars(m).items()
                         if not k.startswith("_")})
    return ns


def api_namespaces():
    """(messages, service stubs) of the API's generated modules (on
    sys.path), each file's names merged into one namespace."""
    files = [os.path.basename(f)[:-len(".proto")] for f in API_PROTOS]
    return (merged("tqdb.v1.%s_pb2" % f for f in files),
            merged("tqdb.v1.%s_pb2_grpc" % f for f in files))


def stubs(proto_dir, tmp):
    """(grpc, messages, service stubs) generated from proto_dir into tmp:
    the API's messages and enums (all three files) in one namespace, its
    stubs in another."""
    gen = os.path.join(tmp, "gen")
    os.makedirs(gen, exist_ok=True)
    subprocess.run(["protoc", "-I", proto_dir, "--python_out=" + gen,
                    "--grpc_out=" + gen,
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin"] +
                   list(API_PROTOS), check=True)
    sys.path.insert(0, gen)
    import grpc  # Debian's python3-grpcio
    pb, pbg = api_namespaces()
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
