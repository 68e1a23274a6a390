#include "db/allowed_from_bitmap.h"

#include <algorithm>

namespace tqdb {
namespace dbimpl {

// The containers through CRoaring's own layout (roaring_array.h and
// containers/*.h of the Debian package's 0.2.x): its public API has no
// bulk export to a word array before 0.3 (roaring_bitmap_to_bitset).
AllowedSet AllowedFromBitmap(const Roaring& ids, uint32_t universe) {
  AllowedSet a(universe);
  const roaring_array_t& ra = ids.roaring.high_low_container;
  constexpr uint32_t kSpan = 1u << 16;  // ids a container covers
  for (int32_t i = 0; i < ra.size; ++i) {
    const uint32_t base = uint32_t{ra.keys[i]} << 16;
    if (base >= universe) break;  // keys ascend
    // The last id this container may add.
    const uint32_t last =
        std::min<uint64_t>(uint64_t{base} + kSpan, universe) - 1;
    uint8_t type = ra.typecodes[i];
    const void* c = container_unwrap_shared(ra.containers[i], &type);
    switch (type) {
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* b = static_cast<const bitset_container_t*>(c);
        if (last == base + (kSpan - 1)) {
          a.AddWords(base / 64, b->array, kSpan / 64,
                     static_cast<uint64_t>(b->cardinality));
        } else {
          // The universe ends inside: whole words up to its last, that
          // one cut after it.
          const uint32_t n = (last - base) / 64 + 1;
          const uint32_t tail = (last - base) % 64;
          uint64_t words[kSpan / 64];
          std::copy(b->array, b->array + n, words);
          if (tail != 63) words[n - 1] &= (uint64_t{1} << (tail + 1)) - 1;
          uint64_t count = 0;
          for (uint32_t w = 0; w < n; ++w) {
            count += static_cast<uint64_t>(__builtin_popcountll(words[w]));
          }
          a.AddWords(base / 64, words, n, count);
        }
        break;
      }
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* arr = static_cast<const array_container_t*>(c);
        for (int32_t j = 0; j < arr->cardinality; ++j) {
          const uint32_t id = base + arr->array[j];
          if (id > last) break;  // ascending
          a.Add(id);
        }
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* run = static_cast<const run_container_t*>(c);
        for (int32_t j = 0; j < run->n_runs; ++j) {
          const uint32_t lo = base + run->runs[j].value;
          if (lo > last) break;  // ascending
          a.AddRange(lo, std::min(last, lo + run->runs[j].length));
        }
        break;
      }
      default:
        break;  // no other kind exists
    }
  }
  return a;
}

}  // namespace dbimpl
}  // namespace tqdb
