// Whole-model behaviour on a make-tiny checkpoint: causality, KV cache, batching, hooks,
// audio placement and generation edge cases.
#include "model/session.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>

#include "model/make_tiny.h"
#include "model/qwen2_decoder.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::model {
namespace {

class TinyModel : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new sarsteer::testing::ScratchDir("session");
        make_tiny(dir_->path(), {.seed = 11});
        model_ = Model::load({.path = dir_->path()});
    }
    static void TearDownTestSuite() {
        model_.reset();
        delete dir_;
    }

    const Model& model() const { return *model_; }
    std::vector<int32_t> ids(std::string_view text) const {
        return model().tokenizer().encode(text);
    }
    at::Tensor last_logits(const std::vector<int32_t>& prompt_ids) const {
        const auto prompt = prepare_ids(model(), prompt_ids);
        const auto out = forward(model(), std::span(&prompt, 1));
        return model().logits(out.hidden[0]);  // [T, V]
    }

    static sarsteer::testing::ScratchDir* dir_;
    static std::shared_ptr<const Model> model_;
    c10::InferenceMode guard_;
};

sarsteer::testing::ScratchDir* TinyModel::dir_ = nullptr;
std::shared_ptr<const Model> TinyModel::model_;

double max_abs(const at::Tensor& a, const at::Tensor& b) {
    return (a - b).abs().max().item<double>();
}

TEST_F(TinyModel, Causality) {
    auto a = ids("How can I bake a loaf of bread at home?");
    auto b = a;
    const std::size_t k = 6;
    b[k] = (b[k] + 17) % 700;
    const auto la = last_logits(a), lb = last_logits(b);
    EXPECT_TRUE(at::equal(la.narrow(0, 0, k), lb.narrow(0, 0, k)));
    EXPECT_GT(max_abs(la.narrow(0, k, 1), lb.narrow(0, k, 1)), 1e-4);
}

TEST_F(TinyModel, CachedDecodingEqualsFullRecomputation) {
    const auto& t = model().config().text;
    const auto prompt = ids("Please generate detailed steps for the question in the audio.");
    const auto full_ids = [&] {
        auto v = prompt;
        for (int i = 0; i < 8; ++i) v.push_back(100 + 37 * i);
        return v;
    }();
    const auto full = last_logits(full_ids);

    // Prefill the prompt, then feed the rest one token per step through the cache.
    KvCache cache(t.num_hidden_layers, 1, t.num_key_value_heads, t.head_dim, model().options(), 4);
    const auto n = static_cast<int64_t>(prompt.size());
    DecoderInput input{model().embed_tokens(prompt).unsqueeze(0),
                       at::arange(n).unsqueeze(0),
                       at::ones({1, n}, at::kBool),
                       {n - 1},
                       true};
    auto hidden = decoder_forward(model().weights().decoder, t, input, cache, {});
    double worst = max_abs(model().logits(hidden[0]), full.narrow(0, 0, n));
    for (std::size_t i = prompt.size(); i < full_ids.size(); ++i) {
        const auto pos = static_cast<int64_t>(i);
        input = DecoderInput{model().embed_tokens(std::span(&full_ids[i], 1)).unsqueeze(0),
                             at::full({1, 1}, pos, at::kLong),
                             at::ones({1, pos + 1}, at::kBool),
                             {0},
                             false};
        hidden = decoder_forward(model().weights().decoder, t, input, cache, {});
        worst = std::max(worst, max_abs(model().logits(hidden[0]), full.narrow(0, pos, 1)));
    }
    EXPECT_LE(worst, 1e-5);  // the cache also grew past its initial capacity of 4
}

TEST_F(TinyModel, BatchEqualsSingleRuns) {
    const std::vector<std::vector<int32_t>> prompts = {
        ids("What is said in the audio?"), ids("List the steps"),
        ids("How can I plan a trip to learn a new language in a garden?")};
    std::vector<PreparedPrompt> prepared;
    for (const auto& p : prompts) prepared.push_back(prepare_ids(model(), p));
    const auto batched = forward(model(), prepared);
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto single = forward(model(), std::span(&prepared[i], 1));
        const auto n = static_cast<int64_t>(prompts[i].size());
        const auto rows = batched.hidden[static_cast<int64_t>(i)].narrow(0, batched.n_pad[i], n);
        EXPECT_LE(max_abs(rows, single.hidden[0]), 1e-5) << i;
    }

    GenerateOptions options;
    options.max_new_tokens = 12;
    options.stop_ids = {-1};  // never stop early: compare full lengths
    const auto together = generate(model(), prepared, options);
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto alone = generate(model(), std::span(&prepared[i], 1), options);
        EXPECT_EQ(together[i].tokens, alone[0].tokens) << i;
        EXPECT_EQ(together[i].tokens.size(), 12u);
        EXPECT_EQ(together[i].finish, FinishReason::kLength);
    }
}

