// The --defense / --steer / --alpha / --layers / --beta flags shared by generate, forward and
// (later) eval and serve, and the defense they select.
#pragma once

#include <memory>
#include <optional>
#include <string>

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
};

// Loads and checks the steering file against the model (refusing a fingerprint mismatch) and
// builds the hook, or rewrites the prompt for a prompt defense.
ActiveDefense make_defense(const DefenseFlags& flags, const model::Model& model,
                           const PromptFlags& prompt);

}  // namespace sarsteer::cli
