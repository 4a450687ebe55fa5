// Helpers for the audio tests: synthesise signals and write them with libsndfile.
#pragma once

#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include "sarsteer/error.h"

namespace sarsteer::testing {

inline std::vector<float> sine(double freq, double amplitude, int rate, std::size_t frames) {
    std::vector<float> out(frames);
    for (std::size_t i = 0; i < frames; ++i) {
        out[i] = static_cast<float>(
            amplitude * std::sin(2.0 * std::numbers::pi * freq * static_cast<double>(i) / rate));
    }
    return out;
}

// Interleaves `mono` into `channels` channels with gains that average back to 1.
inline std::vector<float> spread_channels(const std::vector<float>& mono, int channels) {
    std::vector<float> out(mono.size() * static_cast<std::size_t>(channels));
    for (std::size_t i = 0; i < mono.size(); ++i) {
        for (int c = 0; c < channels; ++c) {
            // Gains 1 +/- 0.4 alternate, so the channel average is exactly the mono signal
            // for even channel counts (and for 1 channel the gain is 1).
            const double gain = channels == 1 ? 1.0 : (c % 2 == 0 ? 1.4 : 0.6);
            out[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] =
                static_cast<float>(gain * mono[i]);
        }
    }
    return out;
}

inline bool format_writable(int format, int rate, int channels) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    return sf_format_check(&info) != 0;
}

// Writes interleaved float frames; returns false when this libsndfile cannot write the format.
inline bool write_sound(const std::filesystem::path& path, int format, int rate, int channels,
                        const std::vector<float>& interleaved) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    if (file == nullptr) return false;
    const auto frames = static_cast<sf_count_t>(interleaved.size()) / channels;
    const sf_count_t written = sf_writef_float(file, interleaved.data(), frames);
    sf_close(file);
    return written == frames;
}

inline std::vector<std::byte> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(chars.size());
    std::transform(chars.begin(), chars.end(), out.begin(),
                   [](char c) { return static_cast<std::byte>(c); });
    return out;
}

inline void write_bytes(const std::filesystem::path& path, const void* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

// Runs `fn`, expects a sarsteer::Error of `kind`, and returns it for further checks.
inline Error expect_error(ErrorKind kind, const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << "what(): " << e.what();
        return e;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected sarsteer::Error, got std::exception: " << e.what();
        return Error(ErrorKind::kInternal, "", "wrong exception type");
    }
    ADD_FAILURE() << "expected an Error of kind " << error_kind_name(kind) << ", nothing thrown";
    return Error(ErrorKind::kInternal, "", "nothing thrown");
}

// Normalised cross-correlation of a and b (b shifted by lag), over b's index range
// [begin, end); picks the best lag in [-max_lag, max_lag].
struct BestLag {
    int lag = 0;
    double correlation = -1.0;
};

inline BestLag best_lag(const std::vector<float>& a, const std::vector<float>& b, std::size_t begin,
                        std::size_t end, int max_lag) {
    BestLag best;
    for (int lag = -max_lag; lag <= max_lag; ++lag) {
        double ab = 0.0;
        double aa = 0.0;
        double bb = 0.0;
        for (std::size_t i = begin; i < end; ++i) {
            const auto j = static_cast<std::ptrdiff_t>(i) + lag;
            if (j < 0 || j >= static_cast<std::ptrdiff_t>(a.size())) continue;
            const double x = a[static_cast<std::size_t>(j)];
            const double y = b[i];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        const double c = aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
        if (c > best.correlation) best = {lag, c};
    }
    return best;
}

inline double rms(const std::vector<float>& x, std::size_t begin, std::size_t end) {
    double sum = 0.0;
    for (std::size_t i = begin; i < end; ++i) sum += static_cast<double>(x[i]) * x[i];
    return std::sqrt(sum / static_cast<double>(end - begin));
}

}  // namespace sarsteer::testing
