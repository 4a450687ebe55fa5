#include "sarsteer/error.h"

namespace sarsteer {
namespace {

std::string format_message(const std::string& subject, const std::string& problem,
                           const std::string& hint) {
    std::string message = subject.empty() ? problem : subject + ": " + problem;
    if (!hint.empty()) message += " (hint: " + hint + ")";
    return message;
}

}  // namespace

std::string_view error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kInvalidArgument: return "invalid_argument";
        case ErrorKind::kNotFound: return "not_found";
        case ErrorKind::kCorruptInput: return "corrupt_input";
        case ErrorKind::kUnsupported: return "unsupported";
        case ErrorKind::kLimitExceeded: return "limit_exceeded";
        case ErrorKind::kIo: return "io";
        case ErrorKind::kInternal: return "internal";
    }
    return "unknown";
}

Error::Error(ErrorKind kind, std::string subject, std::string problem, std::string hint)
    : std::runtime_error(format_message(subject, problem, hint)),
      kind_(kind),
      subject_(std::move(subject)),
      problem_(std::move(problem)),
      hint_(std::move(hint)) {}

}  // namespace sarsteer
