// SARSteer's decomposed safe-space ablation (ref: linweiii/SARSteer defense.py,
// compute_steering_vector / compute_topk_basis), computed in float64:
//   v_l = mean_i (h_l(a_i, t+p) − h_l(a_i, t))                 over harmful samples
//   μ_l, U_k = mean and top-k left singular vectors of the centred safe states Hᵀ (D × M)
//   v⊥_l = v_l − λ · U_k U_kᵀ v_l
#pragma once

#include <ATen/core/Tensor.h>

namespace sarsteer::steer {

struct Ablation {
    at::Tensor v_raw;       // [L, D]
    at::Tensor v;           // [L, D] ablated
    at::Tensor safe_basis;  // [L, D, k]
    at::Tensor safe_mean;   // [L, D]
};

// harmful_base, harmful_refusal: [N, L, D]; safe_base: [M, L, D]. Returns float32 tensors.
// Throws Error(kInvalidArgument) for empty sets, mismatched shapes or k > min(M, D).
Ablation ablate(const at::Tensor& harmful_base, const at::Tensor& harmful_refusal,
                const at::Tensor& safe_base, int64_t k, double lambda);

}  // namespace sarsteer::steer
