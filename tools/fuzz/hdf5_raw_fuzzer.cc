// libFuzzer entry point: the hdf5 reader on raw file bytes (see
// fuzz_util.h). NOT run by tools/fuzz.sh by default (TQDB_FUZZ_ALL=1 does):
// Debian's libhdf5 1.10.8 itself crashes on some corrupt files within
// seconds (e.g. libhdf5_crashes/segv_H5F__accum_read.hdf5 segfaults in a
// plain H5Fopen + H5Dopen2 program), which tqdb cannot fix; hdf5_fuzzer.cc
// fuzzes tqdb's side on well-formed files instead.
#include <hdf5.h>

#include "tools/fuzz/fuzz_util.h"

// libhdf5 (not instrumented, not ours) sizes some buffers from the file's
// metadata: on a corrupt file it may ask malloc for terabytes, gets NULL and
// reports an error. ASan's default is to abort on such requests instead;
// let malloc fail as it does in production. libhdf5 1.10.8 also leaks
// small blocks on some corrupt files even with every handle closed (a bare
// H5Fopen + H5Dopen2 + close reproduces it), so leak detection is off here;
// the check below still proves the reader closes everything it opens.
// hdf5.supp silences reports from memcpy & co. called inside libhdf5 (see
// there why).
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:detect_leaks=0:"
         "suppressions=" TQDB_FUZZ_DIR "/hdf5.supp";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tqdb::fuzz::FuzzVectorReader(data, size, "hdf5", ".hdf5");
  // The reader closed every HDF5 object it opened, whatever happened.
  tqdb::fuzz::Check(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0,
                    "HDF5 objects left open");
  return 0;
}
