#include "rpc/cluster/etcd_client.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "rpc/cluster/etcd_endpoint.h"

namespace tqdb {
namespace cluster {
namespace {

namespace pb = ::etcdserverpb;

// Keys are bytes; messages show them C-escaped.
std::string Quoted(absl::string_view key) {
  return absl::StrCat("'", absl::CHexEscape(key), "'");
}

pb::Compare ToProto(const Compare& c) {
  pb::Compare out;
  out.set_key(c.key);
  switch (c.op) {
    case Compare::Op::kEqual:
      out.set_result(pb::Compare::EQUAL);
      break;
    case Compare::Op::kNotEqual:
      out.set_result(pb::Compare::NOT_EQUAL);
      break;
    case Compare::Op::kGreater:
      out.set_result(pb::Compare::GREATER);
      break;
    case Compare::Op::kLess:
      out.set_result(pb::Compare::LESS);
      break;
  }
  switch (c.target) {
    case Compare::Target::kVersion:
      out.set_target(pb::Compare::VERSION);
      out.set_version(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out.set_target(pb::Compare::CREATE);
      out.set_create_revision(c.number);
      break;
    case Compare::Target::kModRevision:
      out.set_target(pb::Compare::MOD);
      out.set_mod_revision(c.number);
      break;
    case Compare::Target::kValue:
      out.set_target(pb::Compare::VALUE);
      out.set_value(c.value);
      break;
    case Compare::Target::kLease:
      out.set_target(pb::Compare::LEASE);
      out.set_lease(c.number);
      break;
  }
  return out;
}

pb::RequestOp ToProto(const TxnOp& op) {
  pb::RequestOp out;
  switch (op.type) {
    case TxnOp::Type::kGet: {
      pb::RangeRequest* r = out.mutable_request_range();
      r->set_key(op.key);
      if (op.prefix) r->set_range_end(PrefixRangeEnd(op.key));
      break;
    }
    case TxnOp::Type::kPut: {
      pb::PutRequest* r = out.mutable_request_put();
      r->set_key(op.key);
      r->set_value(op.value);
      r->set_lease(op.lease);
      break;
    }
    case TxnOp::Type::kDelete: {
      pb::DeleteRangeRequest* r = out.mutable_request_delete_range();
      r->set_key(op.key);
      if (op.prefix) r->set_range_end(PrefixRangeEnd(op.key));
      break;
    }
  }
  return out;
}

RangeResult RangeFromProto(const pb::RangeResponse& r) {
  RangeResult out;
  out.kvs.reserve(r.kvs_size());
  for (const auto& kv : r.kvs()) out.kvs.push_back(FromProto(kv));
  out.revision = r.header().revision();
  out.count = r.count();
  out.more = r.more();
  return out;
}

// Whole seconds, at least 1.
int64_t TtlSeconds(absl::Duration ttl) {
  const double s = std::ceil(absl::ToDoubleSeconds(ttl));
  return s < 1 ? 1 : static_cast<int64_t>(s);
}

}  // namespace

Compare Compare::ModRevision(std::string key, Op op, int64_t revision) {
  Compare c;
  c.key = std::move(key);
  c.target = Target::kModRevision;
  c.op = op;
  c.number = revision;
  return c;
}
Compare Compare::CreateRevision(std::string key, Op op, int64_t revision) {
  Compare c = ModRevision(std::move(key), op, revision);
  c.target = Target::kCreateRevision;
  return c;
}
Compare Compare::Version(std::string key, Op op, int64_t version) {
  Compare c = ModRevision(std::move(key), op, version);
  c.target = Target::kVersion;
  return c;
}
Compare Compare::LeaseId(std::string key, Op op, int64_t lease) {
  Compare c = ModRevision(std::move(key), op, lease);
  c.target = Target::kLease;
  return c;
}
Compare Compare::Value(std::string key, Op op, std::string value) {
  Compare c;
  c.key = std::move(key);
  c.target = Target::kValue;
  c.op = op;
  c.value = std::move(value);
  return c;
}

TxnOp TxnOp::Get(std::string key, bool prefix) {
  TxnOp op;
  op.type = Type::kGet;
  op.key = std::move(key);
  op.prefix = prefix;
  return op;
}
TxnOp TxnOp::Put(std::string key, std::string value, int64_t lease) {
  TxnOp op;
  op.type = Type::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}
TxnOp TxnOp::Delete(std::string key, bool prefix) {
  TxnOp op = Get(std::move(key), prefix);
  op.type = Type::kDelete;
  return op;
}

std::string PrefixRangeEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

EtcdClient::EtcdClient(const EtcdOptions& options) : options_(options) {
  for (const std::string& address : options_.endpoints) {
    endpoints_.push_back(std::make_unique<EtcdEndpoint>(address));
  }
}

EtcdClient::~EtcdClient() = default;

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(
    const EtcdOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: no endpoints given");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd: the timeout must be positive");
  }
  // The first contact waits for a connection within the timeout (a
  // fail-fast call failed on the first failed connection attempt: a node
  // started with its cluster on a loaded machine exited on "tcp handshaker
  // shutdown" with etcd up and healthy, a fresh-clone CI run of
  // tools/cluster.sh up), each endpoint its share of the timeout.
  std::unique_ptr<EtcdClient> client(new EtcdClient(options));
  pb::StatusResponse response;
  const absl::Duration share =
      options.timeout / static_cast<int64_t>(options.endpoints.size());
  absl::Status s = client->Run(
      "status", /*idempotent=*/true,
      [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
        ctx->set_wait_for_ready(true);
        SetDeadline(ctx, share);
        grpc::Status g =
            e.maintenance->Status(ctx, pb::StatusRequest(), &response);
        // Not reachable within its share: Unavailable, as a refusal.
        if (g.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          g = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           absl::StrCat("not reachable within ",
                                        absl::FormatDuration(share)));
        }
        return g;
      });
  if (!s.ok()) {
    if (options.endpoints.size() > 1) {
      return absl::Status(s.code(), absl::StrCat("no etcd endpoint answered (",
                                                 client->AllAddresses(),
                                                 "); last: ", s.message()));
    }
    return s;
  }
  client->server_version_ = response.version();
  return client;
}

