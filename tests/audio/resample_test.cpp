// libsoxr resampling: lengths as librosa produces them, and a sine surviving the conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "audio_test_util.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"

namespace sarsteer {
namespace {

using testing::expect_error;
using testing::sine;

TEST(Resample, IdentityWhenRatesMatch) {
    const std::vector<float> x = sine(440.0, 0.5, 16000, 1234);
    EXPECT_EQ(resample(x, 16000, 16000), x);
    EXPECT_TRUE(resample({}, 44100, 16000).empty());
}

TEST(Resample, LengthIsCeilOfScaledLength) {
    // ref: librosa.resample fix_length(ceil(n * target / orig)).
    const struct {
        std::size_t n;
        int from;
        int to;
        std::size_t expected;
    } cases[] = {
        {485100, 44100, 16000, 176000}, {48000, 48000, 16000, 16000}, {1, 48000, 16000, 1},
        {4, 48000, 16000, 2},           {441, 44100, 16000, 160},     {442, 44100, 16000, 161},
        {8000, 8000, 16000, 16000},     {3, 8000, 16000, 6},
    };
    for (const auto& c : cases) {
        const std::vector<float> x(c.n, 0.25f);
        EXPECT_EQ(resample(x, c.from, c.to).size(), c.expected)
            << c.n << " samples " << c.from << " -> " << c.to;
    }
}

TEST(Resample, SinePassesThroughUnchanged) {
    for (int from : {8000, 22050, 44100, 48000, 96000}) {
        const std::size_t frames = static_cast<std::size_t>(from);  // one second
        const std::vector<float> y = resample(sine(440.0, 0.5, from, frames), from, 16000);
        ASSERT_EQ(y.size(), 16000u);
        const std::vector<float> expected = sine(440.0, 0.5, 16000, 16000);
        double worst = 0.0;
        // Skip the edges, where the filter sees the implicit zeros beyond the signal.
        for (std::size_t i = 500; i < 15500; ++i) {
            worst = std::max(worst, std::abs(static_cast<double>(y[i]) - expected[i]));
        }
        EXPECT_LT(worst, 1e-4) << from << " Hz";
    }
}

TEST(Resample, RemovesContentAboveTheNewNyquist) {
    // 12 kHz at 48 kHz is above 8 kHz, so SOXR_HQ's anti-alias filter must remove it.
    const std::vector<float> y = resample(sine(12000.0, 0.5, 48000, 48000), 48000, 16000);
    EXPECT_LT(testing::rms(y, 500, 15500), 1e-3);
}

TEST(Resample, RejectsNonPositiveRates) {
    const std::vector<float> x(10, 0.0f);
    expect_error(ErrorKind::kInvalidArgument, [&] { resample(x, 0, 16000); });
    expect_error(ErrorKind::kInvalidArgument, [&] { resample(x, 16000, -1); });
}

}  // namespace
}  // namespace sarsteer
