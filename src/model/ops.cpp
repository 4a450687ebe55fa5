#include "model/ops.h"

#include <ATen/ATen.h>

namespace sarsteer::model::ops {

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
    const int64_t n_in = x.size(-1);
    if (x.numel() == n_in) {
        auto shape = x.sizes().vec();
        shape.back() = w.size(0);
        auto y = b.defined() ? at::addmv(b, w, x.reshape({n_in})) : at::mv(w, x.reshape({n_in}));
        return y.view(shape);
    }
    return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
    const auto input_dtype = x.scalar_type();
    auto h = x.to(at::kFloat);
    const auto variance = h.pow(2).mean(-1, /*keepdim=*/true);
    h = h * at::rsqrt(variance + eps);
    return w * h.to(input_dtype);
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    const int64_t half = x.size(-1) / 2;
    const auto rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
    return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& positions, int64_t d_head,
                                              double theta, c10::ScalarType dtype) {
    const auto float_options = at::TensorOptions().dtype(at::kFloat).device(positions.device());
    const auto exponents = at::arange(0, d_head, 2, float_options.dtype(at::kLong)).to(at::kFloat) /
                           static_cast<double>(d_head);
    const auto inv_freq = 1.0 / at::pow(theta, exponents);                 // [d/2]
    const auto freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [B, T, d/2]
    const auto emb = at::cat({freqs, freqs}, -1);                          // [B, T, d]
    return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

}  // namespace sarsteer::model::ops
