// libFuzzer entry point: the --payload reader (see fuzz_util.h).
#include "tools/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tqdb::fuzz::FuzzPayloadReader(data, size);
}
