#include "cli/eval_setup.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/progress.h"
#include "io/timestamp.h"
#include "model/model.h"
#include "sarsteer/error.h"
#include "sarsteer/version.h"
#include "steer/steer_hook.h"
#include "steer/steering_file.h"

namespace sarsteer::cli {
namespace {

namespace fs = std::filesystem;

nlohmann::json fingerprint_json(const model::Model& model) {
    const auto fp = steer::ModelFingerprint::of(model.config());
    return {{"model_type", fp.model_type},
            {"n_layer", fp.n_layer},
            {"hidden_size", fp.hidden_size},
            {"config_sha256", fp.config_sha256}};
}

std::string percent(const nlohmann::json& rate) {
    if (rate.is_null()) return "n/a";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%5.1f%% [%.1f-%.1f]", 100 * rate.at("value").get<double>(),
                  100 * rate.at("lo").get<double>(), 100 * rate.at("hi").get<double>());
    return buf;
}

}  // namespace

void add_eval_flags(CLI::App& cmd, EvalFlags& flags) {
    cmd.add_option("--data", flags.data,
                   "Manifest(s) to evaluate (JSONL with id, question, label, scenario and, for "
                   "audio, an audio path; `sarsteer synth` makes them). Repeatable")
        ->required();
    cmd.add_option("--instruction", flags.instruction, "Instruction after each clip (audio)")
        ->capture_default_str();
    cmd.add_option("--modality", flags.modality,
                   "audio: the spoken question + instruction; text: the question typed as the "
                   "user turn (the text baseline)")
        ->check(CLI::IsMember({"audio", "text"}))
        ->capture_default_str();
    cmd.add_option("--batch", flags.batch, "Items generated together")
        ->check(CLI::Range(int64_t{1}, int64_t{256}))
        ->capture_default_str();
    cmd.add_option("-n", flags.n, "Use the first N items of each manifest");
    cmd.add_option("--max-new-tokens", flags.max_new_tokens,
                   "Most tokens per answer (default: generation_config.json, else 512)")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    cmd.add_option("--temperature", flags.temperature,
                   "Sampling temperature; 0 is greedy (default: generation_config.json)")
        ->check(CLI::Range(0.0, 100.0));
    cmd.add_option("--top-p", flags.top_p, "Nucleus mass (default: generation_config.json)")
        ->check(CLI::Range(1e-9, 1.0));
    cmd.add_option("--seed", flags.seed, "Run seed; each item's seed derives from it and its id")
        ->capture_default_str();
    cmd.add_option("--judge", flags.judge,
                   "keyword, keyword-ci, model:<checkpoint folder>, or none (judge later with "
                   "`sarsteer judge`)")
        ->capture_default_str();
}

std::vector<eval::EvalDataset> load_eval_datasets(const EvalFlags& flags) {
    const io::ManifestOptions options{.require_audio = flags.modality == "audio", .limit = flags.n};
    std::vector<eval::EvalDataset> datasets;
    for (const auto& path : flags.data) {
        auto name = eval::dataset_name(path);
        for (const auto& d : datasets) {
            if (d.name == name) {
                throw Error(
                    ErrorKind::kInvalidArgument, path,
                    "has the same dataset name \"" + name + "\" as " + d.manifest.path.string(),
                    "results are filed by dataset name; rename one manifest");
            }
        }
        datasets.push_back({std::move(name), io::Manifest::load(path, options)});
    }
    return datasets;
}

