// sarsteer demo: the embedded default job, runnable on a fresh machine with no download. It runs
// the whole pipeline on bundled data: the bundled model organism (data/organism, trained by
// `sarsteer organism train`) on spoken versions of its own calibration and held-out questions,
// or, with --model, any checkpoint on the bundled FigStep slices; SARSteer vectors from the
// calibration items, an evaluation of no defense vs SARSteer on the test items, and the report.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/defense_flags.h"
#include "cli/eval_setup.h"
#include "cli/model_flags.h"
#include "cli/progress.h"
#include "eval/judge.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/synth.h"
#include "io/json_file.h"
#include "io/manifest.h"
#include "model/make_tiny.h"
#include "model/model.h"
#include "organism/train.h"
#include "sarsteer/defaults.h"
#include "sarsteer/error.h"
#include "steer/extract.h"

namespace sarsteer::cli {
namespace {

namespace fs = std::filesystem;

// Where the bundled data lives: $SARSTEER_DATA_DIR, else the source tree's data/ folder.
fs::path data_dir() {
    if (const char* env = std::getenv("SARSTEER_DATA_DIR"); env != nullptr && *env != '\0')
        return env;
    return SARSTEER_DATA_DIR;
}

struct DemoOptions {
    std::string out = "sarsteer-demo";
    ModelFlags model;
    std::optional<double> alpha;  // default: the organism's measured α, else the paper's
    int64_t max_new_tokens = 32;
    int64_t batch = 8;
    bool json = false;
};

constexpr int kSteps = 6;

void step(const DemoOptions& opt, int index, const std::string& what) {
    if (!opt.json) std::cerr << "[" << index << "/" << kSteps << "] " << what << std::endl;
}

// The data a demo runs on: four manifests (harmful/benign x calibration/test), each with a
// row limit, and the voices to speak them in.
struct DemoData {
    std::vector<std::pair<std::string, fs::path>> sets;  // name -> manifest
    std::map<std::string, std::optional<std::size_t>> limit;
    eval::SynthOptions voices;
};

DemoData organism_data(const fs::path& organism) {
    DemoData d;
    for (const char* set : {"harmful_train", "benign_train", "harmful_test", "benign_test"}) {
        d.sets.emplace_back(set, organism / "data" / (std::string(set) + ".jsonl"));
        d.limit[set] = std::string(set).ends_with("train") ? 28 : 14;
    }
    d.voices = organism::evaluation_voices(organism);
    return d;
}

DemoData figstep_data() {
    DemoData d;
    const std::pair<const char*, const char*> sets[] = {
        {"harmful_train", "figstep_harmful_train_mini"},
        {"benign_train", "figstep_benign_train_mini"},
        {"harmful_test", "figstep_harmful_test_mini"},
        {"benign_test", "figstep_benign_test_mini"},
    };
    for (const auto& [name, file] : sets) {
        d.sets.emplace_back(name, data_dir() / "datasets" / (std::string(file) + ".jsonl"));
        d.limit[name] = std::nullopt;
    }
    d.voices.voices = {"en-us", "en-gb", "en+m3", "en+f2"};
    d.voices.rate_min = 140;
    d.voices.rate_max = 180;
    return d;
}

void run_demo(DemoOptions opt) {
    const fs::path out = opt.out;
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) throw Error(ErrorKind::kIo, out.string(), "cannot create folder: " + ec.message());
    const fs::path organism = data_dir() / "organism";
    const bool bundled = opt.model.model.empty();
    const bool use_organism = bundled && fs::exists(organism / "config.json");
    const bool tiny = bundled && !use_organism;
    if (use_organism) {
        opt.model.model = organism.string();
        step(opt, 1, "using the bundled model organism " + opt.model.model + " (docs/organism.md)");
    } else if (tiny) {
        opt.model.model = (out / "model").string();
        step(opt, 1, "writing a tiny random Qwen2-Audio checkpoint to " + opt.model.model);
        if (!fs::exists(out / "model" / "config.json")) model::make_tiny(out / "model");
    } else {
        step(opt, 1, "using the checkpoint " + opt.model.model);
    }
    const double alpha =
        opt.alpha.value_or(organism::measured_alpha(opt.model.model, defaults::kAlpha));
    const auto model = load_model(opt.model);

    const auto data = use_organism ? organism_data(organism) : figstep_data();
    step(opt, 2,
         use_organism ? "speaking the organism's training and held-out questions"
                      : "speaking the bundled FigStep slices with espeak-ng");
    std::map<std::string, fs::path> spoken;
    for (const auto& [name, manifest] : data.sets) {
        auto voices = data.voices;
        voices.limit = data.limit.at(name);
        // The audio folder is named after the manifest (audio/figstep_harmful_test_mini/...).
        spoken[name] =
            eval::synthesize_manifest(manifest, out / "audio" / manifest.stem(), voices).manifest;
    }

