#include "model/config.h"

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "sarsteer/error.h"

namespace sarsteer::model {
namespace {

using io::optional_field;
using nlohmann::json;

[[noreturn]] void invalid(const std::string& subject, const std::string& problem) {
    throw Error(ErrorKind::kCorruptInput, subject, problem);
}

void require_positive(int64_t value, const char* key, const std::string& subject) {
    if (value <= 0)
        invalid(subject, std::string(key) + " must be positive, got " + std::to_string(value));
}

TextConfig parse_text(const json& j, const std::string& subject) {
    if (!j.is_object()) invalid(subject, "text_config must be an object");
    TextConfig c;
    c.vocab_size = optional_field<int64_t>(j, "vocab_size", c.vocab_size, subject);
    c.hidden_size = optional_field<int64_t>(j, "hidden_size", c.hidden_size, subject);
    c.intermediate_size =
        optional_field<int64_t>(j, "intermediate_size", c.intermediate_size, subject);
    c.num_hidden_layers =
        optional_field<int64_t>(j, "num_hidden_layers", c.num_hidden_layers, subject);
    c.num_attention_heads =
        optional_field<int64_t>(j, "num_attention_heads", c.num_attention_heads, subject);
    c.num_key_value_heads =
        optional_field<int64_t>(j, "num_key_value_heads", c.num_attention_heads, subject);
    c.max_position_embeddings =
        optional_field<int64_t>(j, "max_position_embeddings", c.max_position_embeddings, subject);
    c.rms_norm_eps = optional_field<double>(j, "rms_norm_eps", c.rms_norm_eps, subject);
    c.rope_theta = optional_field<double>(j, "rope_theta", c.rope_theta, subject);
    c.tie_word_embeddings =
        optional_field<bool>(j, "tie_word_embeddings", c.tie_word_embeddings, subject);
    c.hidden_act = optional_field<std::string>(j, "hidden_act", c.hidden_act, subject);
    if (j.contains("bos_token_id") && !j["bos_token_id"].is_null()) {
        c.bos_token_id = io::required_field<int64_t>(j, "bos_token_id", subject);
    }
    if (j.contains("eos_token_id") && j["eos_token_id"].is_number_integer()) {
        c.eos_token_id = io::required_field<int64_t>(j, "eos_token_id", subject);
    }
    c.use_sliding_window =
        optional_field<bool>(j, "use_sliding_window", c.use_sliding_window, subject);
    c.sliding_window = optional_field<int64_t>(j, "sliding_window", c.sliding_window, subject);
    c.max_window_layers =
        optional_field<int64_t>(j, "max_window_layers", c.max_window_layers, subject);

    require_positive(c.vocab_size, "text_config.vocab_size", subject);
    require_positive(c.hidden_size, "text_config.hidden_size", subject);
    require_positive(c.intermediate_size, "text_config.intermediate_size", subject);
    require_positive(c.num_hidden_layers, "text_config.num_hidden_layers", subject);
    require_positive(c.num_attention_heads, "text_config.num_attention_heads", subject);
    require_positive(c.num_key_value_heads, "text_config.num_key_value_heads", subject);
    require_positive(c.max_position_embeddings, "text_config.max_position_embeddings", subject);
    if (!(c.rms_norm_eps > 0) || !(c.rope_theta > 0)) {
        invalid(subject, "rms_norm_eps and rope_theta must be positive");
    }
    if (j.contains("head_dim") && !j["head_dim"].is_null()) {
        c.head_dim = io::required_field<int64_t>(j, "head_dim", subject);
        require_positive(c.head_dim, "text_config.head_dim", subject);
    } else {
        if (c.hidden_size % c.num_attention_heads != 0) {
            invalid(subject, "hidden_size " + std::to_string(c.hidden_size) +
                                 " is not divisible by num_attention_heads " +
                                 std::to_string(c.num_attention_heads));
        }
        c.head_dim = c.hidden_size / c.num_attention_heads;
    }
    if (c.head_dim % 2 != 0) invalid(subject, "head_dim must be even for rotary embeddings");
    if (c.num_attention_heads % c.num_key_value_heads != 0) {
        invalid(subject, "num_attention_heads " + std::to_string(c.num_attention_heads) +
                             " is not a multiple of num_key_value_heads " +
                             std::to_string(c.num_key_value_heads));
    }
    if (c.hidden_act != "silu") {
        throw Error(ErrorKind::kUnsupported, subject,
                    "hidden_act \"" + c.hidden_act + "\" is not supported (Qwen2 uses \"silu\")");
    }
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
        throw Error(ErrorKind::kUnsupported, subject, "rope_scaling is not supported",
                    "the Qwen2 and Qwen2-Audio checkpoints use plain RoPE");
    }
    if (c.use_sliding_window) {
        throw Error(ErrorKind::kUnsupported, subject, "use_sliding_window=true is not supported");
    }
    return c;
}

AudioConfig parse_audio(const json& j, const std::string& subject) {
    if (!j.is_object()) invalid(subject, "audio_config must be an object");
    AudioConfig c;
    c.num_mel_bins = optional_field<int64_t>(j, "num_mel_bins", c.num_mel_bins, subject);
    c.encoder_layers = optional_field<int64_t>(j, "encoder_layers", c.encoder_layers, subject);
    c.encoder_attention_heads =
        optional_field<int64_t>(j, "encoder_attention_heads", c.encoder_attention_heads, subject);
    c.encoder_ffn_dim = optional_field<int64_t>(j, "encoder_ffn_dim", c.encoder_ffn_dim, subject);
    c.d_model = optional_field<int64_t>(j, "d_model", c.d_model, subject);
    c.max_source_positions =
        optional_field<int64_t>(j, "max_source_positions", c.max_source_positions, subject);
    c.activation_function =
        optional_field<std::string>(j, "activation_function", c.activation_function, subject);
    c.scale_embedding = optional_field<bool>(j, "scale_embedding", c.scale_embedding, subject);

    require_positive(c.num_mel_bins, "audio_config.num_mel_bins", subject);
    require_positive(c.encoder_layers, "audio_config.encoder_layers", subject);
    require_positive(c.encoder_attention_heads, "audio_config.encoder_attention_heads", subject);
    require_positive(c.encoder_ffn_dim, "audio_config.encoder_ffn_dim", subject);
    require_positive(c.d_model, "audio_config.d_model", subject);
    require_positive(c.max_source_positions, "audio_config.max_source_positions", subject);
    if (c.d_model % c.encoder_attention_heads != 0) {
        invalid(subject, "audio_config.d_model is not divisible by encoder_attention_heads");
    }
    if (c.activation_function != "gelu") {
        throw Error(ErrorKind::kUnsupported, subject,
                    "audio_config.activation_function \"" + c.activation_function +
                        "\" is not supported (Qwen2-Audio uses \"gelu\")");
    }
    return c;
}

}  // namespace