size_t EtcdClient::current_endpoint() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

void EtcdClient::MarkUnavailable(size_t i) {
  absl::MutexLock lock(&mu_);
  if (current_ == i) current_ = (i + 1) % endpoints_.size();
}

std::string EtcdClient::AllAddresses() const {
  return absl::StrJoin(options_.endpoints, ", ");
}

template <typename Call>
absl::Status EtcdClient::Run(absl::string_view what, bool idempotent,
                             Call call) {
  const size_t n = endpoints_.size();
  const size_t first = current_endpoint();
  const size_t attempts = idempotent ? n : 1;
  absl::Status last;
  for (size_t a = 0; a < attempts; ++a) {
    const size_t i = (first + a) % n;
    const EtcdEndpoint& e = *endpoints_[i];
    grpc::ClientContext context;
    SetDeadline(&context, options_.timeout);
    const grpc::Status s = call(e, &context);
    if (s.ok()) return absl::OkStatus();
    last = FromGrpc(s, e.address, what);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return last;
    MarkUnavailable(i);
  }
  return last;
}

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Get(absl::string_view key) {
  pb::RangeRequest request;
  request.set_key(std::string(key));
  pb::RangeResponse response;
  absl::Status s = Run(absl::StrCat("get ", Quoted(key)), true,
                       [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
                         return e.kv->Range(ctx, request, &response);
                       });
  if (!s.ok()) return s;
  if (response.kvs_size() == 0) return std::optional<KeyValue>();
  return std::optional<KeyValue>(FromProto(response.kvs(0)));
}

