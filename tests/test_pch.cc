// The host of the test executables' shared precompiled header
// (tests/CMakeLists.txt, tqdb_test_pch): CMake builds a header's PCH as part
// of a target with a source, and every tqdb_add_test reuses it.
