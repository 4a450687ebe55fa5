#include "text/utf8.h"

#include <cstdint>
#include <cstring>

namespace sarsteer::text {
namespace {

std::uint8_t byte_at(std::string_view s, std::size_t i) {
    return static_cast<std::uint8_t>(s[i]);
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::size_t utf8_sequence_length(std::string_view s, std::size_t i, std::size_t* invalid_len) {
    const std::uint8_t lead = byte_at(s, i);
    if (lead < 0x80) return 1;
    // Allowed range of the second byte and total length, per Unicode Table 3-7.
    std::uint8_t lo = 0x80;
    std::uint8_t hi = 0xBF;
    std::size_t need = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        if (lead == 0xE0) lo = 0xA0;
        if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 4;
        if (lead == 0xF0) lo = 0x90;
        if (lead == 0xF4) hi = 0x8F;
    }
    std::size_t len = 1;
    if (need != 0) {
        for (; len < need && i + len < s.size(); ++len) {
            const std::uint8_t b = byte_at(s, i + len);
            const bool ok = len == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
            if (!ok) break;
        }
        if (len == need) return need;
    }
    if (invalid_len != nullptr) *invalid_len = len;
    return 0;
}

std::size_t find_invalid_utf8(std::string_view s) {
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        // ASCII fast path, eight bytes at a time.
        if (i + 8 <= n) {
            std::uint64_t word;
            std::memcpy(&word, s.data() + i, 8);
            if ((word & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        const std::size_t len = utf8_sequence_length(s, i, nullptr);
        if (len == 0) return i;
        i += len;
    }
    return std::string_view::npos;
}

void append_repaired_utf8(std::string& out, std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t bad = find_invalid_utf8(s.substr(i));
        if (bad == std::string_view::npos) {
            out.append(s.substr(i));
            return;
        }
        out.append(s.substr(i, bad));
        i += bad;
        std::size_t skip = 1;
        utf8_sequence_length(s, i, &skip);
        append_utf8(out, kReplacementChar);
        i += skip;
    }
}

}  // namespace sarsteer::text
