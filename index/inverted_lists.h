// In-memory inverted list in the scan layout of the FastScan kernel.
//
// Vectors occupy slots 0..size()-1 in insertion order. Each 4-bit stream
// (A, B: m sub-codes, m even) is stored in blocks of 32 slots:
//   block k, pair p (sub-codes 2p, 2p+1), slot 32k + v:
//     byte [k * (m/2) * 32 + p * 32 + v] = sub[2p] | sub[2p+1] << 4
// so one 32-byte row holds one pair of sub-codes for 32 vectors, the unit
// the kernel looks up with one byte shuffle per nibble. The last block is
// zero-padded. Stream C (8-bit sub-codes) is row-major, slot after slot,
// or, with blocked_c (the full layout, scored by scan::AccumulateBytes),
// blocked like them a byte per sub-code, m rounded up to even (a zero
// sub-code pads it): block k, sub-code j, slot 32k + v at byte [(k * m +
// j) * 32 + v]. Lists are rebuilt from the persisted codes on load, so
// this in-memory layout is not part of any on-disk format.
// Per-vector float factors are blocked like the 4-bit streams, one array
// of 32 per factor: factor i of slot 32k + v at [k * 32 * nfactors + i * 32
// + v], so a block's factors load as vectors; the shape's nfactors16
// bfloat16 values likewise, in an array of their own. Optional rescoring
// codes (index/refine_codes.h) are row-major too. 64-bit ids, 32-bit internal
// ids (what a filtered search tests, index/allowed_set.h) and tombstone
// flags are side arrays.
// Appends are O(1) amortized; deletes set a tombstone; Compact() moves live
// slots down over the holes.
//
// Thread-safety: none; the owner (IvfIndex) serializes writers against
// readers.
#ifndef TQDB_INDEX_INVERTED_LISTS_H_
#define TQDB_INDEX_INVERTED_LISTS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "index/scan_codec.h"
#include "index/types.h"

namespace tqdb {

constexpr uint32_t kBlockSize = 32;

class InvertedList {
 public:
  // refine_words: the size of a slot's in-memory rescoring code
  // (index/refine_codes.h) in 4-byte words, 0 for none.
  // blocked_c: stream C in blocks (above) instead of row-major.
  explicit InvertedList(const ScanShape& shape, uint32_t refine_words = 0,
                        bool blocked_c = false)
      : shape_(shape),
        refine_words_(refine_words),
        c_stride_(blocked_c ? (shape.m8 + 1) & ~1u : 0) {}

  uint32_t size() const { return static_cast<uint32_t>(ids_.size()); }
  uint32_t live() const { return size() - tombstones_; }
  uint32_t tombstones() const { return tombstones_; }
  uint32_t nblocks() const { return (size() + kBlockSize - 1) / kBlockSize; }
  const ScanShape& shape() const { return shape_; }

  // Appends one vector; returns its slot. iid: its internal id (kNoIid if
  // none). factors: nfactors floats, then nfactors16 values stored rounded
  // to the nearest bfloat16. refine: its rescoring code (refine_words
  // words; ignored if 0).
  uint32_t Append(uint64_t id, uint32_t iid, const uint8_t* sub4a,
                  const uint8_t* sub4b, const uint8_t* sub8,
                  const float* factors, const float* refine = nullptr);
  void MarkDeleted(uint32_t slot);
  bool IsDeleted(uint32_t slot) const { return deleted_[slot] != 0; }
  // Drops tombstones; `moved(id, new_slot)` is called for every live entry
  // whose slot changed (its ids()/iids() entries are already in place).
  void Compact(const std::function<void(uint64_t, uint32_t)>& moved);

  const uint8_t* codes_a() const { return a_.data(); }
  const uint8_t* codes_b() const { return b_.data(); }
  const uint8_t* codes_c() const { return c_.data(); }
  // Stream A's bytes of slot (m4a / 2: sub-codes 2p and 2p + 1 in the low
  // and high nibble of byte p), gathered from its block.
  void StreamABytes(uint32_t slot, uint8_t* out) const {
    const uint32_t npairs = shape_.m4a / 2;
    const uint8_t* base = a_.data() +
                          size_t{slot / kBlockSize} * npairs * kBlockSize +
                          slot % kBlockSize;
    for (uint32_t p = 0; p < npairs; ++p) out[p] = base[p * kBlockSize];
  }
  // Sub-codes a block of stream C holds when blocked (m8 rounded up to
  // even), 0 when row-major.
  uint32_t c_block_subcodes() const { return c_stride_; }
  // Blocked (see above): FactorAt(slot, i) is factor i of slot.
  const float* factors() const { return factors_.data(); }
  float FactorAt(uint32_t slot, uint32_t i) const {
    return factors_[FactorIndex(slot, i)];
  }
  // The 32 values of factor i in the block of `slot`.
  const float* BlockFactors(uint32_t block, uint32_t i) const {
    return factors_.data() + (size_t{block} * shape_.nfactors + i) * kBlockSize;
  }
  // The 32 bfloat16 values of 16-bit factor i in `block`.
  const uint16_t* BlockFactors16(uint32_t block, uint32_t i) const {
    return factors16_.data() +
           (size_t{block} * shape_.nfactors16 + i) * kBlockSize;
  }
  const uint64_t* ids() const { return ids_.data(); }
  const uint32_t* iids() const { return iids_.data(); }
  const uint8_t* deleted() const { return deleted_.data(); }
  // The rescoring code of slot (refine_words words, slot after slot).
  const float* refine(uint32_t slot) const {
    return r_.data() + size_t{slot} * refine_words_;
  }
  // Bytes held in memory (codes, factors, rescoring codes, ids, flags).
  size_t MemoryBytes() const;

 private:
  static void SetSubcodes(std::vector<uint8_t>* blocks, uint32_t m,
                          uint32_t slot, const uint8_t* sub);
  static void GetSubcodes(const std::vector<uint8_t>& blocks, uint32_t m,
                          uint32_t slot, uint8_t* sub);
  // Stream C of one slot, blocked_c.
  void SetBytes(uint32_t slot, const uint8_t* sub);
  void GetBytes(uint32_t slot, uint8_t* sub) const;
  size_t FactorIndex(uint32_t slot, uint32_t i) const {
    return (size_t{slot / kBlockSize} * shape_.nfactors + i) * kBlockSize +
           slot % kBlockSize;
  }
  size_t Factor16Index(uint32_t slot, uint32_t i) const {
    return (size_t{slot / kBlockSize} * shape_.nfactors16 + i) * kBlockSize +
           slot % kBlockSize;
  }

  ScanShape shape_;
  uint32_t refine_words_ = 0;
  uint32_t c_stride_ = 0;  // c_block_subcodes()
  std::vector<uint8_t> a_, b_, c_;
  std::vector<float> factors_;
  std::vector<uint16_t> factors16_;
  std::vector<float> r_;
  std::vector<uint64_t> ids_;
  std::vector<uint32_t> iids_;
  std::vector<uint8_t> deleted_;
  uint32_t tombstones_ = 0;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_INVERTED_LISTS_H_
