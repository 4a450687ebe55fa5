#include "steer/capture_hook.h"

#include <ATen/ATen.h>

namespace sarsteer::steer {

CaptureLastHook::CaptureLastHook(int64_t n_seq, int64_t n_layer, int64_t n_embd)
    : states_(at::zeros({n_seq, n_layer, n_embd}, at::kFloat)) {}

void CaptureLastHook::on_layer_output(int64_t layer, at::Tensor& hidden,
                                      const model::ForwardInfo& info) {
    if (!info.prefill) return;
    for (int64_t b = 0; b < info.n_seq; ++b) {
        const auto row = info.seq_index[static_cast<std::size_t>(b)];
        const auto last = info.last_index[static_cast<std::size_t>(b)];
        states_[row][layer].copy_(hidden[b][last]);
    }
}

}  // namespace sarsteer::steer
