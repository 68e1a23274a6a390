// tqdb serve: the gRPC server over a data directory (rpc/server.h).
#include <signal.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "db/db.h"
#include "quant/status_macros.h"
#include "rpc/server.h"
#include "tools/cli/commands.h"
#include "tools/cli/exposure.h"
#include "tools/cli/flags.h"
#include "tools/cli/output.h"
#include "tools/cli/serve_cluster.h"

namespace tqdb {
namespace {

constexpr char kServeCommand[] = "serve";

constexpr char kServeUsage[] =
    "usage: tqdb serve --data DIR [flags]\n"
    "\n"
    "Serves the database in DIR (created if missing) over gRPC: services\n"
    "tqdb.v1.Collections, tqdb.v1.Points, tqdb.v1.Snapshots\n"
    "(proto/tqdb/v1/), grpc.health.v1.Health and reflection.\n"
    "SIGTERM/SIGINT stop it cleanly: no new calls, calls in flight finish\n"
    "(up to --grace seconds), the database is flushed and closed, exit 0.\n"
    "\n"
    "flags:\n"
    "  --data DIR             database directory (required)\n"
    "  --restore SNAPSHOT     first restore SNAPSHOT (a snapshot directory,\n"
    "                         Snapshots.Create) into DIR, which must not\n"
    "                         exist: a copy; the snapshot stays as it is\n"
    "                         (serving a snapshot directory is refused)\n"
    "  --listen HOST:PORT     address (default 127.0.0.1:7700; port 0 = any\n"
    "                         free port, printed on start)\n"
    "  --port-file F          write the bound port to F once serving\n"
    "  --api-key-file F       require 'authorization: Bearer <key>' (the\n"
    "                         file's first line) on every tqdb.v1 call\n"
    "  --tls-cert C --tls-key K  serve TLS with these PEM files\n"
    "  --max-receive-mb N     largest request message (default 64)\n"
    "  --max-batch N          points per upsert message (default 10000)\n"
    "  --max-payload-bytes N  largest payload of a point (default 1048576,\n"
    "                         1 MiB); a larger one rejects its batch\n"
    "  --max-limit N          largest search limit (default 10000)\n"
    "  --threads N            search/training threads (default: all cores)\n"
    "  --snapshot-dir D       where snapshots go (default DIR/snapshots)\n"
    "  --grace S              seconds calls in flight get at shutdown "
    "(default 30)\n"
    "  --memory-limit BYTES   memory the collections may hold (indexes,\n"
    "                         in-memory vectors, trainings; K/M/G suffixes);\n"
    "                         a write or training past it fails with\n"
    "                         RESOURCE_EXHAUSTED (default: no limit)\n"
    "  --http HOST:PORT       REST API (same key and TLS) and the dashboard\n"
    "                         at /dashboard/ (default: off; a bare PORT\n"
    "                         means 127.0.0.1:PORT)\n"
    "  --bench-svg F          chart the dashboard shows (tqdb bench --svg F)\n"
    "  --metrics HOST:PORT    Prometheus metrics at /metrics (default: off;\n"
    "                         a bare PORT means 127.0.0.1:PORT)\n"
    "  --metrics-open         /metrics without the API key\n"
    "\n"
    "cluster (README \"Cluster\"; all four together):\n"
    "  --cluster etcd=HOST:PORT[,...]  join the cluster whose state is in\n"
    "                         this etcd; Collections and Points then serve\n"
    "                         the cluster's collections (any node)\n"
    "  --nats URL[,...]       the NATS JetStream servers of its log\n"
    "                         (nats://HOST:PORT)\n"
    "  --node-id N            this node's id (1 or more), fixed per DIR\n"
    "  --advertise HOST:PORT  where other nodes and clients reach this one\n"
    "  --stream-replicas N    JetStream replicas of new collections' logs\n"
    "                         (default 3; at most the NATS servers)\n"
    "  --lease-ttl S          seconds until a dead node leaves the cluster\n"
    "                         (default 5)\n"
    "  --write-timeout S      seconds a write waits for the log's quorum\n"
    "                         before it fails with UNAVAILABLE (default 10)\n"
    "  --replace-after S      seconds a node may be gone before the balancer\n"
    "                         moves its shards to other nodes (default 30)\n"
    "  --hedge-ms N           a read asks another replica of a shard whose\n"
    "                         replica has not answered after N ms (default\n"
    "                         250, or half the deadline if sooner)\n"
    "  --stream-max-bytes N   retention of new collections' logs: JetStream\n"
    "                         keeps at most N bytes of each (default: all)\n"
    "  --stream-max-age S     ... and entries at most S seconds old (default\n"
    "                         0: all); a replica the log no longer covers\n"
    "                         takes a copy from another replica\n";

// BYTES, or a number with K, M, G or T (powers of 1024).
absl::StatusOr<size_t> ParseBytes(const std::string& text) {
  std::string digits = text;
  uint64_t unit = 1;
  if (!digits.empty()) {
    switch (digits.back() | 0x20) {
      case 'k':
        unit = uint64_t{1} << 10;
        break;
      case 'm':
        unit = uint64_t{1} << 20;
        break;
      case 'g':
        unit = uint64_t{1} << 30;
        break;
      case 't':
        unit = uint64_t{1} << 40;
        break;
    }
    if (unit > 1) digits.pop_back();
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(digits, &n) || n == 0 ||
      n > (uint64_t{1} << 50) / unit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--memory-limit: '", text,
        "' is not a positive number of bytes (e.g. 2000000000 or 2G)"));
  }
  return static_cast<size_t>(n * unit);
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

const FlagSpec& ServeFlags() {
  static const FlagSpec* spec =
      new FlagSpec{{"data",           "restore",
                    "listen",         "port-file",
                    "api-key-file",   "tls-cert",
                    "tls-key",        "max-receive-mb",
                    "max-batch",      "max-payload-bytes",
                    "max-limit",      "threads",
                    "snapshot-dir",   "grace",
                    "memory-limit",   "http",
                    "bench-svg",      "metrics",
                    "metrics-open",   "cluster",
                    "nats",           "node-id",
                    "advertise",      "stream-replicas",
                    "lease-ttl",      "write-timeout",
                    "hedge-ms",       "replace-after",
                    "stream-max-age", "stream-max-bytes"},
                   {"metrics-open"}};
  return *spec;
}

int RunServe(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags = ParseCommandLine(
      kServeCommand, args, ServeFlags(), kServeUsage, out, err, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("data")) {
    return UsageError(kServeCommand, "--data DIR is required", err);
  }
  ServerOptions so;
  so.listen = flags->GetString("listen", so.listen);
  so.snapshot_dir = flags->GetString("snapshot-dir");
  DatabaseOptions dbo;
  auto max_mb = flags->GetInt("max-receive-mb", 64, 1, 2047);
  auto max_batch = flags->GetInt("max-batch", 10000, 1, 1000000);
  auto max_payload = flags->GetInt("max-payload-bytes",
                                   static_cast<int64_t>(dbo.max_payload_bytes),
                                   1, int64_t{1} << 30);
  auto max_limit = flags->GetInt("max-limit", 10000, 1, 1000000);
  auto threads = flags->GetInt("threads", 0, 0, 1024);
  auto grace = flags->GetDouble("grace", 30);
  for (const absl::Status& s :
       {max_mb.status(), max_batch.status(), max_payload.status(),
        max_limit.status(), threads.status(), grace.status()}) {
    if (!s.ok()) return UsageError(kServeCommand, s, err);
  }
  so.max_receive_bytes = size_t(*max_mb) << 20;
  if (flags->Has("memory-limit")) {
    auto limit = ParseBytes(flags->GetString("memory-limit"));
    if (!limit.ok()) return UsageError(kServeCommand, limit.status(), err);
    dbo.memory_limit_bytes = *limit;
  }
  // A bare port is on loopback: exposing them is an explicit choice.
  auto loopback = [](const std::string& a) {
    int port;
    return absl::SimpleAtoi(a, &port) ? "127.0.0.1:" + a : a;
  };
  so.http_listen = loopback(flags->GetString("http"));
  so.bench_svg = flags->GetString("bench-svg");
  so.metrics_listen = loopback(flags->GetString("metrics"));
  so.metrics_open = flags->Has("metrics-open");
  so.max_limit = static_cast<uint32_t>(*max_limit);
  so.search_threads = static_cast<uint32_t>(*threads);
  dbo.max_batch = static_cast<size_t>(*max_batch);
  dbo.max_payload_bytes = static_cast<size_t>(*max_payload);
  dbo.threads = static_cast<uint32_t>(*threads);
  if (flags->Has("api-key-file")) {
    auto key = ReadApiKeyFile(flags->GetString("api-key-file"));
    if (!key.ok()) return InputError(kServeCommand, key.status(), err);
    so.api_key = *key;
  }
  if (flags->Has("tls-cert") != flags->Has("tls-key")) {
    return UsageError(kServeCommand, "--tls-cert and --tls-key go together",
                      err);
  }
  if (flags->Has("tls-cert")) {
    auto cert = ReadWholeFile(flags->GetString("tls-cert"));
    auto key = ReadWholeFile(flags->GetString("tls-key"));
    if (!cert.ok()) return InputError(kServeCommand, cert.status(), err);
    if (!key.ok()) return InputError(kServeCommand, key.status(), err);
    so.tls_cert_pem = *cert;
    so.tls_key_pem = *key;
  }

  auto node = ServeClusterFromFlags(*flags);
  if (!node.ok()) return UsageError(kServeCommand, node.status(), err);
  if (*node != nullptr && flags->Has("restore")) {
    // A node's databases are replicas of shards, rebuilt from the log; a
    // snapshot restored under it would be collections the cluster does not
    // know.
    return UsageError(
        kServeCommand,
        absl::InvalidArgumentError(
            "--restore does not apply to a cluster node (its state comes "
            "from etcd and the log)"),
        err);
  }
  for (const auto& [flag, listen] :
       {std::pair<std::string, std::string>{"listen", so.listen},
        {"http", so.http_listen}}) {
    if (listen.empty()) continue;
    if (const std::string w = ExposureWarning(flag, listen, !so.api_key.empty(),
                                              !so.tls_cert_pem.empty());
        !w.empty()) {
      err << "tqdb serve: " << w << std::endl;
    }
  }

  // Block the stop signals in every thread (gRPC's and RocksDB's threads
  // inherit the mask), and wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const std::string dir = flags->GetString("data");
  if (flags->Has("restore")) {
    const std::string snap = flags->GetString("restore");
    if (absl::Status s = Database::RestoreSnapshot(snap, dir); !s.ok()) {
      return Fail(kServeCommand, WithContext(s, "--restore"), err);
    }
    out << "tqdb serve: restored snapshot " << snap << " into " << dir
        << std::endl;
  }
  auto db = Database::Open(dir, dbo);
  if (!db.ok()) return Fail(kServeCommand, db.status(), err);
  if (*node != nullptr) {
    if (absl::Status joined = (*node)->Join(dbo, db->get(), &so);
        !joined.ok()) {
      (*db)->Close().IgnoreError();
      // Unreachable etcd or NATS is a failure (exit 1), whatever its code.
      Fail(kServeCommand, WithContext(joined, "joining the cluster"), err);
      return absl::IsAlreadyExists(joined) || absl::IsInvalidArgument(joined) ||
                     absl::IsFailedPrecondition(joined)
                 ? kExitUsage
                 : kExitFailure;
    }
  }
  auto server = Server::Start(db->get(), so);
  if (!server.ok()) {
    node->reset();
    (*db)->Close().IgnoreError();
    return Fail(kServeCommand, server.status(), err);
  }
  out << "tqdb serving " << (*db)->dir() << " on " << (*server)->address()
      << (so.api_key.empty() ? "" : " (API key required)")
      << (so.tls_cert_pem.empty() ? "" : " (TLS)") << std::endl;
  if (*node != nullptr) out << (*node)->Describe() << std::endl;
  if ((*server)->http_port() != 0) {
    const std::string h = so.http_listen.substr(0, so.http_listen.rfind(':'));
    const char* scheme = so.tls_cert_pem.empty() ? "http" : "https";
    out << "tqdb REST on " << scheme << "://" << h << ":"
        << (*server)->http_port() << "/collections, dashboard on " << scheme
        << "://" << h << ":" << (*server)->http_port() << "/dashboard/"
        << std::endl;
  }
  if ((*server)->metrics_port() != 0) {
    const std::string h =
        so.metrics_listen.substr(0, so.metrics_listen.rfind(':'));
    out << "tqdb metrics on http://" << h << ":" << (*server)->metrics_port()
        << "/metrics"
        << (so.api_key.empty() || so.metrics_open ? "" : " (API key required)")
        << std::endl;
  }
  if (flags->Has("port-file")) {
    const std::string pf = flags->GetString("port-file");
    std::ofstream f(pf + ".tmp");
    f << (*server)->port() << "\n";
    f.close();
    if (!f || std::rename((pf + ".tmp").c_str(), pf.c_str()) != 0) {
      err << "tqdb serve: cannot write " << pf << "\n";
    }
  }

  int sig = 0;
  sigwait(&stop, &sig);
  out << "tqdb serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
      << ", finishing calls in flight" << std::endl;
  (*server)->Shutdown(absl::Seconds(*grace));
  (*server)->Wait();
  server->reset();
  node->reset();  // leaves the cluster (revokes its registration)
  absl::Status closed = (*db)->Close();
  if (!closed.ok()) {
    Fail(kServeCommand, WithContext(closed, "closing the database"), err);
    return kExitFailure;
  }
  out << "tqdb serve: stopped cleanly" << std::endl;
  return kExitOk;
}

}  // namespace tqdb
