#include "db/info_log.h"

#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace dbimpl {
namespace {

constexpr int64_t kReopenEveryUs = 5'000'000;

int64_t NowUs() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return int64_t{tv.tv_sec} * 1'000'000 + tv.tv_usec;
}

// "2024/01/31-12:34:56.123456 1234 " (local time, thread id), as RocksDB's.
std::string Prefix() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  const time_t seconds = tv.tv_sec;
  struct tm t;
  localtime_r(&seconds, &t);
  char buf[64];
  snprintf(buf, sizeof(buf), "%04d/%02d/%02d-%02d:%02d:%02d.%06d %ld ",
           t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
           t.tm_sec, static_cast<int>(tv.tv_usec),
           static_cast<long>(syscall(SYS_gettid)));
  return buf;
}

}  // namespace

InfoLog::InfoLog(std::shared_ptr<rocksdb::FileSystem> fs,
                 const std::string& dir, rocksdb::InfoLogLevel level)
    : rocksdb::Logger(level), fs_(std::move(fs)), path_(dir + "/LOG") {
  absl::MutexLock l(&mu_);
  MaybeOpen(/*first=*/true);
}

InfoLog::~InfoLog() { CloseImpl().PermitUncheckedError(); }

void InfoLog::MaybeOpen(bool first) {
  if (file_ != nullptr || closed_) return;
  const int64_t now = NowUs();
  if (!first && now - last_open_try_us_ < kReopenEveryUs) return;
  last_open_try_us_ = now;
  const rocksdb::IOOptions io;
  rocksdb::FileOptions fo;
  fo.allow_fallocate = false;  // a log line must not need a new extent first
  rocksdb::IOStatus s;
  if (first && fs_->FileExists(path_, io, nullptr).ok()) {
    // The previous run's LOG becomes LOG.old.<micros>, as RocksDB names it.
    s = fs_->RenameFile(path_, absl::StrCat(path_, ".old.", now), io, nullptr);
  }
  if (first && s.ok()) {
    s = fs_->NewWritableFile(path_, fo, &file_, nullptr);
  } else {
    s = fs_->ReopenWritableFile(path_, fo, &file_, nullptr);
  }
  if (!s.ok()) {
    file_.reset();
    last_error_ = s.ToString();
  }
}

bool InfoLog::Write(const std::string& line) {
  MaybeOpen(/*first=*/false);
  if (file_ == nullptr) return false;
  const rocksdb::IOOptions io;
  rocksdb::IOStatus s = file_->Append(line, io, nullptr);
  if (s.ok()) s = file_->Flush(io, nullptr);
  if (!s.ok()) {
    // Nothing sticks: the next line tries the same file again.
    last_error_ = s.ToString();
    return false;
  }
  return true;
}

void InfoLog::Logv(const char* format, va_list ap) {
  std::string line = Prefix();
  char buf[512];
  va_list copy;
  va_copy(copy, ap);
  const int n = vsnprintf(buf, sizeof(buf), format, copy);
  va_end(copy);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof(buf)) {
    line.append(buf, n);
  } else {
    std::string big(static_cast<size_t>(n) + 1, '\0');
    va_copy(copy, ap);
    vsnprintf(big.data(), big.size(), format, copy);
    va_end(copy);
    big.resize(n);
    line += big;
  }
  if (line.back() != '\n') line += '\n';
  absl::MutexLock l(&mu_);
  if (dropped_ > dropped_reported_) {
    const std::string note =
        absl::StrCat(Prefix(), "[tqdb] ", dropped_ - dropped_reported_,
                     " log lines were not written (", last_error_, ")\n");
    if (!Write(note)) {
      ++dropped_;
      return;
    }
    dropped_reported_ = dropped_;
  }
  if (!Write(line)) ++dropped_;
}

uint64_t InfoLog::dropped() const {
  absl::MutexLock l(&mu_);
  return dropped_;
}

rocksdb::Status InfoLog::CloseImpl() {
  absl::MutexLock l(&mu_);
  if (file_ != nullptr) {
    file_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
    file_.reset();
  }
  closed_ = true;
  return rocksdb::Status::OK();
}

}  // namespace dbimpl
}  // namespace tqdb
