// The steering file: per-layer SARSteer vectors plus everything needed to trust and reproduce
// them. Format (docs/steering.md): safetensors with F32 tensors
//   v.<l>           [D]     ablated refusal direction v⊥_l — what steering adds
//   v_raw.<l>       [D]     the mean refusal difference v_l before ablation (λ = 0 steering)
//   safe_basis.<l>  [D, k]  top-k left singular vectors of the centred safe states
//   safe_mean.<l>   [D]     mean of the safe states
// and __metadata__["sarsteer"] = a JSON object (see SteeringMetadata).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include "model/config.h"

namespace sarsteer::steer {

// Identifies the model a steering file was extracted from.
struct ModelFingerprint {
    std::string model_type;  // "qwen2_audio" / "qwen2"
    int64_t n_layer = 0;
    int64_t hidden_size = 0;
    std::string config_sha256;  // SHA-256 of the canonical config JSON (ModelConfig::to_json()
                                // without torch_dtype, dumped compactly): dtype-independent

    static ModelFingerprint of(const model::ModelConfig& config);
    bool operator==(const ModelFingerprint&) const = default;
    std::string describe() const;  // "qwen2_audio, 32 layers, hidden 4096, config 1a2b3c4d…"
};

struct SteeringMetadata {
    ModelFingerprint model;
    std::string mode = "sarsteer";  // "sarsteer" (audio+text) or "llm" (text-only baseline)
    double alpha = 0.1;             // default steering strength for users of the file
    int64_t k = 10;
    double lambda = 1.0;
    std::string instruction;
    std::string refusal_prompt;
    int64_t n_harmful = 0;
    int64_t n_safe = 0;
    std::string harmful_manifest_sha256;
    std::string safe_manifest_sha256;
    std::string tool_version;
    std::string created;  // ISO 8601 UTC
};

// The key under __metadata__ that holds the metadata JSON.
inline constexpr const char* kMetadataKey = "sarsteer";

// The metadata as stored: every SteeringMetadata field under its own name, the fingerprint as a
// nested object under "model" (model_type, n_layer, hidden_size, config_sha256).
nlohmann::json metadata_to_json(const SteeringMetadata& metadata);
// Parses and validates (all fields required; mode "sarsteer" or "llm"; positive geometry; 64-hex
// config hash; finite alpha and lambda; non-negative k and counts). Unknown fields are ignored.
// Throws Error(kCorruptInput) naming `subject`.
SteeringMetadata metadata_from_json(const nlohmann::json& json, const std::string& subject);

struct SteeringVectors {
    SteeringMetadata metadata;
    std::vector<at::Tensor> v;           // per layer [D], float32, CPU
    std::vector<at::Tensor> v_raw;       // per layer [D]
    std::vector<at::Tensor> safe_basis;  // per layer [D, k]; may be empty (llm mode)
    std::vector<at::Tensor> safe_mean;   // per layer [D]; may be empty (llm mode)

    // Writes atomically, tensors as F32. Checks first what load() checks: Error(kInvalidArgument)
    // naming the path for inconsistent vectors or metadata; Error (kIo) when writing fails.
    void save(const std::filesystem::path& path) const;
    // Validates names, shapes (all layers 0..L-1 present, D consistent, L and D equal to the
    // metadata's fingerprint, safe_basis columns equal to metadata.k), finiteness, and metadata.
    // F16/BF16 tensors are converted. The tensors are owned copies (the file is not kept
    // mapped). Throws Error naming the file.
    static SteeringVectors load(const std::filesystem::path& path);
    // Throws Error(kInvalidArgument) naming `path` when the fingerprint differs from `model`'s.
    void check_matches(const ModelFingerprint& model, const std::filesystem::path& path) const;
};

}  // namespace sarsteer::steer
