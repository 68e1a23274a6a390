// The cluster tests' read_your_writes: the sequences writes returned,
// merged per shard, and a read request that waits for them.
#ifndef TQDB_TESTS_CLUSTER_READ_AFTER_H_
#define TQDB_TESTS_CLUSTER_READ_AFTER_H_

#include <algorithm>
#include <cstdint>
#include <map>

#include "tqdb/v1/points.pb.h"

namespace tqdb {
namespace testing_util {

// The highest sequence per shard.
inline void Merge(
    const google::protobuf::RepeatedPtrField<v1::ShardSequence>& seqs,
    std::map<uint32_t, uint64_t>* into) {
  for (const auto& s : seqs) {
    (*into)[s.shard()] = std::max((*into)[s.shard()], s.sequence());
  }
}

template <typename Request>
void ReadAfter(const std::map<uint32_t, uint64_t>& written, Request* req) {
  req->set_consistency(v1::CONSISTENCY_READ_YOUR_WRITES);
  for (const auto& [shard, seq] : written) {
    v1::ShardSequence* s = req->add_read_after();
    s->set_shard(shard);
    s->set_sequence(seq);
  }
}

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_CLUSTER_READ_AFTER_H_
