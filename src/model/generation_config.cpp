#include "model/generation_config.h"

#include <cmath>
#include <limits>
#include <system_error>

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "sarsteer/error.h"

namespace sarsteer::model {
namespace {

using io::optional_field;
using nlohmann::json;

[[noreturn]] void invalid(const std::string& subject, const std::string& problem) {
    throw Error(ErrorKind::kCorruptInput, subject, problem);
}

std::string quoted(const char* key) {
    return "field \"" + std::string(key) + "\"";
}

// A token id: a non-negative integer that fits int64_t. `key` names the field in errors.
int64_t token_id(const json& value, const char* key, const std::string& subject) {
    const bool fits =
        value.is_number_unsigned()
            ? value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
            : value.is_number_integer() && value.get<int64_t>() >= 0;
    if (!fits) {
        invalid(subject,
                quoted(key) + " must hold non-negative integer token ids, got " + value.dump());
    }
    return value.get<int64_t>();
}

void require(bool ok, const char* key, const char* rule, double value, const std::string& subject) {
    if (!ok) {
        json shown = value;  // prints like the file would, e.g. -0.5 rather than -0.500000
        invalid(subject, quoted(key) + " must be " + rule + ", got " + shown.dump());
    }
}

}  // namespace

GenerationConfig GenerationConfig::from_json(const json& j, const std::string& subject) {
    if (!j.is_object()) invalid(subject, "generation config must be a JSON object");
    GenerationConfig c;
    c.do_sample = optional_field<bool>(j, "do_sample", c.do_sample, subject);
    c.temperature = optional_field<double>(j, "temperature", c.temperature, subject);
    c.top_k = optional_field<int64_t>(j, "top_k", c.top_k, subject);
    c.top_p = optional_field<double>(j, "top_p", c.top_p, subject);
    c.repetition_penalty =
        optional_field<double>(j, "repetition_penalty", c.repetition_penalty, subject);

    // HF accepts `eos_token_id` as one id or a list of ids (any of them stops generation).
    if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
        if (it->is_array()) {
            for (const auto& id : *it)
                c.eos_token_ids.push_back(token_id(id, "eos_token_id", subject));
        } else {
            c.eos_token_ids.push_back(token_id(*it, "eos_token_id", subject));
        }
    }
    if (auto it = j.find("pad_token_id"); it != j.end() && !it->is_null()) {
        c.pad_token_id = token_id(*it, "pad_token_id", subject);
    }
    if (auto it = j.find("max_new_tokens"); it != j.end() && !it->is_null()) {
        c.max_new_tokens = io::required_field<int64_t>(j, "max_new_tokens", subject);
        if (*c.max_new_tokens <= 0) {
            invalid(subject, quoted("max_new_tokens") + " must be positive, got " +
                                 std::to_string(*c.max_new_tokens));
        }
    }

    // The ranges transformers' logits warpers accept (generation/logits_process.py); NaN and
    // infinity fail every check.
    require(std::isfinite(c.temperature) && c.temperature >= 0, "temperature", ">= 0",
            c.temperature, subject);
    require(std::isfinite(c.top_p) && c.top_p > 0 && c.top_p <= 1, "top_p", "in (0, 1]", c.top_p,
            subject);
    if (c.top_k < 0) {
        invalid(subject, quoted("top_k") + " must be >= 0, got " + std::to_string(c.top_k));
    }
    require(std::isfinite(c.repetition_penalty) && c.repetition_penalty > 0, "repetition_penalty",
            "> 0", c.repetition_penalty, subject);
    return c;
}

GenerationConfig GenerationConfig::load_or_default(const std::filesystem::path& dir) {
    const auto path = dir / "generation_config.json";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        if (ec) throw Error(ErrorKind::kIo, path.string(), "cannot access: " + ec.message());
        // transformers then builds one with GenerationConfig.from_model_config, which also copies
        // bos/eos/pad ids from config.json; callers take those from ModelConfig.
        return {};
    }
    return from_json(io::read_json_file(path), path.string());
}

}  // namespace sarsteer::model
