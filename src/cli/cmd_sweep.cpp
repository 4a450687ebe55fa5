// sarsteer sweep: one calibration pass, then a grid of steering settings (α, k, λ) evaluated
// against the undefended baseline, and a report with the refusal-vs-over-refusal trade-off.
// Everything is resumable: the activation cache, each steering file and each run folder.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/defense_flags.h"
#include "cli/eval_setup.h"
#include "cli/model_flags.h"
#include "cli/progress.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "io/manifest.h"
#include "model/model.h"
#include "sarsteer/error.h"
#include "steer/extract.h"

namespace sarsteer::cli {
namespace {

namespace fs = std::filesystem;

struct SweepFlags {
    ModelFlags model;
    EvalFlags eval;
    std::string harmful;
    std::string safe;
    std::size_t n_calibration = defaults::kCalibrationSamples;
    std::string alphas = "0.02,0.05,0.1,0.2";
    std::string ks = std::to_string(defaults::kSafeRank);
    std::string lambdas = "1";
    std::string out;
};

std::vector<double> parse_numbers(const std::string& text, const std::string& flag) {
    std::vector<double> out;
    std::size_t begin = 0;
    while (begin <= text.size()) {
        const auto comma = std::min(text.find(',', begin), text.size());
        const auto item = text.substr(begin, comma - begin);
        std::size_t used = 0;
        double value = 0;
        try {
            value = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (item.empty() || used != item.size() || !std::isfinite(value) || value < 0) {
            throw Error(ErrorKind::kInvalidArgument, flag, "\"" + item + "\" is not a number >= 0",
                        "give a comma-separated list, e.g. 0.05,0.1,0.2");
        }
        out.push_back(value);
        begin = comma + 1;
    }
    return out;
}

// "0.1" -> "0.1", 10 -> "10": how settings appear in folder and file names.
std::string tag(double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
}

void run_sweep(const SweepFlags& flags) {
    const auto alphas = parse_numbers(flags.alphas, "--alphas");
    const auto ks = parse_numbers(flags.ks, "--ks");
    const auto lambdas = parse_numbers(flags.lambdas, "--lambdas");
    const io::ManifestOptions calibration{.require_audio = true, .limit = flags.n_calibration};
    const auto harmful = io::Manifest::load(flags.harmful, calibration);
    const auto safe = io::Manifest::load(flags.safe, calibration);
    const auto datasets = load_eval_datasets(flags.eval);
    const auto model = load_model(flags.model);
    const fs::path out = flags.out;
    std::error_code ec;
    fs::create_directories(out / "runs", ec);
    if (ec) throw Error(ErrorKind::kIo, out.string(), "cannot create folder: " + ec.message());

    // One calibration pass serves every (k, λ): the cache holds the raw activations.
    steer::ExtractOptions extract;
    extract.instruction = flags.eval.instruction;
    extract.refusal_prompt = std::string(defaults::kRefusalVariants[0]);
    extract.cache = out / "activations.safetensors";
    {
        Progress progress("calibrate", harmful.items.size() + safe.items.size());
        extract.progress = [&](std::size_t done, std::size_t, bool cached) {
            progress.update(done, cached);
        };
        const auto acts = steer::collect_activations(*model, harmful, safe, extract);
        progress.finish();
        for (const double k : ks) {
            for (const double lambda : lambdas) {
                extract.k = static_cast<int64_t>(k);
                extract.lambda = lambda;
                // Written once: a run folder records the file's hash, so a resumed sweep must
                // find the same bytes (the metadata carries a creation time).
                const auto file = out / ("steer-k" + tag(k) + "-l" + tag(lambda) + ".safetensors");
                if (!fs::exists(file)) {
                    steer::build_steering(*model, acts, harmful, safe, extract).save(file);
                }
            }
        }
    }

    std::vector<fs::path> runs;
    const auto evaluate = [&](const DefenseFlags& defense_flags, const fs::path& dir,
                              const std::string& name) {
        std::cerr << "[sweep] " << name << "\n";
        const auto defense = make_defense(defense_flags, *model, {});
        run_evaluation(*model, flags.model, datasets, flags.eval, defense,
                       {.out = dir, .name = name, .quiet = false});
        runs.push_back(dir);
    };
    DefenseFlags none;
    none.defense = "none";
    evaluate(none, out / "runs" / "none", "none");
    for (const double k : ks) {
        for (const double lambda : lambdas) {
            const auto file = out / ("steer-k" + tag(k) + "-l" + tag(lambda) + ".safetensors");
            for (const double alpha : alphas) {
                const auto name = "sarsteer k=" + tag(k) + " λ=" + tag(lambda) + " α=" + tag(alpha);
                DefenseFlags steering;
                steering.defense = "sarsteer";
                steering.steer_file = file.string();
                steering.alpha = alpha;
                evaluate(steering,
                         out / "runs" / ("k" + tag(k) + "-l" + tag(lambda) + "-a" + tag(alpha)),
                         name);
            }
        }
    }
    if (flags.eval.judge == "none") {
        std::cerr << "runs in " << (out / "runs").string()
                  << "; judge them and run `sarsteer report` for the trade-off\n";
        return;
    }
    const auto summary = eval::build_summary(runs, eval::judge_name(flags.eval.judge));
    eval::write_report(summary, out / "report");
    std::cout << eval::render_markdown(summary);
    std::cerr << "wrote " << (out / "report").string() << "/report.html\n";
}

}  // namespace

void add_sweep_command(CLI::App& app) {
    auto flags = std::make_shared<SweepFlags>();
    auto* cmd = app.add_subcommand(
        "sweep",
        "Grid over steering strength α (and k, λ) from one calibration pass, with the "
        "refusal vs over-refusal trade-off report");
    add_model_flags(*cmd, flags->model);
    add_eval_flags(*cmd, flags->eval);
    cmd->add_option("--harmful", flags->harmful, "Harmful calibration manifest")->required();
    cmd->add_option("--safe", flags->safe, "Safe (benign) calibration manifest")->required();
    cmd->add_option("--n-calibration", flags->n_calibration, "Calibration samples per manifest")
        ->capture_default_str();
    cmd->add_option("--alphas", flags->alphas, "Steering strengths, comma-separated")
        ->capture_default_str();
    cmd->add_option("--ks", flags->ks, "Safe-space ranks k, comma-separated")
        ->capture_default_str();
    cmd->add_option("--lambdas", flags->lambdas, "Ablation strengths λ, comma-separated")
        ->capture_default_str();
    cmd->add_option("--out", flags->out,
                    "Sweep folder: activations.safetensors, steer-k*-l*.safetensors, runs/, "
                    "report/")
        ->required();
    cmd->callback([flags] { run_sweep(*flags); });
}

}  // namespace sarsteer::cli
