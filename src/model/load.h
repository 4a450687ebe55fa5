// Loading a checkpoint's tensors into ModelWeights: names and shapes from the tensor table,
// dtype conversion once at load, placement on the compute device.
#pragma once

#include <ATen/core/Tensor.h>

#include "io/safetensors.h"
#include "model/config.h"
#include "model/weights.h"

namespace sarsteer::model {

struct LoadOptions {
    c10::Device device = c10::kCPU;
    c10::ScalarType dtype = at::kFloat;  // compute dtype; f32 CPU weights stay mmap'd views
};

// Every tensor of the table must be present with its exact shape; a tensor the table does not
// know is an error too (except rotary inv_freq buffers and a tied lm_head, which HF ignores).
// Throws Error naming the checkpoint and the tensor.
ModelWeights load_weights(const ModelConfig& config, const io::Checkpoint& checkpoint,
                          const LoadOptions& options);

// Random weights from `seed`: every tensor N(0, 0.02), norm weights 1 + N(0, 0.02). Unlike HF's
// _init_weights (zero biases, unit norms) every parameter is non-trivial, so tests notice a bias
// or norm weight that the runtime drops.
ModelWeights random_weights(const ModelConfig& config, uint64_t seed,
                            c10::ScalarType dtype = at::kFloat);

}  // namespace sarsteer::model
