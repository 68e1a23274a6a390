// tools/cli/server_channel.h.
#include "tools/cli/server_channel.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tqdb/v1/points.grpc.pb.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;

// Whether a TCP connection to host:port opens within 2 s (something
// listens there, whatever it speaks).
bool TcpConnects(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints,
                  &ai) != 0) {
    return false;
  }
  bool ok = false;
  for (addrinfo* a = ai; a != nullptr && !ok; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p = {fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof(err);
      ok = poll(&p, 1, 2000) == 1 &&
           getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    close(fd);
  }
  freeaddrinfo(ai);
  return ok;
}

// Up to 5 s for a server that is starting; but when a connection failed
// while something listens there (TLS against plaintext, a certificate that
// does not verify), waiting changes nothing: gRPC keeps the channel failed
// until a retry succeeds.
absl::Status CheckReachable(const ServerChannel& server) {
  grpc::Channel& channel = *server.channel;
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(5);
  for (grpc_connectivity_state st = channel.GetState(true);;
       st = channel.GetState(true)) {
    if (st == GRPC_CHANNEL_READY) return absl::OkStatus();
    if (st == GRPC_CHANNEL_TRANSIENT_FAILURE && TcpConnects(server.address)) {
      break;
    }
    if (!channel.WaitForStateChange(st, deadline)) break;
  }
  // gRPC's reason: a call on the failing channel returns it at once.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  pb::CountResponse resp;
  const grpc::Status s = pb::Points::NewStub(server.channel)
                             ->Count(&ctx, pb::CountRequest(), &resp);
  std::string why = s.error_message();
  if (why.size() > 300) why = why.substr(0, 297) + "...";
  const std::string& address = server.address;
  if (!TcpConnects(address)) {
    return absl::UnavailableError(absl::StrCat(
        "no tqdb server answers at ", address,
        " (start one with: tqdb serve --data DIR --listen ", address, ")"));
  }
  if (!server.tls) {
    return absl::UnavailableError(absl::StrCat(
        "a server listens at ", address, " but plaintext gRPC to it fails (",
        why,
        "): if it serves TLS, give --tls-ca CA.pem (the certificate that "
        "signed the server's, or its own if self-signed) and, if that "
        "certificate names another host, --tls-server-name NAME"));
  }
  return absl::UnavailableError(absl::StrCat(
      "the TLS handshake with ", address, " failed (", why,
      "): check --tls-ca (the certificate that signed the server's) and "
      "--tls-server-name (a name the server's certificate carries; by "
      "default the host of --server)"));
}

}  // namespace

std::unique_ptr<grpc::ClientContext> ServerChannel::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
  return ctx;
}

absl::StatusOr<ServerChannel> ConnectServer(const std::string& address,
                                            const std::string& api_key,
                                            const TlsClientOptions& tls) {
  ServerChannel server;
  server.address = address;
  server.tls = !tls.ca_pem.empty();
  std::string key = api_key;
  if (key.empty()) {
    if (const char* e = std::getenv("TQDB_API_KEY")) key = e;
  }
  if (!key.empty()) server.authorization = "Bearer " + key;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  std::shared_ptr<grpc::ChannelCredentials> creds =
      grpc::InsecureChannelCredentials();
  if (server.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls.ca_pem;
    creds = grpc::SslCredentials(ssl);
    if (!tls.server_name.empty()) {
      args.SetSslTargetNameOverride(tls.server_name);
    }
  }
  server.channel = grpc::CreateCustomChannel(address, creds, args);
  absl::Status reachable = CheckReachable(server);
  if (!reachable.ok()) return reachable;
  return server;
}

}  // namespace tqdb
