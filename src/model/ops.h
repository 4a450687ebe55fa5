// Small tensor operations shared by the encoder and decoder, each matching its PyTorch/HF
// counterpart. Kept in one place so a faster kernel replaces them everywhere at once.
#pragma once

#include <ATen/core/Tensor.h>

namespace sarsteer::model::ops {

// x @ w.T (+ b), as torch.nn.functional.linear. A single row goes through matrix-vector
// multiplication: LibTorch's CPU GEMM path is several times slower for one row.
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {});

// ref: transformers Qwen2RMSNorm — variance in float32, weight applied in the input dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps);

// ref: transformers rotate_half / apply_rotary_pos_emb (HF's half-split layout).
// x: [B, H, T, d_head]; cos, sin: [B, T, d_head].
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// ref: transformers Qwen2RotaryEmbedding (default rope): inv_freq = 1 / theta^(2i/d), angles
// computed in float32. positions: [B, T] int64. Returns cos, sin [B, T, d_head] in `dtype`.
std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& positions, int64_t d_head,
                                              double theta, c10::ScalarType dtype);

}  // namespace sarsteer::model::ops
