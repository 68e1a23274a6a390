// libFuzzer entry point: the --ids reader, text and npy (see fuzz_util.h).
// The first input byte picks the flavour (odd: .npy); the rest is the file.
#include "tools/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  return tqdb::fuzz::FuzzIdReader(data + 1, size - 1,
                                  (data[0] & 1) ? ".npy" : ".txt");
}
