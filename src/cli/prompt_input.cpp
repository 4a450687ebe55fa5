#include "cli/prompt_input.h"

#include "cli/commands.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"

namespace sarsteer::cli {

model::PreparedPrompt prepare_cli_prompt(const model::Model& model, const PromptFlags& flags) {
    std::vector<std::vector<float>> clips;
    for (const auto& path : flags.audio) {
        auto audio = load_audio_16k(path);
        if (audio.truncated) {
            warn(path + ": " + std::to_string(audio.source_seconds) +
                 " s long; only the first 30 s are used (Qwen2-Audio keeps at most 30 s)");
        }
        clips.push_back(std::move(audio.samples));
    }
    std::optional<std::string_view> system;
    if (flags.system) system = *flags.system;
    const auto encoded = model::encode_clips(model, clips);
    return model::prepare_prompt(model, render_audio_prompt(clips.size(), flags.prompt, system),
                                 encoded);
}

}  // namespace sarsteer::cli
