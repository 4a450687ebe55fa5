// SARSteer end to end on a make-tiny checkpoint: extraction against a direct computation,
// ablation invariants, steering semantics, fingerprints, resumable caches.
#include "steer/extract.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/make_tiny.h"
#include "model/session.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/defaults.h"
#include "sarsteer/error.h"
#include "steer/ablate.h"
#include "steer/capture_hook.h"
#include "steer/steer_hook.h"
#include "test_support.h"

namespace sarsteer::steer {
namespace {

// A 16-bit mono 16 kHz WAV of a chirp; `seed` varies pitch and length.
void write_wav(const std::filesystem::path& path, int seed) {
    const int n = 8000 + 1600 * (seed % 5);
    std::vector<int16_t> pcm(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const double t = i / 16000.0;
        pcm[static_cast<std::size_t>(i)] =
            static_cast<int16_t>(8000 * std::sin(2 * M_PI * (200 + 37 * seed) * t * (1 + t)));
    }
    std::ofstream out(path, std::ios::binary);
    auto put32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
    auto put16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
    const auto bytes = static_cast<uint32_t>(pcm.size() * 2);
    out << "RIFF";
    put32(36 + bytes);
    out << "WAVEfmt ";
    put32(16);
    put16(1);
    put16(1);
    put32(16000);
    put32(32000);
    put16(2);
    put16(16);
    out << "data";
    put32(bytes);
    out.write(reinterpret_cast<const char*>(pcm.data()), bytes);
}

void write_manifest(const std::filesystem::path& path, const std::string& prefix, int n,
                    int seed0) {
    std::ofstream out(path);
    for (int i = 0; i < n; ++i) {
        const auto wav = prefix + "-" + std::to_string(i) + ".wav";
        write_wav(path.parent_path() / wav, seed0 + i);
        out << nlohmann::json{{"id", prefix + "-" + std::to_string(i)},
                              {"audio", wav},
                              {"question", "How do I do thing number " + std::to_string(i) + "?"},
                              {"label", prefix}}
                   .dump()
            << "\n";
    }
}

class SteerTiny : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new sarsteer::testing::ScratchDir("steer");
        model::make_tiny(dir_->path() / "model", {.seed = 21});
        model_ = model::Model::load({.path = dir_->path() / "model"});
        write_manifest(dir_->path() / "harmful.jsonl", "harmful", 4, 0);
        write_manifest(dir_->path() / "safe.jsonl", "safe", 5, 10);
    }
    static void TearDownTestSuite() {
        model_.reset();
        delete dir_;
    }
    static io::Manifest manifest(const char* name) {
        return io::Manifest::load(dir_->path() / name);
    }
    static ExtractOptions options(int64_t k = 3, double lambda = 1.0) {
        ExtractOptions o;
        o.instruction = std::string(defaults::kInstruction);
        o.refusal_prompt = std::string(defaults::kRefusalPrompt);
        o.k = k;
        o.lambda = lambda;
        return o;
    }
    // Last-position states of one prompt, run alone through the plain forward.
    static at::Tensor direct_states(const std::filesystem::path& audio,
                                    const std::string& instruction) {
        const auto clip = load_audio_16k(audio);
        const std::vector<std::vector<float>> clips = {clip.samples};
        const auto encoded = model::encode_clips(*model_, clips);
        const auto prompt =
            model::prepare_prompt(*model_, render_audio_prompt(1, instruction), encoded);
        CaptureLastHook capture(1, model_->n_layer(), model_->n_embd());
        model::LayerHook* hooks[] = {&capture};
        model::forward(*model_, std::span(&prompt, 1), hooks);
        return capture.states()[0];
    }

    static sarsteer::testing::ScratchDir* dir_;
    static std::shared_ptr<const model::Model> model_;
    c10::InferenceMode guard_;
};
sarsteer::testing::ScratchDir* SteerTiny::dir_ = nullptr;
std::shared_ptr<const model::Model> SteerTiny::model_;

