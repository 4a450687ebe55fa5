// sarsteer make-tiny: a tiny random Qwen2-Audio checkpoint in the real Hugging Face layout.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "model/make_tiny.h"

namespace sarsteer::cli {
namespace {

struct MakeTinyFlags {
    std::string out;
    uint64_t seed = 0;
    std::string dtype = "f32";
};

}  // namespace

void add_make_tiny_command(CLI::App& app) {
    auto flags = std::make_shared<MakeTinyFlags>();
    auto* cmd = app.add_subcommand(
        "make-tiny", "Write a tiny random Qwen2-Audio checkpoint (HF layout) for tests and demos");
    cmd->add_option("OUTDIR", flags->out, "Folder to write (created if needed)")->required();
    cmd->add_option("--seed", flags->seed, "Random seed of the weights")->capture_default_str();
    cmd->add_option("--dtype", flags->dtype, "Stored dtype: f32 or bf16")
        ->check(CLI::IsMember({"f32", "bf16"}))
        ->capture_default_str();
    cmd->callback([flags] {
        const auto config = model::make_tiny(
            flags->out,
            {.seed = flags->seed,
             .dtype = flags->dtype == "bf16" ? model::TinyDType::kBF16 : model::TinyDType::kF32});
        std::cout << "wrote " << flags->out << ": qwen2_audio, " << config.text.num_hidden_layers
                  << " decoder layers, hidden " << config.text.hidden_size << ", "
                  << config.audio->encoder_layers << " encoder layers\n";
    });
}

}  // namespace sarsteer::cli
