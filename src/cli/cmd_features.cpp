// sarsteer features: audio file -> Whisper log-mel features as Qwen2-Audio's processor sees them.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "io/safetensors.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"

namespace sarsteer::cli {
namespace {

struct FeaturesOptions {
    std::string audio;
    std::string out;
    int mel_bins = 128;
    double max_seconds = kWhisperChunkSeconds;
    bool json = false;
};

void run_features(const FeaturesOptions& opt) {
    const auto audio = load_audio_16k(opt.audio, opt.max_seconds);
    if (audio.truncated) {
        warn(opt.audio + ": " + std::to_string(audio.source_seconds) + " s long; only the first " +
             std::to_string(opt.max_seconds) + " s are used (Qwen2-Audio keeps at most 30 s)");
    }
    const auto features = whisper_log_mel(audio.samples, opt.mel_bins);

    io::SafetensorsWriter writer;
    writer.add_f32("input_features", {features.n_mels, features.n_frames}, features.data);
    writer.add_i64("feature_attention_mask", {features.n_frames}, features.attention_mask);
    writer.set_metadata("source", opt.audio);
    writer.set_metadata("source_sample_rate", std::to_string(audio.source_sample_rate));
    writer.set_metadata("source_channels", std::to_string(audio.source_channels));
    writer.set_metadata("truncated", audio.truncated ? "true" : "false");
    writer.write(opt.out);

    const auto valid = features.valid_frames();
    if (opt.json) {
        nlohmann::json summary = {
            {"out", opt.out},
            {"n_mels", features.n_mels},
            {"n_frames", features.n_frames},
            {"valid_frames", valid},
            {"seconds", audio.seconds()},
            {"source_seconds", audio.source_seconds},
            {"source_sample_rate", audio.source_sample_rate},
            {"source_channels", audio.source_channels},
            {"truncated", audio.truncated},
        };
        std::cout << summary.dump() << '\n';
    } else {
        std::cout << "wrote " << opt.out << ": input_features [" << features.n_mels << ", "
                  << features.n_frames << "], " << valid << " valid frames (" << audio.seconds()
                  << " s of audio)\n";
    }
}

}  // namespace

void add_features_command(CLI::App& app) {
    auto opt = std::make_shared<FeaturesOptions>();
    auto* cmd = app.add_subcommand(
        "features", "Compute Qwen2-Audio's Whisper log-mel input features for an audio file");
    cmd->add_option("--audio", opt->audio, "Audio file (WAV, FLAC, OGG, MP3; any rate/channels)")
        ->required();
    cmd->add_option("--out", opt->out,
                    "Output .safetensors: input_features [n_mels, 3000] F32, "
                    "feature_attention_mask [3000] I64")
        ->required();
    cmd->add_option("--mel-bins", opt->mel_bins,
                    "Mel bins: 128 (Qwen2-Audio) or 80 (Whisper v1/v2)")
        ->check(CLI::IsMember({80, 128}))
        ->capture_default_str();
    cmd->add_option("--max-seconds", opt->max_seconds, "Keep at most this many seconds of audio")
        ->check(CLI::Range(0.01, 30.0))
        ->capture_default_str();
    cmd->add_flag("--json", opt->json, "Print a JSON summary instead of a sentence");
    cmd->callback([opt] { run_features(*opt); });
}

}  // namespace sarsteer::cli
