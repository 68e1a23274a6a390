#include "tests/cluster/service_processes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quant/status_macros.h"
#include "rpc/cluster/etcd_client.h"
#include "rpc/cluster/jetstream.h"
#include "rpc/cluster/log_names.h"
#include "rpc/cluster/nats_connection.h"

namespace tqdb {
namespace testing_util {
namespace {

absl::Status MakeDirs(const std::string& dir) {
  std::string path;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      path = dir.substr(0, i);
      if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::InternalError(
            absl::StrCat("mkdir ", path, ": ", std::strerror(errno)));
      }
    }
  }
  return absl::OkStatus();
}

// Polls `ready` every 50 ms until it holds or `timeout` passes.
template <typename Ready>
bool PollUntil(absl::Duration timeout, Ready ready) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// The lowest port the kernel hands out for bind(0) and outgoing connections.
int EphemeralPortFloor() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (range >> low && low > 2048) return low;
  return 32768;
}

sockaddr_in LoopbackAddress(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

bool BindsOnLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const sockaddr_in addr = LoopbackAddress(port);
  const bool ok =
      bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

// Picked below the ephemeral range: a port the kernel assigned with bind(0)
// is the next one it gives an outgoing connection of a test running beside
// this one (CI runs tests in parallel), which then holds it when the
// server this port was for starts (seen: a nats-server route port).
int FreeLoopbackPort() {
  const int high = EphemeralPortFloor();
  const int low = std::max(1024, high - 16384);
  thread_local std::mt19937 random(std::random_device{}() ^
                                   static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pick(low, high - 1);
  for (int attempt = 0; attempt < 256; ++attempt) {
    const int port = pick(random);
    if (BindsOnLoopback(port)) return port;
  }
  return 0;
}

bool PortAccepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const sockaddr_in addr = LoopbackAddress(port);
  const bool ok =
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) {
    return absl::InternalError(
        absl::StrCat("open ", log_path, ": ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // The child: async-signal-safe calls only, then exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log, 1);
    dup2(log, 2);
    close(log);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(log);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log_path));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    kill(pid_, SIGCONT);  // a stopped process dies only once continued
    waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::Reaped(int status) {
  reaped_ = true;
  exit_code_ = WIFEXITED(status)     ? WEXITSTATUS(status)
               : WIFSIGNALED(status) ? -WTERMSIG(status)
                                     : 0;
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    Reaped(status);
    return false;
  }
  return true;
}

void ChildProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

bool ChildProcess::WaitExit(absl::Duration timeout) {
  return PollUntil(timeout, [&] { return !Running(); });
}

void ChildProcess::Stop(absl::Duration grace) {
  if (reaped_) return;
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  if (WaitExit(grace)) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  Reaped(status);
}

std::string ChildProcess::LogTail(size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  return all.size() <= bytes ? all : all.substr(all.size() - bytes);
}

// --- etcd ---

absl::StatusOr<std::unique_ptr<EtcdServer>> EtcdServer::Start(
    const std::string& dir) {
  std::unique_ptr<EtcdServer> server(new EtcdServer());
  server->dir_ = dir;
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->client_port_ = FreeLoopbackPort();
    server->peer_port_ = FreeLoopbackPort();
    last = server->Launch();
    if (last.ok()) return server;
    server->process_.reset();
  }
  return last;
}

EtcdServer::~EtcdServer() {
  if (process_) process_->Stop();
}

std::string EtcdServer::endpoint() const {
  return absl::StrCat("127.0.0.1:", client_port_);
}

absl::Status EtcdServer::Launch() {
  TQ_RETURN_IF_ERROR(MakeDirs(dir_));
  const std::string client = absl::StrCat("http://", endpoint());
  const std::string peer = absl::StrCat("http://127.0.0.1:", peer_port_);
  auto process = ChildProcess::Spawn(
      {TQDB_ETCD_BIN, "--name", "e0", "--data-dir", dir_ + "/data",
       "--listen-client-urls", client, "--advertise-client-urls", client,
       "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
       "--initial-cluster", "e0=" + peer, "--logger", "zap", "--log-outputs",
       "stderr"},
      dir_ + "/etcd.log");
  if (!process.ok()) return process.status();
  process_ = std::move(*process);
  cluster::EtcdOptions options;
  options.endpoints = {endpoint()};
  options.timeout = absl::Milliseconds(500);
  const bool up = PollUntil(absl::Seconds(20), [&] {
    if (!process_->Running()) return true;
    return PortAccepts(client_port_) &&
           cluster::EtcdClient::Connect(options).ok();
  });
  if (up && process_->Running()) return absl::OkStatus();
  const std::string log = process_->LogTail();
  process_->Stop();
  return absl::UnavailableError(
      absl::StrCat("etcd on ", endpoint(), " did not start; log:\n", log));
}

absl::Status EtcdServer::Restart() {
  if (process_) process_->Stop();
  return Launch();
}

// --- NATS ---

