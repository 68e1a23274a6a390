// What tqdb ingest tells the user when the server (or the database) refuses
// a batch for a limit, so that the next try fits: a batch over --max-batch
// or over the server's receive limit (--max-receive-mb) gets the --batch
// that fits; a payload over --max-payload-bytes names that flag.
#ifndef TQDB_TOOLS_CLI_INGEST_HINTS_H_
#define TQDB_TOOLS_CLI_INGEST_HINTS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"

namespace tqdb {

struct LimitHint {
  size_t batch = 0;  // a --batch that fits; 0 = the batch size is not it
  std::string text;  // "use --batch 200 or less (...)"; "" = no hint
};

// For the error `s` of an ingest sending batches of `batch` points.
LimitHint HintForLimit(const absl::Status& s, size_t batch);

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_INGEST_HINTS_H_
