#include "index/inverted_lists.h"

#include <algorithm>
#include <cstring>

#include "index/bfloat16.h"

namespace tqdb {

void InvertedList::SetSubcodes(std::vector<uint8_t>* blocks, uint32_t m,
                               uint32_t slot, const uint8_t* sub) {
  const size_t block_bytes = size_t{m} / 2 * kBlockSize;
  uint8_t* base =
      blocks->data() + (slot / kBlockSize) * block_bytes + slot % kBlockSize;
  for (uint32_t p = 0; p < m / 2; ++p) {
    base[p * kBlockSize] =
        static_cast<uint8_t>((sub[2 * p] & 0xF) | (sub[2 * p + 1] << 4));
  }
}

void InvertedList::GetSubcodes(const std::vector<uint8_t>& blocks, uint32_t m,
                               uint32_t slot, uint8_t* sub) {
  const size_t block_bytes = size_t{m} / 2 * kBlockSize;
  const uint8_t* base =
      blocks.data() + (slot / kBlockSize) * block_bytes + slot % kBlockSize;
  for (uint32_t p = 0; p < m / 2; ++p) {
    sub[2 * p] = base[p * kBlockSize] & 0xF;
    sub[2 * p + 1] = base[p * kBlockSize] >> 4;
  }
}

void InvertedList::SetBytes(uint32_t slot, const uint8_t* sub) {
  uint8_t* base = c_.data() +
                  size_t{slot / kBlockSize} * c_stride_ * kBlockSize +
                  slot % kBlockSize;
  for (uint32_t j = 0; j < shape_.m8; ++j) base[j * kBlockSize] = sub[j];
}

void InvertedList::GetBytes(uint32_t slot, uint8_t* sub) const {
  const uint8_t* base = c_.data() +
                        size_t{slot / kBlockSize} * c_stride_ * kBlockSize +
                        slot % kBlockSize;
  for (uint32_t j = 0; j < shape_.m8; ++j) sub[j] = base[j * kBlockSize];
}

uint32_t InvertedList::Append(uint64_t id, uint32_t iid, const uint8_t* sub4a,
                              const uint8_t* sub4b, const uint8_t* sub8,
                              const float* factors, const float* refine) {
  const uint32_t slot = size();
  if (slot % kBlockSize == 0) {
    a_.resize(a_.size() + size_t{shape_.m4a} / 2 * kBlockSize, 0);
    b_.resize(b_.size() + size_t{shape_.m4b} / 2 * kBlockSize, 0);
    factors_.resize(factors_.size() + size_t{shape_.nfactors} * kBlockSize,
                    0.0f);
    factors16_.resize(
        factors16_.size() + size_t{shape_.nfactors16} * kBlockSize, 0);
    c_.resize(c_.size() + size_t{c_stride_} * kBlockSize, 0);
  }
  if (shape_.m4a) SetSubcodes(&a_, shape_.m4a, slot, sub4a);
  if (shape_.m4b) SetSubcodes(&b_, shape_.m4b, slot, sub4b);
  if (c_stride_ > 0) {
    SetBytes(slot, sub8);
  } else {
    c_.insert(c_.end(), sub8, sub8 + shape_.m8);
  }
  if (refine_words_ > 0) r_.insert(r_.end(), refine, refine + refine_words_);
  for (uint32_t i = 0; i < shape_.nfactors; ++i) {
    factors_[FactorIndex(slot, i)] = factors[i];
  }
  for (uint32_t i = 0; i < shape_.nfactors16; ++i) {
    factors16_[Factor16Index(slot, i)] =
        Bf16Nearest(factors[shape_.nfactors + i]);
  }
  ids_.push_back(id);
  iids_.push_back(iid);
  deleted_.push_back(0);
  return slot;
}

void InvertedList::MarkDeleted(uint32_t slot) {
  if (!deleted_[slot]) {
    deleted_[slot] = 1;
    ++tombstones_;
  }
}

void InvertedList::Compact(
    const std::function<void(uint64_t, uint32_t)>& moved) {
  std::vector<uint8_t> sa(shape_.m4a), sb(shape_.m4b), sc(shape_.m8);
  uint32_t out = 0;
  const uint32_t n = size();
  for (uint32_t s = 0; s < n; ++s) {
    if (deleted_[s]) continue;
    if (s != out) {
      if (shape_.m4a) {
        GetSubcodes(a_, shape_.m4a, s, sa.data());
        SetSubcodes(&a_, shape_.m4a, out, sa.data());
      }
      if (shape_.m4b) {
        GetSubcodes(b_, shape_.m4b, s, sb.data());
        SetSubcodes(&b_, shape_.m4b, out, sb.data());
      }
      // A codec without 8-bit codes has c_ empty: c_[0] (or memmove of its
      // null data()) would be undefined behaviour (UBSan).
      if (c_stride_ > 0) {
        GetBytes(s, sc.data());
        SetBytes(out, sc.data());
      } else if (shape_.m8) {
        std::memmove(c_.data() + size_t{out} * shape_.m8,
                     c_.data() + size_t{s} * shape_.m8, shape_.m8);
      }
      if (refine_words_ > 0) {
        std::memmove(&r_[size_t{out} * refine_words_],
                     &r_[size_t{s} * refine_words_],
                     refine_words_ * sizeof(float));
      }
      for (uint32_t i = 0; i < shape_.nfactors; ++i) {
        factors_[FactorIndex(out, i)] = factors_[FactorIndex(s, i)];
      }
      for (uint32_t i = 0; i < shape_.nfactors16; ++i) {
        factors16_[Factor16Index(out, i)] = factors16_[Factor16Index(s, i)];
      }
      ids_[out] = ids_[s];
      iids_[out] = iids_[s];
      moved(ids_[out], out);
    }
    deleted_[out] = 0;
    ++out;
  }
  ids_.resize(out);
  iids_.resize(out);
  deleted_.resize(out);
  c_.resize(c_stride_ > 0 ? (out + kBlockSize - 1) / kBlockSize * c_stride_ *
                                size_t{kBlockSize}
                          : size_t{out} * shape_.m8);
  r_.resize(size_t{out} * refine_words_);
  r_.shrink_to_fit();
  const size_t blocks = (out + kBlockSize - 1) / kBlockSize;
  factors_.resize(blocks * shape_.nfactors * kBlockSize);
  factors16_.resize(blocks * shape_.nfactors16 * kBlockSize);
  a_.resize(blocks * shape_.m4a / 2 * kBlockSize);
  b_.resize(blocks * shape_.m4b / 2 * kBlockSize);
  // Zero the padding slots of the last block (stale codes are harmless to
  // the scan, which ignores slots >= size(), but keep the layout canonical).
  std::vector<uint8_t> zero(std::max({shape_.m4a, shape_.m4b, shape_.m8}), 0);
  for (uint32_t s = out; s < blocks * kBlockSize; ++s) {
    if (shape_.m4a) SetSubcodes(&a_, shape_.m4a, s, zero.data());
    if (shape_.m4b) SetSubcodes(&b_, shape_.m4b, s, zero.data());
    if (c_stride_ > 0) SetBytes(s, zero.data());
    for (uint32_t i = 0; i < shape_.nfactors; ++i) {
      factors_[FactorIndex(s, i)] = 0.0f;
    }
    for (uint32_t i = 0; i < shape_.nfactors16; ++i) {
      factors16_[Factor16Index(s, i)] = 0;
    }
  }
  tombstones_ = 0;
  a_.shrink_to_fit();
  b_.shrink_to_fit();
  factors_.shrink_to_fit();
  factors16_.shrink_to_fit();
}

size_t InvertedList::MemoryBytes() const {
  return a_.capacity() + b_.capacity() + c_.capacity() +
         (factors_.capacity() + r_.capacity()) * sizeof(float) +
         factors16_.capacity() * sizeof(uint16_t) +
         ids_.capacity() * sizeof(uint64_t) +
         iids_.capacity() * sizeof(uint32_t) + deleted_.capacity();
}

}  // namespace tqdb
