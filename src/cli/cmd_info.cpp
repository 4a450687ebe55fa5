// sarsteer info: what a checkpoint folder holds, validated (config, weights, tokenizer).
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "sarsteer/tokenizer.h"

namespace sarsteer::cli {
namespace {

struct InfoOptions {
    std::string model;
    bool json = false;
};

void run_info(const InfoOptions& opt) {
    const auto config = model::ModelConfig::load(opt.model);
    const auto checkpoint = io::Checkpoint::open(opt.model);
    std::map<std::string, int64_t> params_by_dtype;
    int64_t n_params = 0;
    std::size_t n_bytes = 0;
    for (const auto& shard : checkpoint.shards()) {
        for (const auto& t : shard.tensors()) {
            params_by_dtype[std::string(io::dtype_name(t.dtype))] += t.numel();
            n_params += t.numel();
            n_bytes += t.bytes.size();
        }
    }
    std::optional<Tokenizer> tokenizer;
    if (std::filesystem::exists(std::filesystem::path(opt.model) / "vocab.json") ||
        std::filesystem::exists(std::filesystem::path(opt.model) / "tokenizer.json")) {
        tokenizer = Tokenizer::load(opt.model);
    }

    const auto& t = config.text;
    nlohmann::json out = {
        {"model", opt.model},
        {"model_type", model::model_type_name(config.model_type)},
        {"num_hidden_layers", t.num_hidden_layers},
        {"hidden_size", t.hidden_size},
        {"num_attention_heads", t.num_attention_heads},
        {"num_key_value_heads", t.num_key_value_heads},
        {"vocab_size", t.vocab_size},
        {"shards", checkpoint.shards().size()},
        {"tensors", checkpoint.size()},
        {"parameters", n_params},
        {"bytes", n_bytes},
        {"parameters_by_dtype", params_by_dtype},
    };
    if (config.audio) {
        out["audio_encoder_layers"] = config.audio->encoder_layers;
        out["audio_d_model"] = config.audio->d_model;
        out["num_mel_bins"] = config.audio->num_mel_bins;
    }
    if (tokenizer) out["tokenizer_ids"] = tokenizer->n_vocab();
    if (opt.json) {
        std::cout << out.dump() << '\n';
        return;
    }
    std::cout << opt.model << ": " << model::model_type_name(config.model_type) << ", "
              << t.num_hidden_layers << " decoder layers, hidden " << t.hidden_size << ", "
              << t.num_attention_heads << " heads (" << t.num_key_value_heads << " kv), vocab "
              << t.vocab_size << '\n';
    if (config.audio) {
        std::cout << "audio encoder: " << config.audio->encoder_layers << " layers, d_model "
                  << config.audio->d_model << ", " << config.audio->num_mel_bins << " mel bins\n";
    }
    std::cout << "weights: " << checkpoint.size() << " tensors in " << checkpoint.shards().size()
              << " file(s), " << n_params << " parameters";
    for (const auto& [dtype, count] : params_by_dtype) std::cout << ", " << dtype << " " << count;
    std::cout << '\n';
    if (tokenizer) std::cout << "tokenizer: " << tokenizer->n_vocab() << " ids\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
    auto opt = std::make_shared<InfoOptions>();
    auto* cmd = app.add_subcommand(
        "info", "Validate a checkpoint folder and summarise its config, weights and tokenizer");
    cmd->add_option("--model", opt->model, "Hugging Face checkpoint folder")->required();
    cmd->add_flag("--json", opt->json, "Print a JSON object");
    cmd->callback([opt] { run_info(*opt); });
}

}  // namespace sarsteer::cli
