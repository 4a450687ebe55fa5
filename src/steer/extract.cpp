#include "steer/extract.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "io/timestamp.h"
#include "model/kv_cache.h"
#include "model/qwen2_decoder.h"
#include "model/session.h"
#include "model/tensor_io.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"
#include "sarsteer/version.h"
#include "steer/ablate.h"
#include "steer/capture_hook.h"

namespace sarsteer::steer {
namespace {

using model::PreparedPrompt;

std::string_view mode_name(ExtractMode mode) {
    return mode == ExtractMode::kLlm ? "llm" : "sarsteer";
}

// What the cached states depend on: a cache made for other prompts or another model is refused.
nlohmann::json cache_key(const model::Model& model, const ExtractOptions& options) {
    return {{"model", ModelFingerprint::of(model.config()).config_sha256},
            {"mode", mode_name(options.mode)},
            {"instruction", options.instruction},
            {"refusal_prompt", options.refusal_prompt},
            {"system", options.system.value_or("")}};
}

PreparedPrompt audio_prompt(const model::Model& model, const model::EncodedAudio& audio,
                            const std::string& instruction, const ExtractOptions& options) {
    std::optional<std::string_view> system_sv;
    if (options.system) system_sv = *options.system;
    return model::prepare_prompt(model, render_audio_prompt(1, instruction, system_sv), audio);
}

// Last-position states [n, L, D] of prompts run one by one.
at::Tensor last_states(const model::Model& model, const PreparedPrompt& prompt) {
    CaptureLastHook capture(1, model.n_layer(), model.n_embd());
    model::LayerHook* hooks[] = {&capture};
    model::forward(model, std::span(&prompt, 1), hooks);
    return capture.states()[0];
}

// One sample's states: [L, D] (base) or [2, L, D] (base, refusal).
at::Tensor sample_states(const model::Model& model, const io::ManifestItem& item, bool harmful,
                         const ExtractOptions& options) {
    if (options.mode == ExtractMode::kLlm) {
        std::optional<std::string_view> system;
        if (options.system) system = *options.system;
        const auto prompt =
            model::prepare_prompt(model, render_audio_prompt(0, item.question, system));
        return last_states(model, prompt);
    }
    if (!item.audio) {
        throw Error(ErrorKind::kInvalidArgument, item.id, "sample has no audio");
    }
    const auto clip = load_audio_16k(*item.audio);
    const std::vector<std::vector<float>> clips = {clip.samples};
    const auto audio = model::encode_clips(model, clips);  // encoded once, used by both passes
    const auto base = audio_prompt(model, audio, options.instruction, options);
    if (!harmful) return last_states(model, base);
    const auto refusal =
        audio_prompt(model, audio, options.instruction + options.refusal_prompt, options);
    return last_states_with_shared_prefix(model, base, refusal);
}

std::filesystem::path part_path(const std::filesystem::path& cache, const char* set,
                                std::size_t index) {
    return std::filesystem::path(cache.string() + ".parts") /
           (std::string(set) + "-" + std::to_string(index) + ".safetensors");
}

std::optional<at::Tensor> read_part(const std::filesystem::path& path, const std::string& id,
                                    const std::string& key) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    const auto file = io::SafetensorsFile::open(path);
    const auto& meta = file.metadata();
    auto it = meta.find("key");
    auto id_it = meta.find("id");
    // A part from another run (other prompts, model or manifest order) is recomputed.
    if (it == meta.end() || it->second != key || id_it == meta.end() || id_it->second != id) {
        return std::nullopt;
    }
    return model::tensor_from_view(file.at("states")).clone();
}

void write_part(const std::filesystem::path& path, const std::string& id, const std::string& key,
                const at::Tensor& states) {
    io::SafetensorsWriter writer;
    model::add_tensor(writer, "states", states);
    writer.set_metadata("id", id);
    writer.set_metadata("key", key);
    writer.write(path);
}

// The sample ids of a manifest as a JSON list: the cache holds states for exactly these.
std::string ids_json(const io::Manifest& manifest) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : manifest.items) list.push_back(item.id);
    return list.dump();
}

// The consolidated cache, when it holds exactly these samples for this key.
std::optional<Activations> read_cache(const std::filesystem::path& cache, const std::string& key,
                                      const io::Manifest& harmful, const io::Manifest& safe) {
    std::error_code ec;
    if (cache.empty() || !std::filesystem::exists(cache, ec)) return std::nullopt;
    const auto file = io::SafetensorsFile::open(cache);
    const auto& meta = file.metadata();
    if (meta.count("key") == 0 || meta.at("key") != key || meta.count("harmful_ids") == 0 ||
        meta.at("harmful_ids") != ids_json(harmful) || meta.count("safe_ids") == 0 ||
        meta.at("safe_ids") != ids_json(safe)) {
        return std::nullopt;
    }
    Activations acts;
    acts.harmful_base = model::tensor_from_view(file.at("harmful.base")).clone();
    if (const auto* refusal = file.find("harmful.refusal")) {
        acts.harmful_refusal = model::tensor_from_view(*refusal).clone();
    }
    acts.safe_base = model::tensor_from_view(file.at("safe.base")).clone();
    return acts;
}

