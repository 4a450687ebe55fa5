// The Qwen2 decoder stack (ref: transformers/models/qwen2/modeling_qwen2.py, Qwen2Model):
// RMSNorm, rotary embeddings, grouped-query attention with q/k/v biases, SwiGLU MLP, final norm.
// Batches are left-padded; each pass appends to a KvCache and calls the layer hooks once per layer.
#pragma once

#include <span>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/layer_hook.h"
#include "model/weights.h"

namespace sarsteer::model {

struct DecoderInput {
    at::Tensor embeds;     // [B, T, D] input embeddings of the new positions
    at::Tensor positions;  // [B, T] int64 rotary positions (a sequence's first real token is 0)
    at::Tensor key_valid;  // [B, cache.length() + T] bool: false at padding
    std::vector<int64_t> last_index;  // per sequence, see ForwardInfo
    bool prefill = true;
    std::vector<int64_t> seq_index = {};  // per row, see ForwardInfo; empty means 0..B-1
};

// Runs all layers over the new positions, appending their keys/values to `cache` (which it then
// advances). Returns the hidden states after the final norm, [B, T, D].
at::Tensor decoder_forward(const DecoderWeights& weights, const TextConfig& config,
                           const DecoderInput& input, KvCache& cache,
                           std::span<LayerHook* const> hooks);

}  // namespace sarsteer::model
