#include "model/qwen2_decoder.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "model/ops.h"

namespace sarsteer::model {
namespace {

// Additive attention mask [B, 1, 1, T, S] (broadcast over kv heads and query groups): causal
// within the sequence, padding keys masked. A padding query sees only itself, so its softmax
// stays finite (its output is never read). Undefined when nothing needs masking.
at::Tensor attention_mask(const at::Tensor& key_valid, int64_t n_past, int64_t n_new,
                          c10::ScalarType dtype) {
    const bool all_valid = key_valid.all().item<bool>();
    if (n_new == 1 && all_valid) return {};
    const auto device = key_valid.device();
    const int64_t n_key = n_past + n_new;
    const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
    const auto key_pos = at::arange(n_key, long_options).unsqueeze(0);            // [1, S]
    const auto query_pos = at::arange(n_past, n_key, long_options).unsqueeze(1);  // [T, 1]
    auto allowed = (key_pos <= query_pos).unsqueeze(0) & key_valid.unsqueeze(1);  // [B, T, S]
    if (!all_valid) {
        const auto query_is_pad = key_valid.narrow(1, n_past, n_new).logical_not().unsqueeze(2);
        allowed = allowed | ((key_pos == query_pos).unsqueeze(0) & query_is_pad);
    }
    const auto zero = at::zeros({}, at::TensorOptions().dtype(dtype).device(device));
    const auto neg_inf = at::full({}, -std::numeric_limits<double>::infinity(),
                                  at::TensorOptions().dtype(dtype).device(device));
    return at::where(allowed, zero, neg_inf).view({key_valid.size(0), 1, 1, n_new, n_key});
}

// ref: Qwen2Attention.forward (eager), with grouped-query attention computed per kv head
// instead of repeating keys (repeat_kv): query head h uses kv head h / n_rep either way.
at::Tensor self_attention(const DecoderLayerWeights& w, const TextConfig& c, const at::Tensor& x,
                          const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                          int64_t layer, KvCache& cache) {
    const int64_t n_batch = x.size(0), n_new = x.size(1);
    const int64_t n_head = c.num_attention_heads, n_kv_head = c.num_key_value_heads;
    const int64_t d_head = c.head_dim, n_rep = n_head / n_kv_head;

    auto q = ops::linear(x, w.q_w, w.q_b).view({n_batch, n_new, n_head, d_head}).transpose(1, 2);
    auto k = ops::linear(x, w.k_w, w.k_b).view({n_batch, n_new, n_kv_head, d_head}).transpose(1, 2);
    auto v = ops::linear(x, w.v_w, w.v_b).view({n_batch, n_new, n_kv_head, d_head}).transpose(1, 2);
    q = ops::apply_rope(q, cos, sin);                       // [B, H, T, d]
    k = ops::apply_rope(k, cos, sin);                       // [B, Hkv, T, d]
    const auto [keys, values] = cache.append(layer, k, v);  // [B, Hkv, S, d]
    const int64_t n_key = keys.size(2);

    const auto q_grouped = q.reshape({n_batch, n_kv_head, n_rep * n_new, d_head});
    auto scores = at::matmul(q_grouped, keys.transpose(2, 3)) *
                  (1.0 / std::sqrt(static_cast<double>(d_head)));
    if (mask.defined()) {
        scores = (scores.view({n_batch, n_kv_head, n_rep, n_new, n_key}) + mask)
                     .view({n_batch, n_kv_head, n_rep * n_new, n_key});
    }
    const auto probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    const auto out = at::matmul(probs, values)  // [B, Hkv, n_rep*T, d]
                         .view({n_batch, n_head, n_new, d_head})
                         .transpose(1, 2)
                         .reshape({n_batch, n_new, n_head * d_head});
    return ops::linear(out, w.o_w);
}

// ref: Qwen2MLP — down_proj(silu(gate_proj(x)) * up_proj(x)).
at::Tensor mlp(const DecoderLayerWeights& w, const at::Tensor& x) {
    return ops::linear(at::silu(ops::linear(x, w.gate_w)) * ops::linear(x, w.up_w), w.down_w);
}

}  // namespace

at::Tensor decoder_forward(const DecoderWeights& weights, const TextConfig& config,
                           const DecoderInput& input, KvCache& cache,
                           std::span<LayerHook* const> hooks) {
    const int64_t n_new = input.embeds.size(1);
    const auto dtype = input.embeds.scalar_type();
    const auto [cos, sin] =
        ops::rope_tables(input.positions, config.head_dim, config.rope_theta, dtype);
    const auto mask = attention_mask(input.key_valid, cache.length(), n_new, dtype);
    std::vector<int64_t> identity;
    if (input.seq_index.empty()) {
        identity.resize(static_cast<std::size_t>(input.embeds.size(0)));
        std::iota(identity.begin(), identity.end(), int64_t{0});
    }
    const ForwardInfo info{input.embeds.size(0), n_new, input.prefill, input.last_index,
                           input.seq_index.empty() ? identity : input.seq_index};

    auto h = input.embeds;
    for (std::size_t il = 0; il < weights.layers.size(); ++il) {
        const auto& w = weights.layers[il];
        const auto layer = static_cast<int64_t>(il);
        // ref: Qwen2DecoderLayer.forward
        auto residual = h;
        h = ops::rms_norm(h, w.input_ln_w, config.rms_norm_eps);
        h = residual + self_attention(w, config, h, cos, sin, mask, layer, cache);
        residual = h;
        h = residual + mlp(w, ops::rms_norm(h, w.post_attn_ln_w, config.rms_norm_eps));
        // The layer output, as a forward hook on model.layers[il] sees it.
        for (auto* hook : hooks) hook->on_layer_output(layer, h, info);
    }
    cache.advance(n_new);
    return ops::rms_norm(h, weights.norm_w, config.rms_norm_eps);
}

}  // namespace sarsteer::model