void write_cache(const std::filesystem::path& cache, const std::string& key,
                 const io::Manifest& harmful, const io::Manifest& safe, const Activations& acts) {
    io::SafetensorsWriter writer;
    model::add_tensor(writer, "harmful.base", acts.harmful_base);
    if (acts.harmful_refusal.defined())
        model::add_tensor(writer, "harmful.refusal", acts.harmful_refusal);
    model::add_tensor(writer, "safe.base", acts.safe_base);
    writer.set_metadata("key", key);
    writer.set_metadata("harmful_ids", ids_json(harmful));
    writer.set_metadata("safe_ids", ids_json(safe));
    writer.write(cache);
}

}  // namespace

at::Tensor last_states_with_shared_prefix(const model::Model& model, const PreparedPrompt& first,
                                          const PreparedPrompt& second) {
    c10::InferenceMode guard;
    const auto& ids_a = first.ids;
    const auto& ids_b = second.ids;
    std::size_t n_prefix = 0;
    while (n_prefix < ids_a.size() && n_prefix < ids_b.size() &&
           ids_a[n_prefix] == ids_b[n_prefix]) {
        ++n_prefix;
    }
    // Each continuation needs at least one position of its own: its last state is captured.
    n_prefix = std::min({n_prefix, ids_a.size() - 1, ids_b.size() - 1});
    const auto prefix = static_cast<int64_t>(n_prefix);
    const auto& t = model.config().text;
    const auto& weights = model.weights().decoder;
    const auto device = model.options().device();
    const int64_t n_a = static_cast<int64_t>(ids_a.size()) - prefix;
    const int64_t n_b = static_cast<int64_t>(ids_b.size()) - prefix;
    const int64_t n_suffix = std::max(n_a, n_b);

    model::KvCache cache(t.num_hidden_layers, 1, t.num_key_value_heads, t.head_dim, model.options(),
                         prefix + n_suffix);
    if (prefix > 0) {
        model::DecoderInput input{
            first.embeds.narrow(0, 0, prefix).unsqueeze(0),
            at::arange(prefix, at::kLong).unsqueeze(0).to(device),
            at::ones({1, prefix}, at::TensorOptions().dtype(at::kBool).device(device)),
            {prefix - 1},
            true,
            {}};
        model::decoder_forward(weights, t, input, cache, {});
    }
    cache.select(at::zeros({2}, at::kLong));  // both continuations share the prefix's keys

    // Left-pad the two continuations; positions continue after the prefix.
    auto embeds = at::zeros({2, n_suffix, model.n_embd()}, model.options());
    auto positions = at::zeros({2, n_suffix}, at::kLong);
    auto key_valid = at::ones({2, prefix + n_suffix}, at::kBool);
    const PreparedPrompt* prompts[] = {&first, &second};
    for (int64_t b = 0; b < 2; ++b) {
        const auto n = b == 0 ? n_a : n_b;
        const auto pad = n_suffix - n;
        embeds[b].narrow(0, pad, n).copy_(prompts[b]->embeds.narrow(0, prefix, n));
        positions[b].narrow(0, pad, n).copy_(at::arange(prefix, prefix + n, at::kLong));
        key_valid[b].narrow(0, prefix, pad).fill_(false);
    }
    CaptureLastHook capture(2, model.n_layer(), model.n_embd());
    model::LayerHook* hooks[] = {&capture};
    model::DecoderInput input{
        embeds, positions.to(device), key_valid.to(device), {n_suffix - 1, n_suffix - 1}, true, {}};
    model::decoder_forward(weights, t, input, cache, hooks);
    return capture.states();
}

