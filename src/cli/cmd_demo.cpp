// sarsteer demo: the embedded default job, runnable on a fresh machine with no model download.
// Until the model runtime lands it exercises everything before the network: a tokenizer written
// in Qwen2-Audio's file layout, audio decoding/resampling, Whisper features and the chat prompt
// with the audio placeholders expanded.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/defaults.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"
#include "text/tiny_tokenizer.h"

namespace sarsteer::cli {
namespace {

// Where the bundled data lives: $SARSTEER_DATA_DIR, else the source tree's data/ folder.
std::filesystem::path data_dir() {
    if (const char* env = std::getenv("SARSTEER_DATA_DIR"); env != nullptr && *env != '\0')
        return env;
    return SARSTEER_DATA_DIR;
}

struct DemoOptions {
    std::string out = "sarsteer-demo";
    std::string audio;
    std::string instruction{defaults::kInstruction};
    bool json = false;
};

void step(bool quiet, int index, std::string_view what) {
    if (!quiet) std::cout << "[" << index << "/4] " << what << std::endl;
}

void run_demo(const DemoOptions& opt) {
    const std::filesystem::path out = opt.out;
    const std::filesystem::path audio_path =
        opt.audio.empty() ? data_dir() / "demo" / "question.wav" : std::filesystem::path(opt.audio);
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) throw Error(ErrorKind::kIo, out.string(), "cannot create folder: " + ec.message());

    step(opt.json, 1, "writing a tiny byte-level BPE tokenizer in Qwen2-Audio's layout");
    const auto tokenizer_dir = out / "tokenizer";
    text::write_tiny_tokenizer(tokenizer_dir, text::default_tiny_corpus());
    const auto tokenizer = Tokenizer::load(tokenizer_dir);

    step(opt.json, 2, "decoding and resampling " + audio_path.string());
    const auto audio = load_audio_16k(audio_path);
    if (audio.truncated) warn(audio_path.string() + ": longer than 30 s; truncated");

    step(opt.json, 3, "computing Whisper log-mel features");
    const auto features = whisper_log_mel(audio.samples);
    io::SafetensorsWriter writer;
    writer.add_f32("input_features", {1, features.n_mels, features.n_frames}, features.data);
    writer.add_i64("feature_attention_mask", {1, features.n_frames}, features.attention_mask);
    writer.write(out / "features.safetensors");

    step(opt.json, 4, "building the chat prompt");
    const auto prompt = render_audio_prompt(1, opt.instruction);
    const std::vector<int64_t> frames = {features.valid_frames()};
    const auto tokens = tokenize_prompt(tokenizer, prompt, frames);
    const nlohmann::json prompt_json = {
        {"prompt", prompt},
        {"ids", tokens.ids},
        {"audio_spans", {{tokens.audio_spans[0].begin, tokens.audio_spans[0].end}}},
    };
    io::write_file_atomic(out / "prompt.json", prompt_json.dump(2) + "\n");

    const auto n_audio = tokens.audio_spans[0].end - tokens.audio_spans[0].begin;
    const nlohmann::json summary = {
        {"audio", audio_path.string()},
        {"source_sample_rate", audio.source_sample_rate},
        {"seconds", audio.seconds()},
        {"valid_frames", features.valid_frames()},
        {"audio_tokens", n_audio},
        {"prompt_tokens", tokens.ids.size()},
        {"tokenizer_ids", tokenizer.n_vocab()},
        {"out", out.string()},
    };
    if (opt.json) {
        std::cout << summary.dump() << '\n';
        return;
    }
    std::cout << "\naudio      " << audio_path.filename().string() << ": " << audio.seconds()
              << " s (from " << audio.source_sample_rate << " Hz), " << features.valid_frames()
              << " valid mel frames of 3000\n"
              << "prompt     " << tokens.ids.size() << " tokens, of which " << n_audio
              << " <|AUDIO|> placeholders for the encoder's output\n"
              << "outputs    " << (out / "features.safetensors").string() << ", "
              << (out / "prompt.json").string() << ", " << tokenizer_dir.string() << "/\n"
              << "\nThis checks the front-end pipeline only: the tokenizer is a tiny one learned"
                 " here, not Qwen2's.\n";
}

}  // namespace

void add_demo_command(CLI::App& app) {
    auto opt = std::make_shared<DemoOptions>();
    auto* cmd = app.add_subcommand("demo", "Run the embedded default job on bundled data");
    cmd->add_option("--out", opt->out, "Output folder")->capture_default_str();
    cmd->add_option("--audio", opt->audio, "Audio file to use instead of the bundled question");
    cmd->add_option("--instruction", opt->instruction, "Instruction text after the audio")
        ->capture_default_str();
    cmd->add_flag("--json", opt->json, "Print only a JSON summary");
    cmd->callback([opt] { run_demo(*opt); });
}

}  // namespace sarsteer::cli
