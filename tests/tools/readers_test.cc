// Tests for tools/io/readers.h: round trips through files written here, for
// every format; batching; Skip; and the error messages (file + row/line).
#include "tools/io/readers.h"

#include <hdf5.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/tools/tools_test_util.h"
#include "tools/io/matrix.h"

namespace tqdb {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing_util::TempDir;

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

template <typename T>
void Append(std::string* s, T v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// TEXMEX rows: int32 d, then d values of type T.
template <typename T>
std::string Vecs(const std::vector<float>& data, size_t d) {
  std::string s;
  for (size_t i = 0; i < data.size() / d; ++i) {
    Append<int32_t>(&s, static_cast<int32_t>(d));
    for (size_t j = 0; j < d; ++j)
      Append<T>(&s, static_cast<T>(data[i * d + j]));
  }
  return s;
}

// big-ann-benchmarks: uint32 n, uint32 d, then n*d values of type T.
template <typename T>
std::string Bin(const std::vector<float>& data, size_t d) {
  std::string s;
  Append<uint32_t>(&s, static_cast<uint32_t>(data.size() / d));
  Append<uint32_t>(&s, static_cast<uint32_t>(d));
  for (float v : data) Append<T>(&s, static_cast<T>(v));
  return s;
}

// A .npy file of the given header dict and raw data, padded like numpy.
std::string Npy(const std::string& dict, const std::string& raw,
                int major = 1) {
  const size_t pre = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((pre + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  if (major == 1) {
    Append<uint16_t>(&s, static_cast<uint16_t>(header.size()));
  } else {
    Append<uint32_t>(&s, static_cast<uint32_t>(header.size()));
  }
  return s + header + raw;
}

std::string NpyDict(const std::string& descr, size_t n, size_t d,
                    bool fortran = false) {
  return absl::StrCat("{'descr': '", descr,
                      "', 'fortran_order': ", fortran ? "True" : "False",
                      ", 'shape': (", n, ", ", d, "), }");
}

template <typename T, typename V>
std::string Raw(const std::vector<V>& data) {
  std::string s;
  for (const V& v : data) Append<T>(&s, static_cast<T>(v));
  return s;
}

// float -> binary16 for values exactly representable (tests only).
uint16_t FloatToHalfExact(float f) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float g = HalfToFloat(static_cast<uint16_t>(h));
    if (g == f && std::signbit(g) == std::signbit(f)) {
      return static_cast<uint16_t>(h);
    }
  }
  ADD_FAILURE() << f << " is not a binary16 value";
  return 0;
}

struct H5Dataset {
  std::string name;
  hid_t file_type;
  hid_t mem_type;
  std::vector<hsize_t> dims;
  const void* data;
  bool chunked = false;
};

void WriteHdf5(const std::string& path, const std::vector<H5Dataset>& sets) {
  const hid_t file =
      H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  for (const H5Dataset& s : sets) {
    const hid_t space = H5Screate_simple(static_cast<int>(s.dims.size()),
                                         s.dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (s.chunked) {
      std::vector<hsize_t> chunk = s.dims;
      chunk[0] = 3;
      H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
      H5Pset_deflate(dcpl, 1);
    }
    const hid_t ds = H5Dcreate2(file, s.name.c_str(), s.file_type, space,
                                H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    if (s.data != nullptr) {  // nullptr: never written
      ASSERT_GE(H5Dwrite(ds, s.mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data),
                0);
    }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  H5Fclose(file);
}

// Everything a reader returns, read in batches of `batch` rows.
struct AllRows {
  uint32_t dim = 0;
  std::vector<float> vectors;
  std::vector<uint64_t> ids;
  std::vector<std::string> payloads;
  size_t rows = 0;
};

absl::StatusOr<AllRows> ReadAll(VectorReader* r, size_t batch) {
  AllRows all;
  all.dim = r->dim();
  VectorBatch b;
  while (true) {
    const uint64_t expected_first = r->next_row();
    absl::StatusOr<size_t> n = r->Next(batch, &b);
    if (!n.ok()) return n.status();
    EXPECT_EQ(b.first_row, expected_first);
    EXPECT_EQ(b.rows, *n);
    EXPECT_LE(*n, batch);
    EXPECT_EQ(b.vectors.size(), b.rows * r->dim());
    if (!b.ids.empty()) {
      EXPECT_EQ(b.ids.size(), b.rows);
    }
    if (!b.payloads.empty()) {
      EXPECT_EQ(b.payloads.size(), b.rows);
    }
    if (*n == 0) break;
    all.rows += *n;
    all.vectors.insert(all.vectors.end(), b.vectors.begin(), b.vectors.end());
    all.ids.insert(all.ids.end(), b.ids.begin(), b.ids.end());
    all.payloads.insert(all.payloads.end(), b.payloads.begin(),
                        b.payloads.end());
  }
  return all;
}

absl::StatusOr<AllRows> OpenAndReadAll(const std::string& path,
                                       size_t batch = 7,
                                       ReaderOptions options = {}) {
  absl::StatusOr<std::unique_ptr<VectorReader>> r =
      VectorReader::Open(path, options);
  if (!r.ok()) return r.status();
  return ReadAll(r->get(), batch);
}

// Status of the first failing step: Open, or reading everything.
absl::Status OpenReadStatus(const std::string& path,
                            ReaderOptions options = {}) {
  return OpenAndReadAll(path, 1000, options).status();
}

// The test matrix: 100 rows of dimension 5, values in [-50, 50] (+0.25 for
// the float formats; +50 for the unsigned ones), exactly representable in
// every format.
constexpr size_t kRows = 100;
constexpr size_t kDim = 5;

std::vector<float> TestData(bool fractional, bool non_negative) {
  std::vector<float> v(kRows * kDim);
  for (size_t i = 0; i < kRows; ++i) {
    for (size_t j = 0; j < kDim; ++j) {
      float x = static_cast<float>((i * 7 + j * 3) % 101) - 50.0f;
      if (fractional) x += 0.25f;
      if (non_negative) x += 50.0f;
      v[i * kDim + j] = x;
    }
  }
  return v;
}

struct RoundTripCase {
  std::string name;  // test name suffix
  std::string file;  // written file name
  bool fractional;
  bool non_negative;
  bool has_ids = false;
  bool has_payloads = false;
  bool knows_total = true;
};

// Writes `c`'s file of `data`; ids are 1000 + row, payloads {"row": i}.
void WriteCase(const RoundTripCase& c, const std::string& path,
               const std::vector<float>& data) {
  const std::string& n = c.name;
  if (n == "fvecs") return WriteBytes(path, Vecs<float>(data, kDim));
  if (n == "bvecs") return WriteBytes(path, Vecs<uint8_t>(data, kDim));
  if (n == "ivecs") return WriteBytes(path, Vecs<int32_t>(data, kDim));
  if (n == "fbin") return WriteBytes(path, Bin<float>(data, kDim));
  if (n == "u8bin") return WriteBytes(path, Bin<uint8_t>(data, kDim));
  if (n == "i8bin") return WriteBytes(path, Bin<int8_t>(data, kDim));
  if (n == "npy_f4") {
    return WriteBytes(path, Npy(NpyDict("<f4", kRows, kDim), Raw<float>(data)));
  }
  if (n == "npy_f8") {
    return WriteBytes(path,
                      Npy(NpyDict("<f8", kRows, kDim), Raw<double>(data)));
  }
  if (n == "npy_u1") {
    return WriteBytes(path,
                      Npy(NpyDict("|u1", kRows, kDim), Raw<uint8_t>(data)));
  }
  if (n == "npy_i1") {
    return WriteBytes(path,
                      Npy(NpyDict("|i1", kRows, kDim), Raw<int8_t>(data)));
  }
  if (n == "npy_f2") {
    std::string raw;
    for (float v : data) Append<uint16_t>(&raw, FloatToHalfExact(v));
    return WriteBytes(path, Npy(NpyDict("<f2", kRows, kDim), raw));
  }
  if (n == "npy_v2") {
    // Version 2 header, double quotes, no trailing comma.
    return WriteBytes(
        path, Npy(absl::StrCat("{\"descr\": \"<f4\", \"shape\": (", kRows, ", ",
                               kDim, "), \"fortran_order\": False}"),
                  Raw<float>(data), 2));
  }
  if (n == "npy_v3") {
    return WriteBytes(path,
                      Npy(NpyDict("<f4", kRows, kDim), Raw<float>(data), 3));
  }
  if (n == "hdf5_f4" || n == "hdf5_chunked" || n == "h5_f8") {
    std::vector<double> d(data.begin(), data.end());
    const bool f8 = n == "h5_f8";
    return WriteHdf5(
        path,
        {{"test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, kDim}, data.data()},
         {"train",
          f8 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE,
          f8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT,
          {kRows, kDim},
          f8 ? static_cast<const void*>(d.data())
             : static_cast<const void*>(data.data()),
          n == "hdf5_chunked"}});
  }
  std::string text;
  if (n == "csv_header") text = "id,a,b,c,d,e\n";
  for (size_t i = 0; i < kRows; ++i) {
    std::vector<std::string> vals;
    for (size_t j = 0; j < kDim; ++j) {
      vals.push_back(absl::StrCat(data[i * kDim + j]));
    }
    if (n == "jsonl") {
      absl::StrAppend(&text, "{\"vector\": [", absl::StrJoin(vals, ", "),
                      "]}\n");
    } else if (n == "jsonl_ids_payloads") {
      // Exponents, CRLF, blank lines, key order, nested payloads.
      absl::StrAppend(&text, "{\"payload\": {\"row\": ", i,
                      ", \"tags\": [\"a\\\"b\", null]}, \"vector\": [",
                      absl::StrJoin(vals, ", "), "], \"id\": ", 1000 + i,
                      "}\r\n");
      if (i % 10 == 0) text += "   \n";
    } else {
      absl::StrAppend(&text, 1000 + i, ",", absl::StrJoin(vals, ","), "\n");
      if (i % 10 == 0) text += "\n";
    }
  }
  WriteBytes(path, text);
}

class ReadersRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(ReadersRoundTripTest, BatchesOf7MatchTheWrittenData) {
  const RoundTripCase& c = GetParam();
  TempDir tmp;
  const std::string path = tmp.File(c.file);
  const std::vector<float> data = TestData(c.fractional, c.non_negative);
  WriteCase(c, path, data);

  absl::StatusOr<std::unique_ptr<VectorReader>> r = VectorReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->dim(), kDim);
  EXPECT_EQ((*r)->has_ids(), c.has_ids);
  EXPECT_EQ((*r)->has_payloads(), c.has_payloads);
  if (c.knows_total) {
    EXPECT_EQ((*r)->total_rows(), std::optional<uint64_t>(kRows));
  } else {
    EXPECT_EQ((*r)->total_rows(), std::nullopt);
  }
  absl::StatusOr<AllRows> all = ReadAll(r->get(), 7);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->rows, kRows);
  EXPECT_EQ(all->vectors, data);
  if (c.has_ids) {
    ASSERT_EQ(all->ids.size(), kRows);
    for (size_t i = 0; i < kRows; ++i) EXPECT_EQ(all->ids[i], 1000 + i);
  } else {
    EXPECT_TRUE(all->ids.empty());
  }
  if (c.has_payloads) {
    ASSERT_EQ(all->payloads.size(), kRows);
    EXPECT_EQ(all->payloads[3], c.name == "jsonl"
                                    ? ""
                                    : "{\"row\":3,\"tags\":[\"a\\\"b\",null]}");
  } else {
    EXPECT_TRUE(all->payloads.empty());
  }

  // One big batch gives the same.
  absl::StatusOr<AllRows> one = OpenAndReadAll(path, 1000);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->vectors, all->vectors);
  EXPECT_EQ(one->ids, all->ids);
  EXPECT_EQ(one->payloads, all->payloads);

  // Skip 10, read 7, skip 80, read the rest (3), then the end.
  absl::StatusOr<std::unique_ptr<VectorReader>> s = VectorReader::Open(path);
  ASSERT_TRUE(s.ok()) << s.status();
  VectorBatch b;
  ASSERT_TRUE((*s)->Skip(10).ok());
  ASSERT_EQ((*s)->Next(7, &b).value(), 7u);
  EXPECT_EQ(b.first_row, 10u);
  EXPECT_EQ(b.vectors, std::vector<float>(data.begin() + 10 * kDim,
                                          data.begin() + 17 * kDim));
  if (c.has_ids) {
    EXPECT_EQ(b.ids.front(), 1010u);
  }
  ASSERT_TRUE((*s)->Skip(80).ok());
  ASSERT_EQ((*s)->Next(1000, &b).value(), 3u);
  EXPECT_EQ(b.first_row, 97u);
  EXPECT_EQ(b.vectors,
            std::vector<float>(data.begin() + 97 * kDim, data.end()));
  EXPECT_EQ((*s)->Next(5, &b).value(), 0u);
  EXPECT_EQ((*s)->Next(5, &b).value(), 0u);
  EXPECT_EQ(b.rows, 0u);
  EXPECT_TRUE(b.vectors.empty());

  // Skipping past the end is an error naming the file.
  absl::StatusOr<std::unique_ptr<VectorReader>> p = VectorReader::Open(path);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->Skip(99).ok());
  const absl::Status past = (*p)->Skip(2);
  EXPECT_EQ(past.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(past.message(), AllOf(HasSubstr(path), HasSubstr("skip")));
}

INSTANTIATE_TEST_SUITE_P(
    AllFormats, ReadersRoundTripTest,
    ::testing::Values(
        RoundTripCase{"fvecs", "a.fvecs", true, false},
        RoundTripCase{"bvecs", "a.bvecs", false, true},
        RoundTripCase{"ivecs", "a.ivecs", false, false},
        RoundTripCase{"fbin", "a.fbin", true, false},
        RoundTripCase{"u8bin", "a.u8bin", false, true},
        RoundTripCase{"i8bin", "a.i8bin", false, false},
        RoundTripCase{"npy_f4", "a.npy", true, false},
        RoundTripCase{"npy_f2", "a.npy", true, false},
        RoundTripCase{"npy_f8", "a.NPY", true, false},
        RoundTripCase{"npy_u1", "a.npy", false, true},
        RoundTripCase{"npy_i1", "a.npy", false, false},
        RoundTripCase{"npy_v2", "a.npy", true, false},
        RoundTripCase{"npy_v3", "a.npy", true, false},
        RoundTripCase{"hdf5_f4", "a.hdf5", true, false},
        RoundTripCase{"hdf5_chunked", "a.hdf5", true, false},
        RoundTripCase{"h5_f8", "a.h5", true, false},
        RoundTripCase{"jsonl", "a.jsonl", true, false, false, true, false},
        RoundTripCase{"jsonl_ids_payloads", "a.jsonl", true, false, true, true,
                      false},
        RoundTripCase{"csv", "a.csv", true, false, true, false, false},
        RoundTripCase{"csv_header", "a.csv", true, false, true, false, false}),
    [](const ::testing::TestParamInfo<RoundTripCase>& info) {
      return info.param.name;
    });

TEST(ReadersHalfToFloatTest, EdgeValues) {
  EXPECT_EQ(HalfToFloat(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));     // min subnormal
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.0f, -24));  // max subnormal
  EXPECT_EQ(HalfToFloat(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));  // min normal
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);  // max
  EXPECT_EQ(HalfToFloat(0xfbff), -65504.0f);
  EXPECT_EQ(HalfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7c01)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0xfe00)));
}

