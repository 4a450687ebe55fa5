#include "serve/openai_request.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "sarsteer/error.h"
#include "serve/base64.h"

namespace sarsteer::serve {
namespace {

using nlohmann::json;

[[noreturn]] void invalid(const std::string& param, const std::string& problem,
                          const std::string& hint = {}) {
    throw Error(ErrorKind::kInvalidArgument, param, problem, hint);
}

[[noreturn]] void unsupported(const std::string& param, const std::string& problem,
                              const std::string& hint = {}) {
    throw Error(ErrorKind::kUnsupported, param, problem, hint);
}

[[noreturn]] void too_large(const std::string& param, const std::string& problem) {
    throw Error(ErrorKind::kLimitExceeded, param, problem);
}

std::string type_name(const json& value) {
    return value.type_name();
}

const json* field(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}

double number(const json& value, const std::string& param) {
    if (!value.is_number()) invalid(param, "must be a number, not " + type_name(value));
    const double x = value.get<double>();
    if (!std::isfinite(x)) invalid(param, "must be finite");
    return x;
}

const std::string& string(const json& value, const std::string& param) {
    if (!value.is_string()) invalid(param, "must be a string, not " + type_name(value));
    return value.get_ref<const std::string&>();
}

bool boolean(const json& value, const std::string& param) {
    if (!value.is_boolean()) invalid(param, "must be a boolean, not " + type_name(value));
    return value.get<bool>();
}

// Texts must not smuggle Qwen2-Audio's audio markers in: they would misplace the clips' embeddings.
void check_text(const std::string& text, const std::string& param, std::size_t& text_bytes,
                const RequestLimits& limits) {
    text_bytes += text.size();
    if (text_bytes > limits.max_text_bytes) {
        too_large(param, "the request's text is longer than " +
                             std::to_string(limits.max_text_bytes) + " bytes");
    }
    for (const char* marker : {"<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"}) {
        if (text.find(marker) != std::string::npos) {
            invalid(param, std::string("must not contain the audio marker ") + marker,
                    "send audio as an input_audio content part");
        }
    }
}

InputAudio parse_audio(const json& part, const std::string& param, std::size_t& audio_bytes,
                       const RequestLimits& limits) {
    const auto* audio = field(part, "input_audio");
    if (audio == nullptr || !audio->is_object()) invalid(param, "must be an object");
    const auto* data = field(*audio, "data");
    if (data == nullptr) invalid(param + ".data", "is required (base64 audio bytes)");
    const auto& text = string(*data, param + ".data");
    const auto* format_value = field(*audio, "format");
    if (format_value == nullptr) invalid(param + ".format", "is required: wav, mp3, flac or ogg");
    const auto& format = string(*format_value, param + ".format");
    if (format != "wav" && format != "mp3" && format != "flac" && format != "ogg") {
        invalid(param + ".format", "\"" + format + "\" is not one of wav, mp3, flac, ogg");
    }
    if (text.empty()) invalid(param + ".data", "is empty");
    audio_bytes += base64_decoded_size(text);
    if (audio_bytes > limits.max_audio_bytes) {
        too_large(param + ".data", "the request's audio is larger than " +
                                       std::to_string(limits.max_audio_bytes) + " bytes");
    }
    std::string why;
    auto bytes = base64_decode(text, &why);
    if (!bytes) {
        invalid(param + ".data", "is not valid base64: " + why,
                "send standard base64 with '=' padding and no line breaks");
    }
    const auto sniffed = sniff_audio_format(*bytes);
    if (sniffed.empty()) {
        invalid(param + ".data", "is not a " + format + " file (no audio header found)");
    }
    if (sniffed != format) {
        invalid(param + ".format", "says " + format + " but the data is a " + sniffed + " file");
    }
    return InputAudio{std::move(*bytes), format, param};
}

ChatMessage parse_message(const json& message, std::size_t index, ParsedRequest& out,
                          std::size_t& text_bytes, std::size_t& audio_bytes,
                          const RequestLimits& limits) {
    const auto param = "messages[" + std::to_string(index) + "]";
    if (!message.is_object()) invalid(param, "must be an object, not " + type_name(message));
    const auto* role_value = field(message, "role");
    if (role_value == nullptr) invalid(param + ".role", "is required");
    std::string role = string(*role_value, param + ".role");
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant") {
        unsupported(param + ".role", "\"" + role + "\" is not supported",
                    "use system, user or assistant");
    }
    for (const char* key : {"tool_calls", "function_call"}) {
        if (field(message, key)) unsupported(param + "." + key, "tool calls are not supported");
    }
    const auto* content = field(message, "content");
    if (content == nullptr) invalid(param + ".content", "is required");
    ChatMessage chat{role, std::string()};
    if (content->is_string()) {
        check_text(content->get_ref<const std::string&>(), param + ".content", text_bytes, limits);
        chat.content = content->get<std::string>();
        return chat;
    }
    if (!content->is_array()) {
        invalid(param + ".content",
                "must be a string or an array of parts, not " + type_name(*content));
    }
    std::vector<ContentPart> parts;
    for (std::size_t k = 0; k < content->size(); ++k) {
        const auto& part = (*content)[k];
        const auto part_param = param + ".content[" + std::to_string(k) + "]";
        if (!part.is_object()) invalid(part_param, "must be an object, not " + type_name(part));
        const auto* type_value = field(part, "type");
        if (type_value == nullptr) invalid(part_param + ".type", "is required");
        const auto& type = string(*type_value, part_param + ".type");
        if (type == "text") {
            const auto* text = field(part, "text");
            if (text == nullptr) invalid(part_param + ".text", "is required");
            const auto& value = string(*text, part_param + ".text");
            check_text(value, part_param + ".text", text_bytes, limits);
            parts.emplace_back(TextPart{value});
        } else if (type == "input_audio") {
            if (role != "user") {
                unsupported(part_param, "audio is only accepted in user messages");
            }
            if (out.audio.size() >= limits.max_audio_clips) {
                too_large(part_param, "more than " + std::to_string(limits.max_audio_clips) +
                                          " audio clips in one request");
            }
            out.audio.push_back(
                parse_audio(part, part_param + ".input_audio", audio_bytes, limits));
            out.audio.back().param = part_param + ".input_audio";
            parts.emplace_back(AudioPart{});
        } else {
            unsupported(part_param + ".type", "content part type \"" + type + "\" is not supported",
                        "send text and input_audio parts (URLs and files are never fetched)");
        }
    }
    chat.content = std::move(parts);
    return chat;
}

void refuse_unsupported_fields(const json& body) {
    for (const char* key : {"tools", "functions", "tool_choice", "function_call"}) {
        const auto* value = field(body, key);
        if (value && !(value->is_array() && value->empty()) &&
            !(value->is_string() && value->get_ref<const std::string&>() == "none")) {
            unsupported(key, "tool and function calling are not supported");
        }
    }
    if (const auto* value = field(body, "logprobs"); value && boolean(*value, "logprobs")) {
        unsupported("logprobs", "log probabilities are not supported");
    }
    if (const auto* value = field(body, "stop")) {
        const bool empty = (value->is_array() && value->empty()) ||
                           (value->is_string() && value->get_ref<const std::string&>().empty());
        if (!empty) unsupported("stop", "stop sequences are not supported");
    }
    if (const auto* value = field(body, "n")) {
        if (!value->is_number_integer() || value->get<int64_t>() != 1) {
            unsupported("n", "only n = 1 is supported");
        }
    }
    if (const auto* value = field(body, "response_format")) {
        const auto* type = value->is_object() ? field(*value, "type") : nullptr;
        if (type == nullptr || !type->is_string() ||
            type->get_ref<const std::string&>() != "text") {
            unsupported("response_format", "only the text response format is supported");
        }
    }
}

}  // namespace

