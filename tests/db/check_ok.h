// CHECK_OK for the db/ benchmarks: Google Benchmark has no assertions, and a
// benchmark that measured a failed call would report a meaningless number.
#ifndef TQDB_TESTS_DB_CHECK_OK_H_
#define TQDB_TESTS_DB_CHECK_OK_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"

#define CHECK_OK(expr)                                   \
  do {                                                   \
    const absl::Status s_ = (expr);                      \
    if (!s_.ok()) {                                      \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
              s_.ToString().c_str());                    \
      std::abort();                                      \
    }                                                    \
  } while (0)

#endif  // TQDB_TESTS_DB_CHECK_OK_H_
