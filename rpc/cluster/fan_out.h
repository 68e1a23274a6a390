// Internal to rpc/cluster/: the read path's fan-out (cluster_reader.cc).
// Each route is a shard with the replicas that may answer for it, best
// first; Fan asks one candidate per route (one call per node, this node's
// share in the calling thread while the others are in flight), then the
// next candidate of routes whose attempt failed, and once the hedge time
// passed (ClusterOptions::hedge_delay, or half the remaining deadline),
// the next candidate of routes still waiting. The first answer per route
// wins; an error every replica would give alike (InvalidArgument,
// FailedPrecondition, OutOfRange) ends the read at once.
#ifndef TQDB_RPC_CLUSTER_FAN_OUT_H_
#define TQDB_RPC_CLUSTER_FAN_OUT_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/cluster_reader.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"

namespace tqdb {
namespace cluster {
namespace fan_out {

namespace cpb = ::tqdb::cluster::v1;

// Who may answer for one shard, best first.
struct Route {
  uint32_t shard = 0;
  uint64_t min_sequence = 0;
  std::vector<uint32_t> candidates;  // node ids
};

// How one kind of read is asked and answered: the request for a node's
// share of the routes, the call, the node's own answer, and the answer per
// shard.
template <typename Req, typename Resp, typename Result>
struct Method {
  std::function<Req(const std::vector<cpb::ShardRef>&)> build;
  std::function<void(cpb::Shards::Stub*, grpc::ClientContext*, const Req*,
                     Resp*, std::function<void(grpc::Status)>)>
      call;
  std::function<absl::Status(const Req&, absl::Time, Resp*)> local;
  // Result for each shard asked (in the order of `shards`).
  std::function<absl::StatusOr<std::vector<Result>>(
      Resp*, const std::vector<uint32_t>& shards)>
      parse;
};

// What the attempts in flight report to the thread that waits for them.
template <typename Result>
struct FanState {
  absl::Mutex mu;
  std::map<size_t, Result> done ABSL_GUARDED_BY(mu);  // by route index
  std::vector<int> inflight ABSL_GUARDED_BY(mu);      // per route
  std::vector<std::vector<std::string>> errors ABSL_GUARDED_BY(mu);
  uint64_t events ABSL_GUARDED_BY(mu) = 0;
  // An error every replica would give alike (bad request): the read's.
  absl::Status final ABSL_GUARDED_BY(mu);

