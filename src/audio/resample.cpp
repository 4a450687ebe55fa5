// Sample-rate conversion with libsoxr.
//
// Mirrors what Qwen2-Audio users run in Python, librosa.load(sr=16000) ->
// librosa.resample(res_type="soxr_hq") -> python-soxr: SOXR_HQ, float32 in/out, one pass over
// the whole signal (flushed at the end), then librosa's fix_length to ceil(n * to / from).
#include <soxr.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sarsteer/audio.h"
#include "sarsteer/error.h"

namespace sarsteer {

std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate) {
    if (from_rate <= 0 || to_rate <= 0) {
        throw Error(ErrorKind::kInvalidArgument, "resample",
                    "sample rates must be positive (got " + std::to_string(from_rate) + " -> " +
                        std::to_string(to_rate) + " Hz)");
    }
    if (from_rate == to_rate) return {samples.begin(), samples.end()};
    if (samples.empty()) return {};

    const auto n = static_cast<uint64_t>(samples.size());
    const auto from = static_cast<uint64_t>(from_rate);
    const auto to = static_cast<uint64_t>(to_rate);
    // ref: librosa.resample: y_hat = fix_length(y_hat, size=ceil(n * ratio)).
    const uint64_t target = (n * to + from - 1) / from;
    // ref: python-soxr csoxr_oneshot allocates ilen * out / in + 1 output samples.
    const uint64_t capacity = n * to / from + 1;

    std::vector<float> out(static_cast<std::size_t>(capacity), 0.0f);
    const soxr_io_spec_t io_spec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality_spec = soxr_quality_spec(SOXR_HQ, 0);
    std::size_t consumed = 0;
    std::size_t produced = 0;
    const soxr_error_t err =
        soxr_oneshot(static_cast<double>(from_rate), static_cast<double>(to_rate), 1,
                     samples.data(), samples.size(), &consumed, out.data(), out.size(), &produced,
                     &io_spec, &quality_spec, nullptr);
    if (err != nullptr) {
        throw Error(ErrorKind::kInternal, "libsoxr",
                    std::string("resampling ") + std::to_string(from_rate) + " -> " +
                        std::to_string(to_rate) + " Hz failed: " + err);
    }
    out.resize(produced);
    out.resize(static_cast<std::size_t>(target), 0.0f);  // fix_length pads with zeros or trims
    return out;
}

}  // namespace sarsteer
