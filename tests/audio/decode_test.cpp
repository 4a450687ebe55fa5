// Decoding, downmixing and the 16 kHz loader on files written here with libsndfile, plus the
// failure modes a user or a client can provoke.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "audio_test_util.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer {
namespace {

using testing::best_lag;
using testing::expect_error;
using testing::read_bytes;
using testing::rms;
using testing::ScratchDir;
using testing::sine;
using testing::spread_channels;
using testing::write_bytes;
using testing::write_sound;

constexpr double kFreq = 440.0;
constexpr double kAmplitude = 0.5;

struct FormatCase {
    const char* name;
    int format;
    int rate;
    int channels;
    bool lossy;
    double max_error;  // lossless only: largest |decoded - ideal| at 16 kHz
};

void PrintTo(const FormatCase& c, std::ostream* os) {
    *os << c.name;
}

class Formats : public ::testing::TestWithParam<FormatCase> {};

TEST_P(Formats, SineSurvivesDecodeDownmixAndResample) {
    const FormatCase& c = GetParam();
    if (!testing::format_writable(c.format, c.rate, c.channels)) {
        GTEST_SKIP() << "this libsndfile cannot write " << c.name;
    }
    ScratchDir dir("audio-formats");
    const auto path = dir / (std::string(c.name) + ".audio");
    const std::size_t frames = static_cast<std::size_t>(c.rate) * 3 / 2;  // 1.5 s
    ASSERT_TRUE(write_sound(path, c.format, c.rate, c.channels,
                            spread_channels(sine(kFreq, kAmplitude, c.rate, frames), c.channels)));

    const DecodedAudio decoded = decode_audio(path);
    EXPECT_EQ(decoded.sample_rate, c.rate);
    EXPECT_EQ(decoded.channels, c.channels);
    EXPECT_FALSE(decoded.format.empty());
    if (c.lossy) {
        EXPECT_NEAR(static_cast<double>(decoded.samples.size()), static_cast<double>(frames),
                    0.05 * static_cast<double>(frames));
    } else {
        EXPECT_EQ(decoded.samples.size(), frames);
    }

    const Audio16k audio = load_audio_16k(path);
    EXPECT_EQ(audio.source_sample_rate, c.rate);
    EXPECT_EQ(audio.source_channels, c.channels);
    EXPECT_FALSE(audio.truncated);
    const std::size_t n16 = audio.samples.size();
    if (c.lossy) {
        EXPECT_NEAR(static_cast<double>(n16), 24000.0, 1200.0);
    } else {
        EXPECT_EQ(n16, (frames * 16000 + static_cast<std::size_t>(c.rate) - 1) /
                           static_cast<std::size_t>(c.rate));
        EXPECT_NEAR(audio.source_seconds, 1.5, 1e-9);
    }
    ASSERT_GT(n16, 8000u);

    // Compare with the ideal 16 kHz sine away from the edges (resampler and codec transients).
    const std::size_t begin = 2000;
    const std::size_t end = n16 - 2000;
    const std::vector<float> ideal = sine(kFreq, kAmplitude, 16000, n16 + 2000);
    const int max_lag = c.lossy ? 1500 : 0;
    const auto match = best_lag(ideal, audio.samples, begin, end, max_lag);
    EXPECT_GT(match.correlation, c.lossy ? 0.99 : 0.9999) << "lag " << match.lag;
    EXPECT_NEAR(rms(audio.samples, begin, end), kAmplitude / std::sqrt(2.0), 0.05 * kAmplitude);
    if (!c.lossy) {
        double worst = 0.0;
        for (std::size_t i = begin; i < end; ++i) {
            worst = std::max(worst, std::abs(static_cast<double>(audio.samples[i]) - ideal[i]));
        }
        EXPECT_LT(worst, c.max_error);
    }

    // The in-memory path (server uploads) gives exactly the file path's result.
    const std::vector<std::byte> bytes = read_bytes(path);
    const Audio16k from_memory = load_audio_16k(bytes);
    EXPECT_EQ(from_memory.samples, audio.samples);
    EXPECT_EQ(from_memory.source_sample_rate, audio.source_sample_rate);
    EXPECT_EQ(decode_audio(bytes).samples, decoded.samples);
}

INSTANTIATE_TEST_SUITE_P(
    Audio, Formats,
    ::testing::Values(
        FormatCase{"wav_pcm16_8k_mono", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, false, 1e-3},
        FormatCase{"wav_pcm16_16k_mono", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, false, 1e-3},
        FormatCase{"wav_pcm24_44k_stereo", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 44100, 2, false, 1e-4},
        FormatCase{"wav_float_48k_stereo", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, false, 1e-4},
        FormatCase{"wav_pcm32_96k_4ch", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 96000, 4, false, 1e-4},
        FormatCase{"wav_u8_22k_mono", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 22050, 1, false, 2e-2},
        FormatCase{"aiff_pcm16_32k_stereo", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 32000, 2, false,
                   1e-3},
        FormatCase{"flac_16_44k_stereo", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, false, 1e-3},
        FormatCase{"flac_24_48k_mono", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 48000, 1, false, 1e-4},
        FormatCase{"ogg_vorbis_44k_stereo", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, true, 0},
        FormatCase{"ogg_opus_48k_stereo", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2, true, 0},
        FormatCase{"mp3_44k_stereo", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, true, 0},
        FormatCase{"mp3_16k_mono", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 16000, 1, true, 0}),
    [](const ::testing::TestParamInfo<FormatCase>& param_info) {
        return std::string(param_info.param.name);
    });

TEST(Decode, DownmixAveragesChannels) {
    ScratchDir dir("audio-downmix");
    const auto path = dir / "lr.wav";
    // Left +0.5, right -0.25: the mono average is 0.125 (exact in float and in 24-bit PCM).
    std::vector<float> lr;
    for (int i = 0; i < 1000; ++i) {
        lr.push_back(0.5f);
        lr.push_back(-0.25f);
    }
    ASSERT_TRUE(write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, lr));
    const DecodedAudio audio = decode_audio(path);
    ASSERT_EQ(audio.samples.size(), 1000u);
    for (float v : audio.samples) ASSERT_FLOAT_EQ(v, 0.125f);
}

