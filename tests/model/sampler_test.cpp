#include "model/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "model/generation_config.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::model {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------------------------------------
// GenerationConfig

// The generation_config.json of Qwen/Qwen2-Audio-7B-Instruct.
constexpr const char* kQwen2AudioInstructGeneration = R"({
  "chat_format": "chatml", "do_sample": true, "eos_token_id": [151643, 151645],
  "pad_token_id": 151643, "repetition_penalty": 1.1, "temperature": 0.7, "top_k": 20,
  "top_p": 0.5, "transformers_version": "4.38.1"
})";

GenerationConfig parse_generation(const std::string& text) {
    return GenerationConfig::from_json(nlohmann::json::parse(text), "generation_config.json");
}

TEST(GenerationConfig, ParsesQwen2AudioInstruct) {
    const auto c = parse_generation(kQwen2AudioInstructGeneration);
    EXPECT_TRUE(c.do_sample);
    EXPECT_DOUBLE_EQ(c.temperature, 0.7);
    EXPECT_EQ(c.top_k, 20);
    EXPECT_DOUBLE_EQ(c.top_p, 0.5);
    EXPECT_DOUBLE_EQ(c.repetition_penalty, 1.1);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{151643, 151645}));
    EXPECT_EQ(c.pad_token_id, 151643);
    EXPECT_FALSE(c.max_new_tokens.has_value());
}

TEST(GenerationConfig, EosMayBeOneIdOrAList) {
    EXPECT_EQ(parse_generation(R"({"eos_token_id": 7})").eos_token_ids, std::vector<int64_t>{7});
    EXPECT_EQ(parse_generation(R"({"eos_token_id": [3, 4]})").eos_token_ids,
              (std::vector<int64_t>{3, 4}));
    EXPECT_TRUE(parse_generation(R"({"eos_token_id": null})").eos_token_ids.empty());
    EXPECT_TRUE(parse_generation(R"({"eos_token_id": []})").eos_token_ids.empty());
    EXPECT_EQ(parse_generation(R"({"max_new_tokens": 256})").max_new_tokens, 256);
}

TEST(GenerationConfig, AbsentKeysTakeTransformersDefaults) {
    const auto c = parse_generation("{}");
    EXPECT_FALSE(c.do_sample);
    EXPECT_DOUBLE_EQ(c.temperature, 1.0);
    EXPECT_EQ(c.top_k, 50);
    EXPECT_DOUBLE_EQ(c.top_p, 1.0);
    EXPECT_DOUBLE_EQ(c.repetition_penalty, 1.0);
    EXPECT_TRUE(c.eos_token_ids.empty());
    EXPECT_FALSE(c.pad_token_id.has_value());
    EXPECT_FALSE(c.max_new_tokens.has_value());
}

TEST(GenerationConfig, MissingFileGivesDefaultsAndPresentFileIsRead) {
    sarsteer::testing::ScratchDir dir("gencfg");
    const auto defaults = GenerationConfig::load_or_default(dir.path());
    EXPECT_FALSE(defaults.do_sample);
    EXPECT_EQ(defaults.top_k, 50);
    EXPECT_TRUE(defaults.eos_token_ids.empty());

    std::ofstream(dir / "generation_config.json") << kQwen2AudioInstructGeneration;
    const auto c = GenerationConfig::load_or_default(dir.path());
    EXPECT_TRUE(c.do_sample);
    EXPECT_EQ(c.top_k, 20);
}

TEST(GenerationConfig, BrokenFileIsAnErrorNamingIt) {
    sarsteer::testing::ScratchDir dir("gencfg-bad");
    const auto path = dir / "generation_config.json";
    std::ofstream(path) << "{\"top_p\": ";
    try {
        GenerationConfig::load_or_default(dir.path());
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kCorruptInput);
        EXPECT_EQ(e.subject(), path.string());
    }
    std::ofstream(path) << R"({"top_p": 1.5})";
    try {
        GenerationConfig::load_or_default(dir.path());
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), path.string());
        EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos) << e.what();
    }
}

