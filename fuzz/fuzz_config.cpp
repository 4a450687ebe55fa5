// config.json: ModelConfig::from_json on arbitrary JSON text (the same path ModelConfig::load
// takes after reading the file), then the derived values a loader uses.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "io/json_file.h"
#include "model/config.h"
#include "sarsteer/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    try {
        const auto json = io::parse_json(fuzz::as_text(data, size), "config.json");
        const auto config = model::ModelConfig::from_json(json, "config.json");
        (void)config.to_json().dump();
    } catch (const Error&) {
    }
    return 0;
}