#if defined(__FLT16_MAX__)
TEST(ReadersHalfToFloatTest, AllValuesMatchTheCompiler) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    _Float16 x;
    const uint16_t bits = static_cast<uint16_t>(h);
    std::memcpy(&x, &bits, 2);
    const float want = static_cast<float>(x);
    const float got = HalfToFloat(bits);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      EXPECT_EQ(got, want) << h;
      EXPECT_EQ(std::signbit(got), std::signbit(want)) << h;
    }
  }
}
#endif

TEST(ReadersTest, Float16EdgeValuesThroughNpy) {
  TempDir tmp;
  const std::string path = tmp.File("h.npy");
  const uint16_t halves[] = {0x0001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x8000};
  std::string raw;
  for (uint16_t h : halves) Append<uint16_t>(&raw, h);
  WriteBytes(path, Npy(NpyDict("<f2", 2, 3), raw));
  absl::StatusOr<AllRows> all = OpenAndReadAll(path);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(
      all->vectors,
      (std::vector<float>{std::ldexp(1.0f, -24), std::ldexp(1023.0f, -24),
                          std::ldexp(1.0f, -14), 65504.0f, -65504.0f, -0.0f}));

  // Inf and NaN halves are rejected with row and column.
  const std::string bad = tmp.File("inf.npy");
  raw.clear();
  for (uint16_t h : {0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x7c00, 0x3c00}) {
    Append<uint16_t>(&raw, static_cast<uint16_t>(h));
  }
  WriteBytes(bad, Npy(NpyDict("<f2", 2, 3), raw));
  absl::Status st = OpenReadStatus(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(),
              AllOf(HasSubstr(bad), HasSubstr("row 2 column 2: Inf")));
}

