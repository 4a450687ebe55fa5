#include "text/bpe.h"

#include <bit>
#include <limits>
#include <queue>

namespace sarsteer::text {
namespace {

constexpr int32_t kNoRank = std::numeric_limits<int32_t>::max();

}  // namespace

BpeModel::BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges)
    : byte_ids_(byte_ids), n_merges_(merges.size()) {
    // Load factor at most 1/2 keeps probe chains short.
    const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, merges.size() * 2));
    table_.assign(capacity, Slot{});
    shift_ = 64u - static_cast<unsigned>(std::countr_zero(capacity));
    const std::size_t mask = capacity - 1;
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const Merge& m = merges[rank];
        const uint64_t key = pair_key(m.left, m.right);
        std::size_t i = slot_index(key);
        while (table_[i].key != kEmptyKey && table_[i].key != key) i = (i + 1) & mask;
        table_[i] = Slot{key, static_cast<int32_t>(rank), m.merged};
    }
}

const BpeModel::Slot* BpeModel::find(int32_t left, int32_t right) const {
    if (table_.empty()) return nullptr;
    const uint64_t key = pair_key(left, right);
    const std::size_t mask = table_.size() - 1;
    for (std::size_t i = slot_index(key);; i = (i + 1) & mask) {
        const Slot& slot = table_[i];
        if (slot.key == key) return &slot;
        if (slot.key == kEmptyKey) return nullptr;
    }
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.size() <= kScanMaxBytes) {
        encode_by_scan(piece, out);
    } else {
        encode_by_heap(piece, out);
    }
}

void BpeModel::encode_by_scan(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.size() > kScanMaxBytes) {
        encode_by_heap(piece, out);
        return;
    }
    std::array<int32_t, kScanMaxBytes> ids;
    // rank[i] / merged[i]: the merge of (ids[i], ids[i + 1]), kNoRank when there is none.
    std::array<int32_t, kScanMaxBytes> rank;
    std::array<int32_t, kScanMaxBytes> merged;
    std::size_t n = piece.size();
    for (std::size_t i = 0; i < n; ++i) ids[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
    auto update = [&](std::size_t i) {
        const Slot* slot = find(ids[i], ids[i + 1]);
        rank[i] = slot != nullptr ? slot->rank : kNoRank;
        merged[i] = slot != nullptr ? slot->merged : -1;
    };
    for (std::size_t i = 0; i + 1 < n; ++i) update(i);
    while (n > 1) {
        std::size_t best = 0;
        for (std::size_t i = 1; i + 1 < n; ++i) {
            if (rank[i] < rank[best]) best = i;  // strict: the leftmost among equal ranks
        }
        if (rank[best] == kNoRank) break;
        ids[best] = merged[best];
        for (std::size_t i = best + 1; i + 1 < n; ++i) {
            ids[i] = ids[i + 1];
            rank[i] = rank[i + 1];
            merged[i] = merged[i + 1];
        }
        --n;
        if (best > 0) update(best - 1);
        if (best + 1 < n) update(best);
    }
    out.insert(out.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n));
}

void BpeModel::encode_by_heap(std::string_view piece, std::vector<int32_t>& out) const {
    struct Symbol {
        int32_t id;
        int32_t prev;
        int32_t next;
    };
    struct Candidate {
        int32_t rank;
        int32_t pos;  // index of the left symbol; order of positions is order in the text
        int32_t left;
        int32_t right;
        int32_t merged;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    const auto n = static_cast<int32_t>(piece.size());
    std::vector<Symbol> symbols(piece.size());
    for (int32_t i = 0; i < n; ++i) {
        symbols[static_cast<std::size_t>(i)] = {byte_ids_[static_cast<uint8_t>(piece[i])], i - 1,
                                                i + 1 < n ? i + 1 : -1};
    }
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto push = [&](int32_t pos) {
        const Symbol& a = symbols[static_cast<std::size_t>(pos)];
        if (a.next < 0) return;
        const Symbol& b = symbols[static_cast<std::size_t>(a.next)];
        if (const Slot* slot = find(a.id, b.id)) {
            queue.push({slot->rank, pos, a.id, b.id, slot->merged});
        }
    };
    for (int32_t i = 0; i + 1 < n; ++i) push(i);
    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& a = symbols[static_cast<std::size_t>(c.pos)];
        // Stale when either side has merged since: ids only ever grow longer at a position, so
        // equal ids mean the pair is unchanged.
        if (a.id != c.left || a.next < 0) continue;
        Symbol& b = symbols[static_cast<std::size_t>(a.next)];
        if (b.id != c.right) continue;
        a.id = c.merged;
        b.id = -1;
        a.next = b.next;
        if (b.next >= 0) symbols[static_cast<std::size_t>(b.next)].prev = c.pos;
        if (a.prev >= 0) push(a.prev);
        push(c.pos);
    }
    for (int32_t i = 0; i >= 0 && i < n; i = symbols[static_cast<std::size_t>(i)].next) {
        out.push_back(symbols[static_cast<std::size_t>(i)].id);
    }
}

}  // namespace sarsteer::text
