// libFuzzer entry point: the fbin reader (see fuzz_util.h).
#include "tools/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tqdb::fuzz::FuzzVectorReader(data, size, "fbin", ".fbin");
}
