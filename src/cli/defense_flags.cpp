#include "cli/defense_flags.h"

#include <CLI/CLI.hpp>

#include "io/sha256.h"
#include "model/model.h"
#include "sarsteer/defaults.h"
#include "sarsteer/error.h"
#include "steer/steer_hook.h"
#include "steer/steering_file.h"

namespace sarsteer::cli {

void add_defense_flags(CLI::App& cmd, DefenseFlags& flags) {
    cmd.add_option("--defense", flags.defense,
                   "none, sarsteer, refusal-steer (λ = 0: the file's v_raw), llm-steer (a file "
                   "from `steer extract --mode llm`), or prompt:<0..3|system> (a refusal prompt "
                   "appended to the instruction, or a safety system prompt). Default: sarsteer "
                   "with --steer, else none");
    cmd.add_option("--steer", flags.steer_file, "Steering file from `sarsteer steer extract`");
    cmd.add_option("--alpha", flags.alpha, "Steering strength α (default: the file's)");
    cmd.add_option("--layers", flags.layers, "Layers to steer, e.g. 0-27 or 4,8-12 (default: all)");
    cmd.add_option("--beta", flags.beta, "Per-layer weights β: one value or one per layer");
}

ActiveDefense make_defense(const DefenseFlags& flags, const model::Model& model,
                           const PromptFlags& prompt) {
    ActiveDefense active;
    active.prompt = prompt;
    std::string name = flags.defense;
    if (name.empty()) name = flags.steer_file.empty() ? "none" : "sarsteer";
    active.name = name;
    active.description = {{"name", name}};
    const bool steering = name == "sarsteer" || name == "refusal-steer" || name == "llm-steer";
    if (!steering && (!flags.steer_file.empty() || flags.alpha || !flags.layers.empty() ||
                      !flags.beta.empty())) {
        throw Error(ErrorKind::kInvalidArgument, "--defense " + name,
                    "--steer, --alpha, --layers and --beta only apply to steering defenses");
    }
    if (name == "none") return active;
    if (name.rfind("prompt:", 0) == 0) {
        const auto variant = name.substr(7);
        if (variant == "system") {
            active.system = std::string(defaults::kSafetySystemPrompt);
            active.prompt.system = active.system;
            active.description["system"] = *active.system;
        } else if (variant.size() == 1 && variant[0] >= '0' && variant[0] <= '3') {
            active.instruction_suffix = defaults::kRefusalVariants[variant[0] - '0'];
            active.prompt.prompt += active.instruction_suffix;
            active.description["instruction_suffix"] = active.instruction_suffix;
        } else {
            throw Error(ErrorKind::kInvalidArgument, "--defense",
                        "unknown prompt defense \"" + name + "\"",
                        "use prompt:0..3 or prompt:system");
        }
        return active;
    }
    if (!steering) {
        throw Error(ErrorKind::kInvalidArgument, "--defense", "unknown defense \"" + name + "\"",
                    "use none, sarsteer, refusal-steer, llm-steer or prompt:<0..3|system>");
    }
    if (flags.steer_file.empty()) {
        throw Error(ErrorKind::kInvalidArgument, "--defense " + name, "needs --steer FILE");
    }
    const auto vectors = steer::SteeringVectors::load(flags.steer_file);
    vectors.check_matches(steer::ModelFingerprint::of(model.config()), flags.steer_file);
    const bool llm_file = vectors.metadata.mode == "llm";
    if ((name == "llm-steer") != llm_file) {
        throw Error(ErrorKind::kInvalidArgument, flags.steer_file,
                    "was extracted in " + vectors.metadata.mode +
                        " mode, which does not fit --defense " + name,
                    name == "llm-steer" ? "make one with `sarsteer steer extract --mode llm`"
                                        : "use --defense llm-steer with this file");
    }
    steer::SteerParams params;
    params.alpha = flags.alpha.value_or(vectors.metadata.alpha);
    params.use_raw = name == "refusal-steer";
    if (!flags.layers.empty())
        params.layers = steer::parse_layer_list(flags.layers, model.n_layer());
    if (!flags.beta.empty()) params.beta = steer::parse_beta_list(flags.beta, model.n_layer());
    active.description.update({{"steer_file", flags.steer_file},
                               {"steer_file_sha256", io::sha256_file_hex(flags.steer_file)},
                               {"mode", vectors.metadata.mode},
                               {"alpha", params.alpha},
                               {"k", vectors.metadata.k},
                               {"lambda", params.use_raw ? 0.0 : vectors.metadata.lambda},
                               {"layers", flags.layers.empty() ? "all" : flags.layers},
                               {"beta", flags.beta.empty() ? "1" : flags.beta}});
    active.hook = std::make_shared<steer::SteerHook>(
        steer::SteerHook::from_file(vectors, params, model.options()));
    return active;
}

}  // namespace sarsteer::cli
