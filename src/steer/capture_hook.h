// Records each sequence's last-position layer outputs during a prefill: the states SARSteer's
// vectors are computed from (the reference's forward hook reads out[:, -1, :]).
#pragma once

#include <ATen/core/Tensor.h>

#include "model/layer_hook.h"

namespace sarsteer::steer {

class CaptureLastHook : public model::LayerHook {
public:
    // Preallocates [n_seq, n_layer, D] float32 on the CPU.
    CaptureLastHook(int64_t n_seq, int64_t n_layer, int64_t n_embd);

    void on_layer_output(int64_t layer, at::Tensor& hidden,
                         const model::ForwardInfo& info) override;

    const at::Tensor& states() const { return states_; }  // [n_seq, n_layer, D]

private:
    at::Tensor states_;
};

}  // namespace sarsteer::steer
