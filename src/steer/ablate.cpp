#include "steer/ablate.h"

#include <ATen/ATen.h>

#include "sarsteer/error.h"

namespace sarsteer::steer {

Ablation ablate(const at::Tensor& harmful_base, const at::Tensor& harmful_refusal,
                const at::Tensor& safe_base, int64_t k, double lambda) {
    if (harmful_base.dim() != 3 || !harmful_base.sizes().equals(harmful_refusal.sizes()) ||
        safe_base.dim() != 3 || safe_base.size(1) != harmful_base.size(1) ||
        safe_base.size(2) != harmful_base.size(2)) {
        throw Error(ErrorKind::kInvalidArgument, "ablation",
                    "activation sets must be [N, L, D] with the same L and D");
    }
    const int64_t n_harmful = harmful_base.size(0), n_safe = safe_base.size(0);
    const int64_t n_layer = harmful_base.size(1), n_embd = harmful_base.size(2);
    if (n_harmful == 0 || n_safe == 0) {
        throw Error(ErrorKind::kInvalidArgument, "ablation",
                    "needs at least one harmful and one safe sample");
    }
    if (k < 0 || k > std::min(n_safe, n_embd)) {
        throw Error(ErrorKind::kInvalidArgument, "--k",
                    "k = " + std::to_string(k) + " but the safe space has at most " +
                        std::to_string(std::min(n_safe, n_embd)) + " directions (" +
                        std::to_string(n_safe) + " safe samples)");
    }
    const auto v_raw =
        (harmful_refusal.to(at::kDouble) - harmful_base.to(at::kDouble)).mean(0);  // [L, D]
    const auto safe = safe_base.to(at::kDouble);
    const auto mean = safe.mean(0);  // [L, D]
    auto basis = at::zeros({n_layer, n_embd, k}, at::kDouble);
    auto v = v_raw.clone();
    for (int64_t l = 0; l < n_layer; ++l) {
        if (k == 0) break;
        const auto centred = safe.select(1, l) - mean[l];  // [M, D]
        // Left singular vectors of the D × M matrix of centred states (columns are samples).
        const auto svd = at::linalg_svd(centred.t(), /*full_matrices=*/false);
        const auto u_k = std::get<0>(svd).narrow(1, 0, k);  // [D, k]
        basis[l].copy_(u_k);
        v[l] -= lambda * at::matmul(u_k, at::matmul(u_k.t(), v_raw[l]));
    }
    return {v_raw.to(at::kFloat), v.to(at::kFloat), basis.to(at::kFloat), mean.to(at::kFloat)};
}

}  // namespace sarsteer::steer
