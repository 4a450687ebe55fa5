// sarsteer::Error — the one exception type the library throws.
//
// Every failure caused by input (a file, a request, a flag) is reported as an Error that names
// what was being read and what is wrong with it, so that the CLI can print one line and exit
// non-zero and the server can answer a 4xx. Internal invariant violations may still throw
// std::logic_error; they are bugs, not user errors.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace sarsteer {

enum class ErrorKind {
    kInvalidArgument,  // a flag or API argument is out of range or inconsistent
    kNotFound,         // a file, tensor or key that must exist does not
    kCorruptInput,     // a file exists but its content is malformed or lies about itself
    kUnsupported,      // well-formed but not something sarsteer handles (e.g. model_type)
    kLimitExceeded,    // input larger than a configured or built-in limit
    kIo,               // the operating system refused a read or write
    kInternal,         // a bug or a failure inside a dependency
};

std::string_view error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
public:
    // `subject` names what was being processed (usually a file path; may be empty),
    // `problem` says what is wrong, `hint` (optional) what the user might do about it.
    Error(ErrorKind kind, std::string subject, std::string problem, std::string hint = {});

    ErrorKind kind() const noexcept { return kind_; }
    const std::string& subject() const noexcept { return subject_; }
    const std::string& problem() const noexcept { return problem_; }
    const std::string& hint() const noexcept { return hint_; }

private:
    ErrorKind kind_;
    std::string subject_;
    std::string problem_;
    std::string hint_;
};

}  // namespace sarsteer
