// Rank-based BPE over byte pieces: the merge step of byte-level BPE, on token ids.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sarsteer::text {

struct Merge {
    int32_t left = 0;
    int32_t right = 0;
    int32_t merged = 0;
};

class BpeModel {
public:
    // Pieces up to this many bytes merge by rescanning a small array; longer ones use a heap.
    static constexpr std::size_t kScanMaxBytes = 32;

    BpeModel() = default;
    // `byte_ids[b]` is the id of the single-byte symbol b; `merges` are in rank order (rank =
    // index). A pair listed twice keeps its later rank, as in HF tokenizers and GPT-2's bpe().
    BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges);

    // Appends the ids of `piece` (raw bytes): repeatedly merges the adjacent pair of lowest rank,
    // the leftmost one among equals, until no adjacent pair has a merge.
    void encode(std::string_view piece, std::vector<int32_t>& out) const;

    // The two strategies behind encode(), exposed so tests can check they agree.
    void encode_by_scan(std::string_view piece, std::vector<int32_t>& out) const;
    void encode_by_heap(std::string_view piece, std::vector<int32_t>& out) const;

    std::size_t n_merges() const { return n_merges_; }

private:
    struct Slot {
        uint64_t key = kEmptyKey;
        int32_t rank = 0;
        int32_t merged = 0;
    };
    static constexpr uint64_t kEmptyKey = ~uint64_t{0};

    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
               static_cast<uint32_t>(right);
    }
    std::size_t slot_index(uint64_t key) const {
        return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    // The merge of (left, right), or nullptr.
    const Slot* find(int32_t left, int32_t right) const;

    std::array<int32_t, 256> byte_ids_{};
    std::vector<Slot> table_;  // open addressing, linear probing, power-of-two size
    unsigned shift_ = 64;
    std::size_t n_merges_ = 0;
};

}  // namespace sarsteer::text
