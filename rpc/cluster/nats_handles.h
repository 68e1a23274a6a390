// Internal to rpc/cluster/: RAII owners of libnats' C handles, and
// natsStatus as absl::Status. Included by the .cc files only.
#ifndef TQDB_RPC_CLUSTER_NATS_HANDLES_H_
#define TQDB_RPC_CLUSTER_NATS_HANDLES_H_

#include <nats/nats.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tqdb {
namespace cluster {

template <typename T, void (*Destroy)(T*)>
struct NatsDeleter {
  void operator()(T* p) const {
    if (p != nullptr) Destroy(p);
  }
};

// natsConnection is owned by NatsConnection (closing it waits for the
// closed callback); everything else here.
using NatsOptionsPtr =
    std::unique_ptr<natsOptions, NatsDeleter<natsOptions, natsOptions_Destroy>>;
using JsCtxPtr = std::unique_ptr<jsCtx, NatsDeleter<jsCtx, jsCtx_Destroy>>;
using NatsSubscriptionPtr =
    std::unique_ptr<natsSubscription,
                    NatsDeleter<natsSubscription, natsSubscription_Destroy>>;
using NatsMsgPtr =
    std::unique_ptr<natsMsg, NatsDeleter<natsMsg, natsMsg_Destroy>>;
using JsPubAckPtr =
    std::unique_ptr<jsPubAck, NatsDeleter<jsPubAck, jsPubAck_Destroy>>;
using JsStreamInfoPtr =
    std::unique_ptr<jsStreamInfo,
                    NatsDeleter<jsStreamInfo, jsStreamInfo_Destroy>>;
using JsConsumerInfoPtr =
    std::unique_ptr<jsConsumerInfo,
                    NatsDeleter<jsConsumerInfo, jsConsumerInfo_Destroy>>;
using JsMsgMetaDataPtr =
    std::unique_ptr<jsMsgMetaData,
                    NatsDeleter<jsMsgMetaData, jsMsgMetaData_Destroy>>;

// `s` (with `js_error`, JetStream's error code, when the server gave one)
// as absl::Status, with `what` and libnats' last error text in the message.
// Unavailable: no server, connection closed or lost, no responders;
// DeadlineExceeded: timeout; NotFound: missing stream or consumer;
// AlreadyExists: a stream of that name with another configuration;
// InvalidArgument: bad subject or argument; FailedPrecondition: other
// JetStream refusals.
absl::Status NatsError(natsStatus s, absl::string_view what,
                       jsErrCode js_error = static_cast<jsErrCode>(0));

inline int64_t ToMillis(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  return ms < 1 ? 1 : ms;
}

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_NATS_HANDLES_H_
