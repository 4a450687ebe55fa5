// Tokenizer::load on a folder with one arbitrary file: tokenizer_config.json next to a valid
// vocab.json + merges.txt (first input byte even), or tokenizer.json alone (odd). A tokenizer
// that loads is then used once.
#include <cstddef>
#include <cstdint>
#include <fstream>

#include "fuzz_support.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"
#include "text/tiny_tokenizer.h"

namespace {

struct Dirs {
    std::filesystem::path with_vocab;  // vocab.json + merges.txt (+ fuzzed tokenizer_config.json)
    std::filesystem::path json_only;   // fuzzed tokenizer.json only
};

const Dirs& dirs() {
    static const Dirs d = [] {
        Dirs out{sarsteer::fuzz::scratch_dir() / "vocab", sarsteer::fuzz::scratch_dir() / "json"};
        sarsteer::text::write_tiny_tokenizer(out.with_vocab, sarsteer::text::default_tiny_corpus(),
                                             {.n_merges = 64});
        std::filesystem::create_directories(out.json_only);
        return out;
    }();
    return d;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)dirs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    if (size == 0) return 0;
    const bool tokenizer_json = (data[0] & 1) != 0;
    const auto& dir = tokenizer_json ? dirs().json_only : dirs().with_vocab;
    {
        std::ofstream out(dir / (tokenizer_json ? "tokenizer.json" : "tokenizer_config.json"),
                          std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
    }
    try {
        const auto tok = Tokenizer::load(dir);
        const auto ids = tok.encode("Hello <|im_start|>user\n<|AUDIO|> w\xc3\xa9<|im_end|>");
        (void)tok.decode(ids, true);
        (void)tok.eos_id();
        (void)tok.pad_id();
    } catch (const Error&) {
    }
    return 0;
}