void expect_rejected(const std::string& text, const std::string& field) {
    try {
        parse_generation(text);
        ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kCorruptInput) << e.what();
        EXPECT_EQ(e.subject(), "generation_config.json");
        EXPECT_NE(e.problem().find("\"" + field + "\""), std::string::npos)
            << text << " -> " << e.what();
    }
}

TEST(GenerationConfig, OutOfRangeOrMistypedValuesNameTheField) {
    expect_rejected(R"({"temperature": -0.1})", "temperature");
    expect_rejected(R"({"top_p": 0})", "top_p");
    expect_rejected(R"({"top_p": 1.01})", "top_p");
    expect_rejected(R"({"top_k": -1})", "top_k");
    expect_rejected(R"({"top_k": 2.5})", "top_k");
    expect_rejected(R"({"repetition_penalty": 0})", "repetition_penalty");
    expect_rejected(R"({"do_sample": "yes"})", "do_sample");
    expect_rejected(R"({"eos_token_id": "</s>"})", "eos_token_id");
    expect_rejected(R"({"eos_token_id": [1, -2]})", "eos_token_id");
    expect_rejected(R"({"pad_token_id": -1})", "pad_token_id");
    expect_rejected(R"({"max_new_tokens": 0})", "max_new_tokens");
    EXPECT_THROW(parse_generation("[1, 2]"), Error);
    // The edges of the ranges are fine: temperature 0 and top_k 0 mean "off" in HF.
    EXPECT_NO_THROW(parse_generation(R"({"temperature": 0, "top_k": 0, "top_p": 1})"));
}

TEST(GenerationConfig, SamplingParamsFollowDoSample) {
    const auto sampled = SamplingParams::from(parse_generation(kQwen2AudioInstructGeneration));
    EXPECT_DOUBLE_EQ(sampled.temperature, 0.7);
    EXPECT_EQ(sampled.top_k, 20);
    EXPECT_DOUBLE_EQ(sampled.top_p, 0.5);
    EXPECT_DOUBLE_EQ(sampled.repetition_penalty, 1.1);

    const auto greedy = SamplingParams::from(
        parse_generation(R"({"do_sample": false, "temperature": 0.7, "repetition_penalty": 1.3})"));
    EXPECT_EQ(greedy.temperature, 0.0);
    EXPECT_DOUBLE_EQ(greedy.repetition_penalty, 1.3);
    EXPECT_TRUE(Sampler(greedy).greedy());
}

// ---------------------------------------------------------------------------------------------
// The HF processors, one at a time

std::vector<bool> kept(const std::vector<float>& scores) {
    std::vector<bool> mask;
    for (float s : scores) mask.push_back(s != -kInf);
    return mask;
}

std::vector<double> softmax(const std::vector<float>& scores) {
    double m = -kInf;
    for (float s : scores) m = std::max(m, static_cast<double>(s));
    std::vector<double> p;
    double total = 0;
    for (float s : scores) total += std::exp(s - m);
    for (float s : scores) p.push_back(std::exp(s - m) / total);
    return p;
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOnce) {
    std::vector<float> scores{2.0f, -1.0f, 0.5f, -3.0f, 4.0f, 0.0f};
    // 0 and 1 repeat (penalised once), 2 and 4 are absent, 99 and -1 are out of range.
    const std::vector<int32_t> context{0, 1, 1, 3, 0, 5, 99, -1};
    apply_repetition_penalty(scores, context, 2.0);
    EXPECT_EQ(scores, (std::vector<float>{1.0f, -2.0f, 0.5f, -6.0f, 4.0f, 0.0f}));

    // penalty < 1 rewards repeats: positive scores grow, negative ones shrink towards 0.
    std::vector<float> rewarded{2.0f, -1.0f, 0.5f};
    apply_repetition_penalty(rewarded, std::vector<int32_t>{0, 1}, 0.5);
    EXPECT_EQ(rewarded, (std::vector<float>{4.0f, -0.5f, 0.5f}));

    std::vector<float> qwen{3.0f, -3.0f};
    apply_repetition_penalty(qwen, std::vector<int32_t>{0, 1}, 1.1);
    EXPECT_FLOAT_EQ(qwen[0], 3.0f / 1.1f);
    EXPECT_FLOAT_EQ(qwen[1], -3.0f * 1.1f);
}

