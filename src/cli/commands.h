// Subcommands of the `sarsteer` binary. Each cmd_<verb>.cpp adds one subcommand to the app; its
// callback does the work and throws sarsteer::Error on bad input, which main() turns into one
// line on stderr and a non-zero exit code.
#pragma once

#include <string_view>

namespace CLI {
class App;
}

namespace sarsteer::cli {

// Exit codes shared by every subcommand (documented in README.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the input or the environment was at fault
inline constexpr int kExitUsage = 2;    // the command line was at fault

void add_features_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_make_tiny_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_forward_command(CLI::App& app);
void add_steer_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_judge_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_organism_command(CLI::App& app);

// "sarsteer: warning: ..." on stderr.
void warn(std::string_view message);

// Builds the app with every subcommand and runs it; returns the process exit code.
int run(int argc, char** argv);

}  // namespace sarsteer::cli
