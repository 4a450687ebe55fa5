// sarsteer demo: the embedded default job, runnable on a fresh machine with no download. It runs
// the whole pipeline on bundled data: a checkpoint (a tiny random one unless --model is given),
// spoken versions of the bundled FigStep slices, SARSteer vectors from the training slices, an
// evaluation of no defense vs SARSteer on the test slices, and the comparison report.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/defense_flags.h"
#include "cli/eval_setup.h"
#include "cli/model_flags.h"
#include "cli/progress.h"
#include "eval/judge.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/synth.h"
#include "io/manifest.h"
#include "model/make_tiny.h"
#include "model/model.h"
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
    double alpha = defaults::kAlpha;
    int64_t max_new_tokens = 32;
    int64_t batch = 8;
    bool json = false;
};

constexpr int kSteps = 6;

void step(const DemoOptions& opt, int index, const std::string& what) {
    if (!opt.json) std::cerr << "[" << index << "/" << kSteps << "] " << what << std::endl;
}

void run_demo(DemoOptions opt) {
    const fs::path out = opt.out;
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) throw Error(ErrorKind::kIo, out.string(), "cannot create folder: " + ec.message());
    const bool tiny = opt.model.model.empty();
    if (tiny) {
        opt.model.model = (out / "model").string();
        step(opt, 1, "writing a tiny random Qwen2-Audio checkpoint to " + opt.model.model);
        if (!fs::exists(out / "model" / "config.json")) model::make_tiny(out / "model");
    } else {
        step(opt, 1, "using the checkpoint " + opt.model.model);
    }
    const auto model = load_model(opt.model);

    step(opt, 2, "speaking the bundled FigStep slices with espeak-ng");
    eval::SynthOptions voices;
    voices.voices = {"en-us", "en-gb", "en+m3", "en+f2"};
    voices.rate_min = 140;
    voices.rate_max = 180;
    std::map<std::string, fs::path> spoken;
    for (const char* set : {"figstep_harmful_train_mini", "figstep_benign_train_mini",
                            "figstep_harmful_test_mini", "figstep_benign_test_mini"}) {
        const auto result = eval::synthesize_manifest(
            data_dir() / "datasets" / (std::string(set) + ".jsonl"), out / "audio" / set, voices);
        spoken[set] = result.manifest;
    }

    step(opt, 3, "extracting SARSteer vectors from the training slices");
    const auto harmful = io::Manifest::load(spoken["figstep_harmful_train_mini"]);
    const auto safe = io::Manifest::load(spoken["figstep_benign_train_mini"]);
    steer::ExtractOptions extract;
    extract.instruction = std::string(defaults::kInstruction);
    extract.refusal_prompt = std::string(defaults::kRefusalVariants[0]);
    extract.k = std::min<int64_t>(defaults::kSafeRank, static_cast<int64_t>(safe.items.size()));
    extract.alpha = opt.alpha;
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
    eval_flags.data = {spoken["figstep_harmful_test_mini"].string(),
                       spoken["figstep_benign_test_mini"].string()};
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
    sarsteer.alpha = opt.alpha;
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
                    "Checkpoint to use (default: a tiny random one written to OUT/model)");
    cmd->add_option("--threads", opt->model.threads, "CPU threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_option("--alpha", opt->alpha, "Steering strength α")->capture_default_str();
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
