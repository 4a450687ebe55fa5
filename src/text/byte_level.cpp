#include "text/byte_level.h"

#include <array>

#include "text/utf8.h"

namespace sarsteer::text {
namespace {

struct Tables {
    std::array<char32_t, 256> code_point{};
    std::array<std::string, 256> symbol;
    std::array<int, 0x144> byte_of{};  // indexed by code point; every mapped cp is below 0x144

    Tables() {
        byte_of.fill(-1);
        char32_t next_extra = 0x100;
        for (int b = 0; b < 256; ++b) {
            const bool printable =
                (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const char32_t cp = printable ? static_cast<char32_t>(b) : next_extra++;
            code_point[static_cast<std::size_t>(b)] = cp;
            byte_of[cp] = b;
            append_utf8(symbol[static_cast<std::size_t>(b)], cp);
        }
    }
};

const Tables& tables() {
    static const Tables kTables;
    return kTables;
}

}  // namespace

char32_t byte_to_code_point(std::uint8_t b) {
    return tables().code_point[b];
}

int code_point_to_byte(char32_t cp) {
    const auto& t = tables();
    return cp < t.byte_of.size() ? t.byte_of[cp] : -1;
}

std::string_view byte_symbol(std::uint8_t b) {
    return tables().symbol[b];
}

std::string bytes_to_symbols(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) out.append(byte_symbol(static_cast<std::uint8_t>(c)));
    return out;
}

std::string symbols_to_bytes(std::string_view symbols) {
    std::string out;
    out.reserve(symbols.size());
    std::size_t i = 0;
    while (i < symbols.size()) {
        std::size_t bad_len = 1;
        const std::size_t len = utf8_sequence_length(symbols, i, &bad_len);
        if (len == 0) {
            out.append(symbols.substr(i, bad_len));
            i += bad_len;
            continue;
        }
        // Decode the (at most 2-byte) code points the table can hold; longer ones pass through.
        int byte = -1;
        if (len == 1) {
            byte = code_point_to_byte(static_cast<unsigned char>(symbols[i]));
        } else if (len == 2) {
            const char32_t cp =
                (static_cast<char32_t>(static_cast<unsigned char>(symbols[i]) & 0x1F) << 6) |
                (static_cast<unsigned char>(symbols[i + 1]) & 0x3F);
            byte = code_point_to_byte(cp);
        }
        if (byte >= 0) {
            out.push_back(static_cast<char>(byte));
        } else {
            out.append(symbols.substr(i, len));
        }
        i += len;
    }
    return out;
}

}  // namespace sarsteer::text