absl::StatusOr<std::unique_ptr<NatsCluster>> NatsCluster::Start(
    const std::string& dir, int n) {
  if (n < 2) return absl::InvalidArgumentError("a NATS cluster needs 2+");
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // A fresh store per attempt: a failed start leaves JetStream state that
    // names peers on the old ports.
    auto cluster =
        TryStart(attempt == 0 ? dir : absl::StrCat(dir, "/retry", attempt), n);
    if (cluster.ok()) return cluster;
    last = cluster.status();
  }
  return last;
}

absl::StatusOr<std::unique_ptr<NatsCluster>> NatsCluster::TryStart(
    const std::string& dir, int n) {
  std::unique_ptr<NatsCluster> cluster(new NatsCluster());
  cluster->dir_ = dir;
  cluster->servers_.resize(n);
  for (int i = 0; i < n; ++i) {
    Server& s = cluster->servers_[i];
    s.name = absl::StrCat("n", i);
    s.store = absl::StrCat(dir, "/", s.name);
    s.client_port = FreeLoopbackPort();
    s.route_port = FreeLoopbackPort();
  }
  for (int i = 0; i < n; ++i) {
    TQ_RETURN_IF_ERROR(cluster->Launch(i));
  }
  for (int i = 0; i < n; ++i) {
    TQ_RETURN_IF_ERROR(cluster->AwaitAccepting(i, "start"));
  }
  TQ_RETURN_IF_ERROR(cluster->AwaitJetStream(absl::Seconds(30)));
  // A server that lost a port race exits right after its client port opened.
  for (int i = 0; i < n; ++i) {
    Server& s = cluster->servers_[i];
    if (!s.process->Running()) {
      return absl::UnavailableError(absl::StrCat("nats-server ", s.name,
                                                 " exited after start; log:\n",
                                                 s.process->LogTail()));
    }
  }
  return cluster;
}

NatsCluster::~NatsCluster() {
  for (Server& s : servers_) {
    if (s.process) s.process->Stop();
  }
}

std::string NatsCluster::url(int i) const {
  return absl::StrCat("nats://127.0.0.1:", servers_[i].client_port);
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(url(i));
  return out;
}

absl::Status NatsCluster::Launch(int i) {
  Server& s = servers_[i];
  TQ_RETURN_IF_ERROR(MakeDirs(s.store));
  std::vector<std::string> routes;
  for (const Server& other : servers_) {
    routes.push_back(absl::StrCat("nats://127.0.0.1:", other.route_port));
  }
  auto process = ChildProcess::Spawn(
      {TQDB_NATS_SERVER_BIN, "-js", "-sd", s.store, "-a", "127.0.0.1", "-p",
       absl::StrCat(s.client_port), "-n", s.name, "--cluster_name", "tqdb",
       "--cluster", absl::StrCat("nats://127.0.0.1:", s.route_port), "--routes",
       absl::StrJoin(routes, ",")},
      absl::StrCat(dir_, "/", s.name, ".log"));
  if (!process.ok()) return process.status();
  s.process = std::move(*process);
  return absl::OkStatus();
}

absl::Status NatsCluster::Restart(int i) {
  Server& s = servers_[i];
  if (s.process) s.process->Stop();
  TQ_RETURN_IF_ERROR(Launch(i));
  return AwaitAccepting(i, "restart");
}

absl::Status NatsCluster::AwaitAccepting(int i, absl::string_view what) {
  Server& s = servers_[i];
  if (PollUntil(absl::Seconds(20),
                [&] {
                  return !s.process->Running() || PortAccepts(s.client_port);
                }) &&
      s.process->Running()) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("nats-server ", s.name,
                                             " did not ", what, "; log:\n",
                                             s.process->LogTail()));
}

absl::Status NatsCluster::AwaitJetStream(absl::Duration timeout) {
  cluster::NatsOptions options;
  options.servers = urls();
  auto connection = cluster::NatsConnection::Connect(options);
  if (!connection.ok()) return connection.status();
  auto js = cluster::JetStream::Create(connection->get());
  if (!js.ok()) return js.status();
  return (*js)->AwaitReady(timeout);
}

absl::StatusOr<JetStreamCluster> JetStreamCluster::Start(const std::string& dir,
                                                         int n) {
  JetStreamCluster out;
  TQ_ASSIGN_OR_RETURN(out.nats, NatsCluster::Start(dir, n));
  cluster::NatsOptions options;
  options.servers = out.nats->urls();
  TQ_ASSIGN_OR_RETURN(out.connection,
                      cluster::NatsConnection::Connect(options));
  TQ_ASSIGN_OR_RETURN(out.js, cluster::JetStream::Create(out.connection.get()));
  return out;
}

cluster::StreamConfig JetStreamCluster::CollectionStream(
    const std::string& collection, int replicas) {
  cluster::StreamConfig c;
  c.name = cluster::StreamName(collection);
  c.subjects = {cluster::StreamSubjects(collection)};
  c.replicas = replicas;
  return c;
}

}  // namespace testing_util
}  // namespace tqdb