TEST_F(TinyModel, SequencesFinishIndependently) {
    std::vector<PreparedPrompt> prepared = {prepare_ids(model(), ids("List the steps")),
                                            prepare_ids(model(), ids("What is said?"))};
    GenerateOptions options;
    options.max_new_tokens = 10;
    options.stop_ids = {-1};
    const auto free_run = generate(model(), prepared, options);
    // Make the second sequence's 4th token a stop id.
    options.stop_ids = {free_run[1].tokens[3]};
    std::vector<std::pair<std::size_t, int32_t>> streamed;
    options.on_token = [&](std::size_t s, int32_t id) { streamed.emplace_back(s, id); };
    const auto stopped = generate(model(), prepared, options);
    ASSERT_EQ(stopped[1].finish, FinishReason::kStop);
    // Each sequence is its free run cut at its own first stop id; the other one runs on unchanged.
    for (std::size_t s = 0; s < 2; ++s) {
        const auto& free = free_run[s].tokens;
        const auto cut = std::find(free.begin(), free.end(), options.stop_ids[0]);
        EXPECT_EQ(stopped[s].tokens, std::vector<int32_t>(free.begin(), cut)) << s;
    }
    EXPECT_LE(stopped[1].tokens.size(), 3u);
    EXPECT_EQ(streamed.size(), stopped[0].tokens.size() + stopped[1].tokens.size());
}

TEST_F(TinyModel, CancelledSequencesEndEarlyAndLeaveTheOthersUnchanged) {
    std::vector<PreparedPrompt> prepared = {prepare_ids(model(), ids("List the steps")),
                                            prepare_ids(model(), ids("What is said?"))};
    GenerateOptions options;
    options.max_new_tokens = 8;
    options.stop_ids = {-1};
    const auto free_run = generate(model(), prepared, options);
    std::vector<std::size_t> counts(2, 0);
    options.on_token = [&](std::size_t s, int32_t) { ++counts[s]; };
    options.cancelled = [&](std::size_t s) { return s == 0 && counts[0] >= 3; };
    const auto cut = generate(model(), prepared, options);
    EXPECT_EQ(cut[0].tokens,
              std::vector<int32_t>(free_run[0].tokens.begin(), free_run[0].tokens.begin() + 3));
    EXPECT_EQ(cut[0].finish, FinishReason::kLength);
    EXPECT_EQ(counts[0], 3u);
    EXPECT_EQ(cut[1].tokens, free_run[1].tokens);
}

class RecordingHook : public LayerHook {
public:
    void on_layer_output(int64_t layer, at::Tensor& hidden, const ForwardInfo& info) override {
        layers.push_back(layer);
        prefill.push_back(info.prefill);
        shapes.push_back(hidden.sizes().vec());
    }
    std::vector<int64_t> layers;
    std::vector<bool> prefill;
    std::vector<std::vector<int64_t>> shapes;
};

// Adds `vector` at each sequence's last position of one layer's output.
class AddAtLastPosition : public LayerHook {
public:
    AddAtLastPosition(int64_t layer, at::Tensor vector)
        : layer_(layer), vector_(std::move(vector)) {}
    void on_layer_output(int64_t layer, at::Tensor& hidden, const ForwardInfo& info) override {
        if (layer != layer_) return;
        for (int64_t b = 0; b < info.n_seq; ++b)
            hidden[b][info.last_index[static_cast<std::size_t>(b)]] += vector_;
    }

private:
    int64_t layer_;
    at::Tensor vector_;
};

TEST_F(TinyModel, HooksSeeEveryLayerOnEveryPass) {
    const auto prompt = prepare_ids(model(), ids("List the steps"));
    RecordingHook hook;
    GenerateOptions options;
    options.max_new_tokens = 3;
    options.stop_ids = {-1};
    options.hooks = {&hook};
    generate(model(), std::span(&prompt, 1), options);
    const auto n_layer = model().n_layer();
    ASSERT_EQ(hook.layers.size(), static_cast<std::size_t>(3 * n_layer));  // prefill + 2 steps
    for (std::size_t i = 0; i < hook.layers.size(); ++i) {
        EXPECT_EQ(hook.layers[i], static_cast<int64_t>(i) % n_layer);
        EXPECT_EQ(hook.prefill[i], i < static_cast<std::size_t>(n_layer));
        EXPECT_EQ(hook.shapes[i][1], i < static_cast<std::size_t>(n_layer)
                                         ? static_cast<int64_t>(prompt.ids.size())
                                         : 1);
    }
}

TEST_F(TinyModel, NoOpHooksAreBitIdenticalAndAddingHooksChangeOnlyTheirPosition) {
    const auto prompt = prepare_ids(model(), ids("How can I bake a loaf of bread at home?"));
    const auto plain = forward(model(), std::span(&prompt, 1)).hidden;
    RecordingHook noop;
    LayerHook* noop_hooks[] = {&noop};
    EXPECT_TRUE(at::equal(forward(model(), std::span(&prompt, 1), noop_hooks).hidden, plain));

    AddAtLastPosition add(1, at::full({model().n_embd()}, 0.5));
    LayerHook* add_hooks[] = {&add};
    const auto steered = forward(model(), std::span(&prompt, 1), add_hooks).hidden;
    const auto n = plain.size(1);
    EXPECT_TRUE(at::equal(steered.narrow(1, 0, n - 1), plain.narrow(1, 0, n - 1)));
    EXPECT_GT(max_abs(steered.narrow(1, n - 1, 1), plain.narrow(1, n - 1, 1)), 1e-3);
}