TEST(ReadersTest, FloatsAreExact) {
  TempDir tmp;
  const std::vector<float> data =
      testing_util::RandomUnitVectors(kRows, 17, /*seed=*/3);
  const std::string fvecs = tmp.File("r.fvecs");
  WriteBytes(fvecs, Vecs<float>(data, 17));
  absl::StatusOr<AllRows> a = OpenAndReadAll(fvecs);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->vectors, data);

  // Text formats: shortest round-trip printing parses back exactly.
  std::string csv, jsonl;
  for (size_t i = 0; i < kRows; ++i) {
    std::vector<std::string> vals;
    for (size_t j = 0; j < 17; ++j) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.9g", data[i * 17 + j]);
      vals.push_back(buf);
    }
    absl::StrAppend(&csv, i, ",", absl::StrJoin(vals, ","), "\n");
    absl::StrAppend(&jsonl, "{\"id\":", i, ",\"vector\":[",
                    absl::StrJoin(vals, ","), "]}\n");
  }
  WriteBytes(tmp.File("r.csv"), csv);
  WriteBytes(tmp.File("r.jsonl"), jsonl);
  for (const char* f : {"r.csv", "r.jsonl"}) {
    absl::StatusOr<AllRows> t = OpenAndReadAll(tmp.File(f));
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->vectors, data) << f;
  }
}

TEST(ReadersTest, ExplicitFormatAndHdf5Dataset) {
  TempDir tmp;
  const std::vector<float> data = TestData(true, false);
  const std::string path = tmp.File("vectors.bin");
  WriteBytes(path, Bin<float>(data, kDim));
  ReaderOptions fbin;
  fbin.format = "fbin";
  absl::StatusOr<AllRows> a = OpenAndReadAll(path, 7, fbin);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->vectors, data);

  const std::string h5 = tmp.File("ann.hdf5");
  WriteHdf5(
      h5,
      {{"train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kRows, kDim}, data.data()},
       {"test",
        H5T_IEEE_F32LE,
        H5T_NATIVE_FLOAT,
        {3, kDim},
        data.data() + 10 * kDim}});
  ReaderOptions test;
  test.hdf5_dataset = "test";
  absl::StatusOr<AllRows> t = OpenAndReadAll(h5, 2, test);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->vectors, std::vector<float>(data.begin() + 10 * kDim,
                                           data.begin() + 13 * kDim));
}

