// The one extension point of the decoder: a hook sees (and may change) the output of every
// decoder layer on every forward pass — the tensor a PyTorch forward hook on
// `language_model.model.layers[l]` receives. SARSteer steering and activation capture are hooks.
#pragma once

#include <cstdint>
#include <span>

#include <ATen/core/Tensor.h>

namespace sarsteer::model {

// What a hook may know about the pass it is called from.
struct ForwardInfo {
    int64_t n_seq = 0;     // B: sequences in the batch
    int64_t n_tokens = 0;  // T: new positions per sequence in this pass
    bool prefill = true;   // the pass over the prompt (false: one decode step)
    // Per sequence, the index along T of its last real position. Batches are left-padded, so
    // this is T-1 for every sequence; hooks should still read it rather than assume.
    std::span<const int64_t> last_index;
    // Per batch row, the index of its sequence in the caller's prompt list. Rows of finished
    // sequences are dropped during generation, so row b is not always sequence b.
    std::span<const int64_t> seq_index;
};

class LayerHook {
public:
    virtual ~LayerHook() = default;
    // `hidden` is the layer output [B, T, D] (after the residual add that ends the layer, before
    // the next layer's norm). A hook may modify it in place or assign a new tensor of the same
    // shape, dtype and device. `layer` is the 0-based HF layer index.
    virtual void on_layer_output(int64_t layer, at::Tensor& hidden, const ForwardInfo& info) = 0;
};

}  // namespace sarsteer::model
