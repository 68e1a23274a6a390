// User input quoted in an error message, capped: an error says which name
// (or value) it refuses without repeating a 10,000-character one, whose echo
// (once per layer of context) used to outgrow gRPC's metadata limit and
// reach the client as RESOURCE_EXHAUSTED instead of the error.
//
//   absl::StrCat("collection '", EchoInput(name), "' not found")
//     -> "collection 'nnnnnnnn...nnnn... (10000 bytes)' not found"
//
// Input of at most kMaxEcho bytes comes back unchanged; longer input as its
// first kMaxEcho bytes (cut at a UTF-8 character boundary), "..." and its
// length. Thread-safe (a pure function).
#ifndef TQDB_QUANT_ECHO_H_
#define TQDB_QUANT_ECHO_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tqdb {

inline constexpr size_t kMaxEcho = 64;

inline std::string EchoInput(absl::string_view in) {
  if (in.size() <= kMaxEcho) return std::string(in);
  size_t cut = kMaxEcho;
  // Back up over UTF-8 continuation bytes (10xxxxxx) to a character start.
  while (cut > 0 && (static_cast<unsigned char>(in[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat(in.substr(0, cut), "... (", in.size(), " bytes)");
}

}  // namespace tqdb

#endif  // TQDB_QUANT_ECHO_H_