TEST(ReadersTest, EmptyButValidBinaryFiles) {
  TempDir tmp;
  const std::string fbin = tmp.File("e.fbin");
  WriteBytes(fbin, Bin<float>({}, 4).substr(0, 4) + std::string("\4\0\0\0", 4));
  absl::StatusOr<std::unique_ptr<VectorReader>> r = VectorReader::Open(fbin);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->dim(), 4u);
  EXPECT_EQ((*r)->total_rows(), std::optional<uint64_t>(0));
  VectorBatch b;
  EXPECT_EQ((*r)->Next(10, &b).value(), 0u);
}

TEST(ReadersTest, RealGloveQueriesMatchTestUtilParse) {
  const std::string dir = testing_util::SharedDataDir();
  const std::string path = dir + "/glove100-wink/glove100_query_1k.fvecs";
  if (dir.empty() || !std::filesystem::exists(path)) {
    GTEST_SKIP() << "shared data absent: " << path;
  }
  // The reference: tests/test_util.h's own small fvecs parser.
  struct {
    std::vector<float> data;
    size_t rows = 0, dim = 0;
  } want;
  ASSERT_TRUE(testing_util::ReadVecs(path, &want.data, &want.rows, &want.dim));
  absl::StatusOr<std::unique_ptr<VectorReader>> r = VectorReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->total_rows(), std::optional<uint64_t>(want.rows));
  absl::StatusOr<AllRows> all = ReadAll(r->get(), 333);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->dim, want.dim);
  EXPECT_EQ(all->rows, want.rows);
  EXPECT_EQ(all->vectors, want.data);
}

// ---------------------------------------------------------------------------
// Errors: code, file name, row/line and what is wrong.

void ExpectError(const absl::Status& st, absl::StatusCode code,
                 const std::string& path,
                 const std::vector<std::string>& parts) {
  EXPECT_EQ(st.code(), code) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr(path));
  for (const std::string& p : parts) {
    EXPECT_THAT(std::string(st.message()), HasSubstr(p));
  }
}

TEST(ReadersErrorsTest, OpenAndFormat) {
  TempDir tmp;
  const std::string missing = tmp.File("missing.fvecs");
  ExpectError(OpenReadStatus(missing), absl::StatusCode::kNotFound, missing,
              {"cannot open"});
  const std::string unknown = tmp.File("x.parquet");
  WriteBytes(unknown, "abc");
  ExpectError(OpenReadStatus(unknown), absl::StatusCode::kInvalidArgument,
              unknown, {".parquet", ".fvecs", ".hdf5 .h5", "jsonl", "csv"});
  ReaderOptions bad;
  bad.format = "parquet";
  ExpectError(OpenReadStatus(unknown, bad), absl::StatusCode::kInvalidArgument,
              unknown, {"unknown format 'parquet'", "fvecs"});
  const std::string noext = tmp.File("noext");
  WriteBytes(noext, "abc");
  ExpectError(OpenReadStatus(noext), absl::StatusCode::kInvalidArgument, noext,
              {"extension"});
  const std::string dir = tmp.File("dir.fvecs");
  std::filesystem::create_directory(dir);
  ExpectError(OpenReadStatus(dir), absl::StatusCode::kInvalidArgument, dir,
              {"directory"});

  absl::StatusOr<std::unique_ptr<VectorReader>> r =
      VectorReader::Open(tmp.File("x.parquet"), {"csv"});
  ASSERT_TRUE(!r.ok());  // "abc": one field
  const std::string ok = tmp.File("ok.fvecs");
  WriteBytes(ok, Vecs<float>({1, 2}, 2));
  r = VectorReader::Open(ok);
  ASSERT_TRUE(r.ok());
  VectorBatch b;
  ExpectError((*r)->Next(0, &b).status(), absl::StatusCode::kInvalidArgument,
              ok, {"max_rows"});
}

TEST(ReadersErrorsTest, Vecs) {
  TempDir tmp;
  const std::vector<float> data = TestData(true, false);
  const std::string good = Vecs<float>(data, kDim);  // 24 bytes a row
  const std::string path = tmp.File("e.fvecs");

  WriteBytes(path, good.substr(0, 24 * 3 + 10));  // row 4 incomplete
  ExpectError(OpenReadStatus(path), absl::StatusCode::kDataLoss, path,
              {"row 4: incomplete (10 bytes of 24)"});

  WriteBytes(path, good.substr(0, 2));
  ExpectError(OpenReadStatus(path), absl::StatusCode::kDataLoss, path,
              {"row 1: incomplete"});

  WriteBytes(path, "");
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"empty file"});

  std::string wrong = good;
  wrong[24 * 2] = 6;  // row 3 says d = 6
  WriteBytes(path, wrong);
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"row 3: dimension 6, expected 5"});

  std::string nan = good;
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&nan[24 * 1 + 4 + 4 * 2], &qnan, 4);  // row 2, column 3
  WriteBytes(path, nan);
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"row 2 column 3: NaN"});

  std::string inf = good;
  const float minf = -std::numeric_limits<float>::infinity();
  std::memcpy(&inf[24 * 99 + 4], &minf, 4);  // last row, column 1
  WriteBytes(path, inf);
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"row 100 column 1: Inf"});

  for (int32_t d : {0, -1, static_cast<int32_t>(kMaxDim) + 1,
                    std::numeric_limits<int32_t>::max()}) {
    std::string huge;
    Append<int32_t>(&huge, d);
    Append<float>(&huge, 1.0f);
    WriteBytes(path, huge);
    ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
                {"row 1: dimension ", "out of range"});
  }

  const std::string bvecs = tmp.File("e.bvecs");
  WriteBytes(bvecs, Vecs<uint8_t>(TestData(false, true), kDim).substr(0, 50));
  ExpectError(OpenReadStatus(bvecs), absl::StatusCode::kDataLoss, bvecs,
              {"row 6: incomplete (5 bytes of 9)"});

  // ivecs: int32 values are not checked for finiteness, but the structure is.
  const std::string ivecs = tmp.File("e.ivecs");
  std::string iv = Vecs<int32_t>(TestData(false, false), kDim);
  iv[24 * 7] = 4;
  WriteBytes(ivecs, iv);
  ExpectError(OpenReadStatus(ivecs), absl::StatusCode::kInvalidArgument, ivecs,
              {"row 8: dimension 4, expected 5"});
}

