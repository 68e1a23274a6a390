#include "tools/vecs_io.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

template <typename T>
absl::Status ReadVecs(const std::string& path, size_t max_rows,
                      bool check_finite, size_t* rows, size_t* dim,
                      std::vector<T>* data) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  *rows = 0;
  *dim = 0;
  data->clear();
  uint8_t head[4];
  while (max_rows == 0 || *rows < max_rows) {
    const size_t got = std::fread(head, 1, 4, f.get());
    if (got == 0) break;
    const size_t row = *rows + 1;
    if (got < 4) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": row ", row, ": truncated dimension header"));
    }
    const int32_t d =
        static_cast<int32_t>(head[0] | head[1] << 8 | head[2] << 16 |
                             static_cast<uint32_t>(head[3]) << 24);
    if (d <= 0 || d > (1 << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": row ", row, ": invalid dimension ", d));
    }
    if (*dim == 0) *dim = d;
    if (static_cast<size_t>(d) != *dim) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": row ", row, ": dimension ", d, " differs from ",
                       *dim, " (row 1)"));
    }
    const size_t old = data->size();
    data->resize(old + d);
    const size_t n = std::fread(data->data() + old, sizeof(T), d, f.get());
    if (n != static_cast<size_t>(d)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": row ", row, ": truncated (", n, " of ", d, " values)"));
    }
    if (check_finite) {
      for (int32_t j = 0; j < d; ++j) {
        const double v = static_cast<double>((*data)[old + j]);
        if (!std::isfinite(v)) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": row ", row, ": value ", j + 1, " is ",
                           std::isnan(v) ? "NaN" : "infinite"));
        }
      }
    }
    ++*rows;
  }
  if (*rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no rows"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadFvecs(const std::string& path, FloatMatrix* out,
                       size_t max_rows) {
  return ReadVecs(path, max_rows, /*check_finite=*/true, &out->rows, &out->dim,
                  &out->data);
}

absl::Status ReadIvecs(const std::string& path, IntMatrix* out,
                       size_t max_rows) {
  return ReadVecs(path, max_rows, /*check_finite=*/false, &out->rows, &out->dim,
                  &out->data);
}

}  // namespace tqdb
