// Whisper log-mel features against references computed by openai/whisper (torch) and librosa.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "audio_test_util.h"
#include "io/safetensors.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer {
namespace {

using testing::expect_error;
using testing::fixtures_dir;

const io::SafetensorsFile& reference() {
    static const io::SafetensorsFile file =
        io::SafetensorsFile::open(fixtures_dir() / "whisper_features_reference.safetensors");
    return file;
}

std::vector<float> reference_tensor(const char* name) {
    return io::to_f32(reference().at(name));
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    }
    return worst;
}

void expect_matches_reference(const std::vector<float>& samples, int n_mels, const char* name) {
    const LogMelFeatures features = whisper_log_mel(samples, n_mels);
    ASSERT_EQ(features.n_mels, n_mels);
    ASSERT_EQ(features.n_frames, 3000);
    const auto& view = reference().at(name);
    ASSERT_EQ(view.shape, (std::vector<int64_t>{n_mels, 3000}));
    const double diff = max_abs_diff(features.data, io::to_f32(view));
    std::cout << "[ info ] " << name << " max |ours - whisper| = " << diff << "\n";
    EXPECT_LE(diff, 1e-4);
}

TEST(MelFilters, MatchLibrosaSlaney128And80) {
    for (int n_mels : {128, 80}) {
        const auto& view = reference().at("mel_filters_" + std::to_string(n_mels));
        ASSERT_EQ(view.shape, (std::vector<int64_t>{n_mels, 201}));
        const std::vector<float> ours = mel_filters(n_mels);
        ASSERT_EQ(ours.size(), static_cast<std::size_t>(n_mels) * 201);
        const double diff = max_abs_diff(ours, io::to_f32(view));
        std::cout << "[ info ] mel_filters(" << n_mels << ") max diff = " << diff << "\n";
        EXPECT_LE(diff, 1e-6);
    }
}

TEST(MelFilters, SlaneyAreaNormalisation) {
    // norm="slaney" scales each triangle (height 1) to unit area in Hz. With a fine FFT grid the
    // Riemann sum of the weights times the bin width approximates that area closely.
    const int n_fft = 16384;
    const int sr = 16000;
    const std::vector<float> bank = mel_filters(40, n_fft, sr);
    const int bins = n_fft / 2 + 1;
    const double bin_hz = static_cast<double>(sr) / n_fft;
    for (int m = 0; m < 40; ++m) {
        double area = 0.0;
        for (int k = 0; k < bins; ++k) area += bank[static_cast<std::size_t>(m * bins + k)];
        EXPECT_NEAR(area * bin_hz, 1.0, 1e-2) << "mel " << m;
    }
}

TEST(MelFilters, RejectsBadArguments) {
    expect_error(ErrorKind::kInvalidArgument, [] { mel_filters(0); });
    expect_error(ErrorKind::kInvalidArgument, [] { mel_filters(128, 1); });
    expect_error(ErrorKind::kInvalidArgument, [] { mel_filters(128, 400, 0); });
}

TEST(LogMel, MatchesWhisperReference128) {
    expect_matches_reference(reference_tensor("waveform_16k"), 128, "log_mel_128");
}

TEST(LogMel, MatchesWhisperReference80) {
    expect_matches_reference(reference_tensor("waveform_16k"), 80, "log_mel_80");
}

TEST(LogMel, MatchesWhisperReferenceTone) {
    expect_matches_reference(reference_tensor("tone_16k"), 128, "tone_log_mel_128");
}

TEST(LogMel, ElevenSecondClipHas1100ValidFrames) {
    const std::vector<float> wave = reference_tensor("waveform_16k");
    ASSERT_EQ(wave.size(), 176000u);
    const LogMelFeatures features = whisper_log_mel(wave);
    ASSERT_EQ(features.attention_mask.size(), 3000u);
    EXPECT_EQ(features.valid_frames(), 1100);
    EXPECT_EQ(features.attention_mask[1099], 1);
    EXPECT_EQ(features.attention_mask[1100], 0);
}

TEST(LogMel, SilenceIsTheFloorEverywhere) {
    // All-zero power: log10(1e-10) = -10 everywhere, max - 8 does not bind, (-10 + 4) / 4.
    const LogMelFeatures features = whisper_log_mel(std::vector<float>(16000, 0.0f));
    for (float v : features.data) ASSERT_FLOAT_EQ(v, -1.5f);
    const LogMelFeatures empty = whisper_log_mel({});
    EXPECT_EQ(empty.data, features.data);
    EXPECT_EQ(empty.valid_frames(), 0);
}

TEST(LogMel, DynamicRangeIsEightDecades) {
    const std::vector<float> wave = reference_tensor("waveform_16k");
    const LogMelFeatures features = whisper_log_mel(wave);
    const auto [lo, hi] = std::minmax_element(features.data.begin(), features.data.end());
    // Floored at max - 8 in log10 units, i.e. 2.0 after the / 4 scaling.
    EXPECT_NEAR(*hi - *lo, 2.0, 1e-5);
}