TEST_F(SteerTiny, VectorsEqualADirectComputation) {
    const auto harmful = manifest("harmful.jsonl"), safe = manifest("safe.jsonl");
    const auto opts = options();
    const auto acts = collect_activations(*model_, harmful, safe, opts);
    const auto vectors = build_steering(*model_, acts, harmful, safe, opts);

    // v_l straight from two independent forwards per harmful sample.
    std::vector<at::Tensor> diffs, safe_states;
    for (const auto& item : harmful.items) {
        diffs.push_back(
            direct_states(*item.audio, opts.instruction + opts.refusal_prompt).to(at::kDouble) -
            direct_states(*item.audio, opts.instruction).to(at::kDouble));
    }
    for (const auto& item : safe.items)
        safe_states.push_back(direct_states(*item.audio, opts.instruction).to(at::kDouble));
    const auto v_raw = at::stack(diffs).mean(0);   // [L, D]
    const auto safe_all = at::stack(safe_states);  // [M, L, D]
    for (int64_t l = 0; l < model_->n_layer(); ++l) {
        const auto scale = v_raw[l].abs().max().item<double>();
        EXPECT_LE((vectors.v_raw[static_cast<std::size_t>(l)].to(at::kDouble) - v_raw[l])
                      .abs()
                      .max()
                      .item<double>(),
                  1e-4 * scale + 1e-6)
            << l;
        // Safe-space projector from the covariance's top-k eigenvectors (not the SVD path).
        const auto centred = safe_all.select(1, l) - safe_all.select(1, l).mean(0);
        const auto eig = at::linalg_eigh(at::matmul(centred.t(), centred));
        const auto top =
            std::get<1>(eig).narrow(1, model_->n_embd() - opts.k, opts.k);  // ascending
        const auto expected = v_raw[l] - at::matmul(top, at::matmul(top.t(), v_raw[l]));
        EXPECT_LE((vectors.v[static_cast<std::size_t>(l)].to(at::kDouble) - expected)
                      .abs()
                      .max()
                      .item<double>(),
                  1e-4 * scale + 1e-6)
            << l;
    }
}

TEST_F(SteerTiny, AblatedVectorHasNoSafeComponentAtLambdaOne) {
    const auto harmful = manifest("harmful.jsonl"), safe = manifest("safe.jsonl");
    const auto acts = collect_activations(*model_, harmful, safe, options());
    for (double lambda : {1.0, 0.0, 0.5}) {
        const auto a = ablate(acts.harmful_base, acts.harmful_refusal, acts.safe_base, 3, lambda);
        for (int64_t l = 0; l < model_->n_layer(); ++l) {
            const auto inside = at::matmul(a.safe_basis[l].t(), a.v[l]).norm().item<double>();
            const auto raw_inside =
                at::matmul(a.safe_basis[l].t(), a.v_raw[l]).norm().item<double>();
            EXPECT_NEAR(inside, (1 - lambda) * raw_inside, 1e-4 * a.v_raw[l].norm().item<double>())
                << l;
        }
        if (lambda == 0.0) {
            EXPECT_TRUE(at::allclose(a.v, a.v_raw));
        }
    }
    EXPECT_THROW(ablate(acts.harmful_base, acts.harmful_refusal, acts.safe_base, 6, 1.0),
                 Error);  // k > 5 samples
}

TEST_F(SteerTiny, AlphaZeroIsBitIdenticalAndPrefillChangesOnlyLastPositions) {
    const auto harmful = manifest("harmful.jsonl"), safe = manifest("safe.jsonl");
    const auto opts = options();
    const auto vectors = build_steering(*model_, collect_activations(*model_, harmful, safe, opts),
                                        harmful, safe, opts);
    const auto prompt =
        model::prepare_ids(*model_, model_->tokenizer().encode("List the steps in detail"));

    // Records every position of every layer output, after the steering hook.
    struct AllStates : model::LayerHook {
        void on_layer_output(int64_t, at::Tensor& hidden, const model::ForwardInfo&) override {
            states.push_back(hidden.clone());
        }
        std::vector<at::Tensor> states;
    };
    auto run = [&](double alpha) {
        auto hook = SteerHook::from_file(vectors, {.alpha = alpha}, model_->options());
        AllStates all;
        model::LayerHook* hooks[] = {&hook, &all};
        model::forward(*model_, std::span(&prompt, 1), hooks);
        model::GenerateOptions g;
        g.max_new_tokens = 6;
        g.stop_ids = {-1};
        g.hooks = {&hook};
        return std::make_pair(all.states,
                              model::generate(*model_, std::span(&prompt, 1), g)[0].tokens);
    };
    AllStates plain;
    model::LayerHook* plain_hooks[] = {&plain};
    model::forward(*model_, std::span(&prompt, 1), plain_hooks);
    model::GenerateOptions g;
    g.max_new_tokens = 6;
    g.stop_ids = {-1};
    const auto plain_tokens = model::generate(*model_, std::span(&prompt, 1), g)[0].tokens;

    const auto [zero_states, zero_tokens] = run(0.0);
    EXPECT_EQ(zero_tokens, plain_tokens);
    for (std::size_t l = 0; l < plain.states.size(); ++l)
        EXPECT_TRUE(at::equal(zero_states[l], plain.states[l]));

    const auto [steered, steered_tokens] = run(5.0);
    const auto n = plain.states[0].size(1);
    // Layer 0's output differs from the plain run exactly at the last position.
    EXPECT_TRUE(at::equal(steered[0].narrow(1, 0, n - 1), plain.states[0].narrow(1, 0, n - 1)));
    EXPECT_TRUE(at::allclose(steered[0].select(1, n - 1) - plain.states[0].select(1, n - 1),
                             5.0 * vectors.v[0].unsqueeze(0), 1e-4, 1e-5));
    // Every later layer: earlier positions are unchanged (causal attention never sees the edit).
    for (std::size_t l = 1; l < steered.size(); ++l) {
        EXPECT_TRUE(at::equal(steered[l].narrow(1, 0, n - 1), plain.states[l].narrow(1, 0, n - 1)))
            << l;
    }
}