TEST(Decode, JfkFlacHeader) {
    const DecodedAudio audio = decode_audio(testing::fixtures_dir() / "jfk.flac");
    EXPECT_EQ(audio.sample_rate, 44100);
    EXPECT_EQ(audio.channels, 2);
    EXPECT_EQ(audio.samples.size(), 485100u);  // 11.0 s
    EXPECT_NE(audio.format.find("FLAC"), std::string::npos) << audio.format;
}

// ---- truncation ----------------------------------------------------------------------------

TEST(LoadAudio16k, TruncatesThirtyFiveSecondsAtSixteenKilohertz) {
    ScratchDir dir("audio-trunc16");
    const auto path = dir / "long.wav";
    ASSERT_TRUE(write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1,
                            sine(220.0, 0.4, 16000, 35 * 16000)));
    const Audio16k audio = load_audio_16k(path);
    EXPECT_TRUE(audio.truncated);
    EXPECT_EQ(audio.samples.size(), 480000u);
    EXPECT_NEAR(audio.source_seconds, 35.0, 1e-9);
    EXPECT_DOUBLE_EQ(audio.seconds(), 30.0);
    const DecodedAudio full = decode_audio(path);
    EXPECT_TRUE(std::equal(audio.samples.begin(), audio.samples.end(), full.samples.begin()));

    const Audio16k ten = load_audio_16k(path, 10.0);
    EXPECT_TRUE(ten.truncated);
    EXPECT_EQ(ten.samples.size(), 160000u);
}

TEST(LoadAudio16k, TruncatedPrefixEqualsResamplingTheWholeFile) {
    // Only ~31 s are decoded, yet the kept 30 s must match resampling all 35 s and cutting.
    ScratchDir dir("audio-trunc44");
    const auto path = dir / "long.flac";
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    std::vector<float> mono = sine(523.25, 0.3, 44100, 35 * 44100);
    // Kept within +/-0.7 so the 1.4x channel gain stays in range (libsndfile refuses to write
    // out-of-range floats to FLAC).
    for (float& v : mono) v = std::clamp(v + noise(rng), -0.7f, 0.7f);
    ASSERT_TRUE(
        write_sound(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 44100, 2, spread_channels(mono, 2)));
    const Audio16k audio = load_audio_16k(path);
    EXPECT_TRUE(audio.truncated);
    EXPECT_NEAR(audio.source_seconds, 35.0, 1e-9);
    ASSERT_EQ(audio.samples.size(), 480000u);
    const DecodedAudio full = decode_audio(path);
    const std::vector<float> whole = resample(full.samples, 44100, 16000);
    ASSERT_EQ(whole.size(), 35u * 16000u);
    double worst = 0.0;
    for (std::size_t i = 0; i < audio.samples.size(); ++i) {
        worst = std::max(worst, std::abs(static_cast<double>(audio.samples[i]) - whole[i]));
    }
    EXPECT_LT(worst, 1e-5);
}

