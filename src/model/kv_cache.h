// Key/value cache of the decoder for one batch of sequences. Storage is preallocated per layer as
// [B, n_kv_head, capacity, d_head] and grows by doubling, so decode steps append in place.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace sarsteer::model {

class KvCache {
public:
    KvCache(int64_t n_layer, int64_t n_seq, int64_t n_kv_head, int64_t d_head,
            at::TensorOptions options, int64_t capacity = 256);

    int64_t n_seq() const { return n_seq_; }
    int64_t length() const { return length_; }  // positions stored (equal for all sequences)

    // Stores this pass's keys/values [B, n_kv_head, T, d_head] for `layer` after the cached ones
    // and returns views of everything cached for it, [B, n_kv_head, length() + T, d_head].
    // Call for every layer, then advance(T) once.
    std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k,
                                             const at::Tensor& v);
    void advance(int64_t n_tokens) { length_ += n_tokens; }

    // Keeps only the sequences at `rows` (in that order), e.g. when some finish.
    void select(const at::Tensor& rows);

private:
    void reserve(int64_t capacity);

    int64_t n_seq_;
    int64_t length_ = 0;
    int64_t capacity_ = 0;
    std::vector<at::Tensor> keys_, values_;
};

}  // namespace sarsteer::model
