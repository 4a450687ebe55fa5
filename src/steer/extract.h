// `sarsteer steer extract`: calibration passes over harmful and safe samples, the activation
// cache (resumable), and the steering file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "io/manifest.h"
#include "model/model.h"
#include "model/session.h"
#include "steer/steering_file.h"

namespace sarsteer::steer {

enum class ExtractMode {
    kSarsteer,  // audio + instruction; refusal difference on harmful samples, safe-space ablation
    kLlm,       // "LLM-based steering": text-only harmful vs benign question means, no ablation
};

struct ExtractOptions {
    ExtractMode mode = ExtractMode::kSarsteer;
    std::string instruction;     // paired with every clip (sarsteer mode)
    std::string refusal_prompt;  // appended to the instruction with no separator
    std::optional<std::string> system;
    int64_t k = 10;
    double lambda = 1.0;
    double alpha = 0.1;           // recorded as the file's default
    std::filesystem::path cache;  // activation cache; per-sample parts live in <cache>.parts/
    // Called after each sample: (done, total) counting both sets, and whether it came from cache.
    std::function<void(std::size_t, std::size_t, bool)> progress;
};

// Raw per-sample last-position states, as stored in the activation cache.
struct Activations {
    at::Tensor harmful_base;     // [N, L, D] float32 (llm mode: harmful question states)
    at::Tensor harmful_refusal;  // [N, L, D] (undefined in llm mode)
    at::Tensor safe_base;        // [M, L, D]
};

// Runs (or resumes, or reads from the cache) the calibration passes.
Activations collect_activations(const model::Model& model, const io::Manifest& harmful,
                                const io::Manifest& safe, const ExtractOptions& options);

// Activations -> steering vectors with metadata (mode, k, λ, prompts, counts, hashes, ...).
SteeringVectors build_steering(const model::Model& model, const Activations& acts,
                               const io::Manifest& harmful, const io::Manifest& safe,
                               const ExtractOptions& options);

// Per layer, how far apart the harmful and safe base states lie: the distance between the two
// means over the pooled within-set spread, sqrt of the mean of the two sets' mean squared
// distances to their own mean. Steering can only treat harmful and safe inputs differently where
// their states differ; near 0, no vector does (docs/organism.md, run 30).
std::vector<double> base_separation(const Activations& acts);

// For one prompt pair that shares a prefix (the base prompt and the base prompt with the refusal
// text), the last-position output of every layer for both: [2, L, D]. The shared prefix (audio
// included) runs once; both continuations then run as one batch on a copy of its KV cache.
at::Tensor last_states_with_shared_prefix(const model::Model& model,
                                          const model::PreparedPrompt& first,
                                          const model::PreparedPrompt& second);

}  // namespace sarsteer::steer