TEST(LoadAudio16k, ShortAndExactlyThirtySecondClipsAreKept) {
    ScratchDir dir("audio-keep");
    for (int seconds : {29, 30}) {
        const auto path = dir / (std::to_string(seconds) + ".flac");
        ASSERT_TRUE(
            write_sound(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1,
                        sine(300.0, 0.3, 48000, static_cast<std::size_t>(seconds) * 48000)));
        const Audio16k audio = load_audio_16k(path);
        EXPECT_FALSE(audio.truncated) << seconds;
        EXPECT_EQ(audio.samples.size(), static_cast<std::size_t>(seconds) * 16000u);
        EXPECT_NEAR(audio.source_seconds, seconds, 1e-9);
    }
}

TEST(LoadAudio16k, RejectsBadMaxSeconds) {
    const auto jfk = testing::fixtures_dir() / "jfk.flac";
    for (double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity(), 1e9}) {
        expect_error(ErrorKind::kInvalidArgument, [&] { load_audio_16k(jfk, bad); });
    }
}

// ---- failures ------------------------------------------------------------------------------

void expect_names(const Error& e, const std::string& subject) {
    EXPECT_NE(std::string(e.what()).find(subject), std::string::npos)
        << "what() = " << e.what() << ", expected it to name " << subject;
}

TEST(DecodeErrors, MissingFileIsNotFound) {
    ScratchDir dir("audio-missing");
    const auto path = dir / "nope.wav";
    expect_names(expect_error(ErrorKind::kNotFound, [&] { decode_audio(path); }), path.string());
    expect_names(expect_error(ErrorKind::kNotFound, [&] { load_audio_16k(path); }), path.string());
}

TEST(DecodeErrors, DirectoryIsRefused) {
    ScratchDir dir("audio-dir");
    expect_names(expect_error(ErrorKind::kInvalidArgument, [&] { decode_audio(dir.path()); }),
                 dir.path().string());
}

TEST(DecodeErrors, EmptyFileIsCorrupt) {
    ScratchDir dir("audio-empty");
    const auto path = dir / "empty.wav";
    write_bytes(path, "", 0);
    expect_names(expect_error(ErrorKind::kCorruptInput, [&] { decode_audio(path); }),
                 path.string());
    const Error e = expect_error(ErrorKind::kCorruptInput, [] { decode_audio({}, "upload"); });
    EXPECT_EQ(e.subject(), "upload");
}

TEST(DecodeErrors, RandomBytesAreCorrupt) {
    ScratchDir dir("audio-random");
    const auto path = dir / "noise.wav";
    std::mt19937 rng(1234);
    std::vector<uint8_t> junk(4096);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    write_bytes(path, junk.data(), junk.size());
    const Error e = expect_error(ErrorKind::kCorruptInput, [&] { decode_audio(path); });
    expect_names(e, path.string());
    EXPECT_NE(e.problem().find("cannot decode"), std::string::npos) << e.what();

    const std::vector<std::byte> bytes = read_bytes(path);
    const Error m = expect_error(ErrorKind::kCorruptInput,
                                 [&] { load_audio_16k(bytes, 30.0, "request audio"); });
    EXPECT_EQ(m.subject(), "request audio");
}

TEST(DecodeErrors, WavTruncatedMidHeaderIsCorrupt) {
    ScratchDir dir("audio-trunchdr");
    const auto good = dir / "good.wav";
    ASSERT_TRUE(write_sound(good, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1,
                            sine(440.0, 0.5, 16000, 1600)));
    const std::vector<std::byte> bytes = read_bytes(good);
    const auto path = dir / "cut.wav";
    write_bytes(path, bytes.data(), 20);  // inside the fmt chunk
    expect_names(expect_error(ErrorKind::kCorruptInput, [&] { decode_audio(path); }),
                 path.string());
}