Activations collect_activations(const model::Model& model, const io::Manifest& harmful,
                                const io::Manifest& safe, const ExtractOptions& options) {
    c10::InferenceMode guard;
    const auto key = cache_key(model, options).dump();
    if (auto cached = read_cache(options.cache, key, harmful, safe)) {
        if (options.progress) {
            const auto total = harmful.items.size() + safe.items.size();
            options.progress(total, total, true);
        }
        return *cached;
    }
    if (!options.cache.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(options.cache.string() + ".parts", ec);
        if (ec) {
            throw Error(ErrorKind::kIo, options.cache.string() + ".parts",
                        "cannot create folder: " + ec.message());
        }
    }
    const bool llm = options.mode == ExtractMode::kLlm;
    const auto n_layer = model.n_layer(), n_embd = model.n_embd();
    const auto n_harmful = static_cast<int64_t>(harmful.items.size());
    const auto n_safe = static_cast<int64_t>(safe.items.size());
    Activations acts;
    acts.harmful_base = at::zeros({n_harmful, n_layer, n_embd}, at::kFloat);
    if (!llm) acts.harmful_refusal = at::zeros({n_harmful, n_layer, n_embd}, at::kFloat);
    acts.safe_base = at::zeros({n_safe, n_layer, n_embd}, at::kFloat);

    const std::size_t total = harmful.items.size() + safe.items.size();
    std::size_t done = 0;
    auto run_set = [&](const io::Manifest& manifest, bool is_harmful) {
        const char* set = is_harmful ? "harmful" : "safe";
        for (std::size_t i = 0; i < manifest.items.size(); ++i) {
            const auto& item = manifest.items[i];
            std::optional<at::Tensor> states;
            const auto part =
                options.cache.empty() ? std::filesystem::path() : part_path(options.cache, set, i);
            if (!part.empty()) states = read_part(part, item.id, key);
            const bool from_cache = states.has_value();
            if (!states) {
                states = sample_states(model, item, is_harmful && !llm, options);
                if (!part.empty()) write_part(part, item.id, key, *states);
            }
            const auto row = static_cast<int64_t>(i);
            if (!is_harmful) {
                acts.safe_base[row].copy_(*states);
            } else if (llm) {
                acts.harmful_base[row].copy_(*states);
            } else {
                acts.harmful_base[row].copy_((*states)[0]);
                acts.harmful_refusal[row].copy_((*states)[1]);
            }
            if (options.progress) options.progress(++done, total, from_cache);
        }
    };
    run_set(harmful, true);
    run_set(safe, false);
    if (!options.cache.empty()) {
        write_cache(options.cache, key, harmful, safe, acts);
        std::error_code ec;
        std::filesystem::remove_all(options.cache.string() + ".parts", ec);
    }
    return acts;
}

SteeringVectors build_steering(const model::Model& model, const Activations& acts,
                               const io::Manifest& harmful, const io::Manifest& safe,
                               const ExtractOptions& options) {
    c10::InferenceMode guard;
    SteeringVectors out;
    auto& meta = out.metadata;
    meta.model = ModelFingerprint::of(model.config());
    meta.mode = std::string(mode_name(options.mode));
    meta.alpha = options.alpha;
    meta.instruction = options.instruction;
    meta.refusal_prompt = options.mode == ExtractMode::kLlm ? "" : options.refusal_prompt;
    meta.n_harmful = static_cast<int64_t>(harmful.items.size());
    meta.n_safe = static_cast<int64_t>(safe.items.size());
    meta.harmful_manifest_sha256 = harmful.sha256;
    meta.safe_manifest_sha256 = safe.sha256;
    meta.tool_version = kVersion;
    meta.created = io::utc_timestamp();
    if (options.mode == ExtractMode::kLlm) {
        // Difference in means of harmful vs benign question states; nothing to ablate.
        meta.k = 0;
        meta.lambda = 0.0;
        const auto direction =
            acts.harmful_base.to(at::kDouble).mean(0) - acts.safe_base.to(at::kDouble).mean(0);
        for (int64_t l = 0; l < model.n_layer(); ++l) {
            out.v.push_back(direction[l].to(at::kFloat).contiguous());
            out.v_raw.push_back(direction[l].to(at::kFloat).contiguous());
        }
        return out;
    }
    meta.k = options.k;
    meta.lambda = options.lambda;
    const auto ablation =
        ablate(acts.harmful_base, acts.harmful_refusal, acts.safe_base, options.k, options.lambda);
    for (int64_t l = 0; l < model.n_layer(); ++l) {
        out.v.push_back(ablation.v[l].contiguous());
        out.v_raw.push_back(ablation.v_raw[l].contiguous());
        out.safe_basis.push_back(ablation.safe_basis[l].contiguous());
        out.safe_mean.push_back(ablation.safe_mean[l].contiguous());
    }
    return out;
}

std::vector<double> base_separation(const Activations& acts) {
    c10::InferenceMode guard;
    const auto a = acts.harmful_base.to(at::kDouble), b = acts.safe_base.to(at::kDouble);
    if (a.dim() != 3 || b.dim() != 3 || a.size(0) == 0 || b.size(0) == 0 ||
        a.size(1) != b.size(1) || a.size(2) != b.size(2)) {
        throw Error(ErrorKind::kInvalidArgument, "activations",
                    "harmful and safe states must be non-empty [N, L, D] of one shape");
    }
    const auto mean_a = a.mean(0), mean_b = b.mean(0);         // [L, D]
    const auto spread_a = (a - mean_a).pow(2).sum(2).mean(0);  // [L]
    const auto spread_b = (b - mean_b).pow(2).sum(2).mean(0);
    const auto distance = (mean_a - mean_b).pow(2).sum(1).sqrt();  // [L]
    // Identical states within both sets (a spread of 0) read as 0 apart or very far, never NaN.
    const auto ratio =
        (distance / ((spread_a + spread_b) / 2).sqrt().clamp_min(1e-30)).contiguous();
    return {ratio.data_ptr<double>(), ratio.data_ptr<double>() + ratio.numel()};
}

}  // namespace sarsteer::steer