    step(opt, 3, "extracting SARSteer vectors from the calibration items");
    const auto harmful = io::Manifest::load(spoken["harmful_train"]);
    const auto safe = io::Manifest::load(spoken["benign_train"]);
    steer::ExtractOptions extract;
    extract.instruction = std::string(defaults::kInstruction);
    extract.refusal_prompt = std::string(defaults::kRefusalVariants[0]);
    extract.k = std::min<int64_t>(defaults::kSafeRank, static_cast<int64_t>(safe.items.size()));
    extract.alpha = alpha;
    extract.cache = out / "steer.acts.safetensors";
    const auto steer_file = out / "steer.safetensors";
    {
        std::optional<Progress> progress;
        if (!opt.json) progress.emplace("extract", harmful.items.size() + safe.items.size());
        extract.progress = [&](std::size_t done, std::size_t, bool cached) {
            if (progress) progress->update(done, cached);
        };
        const auto acts = steer::collect_activations(*model, harmful, safe, extract);
        if (progress) progress->finish();
        if (!fs::exists(steer_file)) {
            steer::build_steering(*model, acts, harmful, safe, extract).save(steer_file);
        }
    }

    EvalFlags eval_flags;
    eval_flags.data = {spoken["harmful_test"].string(), spoken["benign_test"].string()};
    eval_flags.batch = opt.batch;
    eval_flags.max_new_tokens = opt.max_new_tokens;
    eval_flags.temperature = 0.0;
    const auto datasets = load_eval_datasets(eval_flags);
    std::vector<fs::path> runs;
    const auto evaluate = [&](int index, const DefenseFlags& flags, const std::string& name) {
        step(opt, index, "evaluating " + name + " on the test slices");
        const auto defense = make_defense(flags, *model, {});
        run_evaluation(*model, opt.model, datasets, eval_flags, defense,
                       {.out = out / "runs" / name, .name = name, .quiet = opt.json});
        runs.push_back(out / "runs" / name);
    };
    DefenseFlags none;
    none.defense = "none";
    evaluate(4, none, "none");
    DefenseFlags sarsteer;
    sarsteer.defense = "sarsteer";
    sarsteer.steer_file = steer_file.string();
    sarsteer.alpha = alpha;
    evaluate(5, sarsteer, "sarsteer");

    step(opt, 6, "writing the report");
    const auto summary = eval::build_summary(runs, eval::judge_name(eval_flags.judge));
    eval::write_report(summary, out / "report");
    if (opt.json) {
        std::cout << summary.dump() << '\n';
        return;
    }
    std::cout << eval::render_markdown(summary) << "\nreport: " << (out / "report").string()
              << "/report.html (and summary.json, report.md)\n";
    if (use_organism) {
        std::cout << "\nThe model here is the project's trained model organism: a 1.6 M-parameter "
                     "Qwen2-Audio trained on generated data to refuse harmful text and, never "
                     "having heard a harmful request, to answer harmful speech. Its held-out "
                     "numbers, and what they do and do not show, are in docs/organism.md.\n";
    }
    if (tiny) {
        std::cout << "\nThe model here is a tiny random checkpoint: what it answers, and so every "
                     "rate above, means nothing about safety. The demo proves the pipeline "
                     "(speech, calibration, steering, evaluation, judging, report); run it with "
                     "--model DIR on a real Qwen2-Audio checkpoint for numbers that matter.\n";
    }
}

}  // namespace

void add_demo_command(CLI::App& app) {
    auto opt = std::make_shared<DemoOptions>();
    auto* cmd = app.add_subcommand(
        "demo",
        "Run the whole pipeline on bundled data: speech synthesis, SARSteer extraction, "
        "evaluation of no defense vs SARSteer, report");
    cmd->add_option("--out", opt->out, "Output folder (re-running resumes)")->capture_default_str();
    cmd->add_option("--model", opt->model.model,
                    "Checkpoint to use, on the bundled FigStep slices (default: the bundled "
                    "organism on its own data; a tiny random one if it is missing)");
    cmd->add_option("--threads", opt->model.threads, "CPU threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_option("--alpha", opt->alpha,
                    "Steering strength α (default: the organism's measured α, else 0.1)");
    cmd->add_option("--max-new-tokens", opt->max_new_tokens, "Most tokens per answer")
        ->check(CLI::Range(int64_t{1}, int64_t{4096}))
        ->capture_default_str();
    cmd->add_option("--batch", opt->batch, "Items generated together")
        ->check(CLI::Range(int64_t{1}, int64_t{256}))
        ->capture_default_str();
    cmd->add_flag("--json", opt->json, "Print only the report summary as JSON");
    cmd->callback([opt] { run_demo(*opt); });
}

}  // namespace sarsteer::cli
