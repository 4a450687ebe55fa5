#include "model/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::model {
namespace {

// The config.json of Qwen/Qwen2-Audio-7B-Instruct: sparse, relying on transformers' defaults.
constexpr const char* kQwen2AudioInstruct = R"({
  "architectures": ["Qwen2AudioForConditionalGeneration"],
  "audio_config": {"model_type": "qwen2_audio_encoder"},
  "audio_token_index": 151646,
  "model_type": "qwen2_audio",
  "text_config": {
    "bos_token_id": 151643, "eos_token_id": 151645, "intermediate_size": 11008,
    "max_position_embeddings": 8192, "model_type": "qwen2", "rms_norm_eps": 1e-05,
    "rope_theta": 10000, "sliding_window": 32768, "torch_dtype": "bfloat16",
    "use_mrope": false, "vocab_size": 156032
  },
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "vocab_size": 156032
})";

// The config.json of Qwen/Qwen2-7B-Instruct.
constexpr const char* kQwen2Instruct = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
  "intermediate_size": 18944, "max_position_embeddings": 32768, "max_window_layers": 28,
  "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28,
  "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 131072, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.41.2", "use_cache": true, "use_sliding_window": false,
  "vocab_size": 152064
})";

ModelConfig parse(const std::string& text) {
    return ModelConfig::from_json(nlohmann::json::parse(text), "config.json");
}

TEST(ModelConfig, Qwen2AudioInstructTakesTransformersDefaults) {
    const auto c = parse(kQwen2AudioInstruct);
    EXPECT_EQ(c.model_type, ModelType::kQwen2Audio);
    EXPECT_EQ(c.text.hidden_size, 4096);
    EXPECT_EQ(c.text.num_hidden_layers, 32);
    EXPECT_EQ(c.text.num_attention_heads, 32);
    EXPECT_EQ(c.text.num_key_value_heads, 32);
    EXPECT_EQ(c.text.head_dim, 128);
    EXPECT_EQ(c.text.intermediate_size, 11008);
    EXPECT_EQ(c.text.vocab_size, 156032);
    EXPECT_DOUBLE_EQ(c.text.rms_norm_eps, 1e-5);
    EXPECT_DOUBLE_EQ(c.text.rope_theta, 10000.0);
    EXPECT_FALSE(c.text.tie_word_embeddings);
    EXPECT_EQ(c.text.eos_token_id, 151645);
    ASSERT_TRUE(c.audio.has_value());
    EXPECT_EQ(c.audio->d_model, 1280);
    EXPECT_EQ(c.audio->encoder_layers, 32);
    EXPECT_EQ(c.audio->encoder_attention_heads, 20);
    EXPECT_EQ(c.audio->encoder_ffn_dim, 5120);
    EXPECT_EQ(c.audio->num_mel_bins, 128);
    EXPECT_EQ(c.audio->max_source_positions, 1500);
    EXPECT_EQ(c.audio_token_index, 151646);
    EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(ModelConfig, PlainQwen2) {
    const auto c = parse(kQwen2Instruct);
    EXPECT_EQ(c.model_type, ModelType::kQwen2);
    EXPECT_FALSE(c.audio.has_value());
    EXPECT_EQ(c.text.hidden_size, 3584);
    EXPECT_EQ(c.text.num_key_value_heads, 4);
    EXPECT_EQ(c.text.head_dim, 128);
    EXPECT_DOUBLE_EQ(c.text.rope_theta, 1e6);
}

TEST(ModelConfig, ToJsonRoundTrips) {
    for (const auto* text : {kQwen2AudioInstruct, kQwen2Instruct}) {
        const auto c = parse(text);
        const auto again = ModelConfig::from_json(c.to_json(), "round-trip");
        EXPECT_EQ(again.to_json(), c.to_json());
        EXPECT_EQ(again.text.head_dim, c.text.head_dim);
    }
}

void expect_rejected(const std::string& text, ErrorKind kind, const std::string& needle) {
    try {
        parse(text);
        FAIL() << "accepted: " << text;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        EXPECT_EQ(e.subject(), "config.json");
    }
}

TEST(ModelConfig, RejectsWhatItCannotRun) {
    expect_rejected(R"({"model_type": "llama"})", ErrorKind::kUnsupported,
                    "unsupported model_type \"llama\"");
    expect_rejected(R"({})", ErrorKind::kUnsupported, "no model_type");
    expect_rejected(R"({"model_type": "qwen2", "hidden_size": 100, "num_attention_heads": 3})",
                    ErrorKind::kCorruptInput, "not divisible");
    expect_rejected(
        R"({"model_type": "qwen2", "num_attention_heads": 32, "num_key_value_heads": 5})",
        ErrorKind::kCorruptInput, "multiple of num_key_value_heads");
    expect_rejected(R"({"model_type": "qwen2", "num_hidden_layers": 0})", ErrorKind::kCorruptInput,
                    "must be positive");
    expect_rejected(R"({"model_type": "qwen2", "hidden_size": "big"})", ErrorKind::kCorruptInput,
                    "hidden_size");
    expect_rejected(R"({"model_type": "qwen2", "rope_scaling": {"type": "yarn"}})",
                    ErrorKind::kUnsupported, "rope_scaling");
    expect_rejected(R"({"model_type": "qwen2_audio", "audio_token_index": 999999})",
                    ErrorKind::kCorruptInput, "outside the vocabulary");
    expect_rejected(
        R"({"model_type": "qwen2_audio", "audio_config": {"activation_function": "relu"}})",
        ErrorKind::kUnsupported, "relu");
}

TEST(ModelConfig, LoadNamesTheFile) {
    sarsteer::testing::ScratchDir dir("config");
    std::ofstream(dir / "config.json") << R"({"model_type": "whisper"})";
    try {
        ModelConfig::load(dir.path());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(
            std::string(e.what()).find((dir / "config.json").string() + ": unsupported model_type"),
            std::string::npos)
            << e.what();
    }
    EXPECT_THROW(ModelConfig::load(dir / "missing"), Error);
}

}  // namespace
}  // namespace sarsteer::model
