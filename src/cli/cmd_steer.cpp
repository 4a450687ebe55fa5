// sarsteer steer extract|inspect: make and examine SARSteer steering files.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "cli/progress.h"
#include "cli/steer_commands.h"
#include "io/manifest.h"
#include "model/model.h"
#include "sarsteer/defaults.h"
#include "sarsteer/error.h"
#include "steer/extract.h"

namespace sarsteer::cli {
namespace {

struct ExtractFlags {
    ModelFlags model;
    std::string harmful;
    std::string safe;
    std::size_t n = defaults::kCalibrationSamples;
    int64_t k = defaults::kSafeRank;
    double lambda = defaults::kLambda;
    double alpha = defaults::kAlpha;
    std::string instruction{defaults::kInstruction};
    std::optional<std::string> refusal_prompt;
    std::optional<int> refusal_variant;
    std::optional<std::string> system;
    std::string cache;
    std::string mode = "sarsteer";
    std::string out;
};

void run_extract(const ExtractFlags& flags) {
    if (flags.refusal_prompt && flags.refusal_variant) {
        throw Error(ErrorKind::kInvalidArgument, "steer extract",
                    "give --refusal-prompt or --refusal-variant, not both");
    }
    const bool llm = flags.mode == "llm";
    const io::ManifestOptions manifest_options{.require_audio = !llm, .limit = flags.n};
    const auto harmful = io::Manifest::load(flags.harmful, manifest_options);
    const auto safe = io::Manifest::load(flags.safe, manifest_options);
    const auto model = load_model(flags.model);

    steer::ExtractOptions options;
    options.mode = llm ? steer::ExtractMode::kLlm : steer::ExtractMode::kSarsteer;
    options.instruction = flags.instruction;
    options.refusal_prompt = flags.refusal_prompt.value_or(
        std::string(defaults::kRefusalVariants[flags.refusal_variant.value_or(0)]));
    options.system = flags.system;
    options.k = flags.k;
    options.lambda = flags.lambda;
    options.alpha = flags.alpha;
    options.cache = flags.cache.empty() ? std::filesystem::path(flags.out + ".acts.safetensors")
                                        : std::filesystem::path(flags.cache);
    Progress progress("extract", harmful.items.size() + safe.items.size());
    options.progress = [&](std::size_t done, std::size_t, bool cached) {
        progress.update(done, cached);
    };

    const auto acts = steer::collect_activations(*model, harmful, safe, options);
    progress.finish();
    const auto vectors = steer::build_steering(*model, acts, harmful, safe, options);
    vectors.save(flags.out);
    std::cout << "wrote " << flags.out << ": " << vectors.v.size() << " layers, mode "
              << vectors.metadata.mode << ", k " << vectors.metadata.k << ", lambda "
              << vectors.metadata.lambda << " (activations cached in " << options.cache.string()
              << ")\n";
}

void add_extract_command(CLI::App& steer) {
    auto flags = std::make_shared<ExtractFlags>();
    auto* cmd = steer.add_subcommand(
        "extract", "Compute SARSteer vectors from harmful and safe calibration manifests");
    add_model_flags(*cmd, flags->model);
    cmd->add_option("--harmful", flags->harmful,
                    "Harmful calibration manifest (JSONL: id, audio, question)")
        ->required();
    cmd->add_option("--safe", flags->safe, "Safe (benign) calibration manifest")->required();
    cmd->add_option("--n", flags->n, "Samples used from each manifest")->capture_default_str();
    cmd->add_option("--k", flags->k, "Safe-space rank k")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    cmd->add_option("--lambda", flags->lambda, "Ablation strength λ (0: plain refusal steering)")
        ->capture_default_str();
    cmd->add_option("--alpha", flags->alpha, "Default steering strength stored in the file")
        ->capture_default_str();
    cmd->add_option("--instruction", flags->instruction, "Instruction paired with every clip")
        ->capture_default_str();
    cmd->add_option("--refusal-prompt", flags->refusal_prompt,
                    "Refusal text appended to the instruction (no separator)");
    cmd->add_option("--refusal-variant", flags->refusal_variant,
                    "One of the reference's refusal prompts, 0..3 (default 0)")
        ->check(CLI::Range(0, 3));
    cmd->add_option("--system", flags->system, "System prompt (default: Qwen2-Audio's)");
    cmd->add_option("--cache", flags->cache,
                    "Activation cache (default OUT.acts.safetensors); reused for other k/λ, and "
                    "extraction resumes from it after an interruption");
    cmd->add_option("--mode", flags->mode,
                    "sarsteer (audio + instruction) or llm (text-only baseline: harmful vs benign "
                    "question means)")
        ->check(CLI::IsMember({"sarsteer", "llm"}))
        ->capture_default_str();
    cmd->add_option("--out", flags->out, "Steering file to write (.safetensors)")->required();
    cmd->callback([flags] { run_extract(*flags); });
}

}  // namespace

void add_steer_command(CLI::App& app) {
    auto* steer = app.add_subcommand("steer", "Make and inspect SARSteer steering files");
    steer->require_subcommand(1);
    add_extract_command(*steer);
    add_steer_inspect_command(*steer);
}

}  // namespace sarsteer::cli
