// sarsteer eval: answer every item of spoken (or text) benchmarks with a defense, resumably,
// and judge the answers.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/defense_flags.h"
#include "cli/eval_setup.h"
#include "cli/model_flags.h"

namespace sarsteer::cli {
namespace {

struct EvalCommandFlags {
    ModelFlags model;
    DefenseFlags defense;
    EvalFlags eval;
    std::string out;
    std::string name;
    bool json = false;
};

void run_eval_command(const EvalCommandFlags& flags) {
    const auto datasets = load_eval_datasets(flags.eval);
    const auto model = load_model(flags.model);
    const auto defense = make_defense(flags.defense, *model, {});
    const auto metrics = run_evaluation(*model, flags.model, datasets, flags.eval, defense,
                                        {.out = flags.out, .name = flags.name, .quiet = false});
    if (flags.json) {
        std::cout << (metrics.is_null() ? nlohmann::json{{"run_dir", flags.out}} : metrics).dump()
                  << '\n';
        return;
    }
    std::cout << "results in " << flags.out << "/responses.jsonl\n";
    if (!metrics.is_null()) {
        std::cout << "judge " << flags.eval.judge << ":\n" << format_run_table(metrics);
    }
}

}  // namespace

void add_eval_command(CLI::App& app) {
    auto flags = std::make_shared<EvalCommandFlags>();
    auto* cmd = app.add_subcommand(
        "eval", "Answer benchmark items with a defense (resumable) and judge the answers");
    add_model_flags(*cmd, flags->model);
    add_defense_flags(*cmd, flags->defense);
    add_eval_flags(*cmd, flags->eval);
    cmd->add_option("--out", flags->out,
                    "Run folder: config.json, responses.jsonl (appended per item; a re-run "
                    "resumes), judgments/, metrics/")
        ->required();
    cmd->add_option("--name", flags->name, "Name of the run in tables and reports");
    cmd->add_flag("--json", flags->json, "Print the run's metrics as one JSON object");
    cmd->callback([flags] { run_eval_command(*flags); });
}

}  // namespace sarsteer::cli
