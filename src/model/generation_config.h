// generation_config.json of a Hugging Face checkpoint: the sampling defaults `generate` uses.
//
// Field names are the HF JSON keys verbatim; absent keys take the defaults of transformers'
// GenerationConfig (generation/configuration_utils.py), which are what `generate` would use for a
// checkpoint without the file. Keys sarsteer does not act on (chat_format, max_length, ...) are
// ignored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sarsteer::model {

// ref: transformers/generation/configuration_utils.py (GenerationConfig defaults)
struct GenerationConfig {
    bool do_sample = false;
    double temperature = 1.0;
    int64_t top_k = 50;
    double top_p = 1.0;
    double repetition_penalty = 1.0;
    std::vector<int64_t> eos_token_ids;  // HF `eos_token_id`: an int or a list in the file
    std::optional<int64_t> pad_token_id;
    std::optional<int64_t> max_new_tokens;

    // Reads `<dir>/generation_config.json`; a missing file gives the defaults above. Throws Error
    // naming the file: malformed JSON, a field of the wrong type or out of range is kCorruptInput
    // (temperature >= 0, 0 < top_p <= 1, top_k >= 0, repetition_penalty > 0, ids >= 0,
    // max_new_tokens > 0).
    static GenerationConfig load_or_default(const std::filesystem::path& dir);
    static GenerationConfig from_json(const nlohmann::json& json, const std::string& subject);
};

}  // namespace sarsteer::model
