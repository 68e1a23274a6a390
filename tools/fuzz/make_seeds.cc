// Writes the fuzzers' seed corpus (tiny valid files of every format) into
// DIR/<fuzzer>/. Usage: make_seeds DIR. The output is checked in under
// tools/fuzz/corpus/; rerun only to change the seeds.
#include <hdf5.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

std::string dir;

void Put(const std::string& fuzzer, const std::string& name,
         const std::string& bytes) {
  const std::string d = dir + "/" + fuzzer;
  mkdir(d.c_str(), 0755);
  FILE* f = std::fopen((d + "/" + name).c_str(), "wb");
  if (f == nullptr) {
    std::perror(name.c_str());
    std::exit(1);
  }
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

template <typename T>
void Append(std::string* s, T v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

std::string Npy(const std::string& dict, const std::string& raw, int major) {
  const size_t pre = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((pre + header.size() + 1) % 16 != 0) header += ' ';
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

std::string Hdf5(bool chunked, bool f64) {
  const std::string path = dir + "/tmp.hdf5";
  const hid_t file =
      H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[2] = {3, 4};
  const float data[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    const hsize_t chunk[2] = {2, 4};
    H5Pset_chunk(dcpl, 2, chunk);
  }
  const hid_t ds =
      H5Dcreate2(file, "train", f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, space,
                 H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(file);
  FILE* f = std::fopen(path.c_str(), "rb");
  std::string bytes;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
  std::fclose(f);
  std::remove(path.c_str());
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  dir = argv[1];
  mkdir(dir.c_str(), 0755);
  const float v[12] = {0.5f, -1.25f, 3e-3f, 7, 1e10f, -0.f,
                       2,    3,      4,     5, 6,     1.5f};

  std::string fvecs, bvecs;
  for (int r = 0; r < 3; ++r) {
    Append<int32_t>(&fvecs, 4);
    Append<int32_t>(&bvecs, 4);
    for (int j = 0; j < 4; ++j) {
      Append<float>(&fvecs, v[r * 4 + j]);
      Append<uint8_t>(&bvecs, static_cast<uint8_t>(r * 40 + j));
    }
  }
  Put("fvecs", "3x4.fvecs", fvecs);
  Put("bvecs", "3x4.bvecs", bvecs);

  std::string fbin;
  Append<uint32_t>(&fbin, 3);
  Append<uint32_t>(&fbin, 4);
  for (float x : v) Append<float>(&fbin, x);
  Put("fbin", "3x4.fbin", fbin);

  std::string f4, f2, u1, f8;
  for (float x : v) {
    Append<float>(&f4, x);
    Append<double>(&f8, x);
  }
  for (uint16_t h : {0x0001, 0x03ff, 0x3c00, 0x7bff, 0xfbff, 0x8000}) {
    Append<uint16_t>(&f2, h);
  }
  for (int i = 0; i < 6; ++i) Append<uint8_t>(&u1, static_cast<uint8_t>(i));
  Put("npy", "f4_v1.npy",
      Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", f4,
          1));
  Put("npy", "f2_v1.npy",
      Npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", f2,
          1));
  Put("npy", "u1_v3.npy",
      Npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2), }", u1,
          3));
  Put("npy", "f8_v2.npy",
      Npy("{\"descr\": \"<f8\", \"shape\": (3, 4), \"fortran_order\": False}",
          f8, 2));

  // hdf5_raw_fuzzer takes file bytes; hdf5_fuzzer takes choices (any bytes).
  Put("hdf5_raw", "f4.hdf5", Hdf5(false, false));
  Put("hdf5_raw", "f8_chunked.hdf5", Hdf5(true, true));
  Put("hdf5", "zeros", std::string(16, '\0'));
  Put("hdf5", "floats", fbin + std::string("\0\0\3\0\0\0\5\0", 8));

  Put("jsonl", "ids_payloads.jsonl",
      "{\"id\": 1, \"vector\": [0.5, -1.25e-3, 7], \"payload\": {\"a\": "
      "[1, \"x\\u00e9\\n\", null, true]}}\n"
      "\n"
      "{\"id\": 18446744073709551615, \"vector\": [1E2, 0, -0.0]}\r\n");
  Put("jsonl", "plain.jsonl",
      "{\"vector\": [1, 2]}\n{\"vector\": [3, 4], \"payload\": \"s\"}\n");

  Put("csv", "header.csv", "id,a,b,c\n1,0.5,-1.25e-3,7\n\n2, 1E2 ,0,-0.0\r\n");
  Put("csv", "plain.csv", "7,1,2\n8,3,4");

  std::string npy_ids;
  for (int64_t i : {5, 6, 7}) Append<int64_t>(&npy_ids, i);
  Put("ids", "text", std::string("\0", 1) + "1\n 2 \r\n18446744073709551615\n");
  Put("ids", "npy",
      "\1" + Npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                 npy_ids, 1));

  Put("payload", "lines.jsonl",
      "{\"a\": [1, 2.5e3, \"\\\"q\\\"\"]}\n\nnull\n\"text\"\n[{}, []]\n");
  return 0;
}
