// sarsteer synth: speak a JSONL dataset's questions with espeak-ng into 16 kHz WAVs + a manifest.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/synth.h"

namespace sarsteer::cli {
namespace {

struct SynthFlags {
    std::string data;
    std::string out_dir;
    std::string voice = "en-us";
    std::string rate = "150";
    uint64_t seed = 0;
    std::optional<std::size_t> n;
    bool json = false;
};

void run_synth(const SynthFlags& flags) {
    eval::SynthOptions options;
    options.voices = eval::parse_voice_list(flags.voice, "--voice");
    std::tie(options.rate_min, options.rate_max) = eval::parse_rate_range(flags.rate, "--rate");
    options.seed = flags.seed;
    options.limit = flags.n;
    std::optional<Progress> progress;
    options.on_progress = [&](std::size_t done, std::size_t total, bool cached) {
        if (!progress) progress.emplace("synth", total);
        progress->update(done, cached);
    };
    const auto summary = eval::synthesize_manifest(flags.data, flags.out_dir, options);
    if (progress) progress->finish();

    if (flags.json) {
        const nlohmann::json out = {{"manifest", summary.manifest.string()},
                                    {"items", summary.n_items},
                                    {"rendered", summary.n_rendered},
                                    {"cached", summary.n_cached},
                                    {"audio_seconds", summary.audio_seconds}};
        std::cout << out.dump() << '\n';
        return;
    }
    std::cout << "wrote " << summary.manifest.string() << ": " << summary.n_items << " items, "
              << summary.n_rendered << " rendered (" << static_cast<int>(summary.audio_seconds)
              << " s of audio), " << summary.n_cached << " already rendered\n";
}

}  // namespace

void add_synth_command(CLI::App& app) {
    auto flags = std::make_shared<SynthFlags>();
    auto* cmd = app.add_subcommand(
        "synth", "Speak a dataset's questions with espeak-ng: 16 kHz WAVs + manifest.jsonl");
    cmd->add_option("--data", flags->data, "Input JSONL (rows need id and question)")->required();
    cmd->add_option("--out-dir", flags->out_dir,
                    "Output folder: audio/<id>.wav and manifest.jsonl (created if needed)")
        ->required();
    cmd->add_option("--voice", flags->voice,
                    "espeak-ng voice or comma list, e.g. en-us,en-gb,en+m3,en+f2; each item's "
                    "pick is a hash of (seed, id)")
        ->capture_default_str();
    cmd->add_option("--rate", flags->rate, "Words per minute, N or MIN-MAX (80-450)")
        ->capture_default_str();
    cmd->add_option("--seed", flags->seed, "Seed of the per-item voice and rate choice")
        ->capture_default_str();
    cmd->add_option("-n", flags->n, "Only the first N rows")->check(CLI::PositiveNumber);
    cmd->add_flag("--json", flags->json,
                  "Print one JSON object: manifest, items, rendered, cached, audio_seconds");
    cmd->callback([flags] { run_synth(*flags); });
}

}  // namespace sarsteer::cli
