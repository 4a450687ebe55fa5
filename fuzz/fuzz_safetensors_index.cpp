// model.safetensors.index.json: Checkpoint::open on a folder whose index is arbitrary bytes,
// next to two valid shards (written once), so weight_map entries can name real and missing
// files and tensors.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "io/safetensors.h"
#include "sarsteer/error.h"

namespace {

const std::filesystem::path& checkpoint_dir() {
    static const std::filesystem::path dir = [] {
        auto d = sarsteer::fuzz::scratch_dir() / "ckpt";
        std::filesystem::create_directories(d);
        const std::vector<float> values = {1.0f, 2.0f, 3.0f, 4.0f};
        sarsteer::io::SafetensorsWriter a;
        a.add_f32("model.embed_tokens.weight", {2, 2}, values);
        a.add_f32("model.norm.weight", {4}, values);
        a.write(d / "model-00001-of-00002.safetensors");
        sarsteer::io::SafetensorsWriter b;
        b.add_f32("lm_head.weight", {1, 4}, values);
        b.write(d / "model-00002-of-00002.safetensors");
        return d;
    }();
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)checkpoint_dir();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    const auto& dir = checkpoint_dir();
    {
        std::ofstream out(dir / "model.safetensors.index.json", std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const auto checkpoint = io::Checkpoint::open(dir);
        for (const auto& name : checkpoint.names()) (void)checkpoint.at(name);
    } catch (const Error&) {
    }
    return 0;
}
