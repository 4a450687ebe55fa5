// Cost of SARSteer relative to plain runs of the same model, measured in the same process:
//   1. extraction per harmful sample (both prompts, audio encoded once, shared prefix run once)
//      as a multiple of one plain forward (encode + prefill of the base prompt); the reference's
//      recipe — two independent encode + prefill passes — is timed too (it costs ≥ 2);
//   2. decode time with the steering hook on vs off (target ≤ 1.02).
// Model: random weights, whisper-base-sized encoder (d 512, 6 layers) and Qwen2-0.5B's decoder
// geometry with a small vocabulary, built in memory (no checkpoint on disk).
//
// Usage: bench_steer [--reps N]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "model/load.h"
#include "model/make_tiny.h"
#include "model/model.h"
#include "model/session.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/defaults.h"
#include "sarsteer/tokenizer.h"
#include "steer/capture_hook.h"
#include "steer/extract.h"
#include "steer/steer_hook.h"

namespace {

namespace sm = sarsteer::model;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <typename Fn>
double median_seconds(int reps, Fn&& fn) {
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        fn();
        times.push_back(seconds_since(t0));
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

std::shared_ptr<const sm::Model> make_model(const std::filesystem::path& dir) {
    auto [config, tokenizer] = sm::write_tiny_tokenizer_and_config(dir);
    auto& a = *config.audio;
    a.d_model = 512;
    a.encoder_layers = 6;
    a.encoder_attention_heads = 8;
    a.encoder_ffn_dim = 2048;
    sm::set_qwen2_0_5b_geometry(config.text);
    auto weights = sm::random_weights(config, 1);
    return sm::Model::from_parts(config, std::move(weights), std::move(tokenizer));
}

// A 5 s two-tone clip.
std::vector<float> clip_5s() {
    std::vector<float> samples(80000);
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const double t = static_cast<double>(i) / 16000.0;
        samples[i] = static_cast<float>(0.2 * std::sin(2 * M_PI * 220 * t) +
                                        0.1 * std::sin(2 * M_PI * 555 * t));
    }
    return samples;
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 5;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
    }
    c10::InferenceMode guard;
    const auto dir = std::filesystem::temp_directory_path() / "sarsteer-bench-steer";
    std::filesystem::create_directories(dir);
    const auto model = make_model(dir);
    const std::vector<std::vector<float>> clips = {clip_5s()};
    const std::string instruction(sarsteer::defaults::kInstruction);
    const std::string refusal(sarsteer::defaults::kRefusalPrompt);
    const auto base_text = sarsteer::render_audio_prompt(1, instruction);
    const auto refusal_text = sarsteer::render_audio_prompt(1, instruction + refusal);

    auto plain_forward = [&] {
        const auto audio = sm::encode_clips(*model, clips);
        const auto prompt = sm::prepare_prompt(*model, base_text, audio);
        sarsteer::steer::CaptureLastHook capture(1, model->n_layer(), model->n_embd());
        sm::LayerHook* hooks[] = {&capture};
        sm::forward(*model, std::span(&prompt, 1), hooks);
    };
    auto ours = [&] {
        const auto audio = sm::encode_clips(*model, clips);  // once for both prompts
        const auto base = sm::prepare_prompt(*model, base_text, audio);
        const auto with_refusal = sm::prepare_prompt(*model, refusal_text, audio);
        sarsteer::steer::last_states_with_shared_prefix(*model, base, with_refusal);
    };
    auto reference_recipe = [&] {
        for (const auto* text : {&base_text, &refusal_text}) {
            const auto audio = sm::encode_clips(*model, clips);
            const auto prompt = sm::prepare_prompt(*model, *text, audio);
            sarsteer::steer::CaptureLastHook capture(1, model->n_layer(), model->n_embd());
            sm::LayerHook* hooks[] = {&capture};
            sm::forward(*model, std::span(&prompt, 1), hooks);
        }
    };
    plain_forward();  // warm-up
    const double t_plain = median_seconds(reps, plain_forward);
    const double t_ours = median_seconds(reps, ours);
    const double t_reference = median_seconds(reps, reference_recipe);

    // Decode with and without the steering hook (same prompt, greedy, fixed length).
    const auto prompt = sm::prepare_ids(*model, model->tokenizer().encode(base_text, false));
    auto direction = at::randn({model->n_layer(), model->n_embd()}) * 0.01;
    sarsteer::steer::SteerHook hook(direction.to(model->options()), {0.1});
    auto decode_once = [&](bool steered) {
        sm::GenerateOptions options;
        options.max_new_tokens = 48;
        options.stop_ids = {-1};
        if (steered) options.hooks = {&hook};
        const auto t0 = Clock::now();
        sm::generate(*model, std::span(&prompt, 1), options);
        return seconds_since(t0);
    };
    decode_once(false);  // warm-up
    // Alternate off/on so drift and other load hit both alike; report the median paired ratio.
    const int decode_pairs = 2 * reps + 1;
    std::vector<double> ratios, offs, ons;
    for (int i = 0; i < decode_pairs; ++i) {
        const bool on_first = i % 2 == 1;
        const double first = decode_once(on_first);
        const double second = decode_once(!on_first);
        const double off = on_first ? second : first, on = on_first ? first : second;
        offs.push_back(off);
        ons.push_back(on);
        ratios.push_back(on / off);
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };

    std::printf(
        "bench_steer (median of %d; decode: %d off/on pairs of 48 tokens after a %zu-token "
        "prompt)\n",
        reps, decode_pairs, prompt.ids.size());
    std::printf("%-44s %10s %10s %8s\n", "metric", "value", "baseline", "ratio");
    std::printf("%-44s %9.3fs %9.3fs %8.3f\n", "extraction per harmful sample (ours)", t_ours,
                t_plain, t_ours / t_plain);
    std::printf("%-44s %9.3fs %9.3fs %8.3f\n", "extraction per sample (reference recipe)",
                t_reference, t_plain, t_reference / t_plain);
    std::printf("%-44s %9.3fs %9.3fs %8.3f\n", "decode, steered vs unsteered (paired)", median(ons),
                median(offs), median(ratios));
    std::printf("targets: extraction ratio <= 1.3, steered decode ratio <= 1.02\n");
    std::filesystem::remove_all(dir);
    return 0;
}
