#include "rpc/cluster/nats_connection.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "rpc/cluster/nats_handles.h"

namespace tqdb {
namespace cluster {

// What libnats' callbacks (on its own thread) report.
struct NatsConnection::State {
  absl::Mutex mu;
  bool connected ABSL_GUARDED_BY(mu) = false;
  bool closed ABSL_GUARDED_BY(mu) = false;
  int reconnects ABSL_GUARDED_BY(mu) = 0;

  static void OnDisconnected(natsConnection*, void* closure) {
    State* s = static_cast<State*>(closure);
    absl::MutexLock lock(&s->mu);
    s->connected = false;
  }
  static void OnReconnected(natsConnection*, void* closure) {
    State* s = static_cast<State*>(closure);
    absl::MutexLock lock(&s->mu);
    s->connected = true;
    ++s->reconnects;
  }
  // The last callback libnats makes for a connection.
  static void OnClosed(natsConnection*, void* closure) {
    State* s = static_cast<State*>(closure);
    absl::MutexLock lock(&s->mu);
    s->connected = false;
    s->closed = true;
  }
};

namespace {

absl::Status Check(natsStatus s, absl::string_view what) {
  return NatsError(s, absl::StrCat("nats: ", what));
}

}  // namespace

NatsConnection::NatsConnection(const NatsOptions& options,
                               std::unique_ptr<State> state)
    : options_(options), state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<NatsConnection>> NatsConnection::Connect(
    const NatsOptions& options) {
  if (options.servers.empty()) {
    return absl::InvalidArgumentError("nats: no servers given");
  }
  std::vector<std::string> urls;
  for (const std::string& s : options.servers) {
    urls.push_back(absl::StrContains(s, "://") ? s : "nats://" + s);
  }
  std::vector<const char*> url_ptrs;
  for (const std::string& u : urls) url_ptrs.push_back(u.c_str());

  natsOptions* raw_options = nullptr;
  absl::Status s = Check(natsOptions_Create(&raw_options), "options");
  NatsOptionsPtr opts(raw_options);
  if (!s.ok()) return s;
  auto state = std::make_unique<State>();
  void* closure = state.get();
  for (natsStatus ns :
       {natsOptions_SetServers(opts.get(), url_ptrs.data(),
                               static_cast<int>(url_ptrs.size())),
        natsOptions_SetName(opts.get(), options.name.c_str()),
        natsOptions_SetTimeout(opts.get(), ToMillis(options.connect_timeout)),
        // Negative: reconnect for as long as the connection lives.
        natsOptions_SetMaxReconnect(opts.get(), -1),
        natsOptions_SetReconnectWait(opts.get(),
                                     ToMillis(options.reconnect_wait)),
        natsOptions_SetPingInterval(opts.get(),
                                    ToMillis(options.ping_interval)),
        natsOptions_SetMaxPingsOut(opts.get(), 2),
        natsOptions_SetDisconnectedCB(opts.get(), &State::OnDisconnected,
                                      closure),
        natsOptions_SetReconnectedCB(opts.get(), &State::OnReconnected,
                                     closure),
        natsOptions_SetClosedCB(opts.get(), &State::OnClosed, closure)}) {
    s = Check(ns, "options");
    if (!s.ok()) return s;
  }
  std::unique_ptr<NatsConnection> conn(
      new NatsConnection(options, std::move(state)));
  const natsStatus ns = natsConnection_Connect(&conn->connection_, opts.get());
  if (ns != NATS_OK) {
    conn->connection_ = nullptr;
    return NatsError(ns, absl::StrCat("nats: cannot connect to any of ",
                                      conn->ServerList()));
  }
  {
    // Under the lock the callbacks take: a disconnection racing with this
    // line is either seen here or reported after it.
    absl::MutexLock lock(&conn->state_->mu);
    conn->state_->connected =
        natsConnection_Status(conn->connection_) == NATS_CONN_STATUS_CONNECTED;
  }
  return conn;
}

NatsConnection::~NatsConnection() {
  if (connection_ == nullptr) return;
  natsConnection_Close(connection_);
  bool closed;
  {
    absl::MutexLock lock(&state_->mu);
    closed = state_->mu.AwaitWithTimeout(absl::Condition(&state_->closed),
                                         absl::Seconds(10));
  }
  natsConnection_Destroy(connection_);
  // Without the closed callback libnats may still call into the state:
  // leave it allocated rather than risk a use after free.
  if (!closed) state_.release();  // NOLINT(bugprone-unused-return-value)
}

bool NatsConnection::connected() const {
  return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

absl::Status NatsConnection::AwaitConnected(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (connected()) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    // Woken by the reconnected callback; the cap re-reads libnats' own
    // status in case a callback is still on its way.
    absl::MutexLock lock(&state_->mu);
    state_->mu.AwaitWithDeadline(
        absl::Condition(&state_->connected),
        std::min(deadline, now + absl::Milliseconds(50)));
  }
  return absl::UnavailableError(
      absl::StrCat("nats: not connected to any of ", ServerList(),
                   " (reconnecting for ", absl::FormatDuration(timeout), ")"));
}

std::string NatsConnection::connected_url() const {
  char buffer[256] = {0};
  if (natsConnection_GetConnectedUrl(connection_, buffer, sizeof(buffer)) !=
      NATS_OK) {
    return "";
  }
  return buffer;
}

int64_t NatsConnection::max_payload() const {
  return natsConnection_GetMaxPayload(connection_);
}

int NatsConnection::reconnects() const {
  absl::MutexLock lock(&state_->mu);
  return state_->reconnects;
}

std::string NatsConnection::ServerList() const {
  return absl::StrJoin(options_.servers, ", ");
}

}  // namespace cluster
}  // namespace tqdb
