#include "model/audio_encoder.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "model/load.h"
#include "model/make_tiny.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"

namespace sarsteer::model {
namespace {

constexpr int64_t kFrames = kWhisperNFrames;  // 3000

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

ModelConfig small_config() {
    return tiny_config(800, 770, 768, 769);
}

// More heads and layers, 80 mel bins (Whisper v1/v2 geometry), d_model 64.
ModelConfig wide_config() {
    auto config = small_config();
    config.audio->num_mel_bins = 80;
    config.audio->encoder_layers = 3;
    config.audio->encoder_attention_heads = 8;
    config.audio->encoder_ffn_dim = 96;
    config.audio->d_model = 64;
    return config;
}

// The real Whisper log-mel of a synthetic clip with exactly `valid_frames` valid frames: the
// padded frames hold the log-mel of silence, as in practice. [n_mels, 3000]
at::Tensor log_mel(int64_t valid_frames, int n_mels) {
    std::vector<float> samples(static_cast<std::size_t>(valid_frames * kWhisperHopLength));
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const double t = static_cast<double>(i) / kWhisperSampleRate;
        const double chirp = std::sin(2 * std::numbers::pi * (200.0 + 300.0 * t) * t);
        const double tone = std::sin(2 * std::numbers::pi * 1234.5 * t) * std::sin(3.0 * t);
        samples[i] = static_cast<float>(0.4 * chirp + 0.2 * tone);
    }
    auto mel = whisper_log_mel(samples, n_mels);
    EXPECT_EQ(mel.valid_frames(), valid_frames);
    return at::from_blob(mel.data.data(), {n_mels, mel.n_frames}, at::kFloat).clone();
}

at::Tensor random_features(int64_t n_mels, uint64_t seed) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::normal(0.0, 1.0, {n_mels, kFrames}, generator);
}

// A literal re-implementation of what transformers computes for one clip (batch of one):
// Qwen2AudioForConditionalGeneration.forward builds the [B, 1, 1500, 1500] additive -inf mask over
// padded keys, Qwen2AudioEncoder.forward runs all 1500 positions, pools all of them, and the clip's
// rows of `masked_audio_features` are the first audio_output_lengths projected rows.
at::Tensor hf_reference(const AudioTowerWeights& w, const AudioConfig& c,
                        const at::Tensor& features, int64_t valid_frames) {
    const int64_t n_head = c.encoder_attention_heads;
    const int64_t d = c.d_model;
    const int64_t d_head = d / n_head;
    const double scaling = std::pow(static_cast<double>(d_head), -0.5);
    const int64_t max_mel_seq_len = features.size(-1);
    const int64_t max_seq_len = floor_div(max_mel_seq_len - 2, 2) + 1;              // 1500
    const int64_t audio_feat_lengths = floor_div(valid_frames - 1, 2) + 1;          // L'
    const int64_t audio_output_lengths = floor_div(audio_feat_lengths - 2, 2) + 1;  // L''

    // padding_mask = seq_range >= lengths_expand; audio_attention_mask[padding] = -inf
    const auto seq_range = at::arange(max_seq_len, features.options().dtype(at::kLong));
    const auto padding = (seq_range >= audio_feat_lengths).view({1, 1, 1, max_seq_len});
    auto mask = at::zeros({1, 1, max_seq_len, max_seq_len}, features.options());
    mask.masked_fill_(padding.expand_as(mask), -std::numeric_limits<double>::infinity());

    auto x = features.unsqueeze(0);  // [1, n_mels, 3000]
    x = at::gelu(at::conv1d(x, w.conv1_w, w.conv1_b, 1, 1));
    x = at::gelu(at::conv1d(x, w.conv2_w, w.conv2_b, 2, 1));
    x = x.permute({0, 2, 1}) + w.positions;  // [1, 1500, d]
    for (const auto& l : w.layers) {
        auto residual = x;
        auto h = at::layer_norm(x, {d}, l.attn_ln_w, l.attn_ln_b, 1e-5);
        auto shape = [&](const at::Tensor& t) {
            return t.view({1, max_seq_len, n_head, d_head}).transpose(1, 2);
        };
        auto q = shape(at::linear(h, l.q_w, l.q_b) * scaling);
        auto k = shape(at::linear(h, l.k_w));
        auto v = shape(at::linear(h, l.v_w, l.v_b));
        auto weights = at::softmax(at::matmul(q, k.transpose(2, 3)) + mask, -1);
        auto attn = at::matmul(weights, v).transpose(1, 2).reshape({1, max_seq_len, d});
        x = residual + at::linear(attn, l.o_w, l.o_b);
        residual = x;
        h = at::layer_norm(x, {d}, l.final_ln_w, l.final_ln_b, 1e-5);
        h = at::linear(at::gelu(at::linear(h, l.fc1_w, l.fc1_b)), l.fc2_w, l.fc2_b);
        x = residual + h;
    }
    // hidden_states.permute(0, 2, 1).float() -> avg_pooler -> .permute(0, 2, 1).to(dtype)
    x = at::avg_pool1d(x.permute({0, 2, 1}).to(at::kFloat), {2}, {2})
            .permute({0, 2, 1})
            .to(features.scalar_type());  // [1, 750, d]
    x = at::layer_norm(x, {d}, w.ln_w, w.ln_b, 1e-5);
    auto audio_features = at::linear(x, w.proj_w, w.proj_b);  // [1, 750, hidden]
    const auto num_audio_tokens = audio_features.size(1);
    const auto audio_features_mask =
        at::arange(num_audio_tokens, features.options().dtype(at::kLong)) < audio_output_lengths;
    // masked_audio_features = audio_features[audio_features_mask].view(-1, embed_dim)
    return audio_features.masked_select(audio_features_mask.view({1, -1, 1}))
        .view({-1, audio_features.size(-1)});
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
    if (a.numel() == 0) return 0.0;
    return (a - b).abs().max().item<double>();
}

