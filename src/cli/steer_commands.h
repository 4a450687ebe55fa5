// Subcommands of the `sarsteer steer` group (commands.cpp creates the group).
#pragma once

namespace CLI {
class App;
}

namespace sarsteer::cli {

// `steer inspect FILE [--model DIR] [--json]`: per-layer norms and safe-space shares of a
// steering file, its metadata, and (with --model) whether it fits a checkpoint's config.
void add_steer_inspect_command(CLI::App& steer);

}  // namespace sarsteer::cli