TEST(ReadersErrorsTest, Bin) {
  TempDir tmp;
  const std::vector<float> data = TestData(true, false);
  const std::string good = Bin<float>(data, kDim);  // 8 + 100 * 20 bytes
  const std::string path = tmp.File("e.fbin");

  WriteBytes(path, good.substr(0, 8 + 20 * 42 + 3));
  ExpectError(
      OpenReadStatus(path), absl::StatusCode::kDataLoss, path,
      {"file size 851 bytes", "need 2008 bytes", "row 43 is incomplete"});

  WriteBytes(path, good + "xy");
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"2 trailing bytes"});

  WriteBytes(path, good.substr(0, 5));
  ExpectError(OpenReadStatus(path), absl::StatusCode::kDataLoss, path,
              {"incomplete header"});

  // A header claiming 2^32-1 rows over a tiny file: an error, no allocation.
  std::string claim = good.substr(0, 8 + 40);
  const uint32_t n = std::numeric_limits<uint32_t>::max();
  std::memcpy(&claim[0], &n, 4);
  WriteBytes(path, claim);
  ExpectError(OpenReadStatus(path), absl::StatusCode::kDataLoss, path,
              {"4294967295 rows", "row 3 is incomplete"});

  std::string huge_d = good;
  const uint32_t d = uint32_t{1} << 31;
  std::memcpy(&huge_d[4], &d, 4);
  WriteBytes(path, huge_d);
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"dimension 2147483648 is out of range"});

  std::string nan = good;
  const float inf = std::numeric_limits<float>::infinity();
  std::memcpy(&nan[8 + 20 * 57 + 4 * 4], &inf, 4);
  WriteBytes(path, nan);
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"row 58 column 5: Inf"});

  const std::string u8 = tmp.File("e.u8bin");
  WriteBytes(u8, Bin<uint8_t>(TestData(false, true), kDim).substr(0, 30));
  ExpectError(OpenReadStatus(u8), absl::StatusCode::kDataLoss, u8,
              {"row 5 is incomplete"});
}

TEST(ReadersErrorsTest, Npy) {
  TempDir tmp;
  const std::vector<float> data = TestData(true, false);
  const std::string path = tmp.File("e.npy");
  auto check = [&](const std::string& bytes, absl::StatusCode code,
                   const std::vector<std::string>& parts) {
    WriteBytes(path, bytes);
    ExpectError(OpenReadStatus(path), code, path, parts);
  };
  check(Npy(NpyDict("<f4", kRows, kDim, true), Raw<float>(data)),
        absl::StatusCode::kInvalidArgument, {"fortran_order"});
  check(Npy(NpyDict(">f4", kRows, kDim), Raw<float>(data)),
        absl::StatusCode::kInvalidArgument, {"big-endian dtype '>f4'"});
  check(Npy(NpyDict("<i4", kRows, kDim), Raw<float>(data)),
        absl::StatusCode::kInvalidArgument, {"unsupported dtype '<i4'"});
  check(Npy("{'descr': [('a', '<f4')], 'fortran_order': False, "
            "'shape': (100, 5), }",
            Raw<float>(data)),
        absl::StatusCode::kInvalidArgument, {"structured"});
  check(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100, 5, 1), }",
            Raw<float>(data)),
        absl::StatusCode::kInvalidArgument, {"(100, 5, 1) is not 2-D"});
  check(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (500,), }",
            Raw<float>(data)),
        absl::StatusCode::kInvalidArgument, {"(500) is not 2-D"});
  check(Npy("{'descr': '<f4', 'fortran_order': False}", Raw<float>(data)),
        absl::StatusCode::kInvalidArgument, {"missing 'shape'"});
  check(Npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 1)}", ""),
        absl::StatusCode::kInvalidArgument, {"True or False"});
  check(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), "
            "'extra': 1}",
            ""),
        absl::StatusCode::kInvalidArgument, {"unexpected key 'extra'"});
  check("PK\3\4 this is a zip", absl::StatusCode::kInvalidArgument,
        {"not a .npy file"});
  check(Npy(NpyDict("<f4", kRows, kDim), Raw<float>(data)).substr(0, 30),
        absl::StatusCode::kDataLoss, {"incomplete npy header"});
  check(Npy(NpyDict("<f4", kRows, kDim), Raw<float>(data))
            .substr(0, Npy(NpyDict("<f4", kRows, kDim), "").size() + 30),
        absl::StatusCode::kDataLoss, {"row 2 is incomplete"});
  check(Npy(NpyDict("<f4", uint64_t{1} << 62, kDim), Raw<float>(data)),
        absl::StatusCode::kDataLoss, {"4611686018427387904 rows", "need"});
  check(Npy(NpyDict("<f4", kRows, 70000), Raw<float>(data)),
        absl::StatusCode::kInvalidArgument,
        {"dimension 70000 is out of range"});
  std::string v9 = Npy(NpyDict("<f4", kRows, kDim), Raw<float>(data));
  v9[6] = 9;
  check(v9, absl::StatusCode::kInvalidArgument, {"version 9.0"});

  std::vector<double> big(data.begin(), data.end());
  big[7 * kDim + 1] = 1e300;
  check(Npy(NpyDict("<f8", kRows, kDim), Raw<double>(big)),
        absl::StatusCode::kInvalidArgument,
        {"row 8 column 2: value 1e+300 overflows float32"});
  big[7 * kDim + 1] = -std::numeric_limits<double>::infinity();
  check(Npy(NpyDict("<f8", kRows, kDim), Raw<double>(big)),
        absl::StatusCode::kInvalidArgument, {"row 8 column 2: Inf"});
}

TEST(ReadersErrorsTest, Hdf5) {
  TempDir tmp;
  const std::vector<float> data = TestData(true, false);
  const std::vector<int32_t> ints(kRows * kDim, 3);
  const std::string path = tmp.File("e.hdf5");
  WriteHdf5(
      path,
      {{"test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kRows, kDim}, data.data()},
       {"flat", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kRows * kDim}, data.data()},
       {"neighbors",
        H5T_STD_I32LE,
        H5T_NATIVE_INT32,
        {kRows, kDim},
        ints.data()}});
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"no dataset 'train'", "flat, neighbors, test"});
  ReaderOptions o;
  o.hdf5_dataset = "flat";
  ExpectError(OpenReadStatus(path, o), absl::StatusCode::kInvalidArgument, path,
              {"dataset 'flat' is 1-D"});
  o.hdf5_dataset = "neighbors";
  ExpectError(
      OpenReadStatus(path, o), absl::StatusCode::kInvalidArgument, path,
      {"dataset 'neighbors'", "integer of 4 bytes", "need float32 or float64"});
  o.hdf5_dataset = "a/b/c";
  ExpectError(OpenReadStatus(path, o), absl::StatusCode::kInvalidArgument, path,
              {"no dataset 'a/b/c'"});

  std::vector<float> nan = data;
  nan[41 * kDim + 4] = std::numeric_limits<float>::quiet_NaN();
  WriteHdf5(
      path,
      {{"train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kRows, kDim}, nan.data()}});
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"dataset 'train' row 42 column 5: NaN"});

  std::vector<double> big(data.begin(), data.end());
  big[3] = -1e40;
  WriteHdf5(path, {{"train",
                    H5T_IEEE_F64LE,
                    H5T_NATIVE_DOUBLE,
                    {kRows, kDim},
                    big.data()}});
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"row 1 column 4: value -1e+40 overflows float32"});

  WriteHdf5(
      path,
      {{"train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kRows, kDim}, nullptr}});
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"dataset 'train' has 100 rows but no stored data"});

  const std::string junk = tmp.File("junk.h5");
  WriteBytes(junk, "not hdf5 at all");
  ExpectError(OpenReadStatus(junk), absl::StatusCode::kInvalidArgument, junk,
              {"not a readable HDF5 file"});
  ExpectError(OpenReadStatus(tmp.File("none.h5")), absl::StatusCode::kNotFound,
              tmp.File("none.h5"), {});
}

