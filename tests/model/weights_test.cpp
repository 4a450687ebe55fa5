// The tensor table checked without weights (names, shapes, counts of the real checkpoints), and
// loading checked against make-tiny checkpoints and broken ones.
#include "model/weights.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "model/load.h"
#include "model/make_tiny.h"
#include "model/tensor_io.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"
#include "test_support.h"

namespace sarsteer::model {
namespace {

std::map<std::string, std::vector<int64_t>> table_of(const ModelConfig& config) {
    std::map<std::string, std::vector<int64_t>> table;
    for_each_tensor(config, nullptr, [&](const TensorSpec& spec) {
        EXPECT_TRUE(table.emplace(spec.name, spec.shape).second) << "listed twice: " << spec.name;
    });
    return table;
}

ModelConfig qwen2_audio_7b() {
    return ModelConfig::from_json(nlohmann::json::parse(R"({
        "model_type": "qwen2_audio", "audio_config": {"model_type": "qwen2_audio_encoder"},
        "audio_token_index": 151646,
        "text_config": {"intermediate_size": 11008, "max_position_embeddings": 8192,
                        "model_type": "qwen2", "rms_norm_eps": 1e-05, "vocab_size": 156032}})"),
                                  "config.json");
}

TEST(WeightTable, MatchesTheRealQwen2Audio7B) {
    const auto table = table_of(qwen2_audio_7b());
    EXPECT_EQ(table.size(), 876u);  // 489 audio tower + projector, 387 language model
    int64_t n_params = 0;
    for (const auto& [name, shape] : table) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        n_params += n;
    }
    EXPECT_EQ(n_params, 8397094912);  // Qwen2-Audio-7B's 8.4 B parameters
    EXPECT_EQ(table.at("audio_tower.conv1.weight"), (std::vector<int64_t>{1280, 128, 3}));
    EXPECT_EQ(table.at("audio_tower.embed_positions.weight"), (std::vector<int64_t>{1500, 1280}));
    EXPECT_EQ(table.at("audio_tower.layers.31.fc1.weight"), (std::vector<int64_t>{5120, 1280}));
    EXPECT_FALSE(table.contains("audio_tower.layers.0.self_attn.k_proj.bias"));  // Whisper: none
    EXPECT_TRUE(table.contains("audio_tower.layers.0.self_attn.v_proj.bias"));
    EXPECT_EQ(table.at("multi_modal_projector.linear.weight"), (std::vector<int64_t>{4096, 1280}));
    EXPECT_EQ(table.at("language_model.model.embed_tokens.weight"),
              (std::vector<int64_t>{156032, 4096}));
    EXPECT_EQ(table.at("language_model.model.layers.31.self_attn.k_proj.weight"),
              (std::vector<int64_t>{4096, 4096}));
    EXPECT_FALSE(table.contains("language_model.model.layers.0.self_attn.o_proj.bias"));
    EXPECT_EQ(table.at("language_model.lm_head.weight"), (std::vector<int64_t>{156032, 4096}));
}

TEST(WeightTable, PlainQwen2UsesGroupedQueryShapesAndTies) {
    auto config = ModelConfig::from_json(nlohmann::json::parse(R"({
        "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944,
        "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
        "vocab_size": 152064})"),
                                         "config.json");
    auto table = table_of(config);
    EXPECT_EQ(table.at("model.layers.27.self_attn.k_proj.weight"),
              (std::vector<int64_t>{512, 3584}));
    EXPECT_EQ(table.at("model.layers.27.self_attn.q_proj.bias"), (std::vector<int64_t>{3584}));
    EXPECT_TRUE(table.contains("lm_head.weight"));
    EXPECT_FALSE(table.contains("audio_tower.conv1.weight"));
    config.text.tie_word_embeddings = true;
    EXPECT_FALSE(table_of(config).contains("lm_head.weight"));
}

class TinyCheckpoint : public ::testing::Test {
protected:
    sarsteer::testing::ScratchDir dir_{"tiny"};
};

