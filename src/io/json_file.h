// JSON helpers shared by config, tokenizer, manifest and steering-file readers: parse with the
// file named in every error, and typed field access whose errors name the key.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sarsteer::io {

// Reads and parses a whole JSON file. Throws Error (kNotFound, kIo, kCorruptInput).
nlohmann::json read_json_file(const std::filesystem::path& path);

// Deepest nesting of arrays/objects any file format sarsteer reads needs (config.json: 3,
// tokenizer.json: 4). Deeper input is refused before parsing: nlohmann's dump(), copy and
// comparison recurse once per level, so a 1 MB line of '[' would otherwise overflow the stack.
inline constexpr int kMaxJsonDepth = 64;

// Throws Error(kLimitExceeded) naming `subject` when `text` nests arrays/objects deeper than
// `max_depth` (brackets inside strings do not count). Linear, allocation-free.
void check_json_depth(std::string_view text, const std::string& subject,
                      int max_depth = kMaxJsonDepth);

// Parses text; `subject` names where it came from in error messages. Every failure is an Error:
// kCorruptInput for syntax and numbers out of range, kLimitExceeded for nesting deeper than
// kMaxJsonDepth.
nlohmann::json parse_json(std::string_view text, const std::string& subject);

// Reads a whole (small) text file. Throws Error (kNotFound, kIo, kLimitExceeded).
std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes = 256u << 20);

// Typed field readers. `subject` is the file; `key` the field name. A present field of the wrong
// type, or a missing required field, is a kCorruptInput error naming both.
template <typename T>
T required_field(const nlohmann::json& object, std::string_view key, const std::string& subject);
template <typename T>
T optional_field(const nlohmann::json& object, std::string_view key, T fallback,
                 const std::string& subject);

}  // namespace sarsteer::io
