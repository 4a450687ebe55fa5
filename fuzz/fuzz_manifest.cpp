// JSONL manifests: Manifest::parse on arbitrary text (the code path of Manifest::load after the
// file is read), with and without a limit; audio existence is not checked (no files here).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "io/manifest.h"
#include "sarsteer/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    if (size == 0) return 0;
    io::ManifestOptions options;
    options.require_audio = false;
    if (data[0] < 16) options.limit = data[0];
    try {
        const auto manifest =
            io::Manifest::parse(fuzz::as_text(data + 1, size - 1), "/fuzz/manifest.jsonl", options);
        if (manifest.items.empty()) __builtin_trap();
        if (options.limit && manifest.items.size() != *options.limit) __builtin_trap();
        for (const auto& item : manifest.items) (void)item.fields.dump();
    } catch (const Error&) {
    }
    return 0;
}
