// Strict RFC 4648 base64 (standard alphabet, '=' padding required, no whitespace, canonical
// trailing bits), for the audio bytes of OpenAI `input_audio` parts.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sarsteer::serve {

// The decoded bytes, or nullopt (with `why` set) when `text` is not strict base64.
std::optional<std::vector<std::byte>> base64_decode(std::string_view text, std::string* why);

// Standard alphabet with padding (tests and the bench build request bodies with it).
std::string base64_encode(std::string_view bytes);

// Decoded size of `text` if it were valid (for limits checked before decoding).
inline std::size_t base64_decoded_size(std::string_view text) {
    return text.size() / 4 * 3;
}

}  // namespace sarsteer::serve