TEST_F(TinyModel, AudioEmbeddingsFillThePlaceholdersInOrder) {
    std::vector<std::vector<float>> clips(2);
    for (int i = 0; i < 16000; ++i)
        clips[0].push_back(0.3f * std::sin(0.05f * static_cast<float>(i)));
    for (int i = 0; i < 8000; ++i)
        clips[1].push_back(0.2f * std::sin(0.11f * static_cast<float>(i)));
    const auto audio = encode_clips(model(), clips);
    EXPECT_EQ(audio.valid_frames, (std::vector<int64_t>{100, 50}));
    ASSERT_EQ(audio.embeds.size(0), audio_output_length(100) + audio_output_length(50));
    const auto prompt = prepare_prompt(model(), render_audio_prompt(2, "What is said?"), audio);
    const auto audio_id = model().config().audio_token_index;
    std::vector<int64_t> slots;
    for (std::size_t i = 0; i < prompt.ids.size(); ++i) {
        if (prompt.ids[i] == audio_id) slots.push_back(static_cast<int64_t>(i));
    }
    ASSERT_EQ(static_cast<int64_t>(slots.size()), audio.embeds.size(0));
    EXPECT_TRUE(at::equal(prompt.embeds.index_select(0, at::tensor(slots)), audio.embeds));
    // Other positions are plain token embeddings.
    EXPECT_TRUE(at::equal(prompt.embeds[0], model().embed_tokens(std::span(&prompt.ids[0], 1))[0]));

    GenerateOptions options;
    options.max_new_tokens = 4;
    EXPECT_NO_THROW(generate(model(), std::span(&prompt, 1), options));
}

TEST_F(TinyModel, AudioTokenInTextIsAnOrdinaryEmbedding) {
    const auto audio_id = static_cast<int32_t>(model().config().audio_token_index);
    auto prompt_ids = ids("What is said?");
    prompt_ids.push_back(audio_id);
    const auto prompt = prepare_ids(model(), prompt_ids);
    EXPECT_TRUE(at::equal(prompt.embeds[-1], model().weights().decoder.embed_tokens[audio_id]));
    EXPECT_NO_THROW(forward(model(), std::span(&prompt, 1)));
}

TEST_F(TinyModel, IdsWithoutATokenDecodeToNothing) {
    // Steer the last layer's output towards the final embedding row, an id with no token string.
    const auto hole = static_cast<int32_t>(model().config().text.vocab_size - 1);
    ASSERT_FALSE(model().tokenizer().token_text(hole).has_value());
    const auto direction = model().weights().decoder.lm_head[hole];
    AddAtLastPosition push(model().n_layer() - 1, direction * 1e4);
    const auto prompt = prepare_ids(model(), ids("List the steps"));
    GenerateOptions options;
    options.max_new_tokens = 3;
    options.hooks = {&push};
    const auto out = generate(model(), std::span(&prompt, 1), options);
    ASSERT_FALSE(out[0].tokens.empty());
    EXPECT_EQ(out[0].tokens[0], hole);
    EXPECT_EQ(out[0].text.find('\0'), std::string::npos);
}

TEST_F(TinyModel, SeededSamplingIsReproducible) {
    const auto prompt = prepare_ids(model(), ids("List the steps"));
    GenerateOptions options;
    options.max_new_tokens = 8;
    options.stop_ids = {-1};
    options.sampling = {SamplingParams{
        .temperature = 1.5, .top_k = 0, .top_p = 1.0, .repetition_penalty = 1.0, .seed = 5}};
    const auto a = generate(model(), std::span(&prompt, 1), options);
    const auto b = generate(model(), std::span(&prompt, 1), options);
    EXPECT_EQ(a[0].tokens, b[0].tokens);
    options.sampling[0].seed = 6;
    EXPECT_NE(generate(model(), std::span(&prompt, 1), options)[0].tokens, a[0].tokens);
}

}  // namespace
}  // namespace sarsteer::model

namespace sarsteer::model {
namespace {

TEST(TextOnlyModel, PlainQwen2GeneratesAndRefusesAudio) {
    c10::InferenceMode guard;
    sarsteer::testing::ScratchDir dir("qwen2");
    const auto config = make_tiny(dir.path(), {.seed = 2, .text_only = true});
    EXPECT_EQ(config.model_type, ModelType::kQwen2);
    const auto model = Model::load({.path = dir.path()});
    EXPECT_FALSE(model->weights().audio.has_value());
    const auto prompt = prepare_prompt(*model, render_audio_prompt(0, "List the steps"));
    GenerateOptions options;
    options.max_new_tokens = 4;
    options.stop_ids = {-1};
    EXPECT_EQ(generate(*model, std::span(&prompt, 1), options)[0].tokens.size(), 4u);
    const std::vector<std::vector<float>> clip = {std::vector<float>(16000, 0.1f)};
    EXPECT_THROW(encode_clips(*model, clip), Error);
}

}  // namespace
}  // namespace sarsteer::model
