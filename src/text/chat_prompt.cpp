#include "sarsteer/chat_prompt.h"

#include <string>

#include "sarsteer/error.h"

namespace sarsteer {
namespace {

constexpr std::string_view kPromptSubject = "chat prompt";

// Floor division for a possibly negative numerator, as Python's // (the reference computes the
// lengths in Python/torch).
int64_t floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

std::string render_chat_prompt(std::span<const ChatMessage> messages, bool add_generation_prompt) {
    std::string out;
    int audio_count = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& message = messages[i];
        if (i == 0 && message.role != "system") {
            out += "<|im_start|>system\n";
            out += kDefaultSystemPrompt;
            out += "<|im_end|>\n";
        }
        out += "<|im_start|>";
        out += message.role;
        out += "\n";
        if (const auto* text = std::get_if<std::string>(&message.content)) {
            out += *text;
        } else {
            for (const ContentPart& part : std::get<std::vector<ContentPart>>(message.content)) {
                if (const auto* text_part = std::get_if<TextPart>(&part)) {
                    out += text_part->text;
                } else {
                    out += "Audio " + std::to_string(++audio_count) +
                           ": <|audio_bos|><|AUDIO|><|audio_eos|>\n";
                }
            }
        }
        out += "<|im_end|>\n";
    }
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
}

std::vector<ChatMessage> audio_chat(std::size_t n_audio, std::string_view instruction,
                                    std::optional<std::string_view> system) {
    std::vector<ChatMessage> messages;
    if (system) messages.push_back({"system", std::string(*system)});
    std::vector<ContentPart> parts(n_audio, AudioPart{});
    parts.push_back(TextPart{std::string(instruction)});
    messages.push_back({"user", std::move(parts)});
    return messages;
}

std::string render_audio_prompt(std::size_t n_audio, std::string_view instruction,
                                std::optional<std::string_view> system) {
    return render_chat_prompt(audio_chat(n_audio, instruction, system), true);
}

int64_t audio_output_length(int64_t feature_frames) {
    if (feature_frames < 0) {
        throw Error(ErrorKind::kInvalidArgument, std::string(kPromptSubject),
                    "negative feature frame count " + std::to_string(feature_frames));
    }
    const int64_t after_conv = floor_div(feature_frames - 1, 2) + 1;
    return floor_div(after_conv - 2, 2) + 1;
}

PromptTokens tokenize_prompt_with_audio_tokens(const Tokenizer& tokenizer, std::string_view prompt,
                                               std::span<const int64_t> clip_audio_tokens) {
    const int32_t audio_id = tokenizer.required_token_id(tokens::kAudio);
    const std::vector<int32_t> ids = tokenizer.encode(prompt, /*parse_special=*/true);
    std::size_t placeholders = 0;
    for (int32_t id : ids) placeholders += id == audio_id ? 1 : 0;
    if (placeholders != clip_audio_tokens.size()) {
        throw Error(ErrorKind::kInvalidArgument, std::string(kPromptSubject),
                    "the prompt has " + std::to_string(placeholders) +
                        " <|AUDIO|> placeholders but " + std::to_string(clip_audio_tokens.size()) +
                        " audio clips were given",
                    "render one audio part per clip, with a single <|AUDIO|> each");
    }
    PromptTokens result;
    std::size_t total = ids.size();
    for (std::size_t k = 0; k < clip_audio_tokens.size(); ++k) {
        const int64_t n = clip_audio_tokens[k];
        if (n < 1) {
            throw Error(ErrorKind::kInvalidArgument, std::string(kPromptSubject),
                        "audio clip " + std::to_string(k + 1) + " yields " + std::to_string(n) +
                            " audio tokens; at least 1 is needed",
                        "is the clip shorter than 3 feature frames?");
        }
        total += static_cast<std::size_t>(n) - 1;
    }
    result.ids.reserve(total);
    result.audio_spans.reserve(clip_audio_tokens.size());
    std::size_t clip = 0;
    for (int32_t id : ids) {
        if (id != audio_id) {
            result.ids.push_back(id);
            continue;
        }
        const std::size_t begin = result.ids.size();
        result.ids.insert(result.ids.end(), static_cast<std::size_t>(clip_audio_tokens[clip]),
                          audio_id);
        result.audio_spans.push_back({begin, result.ids.size()});
        ++clip;
    }
    return result;
}

PromptTokens tokenize_prompt(const Tokenizer& tokenizer, std::string_view prompt,
                             std::span<const int64_t> clip_feature_frames) {
    std::vector<int64_t> counts;
    counts.reserve(clip_feature_frames.size());
    for (int64_t frames : clip_feature_frames) counts.push_back(audio_output_length(frames));
    return tokenize_prompt_with_audio_tokens(tokenizer, prompt, counts);
}

}  // namespace sarsteer