TEST(ReadersErrorsTest, Jsonl) {
  TempDir tmp;
  const std::string path = tmp.File("e.jsonl");
  auto check = [&](const std::string& text, absl::StatusCode code,
                   const std::vector<std::string>& parts) {
    WriteBytes(path, text);
    ExpectError(OpenReadStatus(path), code, path, parts);
  };
  const std::string r1 = "{\"vector\": [1, 2.5e-1, -3E2]}\n";
  check(r1 + "\n" + r1 + "{\"vector\": [1, 2, }\n",
        absl::StatusCode::kInvalidArgument,
        {"line 4: unparsable JSON: ", "parse error"});
  check(r1 + r1 + "{\"vector\": [1, 2]}\n", absl::StatusCode::kInvalidArgument,
        {"line 3: dimension 2, expected 3"});
  check(r1 + "{\"vector\": [1, \"2\", 3]}\n",
        absl::StatusCode::kInvalidArgument, {"line 2 column 2: not a number"});
  check(r1 + "{\"vector\": [1, 2, 1e39]}\n", absl::StatusCode::kInvalidArgument,
        {"line 2 column 3: value 1e+39 overflows float32"});
  check("{\"id\": -4, \"vector\": [1]}\n", absl::StatusCode::kInvalidArgument,
        {"line 1: \"id\" -4 is not an unsigned 64-bit integer"});
  check("{\"id\": 4.5, \"vector\": [1]}\n", absl::StatusCode::kInvalidArgument,
        {"line 1: \"id\" 4.5 is not an unsigned"});
  check("{\"id\": 18446744073709551616, \"vector\": [1]}\n",
        absl::StatusCode::kInvalidArgument, {"line 1: \"id\"", "unsigned"});
  check("{\"id\": \"7\", \"vector\": [1]}\n",
        absl::StatusCode::kInvalidArgument, {"line 1: \"id\" \"7\" is not"});
  check("{\"id\": 1, \"vector\": [1]}\n\n{\"vector\": [1]}\n",
        absl::StatusCode::kInvalidArgument,
        {"line 3: has no \"id\" but the first row (line 1) has one"});
  check("{\"vector\": [1]}\n{\"id\": 2, \"vector\": [1]}\n",
        absl::StatusCode::kInvalidArgument,
        {"line 2: has an \"id\" but the first row (line 1) has none"});
  check("{\"vec\": [1]}\n", absl::StatusCode::kInvalidArgument,
        {"line 1: no \"vector\" field"});
  check("[1, 2]\n", absl::StatusCode::kInvalidArgument,
        {"line 1: not a JSON object"});
  check("{\"vector\": 3}\n", absl::StatusCode::kInvalidArgument,
        {"line 1: \"vector\" is not an array"});
  check("{\"vector\": []}\n", absl::StatusCode::kInvalidArgument,
        {"line 1: dimension 0 is out of range"});
  check("\n  \n", absl::StatusCode::kInvalidArgument, {"no data rows"});
  check("", absl::StatusCode::kInvalidArgument, {"no data rows"});
  check(r1 + "{\"vector\": [1, 2, 3], \"payload\": " + std::string(1000, '[') +
            std::string(1000, ']') + "}\n",
        absl::StatusCode::kInvalidArgument, {"line 2: JSON nested deeper"});
  check(r1 + "{\"vector\": [1, 2, NaN]}\n", absl::StatusCode::kInvalidArgument,
        {"line 2: unparsable JSON"});
  check(r1 + "{\"vector\": [1, 2, 3]} trailing\n",
        absl::StatusCode::kInvalidArgument, {"line 2: unparsable JSON"});
  check(r1 + "{\"vector\": [1, 2, 3], \"payload\": \"\xff\"}\n",
        absl::StatusCode::kInvalidArgument, {"line 2: unparsable JSON"});
  const std::string sv = "{\"vector\": [1, 2, 3], \"sparse_vector\": ";
  check(r1 + sv + "[1]}\n", absl::StatusCode::kInvalidArgument,
        {"line 2: \"sparse_vector\" is not an object"});
  check(r1 + sv + "{\"indices\": [1]}}\n", absl::StatusCode::kInvalidArgument,
        {"line 2: \"sparse_vector\" needs the arrays"});
  check(r1 + sv + "{\"indices\": [1, 2], \"values\": [1]}}\n",
        absl::StatusCode::kInvalidArgument,
        {"line 2: \"sparse_vector\" has 2 indices and 1 values"});
  check(r1 + sv + "{\"indices\": [4294967296], \"values\": [1]}}\n",
        absl::StatusCode::kInvalidArgument,
        {"line 2: \"sparse_vector\" index 0 (4294967296) is not an integer"});
  check(r1 + sv + "{\"indices\": [1, 2], \"values\": [1, 1e39]}}\n",
        absl::StatusCode::kInvalidArgument,
        {"line 2: \"sparse_vector\" value 1 (1e+39) is not a finite float32"});
}

TEST(ReadersTest, JsonlSparseVectors) {
  TempDir tmp;
  const std::string path = tmp.File("s.jsonl");
  WriteBytes(path,
             "{\"vector\": [1, 2], \"sparse_vector\": {\"indices\": [9, 4], "
             "\"values\": [0.5, 2]}}\n"
             "{\"vector\": [3, 4]}\n");
  auto r = VectorReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  VectorBatch b;
  auto n = (*r)->Next(10, &b);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 2u);
  ASSERT_EQ(b.sparse_indices.size(), 2u);
  EXPECT_EQ(b.sparse_indices[0], (std::vector<uint32_t>{9, 4}));
  EXPECT_EQ(b.sparse_values[0], (std::vector<float>{0.5f, 2.0f}));
  EXPECT_TRUE(b.sparse_indices[1].empty());
  EXPECT_TRUE(b.sparse_values[1].empty());
}

