// GPT-2's bytes_to_unicode table: byte-level BPE vocabularies spell every byte as a printable
// code point (printable Latin-1 bytes as themselves, the other 68 as U+0100..U+0143), so a
// token's vocab.json string is its raw bytes mapped through this table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sarsteer::text {

// The code point that spells byte `b`.
char32_t byte_to_code_point(std::uint8_t b);

// The byte spelled by `cp`, or -1 when `cp` is not in the table.
int code_point_to_byte(char32_t cp);

// The UTF-8 encoding of byte_to_code_point(b) (1 or 2 bytes).
std::string_view byte_symbol(std::uint8_t b);

// Raw bytes → vocab.json spelling.
std::string bytes_to_symbols(std::string_view bytes);

// vocab.json spelling → raw bytes. Code points outside the table (not produced by byte-level
// BPE, but present in some vocabularies) pass through as their own UTF-8, as HF's ByteLevel
// decoder does; ill-formed UTF-8 passes through unchanged.
std::string symbols_to_bytes(std::string_view symbols);

}  // namespace sarsteer::text
