// libFuzzer entry point: the fvecs reader (see fuzz_util.h).
#include "tools/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tqdb::fuzz::FuzzVectorReader(data, size, "fvecs", ".fvecs");
}
