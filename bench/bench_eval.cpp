// Evaluation throughput (items per minute) with batch 1 vs batch 8, through the same runner
// `sarsteer eval` uses (audio decoded, features, encoder, batched generation, results appended),
// on the tiny checkpoint geometry and a medium random model, in the same process. The ratio
// batch 8 / batch 1 is the number to read; absolute rates depend on the machine.
//
// Items: the bundled FigStep test slices spoken by espeak-ng (16 per run), greedy, a fixed
// number of new tokens (random weights rarely stop early, so every answer has about that length).
//
// Usage: bench_eval [--items N] [--tokens T]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "eval/runner.h"
#include "eval/synth.h"
#include "io/manifest.h"
#include "model/load.h"
#include "model/make_tiny.h"
#include "model/model.h"
#include "sarsteer/defaults.h"
#include "sarsteer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
namespace sm = sarsteer::model;
namespace se = sarsteer::eval;

struct Geometry {
    const char* name;
    bool medium;
};

std::shared_ptr<const sm::Model> make_model(const fs::path& dir, bool medium) {
    auto [config, tokenizer] = sm::write_tiny_tokenizer_and_config(dir);
    if (medium) {
        // Whisper-tiny-sized encoder, a 8-layer 512-wide decoder: ~40 M parameters.
        auto& a = *config.audio;
        a.d_model = 384;
        a.encoder_layers = 4;
        a.encoder_attention_heads = 6;
        a.encoder_ffn_dim = 1536;
        auto& t = config.text;
        t.hidden_size = 512;
        t.num_hidden_layers = 8;
        t.num_attention_heads = 8;
        t.num_key_value_heads = 2;
        t.head_dim = 64;
        t.intermediate_size = 1536;
    }
    auto weights = sm::random_weights(config, 1);
    return sm::Model::from_parts(config, std::move(weights), std::move(tokenizer));
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t items = 16;
    int64_t tokens = 32;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--items") == 0) items = std::stoul(argv[i + 1]);
        if (std::strcmp(argv[i], "--tokens") == 0) tokens = std::stoll(argv[i + 1]);
    }
    const auto scratch = fs::temp_directory_path() / "sarsteer-bench-eval";
    fs::remove_all(scratch);
    fs::create_directories(scratch);
    sm::configure_cpu_threads(0);

    // Spoken items: half harmful, half benign.
    std::vector<se::EvalDataset> datasets;
    for (const char* set : {"figstep_harmful_test_mini", "figstep_benign_test_mini"}) {
        se::SynthOptions synth;
        synth.limit = items / 2;
        const auto result = se::synthesize_manifest(
            fs::path(SARSTEER_SOURCE_DIR) / "data/datasets" / (std::string(set) + ".jsonl"),
            scratch / set, synth);
        datasets.push_back({set, sarsteer::io::Manifest::load(result.manifest)});
    }

    std::printf("%-8s %6s %8s %10s %12s\n", "model", "batch", "items", "seconds", "items/min");
    for (const Geometry g : {Geometry{"tiny", false}, Geometry{"medium", true}}) {
        const auto model = make_model(scratch / g.name, g.medium);
        double rate_1 = 0;
        for (const int64_t batch : {1, 8}) {
            const auto run_dir = scratch / (std::string(g.name) + "-b" + std::to_string(batch));
            fs::create_directories(run_dir);
            se::EvalOptions options;
            options.instruction = std::string(sarsteer::defaults::kInstruction);
            options.batch = batch;
            options.max_new_tokens = tokens;
            const auto outcome = se::run_eval(*model, datasets, run_dir, options);
            const double rate = 60.0 * static_cast<double>(outcome.generated) / outcome.seconds;
            if (batch == 1) rate_1 = rate;
            std::printf("%-8s %6lld %8zu %10.2f %12.1f", g.name, static_cast<long long>(batch),
                        outcome.generated, outcome.seconds, rate);
            if (batch != 1) std::printf("   (%.2fx batch 1)", rate / rate_1);
            std::printf("\n");
        }
    }
    fs::remove_all(scratch);
    return 0;
}
