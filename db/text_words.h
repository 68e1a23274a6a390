// How full-text conditions (match.text, match.text_any: db/filter.h) and
// text payload indexes cut strings into words: one tokenizer for both, so
// that a condition answers the same with or without an index.
//
// A word is a maximal run of word characters: ASCII letters and digits, and
// every code point from U+00C0 on except the blocks of punctuation, symbols
// and spaces listed in text_words.cc (accented Latin, Greek, Cyrillic,
// Arabic, CJK, ... letters, digits and combining marks are word
// characters). Everything else separates words: ASCII punctuation, spaces
// and controls, the underscore, Latin-1 symbols (U+0080-U+00BF, x, /),
// General Punctuation (dashes, quotes, zero-width spaces), arrows, math and
// technical symbols, box drawing, dingbats, CJK and fullwidth punctuation,
// private use, emoji, and bytes that are not UTF-8.
// Words are case folded: ASCII, Latin-1 and Latin Extended-A capitals,
// Greek (final sigma too) and Cyrillic capitals become small; other
// scripts' cases are kept, and there is no Unicode normalization ("e" +
// U+0301 and U+00E9 differ), no stemming and no stop words. Scripts written
// without spaces (CJK) give one word a run. A word longer than
// kMaxWordBytes keeps its first kMaxWordBytes bytes (on a character
// boundary), the same in texts and in queries.
//
// Thread-safe: pure functions.
#ifndef TQDB_DB_TEXT_WORDS_H_
#define TQDB_DB_TEXT_WORDS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tqdb {

constexpr size_t kMaxWordBytes = 128;

// Appends the words of `text` to *out, in text order, repeats included.
void AppendTextWords(absl::string_view text, std::vector<std::string>* out);
// The distinct words of `text`, sorted (bytewise).
std::vector<std::string> TextWords(absl::string_view text);

}  // namespace tqdb

#endif  // TQDB_DB_TEXT_WORDS_H_
