// `sarsteer make-tiny`: a tiny random Qwen2-Audio checkpoint in the exact Hugging Face layout of
// Qwen2-Audio-7B-Instruct (config.json keys, tensor names, tokenizer files with the real added
// tokens and chat template, preprocessor and generation configs). Tests and the demo run on it.
#pragma once

#include <cstdint>
#include <filesystem>

#include "model/config.h"
#include "model/weights.h"
#include "sarsteer/tokenizer.h"

namespace sarsteer::model {

enum class TinyDType { kF32, kBF16 };

struct TinyOptions {
    uint64_t seed = 0;
    TinyDType dtype = TinyDType::kF32;
    bool text_only = false;  // a plain `qwen2` checkpoint (Qwen2ForCausalLM names) instead
};

// The tiny geometry: whisper-style encoder (2 layers, d_model 32), Qwen2 decoder (4 layers,
// hidden 64, 4 heads with 2 kv heads), vocabulary rows beyond the tokenizer's ids like the real
// checkpoint's.
ModelConfig tiny_config(int64_t n_token_ids, int64_t audio_token_id, int64_t endoftext_id,
                        int64_t im_end_id);

// Writes the tiny tokenizer into `dir` and returns it with the tiny config that fits it: where
// make_tiny starts, and what benchmarks enlarge to other geometries.
struct TinyParts {
    ModelConfig config;
    Tokenizer tokenizer;
};
TinyParts write_tiny_tokenizer_and_config(const std::filesystem::path& dir);

// Qwen2-0.5B's decoder geometry (hidden 896, 24 layers, 14 heads / 2 kv heads, ffn 4864, rope
// theta 1e6, tied embeddings); the vocabulary size is left as it is. Benchmarks use it.
void set_qwen2_0_5b_geometry(TextConfig& text);

// Writes the checkpoint into `dir` (created if needed). Returns its config.
ModelConfig make_tiny(const std::filesystem::path& dir, const TinyOptions& options = {});

// Writes random weights (see random_weights) for any config as `dir`/model.safetensors plus
// config.json; benchmarks use it for full-size geometries. Tokenizer files are not written.
void write_random_checkpoint(const std::filesystem::path& dir, const ModelConfig& config,
                             uint64_t seed, TinyDType dtype = TinyDType::kF32);

// Writes `weights` (any dtype/device; stored as f32 or bf16) as `dir`/model.safetensors plus
// config.json. The organism trainer saves through it.
void write_checkpoint(const std::filesystem::path& dir, const ModelConfig& config,
                      ModelWeights weights, TinyDType dtype = TinyDType::kF32);

// preprocessor_config.json (Qwen2-Audio's WhisperFeatureExtractor settings) and
// generation_config.json (the real checkpoint's sampling defaults with this tokenizer's ids).
void write_audio_side_files(const std::filesystem::path& dir, const ModelConfig& config,
                            const Tokenizer& tokenizer);

}  // namespace sarsteer::model
