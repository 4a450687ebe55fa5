#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "sarsteer/error.h"
#include "sarsteer/version.h"

namespace sarsteer::cli {

void warn(std::string_view message) {
    std::cerr << "sarsteer: warning: " << message << '\n';
}

int run(int argc, char** argv) {
    CLI::App app{
        "sarsteer — Safe-Ablated Refusal Steering for audio-language models (Qwen2-Audio).\n"
        "Run `sarsteer <command> --help` for the options of each command."};
    app.set_version_flag("--version", std::string("sarsteer ") + kVersion);
    app.require_subcommand(1);
    app.fallthrough();

    add_demo_command(app);
    add_eval_command(app);
    add_features_command(app);
    add_forward_command(app);
    add_generate_command(app);
    add_info_command(app);
    add_judge_command(app);
    add_make_tiny_command(app);
    add_report_command(app);
    add_serve_command(app);
    add_organism_command(app);
    add_steer_command(app);
    add_sweep_command(app);
    add_synth_command(app);
    add_tokenize_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version arrive here too, with exit code 0.
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitUsage;
    } catch (const Error& e) {
        std::cerr << "sarsteer: error: " << e.what() << '\n';
        return e.kind() == ErrorKind::kInvalidArgument ? kExitUsage : kExitFailure;
    } catch (const std::exception& e) {
        // LibTorch errors carry a multi-line backtrace; the first line says what went wrong.
        const std::string what = e.what();
        std::cerr << "sarsteer: internal error: " << what.substr(0, what.find('\n')) << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

}  // namespace sarsteer::cli
