#include "eval/runner.h"

#include <chrono>

#include "eval/metrics.h"
#include "io/atomic_file.h"
#include "model/model.h"
#include "model/session.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"

namespace sarsteer::eval {
namespace {

namespace fs = std::filesystem;

struct PendingItem {
    const EvalDataset* dataset;
    const io::ManifestItem* item;
};

uint64_t fnv1a(uint64_t hash, std::string_view bytes) {
    for (const char c : bytes) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

model::PreparedPrompt prepare_item(const model::Model& model, const io::ManifestItem& item,
                                   const EvalOptions& options) {
    std::optional<std::string_view> system;
    if (options.system) system = *options.system;
    if (options.modality == Modality::kText) {
        return model::prepare_prompt(
            model, render_audio_prompt(0, item.question + options.instruction_suffix, system));
    }
    if (!item.audio) {
        throw Error(ErrorKind::kInvalidArgument, item.id,
                    "has no audio; run `sarsteer synth` first or evaluate with --modality text");
    }
    auto audio = load_audio_16k(*item.audio);
    std::vector<std::vector<float>> clips;
    clips.push_back(std::move(audio.samples));
    const auto encoded = model::encode_clips(model, clips);
    return model::prepare_prompt(
        model, render_audio_prompt(1, options.instruction + options.instruction_suffix, system),
        encoded);
}

}  // namespace

uint64_t item_seed(uint64_t run_seed, const std::string& dataset, const std::string& id) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (int shift = 0; shift < 64; shift += 8) {
        hash = fnv1a(hash, std::string(1, static_cast<char>((run_seed >> shift) & 0xFF)));
    }
    hash = fnv1a(hash, dataset);
    hash = fnv1a(hash, std::string_view("\0", 1));
    return fnv1a(hash, id);
}

EvalOutcome run_eval(const model::Model& model, const std::vector<EvalDataset>& datasets,
                     const fs::path& run_dir, const EvalOptions& options) {
    ResponseLog log(run_dir / "responses.jsonl");
    std::vector<PendingItem> pending;
    EvalOutcome outcome;
    for (const auto& dataset : datasets) {
        for (const auto& item : dataset.manifest.items) {
            ++outcome.total;
            if (log.contains(dataset.name, item.id)) {
                ++outcome.skipped;
            } else {
                pending.push_back({&dataset, &item});
            }
        }
    }
    if (options.progress) options.progress(outcome.skipped, outcome.total, outcome.skipped);

    model::GenerateOptions generate;
    generate.max_new_tokens = options.max_new_tokens;
    if (options.hook != nullptr) generate.hooks.push_back(options.hook);
    const auto batch = static_cast<std::size_t>(std::max<int64_t>(1, options.batch));
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t begin = 0; begin < pending.size(); begin += batch) {
        const auto end = std::min(pending.size(), begin + batch);
        const auto batch_start = std::chrono::steady_clock::now();
        std::vector<model::PreparedPrompt> prompts;
        generate.sampling.clear();
        for (std::size_t i = begin; i < end; ++i) {
            prompts.push_back(prepare_item(model, *pending[i].item, options));
            auto sampling = options.sampling;
            sampling.seed =
                item_seed(options.sampling.seed, pending[i].dataset->name, pending[i].item->id);
            generate.sampling.push_back(sampling);
        }
        const auto results = model::generate(model, prompts, generate);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count();
        for (std::size_t i = begin; i < end; ++i) {
            const auto& item = *pending[i].item;
            const auto& result = results[i - begin];
            ResponseRecord record;
            record.dataset = pending[i].dataset->name;
            record.id = item.id;
            record.label = item.label;
            record.scenario = item.fields.value("scenario", std::string{});
            record.question = item.question;
            record.modality = options.modality == Modality::kText ? "text" : "audio";
            record.response = result.text;
            record.finish_reason = std::string(model::finish_reason_name(result.finish));
            record.prompt_tokens = result.prompt_tokens;
            record.completion_tokens = static_cast<int64_t>(result.tokens.size());
            record.seconds = seconds;
            log.append(record);
        }
        outcome.generated += end - begin;
        if (options.progress) {
            options.progress(outcome.skipped + outcome.generated, outcome.total, outcome.skipped);
        }
    }
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return outcome;
}

nlohmann::json judge_run(const fs::path& run_dir, const Judge& judge,
                         const std::function<void(std::size_t, std::size_t)>& progress) {
    const auto responses = read_responses(run_dir / "responses.jsonl");
    if (responses.empty()) {
        throw Error(ErrorKind::kInvalidArgument, (run_dir / "responses.jsonl").string(),
                    "has no responses to judge");
    }
    std::vector<JudgeInput> inputs;
    inputs.reserve(responses.size());
    for (const auto& r : responses) inputs.push_back({r.question, r.response});
    const auto verdicts = judge.judge(inputs, progress);
    std::vector<StoredJudgment> stored;
    stored.reserve(responses.size());
    for (std::size_t i = 0; i < responses.size(); ++i) {
        stored.push_back({responses[i].dataset, responses[i].id, verdicts[i]});
    }
    write_judgments(run_dir, judge.name(), judge.describe(), stored);
    auto metrics = summarize_run(run_dir, judge.name());
    std::error_code ec;
    fs::create_directories(run_dir / "metrics", ec);
    if (ec) {
        throw Error(ErrorKind::kIo, (run_dir / "metrics").string(),
                    "cannot create folder: " + ec.message());
    }
    io::write_file_atomic(run_dir / "metrics" / (judge.name() + ".json"), metrics.dump(2) + "\n");
    return metrics;
}

}  // namespace sarsteer::eval
