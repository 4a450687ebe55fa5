#include "model/audio_encoder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"

namespace sarsteer::model {
namespace {

constexpr const char* kSubject = "audio encoder";
constexpr double kLayerNormEps = 1e-5;  // nn.LayerNorm default, used by every encoder norm
constexpr int64_t kScoreBlockElems = int64_t{1} << 20;  // attention scores per query block (CPU)

std::string shape_string(c10::IntArrayRef shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

[[noreturn]] void invalid(std::string problem, std::string hint = {}) {
    throw Error(ErrorKind::kInvalidArgument, kSubject, std::move(problem), std::move(hint));
}

// The mel frame count HF's encoder insists on: max_source_positions * conv1 stride (1) *
// conv2 stride (2) = 3000 (Qwen2AudioEncoder.forward, expected_seq_length).
int64_t expected_frames(const AudioConfig& config) {
    return 2 * config.max_source_positions;
}

constexpr const char* kPadHint =
    "pad the log-mel features to 30 s, as WhisperFeatureExtractor(padding=\"max_length\") does";

// Checks what every call needs: a defined floating tensor and a head count dividing d_model.
void check_common(const AudioConfig& config, const at::Tensor& features) {
    if (!features.defined()) invalid("features tensor is undefined");
    if (!features.is_floating_point()) {
        invalid("features have dtype " + std::string(c10::toString(features.scalar_type())) +
                ", expected a floating type");
    }
    if (config.d_model % config.encoder_attention_heads != 0) {
        invalid("d_model " + std::to_string(config.d_model) + " is not a multiple of " +
                std::to_string(config.encoder_attention_heads) + " attention heads");
    }
}

// L = sum of the clip's feature attention mask: 0 would be a clip without audio.
void check_valid_frames(const AudioConfig& config, int64_t valid_frames, const std::string& clip) {
    const int64_t n_frames = expected_frames(config);
    if (valid_frames < 1 || valid_frames > n_frames) {
        invalid(clip + " has " + std::to_string(valid_frames) + " valid frames, expected 1.." +
                    std::to_string(n_frames),
                "pass the sum of the clip's feature attention mask");
    }
}

// ref: modeling_qwen2_audio.py Qwen2AudioAttention.forward (eager), batch of one and no mask:
// every key is a valid position.
at::Tensor self_attention(const EncoderLayerWeights& l, const at::Tensor& x, int64_t n_head) {
    const int64_t n_pos = x.size(0);
    const int64_t d = x.size(1);
    const int64_t d_head = d / n_head;
    const double scaling = std::pow(static_cast<double>(d_head), -0.5);  // head_dim**-0.5
    // HF scales the projected query (bias included) before the product.
    auto q = (at::linear(x, l.q_w, l.q_b) * scaling).view({n_pos, n_head, d_head}).transpose(0, 1);
    auto k = at::linear(x, l.k_w).view({n_pos, n_head, d_head}).transpose(0, 1);  // k_proj: no bias
    auto v = at::linear(x, l.v_w, l.v_b).view({n_pos, n_head, d_head}).transpose(0, 1);
    const auto k_t = k.transpose(1, 2);  // [H, dh, T]
    // Queries in blocks so that the [H, rows, T] scores stay small on the CPU (HF materialises
    // [H, T, T]: 180 MB a layer for the real model, mostly spent faulting in fresh pages). Rows
    // are independent, so blocking changes no result beyond GEMM rounding.
    const int64_t rows =
        x.device().is_cpu() ? std::max<int64_t>(1, kScoreBlockElems / (n_head * n_pos)) : n_pos;
    std::vector<at::Tensor> blocks;
    for (int64_t q0 = 0; q0 < n_pos; q0 += rows) {
        const auto q_block = q.slice(1, q0, std::min(n_pos, q0 + rows));  // [H, rows, dh]
        blocks.push_back(at::matmul(at::softmax(at::matmul(q_block, k_t), -1), v));
    }
    auto out = at::cat(blocks, 1).transpose(0, 1).reshape({n_pos, d});  // [T, d]
    return at::linear(out, l.o_w, l.o_b);
}

// ref: modeling_qwen2_audio.py Qwen2AudioEncoderLayer.forward (pre-LN Whisper block).
at::Tensor encoder_layer(const EncoderLayerWeights& l, at::Tensor x, int64_t n_head) {
    const int64_t d = x.size(1);
    auto h = at::layer_norm(x, {d}, l.attn_ln_w, l.attn_ln_b, kLayerNormEps);
    x = x + self_attention(l, h, n_head);
    h = at::layer_norm(x, {d}, l.final_ln_w, l.final_ln_b, kLayerNormEps);
    x = x + at::linear(at::gelu(at::linear(h, l.fc1_w, l.fc1_b)), l.fc2_w, l.fc2_b);
    // HF clamps float16 overflow (only when an inf or NaN appeared).
    if (x.scalar_type() == at::kHalf &&
        (at::isinf(x).any().item<bool>() || at::isnan(x).any().item<bool>())) {
        const double limit = std::numeric_limits<c10::Half>::max() - 1000.0;
        x = at::clamp(x, -limit, limit);
    }
    return x;
}

// One validated clip [n_mels, n_frames] -> [audio_output_length(L), hidden].
at::Tensor encode_clip(const AudioTowerWeights& w, const AudioConfig& config,
                       const at::Tensor& features, int64_t valid_frames) {
    const int64_t n_head = config.encoder_attention_heads;
    const int64_t d = config.d_model;
    const int64_t hidden = w.proj_w.size(0);
    const int64_t n_pos = encoder_feature_length(valid_frames);  // valid positions after conv2
    const int64_t n_out = audio_output_length(valid_frames);     // pooled rows kept by HF
    const auto options = w.conv1_w.options();
    if (n_out == 0) return at::empty({0, hidden}, options);

    // conv2 output t reads conv1 outputs 2t-1..2t+1, conv1 output f reads frames f-1..f+1: the
    // first n_pos positions depend on frames 0..2*n_pos only. Later frames are cut off; positions
    // past n_pos (computed with zero padding instead of real frames) are dropped.
    const int64_t n_in = std::min(features.size(1), 2 * n_pos + 1);
    auto x = features.slice(1, 0, n_in).to(options).unsqueeze(0);  // [1, n_mels, n_in]
    // ref: Qwen2AudioEncoder.forward: gelu(conv1), gelu(conv2), + embed_positions.weight.
    x = at::gelu(at::conv1d(x, w.conv1_w, w.conv1_b, /*stride=*/1, /*padding=*/1));
    x = at::gelu(at::conv1d(x, w.conv2_w, w.conv2_b, /*stride=*/2, /*padding=*/1));
    x = x[0].slice(1, 0, n_pos).t().contiguous() + w.positions.slice(0, 0, n_pos);  // [T, d]
    for (const auto& layer : w.layers) x = encoder_layer(layer, x, n_head);

    // AvgPool1d(2, 2) over time, in float32 as HF does; rows < n_out read valid positions only.
    auto pooled = at::avg_pool1d(x.t().unsqueeze(0).to(at::kFloat), {2}, {2});  // [1, d, n_out]
    x = pooled[0].t().to(x.scalar_type());                                      // [n_out, d]
    x = at::layer_norm(x, {d}, w.ln_w, w.ln_b, kLayerNormEps);
    // ref: Qwen2AudioMultiModalProjector.forward.
    return at::linear(x, w.proj_w, w.proj_b);  // [n_out, hidden]
}

}  // namespace

int64_t encoder_feature_length(int64_t valid_frames) {
    if (valid_frames < 0) {
        invalid("negative valid frame count " + std::to_string(valid_frames));
    }
    return valid_frames == 0 ? 0 : (valid_frames - 1) / 2 + 1;  // Python floor division
}

at::Tensor encode_audio(const AudioTowerWeights& w, const AudioConfig& config,
                        const at::Tensor& features, int64_t valid_frames) {
    check_common(config, features);
    const int64_t n_frames = expected_frames(config);
    if (features.dim() != 2 || features.size(0) != config.num_mel_bins ||
        features.size(1) != n_frames) {
        invalid("clip features have shape " + shape_string(features.sizes()) + ", expected [" +
                    std::to_string(config.num_mel_bins) + ", " + std::to_string(n_frames) + "]",
                kPadHint);
    }
    check_valid_frames(config, valid_frames, "clip");
    return encode_clip(w, config, features, valid_frames);
}

at::Tensor encode_audio_batch(const AudioTowerWeights& w, const AudioConfig& config,
                              const at::Tensor& features, std::span<const int64_t> valid_frames) {
    check_common(config, features);
    const auto n_clips = static_cast<int64_t>(valid_frames.size());
    const int64_t n_frames = expected_frames(config);
    if (features.dim() != 3 || features.size(0) != n_clips ||
        features.size(1) != config.num_mel_bins || features.size(2) != n_frames) {
        invalid("batched features have shape " + shape_string(features.sizes()) + ", expected [" +
                    std::to_string(n_clips) + ", " + std::to_string(config.num_mel_bins) + ", " +
                    std::to_string(n_frames) + "] for " + std::to_string(n_clips) +
                    " valid frame counts",
                kPadHint);
    }
    for (std::size_t i = 0; i < valid_frames.size(); ++i) {
        check_valid_frames(config, valid_frames[i], "clip " + std::to_string(i));
    }
    std::vector<at::Tensor> parts;
    parts.reserve(valid_frames.size());
    for (std::size_t i = 0; i < valid_frames.size(); ++i) {
        parts.push_back(encode_clip(w, config, features[static_cast<int64_t>(i)], valid_frames[i]));
    }
    if (parts.empty()) return at::empty({0, w.proj_w.size(0)}, w.conv1_w.options());
    return at::cat(parts, 0);  // [sum of output lengths, hidden]
}

}  // namespace sarsteer::model
