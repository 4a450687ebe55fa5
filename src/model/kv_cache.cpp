#include "model/kv_cache.h"

#include <ATen/ATen.h>

namespace sarsteer::model {

KvCache::KvCache(int64_t n_layer, int64_t n_seq, int64_t n_kv_head, int64_t d_head,
                 at::TensorOptions options, int64_t capacity)
    : n_seq_(n_seq) {
    keys_.reserve(static_cast<std::size_t>(n_layer));
    values_.reserve(static_cast<std::size_t>(n_layer));
    for (int64_t il = 0; il < n_layer; ++il) {
        keys_.push_back(at::empty({n_seq, n_kv_head, capacity, d_head}, options));
        values_.push_back(at::empty({n_seq, n_kv_head, capacity, d_head}, options));
    }
    capacity_ = capacity;
}

void KvCache::reserve(int64_t capacity) {
    if (capacity <= capacity_) return;
    for (auto* store : {&keys_, &values_}) {
        for (auto& t : *store) {
            auto grown = at::empty({t.size(0), t.size(1), capacity, t.size(3)}, t.options());
            grown.narrow(2, 0, length_).copy_(t.narrow(2, 0, length_));
            t = grown;
        }
    }
    capacity_ = capacity;
}

std::pair<at::Tensor, at::Tensor> KvCache::append(int64_t layer, const at::Tensor& k,
                                                  const at::Tensor& v) {
    const int64_t n_new = k.size(2);
    if (length_ + n_new > capacity_) reserve(std::max(capacity_ * 2, length_ + n_new));
    auto& keys = keys_[static_cast<std::size_t>(layer)];
    auto& values = values_[static_cast<std::size_t>(layer)];
    keys.narrow(2, length_, n_new).copy_(k);
    values.narrow(2, length_, n_new).copy_(v);
    return {keys.narrow(2, 0, length_ + n_new), values.narrow(2, 0, length_ + n_new)};
}

void KvCache::select(const at::Tensor& rows) {
    for (auto* store : {&keys_, &values_}) {
        for (auto& t : *store) t = t.index_select(0, rows.to(t.device()));
    }
    n_seq_ = rows.size(0);
}

}  // namespace sarsteer::model
