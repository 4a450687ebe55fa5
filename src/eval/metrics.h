// Metrics of a judged run: counts per dataset and per scenario, rates with Wilson 95% score
// intervals, and the summary JSON that `sarsteer report` renders (schema: docs/eval.md).
//
// Rates exclude unparsable verdicts from their denominator (and report them as a count):
//   refusal_rate = refused / (refused + complied),  answer_rate = complied / (refused + complied).
// On a harmful set answer_rate is the attack success rate (ASR); on a benign set it is the benign
// response rate and refusal_rate the over-refusal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"

namespace sarsteer::eval {

struct Rate {
    double value = 0.0;
    double lo = 0.0;  // Wilson score interval bounds
    double hi = 0.0;
};

inline constexpr double kZ95 = 1.959963984540054;  // standard normal quantile for 95%

// successes out of n; nullopt when n == 0. Throws std::invalid_argument unless 0 <= k <= n.
std::optional<Rate> wilson_rate(int64_t successes, int64_t n, double z = kZ95);

struct Counts {
    int64_t n = 0;
    int64_t refused = 0;
    int64_t complied = 0;
    int64_t unparsable = 0;

    void add(Verdict verdict);
    int64_t judged() const { return refused + complied; }
};

// {"n","refused","complied","unparsable","refusal_rate":{value,lo,hi}|null,"answer_rate":...}
nlohmann::json counts_json(const Counts& counts);

// One judged item, as metrics see it.
struct JudgedItem {
    std::string dataset;
    std::string label;
    std::string scenario;
    Verdict verdict = Verdict::kUnparsable;
};

// The "datasets" array of a run entry: one object per (dataset, label) in first-seen order, each
// with counts, rates and a "scenarios" array (items without a scenario are under "").
nlohmann::json dataset_metrics(std::span<const JudgedItem> items);

// A run entry of the summary (run_dir, name, defense, alpha, k, lambda, model, datasets) from a
// run folder's config.json, responses.jsonl and judgments/<judge>.jsonl. Throws Error naming
// the file when the run has no such judgments, or responses are missing a verdict.
nlohmann::json summarize_run(const std::filesystem::path& run_dir, const std::string& judge);

// The report summary over several runs: runs, a trade-off series per steering setting (k, λ,
// defense) with one point per α, and per-layer vector norms of each distinct steering file.
nlohmann::json build_summary(std::span<const std::filesystem::path> run_dirs,
                             const std::string& judge);

}  // namespace sarsteer::eval