absl::StatusOr<RangeResult> EtcdClient::GetPrefix(absl::string_view prefix,
                                                  int64_t limit) {
  pb::RangeRequest request;
  request.set_key(std::string(prefix));
  request.set_range_end(PrefixRangeEnd(prefix));
  request.set_limit(limit);
  pb::RangeResponse response;
  absl::Status s = Run(absl::StrCat("get prefix ", Quoted(prefix)), true,
                       [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
                         return e.kv->Range(ctx, request, &response);
                       });
  if (!s.ok()) return s;
  return RangeFromProto(response);
}

absl::StatusOr<int64_t> EtcdClient::Put(absl::string_view key,
                                        absl::string_view value,
                                        int64_t lease) {
  pb::PutRequest request;
  request.set_key(std::string(key));
  request.set_value(std::string(value));
  request.set_lease(lease);
  pb::PutResponse response;
  absl::Status s = Run(absl::StrCat("put ", Quoted(key)), false,
                       [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
                         return e.kv->Put(ctx, request, &response);
                       });
  if (!s.ok()) return s;
  return response.header().revision();
}

absl::StatusOr<int64_t> EtcdClient::Delete(absl::string_view key) {
  pb::DeleteRangeRequest request;
  request.set_key(std::string(key));
  pb::DeleteRangeResponse response;
  absl::Status s = Run(absl::StrCat("delete ", Quoted(key)), false,
                       [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
                         return e.kv->DeleteRange(ctx, request, &response);
                       });
  if (!s.ok()) return s;
  return response.deleted();
}

absl::StatusOr<int64_t> EtcdClient::DeletePrefix(absl::string_view prefix) {
  pb::DeleteRangeRequest request;
  request.set_key(std::string(prefix));
  request.set_range_end(PrefixRangeEnd(prefix));
  pb::DeleteRangeResponse response;
  absl::Status s = Run(absl::StrCat("delete prefix ", Quoted(prefix)), false,
                       [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
                         return e.kv->DeleteRange(ctx, request, &response);
                       });
  if (!s.ok()) return s;
  return response.deleted();
}

absl::StatusOr<TxnResult> EtcdClient::Txn(absl::Span<const Compare> compare,
                                          absl::Span<const TxnOp> success,
                                          absl::Span<const TxnOp> failure) {
  pb::TxnRequest request;
  for (const Compare& c : compare) *request.add_compare() = ToProto(c);
  for (const TxnOp& op : success) *request.add_success() = ToProto(op);
  for (const TxnOp& op : failure) *request.add_failure() = ToProto(op);
  // A Txn with only reads may be retried elsewhere.
  bool read_only = true;
  for (const auto* ops : {&success, &failure}) {
    for (const TxnOp& op : *ops) read_only &= op.type == TxnOp::Type::kGet;
  }
  const std::string what =
      compare.empty() ? std::string("txn")
                      : absl::StrCat("txn on ", Quoted(compare[0].key));
  pb::TxnResponse response;
  absl::Status s = Run(what, read_only,
                       [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
                         return e.kv->Txn(ctx, request, &response);
                       });
  if (!s.ok()) return s;
  TxnResult out;
  out.succeeded = response.succeeded();
  out.revision = response.header().revision();
  for (const pb::ResponseOp& r : response.responses()) {
    TxnOpResult result;
    if (r.has_response_range()) {
      result.kvs = RangeFromProto(r.response_range()).kvs;
    } else if (r.has_response_delete_range()) {
      result.deleted = r.response_delete_range().deleted();
    }
    out.results.push_back(std::move(result));
  }
  return out;
}

absl::StatusOr<CasResult> EtcdClient::CompareAndSwap(
    absl::string_view key, absl::string_view value,
    int64_t expected_mod_revision, int64_t lease) {
  const std::string k(key);
  auto txn =
      Txn({Compare::ModRevision(k, Compare::Op::kEqual, expected_mod_revision)},
          {TxnOp::Put(k, std::string(value), lease)}, {TxnOp::Get(k)});
  if (!txn.ok()) return txn.status();
  CasResult out;
  out.swapped = txn->succeeded;
  out.revision = txn->revision;
  if (!txn->succeeded && !txn->results.empty() &&
      !txn->results[0].kvs.empty()) {
    out.current = txn->results[0].kvs[0];
  }
  return out;
}