TEST_F(TinyCheckpoint, LoadsBackTheWeightsItWrote) {
    const auto config = make_tiny(dir_.path(), {.seed = 7});
    const auto loaded = ModelConfig::load(dir_.path());
    EXPECT_EQ(loaded.to_json(), config.to_json());
    for (const char* file : {"vocab.json", "merges.txt", "tokenizer_config.json",
                             "preprocessor_config.json", "generation_config.json"}) {
        EXPECT_TRUE(std::filesystem::exists(dir_ / file)) << file;
    }
    const auto checkpoint = io::Checkpoint::open(dir_.path());
    auto weights = load_weights(loaded, checkpoint, {});
    auto expected = random_weights(config, 7);
    std::size_t n = 0;
    for_each_tensor(config, &weights, [&](const TensorSpec& spec) {
        const auto* view = checkpoint.find(spec.name);
        ASSERT_NE(view, nullptr) << spec.name;
        // f32 CPU weights are used in place: the tensor is a view of the mapped file.
        EXPECT_EQ(spec.slot->data_ptr(), static_cast<const void*>(view->bytes.data())) << spec.name;
        ++n;
    });
    for_each_tensor(config, &expected, [&](const TensorSpec& spec) {
        EXPECT_TRUE(at::equal(*spec.slot, tensor_from_view(checkpoint.at(spec.name)))) << spec.name;
    });
    EXPECT_EQ(n, checkpoint.size());
    EXPECT_GT(config.text.vocab_size, Tokenizer::load(dir_.path()).n_vocab());
}

TEST_F(TinyCheckpoint, Bf16IsConvertedOnceAtLoad) {
    const auto config = make_tiny(dir_.path(), {.seed = 3, .dtype = TinyDType::kBF16});
    EXPECT_EQ(config.torch_dtype, "bfloat16");
    const auto checkpoint = io::Checkpoint::open(dir_.path());
    EXPECT_EQ(checkpoint.at("language_model.model.norm.weight").dtype, io::DType::kBF16);
    const auto weights = load_weights(config, checkpoint, {});
    EXPECT_EQ(weights.decoder.embed_tokens.scalar_type(), at::kFloat);
    const auto expected =
        random_weights(config, 3).decoder.embed_tokens.to(at::kBFloat16).to(at::kFloat);
    EXPECT_TRUE(at::equal(weights.decoder.embed_tokens, expected));
}

// Rewrites model.safetensors with `edit` applied to the tensor map.
void rewrite(const std::filesystem::path& dir,
             const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
    std::map<std::string, at::Tensor> tensors;
    {
        const auto file = io::SafetensorsFile::open(dir / "model.safetensors");
        for (const auto& view : file.tensors()) tensors[view.name] = tensor_from_view(view).clone();
    }
    edit(tensors);
    io::SafetensorsWriter writer;
    for (const auto& [name, t] : tensors) add_tensor(writer, name, t);
    writer.write(dir / "model.safetensors");
}

void expect_load_error(const std::filesystem::path& dir, const std::string& needle) {
    const auto config = ModelConfig::load(dir);
    try {
        load_weights(config, io::Checkpoint::open(dir), {});
        FAIL() << "loaded despite: " << needle;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
    }
}

TEST_F(TinyCheckpoint, MissingExtraAndMisShapedTensorsAreErrors) {
    make_tiny(dir_.path());
    const std::string name = "language_model.model.layers.1.mlp.up_proj.weight";
    rewrite(dir_.path(), [&](auto& t) { t.erase(name); });
    expect_load_error(dir_.path(), "missing tensor \"" + name + "\"");

    make_tiny(dir_.path());
    rewrite(dir_.path(),
            [&](auto& t) { t["language_model.model.layers.9.extra"] = at::zeros({2}); });
    expect_load_error(dir_.path(), "unexpected tensor \"language_model.model.layers.9.extra\"");

    make_tiny(dir_.path());
    rewrite(dir_.path(), [&](auto& t) { t[name] = at::zeros({3, 3}); });
    expect_load_error(dir_.path(), "has shape [3, 3], config.json implies [128, 64]");

    make_tiny(dir_.path());
    rewrite(dir_.path(), [&](auto& t) { t[name] = at::zeros({128, 64}, at::kLong); });
    expect_load_error(dir_.path(), "expected a float type");
}

}  // namespace
}  // namespace sarsteer::model