std::string_view model_type_name(ModelType type) {
    return type == ModelType::kQwen2Audio ? "qwen2_audio" : "qwen2";
}

ModelConfig ModelConfig::from_json(const json& j, const std::string& subject) {
    if (!j.is_object()) invalid(subject, "config must be a JSON object");
    const auto type = io::optional_field<std::string>(j, "model_type", "", subject);
    ModelConfig config;
    config.torch_dtype = optional_field<std::string>(j, "torch_dtype", "float32", subject);
    if (type == "qwen2_audio") {
        config.model_type = ModelType::kQwen2Audio;
        config.text =
            parse_text(j.contains("text_config") ? j["text_config"] : json::object(), subject);
        config.audio =
            parse_audio(j.contains("audio_config") ? j["audio_config"] : json::object(), subject);
        config.audio_token_index =
            optional_field<int64_t>(j, "audio_token_index", config.audio_token_index, subject);
        if (config.audio_token_index < 0 || config.audio_token_index >= config.text.vocab_size) {
            invalid(subject, "audio_token_index " + std::to_string(config.audio_token_index) +
                                 " is outside the vocabulary");
        }
    } else if (type == "qwen2") {
        config.model_type = ModelType::kQwen2;
        config.text = parse_text(j, subject);
    } else {
        throw Error(
            ErrorKind::kUnsupported, subject,
            type.empty() ? "config has no model_type" : "unsupported model_type \"" + type + "\"",
            "sarsteer runs \"qwen2_audio\" (Qwen2-Audio) and \"qwen2\" (Qwen2) checkpoints");
    }
    return config;
}

ModelConfig ModelConfig::load(const std::filesystem::path& path) {
    const auto file = std::filesystem::is_directory(path) ? path / "config.json" : path;
    return from_json(io::read_json_file(file), file.string());
}

json ModelConfig::to_json() const {
    const auto& t = text;
    json text_json = {
        {"model_type", "qwen2"},
        {"vocab_size", t.vocab_size},
        {"hidden_size", t.hidden_size},
        {"intermediate_size", t.intermediate_size},
        {"num_hidden_layers", t.num_hidden_layers},
        {"num_attention_heads", t.num_attention_heads},
        {"num_key_value_heads", t.num_key_value_heads},
        {"max_position_embeddings", t.max_position_embeddings},
        {"rms_norm_eps", t.rms_norm_eps},
        {"rope_theta", t.rope_theta},
        {"tie_word_embeddings", t.tie_word_embeddings},
        {"hidden_act", t.hidden_act},
        {"use_sliding_window", t.use_sliding_window},
        {"sliding_window", t.sliding_window},
        {"max_window_layers", t.max_window_layers},
        {"torch_dtype", torch_dtype},
    };
    if (t.head_dim != t.hidden_size / t.num_attention_heads) text_json["head_dim"] = t.head_dim;
    if (t.bos_token_id) text_json["bos_token_id"] = *t.bos_token_id;
    if (t.eos_token_id) text_json["eos_token_id"] = *t.eos_token_id;

    if (model_type == ModelType::kQwen2) {
        text_json["architectures"] = {"Qwen2ForCausalLM"};
        return text_json;
    }
    const auto& a = audio.value();
    return {
        {"architectures", {"Qwen2AudioForConditionalGeneration"}},
        {"model_type", "qwen2_audio"},
        {"audio_token_index", audio_token_index},
        {"vocab_size", t.vocab_size},
        {"torch_dtype", torch_dtype},
        {"audio_config",
         {{"model_type", "qwen2_audio_encoder"},
          {"num_mel_bins", a.num_mel_bins},
          {"encoder_layers", a.encoder_layers},
          {"encoder_attention_heads", a.encoder_attention_heads},
          {"encoder_ffn_dim", a.encoder_ffn_dim},
          {"d_model", a.d_model},
          {"max_source_positions", a.max_source_positions},
          {"activation_function", a.activation_function},
          {"scale_embedding", a.scale_embedding}}},
        {"text_config", text_json},
    };
}

}  // namespace sarsteer::model
