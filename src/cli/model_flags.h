// Flags shared by every command that loads a model, defined once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sarsteer::model {
class Model;
}

namespace sarsteer::cli {

struct ModelFlags {
    std::string model;
    std::string device = "cpu";
    std::string dtype = "f32";
    int threads = 0;  // 0: LibTorch's default
};

void add_model_flags(CLI::App& cmd, ModelFlags& flags);
// Applies --threads and loads the checkpoint.
std::shared_ptr<const model::Model> load_model(const ModelFlags& flags);

// Flags describing one chat prompt: audio clips, the instruction text, an optional system turn.
struct PromptFlags {
    std::vector<std::string> audio;
    std::string prompt;
    std::optional<std::string> system;
};

void add_prompt_flags(CLI::App& cmd, PromptFlags& flags);

}  // namespace sarsteer::cli
