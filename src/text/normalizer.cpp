#include "text/normalizer.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <utf8proc.h>

#include "sarsteer/error.h"

namespace sarsteer::text {
namespace {

bool is_ascii(std::string_view s) {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, s.data() + i, 8);
        if ((word & 0x8080808080808080ull) != 0) return false;
    }
    for (; i < s.size(); ++i) {
        if (static_cast<unsigned char>(s[i]) >= 0x80) return false;
    }
    return true;
}

struct FreeDeleter {
    void operator()(utf8proc_uint8_t* p) const { std::free(p); }
};

}  // namespace

std::string_view nfc(std::string_view valid_utf8, std::string& scratch) {
    if (is_ascii(valid_utf8)) return valid_utf8;
    utf8proc_uint8_t* raw = nullptr;
    // Length-delimited (no UTF8PROC_NULLTERM), so U+0000 inside the text is kept.
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid_utf8.data()),
                     static_cast<utf8proc_ssize_t>(valid_utf8.size()), &raw,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    std::unique_ptr<utf8proc_uint8_t, FreeDeleter> owned(raw);
    if (n < 0) {
        throw Error(ErrorKind::kInternal, "NFC normalisation",
                    std::string("utf8proc failed: ") + utf8proc_errmsg(n));
    }
    scratch.assign(reinterpret_cast<const char*>(owned.get()), static_cast<std::size_t>(n));
    return scratch;
}

}  // namespace sarsteer::text
