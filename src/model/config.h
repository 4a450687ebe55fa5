// config.json of a Hugging Face checkpoint: `qwen2_audio` (Qwen2AudioForConditionalGeneration:
// audio_config + text_config) and plain `qwen2` (Qwen2ForCausalLM) models.
//
// Field names are the HF JSON keys verbatim. Absent keys take the defaults of transformers'
// Qwen2Config / Qwen2AudioEncoderConfig, because real checkpoints rely on them: the
// Qwen2-Audio-7B-Instruct config.json omits hidden_size (4096), num_hidden_layers (32) and the
// whole encoder geometry (whisper-large-v3's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace sarsteer::model {

// ref: transformers/models/qwen2/configuration_qwen2.py (Qwen2Config defaults)
struct TextConfig {
    int64_t vocab_size = 151936;
    int64_t hidden_size = 4096;
    int64_t intermediate_size = 22016;
    int64_t num_hidden_layers = 32;
    int64_t num_attention_heads = 32;
    int64_t num_key_value_heads = 32;  // HF: defaults to num_attention_heads when absent
    int64_t head_dim = 128;            // HF: hidden_size / num_attention_heads when absent
    int64_t max_position_embeddings = 32768;
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    bool tie_word_embeddings = false;
    std::string hidden_act = "silu";
    std::optional<int64_t> bos_token_id;
    std::optional<int64_t> eos_token_id;
    bool use_sliding_window = false;
    int64_t sliding_window = 4096;
    int64_t max_window_layers = 28;
};

// ref: transformers/models/qwen2_audio/configuration_qwen2_audio.py (Qwen2AudioEncoderConfig)
struct AudioConfig {
    int64_t num_mel_bins = 128;
    int64_t encoder_layers = 32;
    int64_t encoder_attention_heads = 20;
    int64_t encoder_ffn_dim = 5120;
    int64_t d_model = 1280;
    int64_t max_source_positions = 1500;
    std::string activation_function = "gelu";
    bool scale_embedding = false;
};

enum class ModelType { kQwen2Audio, kQwen2 };

std::string_view model_type_name(ModelType type);  // "qwen2_audio", "qwen2"

struct ModelConfig {
    ModelType model_type = ModelType::kQwen2Audio;
    TextConfig text;
    std::optional<AudioConfig> audio;  // set for qwen2_audio only
    int64_t audio_token_index = 151646;
    std::string torch_dtype = "float32";

    // Reads `<dir>/config.json` (or a path to the file itself) and validates it.
    // Throws Error naming the file: unknown model_type is kUnsupported, inconsistent
    // geometry kCorruptInput.
    static ModelConfig load(const std::filesystem::path& path);
    static ModelConfig from_json(const nlohmann::json& json, const std::string& subject);

    // The config.json text HF would write for this model (real key names and nesting).
    nlohmann::json to_json() const;
};

}  // namespace sarsteer::model
