#include "model/weights.h"

namespace sarsteer::model {
namespace {

// Emits specs for one model; `w` may be null.
class TableWriter {
public:
    explicit TableWriter(const std::function<void(const TensorSpec&)>& visit) : visit_(visit) {}
    void operator()(std::string name, std::vector<int64_t> shape, at::Tensor* slot) const {
        visit_(TensorSpec{std::move(name), std::move(shape), slot});
    }

private:
    const std::function<void(const TensorSpec&)>& visit_;
};

void audio_table(const AudioConfig& a, int64_t hidden, AudioTowerWeights* w,
                 const TableWriter& add) {
    const int64_t d = a.d_model, ffn = a.encoder_ffn_dim;
    const std::string t = "audio_tower.";
    add(t + "conv1.weight", {d, a.num_mel_bins, 3}, w ? &w->conv1_w : nullptr);
    add(t + "conv1.bias", {d}, w ? &w->conv1_b : nullptr);
    add(t + "conv2.weight", {d, d, 3}, w ? &w->conv2_w : nullptr);
    add(t + "conv2.bias", {d}, w ? &w->conv2_b : nullptr);
    add(t + "embed_positions.weight", {a.max_source_positions, d}, w ? &w->positions : nullptr);
    for (int64_t il = 0; il < a.encoder_layers; ++il) {
        auto* l = w ? &w->layers[static_cast<std::size_t>(il)] : nullptr;
        const std::string p = t + "layers." + std::to_string(il) + ".";
        add(p + "self_attn.q_proj.weight", {d, d}, l ? &l->q_w : nullptr);
        add(p + "self_attn.q_proj.bias", {d}, l ? &l->q_b : nullptr);
        add(p + "self_attn.k_proj.weight", {d, d}, l ? &l->k_w : nullptr);
        add(p + "self_attn.v_proj.weight", {d, d}, l ? &l->v_w : nullptr);
        add(p + "self_attn.v_proj.bias", {d}, l ? &l->v_b : nullptr);
        add(p + "self_attn.out_proj.weight", {d, d}, l ? &l->o_w : nullptr);
        add(p + "self_attn.out_proj.bias", {d}, l ? &l->o_b : nullptr);
        add(p + "self_attn_layer_norm.weight", {d}, l ? &l->attn_ln_w : nullptr);
        add(p + "self_attn_layer_norm.bias", {d}, l ? &l->attn_ln_b : nullptr);
        add(p + "fc1.weight", {ffn, d}, l ? &l->fc1_w : nullptr);
        add(p + "fc1.bias", {ffn}, l ? &l->fc1_b : nullptr);
        add(p + "fc2.weight", {d, ffn}, l ? &l->fc2_w : nullptr);
        add(p + "fc2.bias", {d}, l ? &l->fc2_b : nullptr);
        add(p + "final_layer_norm.weight", {d}, l ? &l->final_ln_w : nullptr);
        add(p + "final_layer_norm.bias", {d}, l ? &l->final_ln_b : nullptr);
    }
    add(t + "layer_norm.weight", {d}, w ? &w->ln_w : nullptr);
    add(t + "layer_norm.bias", {d}, w ? &w->ln_b : nullptr);
    add("multi_modal_projector.linear.weight", {hidden, d}, w ? &w->proj_w : nullptr);
    add("multi_modal_projector.linear.bias", {hidden}, w ? &w->proj_b : nullptr);
}

// `model_prefix` is "language_model.model." for Qwen2-Audio and "model." for Qwen2;
// `head_name` the lm_head key.
void decoder_table(const TextConfig& c, const std::string& model_prefix,
                   const std::string& head_name, DecoderWeights* w, const TableWriter& add) {
    const int64_t h = c.hidden_size, q_dim = c.num_attention_heads * c.head_dim,
                  kv_dim = c.num_key_value_heads * c.head_dim, ffn = c.intermediate_size;
    add(model_prefix + "embed_tokens.weight", {c.vocab_size, h}, w ? &w->embed_tokens : nullptr);
    for (int64_t il = 0; il < c.num_hidden_layers; ++il) {
        auto* l = w ? &w->layers[static_cast<std::size_t>(il)] : nullptr;
        const std::string p = model_prefix + "layers." + std::to_string(il) + ".";
        add(p + "self_attn.q_proj.weight", {q_dim, h}, l ? &l->q_w : nullptr);
        add(p + "self_attn.q_proj.bias", {q_dim}, l ? &l->q_b : nullptr);
        add(p + "self_attn.k_proj.weight", {kv_dim, h}, l ? &l->k_w : nullptr);
        add(p + "self_attn.k_proj.bias", {kv_dim}, l ? &l->k_b : nullptr);
        add(p + "self_attn.v_proj.weight", {kv_dim, h}, l ? &l->v_w : nullptr);
        add(p + "self_attn.v_proj.bias", {kv_dim}, l ? &l->v_b : nullptr);
        add(p + "self_attn.o_proj.weight", {h, q_dim}, l ? &l->o_w : nullptr);
        add(p + "mlp.gate_proj.weight", {ffn, h}, l ? &l->gate_w : nullptr);
        add(p + "mlp.up_proj.weight", {ffn, h}, l ? &l->up_w : nullptr);
        add(p + "mlp.down_proj.weight", {h, ffn}, l ? &l->down_w : nullptr);
        add(p + "input_layernorm.weight", {h}, l ? &l->input_ln_w : nullptr);
        add(p + "post_attention_layernorm.weight", {h}, l ? &l->post_attn_ln_w : nullptr);
    }
    add(model_prefix + "norm.weight", {h}, w ? &w->norm_w : nullptr);
    if (!c.tie_word_embeddings) add(head_name, {c.vocab_size, h}, w ? &w->lm_head : nullptr);
}

}  // namespace

void for_each_tensor(const ModelConfig& config, ModelWeights* weights,
                     const std::function<void(const TensorSpec&)>& visit) {
    const TableWriter add(visit);
    if (weights != nullptr) {
        weights->decoder.layers.resize(static_cast<std::size_t>(config.text.num_hidden_layers));
        if (config.audio) {
            if (!weights->audio) weights->audio.emplace();
            weights->audio->layers.resize(static_cast<std::size_t>(config.audio->encoder_layers));
        }
    }
    if (config.model_type == ModelType::kQwen2Audio) {
        audio_table(*config.audio, config.text.hidden_size, weights ? &*weights->audio : nullptr,
                    add);
        decoder_table(config.text, "language_model.model.", "language_model.lm_head.weight",
                      weights ? &weights->decoder : nullptr, add);
    } else {
        decoder_table(config.text, "model.", "lm_head.weight",
                      weights ? &weights->decoder : nullptr, add);
    }
}

}  // namespace sarsteer::model