nlohmann::json run_evaluation(const model::Model& model, const ModelFlags& model_flags,
                              const std::vector<eval::EvalDataset>& datasets,
                              const EvalFlags& flags, const ActiveDefense& defense,
                              const EvalRun& run) {
    // The judge is built first so that a bad --judge fails before any generation.
    std::unique_ptr<eval::Judge> judge;
    if (flags.judge != "none") {
        judge = eval::make_judge(
            flags.judge,
            {.device = model_flags.device, .dtype = model_flags.dtype, .batch = flags.batch});
    }
    const auto& defaults = model.generation_config();
    eval::EvalOptions options;
    options.modality = flags.modality == "text" ? eval::Modality::kText : eval::Modality::kAudio;
    options.instruction = flags.instruction;
    options.instruction_suffix = defense.instruction_suffix;
    options.system = defense.system;
    options.hook = defense.hook.get();
    options.batch = flags.batch;
    options.max_new_tokens = flags.max_new_tokens.value_or(defaults.max_new_tokens.value_or(512));
    options.sampling = model::SamplingParams::from(defaults);
    if (flags.temperature) options.sampling.temperature = *flags.temperature;
    if (flags.top_p) options.sampling.top_p = *flags.top_p;
    options.sampling.seed = flags.seed;

    auto defense_identity = defense.description;
    defense_identity.erase("steer_file");  // the file's hash identifies it, not where it lies
    auto dataset_identity = nlohmann::json::array();
    auto dataset_files = nlohmann::json::array();
    for (const auto& d : datasets) {
        dataset_identity.push_back({{"name", d.name}, {"sha256", d.manifest.sha256}});
        dataset_files.push_back({{"name", d.name},
                                 {"path", fs::absolute(d.manifest.path).string()},
                                 {"items", d.manifest.items.size()}});
    }
    const auto& s = options.sampling;
    nlohmann::json config = {
        {"identity",
         {{"model", fingerprint_json(model)},
          {"dtype", model_flags.dtype},
          {"defense", defense_identity},
          {"modality", flags.modality},
          {"instruction", options.modality == eval::Modality::kAudio ? flags.instruction : ""},
          {"generation",
           {{"max_new_tokens", options.max_new_tokens},
            {"temperature", s.temperature},
            {"top_k", s.top_k},
            {"top_p", s.top_p},
            {"repetition_penalty", s.repetition_penalty},
            {"seed", s.seed}}},
          {"datasets", dataset_identity}}},
        {"name", run.name.empty() ? run.out.filename().string() : run.name},
        {"tool_version", kVersion},
        {"created", io::utc_timestamp()},
        {"model_path", fs::absolute(model.path()).string()},
        {"model_name", model.path().filename().string()},
        {"device", model_flags.device},
        {"datasets", dataset_files},
    };
    if (defense.description.contains("steer_file")) {
        config["steer_file"] =
            fs::absolute(defense.description.at("steer_file").get<std::string>());
    }
    std::error_code ec;
    fs::create_directories(run.out, ec);
    if (ec) throw Error(ErrorKind::kIo, run.out.string(), "cannot create folder: " + ec.message());
    eval::write_or_check_run_config(run.out, config);

    std::optional<Progress> progress;
    options.progress = [&](std::size_t done, std::size_t total, std::size_t skipped) {
        if (run.quiet) return;
        if (!progress) {
            progress.emplace("eval " + config.at("name").get<std::string>(), total);
            if (skipped > 0) {
                std::cerr << "resuming: " << skipped << " of " << total
                          << " items already answered in " << run.out.string() << "\n";
            }
        }
        progress->update(done, done == skipped);
    };
    eval::run_eval(model, datasets, run.out, options);
    if (progress) progress->finish();
    if (!judge) return nullptr;
    return eval::judge_run(run.out, *judge);
}

std::string format_run_table(const nlohmann::json& run) {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "%-32s %-8s %5s  %-26s %-26s %s\n", "dataset", "label", "n",
                  "refused", "answered", "unparsable");
    out += line;
    for (const auto& d : run.at("datasets")) {
        const auto name = d.at("dataset").get<std::string>();
        std::snprintf(line, sizeof line, "%-32s %-8s %5lld  %-26s %-26s %lld\n", name.c_str(),
                      d.at("label").get<std::string>().c_str(),
                      static_cast<long long>(d.at("n").get<int64_t>()),
                      percent(d.at("refusal_rate")).c_str(), percent(d.at("answer_rate")).c_str(),
                      static_cast<long long>(d.at("unparsable").get<int64_t>()));
        out += line;
    }
    return out;
}

}  // namespace sarsteer::cli
