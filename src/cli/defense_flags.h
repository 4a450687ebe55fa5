// The --defense / --steer / --alpha / --layers / --beta flags shared by generate, forward and
// (later) eval and serve, and the defense they select.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/model_flags.h"

namespace CLI {
class App;
}

namespace sarsteer::steer {
class SteerHook;
}

namespace sarsteer::cli {

struct DefenseFlags {
    std::string defense;  // none | sarsteer | refusal-steer | llm-steer | prompt:<0..3|system>
    std::string steer_file;
    std::optional<double> alpha;
    std::string layers;
    std::string beta;
};

void add_defense_flags(CLI::App& cmd, DefenseFlags& flags);

struct ActiveDefense {
    std::string name = "none";
    std::shared_ptr<steer::SteerHook> hook;  // set for the steering defenses
    PromptFlags prompt;                      // the prompt with any prompt defense applied
    std::string instruction_suffix;          // what a prompt defense appends to the instruction
    std::optional<std::string> system;       // the system turn a prompt defense sets
    // What a run records about the defense: name; for steering the file (path, SHA-256), mode,
    // α, k, λ, layers and β; for prompt defenses the suffix or system prompt.
    nlohmann::json description;
};

// Loads and checks the steering file against the model (refusing a fingerprint mismatch) and
// builds the hook, or rewrites the prompt for a prompt defense.
ActiveDefense make_defense(const DefenseFlags& flags, const model::Model& model,
                           const PromptFlags& prompt);

}  // namespace sarsteer::cli
