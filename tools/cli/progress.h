// The progress of a long ingest on stderr: a bar redrawn in place (count,
// share, rate, ETA) on a terminal, plain lines every 5 s otherwise, or
// nothing. Not thread-safe.
#ifndef TQDB_TOOLS_CLI_PROGRESS_H_
#define TQDB_TOOLS_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace tqdb {

// 75 -> "1:15", 3725 -> "1:02:05" (seconds, rounded).
std::string FormatDuration(double seconds);

class Progress {
 public:
  // mode: "bar", "lines", "none", or "auto" (a bar if stderr is a
  // terminal, else lines). total: the rows expected, if known (for the
  // share and the ETA).
  Progress(std::ostream& err, const std::string& mode,
           std::optional<uint64_t> total);

  // Reports `done` rows, at most every 0.2 s (bar) or 5 s (lines), and
  // always when `final`.
  void Update(uint64_t done, bool final = false);

  // Seconds since construction.
  double seconds() const;

 private:
  using Clock = std::chrono::steady_clock;

  std::ostream& err_;
  std::optional<uint64_t> total_;
  Clock::time_point t0_, last_;
  bool bar_ = false, lines_ = false;
};

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_PROGRESS_H_