  void Complete(const std::vector<size_t>& routes, uint32_t node,
                absl::StatusOr<std::vector<Result>> r) {
    absl::MutexLock lock(&mu);
    if (!r.ok() && final.ok() &&
        (absl::IsInvalidArgument(r.status()) ||
         absl::IsFailedPrecondition(r.status()) ||
         absl::IsOutOfRange(r.status()))) {
      final = r.status();
    }
    for (size_t i = 0; i < routes.size(); ++i) {
      --inflight[routes[i]];
      if (r.ok() && i < r->size()) {
        if (!done.count(routes[i])) done.emplace(routes[i], (*r)[i]);
      } else {
        errors[routes[i]].push_back(
            absl::StrCat("node ", node, ": ",
                         r.ok() ? std::string("no answer for the shard")
                                : std::string(r.status().message())));
      }
    }
    ++events;
  }
};

// One remote attempt: its context, request and response live until gRPC's
// callback ran.
template <typename Req, typename Resp>
struct RemoteCall {
  grpc::ClientContext context;
  Req request;
  Resp response;
};

inline absl::Status Internal(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Asks, for every route, one candidate (grouped into one call per node),
// then the next candidate of routes whose attempt failed, and once the
// hedge time passed, the next candidate of routes still waiting. Returns a
// result per route index, or the first route that no candidate answered.
template <typename Req, typename Resp, typename Result>
absl::StatusOr<std::map<size_t, Result>> Fan(
    ClusterNode* node, ClusterReader* reader, const ClusterState& state,
    const std::string& what, const std::vector<Route>& routes,
    const Method<Req, Resp, Result>& m, absl::Time deadline,
    std::atomic<uint64_t>* hedges, bool hedge) {
  auto st = std::make_shared<FanState<Result>>();
  {
    absl::MutexLock lock(&st->mu);
    st->inflight.assign(routes.size(), 0);
    st->errors.resize(routes.size());
  }
  std::vector<size_t> next(routes.size(), 0);  // next candidate per route
  std::vector<std::shared_ptr<RemoteCall<Req, Resp>>> calls;
  const uint32_t self = node->options().node_id;

  // Sends the next candidate of each route in `which`; returns how many
  // attempts started.
  auto launch = [&](const std::vector<size_t>& which) {
    std::map<uint32_t, std::vector<size_t>> groups;
    for (size_t i : which) {
      if (next[i] >= routes[i].candidates.size()) continue;
      groups[routes[i].candidates[next[i]++]].push_back(i);
    }
    std::vector<std::pair<uint32_t, std::vector<size_t>>> local;
    for (auto& [target, members] : groups) {
      std::vector<cpb::ShardRef> refs;
      std::vector<uint32_t> shards;
      for (size_t i : members) {
        cpb::ShardRef ref;
        ref.set_shard(routes[i].shard);
        ref.set_min_sequence(routes[i].min_sequence);
        refs.push_back(ref);
        shards.push_back(routes[i].shard);
      }
      {
        absl::MutexLock lock(&st->mu);
        for (size_t i : members) ++st->inflight[i];
      }
      if (target == self) {
        local.emplace_back(target, members);
        continue;
      }
      auto nit = state.nodes.find(target);
      if (nit == state.nodes.end()) {
        st->Complete(members, target, absl::UnavailableError("not registered"));
        continue;
      }
      auto call = std::make_shared<RemoteCall<Req, Resp>>();
      call->request = m.build(refs);
      call->context.set_deadline(absl::ToChronoTime(deadline));
      reader->AddAuth(&call->context);
      calls.push_back(call);
      m.call(reader->Stub(nit->second.address()), &call->context,
             &call->request, &call->response,
             // Copies by name: clang 14 cannot capture structured bindings.
             [st, call, members = members, shards, target = target,
              parse = m.parse](grpc::Status s) {
               if (!s.ok()) {
                 st->Complete(members, target, Internal(s));
               } else {
                 st->Complete(members, target, parse(&call->response, shards));
               }
             });
    }
    // This node's share, here, while the others' calls are in flight.
    for (auto& [target, members] : local) {
      std::vector<cpb::ShardRef> refs;
      std::vector<uint32_t> shards;
      for (size_t i : members) {
        cpb::ShardRef ref;
        ref.set_shard(routes[i].shard);
        ref.set_min_sequence(routes[i].min_sequence);
        refs.push_back(ref);
        shards.push_back(routes[i].shard);
      }
      Resp resp;
      absl::Status s = m.local(m.build(refs), deadline, &resp);
      if (s.ok()) {
        st->Complete(members, target, m.parse(&resp, shards));
      } else {
        st->Complete(members, target, s);
      }
    }
    return groups.size();
  };

  std::vector<size_t> all(routes.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  launch(all);
  const absl::Time start = absl::Now();
  const absl::Time hedge_at =
      start + std::min(node->options().hedge_delay, (deadline - start) / 2);
  bool hedged = !hedge;
  absl::Status failed;
  for (;;) {
    std::vector<size_t> retry;
    {
      absl::MutexLock lock(&st->mu);
      if (st->done.size() == routes.size()) break;
      if (!st->final.ok()) {
        failed = st->final;
        break;
      }
      for (size_t i = 0; i < routes.size(); ++i) {
        if (st->done.count(i) || st->inflight[i] > 0) continue;
        if (next[i] >= routes[i].candidates.size()) {
          failed = absl::UnavailableError(
              absl::StrCat(what, ": no replica of shard ", routes[i].shard,
                           " answered: ", absl::StrJoin(st->errors[i], "; ")));
          break;
        }
        retry.push_back(i);
      }
      if (!failed.ok()) break;
      if (!hedged && absl::Now() >= hedge_at) {
        hedged = true;
        for (size_t i = 0; i < routes.size(); ++i) {
          if (!st->done.count(i) && st->inflight[i] > 0 &&
              next[i] < routes[i].candidates.size()) {
            retry.push_back(i);
            ++*hedges;
          }
        }
      }
      if (retry.empty()) {
        if (absl::Now() >= deadline) {
          failed = absl::DeadlineExceededError(
              absl::StrCat(what, ": no answer from every shard in time"));
          break;
        }
        const uint64_t seen = st->events;
        auto news = [&st, seen]() ABSL_SHARED_LOCKS_REQUIRED(st->mu) {
          return st->events != seen;
        };
        st->mu.AwaitWithDeadline(
            absl::Condition(&news),
            hedged ? deadline : std::min(hedge_at, deadline));
        continue;
      }
    }
    launch(retry);
  }
  // Hedged-out and failed attempts still in flight are not waited for.
  for (auto& call : calls) call->context.TryCancel();
  if (!failed.ok()) return failed;
  absl::MutexLock lock(&st->mu);
  return std::move(st->done);
}

}  // namespace fan_out
}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_FAN_OUT_H_