absl::StatusOr<CasResult> EtcdClient::CompareAndDelete(
    absl::string_view key, int64_t expected_mod_revision) {
  const std::string k(key);
  auto txn =
      Txn({Compare::ModRevision(k, Compare::Op::kEqual, expected_mod_revision)},
          {TxnOp::Delete(k)}, {TxnOp::Get(k)});
  if (!txn.ok()) return txn.status();
  CasResult out;
  out.swapped = txn->succeeded;
  out.revision = txn->revision;
  if (!txn->succeeded && !txn->results.empty() &&
      !txn->results[0].kvs.empty()) {
    out.current = txn->results[0].kvs[0];
  }
  return out;
}

absl::StatusOr<Lease> EtcdClient::GrantLease(absl::Duration ttl) {
  pb::LeaseGrantRequest request;
  request.set_ttl(TtlSeconds(ttl));
  pb::LeaseGrantResponse response;
  absl::Status s = Run("grant lease", false,
                       [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
                         return e.lease->LeaseGrant(ctx, request, &response);
                       });
  if (!s.ok()) return s;
  if (!response.error().empty()) {
    return absl::UnavailableError(
        absl::StrCat("etcd at ", endpoint(current_endpoint()).address,
                     ": grant lease: ", response.error()));
  }
  return Lease{response.id(), absl::Seconds(response.ttl())};
}

absl::Status EtcdClient::RevokeLease(int64_t id) {
  pb::LeaseRevokeRequest request;
  request.set_id(id);
  pb::LeaseRevokeResponse response;
  return Run(absl::StrCat("revoke lease ", id), true,
             [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
               return e.lease->LeaseRevoke(ctx, request, &response);
             });
}

absl::StatusOr<absl::Duration> EtcdClient::KeepAliveOnce(
    int64_t id, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) timeout = options_.timeout;
  const std::string what = absl::StrCat("keep lease ", id, " alive");
  const size_t i = current_endpoint();
  const EtcdEndpoint& e = endpoint(i);
  // LeaseKeepAlive is a stream; one request and its answer on a stream of
  // its own keeps the call under a deadline like every other.
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  auto stream = e.lease->LeaseKeepAlive(&context);
  pb::LeaseKeepAliveRequest request;
  request.set_id(id);
  pb::LeaseKeepAliveResponse response;
  const bool exchanged = stream->Write(request) && stream->Read(&response);
  stream->WritesDone();  // etcd ends the stream at the client's end
  const grpc::Status s = stream->Finish();
  if (!exchanged) {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) MarkUnavailable(i);
    if (s.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "etcd at ", e.address, ": ", what, ": stream closed without answer"));
    }
    return FromGrpc(s, e.address, what);
  }
  if (response.ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd at ", e.address, ": ", what,
                                            ": lease expired or revoked"));
  }
  return absl::Seconds(response.ttl());
}

absl::StatusOr<absl::Duration> EtcdClient::TimeToLive(int64_t id) {
  pb::LeaseTimeToLiveRequest request;
  request.set_id(id);
  pb::LeaseTimeToLiveResponse response;
  const std::string what = absl::StrCat("time to live of lease ", id);
  absl::Status s =
      Run(what, true, [&](const EtcdEndpoint& e, grpc::ClientContext* ctx) {
        return e.lease->LeaseTimeToLive(ctx, request, &response);
      });
  if (!s.ok()) return s;
  if (response.ttl() < 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd: ", what, ": lease expired or revoked"));
  }
  return absl::Seconds(response.ttl());
}

}  // namespace cluster
}  // namespace tqdb
