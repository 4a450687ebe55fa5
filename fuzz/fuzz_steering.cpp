// Steering files: SteeringVectors::load on arbitrary bytes (safetensors header, __metadata__
// JSON, tensor names, shapes, dtypes, values), then the fingerprint check a loader runs.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "sarsteer/error.h"
#include "steer/steering_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace sarsteer;
    const auto path = fuzz::write_scratch("input.safetensors", data, size);
    try {
        const auto vectors = steer::SteeringVectors::load(path);
        vectors.check_matches(vectors.metadata.model, path);
    } catch (const Error&) {
    }
    return 0;
}
