// The server's request parser: parse_chat_request on an arbitrary body (JSON, messages, content
// parts, base64 audio with format sniffing), under the default limits and under tight ones.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "sarsteer/error.h"
#include "serve/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    if (size == 0) return 0;
    serve::RequestLimits limits;
    if ((data[0] & 1) != 0) {  // tight limits reach every kLimitExceeded branch with small inputs
        limits.max_tokens = 16;
        limits.max_messages = 2;
        limits.max_text_bytes = 64;
        limits.max_audio_clips = 1;
        limits.max_audio_bytes = 64;
        limits.max_json_depth = 4;
    }
    try {
        const auto request = serve::parse_chat_request(fuzz::as_text(data + 1, size - 1), limits);
        if (request.max_tokens < 1 || request.max_tokens > limits.max_tokens) __builtin_trap();
        if (request.audio.size() > limits.max_audio_clips) __builtin_trap();
        for (const auto& clip : request.audio) {
            if (serve::sniff_audio_format(clip.bytes) != clip.format) __builtin_trap();
        }
    } catch (const Error&) {
    }
    (void)serve::sniff_audio_format(fuzz::as_bytes(data, size));
    return 0;
}