TEST_F(SteerTiny, PerSequenceAlphaMixesDefendedAndUndefendedRows) {
    const auto harmful = manifest("harmful.jsonl"), safe = manifest("safe.jsonl");
    const auto opts = options();
    const auto vectors = build_steering(*model_, collect_activations(*model_, harmful, safe, opts),
                                        harmful, safe, opts);
    const std::vector<model::PreparedPrompt> prompts = {
        model::prepare_ids(*model_, model_->tokenizer().encode("List the steps")),
        model::prepare_ids(*model_, model_->tokenizer().encode("List the steps"))};
    auto table = SteerHook::from_file(vectors, {.alpha = 1.0}, model_->options()).directions();
    SteerHook mixed(table, {0.0, 50.0});
    model::GenerateOptions g;
    g.max_new_tokens = 5;
    g.stop_ids = {-1};
    const auto plain = model::generate(*model_, std::span(&prompts[0], 1), g)[0].tokens;
    g.hooks = {&mixed};
    const auto out = model::generate(*model_, prompts, g);
    EXPECT_EQ(out[0].tokens, plain);
    EXPECT_NE(out[1].tokens, plain);
}

TEST_F(SteerTiny, FilesRoundTripAndMismatchedModelsAreRefused) {
    const auto harmful = manifest("harmful.jsonl"), safe = manifest("safe.jsonl");
    const auto opts = options();
    const auto vectors = build_steering(*model_, collect_activations(*model_, harmful, safe, opts),
                                        harmful, safe, opts);
    const auto path = dir_->path() / "v.safetensors";
    vectors.save(path);
    const auto loaded = SteeringVectors::load(path);
    EXPECT_EQ(loaded.metadata.k, 3);
    EXPECT_EQ(loaded.metadata.n_harmful, 4);
    EXPECT_EQ(loaded.metadata.refusal_prompt, defaults::kRefusalPrompt);
    EXPECT_TRUE(at::equal(loaded.v[2], vectors.v[2]));
    EXPECT_NO_THROW(loaded.check_matches(ModelFingerprint::of(model_->config()), path));

    auto other = model_->config();
    other.text.num_hidden_layers = 2;
    try {
        loaded.check_matches(ModelFingerprint::of(other), path);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
}

TEST_F(SteerTiny, InterruptedExtractionResumesToTheSameResult) {
    const auto harmful = manifest("harmful.jsonl"), safe = manifest("safe.jsonl");
    auto opts = options();
    opts.cache = dir_->path() / "acts-resume.safetensors";
    opts.progress = [](std::size_t done, std::size_t, bool) {
        if (done == 3) throw std::runtime_error("killed");
    };
    EXPECT_THROW(collect_activations(*model_, harmful, safe, opts), std::runtime_error);
    EXPECT_FALSE(std::filesystem::exists(opts.cache));

    std::vector<bool> cached;
    opts.progress = [&](std::size_t, std::size_t, bool from_cache) {
        cached.push_back(from_cache);
    };
    const auto resumed = collect_activations(*model_, harmful, safe, opts);
    ASSERT_EQ(cached.size(), 9u);
    EXPECT_EQ(std::count(cached.begin(), cached.end(), true),
              3);  // the samples done before the kill
    EXPECT_TRUE(std::filesystem::exists(opts.cache));

    auto fresh_opts = options();
    const auto fresh = collect_activations(*model_, harmful, safe, fresh_opts);
    EXPECT_TRUE(at::equal(resumed.harmful_base, fresh.harmful_base));
    EXPECT_TRUE(at::equal(resumed.harmful_refusal, fresh.harmful_refusal));
    EXPECT_TRUE(at::equal(resumed.safe_base, fresh.safe_base));

    // A finished cache serves other k/λ without running the model; other prompts are recomputed.
    cached.clear();
    collect_activations(*model_, harmful, safe, opts);
    EXPECT_EQ(cached, std::vector<bool>{true});
    opts.refusal_prompt = std::string(defaults::kRefusalVariants[1]);
    cached.clear();
    collect_activations(*model_, harmful, safe, opts);
    EXPECT_EQ(std::count(cached.begin(), cached.end(), false), 9);
}

TEST_F(SteerTiny, LlmModeUsesTextOnlyDifferenceInMeans) {
    const auto harmful = manifest("harmful.jsonl"), safe = manifest("safe.jsonl");
    auto opts = options();
    opts.mode = ExtractMode::kLlm;
    const auto acts = collect_activations(*model_, harmful, safe, opts);
    EXPECT_FALSE(acts.harmful_refusal.defined());
    const auto vectors = build_steering(*model_, acts, harmful, safe, opts);
    EXPECT_EQ(vectors.metadata.mode, "llm");
    EXPECT_TRUE(vectors.safe_basis.empty());
    const auto expected = acts.harmful_base.mean(0) - acts.safe_base.mean(0);
    EXPECT_TRUE(at::allclose(at::stack(vectors.v), expected, 1e-5, 1e-6));
}

TEST(BaseSeparation, IsTheMeanDistanceOverThePooledSpreadPerLayer) {
    // Layer 0: harmful (0,0),(2,0): mean (1,0), mean squared distance 1; safe (1,4),(1,6): mean
    // (1,5), 1; means 5 apart, pooled spread 1 -> 5. Layer 1: the same points, safe moved onto
    // the harmful ones -> 0.
    Activations acts;
    acts.harmful_base =
        at::tensor({0.0F, 0.0F, 0.0F, 0.0F, 2.0F, 0.0F, 2.0F, 0.0F}).view({2, 2, 2});
    acts.safe_base = at::tensor({1.0F, 4.0F, 0.0F, 0.0F, 1.0F, 6.0F, 2.0F, 0.0F}).view({2, 2, 2});
    const auto separation = base_separation(acts);
    ASSERT_EQ(separation.size(), 2u);
    EXPECT_NEAR(separation[0], 5.0, 1e-12);
    EXPECT_NEAR(separation[1], 0.0, 1e-12);
    // One sample per set has no spread: 0 for equal states, not NaN.
    acts.harmful_base = at::zeros({1, 1, 2});
    acts.safe_base = at::zeros({1, 1, 2});
    EXPECT_EQ(base_separation(acts).at(0), 0.0);
    acts.safe_base = at::zeros({0, 1, 2});
    EXPECT_THROW(base_separation(acts), Error);
}

TEST(Defaults, RefusalVariantsMatchTheReferenceSettings) {
    std::ifstream in(sarsteer::testing::shared_dir() / "method" / "reference_settings.json");
    const auto settings = nlohmann::json::parse(in);
    const auto& variants = settings["refusal_prompt_variants"];
    ASSERT_EQ(variants.size(), std::size(defaults::kRefusalVariants));
    for (std::size_t i = 0; i < variants.size(); ++i) {
        EXPECT_EQ(variants[i].get<std::string>(), defaults::kRefusalVariants[i]) << i;
    }
    EXPECT_EQ(settings["instruction"].get<std::string>(), defaults::kInstruction);
    EXPECT_EQ(settings["defaults"]["k"].get<int>(), defaults::kSafeRank);
    EXPECT_EQ(settings["defaults"]["alpha"].get<double>(), defaults::kAlpha);
}

}  // namespace
}  // namespace sarsteer::steer
