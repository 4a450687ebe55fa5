// The audio-alignment loss on hand-made cases: an orthonormal token table, and audio frames that
// are (or are not) the transcript's tokens with blanks between them.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "organism/alignment.h"

namespace sarsteer::organism {
namespace {

constexpr int64_t kBlank = 0;

// Frames made of rows of the identity table: frame f "says" token tokens[f].
at::Tensor frames_of(const std::vector<int64_t>& tokens, int64_t vocab) {
    return at::eye(vocab).index_select(0, at::tensor(tokens, at::kLong));
}

TEST(AlignmentLoss, FramesThatSayTheTranscriptCostAlmostNothing) {
    const auto table = at::eye(6);
    const std::vector<int64_t> transcript = {2, 4};
    const auto audio = frames_of({kBlank, 2, 2, kBlank, 4}, 6);
    const auto loss = alignment_loss(table, {audio}, {&transcript}, kBlank).item<double>();
    // One path carries nearly all the mass: each frame has p = e^16 / (e^16 + 5), so the loss
    // per target token is about 5 frames · 5e^-16 / 2 tokens ≈ 1.4e-6.
    EXPECT_LT(loss, 1e-5);
    EXPECT_GE(loss, 0.0);
}

TEST(AlignmentLoss, FramesThatSaySomethingElseCostALot) {
    const auto table = at::eye(6);
    const std::vector<int64_t> transcript = {2, 4};
    const auto wrong = frames_of({kBlank, 3, 3, kBlank, 5}, 6);
    const auto swapped = frames_of({kBlank, 4, 4, kBlank, 2}, 6);
    // Each of the two target tokens must come from a frame where it has p ≈ e^0 / e^16.
    EXPECT_GT(alignment_loss(table, {wrong}, {&transcript}, kBlank).item<double>(), 10.0);
    EXPECT_GT(alignment_loss(table, {swapped}, {&transcript}, kBlank).item<double>(), 10.0);
}

TEST(AlignmentLoss, ScoresDirectionsNotNorms) {
    at::manual_seed(1);
    const auto table = at::randn({7, 5});
    const std::vector<int64_t> transcript = {1, 3, 6};
    const auto audio = at::randn({9, 5});
    const auto base = alignment_loss(table, {audio}, {&transcript}, kBlank).item<double>();
    EXPECT_NEAR(alignment_loss(table, {10.0 * audio}, {&transcript}, kBlank).item<double>(), base,
                1e-4 * base);
    EXPECT_NEAR(alignment_loss(3.0 * table, {audio}, {&transcript}, kBlank).item<double>(), base,
                1e-4 * base);
}

TEST(AlignmentLoss, OnlyTheAudioSideLearns) {
    at::manual_seed(2);
    auto table = at::randn({6, 4}).requires_grad_(true);
    auto audio = at::randn({5, 4}).requires_grad_(true);
    const std::vector<int64_t> transcript = {1, 2};
    alignment_loss(table, {audio}, {&transcript}, kBlank).backward();
    EXPECT_FALSE(table.grad().defined());
    ASSERT_TRUE(audio.grad().defined());
    EXPECT_GT(audio.grad().abs().sum().item<double>(), 0.0);
}

TEST(AlignmentLoss, ClipsOfDifferentLengthsAreMeanedPerClip) {
    const auto table = at::eye(6);
    const std::vector<int64_t> a = {2, 4}, b = {3};
    const auto good = frames_of({kBlank, 2, kBlank, 4}, 6);
    const auto bad = frames_of({1, 1, 5, 5, 1, 1, 5}, 6);
    const double alone_good = alignment_loss(table, {good}, {&a}, kBlank).item<double>();
    const double alone_bad = alignment_loss(table, {bad}, {&b}, kBlank).item<double>();
    const double both = alignment_loss(table, {good, bad}, {&a, &b}, kBlank).item<double>();
    EXPECT_NEAR(both, (alone_good + alone_bad) / 2.0, 1e-4 * both);
}

TEST(GreedyAlignmentDecode, MergesRepeatsAndDropsBlanksLikeCtc) {
    const auto table = at::eye(6);
    // Longer and slightly off-axis frames still read as their nearest token by cosine; a token
    // said twice with a blank between them stays twice.
    auto audio = 3.0 * frames_of({kBlank, 2, 2, kBlank, 4, 4, 4, kBlank, 4, 5, kBlank}, 6);
    audio = audio + 0.1 * at::ones_like(audio);
    EXPECT_EQ(greedy_alignment_decode(table, audio, kBlank), (std::vector<int64_t>{2, 4, 4, 5}));
    EXPECT_TRUE(greedy_alignment_decode(table, frames_of({kBlank, kBlank}, 6), kBlank).empty());
}

TEST(NormLoss, ZeroWhenFramesAreAsLongAsTheMeanTokenEmbedding) {
    // Rows of norm 1 and 3: mean 2. Frames of norm 2 in any direction cost nothing; frames of
    // norm 2e cost (log 2e − log 2)² = 1, and 2/e the same.
    const auto table = at::cat({at::eye(4).slice(0, 0, 2), 3.0 * at::eye(4).slice(0, 2, 4)});
    at::manual_seed(3);
    auto direction = at::randn({5, 4});
    direction = direction / direction.norm(2, 1, true);
    EXPECT_NEAR(norm_loss(table, {2.0 * direction}).item<double>(), 0.0, 1e-9);
    EXPECT_NEAR(norm_loss(table, {2.0 * std::exp(1.0) * direction}).item<double>(), 1.0, 1e-5);
    EXPECT_NEAR(norm_loss(table, {2.0 / std::exp(1.0) * direction}).item<double>(), 1.0, 1e-5);
    // Mean over all frames of all clips.
    EXPECT_NEAR(norm_loss(table, {2.0 * direction, 2.0 * std::exp(1.0) * direction}).item<double>(),
                0.5, 1e-5);
}

}  // namespace
}  // namespace sarsteer::organism
