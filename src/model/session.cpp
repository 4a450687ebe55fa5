#include "model/session.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "model/audio_encoder.h"
#include "model/kv_cache.h"
#include "model/qwen2_decoder.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/error.h"

namespace sarsteer::model {
namespace {

// Prompts left-padded to a common length: real tokens of every sequence end at T-1, so the
// last position and every decode step line up across the batch.
struct Batch {
    at::Tensor embeds;     // [B, T, D]
    at::Tensor positions;  // [B, T]
    at::Tensor key_valid;  // [B, T]
    std::vector<int64_t> n_pad;
    std::vector<int64_t> last_index;
};

Batch make_batch(const Model& model, std::span<const PreparedPrompt> prompts) {
    if (prompts.empty()) throw Error(ErrorKind::kInvalidArgument, "", "no prompts to run");
    const auto n_batch = static_cast<int64_t>(prompts.size());
    int64_t n_tokens = 0;
    for (const auto& p : prompts) {
        if (p.ids.empty()) throw Error(ErrorKind::kInvalidArgument, "", "empty prompt");
        n_tokens = std::max<int64_t>(n_tokens, static_cast<int64_t>(p.ids.size()));
    }
    const auto max_positions = model.config().text.max_position_embeddings;
    if (n_tokens > max_positions) {
        throw Error(ErrorKind::kLimitExceeded, "prompt",
                    std::to_string(n_tokens) + " tokens, more than the model's " +
                        std::to_string(max_positions) + " positions");
    }
    Batch batch;
    batch.embeds = at::zeros({n_batch, n_tokens, model.n_embd()}, model.options());
    auto positions = at::zeros({n_batch, n_tokens}, at::kLong);
    auto key_valid = at::zeros({n_batch, n_tokens}, at::kBool);
    for (int64_t b = 0; b < n_batch; ++b) {
        const auto& p = prompts[static_cast<std::size_t>(b)];
        const auto n = static_cast<int64_t>(p.ids.size());
        const auto pad = n_tokens - n;
        batch.embeds[b].narrow(0, pad, n).copy_(p.embeds);
        positions[b].narrow(0, pad, n).copy_(at::arange(n, at::kLong));
        key_valid[b].narrow(0, pad, n).fill_(true);
        batch.n_pad.push_back(pad);
        batch.last_index.push_back(n_tokens - 1);
    }
    const auto device = model.options().device();
    batch.positions = positions.to(device);
    batch.key_valid = key_valid.to(device);
    return batch;
}

KvCache make_cache(const Model& model, int64_t n_seq, int64_t capacity) {
    const auto& t = model.config().text;
    return KvCache(t.num_hidden_layers, n_seq, t.num_key_value_heads, t.head_dim, model.options(),
                   capacity);
}

std::vector<int32_t> default_stop_ids(const Model& model) {
    std::vector<int32_t> stop;
    for (auto id : model.generation_config().eos_token_ids)
        stop.push_back(static_cast<int32_t>(id));
    // Without generation_config.json HF falls back to config.json's eos_token_id.
    if (const auto& eos = model.config().text.eos_token_id)
        stop.push_back(static_cast<int32_t>(*eos));
    for (auto token : {tokens::kImEnd, tokens::kEndOfText}) {
        if (auto id = model.tokenizer().token_id(token)) stop.push_back(*id);
    }
    return stop;
}

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
    return reason == FinishReason::kStop ? "stop" : "length";
}

EncodedAudio encode_clips(const Model& model, std::span<const std::vector<float>> clips_16k) {
    c10::InferenceMode guard;
    EncodedAudio out;
    if (clips_16k.empty()) return out;
    const auto& config = model.config();
    if (!config.audio || !model.weights().audio) {
        throw Error(ErrorKind::kUnsupported, model.path().string(),
                    "this is a text-only model; it cannot take audio");
    }
    const int n_mels = static_cast<int>(config.audio->num_mel_bins);
    std::vector<at::Tensor> features;
    for (const auto& clip : clips_16k) {
        const auto mel = whisper_log_mel(clip, n_mels);
        out.valid_frames.push_back(mel.valid_frames());
        features.push_back(at::from_blob(const_cast<float*>(mel.data.data()),
                                         {mel.n_mels, mel.n_frames}, at::kFloat)
                               .clone());
    }
    out.input_features = at::stack(features).to(model.options());
    out.embeds = encode_audio_batch(*model.weights().audio, *config.audio, out.input_features,
                                    out.valid_frames);
    return out;
}

PreparedPrompt prepare_prompt(const Model& model, std::string_view rendered_prompt,
                              const EncodedAudio& audio) {
    c10::InferenceMode guard;
    PreparedPrompt prompt;
    auto tokens = tokenize_prompt(model.tokenizer(), rendered_prompt, audio.valid_frames);
    prompt.ids = std::move(tokens.ids);
    prompt.embeds = model.embed_tokens(prompt.ids);
    prompt.audio = audio;
    if (audio.embeds.defined() && audio.embeds.size(0) > 0) {
        std::vector<int64_t> slots;
        for (const auto& span : tokens.audio_spans) {
            for (auto i = span.begin; i < span.end; ++i) slots.push_back(static_cast<int64_t>(i));
        }
        if (static_cast<int64_t>(slots.size()) != audio.embeds.size(0)) {
            throw Error(ErrorKind::kInternal, "prompt",
                        "the prompt has " + std::to_string(slots.size()) +
                            " audio placeholders but the encoder produced " +
                            std::to_string(audio.embeds.size(0)) + " embeddings");
        }
        const auto index = at::tensor(slots, at::kLong).to(prompt.embeds.device());
        prompt.embeds.index_copy_(0, index, audio.embeds.to(prompt.embeds.scalar_type()));
    }
    return prompt;
}

PreparedPrompt prepare_ids(const Model& model, std::vector<int32_t> ids) {
    c10::InferenceMode guard;
    PreparedPrompt prompt;
    prompt.embeds = model.embed_tokens(ids);
    prompt.ids = std::move(ids);
    return prompt;
}

ForwardOutput forward(const Model& model, std::span<const PreparedPrompt> prompts,
                      std::span<LayerHook* const> hooks) {
    c10::InferenceMode guard;
    const auto batch = make_batch(model, prompts);
    auto cache = make_cache(model, batch.embeds.size(0), batch.embeds.size(1));
    const DecoderInput input{batch.embeds, batch.positions, batch.key_valid, batch.last_index,
                             true};
    return {decoder_forward(model.weights().decoder, model.config().text, input, cache, hooks),
            batch.n_pad};
}

std::vector<Generation> generate(const Model& model, std::span<const PreparedPrompt> prompts,
                                 const GenerateOptions& options) {
    c10::InferenceMode guard;
    const auto n_seq = prompts.size();
    if (options.sampling.size() != 1 && options.sampling.size() != n_seq) {
        throw Error(ErrorKind::kInvalidArgument, "generate",
                    "give one sampling setting, or one per prompt");
    }
    std::vector<Sampler> samplers;
    for (std::size_t s = 0; s < n_seq; ++s) {
        samplers.emplace_back(options.sampling[options.sampling.size() == 1 ? 0 : s]);
    }
    const auto stop_ids = options.stop_ids.empty() ? default_stop_ids(model) : options.stop_ids;

    std::vector<Generation> results(n_seq);
    std::vector<std::vector<int32_t>> contexts;  // prompt + generated: the repetition context
    for (std::size_t s = 0; s < n_seq; ++s) {
        results[s].prompt_tokens = static_cast<int64_t>(prompts[s].ids.size());
        contexts.push_back(prompts[s].ids);
    }
    if (options.max_new_tokens <= 0) return results;

    auto batch = make_batch(model, prompts);
    const auto n_prompt = batch.embeds.size(1);
    auto cache = make_cache(model, static_cast<int64_t>(n_seq), n_prompt + options.max_new_tokens);
    const auto& weights = model.weights().decoder;
    const auto& text_config = model.config().text;
    const auto device = model.options().device();

    DecoderInput input{batch.embeds, batch.positions, batch.key_valid, batch.last_index, true};
    auto hidden = decoder_forward(weights, text_config, input, cache, options.hooks);
    auto logits = model.logits(hidden.select(1, n_prompt - 1)).cpu();  // [B, V]

    std::vector<std::size_t> active(n_seq);  // batch row -> sequence
    for (std::size_t s = 0; s < n_seq; ++s) active[s] = s;
    auto key_valid = batch.key_valid;
    while (!active.empty()) {
        std::vector<int32_t> next_ids;
        std::vector<int64_t> keep_rows;
        std::vector<std::size_t> still_active;
        for (std::size_t row = 0; row < active.size(); ++row) {
            const auto s = active[row];
            auto& result = results[s];
            const auto id = samplers[s].sample(logits[static_cast<int64_t>(row)], contexts[s]);
            if (std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end()) {
                result.finish = FinishReason::kStop;
                continue;
            }
            result.tokens.push_back(id);
            contexts[s].push_back(id);
            if (options.on_token) options.on_token(s, id);
            if (static_cast<int64_t>(result.tokens.size()) >= options.max_new_tokens ||
                (options.cancelled && options.cancelled(s))) {
                result.finish = FinishReason::kLength;
                continue;
            }
            next_ids.push_back(id);
            keep_rows.push_back(static_cast<int64_t>(row));
            still_active.push_back(s);
        }
        if (still_active.empty()) break;
        if (still_active.size() != active.size()) {
            // Drop finished sequences from the batch instead of computing them to the end.
            const auto rows = at::tensor(keep_rows, at::kLong).to(device);
            cache.select(rows);
            key_valid = key_valid.index_select(0, rows);
        }
        active = std::move(still_active);

        const auto n_active = static_cast<int64_t>(active.size());
        std::vector<int64_t> positions;
        for (auto s : active) {
            positions.push_back(static_cast<int64_t>(contexts[s].size()) - 1);
        }
        key_valid = at::cat({key_valid, at::ones({n_active, 1}, key_valid.options())}, 1);
        input = DecoderInput{model.embed_tokens(next_ids).unsqueeze(1),
                             at::tensor(positions, at::kLong).view({n_active, 1}).to(device),
                             key_valid,
                             std::vector<int64_t>(active.size(), 0),
                             false,
                             std::vector<int64_t>(active.begin(), active.end())};
        hidden = decoder_forward(weights, text_config, input, cache, options.hooks);
        logits = model.logits(hidden.select(1, 0)).cpu();
    }
    for (auto& result : results) {
        result.text = model.tokenizer().decode(result.tokens, /*skip_special=*/true);
    }
    return results;
}

}  // namespace sarsteer::model
