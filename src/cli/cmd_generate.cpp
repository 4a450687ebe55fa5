// sarsteer generate: answer one prompt (audio clips + instruction), streaming tokens.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/defense_flags.h"
#include "cli/model_flags.h"
#include "cli/prompt_input.h"
#include "model/session.h"
#include "steer/steer_hook.h"

namespace sarsteer::cli {
namespace {

struct GenerateFlags {
    ModelFlags model;
    PromptFlags prompt;
    DefenseFlags defense;
    std::optional<int64_t> max_new_tokens;
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<int64_t> top_k;
    std::optional<double> repetition_penalty;
    uint64_t seed = 0;
    bool json = false;
};

// Prints the decoded text as it grows, holding back an incomplete UTF-8 tail.
class StreamPrinter {
public:
    explicit StreamPrinter(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
    void add(int32_t id) {
        ids_.push_back(id);
        const auto text = tokenizer_.decode(ids_, /*skip_special=*/true);
        if (text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0) return;
        if (text.size() > printed_) {
            std::cout << text.substr(printed_) << std::flush;
            printed_ = text.size();
        }
    }

private:
    const Tokenizer& tokenizer_;
    std::vector<int32_t> ids_;
    std::size_t printed_ = 0;
};

void run_generate(const GenerateFlags& flags) {
    const auto model = load_model(flags.model);
    const auto& defaults = model->generation_config();
    model::SamplingParams sampling = model::SamplingParams::from(defaults);
    if (flags.temperature) sampling.temperature = *flags.temperature;
    if (flags.top_p) sampling.top_p = *flags.top_p;
    if (flags.top_k) sampling.top_k = *flags.top_k;
    if (flags.repetition_penalty) sampling.repetition_penalty = *flags.repetition_penalty;
    sampling.seed = flags.seed;

    const auto defense = make_defense(flags.defense, *model, flags.prompt);
    const auto prompt = prepare_cli_prompt(*model, defense.prompt);
    model::GenerateOptions options;
    options.max_new_tokens = flags.max_new_tokens.value_or(defaults.max_new_tokens.value_or(512));
    options.sampling = {sampling};
    if (defense.hook) options.hooks.push_back(defense.hook.get());
    StreamPrinter printer(model->tokenizer());
    if (!flags.json) options.on_token = [&](std::size_t, int32_t id) { printer.add(id); };

    const auto result = model::generate(*model, std::span(&prompt, 1), options)[0];
    if (!flags.json) {
        std::cout << '\n';
        return;
    }
    const auto n_out = static_cast<int64_t>(result.tokens.size());
    const nlohmann::json out = {
        {"text", result.text},
        {"token_ids", result.tokens},
        {"finish_reason", model::finish_reason_name(result.finish)},
        {"usage",
         {{"prompt_tokens", result.prompt_tokens},
          {"completion_tokens", n_out},
          {"total_tokens", result.prompt_tokens + n_out}}},
    };
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace

void add_generate_command(CLI::App& app) {
    auto flags = std::make_shared<GenerateFlags>();
    auto* cmd =
        app.add_subcommand("generate", "Generate an answer to audio clips + an instruction");
    add_model_flags(*cmd, flags->model);
    add_prompt_flags(*cmd, flags->prompt);
    add_defense_flags(*cmd, flags->defense);
    cmd->add_option("-n,--max-new-tokens", flags->max_new_tokens,
                    "Most tokens to generate (default: generation_config.json, else 512)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
    cmd->add_option("--temp,--temperature", flags->temperature,
                    "Sampling temperature; 0 is greedy (default: generation_config.json)")
        ->check(CLI::Range(0.0, 100.0));
    cmd->add_option("--top-p", flags->top_p, "Nucleus sampling mass (default: generation config)")
        ->check(CLI::Range(1e-9, 1.0));
    cmd->add_option("--top-k", flags->top_k, "Keep the k most likely tokens; 0 is off")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
    cmd->add_option("--repetition-penalty", flags->repetition_penalty,
                    "HF repetition penalty (default: generation config)")
        ->check(CLI::Range(1e-6, 100.0));
    cmd->add_option("--seed", flags->seed, "Sampling seed")->capture_default_str();
    cmd->add_flag("--json", flags->json,
                  "Print one JSON object: text, token_ids, finish_reason, usage");
    cmd->callback([flags] { run_generate(*flags); });
}

}  // namespace sarsteer::cli