TEST(LogMel, LongInputIsCutToThirtySeconds) {
    std::vector<float> wave = testing::sine(300.0, 0.3, 16000, 600000);
    const LogMelFeatures full = whisper_log_mel(wave);
    wave.resize(480000);
    const LogMelFeatures cut = whisper_log_mel(wave);
    EXPECT_EQ(full.data, cut.data);
    EXPECT_EQ(full.valid_frames(), 3000);
}

TEST(LogMel, RejectsNonFiniteSamplesAndBadMelCount) {
    std::vector<float> wave(1000, 0.1f);
    wave[500] = std::numeric_limits<float>::quiet_NaN();
    expect_error(ErrorKind::kInvalidArgument, [&] { whisper_log_mel(wave); });
    wave[500] = std::numeric_limits<float>::infinity();
    expect_error(ErrorKind::kInvalidArgument, [&] { whisper_log_mel(wave); });
    expect_error(ErrorKind::kInvalidArgument, [] { whisper_log_mel({}, 0); });
    expect_error(ErrorKind::kInvalidArgument, [] { whisper_log_mel({}, 100000); });
}

TEST(AttentionMask, HandComputedLengths) {
    const auto count = [](std::size_t n) {
        const auto mask = whisper_attention_mask(n);
        EXPECT_EQ(mask.size(), 3000u);
        return std::count(mask.begin(), mask.end(), int64_t{1});
    };
    EXPECT_EQ(count(0), 0);
    EXPECT_EQ(count(1), 1);
    EXPECT_EQ(count(160), 1);
    EXPECT_EQ(count(161), 2);
    EXPECT_EQ(count(320), 2);
    EXPECT_EQ(count(321), 3);
    EXPECT_EQ(count(176000), 1100);
    EXPECT_EQ(count(479840), 2999);
    EXPECT_EQ(count(479841), 3000);
    EXPECT_EQ(count(480000), 3000);
    EXPECT_EQ(count(10'000'000), 3000);
    // Valid frames form a prefix.
    const auto mask = whisper_attention_mask(12345);
    EXPECT_TRUE(std::is_sorted(mask.rbegin(), mask.rend()));
}

TEST(LogMel, ThirtySecondsTakesWellUnder100ms) {
    const std::vector<float> wave = testing::sine(440.0, 0.5, 16000, 480000);
    whisper_log_mel(wave);  // warm-up: plans and filterbank caches
    double best_ms = 1e9;
    for (int i = 0; i < 5; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const LogMelFeatures features = whisper_log_mel(wave);
        const auto stop = std::chrono::steady_clock::now();
        ASSERT_EQ(features.data.size(), 128u * 3000u);
        best_ms =
            std::min(best_ms, std::chrono::duration<double, std::milli>(stop - start).count());
    }
    std::cout << "[ info ] 30 s log-mel: " << best_ms << " ms (best of 5)\n";
    EXPECT_LT(best_ms, 100.0);
}

TEST(LogMel, ConcurrentCallsAgree) {
    const std::vector<float> wave = testing::sine(1000.0, 0.25, 16000, 100000);
    const LogMelFeatures expected = whisper_log_mel(wave, 80);
    std::vector<LogMelFeatures> results(4);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < results.size(); ++i) {
        threads.emplace_back([&, i] { results[i] = whisper_log_mel(wave, i % 2 ? 80 : 128); });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(results[1].data, expected.data);
    EXPECT_EQ(results[3].data, expected.data);
    EXPECT_EQ(results[0].data, results[2].data);
}

// End to end: our decoder + soxr resampler on the original 44.1 kHz stereo 24-bit FLAC versus
// the reference features of ffmpeg's 16 kHz s16 decode. The resamplers differ, so this
// compares statistics, not exact values.
TEST(LogMel, JfkFlacEndToEndMatchesReference) {
    const Audio16k audio = load_audio_16k(fixtures_dir() / "jfk.flac");
    EXPECT_EQ(audio.source_sample_rate, 44100);
    EXPECT_EQ(audio.source_channels, 2);
    EXPECT_FALSE(audio.truncated);
    EXPECT_EQ(audio.samples.size(), 176000u);
    const LogMelFeatures features = whisper_log_mel(audio.samples);
    EXPECT_EQ(features.valid_frames(), 1100);

    const std::vector<float> golden = reference_tensor("log_mel_128");
    std::vector<double> diffs;
    double max_diff = 0.0;
    for (int m = 0; m < 128; ++m) {
        for (int t = 0; t < 1100; ++t) {
            const double d = std::abs(static_cast<double>(features.at(m, t)) -
                                      golden[static_cast<std::size_t>(m) * 3000 + t]);
            diffs.push_back(d);
            max_diff = std::max(max_diff, d);
        }
    }
    double mean = 0.0;
    for (double d : diffs) mean += d;
    mean /= static_cast<double>(diffs.size());
    std::sort(diffs.begin(), diffs.end());
    const double p99 = diffs[static_cast<std::size_t>(0.99 * static_cast<double>(diffs.size()))];
    std::cout << "[ info ] jfk.flac end to end: mean " << mean << ", p99 " << p99 << ", max "
              << max_diff << "\n";
    EXPECT_LE(mean, 0.002);
    EXPECT_LE(p99, 0.02);
}

}  // namespace
}  // namespace sarsteer
