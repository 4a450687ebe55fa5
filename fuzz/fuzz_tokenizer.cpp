// The Qwen2 tokenizer on arbitrary bytes (valid and invalid UTF-8, special tokens): encode with
// and without special-token parsing, decode what it produced, and decode the input read as ids.
// The real Qwen2 vocabulary (../shared/fixtures/qwen2_tokenizer, or $SARSTEER_FUZZ_TOKENIZER)
// is loaded once.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "fuzz_support.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"

namespace {

std::optional<sarsteer::Tokenizer> g_tokenizer;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* env = std::getenv("SARSTEER_FUZZ_TOKENIZER");
    const std::filesystem::path dir =
        env != nullptr ? std::filesystem::path(env)
                       : std::filesystem::path(SARSTEER_SHARED_DIR) / "fixtures/qwen2_tokenizer";
    try {
        g_tokenizer.emplace(sarsteer::Tokenizer::load(dir));
    } catch (const sarsteer::Error& e) {
        std::fprintf(stderr, "fuzz_tokenizer: %s\n", e.what());
        std::abort();
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto& tok = *g_tokenizer;
    const uint8_t flags = data[0];
    const auto text = sarsteer::fuzz::as_text(data + 1, size - 1);

    // encode() and decode() never throw, whatever the bytes.
    const auto ids = tok.encode(text, (flags & 1) != 0);
    for (auto id : ids) {
        if (id < 0 || id >= tok.n_vocab() || !tok.token_bytes(id)) __builtin_trap();
    }
    (void)tok.decode(ids, (flags & 2) != 0);

    // The same bytes as raw ids: negative, huge and hole ids must decode to nothing.
    std::vector<int32_t> raw((size - 1) / sizeof(int32_t));
    if (!raw.empty()) std::memcpy(raw.data(), data + 1, raw.size() * sizeof(int32_t));
    (void)tok.decode(raw, (flags & 4) != 0);
    for (auto id : raw) {
        (void)tok.token_text(id);
        (void)tok.is_special(id);
    }
    (void)tok.token_id(text);
    return 0;
}