TEST(Sampler, TemperatureSharpensOrFlattensTheDistribution) {
    std::vector<float> scores{1.0f, 2.0f, 4.0f};
    auto cold = scores;
    apply_temperature(cold, 0.5);
    EXPECT_EQ(cold, (std::vector<float>{2.0f, 4.0f, 8.0f}));
    auto hot = scores;
    apply_temperature(hot, 2.0);
    EXPECT_EQ(hot, (std::vector<float>{0.5f, 1.0f, 2.0f}));
    // p_i ∝ exp(l_i / T): the top token's share grows as T falls.
    const double z1 = std::exp(1.0) + std::exp(2.0) + std::exp(4.0);
    EXPECT_NEAR(softmax(scores)[2], std::exp(4.0) / z1, 1e-12);
    EXPECT_NEAR(softmax(cold)[2], std::exp(8.0) / (std::exp(2.0) + std::exp(4.0) + std::exp(8.0)),
                1e-12);
    EXPECT_GT(softmax(cold)[2], softmax(scores)[2]);
    EXPECT_LT(softmax(hot)[2], softmax(scores)[2]);
}

TEST(Sampler, TopKKeepsEveryScoreTiedWithTheKth) {
    const std::vector<float> scores{1.0f, 3.0f, 3.0f, 2.0f, 3.0f, 0.0f};
    auto k1 = scores;
    apply_top_k(k1, 1);  // the max is a three-way tie: all three stay
    EXPECT_EQ(kept(k1), (std::vector<bool>{false, true, true, false, true, false}));
    auto k2 = scores;
    apply_top_k(k2, 2);
    EXPECT_EQ(kept(k2), (std::vector<bool>{false, true, true, false, true, false}));
    auto k4 = scores;
    apply_top_k(k4, 4);
    EXPECT_EQ(k4, (std::vector<float>{-kInf, 3.0f, 3.0f, 2.0f, 3.0f, -kInf}));
    auto big = scores;
    apply_top_k(big, 100);  // k >= V: nothing to remove
    EXPECT_EQ(big, scores);
    auto off = scores;
    apply_top_k(off, 0);
    EXPECT_EQ(off, scores);
}

// transformers' processors written with ATen ops, as logits_process.py does them, as an oracle
// for the vector implementations on larger random inputs.
at::Tensor hf_repetition_penalty(const at::Tensor& scores, const std::vector<int32_t>& context,
                                 double penalty) {
    const auto ids = at::tensor(std::vector<int64_t>(context.begin(), context.end()), at::kLong);
    auto score = scores.gather(0, ids);
    score = at::where(score < 0, score * penalty, score / penalty);
    return scores.scatter(0, ids, score);
}

at::Tensor hf_top_k(const at::Tensor& scores, int64_t k) {
    const auto kth = std::get<0>(at::topk(scores, k))[-1];
    return scores.masked_fill(scores < kth, -kInf);
}

at::Tensor hf_top_p(const at::Tensor& scores, double top_p) {
    const auto [sorted, order] = at::sort(scores, /*stable=*/true, /*dim=*/0, /*descending=*/false);
    auto remove = sorted.softmax(0).cumsum(0) <= (1 - top_p);
    remove.index_put_({-1}, false);
    return scores.masked_fill(remove.scatter(0, order, remove), -kInf);
}

