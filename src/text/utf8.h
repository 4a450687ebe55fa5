// UTF-8 helpers shared by encode (input repair) and decode (output repair).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sarsteer::text {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Appends the UTF-8 encoding of `cp` (which must be a scalar value below 0x110000).
void append_utf8(std::string& out, char32_t cp);

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or 0 when the bytes there are
// ill-formed. For ill-formed input, `*invalid_len` receives the length of the maximal subpart
// (Unicode §3.9, "U+FFFD substitution of maximal subparts"): the bytes one U+FFFD replaces.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i, std::size_t* invalid_len);

// Index of the first ill-formed byte, or npos when `s` is valid UTF-8 (surrogates, overlongs and
// values above U+10FFFF are ill-formed).
std::size_t find_invalid_utf8(std::string_view s);

// Appends `s` with every maximal ill-formed subpart replaced by U+FFFD, as Python's
// bytes.decode("utf-8", errors="replace").
void append_repaired_utf8(std::string& out, std::string_view s);

}  // namespace sarsteer::text
