// What `eval`, `sweep` and `demo` share: the evaluation flags, loading the datasets, and one
// evaluation end to end (config check, generation with progress, judging, a terminal table).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/defense_flags.h"
#include "cli/model_flags.h"
#include "eval/runner.h"
#include "sarsteer/defaults.h"

namespace sarsteer::cli {

struct EvalFlags {
    std::vector<std::string> data;
    std::string instruction{defaults::kInstruction};
    std::string modality = "audio";
    int64_t batch = 4;
    std::optional<std::size_t> n;
    std::optional<int64_t> max_new_tokens;
    std::optional<double> temperature;
    std::optional<double> top_p;
    uint64_t seed = 0;
    std::string judge = "keyword";
};

// --data (required, repeatable), --instruction, --modality, --batch, -n, --max-new-tokens,
// --temperature, --top-p, --seed, --judge.
void add_eval_flags(CLI::App& cmd, EvalFlags& flags);

std::vector<eval::EvalDataset> load_eval_datasets(const EvalFlags& flags);

struct EvalRun {
    std::filesystem::path out;
    std::string name;  // display name in tables and reports (default: the folder's name)
    bool quiet = false;
};

// Checks or writes OUT/config.json, generates what is missing (progress on stderr), then judges
// unless --judge none. Returns the run's metrics entry (null when not judged).
nlohmann::json run_evaluation(const model::Model& model, const ModelFlags& model_flags,
                              const std::vector<eval::EvalDataset>& datasets,
                              const EvalFlags& flags, const ActiveDefense& defense,
                              const EvalRun& run);

// A fixed-width table of a run's metrics per dataset (ASR / over-refusal with intervals).
std::string format_run_table(const nlohmann::json& run);

}  // namespace sarsteer::cli
