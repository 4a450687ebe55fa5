#include "cli/model_flags.h"

#include <CLI/CLI.hpp>

#include "model/model.h"

namespace sarsteer::cli {

void add_model_flags(CLI::App& cmd, ModelFlags& flags) {
    cmd.add_option("--model", flags.model, "Hugging Face checkpoint folder (Qwen2-Audio or Qwen2)")
        ->required();
    cmd.add_option("--device", flags.device, "cpu, cuda or cuda:N (CUDA needs a CUDA LibTorch)")
        ->capture_default_str();
    cmd.add_option("--dtype", flags.dtype, "Compute dtype: f32, bf16 or f16")
        ->check(CLI::IsMember({"f32", "bf16", "f16"}))
        ->capture_default_str();
    cmd.add_option("--threads", flags.threads, "CPU threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
}

std::shared_ptr<const model::Model> load_model(const ModelFlags& flags) {
    model::configure_cpu_threads(flags.threads);
    return model::Model::load({flags.model, flags.device, flags.dtype});
}

void add_prompt_flags(CLI::App& cmd, PromptFlags& flags) {
    cmd.add_option("--audio", flags.audio, "Audio clip (repeat for several); WAV/FLAC/OGG/MP3");
    cmd.add_option("--prompt", flags.prompt, "Instruction text, placed after the audio clips")
        ->required();
    cmd.add_option("--system", flags.system,
                   "System prompt (default: Qwen2-Audio's \"You are a helpful assistant.\")");
}

}  // namespace sarsteer::cli
