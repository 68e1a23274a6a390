#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quant/status_macros.h"
#include "tools/io/formats.h"
#include "tools/io/input_file.h"

namespace tqdb {
namespace io {
namespace {

// Owns an HDF5 identifier.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) {
    o.id_ = -1;
  }
  H5Handle& operator=(H5Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(closer_, o.closer_);
    return *this;
  }
  ~H5Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

herr_t CollectH5Error(unsigned /*n*/, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (e->desc != nullptr && e->desc[0] != '\0') *out = e->desc;
  return 0;
}

// The innermost message of HDF5's current error stack, then clears it.
std::string H5ErrorText() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectH5Error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "unknown HDF5 error" : text;
}

herr_t CollectName(hid_t /*group*/, const char* name, const H5L_info_t*,
                   void* data) {
  auto* names = static_cast<std::vector<std::string>*>(data);
  if (names->size() >= 20) return 1;  // enough for a message
  names->push_back(name);
  return 0;
}

class Hdf5Reader : public VectorReader {
 public:
  static absl::StatusOr<std::unique_ptr<VectorReader>> Open(
      const std::string& path, const std::string& dataset) {
    // Report missing/unreadable files like the other formats.
    TQ_RETURN_IF_ERROR(InputFile::Open(path, true).status());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    std::unique_ptr<Hdf5Reader> r(new Hdf5Reader(path));
    r->file_ =
        H5Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!r->file_.ok()) {
      return Invalid(path, "not a readable HDF5 file (", H5ErrorText(), ")");
    }
    const htri_t exists =
        dataset.empty()
            ? 0
            : H5Lexists(r->file_.get(), dataset.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      std::vector<std::string> names;
      H5Literate(r->file_.get(), H5_INDEX_NAME, H5_ITER_NATIVE, nullptr,
                 CollectName, &names);
      H5Eclear2(H5E_DEFAULT);
      return Invalid(path, "no dataset '", dataset, "' (the file has: ",
                     names.empty() ? "nothing" : absl::StrJoin(names, ", "),
                     ")");
    }
    r->dataset_ = H5Handle(
        H5Dopen2(r->file_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
    if (!r->dataset_.ok()) {
      return Invalid(path, "cannot open dataset '", dataset, "' (",
                     H5ErrorText(), ")");
    }
    H5Handle type(H5Dget_type(r->dataset_.get()), H5Tclose);
    if (!type.ok()) {
      return Invalid(path, "dataset '", dataset, "': cannot read its type (",
                     H5ErrorText(), ")");
    }
    const H5T_class_t cls = H5Tget_class(type.get());
    const size_t tsize = H5Tget_size(type.get());
    if (cls != H5T_FLOAT || (tsize != 4 && tsize != 8)) {
      return Invalid(path, "dataset '", dataset, "' has an unsupported type (",
                     cls == H5T_FLOAT     ? "float"
                     : cls == H5T_INTEGER ? "integer"
                                          : "non-numeric",
                     " of ", tsize, " bytes); need float32 or float64");
    }
    r->double_ = tsize == 8;
    r->space_ = H5Handle(H5Dget_space(r->dataset_.get()), H5Sclose);
    if (!r->space_.ok()) {
      return Invalid(path, "dataset '", dataset, "': cannot read its shape (",
                     H5ErrorText(), ")");
    }
    const int ndims = H5Sget_simple_extent_ndims(r->space_.get());
    if (ndims != 2) {
      H5Eclear2(H5E_DEFAULT);
      return Invalid(path, "dataset '", dataset, "' is ", std::max(ndims, 0),
                     "-D; need 2-D (rows, dim)");
    }
    hsize_t dims[2];
    if (H5Sget_simple_extent_dims(r->space_.get(), dims, nullptr) != 2) {
      return Invalid(path, "dataset '", dataset, "': cannot read its shape (",
                     H5ErrorText(), ")");
    }
    if (dims[1] == 0 || dims[1] > kMaxDim) {
      return DimError(
          path, absl::StrCat("dataset '", dataset, "': "),
          static_cast<int64_t>(std::min<hsize_t>(dims[1], hsize_t{1} << 62)));
    }
    if (dims[0] > 0 && H5Dget_storage_size(r->dataset_.get()) == 0) {
      H5Eclear2(H5E_DEFAULT);
      return Invalid(path, "dataset '", dataset, "' has ", dims[0],
                     " rows but no stored data (never written)");
    }
    r->dim_ = static_cast<uint32_t>(dims[1]);
    r->rows_ = dims[0];
    r->dataset_name_ = dataset;
    return std::unique_ptr<VectorReader>(std::move(r));
  }

  uint32_t dim() const override { return dim_; }
  std::optional<uint64_t> total_rows() const override { return rows_; }
  const std::string& format() const override { return format_; }
  uint64_t next_row() const override { return next_; }

  absl::StatusOr<size_t> Next(size_t max_rows, VectorBatch* batch) override {
    batch->Clear();
    batch->first_row = next_;
    if (max_rows == 0) return MaxRowsError(path_);
    const size_t k =
        static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - next_));
    if (k == 0) return 0;
    batch->vectors.resize(k * dim_);
    const size_t row_bytes = size_t{dim_} * (double_ ? 8 : 4);
    const size_t chunk_rows = std::max<size_t>(1, kChunkBytes / row_bytes);
    for (size_t done = 0; done < k;) {
      const size_t c = std::min(chunk_rows, k - done);
      const hsize_t start[2] = {next_ + done, 0};
      const hsize_t count[2] = {c, dim_};
      float* dst = batch->vectors.data() + done * dim_;
      if (H5Sselect_hyperslab(space_.get(), H5S_SELECT_SET, start, nullptr,
                              count, nullptr) < 0) {
        return ReadError(done, c);
      }
      H5Handle mem(H5Screate_simple(2, count, nullptr), H5Sclose);
      if (!mem.ok()) return ReadError(done, c);
      herr_t st;
      if (double_) {
        doubles_.resize(c * dim_);
        st = H5Dread(dataset_.get(), H5T_NATIVE_DOUBLE, mem.get(), space_.get(),
                     H5P_DEFAULT, doubles_.data());
      } else {
        st = H5Dread(dataset_.get(), H5T_NATIVE_FLOAT, mem.get(), space_.get(),
                     H5P_DEFAULT, dst);
      }
      if (st < 0) return ReadError(done, c);
      for (size_t i = 0; i < c * dim_; ++i) {
        if (double_) dst[i] = static_cast<float>(doubles_[i]);
        if (!std::isfinite(dst[i])) {
          const uint64_t row1 = next_ + done + i / dim_ + 1;
          const size_t col1 = i % dim_ + 1;
          if (double_ && std::isfinite(doubles_[i])) {
            return Invalid(path_, "dataset '", dataset_name_, "' row ", row1,
                           " column ", col1, ": value ", doubles_[i],
                           " overflows float32");
          }
          return Invalid(path_, "dataset '", dataset_name_, "' row ", row1,
                         " column ", col1, ": ", NonFiniteName(dst[i]));
        }
      }
      done += c;
    }
    next_ += k;
    batch->rows = k;
    return k;
  }

  absl::Status Skip(uint64_t n) override {
    const uint64_t left = rows_ - next_;
    if (n > left) return SkipPastEnd(path_, n, left);
    next_ += n;
    return absl::OkStatus();
  }

 private:
  explicit Hdf5Reader(std::string path) : path_(std::move(path)) {}

  absl::Status ReadError(size_t done, size_t c) {
    return Truncated(path_, "dataset '", dataset_name_, "' rows ",
                     next_ + done + 1, "-", next_ + done + c,
                     ": HDF5 read failed (", H5ErrorText(), ")");
  }

  const std::string path_;
  const std::string format_ = "hdf5";
  std::string dataset_name_;
  // Declaration order = reverse close order: space, dataset, then file.
  H5Handle file_;
  H5Handle dataset_;
  H5Handle space_;
  bool double_ = false;
  uint32_t dim_ = 0;
  uint64_t rows_ = 0;
  uint64_t next_ = 0;
  std::vector<double> doubles_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VectorReader>> OpenHdf5(
    const std::string& path, const std::string& dataset) {
  return Hdf5Reader::Open(path, dataset);
}

}  // namespace io
}  // namespace tqdb
