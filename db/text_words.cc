#include "db/text_words.h"

#include <algorithm>
#include <cstdint>

namespace tqdb {
namespace {

constexpr uint32_t kInvalid = 0xFFFFFFFF;

// The code point at text[*i] (advancing *i past it), or kInvalid for a
// byte that does not start a well-formed UTF-8 sequence (advancing one
// byte).
uint32_t NextCodePoint(absl::string_view text, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(*i);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  size_t n;
  uint32_t cp, min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++*i;
    return kInvalid;
  }
  if (*i + n > text.size()) {
    ++*i;
    return kInvalid;
  }
  for (size_t k = 1; k < n; ++k) {
    const uint8_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return kInvalid;
    }
    cp = cp << 6 | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return kInvalid;
  }
  *i += n;
  return cp;
}

bool Between(uint32_t cp, uint32_t lo, uint32_t hi) {
  return cp >= lo && cp <= hi;
}

bool IsWordChar(uint32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
           (cp >= 'A' && cp <= 'Z');
  }
  if (cp == kInvalid) return false;
  // Latin-1's controls, spaces, punctuation and symbols; x and /.
  if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7) return false;
  // General Punctuation to Miscellaneous Symbols and Arrows (spaces,
  // dashes, quotes, sub/superscripts, currency, letterlike symbols, number
  // forms, arrows, math, technical, box drawing, shapes, dingbats), and
  // Supplemental Punctuation.
  if (Between(cp, 0x2000, 0x2BFF) || Between(cp, 0x2E00, 0x2E7F)) {
    return false;
  }
  if (Between(cp, 0x3000, 0x303F)) return false;  // CJK punctuation
  if (Between(cp, 0xE000, 0xF8FF)) return false;  // private use
  // Variation selectors, vertical forms, CJK compatibility and small form
  // variants, the byte order mark, fullwidth punctuation, specials.
  if (Between(cp, 0xFE00, 0xFE1F) || Between(cp, 0xFE30, 0xFE6F) ||
      cp == 0xFEFF || Between(cp, 0xFF00, 0xFF0F) ||
      Between(cp, 0xFF1A, 0xFF20) || Between(cp, 0xFF3B, 0xFF40) ||
      Between(cp, 0xFF5B, 0xFF65) || Between(cp, 0xFFF0, 0xFFFF)) {
    return false;
  }
  // Game symbols, enclosed alphanumerics and ideographs, emoji and other
  // pictographs; tags; supplementary private use.
  if (Between(cp, 0x1F000, 0x1FAFF) || Between(cp, 0xE0000, 0xE007F) ||
      cp >= 0xF0000) {
    return false;
  }
  return true;
}

uint32_t FoldCase(uint32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 0x20 : cp;
  if (Between(cp, 0xC0, 0xDE)) return cp + 0x20;  // (0xD7 is no letter)
  if (cp < 0x100) return cp;
  if (cp <= 0x17F) {  // Latin Extended-A: capital, small pairs
    if (cp == 0x130) return 'i';
    if (cp == 0x178) return 0xFF;
    if (Between(cp, 0x100, 0x137) || Between(cp, 0x14A, 0x177)) {
      return cp % 2 == 0 ? cp + 1 : cp;
    }
    if (Between(cp, 0x139, 0x148) || Between(cp, 0x179, 0x17E)) {
      return cp % 2 == 1 ? cp + 1 : cp;
    }
    return cp;
  }
  if (cp <= 0x3FF) {  // Greek
    if (Between(cp, 0x391, 0x3A1) || Between(cp, 0x3A3, 0x3AB)) {
      return cp + 0x20;
    }
    if (cp == 0x386) return 0x3AC;
    if (Between(cp, 0x388, 0x38A)) return cp + 0x25;
    if (cp == 0x38C) return 0x3CC;
    if (Between(cp, 0x38E, 0x38F)) return cp + 0x3F;
    if (cp == 0x3C2) return 0x3C3;  // final sigma
    return cp;
  }
  if (Between(cp, 0x400, 0x40F)) return cp + 0x50;  // Cyrillic
  if (Between(cp, 0x410, 0x42F)) return cp + 0x20;
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | cp >> 6));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | cp >> 12));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | cp >> 18));
    out->push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t Utf8Bytes(uint32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

}  // namespace

void AppendTextWords(absl::string_view text, std::vector<std::string>* out) {
  std::string word;
  bool full = false;  // the word reached kMaxWordBytes
  auto end_word = [&]() {
    if (!word.empty()) out->push_back(std::move(word));
    word.clear();
    full = false;
  };
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = NextCodePoint(text, &i);
    if (!IsWordChar(cp)) {
      end_word();
      continue;
    }
    if (full) continue;
    const uint32_t folded = FoldCase(cp);
    if (word.size() + Utf8Bytes(folded) > kMaxWordBytes) {
      full = true;
      continue;
    }
    AppendUtf8(folded, &word);
  }
  end_word();
}

std::vector<std::string> TextWords(absl::string_view text) {
  std::vector<std::string> words;
  AppendTextWords(text, &words);
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

}  // namespace tqdb
