// Weights of Qwen2-Audio (audio tower, projector, Qwen2 decoder) and of plain Qwen2, as plain
// structs of tensors. for_each_tensor() is the one table of Hugging Face tensor names and shapes:
// loading, make-tiny and the name/shape tests all walk it, so a name is written exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/config.h"

namespace sarsteer::model {

// ref: transformers/models/qwen2_audio/modeling_qwen2_audio.py (Qwen2AudioEncoderLayer,
// Whisper-style pre-LN block; k_proj has no bias).
struct EncoderLayerWeights {
    at::Tensor q_w, q_b, k_w, v_w, v_b, o_w, o_b;  // self_attn.{q,k,v,out}_proj
    at::Tensor attn_ln_w, attn_ln_b;               // self_attn_layer_norm
    at::Tensor fc1_w, fc1_b, fc2_w, fc2_b;         // fc1 [ffn, d], fc2 [d, ffn]
    at::Tensor final_ln_w, final_ln_b;             // final_layer_norm
};

struct AudioTowerWeights {
    at::Tensor conv1_w, conv1_b;  // [d, n_mels, 3]
    at::Tensor conv2_w, conv2_b;  // [d, d, 3], stride 2
    at::Tensor positions;         // embed_positions.weight [max_source_positions, d]
    std::vector<EncoderLayerWeights> layers;
    at::Tensor ln_w, ln_b;      // layer_norm (after the average pooling)
    at::Tensor proj_w, proj_b;  // multi_modal_projector.linear [hidden, d]
};

// ref: transformers/models/qwen2/modeling_qwen2.py (Qwen2DecoderLayer).
struct DecoderLayerWeights {
    at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w;  // self_attn; o_proj has no bias
    at::Tensor gate_w, up_w, down_w;               // mlp (SwiGLU)
    at::Tensor input_ln_w, post_attn_ln_w;         // RMSNorm weights
};

struct DecoderWeights {
    at::Tensor embed_tokens;  // [vocab, hidden]
    std::vector<DecoderLayerWeights> layers;
    at::Tensor norm_w;
    at::Tensor lm_head;  // [vocab, hidden]; the embedding itself when tie_word_embeddings
};

struct ModelWeights {
    std::optional<AudioTowerWeights> audio;  // qwen2_audio only
    DecoderWeights decoder;
};

// One entry of the tensor table.
struct TensorSpec {
    std::string name;            // HF checkpoint key, verbatim
    std::vector<int64_t> shape;  // expected shape
    at::Tensor* slot;            // where the loaded tensor goes (null when only listing)
};

// Calls `visit` for every tensor the checkpoint of `config` must hold, in a fixed order.
// `weights` may be null to list names and shapes only. The tied lm_head is not listed.
void for_each_tensor(const ModelConfig& config, ModelWeights* weights,
                     const std::function<void(const TensorSpec&)>& visit);

}  // namespace sarsteer::model