TEST(ReadersErrorsTest, Csv) {
  TempDir tmp;
  const std::string path = tmp.File("e.csv");
  auto check = [&](const std::string& text, absl::StatusCode code,
                   const std::vector<std::string>& parts) {
    WriteBytes(path, text);
    ExpectError(OpenReadStatus(path), code, path, parts);
  };
  check("id,x,y\n1,0.5,2\n2,1.5x,3\n", absl::StatusCode::kInvalidArgument,
        {"line 3 column 2: bad number \"1.5x\""});
  check("1,0.5,2\n\n2,3,\n", absl::StatusCode::kInvalidArgument,
        {"line 3 column 3: bad number \"\""});
  check("1,0.5,2\n2,nan,3\n", absl::StatusCode::kInvalidArgument,
        {"line 2 column 2: NaN"});
  check("1,0.5,2\n2,3,-inf\n", absl::StatusCode::kInvalidArgument,
        {"line 2 column 3: Inf"});
  check("1,0.5,2\n2,3,1e39\n", absl::StatusCode::kInvalidArgument,
        {"line 2 column 3: number \"1e39\" overflows float32"});
  check("1,0.5,2\n2,3\n", absl::StatusCode::kInvalidArgument,
        {"line 2: 2 fields, expected 3"});
  check("1,0.5,2\n-2,3,4\n", absl::StatusCode::kInvalidArgument,
        {"line 2 column 1: id \"-2\" is not an unsigned 64-bit integer"});
  check("1,0.5,2\n18446744073709551616,3,4\n",
        absl::StatusCode::kInvalidArgument, {"line 2 column 1: id"});
  check("1,0.5,2\n\"2\",3,4\n", absl::StatusCode::kInvalidArgument,
        {"line 2 column 1: id \"\"2\"\""});
  check("1,0x10,2\n", absl::StatusCode::kInvalidArgument,
        {"line 1 column 2: bad number \"0x10\""});
  check("id,a,b\n", absl::StatusCode::kInvalidArgument,
        {"no data rows after the header"});
  check("id,a,b\n1,2\n", absl::StatusCode::kInvalidArgument,
        {"line 2: 2 fields, but the header (line 1) has 3"});
  check("17\n", absl::StatusCode::kInvalidArgument, {"line 1: 1 field"});

  // Locale-independent numbers, blanks around fields, '+', exponents,
  // underflow to a subnormal/zero.
  WriteBytes(path, "7, +1.5e1 ,\t-2.5E-1,1e-40,1e-50\r\n");
  absl::StatusOr<AllRows> all = OpenAndReadAll(path);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->ids, std::vector<uint64_t>{7});
  EXPECT_EQ(all->vectors, (std::vector<float>{15.0f, -0.25f, 1e-40f, 0.0f}));
}

TEST(ReadersIdTest, TextAndNpy) {
  TempDir tmp;
  const std::string text = tmp.File("ids.txt");
  std::string t;
  for (int i = 0; i < 20; ++i) absl::StrAppend(&t, " ", 100 + i, "\r\n");
  WriteBytes(text, t + "18446744073709551615\n");
  absl::StatusOr<std::unique_ptr<IdReader>> r = IdReader::Open(text);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->total(), std::nullopt);
  std::vector<uint64_t> ids;
  ASSERT_TRUE((*r)->Skip(3).ok());
  ASSERT_EQ((*r)->Next(7, &ids).value(), 7u);
  EXPECT_EQ(ids.front(), 103u);
  EXPECT_EQ(ids.back(), 109u);
  ASSERT_EQ((*r)->Next(100, &ids).value(), 11u);
  EXPECT_EQ(ids.back(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ((*r)->Next(100, &ids).value(), 0u);
  EXPECT_EQ((*r)->Skip(1).code(), absl::StatusCode::kInvalidArgument);

  WriteBytes(text, "1\n2\n\n4\n");
  r = IdReader::Open(text);
  ASSERT_TRUE(r.ok());
  ExpectError((*r)->Next(10, &ids).status(), absl::StatusCode::kInvalidArgument,
              text, {"line 3: blank line"});
  WriteBytes(text, "1\n2\n-3\n");
  r = IdReader::Open(text);
  ASSERT_TRUE(r.ok());
  ExpectError((*r)->Next(10, &ids).status(), absl::StatusCode::kInvalidArgument,
              text, {"line 3: id \"-3\" is not an unsigned 64-bit integer"});

  const std::string npy = tmp.File("ids.npy");
  std::string raw;
  for (int64_t i = 0; i < 10; ++i) Append<int64_t>(&raw, 50 + i);
  WriteBytes(npy, Npy("{'descr': '<i8', 'fortran_order': False, "
                      "'shape': (10,), }",
                      raw));
  r = IdReader::Open(npy);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->total(), std::optional<uint64_t>(10));
  ASSERT_TRUE((*r)->Skip(4).ok());
  ASSERT_EQ((*r)->Next(100, &ids).value(), 6u);
  EXPECT_EQ(ids, (std::vector<uint64_t>{54, 55, 56, 57, 58, 59}));

  raw.clear();
  for (int32_t v : {1, 2, -3}) Append<int32_t>(&raw, v);
  WriteBytes(npy, Npy("{'descr': '<i4', 'fortran_order': False, "
                      "'shape': (3, 1), }",
                      raw));
  r = IdReader::Open(npy);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectError((*r)->Next(10, &ids).status(), absl::StatusCode::kInvalidArgument,
              npy, {"row 3: negative id -3"});
  WriteBytes(npy, Npy("{'descr': '<f4', 'fortran_order': False, "
                      "'shape': (3,), }",
                      raw));
  ExpectError(IdReader::Open(npy).status(), absl::StatusCode::kInvalidArgument,
              npy, {"unsupported dtype '<f4'", "<i8"});
  WriteBytes(npy, Npy("{'descr': '<u4', 'fortran_order': False, "
                      "'shape': (3, 2), }",
                      raw));
  ExpectError(IdReader::Open(npy).status(), absl::StatusCode::kInvalidArgument,
              npy, {"(3, 2) is not (n,) or (n, 1)"});
}

