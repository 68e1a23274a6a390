#include "tools/cli/progress.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/cli/output.h"

namespace tqdb {

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600
             ? absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
             : absl::StrFormat("%d:%02d", s / 60, s % 60);
}

Progress::Progress(std::ostream& err, const std::string& mode,
                   std::optional<uint64_t> total)
    : err_(err), total_(total), t0_(Clock::now()), last_(t0_) {
  bar_ = mode == "bar" || (mode == "auto" && isatty(STDERR_FILENO));
  lines_ = mode == "lines" || (mode == "auto" && !bar_);
}

void Progress::Update(uint64_t done, bool final) {
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (!final && since < (bar_ ? 0.2 : 5.0)) return;
  last_ = now;
  const double el = std::chrono::duration<double>(now - t0_).count();
  const double rate = el > 0 ? done / el : 0;
  std::string line = absl::StrCat(Thousands(done), " rows");
  if (total_) {
    const double frac = *total_ ? double(done) / *total_ : 1.0;
    line = absl::StrFormat("%s / %s rows %3.0f%%", Thousands(done),
                           Thousands(*total_), 100 * frac);
    if (bar_) {
      const int w = 30, fill = static_cast<int>(frac * w + 0.5);
      line = absl::StrCat("[", std::string(fill, '#'),
                          std::string(w - fill, ' '), "] ", line);
    }
  }
  line += absl::StrFormat("  %s rows/s", Thousands(uint64_t(rate)));
  if (total_ && rate > 0 && done < *total_) {
    line += "  ETA " + FormatDuration((*total_ - done) / rate);
  }
  if (bar_) {
    err_ << "\r" << line << "   " << (final ? "\n" : "") << std::flush;
  } else if (lines_) {
    err_ << "ingest: " << line << "\n" << std::flush;
  }
}

double Progress::seconds() const {
  return std::chrono::duration<double>(Clock::now() - t0_).count();
}

}  // namespace tqdb
