// Unicode NFC, as applied by Qwen2's tokenizer to each text segment before pre-tokenisation.
#pragma once

#include <string>
#include <string_view>

namespace sarsteer::text {

// NFC of `valid_utf8` (which must be well-formed). Returns a view of `valid_utf8` itself when it
// is pure ASCII (already NFC), otherwise of `scratch`, which receives the normalised text.
// Throws Error(kInternal) only if utf8proc fails (out of memory).
std::string_view nfc(std::string_view valid_utf8, std::string& scratch);

}  // namespace sarsteer::text
