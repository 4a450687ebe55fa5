// Running a loaded Model: prompt preparation (audio encoded once, embeddings scattered into the
// <|AUDIO|> slots), batched prefill and decoding with a KV cache, layer hooks, streaming.
// Each call owns its caches, so several threads may run calls on one shared Model.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/layer_hook.h"
#include "model/model.h"
#include "model/sampler.h"

namespace sarsteer::model {

// A prompt's clips, encoded once (reusable across prompts that share the audio).
struct EncodedAudio {
    at::Tensor input_features;          // [clips, n_mels, 3000]
    std::vector<int64_t> valid_frames;  // per clip
    at::Tensor embeds;                  // [sum of audio tokens, D], projected, clip after clip
};

// Computes Whisper features of 16 kHz clips and runs the audio tower + projector.
EncodedAudio encode_clips(const Model& model, std::span<const std::vector<float>> clips_16k);

struct PreparedPrompt {
    std::vector<int32_t> ids;  // token ids, each clip's <|AUDIO|> expanded
    at::Tensor embeds;         // [T, D] decoder input embeddings
    EncodedAudio audio;        // empty (undefined tensors) for text-only prompts
};

// Tokenizes a rendered chat prompt (special tokens parsed) and builds its embeddings: the k-th
// clip's embeddings replace its <|AUDIO|> placeholders, in order. `audio` may be empty.
PreparedPrompt prepare_prompt(const Model& model, std::string_view rendered_prompt,
                              const EncodedAudio& audio = {});
// A prompt given as ids (text only; <|AUDIO|> ids are embedded as ordinary tokens).
PreparedPrompt prepare_ids(const Model& model, std::vector<int32_t> ids);

struct ForwardOutput {
    at::Tensor hidden;  // [B, T, D] after the final norm; batch left-padded to the longest T
    std::vector<int64_t> n_pad;  // per sequence: padding positions at the front
};

// One prefill over the prompts (no generation). Hooks see every layer output.
ForwardOutput forward(const Model& model, std::span<const PreparedPrompt> prompts,
                      std::span<LayerHook* const> hooks = {});

enum class FinishReason { kStop, kLength };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length" (OpenAI's words)

struct GenerateOptions {
    int64_t max_new_tokens = 512;
    // One entry for all sequences, or one per sequence (each sequence owns its RNG, so results
    // do not depend on what else is in the batch).
    std::vector<SamplingParams> sampling = {SamplingParams{}};
    // Ids that end a sequence (not included in its output). Empty: the generation config's
    // eos_token_id plus <|im_end|> and <|endoftext|>.
    std::vector<int32_t> stop_ids;
    // Called for every generated token, in order, with the sequence's index in the batch.
    std::function<void(std::size_t seq, int32_t token)> on_token;
    // Asked after each of a sequence's tokens (after on_token): true ends the sequence there, as
    // if it had reached its length (finish kLength), and drops it from the batch. Lets a caller
    // stop one sequence early (a per-sequence token limit, a client that went away).
    std::function<bool(std::size_t seq)> cancelled;
    std::vector<LayerHook*> hooks;
};

struct Generation {
    std::vector<int32_t> tokens;  // generated ids, without the stop id
    std::string text;             // decoded tokens (ids without a token string decode to nothing)
    FinishReason finish = FinishReason::kLength;
    int64_t prompt_tokens = 0;
};

std::vector<Generation> generate(const Model& model, std::span<const PreparedPrompt> prompts,
                                 const GenerateOptions& options);

}  // namespace sarsteer::model
