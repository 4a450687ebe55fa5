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
    bool text_only = false;
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
    cmd->add_flag("--text-only", flags->text_only,
                  "A plain qwen2 (Qwen2ForCausalLM) checkpoint instead of qwen2_audio");
    cmd->callback([flags] {
        const auto config = model::make_tiny(
            flags->out,
            {.seed = flags->seed,
             .dtype = flags->dtype == "bf16" ? model::TinyDType::kBF16 : model::TinyDType::kF32,
             .text_only = flags->text_only});
        std::cout << "wrote " << flags->out << ": " << model::model_type_name(config.model_type)
                  << ", " << config.text.num_hidden_layers << " decoder layers, hidden "
                  << config.text.hidden_size;
        if (config.audio) std::cout << ", " << config.audio->encoder_layers << " encoder layers";
        std::cout << '\n';
    });
}

}  // namespace sarsteer::cli
