// SARSteer's steering: on every forward pass (prefill and each decode step) add α·β_l·v⊥_l to
// the last position of every decoder layer's output, per sequence of the batch.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/layer_hook.h"
#include "steer/steering_file.h"

namespace sarsteer::steer {

// Which vectors of a steering file to add, and how strongly.
struct SteerParams {
    double alpha = 0.1;
    bool use_raw = false;         // v_raw (λ = 0, plain refusal steering) instead of the ablated v
    std::vector<int64_t> layers = {};  // empty: all layers
    std::vector<double> beta = {};  // empty: 1 for every layer; else one per layer or one value
};

// Parses "0-27", "3", "0,2,5-7" into sorted unique layer indices < n_layer.
std::vector<int64_t> parse_layer_list(const std::string& text, int64_t n_layer);
// Parses "1,0.5,..." (one value, or one per layer).
std::vector<double> parse_beta_list(const std::string& text, int64_t n_layer);

class SteerHook : public model::LayerHook {
public:
    // directions: [n_layer, D] = β_l·v_l (zero rows for unsteered layers), on the model's device
    // and dtype. alpha: one value for all sequences, or one per sequence of the caller's batch.
    SteerHook(at::Tensor directions, std::vector<double> alpha);

    // Builds the direction table from a steering file (checked against the model beforehand).
    static SteerHook from_file(const SteeringVectors& vectors, const SteerParams& params,
                               const at::TensorOptions& options);

    void on_layer_output(int64_t layer, at::Tensor& hidden,
                         const model::ForwardInfo& info) override;

    const at::Tensor& directions() const { return directions_; }

private:
    double alpha_for(int64_t seq) const;

    at::Tensor directions_;
    std::vector<double> alpha_;
};

}  // namespace sarsteer::steer
