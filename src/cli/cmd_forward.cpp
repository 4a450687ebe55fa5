// sarsteer forward: one prefill over a prompt, dumping every intermediate the defense works on.
#include <ATen/ATen.h>

#include <c10/core/InferenceMode.h>
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/defense_flags.h"
#include "cli/model_flags.h"
#include "cli/prompt_input.h"
#include "io/safetensors.h"
#include "model/session.h"
#include "model/tensor_io.h"
#include "steer/steer_hook.h"

namespace sarsteer::cli {
namespace {

struct ForwardFlags {
    ModelFlags model;
    PromptFlags prompt;
    DefenseFlags defense;
    std::string dump;
};

// Records each layer's output of the (single) sequence.
class CaptureAll : public model::LayerHook {
public:
    void on_layer_output(int64_t, at::Tensor& hidden, const model::ForwardInfo&) override {
        states.push_back(hidden[0].to(at::kFloat).cpu().clone());
    }
    std::vector<at::Tensor> states;
};

void run_forward(const ForwardFlags& flags) {
    c10::InferenceMode guard;
    const auto model = load_model(flags.model);
    const auto defense = make_defense(flags.defense, *model, flags.prompt);
    const auto prompt = prepare_cli_prompt(*model, defense.prompt);
    CaptureAll capture;
    // Steering runs first, so the dump shows the steered states.
    std::vector<model::LayerHook*> hooks;
    if (defense.hook) hooks.push_back(defense.hook.get());
    hooks.push_back(&capture);
    const auto out = model::forward(*model, std::span(&prompt, 1), hooks);
    const auto final_hidden = out.hidden[0].to(at::kFloat).cpu();

    io::SafetensorsWriter writer;
    const std::vector<int64_t> ids(prompt.ids.begin(), prompt.ids.end());
    writer.add_i64("input_ids", {static_cast<int64_t>(ids.size())}, ids);
    if (prompt.audio.input_features.defined()) {
        const auto& features = prompt.audio.input_features;
        model::add_tensor(writer, "input_features", features.to(at::kFloat));
        auto mask = at::zeros({features.size(0), features.size(2)}, at::kLong);
        for (std::size_t c = 0; c < prompt.audio.valid_frames.size(); ++c) {
            mask[static_cast<int64_t>(c)].narrow(0, 0, prompt.audio.valid_frames[c]).fill_(1);
        }
        model::add_tensor(writer, "feature_attention_mask", mask);
        model::add_tensor(writer, "audio_embeds", prompt.audio.embeds.to(at::kFloat));
    }
    for (std::size_t il = 0; il < capture.states.size(); ++il) {
        model::add_tensor(writer, "hidden." + std::to_string(il), capture.states[il]);
    }
    model::add_tensor(writer, "final_hidden", final_hidden);
    model::add_tensor(writer, "logits", model->logits(out.hidden[0]).cpu());
    writer.set_metadata("model", model->path().string());
    writer.write(flags.dump);
    std::cout << "wrote " << flags.dump << ": " << ids.size() << " positions, "
              << capture.states.size() << " layers\n";
}

}  // namespace

void add_forward_command(CLI::App& app) {
    auto flags = std::make_shared<ForwardFlags>();
    auto* cmd =
        app.add_subcommand("forward",
                           "Run one prefill and dump input ids, features, audio embeddings, every "
                           "decoder layer's output, the final hidden states and the logits");
    add_model_flags(*cmd, flags->model);
    add_prompt_flags(*cmd, flags->prompt);
    add_defense_flags(*cmd, flags->defense);
    cmd->add_option("--dump", flags->dump, "Output .safetensors")->required();
    cmd->callback([flags] { run_forward(*flags); });
}

}  // namespace sarsteer::cli