TEST(ReadersPayloadTest, LinesAreCompactJson) {
  TempDir tmp;
  const std::string path = tmp.File("p.jsonl");
  WriteBytes(path,
             "{ \"a\" : [1, 2.50, \"x\\u00e9\"] }\n\n  \"text\"  \r\n"
             "null\n123\n{\"nested\": {\"b\": true}}");
  absl::StatusOr<std::unique_ptr<PayloadReader>> r = PayloadReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> p;
  ASSERT_EQ((*r)->Next(3, &p).value(), 3u);
  EXPECT_EQ(p, (std::vector<std::string>{"{\"a\":[1,2.5,\"x\xc3\xa9\"]}", "",
                                         "\"text\""}));
  ASSERT_TRUE((*r)->Skip(2).ok());
  ASSERT_EQ((*r)->Next(3, &p).value(), 1u);
  EXPECT_EQ(p, (std::vector<std::string>{"{\"nested\":{\"b\":true}}"}));
  EXPECT_EQ((*r)->Next(3, &p).value(), 0u);

  WriteBytes(path, "1\n2\n{bad}\n");
  r = PayloadReader::Open(path);
  ASSERT_TRUE(r.ok());
  ExpectError((*r)->Next(10, &p).status(), absl::StatusCode::kInvalidArgument,
              path, {"line 3: unparsable JSON: ", "parse error"});
  ExpectError(PayloadReader::Open(tmp.File("none")).status(),
              absl::StatusCode::kNotFound, tmp.File("none"), {});
}

TEST(ReadersTest, LongLinesAreErrorsNotAllocations) {
  TempDir tmp;
  const std::string path = tmp.File("long.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out << "1,";
    const std::string chunk(1 << 20, '1');
    for (size_t i = 0; i <= kMaxLineBytes >> 20; ++i) out << chunk;
    out << "\n";
  }
  ExpectError(OpenReadStatus(path), absl::StatusCode::kInvalidArgument, path,
              {"line 1: longer than"});
}

// ---------------------------------------------------------------------------
// Whole files (tools/io/matrix.h).

TEST(ReadersMatrixTest, WholeFileAndFirstRows) {
  TempDir tmp;
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};  // 3 rows of 2
  const std::string path = tmp.File("m.fvecs");
  WriteBytes(path, Vecs<float>(data, 2));
  absl::StatusOr<FloatMatrix> all = ReadFloatMatrix(path);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->rows, 3u);
  EXPECT_EQ(all->dim, 2u);
  EXPECT_EQ(all->data, data);
  absl::StatusOr<FloatMatrix> two = ReadFloatMatrix(path, 2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->rows, 2u);
  EXPECT_EQ(two->row(1)[0], 3.0f);
  EXPECT_EQ(two->data, std::vector<float>(data.begin(), data.begin() + 4));
  // Any format the readers read: by extension, or forced.
  const std::string npy = tmp.File("m.npy");
  WriteBytes(npy, Npy(NpyDict("<f8", 3, 2), Raw<double>(data)));
  absl::StatusOr<FloatMatrix> from_npy = ReadFloatMatrix(npy);
  ASSERT_TRUE(from_npy.ok()) << from_npy.status();
  EXPECT_EQ(from_npy->data, data);
  const std::string odd = tmp.File("m.data");
  WriteBytes(odd, Vecs<float>(data, 2));
  ReaderOptions fvecs;
  fvecs.format = "fvecs";
  absl::StatusOr<FloatMatrix> forced = ReadFloatMatrix(odd, 0, fvecs);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->data, data);
  ExpectError(ReadFloatMatrix(odd).status(), absl::StatusCode::kInvalidArgument,
              odd, {"unknown extension"});
}

TEST(ReadersMatrixTest, IntMatrixIsExact) {
  TempDir tmp;
  // Above 2^24 a float would round these.
  const std::vector<int32_t> ids = {16777217, 2147483647, -5, 0, 33554435, 7};
  std::string bytes;
  for (size_t i = 0; i < ids.size(); i += 3) {
    Append<int32_t>(&bytes, 3);
    for (size_t j = i; j < i + 3; ++j) Append<int32_t>(&bytes, ids[j]);
  }
  const std::string path = tmp.File("gt.ivecs");
  WriteBytes(path, bytes);
  absl::StatusOr<IntMatrix> all = ReadIntMatrix(path);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->rows, 2u);
  EXPECT_EQ(all->dim, 3u);
  EXPECT_EQ(all->data, ids);
  EXPECT_EQ(all->row(1)[2], 7);
  absl::StatusOr<IntMatrix> one = ReadIntMatrix(path, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->rows, 1u);
  EXPECT_EQ(one->data, std::vector<int32_t>(ids.begin(), ids.begin() + 3));
}

TEST(ReadersMatrixTest, ErrorsNameTheFileAndRow) {
  TempDir tmp;
  const std::string missing = tmp.File("missing.ivecs");
  ExpectError(ReadIntMatrix(missing).status(), absl::StatusCode::kNotFound,
              missing, {"cannot open"});
  ExpectError(ReadFloatMatrix(missing + ".fvecs").status(),
              absl::StatusCode::kNotFound, missing + ".fvecs", {});
  const std::string truncated = tmp.File("t.ivecs");
  WriteBytes(truncated, Vecs<int32_t>({1, 2, 3, 4}, 2).substr(0, 20));
  ExpectError(ReadIntMatrix(truncated).status(), absl::StatusCode::kDataLoss,
              truncated, {"row 2: incomplete"});
  // The first row is all that is asked for: the bad tail is not reached.
  EXPECT_TRUE(ReadIntMatrix(truncated, 1).ok());
  const std::string other_dim = tmp.File("o.fvecs");
  WriteBytes(other_dim, Vecs<float>({1, 2}, 2) + Vecs<float>({1, 2, 3}, 3));
  ExpectError(ReadFloatMatrix(other_dim).status(),
              absl::StatusCode::kInvalidArgument, other_dim,
              {"row 2: dimension 3, expected 2"});
  const std::string empty = tmp.File("e.fbin");
  WriteBytes(empty,
             Bin<float>({}, 4).substr(0, 4) + std::string("\4\0\0\0", 4));
  ExpectError(ReadFloatMatrix(empty).status(),
              absl::StatusCode::kInvalidArgument, empty, {"no rows"});
  const std::string nan = tmp.File("nan.fvecs");
  WriteBytes(nan, Vecs<float>({1, std::nanf("")}, 2));
  ExpectError(ReadFloatMatrix(nan).status(), absl::StatusCode::kInvalidArgument,
              nan, {"row 1 column 2: NaN"});
}

}  // namespace
}  // namespace tqdb
