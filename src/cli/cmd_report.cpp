// sarsteer report: compare judged runs side by side (summary.json, Markdown, HTML with charts).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "eval/judge.h"
#include "eval/metrics.h"
#include "eval/report.h"

namespace sarsteer::cli {
namespace {

struct ReportFlags {
    std::vector<std::string> runs;
    std::string judge = "keyword";
    std::string out = "report";
    bool quiet = false;
};

void run_report(const ReportFlags& flags) {
    const std::vector<std::filesystem::path> runs(flags.runs.begin(), flags.runs.end());
    const auto summary = eval::build_summary(runs, eval::judge_name(flags.judge));
    eval::write_report(summary, flags.out);
    if (!flags.quiet) std::cout << eval::render_markdown(summary);
    std::cerr << "wrote " << flags.out << "/summary.json, report.md, report.html\n";
}

}  // namespace

void add_report_command(CLI::App& app) {
    auto flags = std::make_shared<ReportFlags>();
    auto* cmd = app.add_subcommand(
        "report", "Compare judged runs: summary.json, a Markdown table and an HTML page");
    cmd->add_option("runs", flags->runs, "Run folders from `sarsteer eval` or `sarsteer sweep`")
        ->required();
    cmd->add_option("--judge", flags->judge, "Whose verdicts to report (judgments/<judge>.jsonl)")
        ->capture_default_str();
    cmd->add_option("--out", flags->out, "Report folder")->capture_default_str();
    cmd->add_flag("-q,--quiet", flags->quiet, "Do not print the Markdown table");
    cmd->callback([flags] { run_report(*flags); });
}

}  // namespace sarsteer::cli
