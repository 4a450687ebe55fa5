// The audio decoder entry for in-memory file images (what the server gets from base64):
// decode_audio(bytes) through libsndfile, then the 16 kHz path (resample, first 30 s).
// Limits are tighter than the defaults so that a legitimately long, well-compressed input does
// not spend the run decoding; the limit checks themselves are the same code.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    const auto bytes = fuzz::as_bytes(data, size);
    try {
        const DecodeLimits limits{.max_seconds = 20.0, .max_channels = 8, .max_sample_rate = 96000};
        const auto audio = decode_audio(bytes, "fuzz input", limits);
        if (audio.samples.empty() || audio.sample_rate <= 0) __builtin_trap();
        // The 16 kHz loader decodes again (its own bounded path) and resamples 2 s at most.
        const auto a16 = load_audio_16k(bytes, 2.0, "fuzz input");
        if (a16.samples.size() > 2u * kWhisperSampleRate) __builtin_trap();
    } catch (const Error&) {
    }
    return 0;
}
