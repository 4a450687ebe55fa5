#include "serve/openai_response.h"

#include <nlohmann/json.hpp>

#include "sarsteer/error.h"

namespace sarsteer::serve {
namespace {

using nlohmann::json;

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string type_for(int status) {
    switch (status) {
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 404: return "not_found_error";
        case 429: return "rate_limit_error";
        default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

json usage_json(const Usage& usage) {
    return {{"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

json base_object(const CompletionInfo& info, const char* object) {
    return {{"id", info.id},
            {"object", object},
            {"created", info.created},
            {"model", info.model},
            {"system_fingerprint", nullptr},
            {"sarsteer", {{"defense", info.defense}, {"alpha", info.alpha}}}};
}

}  // namespace

std::string ApiError::to_json() const {
    return dump({{"error",
                  {{"message", message},
                   {"type", type},
                   {"param", param.empty() ? json(nullptr) : json(param)},
                   {"code", code.empty() ? json(nullptr) : json(code)}}}});
}

ApiError api_error(int status, std::string code, std::string message, std::string param) {
    return ApiError{status, type_for(status), std::move(code), std::move(param),
                    std::move(message)};
}

ApiError api_error_from(const Error& error) {
    switch (error.kind()) {
        case ErrorKind::kInvalidArgument:
        case ErrorKind::kCorruptInput:
        case ErrorKind::kNotFound:
            return api_error(400, "invalid_value", error.what(), error.subject());
        case ErrorKind::kUnsupported:
            return api_error(400, "unsupported", error.what(), error.subject());
        case ErrorKind::kLimitExceeded:
            return api_error(400, "limit_exceeded", error.what(), error.subject());
        case ErrorKind::kIo:
        case ErrorKind::kInternal: break;
    }
    return api_error(500, "server_error", "the server failed to answer this request");
}

std::string completion_json(const CompletionInfo& info, std::string_view text,
                            std::string_view finish_reason, const Usage& usage) {
    auto out = base_object(info, "chat.completion");
    out["choices"] = json::array({{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", text}}},
                                   {"logprobs", nullptr},
                                   {"finish_reason", finish_reason}}});
    out["usage"] = usage_json(usage);
    return dump(out);
}

std::string chunk_event(const CompletionInfo& info, std::string_view content_delta, bool role_delta,
                        std::string_view finish_reason) {
    auto out = base_object(info, "chat.completion.chunk");
    json delta = json::object();
    if (role_delta) delta["role"] = "assistant";
    if (role_delta || !content_delta.empty()) delta["content"] = content_delta;
    out["choices"] = json::array(
        {{{"index", 0},
          {"delta", delta},
          {"logprobs", nullptr},
          {"finish_reason", finish_reason.empty() ? json(nullptr) : json(finish_reason)}}});
    return "data: " + dump(out) + "\n\n";
}

std::string usage_event(const CompletionInfo& info, const Usage& usage) {
    auto out = base_object(info, "chat.completion.chunk");
    out["choices"] = json::array();
    out["usage"] = usage_json(usage);
    return "data: " + dump(out) + "\n\n";
}

}  // namespace sarsteer::serve
