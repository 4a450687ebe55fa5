// safetensors header and data ranges: SafetensorsFile::open on arbitrary bytes, then every
// accessor a loader uses on what it accepted.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "io/safetensors.h"
#include "sarsteer/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    const auto path = fuzz::write_scratch("input.safetensors", data, size);
    try {
        const auto file = io::SafetensorsFile::open(path);
        for (const auto& view : file.tensors()) {
            if (file.find(view.name) != &view) __builtin_trap();
            if (view.numel() > (1 << 16)) continue;  // conversion cost only, nothing to parse
            try {
                (void)io::to_f32(view);
            } catch (const Error&) {
            }
            try {
                (void)io::to_i64(view);
            } catch (const Error&) {
            }
        }
        (void)file.at("model.embed_tokens.weight");
    } catch (const Error&) {
    }
    return 0;
}