std::string sniff_audio_format(std::span<const std::byte> bytes) {
    auto starts = [&](std::size_t offset, std::string_view magic) {
        return bytes.size() >= offset + magic.size() &&
               std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
    };
    if ((starts(0, "RIFF") || starts(0, "RF64")) && starts(8, "WAVE")) return "wav";
    if (starts(0, "fLaC")) return "flac";
    if (starts(0, "OggS")) return "ogg";
    if (starts(0, "ID3")) return "mp3";
    if (bytes.size() >= 2 && std::to_integer<unsigned>(bytes[0]) == 0xFF &&
        (std::to_integer<unsigned>(bytes[1]) & 0xE0) == 0xE0) {
        return "mp3";
    }
    return "";
}

ParsedRequest parse_chat_request(std::string_view body, const RequestLimits& limits) {
    json root;
    bool too_deep = false;
    try {
        root = json::parse(
            body,
            [&](int depth, json::parse_event_t, json&) {
                if (depth > limits.max_json_depth) too_deep = true;
                return !too_deep;
            },
            /*allow_exceptions=*/true);
    } catch (const json::exception& e) {
        invalid("body", std::string("is not valid JSON: ") + e.what());
    }
    if (too_deep) {
        invalid("body", "nests deeper than " + std::to_string(limits.max_json_depth) + " levels");
    }
    if (!root.is_object()) invalid("body", "must be a JSON object, not " + type_name(root));
    refuse_unsupported_fields(root);

    ParsedRequest out;
    if (const auto* model = field(root, "model")) out.model = string(*model, "model");

    const auto* messages = field(root, "messages");
    if (messages == nullptr) invalid("messages", "is required");
    if (!messages->is_array()) invalid("messages", "must be an array, not " + type_name(*messages));
    if (messages->empty()) invalid("messages", "must not be empty");
    if (messages->size() > limits.max_messages) {
        too_large("messages", "more than " + std::to_string(limits.max_messages) + " messages");
    }
    std::size_t text_bytes = 0;
    std::size_t audio_bytes = 0;
    for (std::size_t i = 0; i < messages->size(); ++i) {
        out.messages.push_back(
            parse_message((*messages)[i], i, out, text_bytes, audio_bytes, limits));
    }
    if (out.messages.back().role == "assistant") {
        unsupported("messages", "the last message is the assistant's",
                    "end with a user message; continuing an assistant turn is not supported");
    }

    out.max_tokens = limits.max_tokens;
    for (const char* key : {"max_tokens", "max_completion_tokens"}) {
        const auto* value = field(root, key);
        if (value == nullptr) continue;
        if (!value->is_number_integer()) {
            invalid(key, "must be an integer, not " + type_name(*value));
        }
        const auto n = value->get<int64_t>();
        if (n < 1) invalid(key, "must be at least 1");
        if (n > limits.max_tokens) {
            too_large(key, std::to_string(n) + " is more than this server's limit of " +
                               std::to_string(limits.max_tokens) + " tokens");
        }
        out.max_tokens = n;
    }
    if (const auto* value = field(root, "temperature")) {
        const double t = number(*value, "temperature");
        if (t < 0 || t > 2) invalid("temperature", "must be in [0, 2]");
        out.temperature = t;
    }
    if (const auto* value = field(root, "top_p")) {
        const double p = number(*value, "top_p");
        if (!(p > 0) || p > 1) invalid("top_p", "must be in (0, 1]");
        out.top_p = p;
    }
    if (const auto* value = field(root, "seed")) {
        if (!value->is_number_integer()) invalid("seed", "must be an integer");
        out.seed = value->is_number_unsigned() ? value->get<uint64_t>()
                                               : static_cast<uint64_t>(value->get<int64_t>());
    }
    if (const auto* value = field(root, "stream")) out.stream = boolean(*value, "stream");
    if (const auto* value = field(root, "stream_options")) {
        if (!value->is_object()) invalid("stream_options", "must be an object");
        if (!out.stream) invalid("stream_options", "is only allowed with stream: true");
        if (const auto* usage = field(*value, "include_usage")) {
            out.include_usage = boolean(*usage, "stream_options.include_usage");
        }
    }
    if (const auto* value = field(root, "sarsteer")) {
        if (!value->is_object()) invalid("sarsteer", "must be an object");
        if (const auto* alpha = field(*value, "alpha")) {
            const double a = number(*alpha, "sarsteer.alpha");
            if (a < 0) invalid("sarsteer.alpha", "must be >= 0 (0 turns steering off)");
            out.alpha = a;
        }
    }
    return out;
}

}  // namespace sarsteer::serve
