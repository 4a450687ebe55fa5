#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>

#include <ATen/ATen.h>

#include "sarsteer/error.h"

namespace sarsteer::model {
namespace {

constexpr float kFiltered = -std::numeric_limits<float>::infinity();  // HF's filter_value

// HF compares float32 cumulative sums against 1 - top_p, so which side of the cut a token lands
// on when its cumulative mass is (in exact arithmetic) on it is decided by rounding there. We sum
// in float64 and count a mass within this relative slack (~8 float32 ulps) as on the cut, so that
// such a token is removed as `<=` says: top_p 0.5 over probabilities 0.5/0.3/0.2 keeps one token.
constexpr double kTopPRelativeSlack = 1e-6;

[[noreturn]] void bad_params(const std::string& problem) {
    throw Error(ErrorKind::kInvalidArgument, "sampling parameters", problem);
}

void validate(const SamplingParams& p) {
    if (!(std::isfinite(p.temperature) && p.temperature >= 0))
        bad_params("temperature must be >= 0, got " + std::to_string(p.temperature));
    if (p.top_k < 0) bad_params("top_k must be >= 0, got " + std::to_string(p.top_k));
    if (!(p.top_p > 0 && p.top_p <= 1))
        bad_params("top_p must be in (0, 1], got " + std::to_string(p.top_p));
    if (!(std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0)) {
        bad_params("repetition_penalty must be > 0, got " + std::to_string(p.repetition_penalty));
    }
}

}  // namespace

SamplingParams SamplingParams::from(const GenerationConfig& config) {
    SamplingParams p;
    p.temperature = config.do_sample ? config.temperature : 0.0;
    p.top_k = config.top_k;
    p.top_p = config.top_p;
    p.repetition_penalty = config.repetition_penalty;
    return p;
}

// ref: transformers/generation/logits_process.py RepetitionPenaltyLogitsProcessor:
// gather the context's scores, penalise, scatter back. Penalising distinct ids once is what the
// gather/scatter amounts to for repeated ids.
void apply_repetition_penalty(std::span<float> scores, std::span<const int32_t> context,
                              double penalty) {
    if (penalty == 1.0 || context.empty()) return;
    std::vector<int32_t> ids;
    ids.reserve(context.size());
    for (int32_t id : context) {
        if (id >= 0 && static_cast<size_t>(id) < scores.size()) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    const auto p = static_cast<float>(penalty);  // torch casts the Python float to the dtype
    for (int32_t id : ids) {
        float& s = scores[static_cast<size_t>(id)];
        s = s < 0 ? s * p : s / p;
    }
}

// ref: TemperatureLogitsWarper: scores / temperature.
void apply_temperature(std::span<float> scores, double temperature) {
    if (!(temperature > 0)) bad_params("temperature must be > 0 to scale scores");
    if (temperature == 1.0) return;
    const auto t = static_cast<float>(temperature);
    for (float& s : scores) s /= t;
}

namespace {

// ref: TopKLogitsWarper: scores < topk(scores, k).values[-1] -> -inf, k = min(max(top_k, 1), V).
// nth_element finds the k-th largest in O(V) instead of HF's topk. `values` is scratch.
void top_k_with(std::span<float> scores, int64_t top_k, std::vector<float>& values) {
    if (top_k <= 0 || static_cast<uint64_t>(top_k) >= scores.size()) return;
    values.assign(scores.begin(), scores.end());
    const auto kth = values.begin() + static_cast<std::ptrdiff_t>(top_k - 1);
    std::nth_element(values.begin(), kth, values.end(), std::greater<float>());
    const float cut = *kth;
    for (float& s : scores) {
        if (s < cut) s = kFiltered;
    }
}

// ref: TopPLogitsWarper: sort ascending, cumulative softmax, remove where cumsum <= 1 - top_p,
// keep the last (most likely). A token's ascending cumulative mass is the total minus the mass of
// the tokens above it, so we walk from the top instead and stop at the first token to remove:
// sorting only the (usually few) kept tokens, a growing chunk at a time, rather than all V.
// `order` is scratch.
void top_p_with(std::span<float> scores, double top_p, std::vector<ScoredId>& order) {
    if (!(top_p < 1.0)) return;
    // -inf tokens have probability 0: HF removes them too (0 <= 1 - top_p), so leave them out.
    order.clear();
    float max_score = kFiltered;
    for (size_t i = 0; i < scores.size(); ++i) {
        if (scores[i] == kFiltered) continue;
        order.emplace_back(scores[i], static_cast<int32_t>(i));
        max_score = std::max(max_score, scores[i]);
    }
    if (order.size() <= 1) return;
    const double m = max_score;
    double total = 0;
    for (const auto& entry : order) total += std::exp(static_cast<double>(entry.first) - m);
    const double cut = (1.0 - top_p) * (1.0 + kTopPRelativeSlack) * total;

    // Descending, ties by higher id first: the reverse of a stable ascending sort.
    const auto above = [](const ScoredId& a, const ScoredId& b) {
        return a.first > b.first || (a.first == b.first && a.second > b.second);
    };
    const size_t n = order.size();
    size_t kept = n;
    double head = 0;  // mass of the tokens above the current one
    size_t begin = 0;
    size_t chunk = 64;
    while (begin < n && kept == n) {
        const size_t end = std::min(n, begin + chunk);
        const auto first = order.begin() + static_cast<std::ptrdiff_t>(begin);
        const auto last = order.begin() + static_cast<std::ptrdiff_t>(end);
        if (end < n) std::nth_element(first, last - 1, order.end(), above);
        std::sort(first, last, above);
        for (size_t j = begin; j < end; ++j) {
            if (j > 0 && total - head <= cut) {  // min_tokens_to_keep = 1 spares j == 0
                kept = j;
                break;
            }
            head += std::exp(static_cast<double>(order[j].first) - m);
        }
        begin = end;
        chunk *= 4;
    }
    for (size_t j = kept; j < n; ++j) scores[static_cast<size_t>(order[j].second)] = kFiltered;
}

}  // namespace

void apply_top_k(std::span<float> scores, int64_t top_k) {
    std::vector<float> values;
    top_k_with(scores, top_k, values);
}

void apply_top_p(std::span<float> scores, double top_p) {
    std::vector<ScoredId> order;
    top_p_with(scores, top_p, order);
}

int32_t argmax(std::span<const float> scores) {
    size_t best = 0;
    for (size_t i = 1; i < scores.size(); ++i) {
        if (scores[i] > scores[best]) best = i;
    }
    return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
    validate(params_);
}

double Sampler::next_uniform() {
    // The top 53 bits as a fraction: portable, unlike std::uniform_real_distribution's algorithm.
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(const at::Tensor& logits, std::span<const int32_t> context) {
    if (!logits.defined() || logits.dim() != 1 || logits.numel() == 0 ||
        !at::isFloatingType(logits.scalar_type())) {
        throw Error(ErrorKind::kInvalidArgument, "sampler",
                    "logits must be a non-empty 1-D floating-point tensor");
    }
    if (logits.numel() > std::numeric_limits<int32_t>::max()) {
        throw Error(ErrorKind::kInvalidArgument, "sampler", "vocabulary too large for int32 ids");
    }
    // HF's generate also upcasts the last position's logits to float32 before processing. One
    // copy_ converts dtype and device straight into our buffer, which is reused across calls.
    scores_.resize(static_cast<size_t>(logits.numel()));
    at::from_blob(scores_.data(), {logits.numel()}, at::kFloat).copy_(logits.detach());
    if (std::any_of(scores_.begin(), scores_.end(), [](float s) { return std::isnan(s); })) {
        throw Error(ErrorKind::kInternal, "sampler", "logits contain NaN");
    }

    apply_repetition_penalty(scores_, context, params_.repetition_penalty);
    if (greedy()) return argmax(scores_);

    apply_temperature(scores_, params_.temperature);
    top_k_with(scores_, params_.top_k, top_k_values_);
    top_p_with(scores_, params_.top_p, top_p_order_);

    // softmax + multinomial: walk the CDF of the unnormalised weights.
    const float max_score = *std::max_element(scores_.begin(), scores_.end());
    if (!std::isfinite(max_score)) {
        throw Error(ErrorKind::kInternal, "sampler",
                    "logits leave no finite probability to sample from (+inf or all -inf)");
    }
    const double m = max_score;
    weights_.resize(scores_.size());
    double total = 0;
    for (size_t i = 0; i < scores_.size(); ++i) {
        weights_[i] = scores_[i] == kFiltered ? 0.0 : std::exp(static_cast<double>(scores_[i]) - m);
        total += weights_[i];
    }
    const double target = next_uniform() * total;
    double cumulative = 0;
    size_t last_positive = 0;
    for (size_t i = 0; i < weights_.size(); ++i) {
        if (weights_[i] == 0) continue;
        cumulative += weights_[i];
        last_positive = i;
        if (target < cumulative) return static_cast<int32_t>(i);
    }
    return static_cast<int32_t>(last_positive);  // target rounded up to the total
}

}  // namespace sarsteer::model