// Checks encode_audio against the reference for each L; returns the largest difference.
double check_against_reference(const ModelConfig& config, uint64_t seed,
                               const std::vector<int64_t>& lengths, bool real_mel) {
    const auto weights = random_weights(config, seed);
    const auto& tower = *weights.audio;
    const auto& audio = *config.audio;
    double worst = 0.0;
    for (int64_t length : lengths) {
        SCOPED_TRACE("L = " + std::to_string(length));
        const auto features = real_mel ? log_mel(length, static_cast<int>(audio.num_mel_bins))
                                       : random_features(audio.num_mel_bins, seed + 7);
        const auto got = encode_audio(tower, audio, features, length);
        const auto want = hf_reference(tower, audio, features, length);
        EXPECT_EQ(got.sizes(), want.sizes());
        EXPECT_EQ(got.size(0), audio_output_length(length));
        if (got.sizes() != want.sizes()) continue;
        const double diff = max_abs_diff(got, want);
        EXPECT_LE(diff, 1e-5);
        worst = std::max(worst, diff);
    }
    return worst;
}

// Odd and even L, output lengths 0 and 1, and L whose conv input reaches frame 3000 (L >= 2999).
const std::vector<int64_t> kLengths = {1, 2, 3, 4, 100, 101, 1100, 2999, 3000};

TEST(AudioEncoder, MatchesHfReferenceOnLogMel) {
    c10::InferenceMode guard;
    const double worst = check_against_reference(small_config(), 1, kLengths, /*real_mel=*/true);
    std::printf("max |encode_audio - HF reference| (log-mel, tiny): %.3g\n", worst);
}

TEST(AudioEncoder, MatchesHfReferenceOnRandomFeatures) {
    c10::InferenceMode guard;
    const double tiny = check_against_reference(small_config(), 2, {3, 1100}, /*real_mel=*/false);
    const double wide = check_against_reference(wide_config(), 3, {101, 3000}, /*real_mel=*/false);
    const double wide_mel = check_against_reference(wide_config(), 4, {1101}, /*real_mel=*/true);
    std::printf(
        "max |encode_audio - HF reference| (random tiny / wide / log-mel wide): %.3g %.3g %.3g\n",
        tiny, wide, wide_mel);
}

