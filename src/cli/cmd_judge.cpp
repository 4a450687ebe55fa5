// sarsteer judge: (re-)judge the stored responses of run folders without regenerating.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/eval_setup.h"
#include "cli/progress.h"
#include "eval/judge.h"
#include "eval/runner.h"

namespace sarsteer::cli {
namespace {

struct JudgeFlags {
    std::vector<std::string> runs;
    std::string judge = "keyword";
    std::string device = "cpu";
    std::string dtype = "f32";
    int64_t batch = 8;
    bool json = false;
};

void run_judge(const JudgeFlags& flags) {
    const auto judge = eval::make_judge(
        flags.judge, {.device = flags.device, .dtype = flags.dtype, .batch = flags.batch});
    auto all = nlohmann::json::array();
    for (const auto& run : flags.runs) {
        std::optional<Progress> progress;
        const auto metrics = eval::judge_run(run, *judge, [&](std::size_t done, std::size_t total) {
            if (!progress) progress.emplace("judge " + judge->name(), total);
            progress->update(done);
        });
        if (progress) progress->finish();
        if (flags.json) {
            all.push_back(metrics);
        } else {
            std::cout << run << " (judge " << judge->name() << "):\n" << format_run_table(metrics);
        }
    }
    if (flags.json) std::cout << all.dump() << '\n';
}

}  // namespace

void add_judge_command(CLI::App& app) {
    auto flags = std::make_shared<JudgeFlags>();
    auto* cmd = app.add_subcommand(
        "judge", "Judge the stored responses of run folders again (no regeneration)");
    cmd->add_option("--run", flags->runs, "Run folder(s) from `sarsteer eval`")->required();
    cmd->add_option("--judge", flags->judge,
                    "keyword (SARSteer's refusal phrases), keyword-ci (case-insensitive), or "
                    "model:<checkpoint folder> (SORRY-Bench-style LLM judge on our runtime)")
        ->capture_default_str();
    cmd->add_option("--device", flags->device, "Device of a model judge")->capture_default_str();
    cmd->add_option("--dtype", flags->dtype, "Compute dtype of a model judge")
        ->capture_default_str();
    cmd->add_option("--batch", flags->batch, "Responses judged together by a model judge")
        ->check(CLI::Range(int64_t{1}, int64_t{256}))
        ->capture_default_str();
    cmd->add_flag("--json", flags->json, "Print the metrics of each run as a JSON array");
    cmd->callback([flags] { run_judge(*flags); });
}

}  // namespace sarsteer::cli
