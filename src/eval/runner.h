// `sarsteer eval`: answers every item of one or more manifests with a model and a defense,
// appending each result to the run folder as it finishes (see run_store.h), so that a re-run
// resumes where a crash or kill stopped it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/run_store.h"
#include "io/manifest.h"
#include "model/layer_hook.h"
#include "model/sampler.h"

namespace sarsteer::model {
class Model;
}

namespace sarsteer::eval {

struct EvalDataset {
    std::string name;  // dataset_name(manifest.path) unless given
    io::Manifest manifest;
};

enum class Modality { kAudio, kText };

struct EvalOptions {
    // audio: the item's clip + `instruction` (the paper's setting); text: the item's question
    // typed as the user turn (the "same request as text" baseline; `instruction` unused).
    Modality modality = Modality::kAudio;
    std::string instruction;
    std::string instruction_suffix;     // a prompt defense's refusal text, appended verbatim
    std::optional<std::string> system;  // a system turn (prompt:system defense); else default
    model::LayerHook* hook = nullptr;   // the steering defense, if any
    int64_t batch = 1;
    int64_t max_new_tokens = 512;
    // Sampling settings; each item's seed is derived from `sampling.seed` and its id, so an
    // item's answer does not depend on the batch it ran in or on resuming.
    model::SamplingParams sampling;
    // Called after each batch: (done, total, of which from an earlier run).
    std::function<void(std::size_t, std::size_t, std::size_t)> progress;
};

struct EvalOutcome {
    std::size_t total = 0;
    std::size_t skipped = 0;  // already in responses.jsonl
    std::size_t generated = 0;
    double seconds = 0.0;  // generation wall time of this invocation
};

// Seed of one item: a hash of the run seed and the dataset/id (stable across runs, platforms).
uint64_t item_seed(uint64_t run_seed, const std::string& dataset, const std::string& id);

// Runs (or resumes) the evaluation into run_dir/responses.jsonl. The caller writes config.json
// first (write_or_check_run_config). Throws Error for unreadable audio (naming the file; the
// results of earlier items stay) and kIo when results cannot be written.
EvalOutcome run_eval(const model::Model& model, const std::vector<EvalDataset>& datasets,
                     const std::filesystem::path& run_dir, const EvalOptions& options);

// Judges every response of a run and writes judgments/<judge>.jsonl and metrics/<judge>.json.
// Returns the metrics (the summary's run entry).
nlohmann::json judge_run(const std::filesystem::path& run_dir, const Judge& judge,
                         const std::function<void(std::size_t, std::size_t)>& progress = {});

}  // namespace sarsteer::eval