// Frames from 2 * feat_len + 1 on never reach a kept row, in transformers as here: changing
// them leaves both outputs bit-identical. Frame L (and L+1 for odd L) do reach them.
TEST(AudioEncoder, OnlyFramesWithinReachMatter) {
    c10::InferenceMode guard;
    const auto config = small_config();
    const auto weights = random_weights(config, 5);
    const auto& tower = *weights.audio;
    const auto& audio = *config.audio;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(11);
    for (int64_t length : {101, 1100, 2999}) {
        SCOPED_TRACE("L = " + std::to_string(length));
        const int64_t reach = 2 * encoder_feature_length(length) + 1;  // first ignored frame
        EXPECT_EQ(reach, length % 2 == 0 ? length + 1 : length + 2);
        const auto features = log_mel(length, static_cast<int>(audio.num_mel_bins));
        const auto base = encode_audio(tower, audio, features, length);
        const auto base_ref = hf_reference(tower, audio, features, length);

        if (reach < kFrames) {
            auto changed = features.clone();
            changed.slice(1, reach) =
                at::normal(0.0, 10.0, {audio.num_mel_bins, kFrames - reach}, generator);
            EXPECT_TRUE(at::equal(encode_audio(tower, audio, changed, length), base));
            EXPECT_TRUE(at::equal(hf_reference(tower, audio, changed, length), base_ref));
        }
        for (int64_t frame = length; frame < std::min(reach, kFrames); ++frame) {
            SCOPED_TRACE("changed frame " + std::to_string(frame));
            auto changed = features.clone();
            changed.select(1, frame) += 10.0;  // a loud frame instead of the silence padding
            const auto got = encode_audio(tower, audio, changed, length);
            const auto want = hf_reference(tower, audio, changed, length);
            EXPECT_GT(max_abs_diff(got, base), 1e-3);
            EXPECT_GT(max_abs_diff(want, base_ref), 1e-3);
            EXPECT_LE(max_abs_diff(got, want), 1e-5);
        }
    }
}

TEST(AudioEncoder, BatchEqualsPerClip) {
    c10::InferenceMode guard;
    const auto config = wide_config();
    const auto weights = random_weights(config, 6);
    const auto& tower = *weights.audio;
    const auto& audio = *config.audio;
    const std::vector<int64_t> lengths = {3000, 1, 1100, 101, 2, 4};
    std::vector<at::Tensor> clips, expected;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        clips.push_back(i % 2 == 0 ? log_mel(lengths[i], static_cast<int>(audio.num_mel_bins))
                                   : random_features(audio.num_mel_bins, 20 + i));
        expected.push_back(encode_audio(tower, audio, clips.back(), lengths[i]));
    }
    const auto batch = encode_audio_batch(tower, audio, at::stack(clips), lengths);
    int64_t rows = 0;
    for (int64_t length : lengths) rows += audio_output_length(length);
    EXPECT_EQ(batch.sizes(), (std::vector<int64_t>{rows, config.text.hidden_size}));
    EXPECT_TRUE(at::equal(batch, at::cat(expected, 0)));

    const auto none = encode_audio_batch(tower, audio, at::zeros({0, audio.num_mel_bins, kFrames}),
                                         std::span<const int64_t>{});
    EXPECT_EQ(none.sizes(), (std::vector<int64_t>{0, config.text.hidden_size}));
}

TEST(AudioEncoder, OutputShapeFollowsValidFrames) {
    c10::InferenceMode guard;
    const auto config = small_config();
    const auto weights = random_weights(config, 7);
    const auto features = random_features(config.audio->num_mel_bins, 8);
    const int64_t hidden = config.text.hidden_size;
    for (auto [length, rows] : std::vector<std::pair<int64_t, int64_t>>{{1, 0},
                                                                        {2, 0},
                                                                        {3, 1},
                                                                        {4, 1},
                                                                        {5, 1},
                                                                        {7, 2},
                                                                        {1100, 275},
                                                                        {2999, 750},
                                                                        {3000, 750}}) {
        SCOPED_TRACE("L = " + std::to_string(length));
        const auto out = encode_audio(*weights.audio, *config.audio, features, length);
        EXPECT_EQ(out.sizes(), (std::vector<int64_t>{rows, hidden}));
        EXPECT_EQ(out.scalar_type(), at::kFloat);
    }
    EXPECT_EQ(encoder_feature_length(0), 0);
    EXPECT_EQ(encoder_feature_length(1), 1);
    EXPECT_EQ(encoder_feature_length(2), 1);
    EXPECT_EQ(encoder_feature_length(3), 2);
    EXPECT_EQ(encoder_feature_length(1100), 550);
    EXPECT_EQ(encoder_feature_length(2999), 1500);
    EXPECT_EQ(encoder_feature_length(3000), 1500);
}

