// libFuzzer entry point: the hdf5 reader, structure-aware.
//
// The input does not become the file's bytes (that fuzzes libhdf5's parser,
// which crashes on corrupt files: see hdf5_raw_fuzzer.cc); it chooses a
// well-formed file instead, written with the HDF5 C API: dataset path
// (requested or not), rank and dims (including 0, kMaxDim and beyond), file
// type (float32/64 either byte order, int, string), layout (contiguous,
// compact, chunked with random chunk dims, deflate), whether data is written
// at all, and the raw element bytes (so NaN/Inf/huge float64 values occur).
// It then reads it with ReadAllBatches and checks the row count.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tools/fuzz/fuzz_util.h"

namespace {

const char* const kNames[] = {"train", "test", "g/train", "neighbors"};

// Writes the file; returns false if HDF5 refused the choices (fine).
bool WriteFile(const std::string& path, FuzzedDataProvider* in,
               std::string* name, hsize_t* rows, hsize_t* dim,
               bool* readable_type) {
  *name = kNames[in->ConsumeIntegralInRange<int>(0, 3)];
  const int rank = in->ConsumeIntegralInRange<int>(0, 6) == 0
                       ? in->ConsumeIntegralInRange<int>(1, 3)
                       : 2;
  hsize_t dims[3] = {in->ConsumeIntegralInRange<hsize_t>(0, 40), 0, 2};
  switch (in->ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      dims[1] = 0;
      break;
    case 1:
      dims[1] = tqdb::kMaxDim + in->ConsumeIntegralInRange<hsize_t>(0, 1);
      dims[0] = std::min<hsize_t>(dims[0], 2);
      break;
    default:
      dims[1] = in->ConsumeIntegralInRange<hsize_t>(1, 20);
  }
  if (rank == 1) dims[0] *= dims[1];
  *rows = dims[0];
  *dim = dims[1];
  const hid_t types[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_IEEE_F32BE,
                         H5T_IEEE_F64BE, H5T_STD_I32LE,  H5T_STD_U8LE,
                         H5T_C_S1};
  const int t = in->ConsumeIntegralInRange<int>(0, 6);
  const hid_t type = types[t];
  *readable_type = t < 4;
  const int layout = in->ConsumeIntegralInRange<int>(0, 3);
  const bool write = in->ConsumeIntegralInRange<int>(0, 7) != 0;

  bool ok = false;
  const hid_t file =
      H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return false;
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (layout == 1) H5Pset_layout(dcpl, H5D_COMPACT);
  if (layout >= 2) {
    hsize_t chunk[3];
    for (int i = 0; i < rank; ++i) {
      // Small chunks only along small axes: 10^5 tiny chunks take seconds.
      chunk[i] = dims[i] > 64 ? std::max<hsize_t>(dims[i] / 2, 1)
                              : in->ConsumeIntegralInRange<hsize_t>(1, 8);
    }
    H5Pset_chunk(dcpl, rank, chunk);
    if (layout == 3) H5Pset_deflate(dcpl, 1);
  }
  const hid_t space = H5Screate_simple(rank, dims, nullptr);
  const hid_t ds =
      H5Dcreate2(file, name->c_str(), type, space, lcpl, dcpl, H5P_DEFAULT);
  if (ds >= 0) {
    ok = true;
    size_t n = H5Tget_size(type);
    for (int i = 0; i < rank; ++i) n *= dims[i];
    if (write && n > 0 && n < (size_t{64} << 20)) {
      // Element bytes from the input, repeated to fill the dataset.
      const std::vector<uint8_t> pattern = in->ConsumeRemainingBytes<uint8_t>();
      std::vector<uint8_t> buf(n, 0);
      for (size_t i = 0; !pattern.empty() && i < n; ++i) {
        buf[i] = pattern[i % pattern.size()];
      }
      ok = H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) >= 0;
    }
    H5Dclose(ds);
  }
  H5Sclose(space);
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  H5Fclose(file);
  H5Eclear2(H5E_DEFAULT);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  FuzzedDataProvider in(data, size);
  tqdb::ReaderOptions options;
  options.format = "hdf5";
  options.hdf5_dataset = kNames[in.ConsumeIntegralInRange<int>(0, 3)];
  const std::string& path = tqdb::fuzz::WriteInput(nullptr, 0, ".hdf5");
  std::string name;
  hsize_t rows, dim;
  bool readable_type;
  if (!WriteFile(path, &in, &name, &rows, &dim, &readable_type)) return 0;
  const int64_t got = tqdb::fuzz::ReadAllBatches(path, options);
  // A plain 2-D float dataset under the requested name with a valid
  // dimension reads completely unless it holds a non-finite value (the
  // fuzz loop skips a row after every other batch: 6 rows read per 7).
  if (got >= 0) {
    tqdb::fuzz::Check(options.hdf5_dataset == name && readable_type &&
                          dim >= 1 && dim <= tqdb::kMaxDim,
                      "accepted a dataset it should reject");
    tqdb::fuzz::Check(rows - static_cast<hsize_t>(got) <= rows / 7 + 1,
                      "rows lost");
  }
  tqdb::fuzz::Check(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0,
                    "HDF5 objects left open");
  return 0;
}