TEST(DecodeErrors, TruncatedFlacNeverCrashes) {
    ScratchDir dir("audio-truncflac");
    const auto good = dir / "good.flac";
    ASSERT_TRUE(write_sound(good, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2,
                            spread_channels(sine(440.0, 0.5, 44100, 44100), 2)));
    const std::vector<std::byte> bytes = read_bytes(good);
    for (std::size_t cut : {std::size_t{10}, std::size_t{100}, bytes.size() / 2}) {
        try {
            const DecodedAudio audio = decode_audio(std::span(bytes).first(cut), "cut.flac");
            EXPECT_LT(audio.samples.size(), 44100u);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kCorruptInput) << e.what();
        }
    }
}

TEST(DecodeErrors, ZeroFrameWavIsRefused) {
    ScratchDir dir("audio-zero");
    const auto path = dir / "zero.wav";
    ASSERT_TRUE(write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, {}));
    const Error e = expect_error(ErrorKind::kUnsupported, [&] { load_audio_16k(path); });
    expect_names(e, path.string());
    EXPECT_NE(e.problem().find("no audio"), std::string::npos) << e.what();
}

TEST(DecodeErrors, NonFiniteSamplesAreCorrupt) {
    ScratchDir dir("audio-nan");
    const auto path = dir / "nan.wav";
    std::vector<float> x(1000, 0.1f);
    x[321] = std::numeric_limits<float>::quiet_NaN();
    ASSERT_TRUE(write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x));
    expect_names(expect_error(ErrorKind::kCorruptInput, [&] { decode_audio(path); }),
                 path.string());
}

// A canonical 16-bit PCM WAV header written by hand, so the header can claim what it likes.
std::vector<std::byte> wav_with_header(uint16_t channels, uint32_t rate, uint32_t data_bytes) {
    std::vector<std::byte> out;
    const auto put = [&](const void* p, std::size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        out.insert(out.end(), b, b + n);
    };
    const auto u32 = [&](uint32_t v) { put(&v, 4); };  // little-endian host (x86-64, arm64)
    const auto u16 = [&](uint16_t v) { put(&v, 2); };
    const uint16_t block_align = static_cast<uint16_t>(channels * 2);
    put("RIFF", 4);
    u32(36 + data_bytes);
    put("WAVE", 4);
    put("fmt ", 4);
    u32(16);
    u16(1);  // PCM
    u16(channels);
    u32(rate);
    u32(rate * block_align);
    u16(block_align);
    u16(16);
    put("data", 4);
    u32(data_bytes);
    out.resize(out.size() + data_bytes, std::byte{0});
    return out;
}

TEST(DecodeErrors, AbsurdHeadersHitLimitsBeforeAllocation) {
    // 200 channels (default limit 64) and a 2 MHz sample rate (limit 768 kHz).
    expect_error(ErrorKind::kLimitExceeded,
                 [] { decode_audio(wav_with_header(200, 16000, 400 * 4), "many-channels.wav"); });
    expect_error(ErrorKind::kLimitExceeded,
                 [] { decode_audio(wav_with_header(1, 2'000'000, 2 * 16), "fast.wav"); });
    const auto ok = wav_with_header(2, 16000, 4 * 16000);  // 1 s of stereo silence
    EXPECT_EQ(decode_audio(ok, "ok.wav").samples.size(), 16000u);

    DecodeLimits one_channel;
    one_channel.max_channels = 1;
    expect_error(ErrorKind::kLimitExceeded, [&] { decode_audio(ok, "ok.wav", one_channel); });
    DecodeLimits half_second;
    half_second.max_seconds = 0.5;
    const Error e =
        expect_error(ErrorKind::kLimitExceeded, [&] { decode_audio(ok, "ok.wav", half_second); });
    EXPECT_EQ(e.subject(), "ok.wav");

    DecodeLimits nonsense;
    nonsense.max_seconds = std::numeric_limits<double>::quiet_NaN();
    expect_error(ErrorKind::kInvalidArgument, [&] { decode_audio(ok, "ok.wav", nonsense); });
    nonsense.max_seconds = 10.0;
    nonsense.max_channels = 0;
    expect_error(ErrorKind::kInvalidArgument, [&] { decode_audio(ok, "ok.wav", nonsense); });
}

}  // namespace
}  // namespace sarsteer