// Nothing is tied to float: double weights give double results (features are converted to the
// weights' dtype, as HF converts input_features to conv1's dtype).
TEST(AudioEncoder, FollowsWeightDtype) {
    c10::InferenceMode guard;
    const auto config = small_config();
    const auto f32 = random_weights(config, 9);
    const auto f64 = random_weights(config, 9, at::kDouble);
    const auto features = log_mel(1101, static_cast<int>(config.audio->num_mel_bins));
    const auto want = encode_audio(*f32.audio, *config.audio, features, 1101);
    const auto got = encode_audio(*f64.audio, *config.audio, features, 1101);
    EXPECT_EQ(got.scalar_type(), at::kDouble);
    EXPECT_LE(max_abs_diff(got.to(at::kFloat), want), 1e-5);
    const auto ref = hf_reference(*f64.audio, *config.audio, features.to(at::kDouble), 1101);
    EXPECT_LE(max_abs_diff(got, ref), 1e-12);
}

template <typename F>
void expect_invalid(F&& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "no Error thrown (expected one mentioning \"" << needle << "\")";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(AudioEncoder, RejectsBadInput) {
    c10::InferenceMode guard;
    const auto config = small_config();
    const auto weights = random_weights(config, 10);
    const auto& tower = *weights.audio;
    const auto& audio = *config.audio;
    const auto good = random_features(audio.num_mel_bins, 12);
    auto encode = [&](const at::Tensor& features, int64_t length) {
        return [&tower, &audio, features, length] {
            return encode_audio(tower, audio, features, length);
        };
    };
    expect_invalid(encode(at::zeros({audio.num_mel_bins, 2999}), 100), "[128, 2999]");
    expect_invalid(encode(at::zeros({80, kFrames}), 100), "expected [128, 3000]");
    expect_invalid(encode(good.unsqueeze(0), 100), "[1, 128, 3000]");
    expect_invalid(encode(at::zeros({kFrames}), 100), "[3000]");
    expect_invalid(encode(at::Tensor(), 100), "undefined");
    expect_invalid(encode(good.to(at::kLong), 100), "floating");
    expect_invalid(encode(good, 0), "0 valid frames, expected 1..3000");
    expect_invalid(encode(good, 3001), "3001 valid frames");
    expect_invalid(encode(good, -5), "-5 valid frames");
    expect_invalid([] { return encoder_feature_length(-1); }, "negative");

    const std::vector<int64_t> two = {100, 3000};
    expect_invalid([&] { return encode_audio_batch(tower, audio, good, two); }, "for 2 valid");
    expect_invalid([&] { return encode_audio_batch(tower, audio, good.unsqueeze(0), two); },
                   "[1, 128, 3000]");
    expect_invalid(
        [&] {
            return encode_audio_batch(tower, audio, at::zeros({2, 80, kFrames}), two);
        },
        "expected [2, 128, 3000]");
    expect_invalid(
        [&] {
            return encode_audio_batch(tower, audio, at::zeros({0, 80, kFrames}),
                                      std::span<const int64_t>{});
        },
        "expected [0, 128, 3000]");
    const std::vector<int64_t> bad = {100, 0};
    expect_invalid(
        [&] {
            return encode_audio_batch(tower, audio, at::stack({good, good}), bad);
        },
        "clip 1 has 0 valid frames");
}

}  // namespace
}  // namespace sarsteer::model
