#include "serve/base64.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace sarsteer::serve {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_table() {
    std::array<int8_t, 256> table{};
    for (auto& v : table) v = -1;
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
        table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
    }
    return table;
}

constexpr auto kTable = make_table();

}  // namespace

std::optional<std::vector<std::byte>> base64_decode(std::string_view text, std::string* why) {
    auto fail = [&](std::string message) -> std::optional<std::vector<std::byte>> {
        if (why) *why = std::move(message);
        return std::nullopt;
    };
    if (text.size() % 4 != 0) {
        return fail("length " + std::to_string(text.size()) + " is not a multiple of 4");
    }
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') {
        pad = text[text.size() - 2] == '=' ? 2 : 1;  // size is a non-zero multiple of 4
    }
    std::vector<std::byte> out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        uint32_t group = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            int8_t value = 0;
            if (c == '=' && last && k >= 4 - pad) {
                value = 0;
            } else {
                value = kTable[static_cast<unsigned char>(c)];
                if (value < 0) {
                    return fail("invalid character at offset " + std::to_string(i + k));
                }
            }
            group = (group << 6) | static_cast<uint32_t>(value);
        }
        const std::size_t n_bytes = last ? 3 - pad : 3;
        // Canonical encoding: the bits under the padding must be zero.
        if (last && pad == 1 && (group & 0xFF) != 0) return fail("non-canonical final group");
        if (last && pad == 2 && (group & 0xFFFF) != 0) return fail("non-canonical final group");
        for (std::size_t b = 0; b < n_bytes; ++b) {
            out.push_back(static_cast<std::byte>((group >> (16 - 8 * b)) & 0xFF));
        }
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (i + 1 < bytes.size()) {
            group |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        }
        if (i + 2 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 2]);
        const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        for (std::size_t k = 0; k < 4; ++k) {
            out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 0x3F] : '=';
        }
    }
    return out;
}

}  // namespace sarsteer::serve
