// Next-token choice with the logits processing of transformers' `generate`.
//
// ref: transformers/generation/logits_process.py, in the order `generate` applies them:
// RepetitionPenaltyLogitsProcessor (a logits processor, so greedy search uses it too), then the
// sampling warpers TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper, then softmax and
// a multinomial draw (generation/utils.py, `_sample`). Greedy search is argmax after the penalty.
//
// The element-wise steps are done in float32 like HF's; the softmax, cumulative sums and the draw
// in float64. The draw uses the sampler's own std::mt19937_64, so a seed reproduces a sequence
// exactly (independently of batching and of the platform's <random> distributions) but does not
// reproduce PyTorch's torch.multinomial stream: sampled text equals HF's in distribution only.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/generation_config.h"

namespace sarsteer::model {

struct SamplingParams {
    double temperature = 0.0;         // 0 -> greedy (argmax); top_k and top_p are then unused
    int64_t top_k = 0;                // 0 -> off
    double top_p = 1.0;               // 1 -> off
    double repetition_penalty = 1.0;  // 1 -> off; applies to greedy search too, as in HF
    uint64_t seed = 0;

    // do_sample=false (HF greedy search) -> temperature 0; everything else is copied.
    static SamplingParams from(const GenerationConfig& config);
};

using ScoredId = std::pair<float, int32_t>;  // (score, token id)

// The individual HF processors on a score vector, in place. Filtered tokens get -inf (HF's
// filter_value). Scores must not contain NaN.

// ref: RepetitionPenaltyLogitsProcessor. For each distinct id of `context` (prompt + generated
// ids, HF's `input_ids`): score < 0 ? score * penalty : score / penalty. Ids outside
// [0, scores.size()) are ignored.
void apply_repetition_penalty(std::span<float> scores, std::span<const int32_t> context,
                              double penalty);

// ref: TemperatureLogitsWarper. scores / temperature, temperature > 0.
void apply_temperature(std::span<float> scores, double temperature);

// ref: TopKLogitsWarper. Keeps every score >= the k-th largest (so ties at the cut all stay);
// top_k <= 0 is off.
void apply_top_k(std::span<float> scores, int64_t top_k);

// ref: TopPLogitsWarper. Walking the tokens from least to most likely (ties: lower id first, as a
// stable ascending sort orders them), removes each whose cumulative probability is <= 1 - top_p;
// the most likely token always stays. top_p >= 1 is off. Sums are float64, and a cumulative mass
// within 1e-6 (relative) of the cut counts as on it, where HF's float32 result is rounding noise.
void apply_top_p(std::span<float> scores, double top_p);

// Index of the first maximum, like torch.argmax.
int32_t argmax(std::span<const float> scores);

// One per sequence: it owns its RNG, so a sequence's tokens do not depend on what else is batched.
// Not thread-safe; `sample` reuses internal buffers.
class Sampler {
public:
    // Throws Error(kInvalidArgument) for temperature < 0, top_k < 0, top_p outside (0, 1] or
    // repetition_penalty <= 0.
    explicit Sampler(const SamplingParams& params);

    // `logits`: 1-D [V] scores of the next token (any floating dtype and device; read as CPU
    // float32). `context`: prompt + generated ids, for the repetition penalty. Returns the chosen
    // id. Draws exactly one random number per call when sampling, none when greedy. Throws
    // Error(kInvalidArgument) for a bad tensor and Error(kInternal) for NaN logits, or, when
    // sampling, logits that leave no finite probability (+inf, all -inf).
    int32_t sample(const at::Tensor& logits, std::span<const int32_t> context);

    const SamplingParams& params() const { return params_; }
    bool greedy() const { return params_.temperature == 0.0; }

private:
    double next_uniform();  // in [0, 1), 53 random bits

    SamplingParams params_;
    std::mt19937_64 rng_;
    // Buffers reused across calls (V can be 156032): no per-token allocation.
    std::vector<float> scores_;
    std::vector<double> weights_;
    std::vector<float> top_k_values_;
    std::vector<ScoredId> top_p_order_;
};

}  // namespace sarsteer::model
