// OpenAI response bodies: the error object, chat.completion, chat.completion.chunk (SSE).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sarsteer {
class Error;
}

namespace sarsteer::serve {

// {"error": {"message", "type", "param", "code"}} with the HTTP status it goes with.
struct ApiError {
    int status = 500;
    std::string type;     // invalid_request_error, authentication_error, permission_error, ...
    std::string code;     // machine-readable, e.g. "invalid_value", "limit_exceeded"
    std::string param;    // the offending request parameter, or empty (JSON null)
    std::string message;  // one clear sentence

    std::string to_json() const;
};

// The status and OpenAI fields for a sarsteer::Error raised while handling a request: bad
// input (kInvalidArgument, kCorruptInput) -> 400 invalid_value, kUnsupported -> 400
// unsupported, kLimitExceeded -> 400 limit_exceeded, everything else -> 500 server_error
// (with a generic message; the details go to the log). The subject becomes `param`.
ApiError api_error_from(const Error& error);

ApiError api_error(int status, std::string code, std::string message, std::string param = {});

struct Usage {
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
};

struct CompletionInfo {
    std::string id;       // "chatcmpl-..."
    int64_t created = 0;  // Unix seconds
    std::string model;
    std::string defense;  // reported in the "sarsteer" extension object
    double alpha = 0;     // steering strength applied to this request (0: off)
};

// A whole chat.completion object.
std::string completion_json(const CompletionInfo& info, std::string_view text,
                            std::string_view finish_reason, const Usage& usage);

// One server-sent event "data: <chat.completion.chunk>\n\n". `role_delta` starts the message;
// a non-empty finish_reason ends the choice; `usage` alone (choices: []) is the final usage
// chunk that stream_options.include_usage asks for.
std::string chunk_event(const CompletionInfo& info, std::string_view content_delta, bool role_delta,
                        std::string_view finish_reason);
std::string usage_event(const CompletionInfo& info, const Usage& usage);
inline constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";

}  // namespace sarsteer::serve
