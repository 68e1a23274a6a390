#include "tools/cli/ingest_hints.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace {

// The number after `key` in `msg` ("... exceeds max_batch 200 ..."), or -1.
long long NumberAfter(const std::string& msg, const std::string& key) {
  const size_t at = msg.find(key);
  if (at == std::string::npos) return -1;
  long long v = -1;
  if (std::sscanf(msg.c_str() + at + key.size(), "%lld", &v) != 1) return -1;
  return v;
}

}  // namespace

LimitHint HintForLimit(const absl::Status& s, size_t batch) {
  LimitHint h;
  if (s.code() != absl::StatusCode::kResourceExhausted &&
      s.code() != absl::StatusCode::kInvalidArgument) {
    return h;
  }
  const std::string msg(s.message());
  if (const long long max = NumberAfter(msg, "exceeds max_batch "); max > 0) {
    h.batch = static_cast<size_t>(max);
    h.text =
        absl::StrCat("use --batch ", max, " or less (the server takes at most ",
                     max, " points a batch: tqdb serve --max-batch)");
    return h;
  }
  // gRPC's receive limit: "Received message larger than max (79373 vs.
  // 32768)".
  long long size = -1, max = -1;
  const size_t at = msg.find("larger than max (");
  if (at != std::string::npos &&
      std::sscanf(msg.c_str() + at, "larger than max (%lld vs. %lld)", &size,
                  &max) == 2 &&
      size > 0 && max > 0 && batch > 0) {
    // Points of this input take size / batch bytes each; keep 10% spare for
    // rows larger than the average.
    const double per_point = static_cast<double>(size) / batch;
    h.batch = std::max<size_t>(1, static_cast<size_t>(0.9 * max / per_point));
    h.text = absl::StrCat("use --batch ", h.batch, " or less (a batch of ",
                          batch, " points is ", size,
                          " bytes; the server takes messages up to ", max,
                          " bytes: tqdb serve --max-receive-mb)");
    return h;
  }
  if (const long long max = NumberAfter(msg, "exceeds max_payload_bytes ");
      max > 0) {
    h.text = absl::StrCat("the server takes payloads up to ", max,
                          " bytes (tqdb serve --max-payload-bytes)");
  }
  return h;
}

}  // namespace tqdb
