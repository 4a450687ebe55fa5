// Qwen2-Audio chat prompts: rendering (the model's chat template, byte for byte) and
// tokenisation with each clip's <|AUDIO|> placeholder expanded to the encoder's output length.
//
//   std::string prompt = sarsteer::render_audio_prompt(1, "What is said?");
//   auto ids = sarsteer::tokenize_prompt(tokenizer, prompt, std::vector<int64_t>{3000});
//   // ids.audio_spans[0] == {b, b + 750}: where the clip's 750 embeddings go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sarsteer/tokenizer.h"

namespace sarsteer {

struct TextPart {
    std::string text;
};
// An audio clip's place in a message; the audio itself travels separately, in clip order.
struct AudioPart {};
using ContentPart = std::variant<TextPart, AudioPart>;

struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::variant<std::string, std::vector<ContentPart>> content;
};

inline constexpr std::string_view kDefaultSystemPrompt = "You are a helpful assistant.";

// Renders `messages` exactly as Qwen2-Audio-7B-Instruct's chat_template:
//  - if the first message is not a system message, the default system turn comes first;
//  - each message is "<|im_start|>{role}\n" + content + "<|im_end|>\n";
//  - an audio part is "Audio {n}: <|audio_bos|><|AUDIO|><|audio_eos|>\n", n counting audio parts
//    across the conversation from 1; a text part is its text, verbatim;
//  - add_generation_prompt appends "<|im_start|>assistant\n".
std::string render_chat_prompt(std::span<const ChatMessage> messages,
                               bool add_generation_prompt = true);

// The common case: [system,] one user turn holding `n_audio` clips and then `instruction`.
std::vector<ChatMessage> audio_chat(std::size_t n_audio, std::string_view instruction,
                                    std::optional<std::string_view> system = std::nullopt);
// render_chat_prompt(audio_chat(...), /*add_generation_prompt=*/true).
std::string render_audio_prompt(std::size_t n_audio, std::string_view instruction,
                                std::optional<std::string_view> system = std::nullopt);

// Number of audio embeddings the Qwen2-Audio encoder yields for `feature_frames` valid mel frames
// (conv stride 2, then pooling stride 2): L → (L−1)/2+1 → (that−2)/2+1, floor division.
// 3000 → 750, 1100 → 275; 0..2 → 0. Throws Error(kInvalidArgument) for negative input.
int64_t audio_output_length(int64_t feature_frames);

struct AudioSpan {
    std::size_t begin = 0;  // index of the clip's first <|AUDIO|> id
    std::size_t end = 0;    // one past its last
};

struct PromptTokens {
    std::vector<int32_t> ids;
    std::vector<AudioSpan> audio_spans;  // one per clip, in prompt order
};

// Encodes a rendered prompt (special tokens parsed) and replaces the k-th <|AUDIO|> id with
// audio_output_length(clip_feature_frames[k]) copies of it. Throws Error(kInvalidArgument) when
// the number of <|AUDIO|> tokens differs from the number of clips or a clip yields no
// embeddings, and Error(kNotFound) when the tokenizer has no <|AUDIO|> token.
PromptTokens tokenize_prompt(const Tokenizer& tokenizer, std::string_view prompt,
                             std::span<const int64_t> clip_feature_frames);

// As tokenize_prompt, but with each clip's number of audio tokens given directly (each >= 1).
PromptTokens tokenize_prompt_with_audio_tokens(const Tokenizer& tokenizer, std::string_view prompt,
                                               std::span<const int64_t> clip_audio_tokens);

}  // namespace sarsteer
