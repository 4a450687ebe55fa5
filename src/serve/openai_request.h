// Parsing and validating an OpenAI `POST /v1/chat/completions` body — a pure function of the
// bytes (no model, no I/O), so it can be tested and fuzzed on its own.
//
// Accepted (everything else OpenAI defines is ignored unless listed as refused):
//   model (string), messages (1..max_messages of {role, content}), max_tokens or
//   max_completion_tokens, temperature [0, 2], top_p (0, 1], seed, stream,
//   stream_options.include_usage, n (must be 1), and the sarsteer extension
//   "sarsteer": {"alpha": A} (a per-request steering strength; the server decides whether it is
//   allowed).
// Roles: system (or developer), user, assistant. Content: a string, or an array of parts
//   {"type":"text","text":...} and, in user messages, {"type":"input_audio","input_audio":
//   {"data": <base64>, "format": "wav"|"mp3"|"flac"|"ogg"}}. Nothing is ever fetched or opened:
//   URL and file parts are refused.
// Refused with a clear message: tools/functions, logprobs, stop sequences, n > 1, unknown
//   roles or part types, text that contains Qwen2-Audio's audio markers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sarsteer/chat_prompt.h"

namespace sarsteer::serve {

struct RequestLimits {
    int64_t max_tokens = 1024;  // largest max_tokens accepted; also the default
    std::size_t max_messages = 256;
    std::size_t max_text_bytes = 1 << 20;  // all text of all messages together
    std::size_t max_audio_clips = 8;
    std::size_t max_audio_bytes = 32 << 20;  // decoded audio bytes of the whole request
    int max_json_depth = 32;
};

struct InputAudio {
    std::vector<std::byte> bytes;  // the decoded file image (its magic bytes match `format`)
    std::string format;            // "wav", "mp3", "flac", "ogg"
    std::string param;             // where it was, e.g. "messages[0].content[1].input_audio"
};

struct ParsedRequest {
    std::string model;                  // as given; empty when absent
    std::vector<ChatMessage> messages;  // AudioPart entries in the same order as `audio`
    std::vector<InputAudio> audio;
    int64_t max_tokens = 0;             // in [1, limits.max_tokens]
    std::optional<double> temperature;  // absent: the model's generation_config
    std::optional<double> top_p;
    std::optional<uint64_t> seed;  // absent: random
    bool stream = false;
    bool include_usage = false;   // stream_options.include_usage
    std::optional<double> alpha;  // "sarsteer": {"alpha": A}, A >= 0 and finite
};

// Parses and validates `body`. Throws sarsteer::Error whose subject is the offending parameter
// in OpenAI's `param` notation ("messages[0].content[1].input_audio.data", "max_tokens", or
// "body" for JSON syntax): kInvalidArgument for malformed or wrong-typed values, kUnsupported
// for features sarsteer does not serve, kLimitExceeded when a RequestLimits bound is exceeded.
ParsedRequest parse_chat_request(std::string_view body, const RequestLimits& limits);

// The container `bytes` start like, from their magic bytes: "wav" (RIFF/WAVE, RF64), "flac",
// "ogg", "mp3" (ID3 tag or an MPEG audio frame sync), or "" when none matches.
std::string sniff_audio_format(std::span<const std::byte> bytes);

}  // namespace sarsteer::serve