std::vector<float> to_vector(const at::Tensor& t) {
    const auto c = t.contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

std::vector<float> log_probs(const std::vector<double>& probs, double offset = 0) {
    std::vector<float> out;
    for (double p : probs) out.push_back(static_cast<float>(std::log(p) + offset));
    return out;
}

TEST(Sampler, TopPCutsAtTheCumulativeBoundary) {
    // Probabilities 0.2, 0.5, 0.3 at ids 0, 1, 2. Ascending: 0.2 (cum 0.2), 0.3 (0.5), 0.5 (1.0).
    const auto scores = log_probs({0.2, 0.5, 0.3});
    const auto top_p = [&](const std::vector<float>& s, double p) {
        auto out = s;
        apply_top_p(out, p);
        return kept(out);
    };
    // 1 - 0.5 = 0.5: cum 0.2 and 0.5 are <= 0.5, only the 0.5 token stays.
    EXPECT_EQ(top_p(scores, 0.5), (std::vector<bool>{false, true, false}));
    EXPECT_EQ(top_p(scores, 0.6), (std::vector<bool>{false, true, true}));
    // 1 - 0.8 = 0.2: the 0.2 token sits exactly on the cut and goes.
    EXPECT_EQ(top_p(scores, 0.8), (std::vector<bool>{false, true, true}));
    EXPECT_EQ(top_p(scores, 0.81), (std::vector<bool>{true, true, true}));
    // A tiny top_p would remove everything: the most likely token is always kept.
    EXPECT_EQ(top_p(scores, 0.01), (std::vector<bool>{false, true, false}));
    EXPECT_EQ(top_p(scores, 1.0), (std::vector<bool>{true, true, true}));
    // transformers' float32 arithmetic lands on the same side of these two cuts.
    const auto t = at::tensor(scores);
    EXPECT_EQ(top_p(scores, 0.5), kept(to_vector(hf_top_p(t, 0.5))));
    EXPECT_EQ(top_p(scores, 0.8), kept(to_vector(hf_top_p(t, 0.8))));

    // Softmax is shift-invariant, and so is the cut (away from float noise at the boundary).
    const auto shifted = log_probs({0.2, 0.5, 0.3}, 25.0);
    for (double p : {0.01, 0.6, 0.81}) EXPECT_EQ(top_p(shifted, p), top_p(scores, p)) << p;
}

TEST(Sampler, TopPBreaksTiesLikeAStableAscendingSortAndSkipsFilteredTokens) {
    // Four equal tokens (exact quarters) and one already filtered: ascending order is ids
    // 0, 1, 3, 4 (stable), cumulative 0.25, 0.5, 0.75, 1.
    const std::vector<float> scores{0.0f, 0.0f, -kInf, 0.0f, 0.0f};
    const auto top_p = [&](double p) {
        auto s = scores;
        apply_top_p(s, p);
        return kept(s);
    };
    EXPECT_EQ(top_p(0.75), (std::vector<bool>{false, true, false, true, true}));
    EXPECT_EQ(top_p(0.5), (std::vector<bool>{false, false, false, true, true}));
    EXPECT_EQ(top_p(0.26), (std::vector<bool>{false, false, false, true, true}));
    EXPECT_EQ(top_p(0.25), (std::vector<bool>{false, false, false, false, true}));
    EXPECT_EQ(top_p(0.76), (std::vector<bool>{true, true, false, true, true}));
    for (double p : {0.25, 0.5, 0.75}) {
        EXPECT_EQ(top_p(p), kept(to_vector(hf_top_p(at::tensor(scores), p)))) << p;
    }
}

TEST(Sampler, ProcessorsMatchTransformersWrittenInATen) {
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (int64_t vocab : {10, 1000, 50000, 1001}) {
        std::vector<float> logits(static_cast<size_t>(vocab));
        for (float& l : logits) l = normal(rng);
        if (vocab == 1001) {  // coarse scores: many ties for top-k and top-p to order
            for (float& l : logits) l = std::round(l);
        }
        std::vector<int32_t> context;
        std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab - 1));
        for (int i = 0; i < 40; ++i) context.push_back(id(rng));
        const auto t = at::tensor(logits);

        for (double penalty : {1.1, 0.8}) {
            auto s = logits;
            apply_repetition_penalty(s, context, penalty);
            const auto want = to_vector(hf_repetition_penalty(t, context, penalty));
            for (size_t i = 0; i < s.size(); ++i) ASSERT_FLOAT_EQ(s[i], want[i]) << i;
        }
        for (int64_t k : {1, 5, 20, 700}) {
            if (k > vocab) continue;
            auto s = logits;
            apply_top_k(s, k);
            EXPECT_EQ(s, to_vector(hf_top_k(t, k))) << "V=" << vocab << " k=" << k;
        }
        for (double p : {0.05, 0.5, 0.9, 0.999}) {
            auto s = logits;
            apply_top_p(s, p);
            EXPECT_EQ(s, to_vector(hf_top_p(t, p))) << "V=" << vocab << " top_p=" << p;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sampler

at::Tensor logits_of(const std::vector<float>& values) {
    return at::tensor(values);
}

TEST(Sampler, GreedyTakesTheFirstMaximumAfterThePenalty) {
    Sampler greedy(SamplingParams{});
    const auto logits = logits_of({1.0f, 5.0f, 5.0f, 2.0f});
    EXPECT_EQ(greedy.sample(logits, {}), 1);
    const std::vector<int32_t> repeated{1};
    EXPECT_EQ(greedy.sample(logits, repeated), 1);  // without a penalty the context is unused...
    SamplingParams penalised;
    penalised.repetition_penalty = 2.0;
    EXPECT_EQ(Sampler(penalised).sample(logits, repeated), 2);  // ...with one, 1 drops to 2.5
    const std::vector<int32_t> out_of_range{-5, 4, 1000, std::numeric_limits<int32_t>::max()};
    EXPECT_EQ(Sampler(penalised).sample(logits, out_of_range), 1);
    // Greedy ignores top_k / top_p and draws nothing.
    SamplingParams filtered;
    filtered.top_k = 1;
    filtered.top_p = 0.1;
    EXPECT_EQ(Sampler(filtered).sample(logits, {}), 1);
}

TEST(Sampler, AcceptsOtherDtypesAndRejectsBadLogits) {
    Sampler greedy(SamplingParams{});
    EXPECT_EQ(greedy.sample(logits_of({0.5f, -1.0f, 3.0f}).to(at::kBFloat16), {}), 2);
    EXPECT_EQ(greedy.sample(logits_of({0.5f, -1.0f, 3.0f}).to(at::kDouble), {}), 2);
    EXPECT_EQ(greedy.sample(at::arange(12, at::kFloat).reshape({3, 4})[1], {}), 3);
    EXPECT_THROW(greedy.sample(at::zeros({2, 3}), {}), Error);
    EXPECT_THROW(greedy.sample(at::zeros({0}), {}), Error);
    EXPECT_THROW(greedy.sample(at::arange(3), {}), Error);
    EXPECT_THROW(greedy.sample(logits_of({0.0f, std::nanf("")}), {}), Error);
    SamplingParams sampled;
    sampled.temperature = 1.0;
    EXPECT_THROW(Sampler(sampled).sample(logits_of({-kInf, -kInf}), {}), Error);
    EXPECT_THROW(Sampler(sampled).sample(logits_of({0.0f, kInf}), {}), Error);
}

TEST(Sampler, RejectsOutOfRangeParameters) {
    const auto rejected = [](auto mutate) {
        SamplingParams p;
        mutate(p);
        try {
            Sampler s(p);
        } catch (const Error& e) {
            return e.kind() == ErrorKind::kInvalidArgument;
        }
        return false;
    };
    EXPECT_TRUE(rejected([](SamplingParams& p) { p.temperature = -1; }));
    EXPECT_TRUE(rejected([](SamplingParams& p) { p.temperature = std::nan(""); }));
    EXPECT_TRUE(rejected([](SamplingParams& p) { p.top_k = -3; }));
    EXPECT_TRUE(rejected([](SamplingParams& p) { p.top_p = 0; }));
    EXPECT_TRUE(rejected([](SamplingParams& p) { p.top_p = 1.5; }));
    EXPECT_TRUE(rejected([](SamplingParams& p) { p.repetition_penalty = 0; }));
    EXPECT_FALSE(rejected([](SamplingParams&) {}));
}

std::vector<double> frequencies(Sampler& sampler, const at::Tensor& logits, int draws) {
    std::vector<double> counts(static_cast<size_t>(logits.numel()), 0.0);
    for (int i = 0; i < draws; ++i) counts[static_cast<size_t>(sampler.sample(logits, {}))] += 1;
    for (double& c : counts) c /= draws;
    return counts;
}

TEST(Sampler, DrawsFollowTheSoftmax) {
    const std::vector<float> values{1.0f, 2.0f, 0.5f, 3.0f, -1.0f};
    // Binomial standard deviation at 20000 draws is <= 0.0036; the seed makes this deterministic.
    constexpr int kDraws = 20000;
    constexpr double kTolerance = 0.012;
    for (double temperature : {1.0, 0.5, 2.0}) {
        SamplingParams p;
        p.temperature = temperature;
        p.seed = 42;
        Sampler sampler(p);
        auto scaled = values;
        apply_temperature(scaled, temperature);
        const auto want = softmax(scaled);
        const auto got = frequencies(sampler, logits_of(values), kDraws);
        for (size_t i = 0; i < want.size(); ++i) {
            EXPECT_NEAR(got[i], want[i], kTolerance) << "T=" << temperature << " id " << i;
        }
    }
}

TEST(Sampler, DrawsStayInsideTopKAndTopP) {
    const std::vector<float> values{1.0f, 2.0f, 0.5f, 3.0f, -1.0f};
    SamplingParams p;
    p.temperature = 1.0;
    p.top_k = 2;  // ids 3 and 1, renormalised: e^3 / (e^3 + e^2) = 0.731
    p.seed = 7;
    Sampler top_k(p);
    auto got = frequencies(top_k, logits_of(values), 20000);
    EXPECT_EQ(got[0] + got[2] + got[4], 0.0);
    EXPECT_NEAR(got[3], 1.0 / (1.0 + std::exp(-1.0)), 0.012);

    // Probabilities 0.2/0.5/0.3 with top_p 0.6: the 0.2 token is removed, the rest renormalised.
    p.top_k = 0;
    p.top_p = 0.6;
    Sampler top_p(p);
    got = frequencies(top_p, logits_of(log_probs({0.2, 0.5, 0.3})), 20000);
    EXPECT_EQ(got[0], 0.0);
    EXPECT_NEAR(got[1], 0.625, 0.012);
    EXPECT_NEAR(got[2], 0.375, 0.012);
}

std::vector<int32_t> draw_sequence(uint64_t seed, int n) {
    SamplingParams p;
    p.temperature = 1.0;
    p.seed = seed;
    Sampler sampler(p);
    const auto logits = at::zeros({1000});
    std::vector<int32_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(sampler.sample(logits, {}));
    return ids;
}

TEST(Sampler, SeedReproducesTheSequence) {
    EXPECT_EQ(draw_sequence(5, 64), draw_sequence(5, 64));
    EXPECT_NE(draw_sequence(5, 64), draw_sequence(6, 64));
}

TEST(Sampler, QwenSettingsOnTheRealVocabularySize) {
    // Qwen2-Audio-7B-Instruct's generation_config on V = 156032: every draw is one of the 20 best
    // penalised scores and survives top_p (checked with the ATen oracle).
    std::mt19937 rng(99);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    std::vector<float> values(156032);
    for (float& v : values) v = normal(rng);
    const std::vector<int32_t> context{10, 20, 30, 155000};
    auto params = SamplingParams::from(parse_generation(kQwen2AudioInstructGeneration));
    params.seed = 3;
    Sampler sampler(params);

    auto want = hf_repetition_penalty(at::tensor(values), context, 1.1) / 0.7;
    want = hf_top_p(hf_top_k(want, 20), 0.5);
    const auto allowed = to_vector(want);
    const auto logits = at::tensor(values).to(at::kBFloat16).to(at::kFloat);
    for (int i = 0; i < 200; ++i) {
        const auto id = sampler.sample(at::tensor(values), context);
        ASSERT_NE(allowed[static_cast<size_t>(id)], -kInf) << id;
    }
    EXPECT_GE(sampler.sample(logits, context), 0);
}

}  // namespace
}  // namespace sarsteer::model
