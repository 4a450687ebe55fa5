#include "io/json_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "sarsteer/error.h"

namespace sarsteer::io {

std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw Error(ErrorKind::kNotFound, path.string(), "file not found");
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(ErrorKind::kIo, path.string(), "cannot read: " + ec.message());
    if (size > max_bytes) {
        throw Error(ErrorKind::kLimitExceeded, path.string(),
                    "file is " + std::to_string(size) + " bytes, more than the limit of " +
                        std::to_string(max_bytes));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(ErrorKind::kIo, path.string(),
                    std::string("cannot open: ") + std::strerror(errno));
    std::string text(size, '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::size_t>(in.gcount()) != size) {
        throw Error(ErrorKind::kIo, path.string(), "short read");
    }
    return text;
}

void check_json_depth(std::string_view text, const std::string& subject, int max_depth) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character cannot end the string
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                throw Error(ErrorKind::kLimitExceeded, subject,
                            "JSON nests deeper than " + std::to_string(max_depth) + " levels");
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
}

nlohmann::json parse_json(std::string_view text, const std::string& subject) {
    check_json_depth(text, subject);
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        // parse_error for syntax, out_of_range.406 for a number too large for a double.
        // e.what() starts with "[json.exception.parse_error.101] "; keep the human part.
        std::string what = e.what();
        if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
        throw Error(ErrorKind::kCorruptInput, subject, "invalid JSON: " + what);
    }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
    return parse_json(read_text_file(path), path.string());
}

namespace {

template <typename T>
bool json_is(const nlohmann::json& value) {
    if constexpr (std::is_same_v<T, bool>) {
        return value.is_boolean();
    } else if constexpr (std::is_integral_v<T>) {
        return value.is_number_integer();
    } else if constexpr (std::is_floating_point_v<T>) {
        return value.is_number();
    } else if constexpr (std::is_same_v<T, std::string>) {
        return value.is_string();
    } else {
        static_assert(sizeof(T) == 0, "unsupported field type");
    }
}

template <typename T>
constexpr const char* json_type_name() {
    if constexpr (std::is_same_v<T, bool>) {
        return "a boolean";
    } else if constexpr (std::is_integral_v<T>) {
        return "an integer";
    } else if constexpr (std::is_floating_point_v<T>) {
        return "a number";
    } else {
        return "a string";
    }
}

template <typename T>
T convert_field(const nlohmann::json& value, std::string_view key, const std::string& subject) {
    if (!json_is<T>(value)) {
        throw Error(ErrorKind::kCorruptInput, subject,
                    "field \"" + std::string(key) + "\" must be " + json_type_name<T>() + ", got " +
                        value.dump());
    }
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        // Reject values that do not fit the target type instead of wrapping.
        if (value.is_number_unsigned()) {
            const auto v = value.get<std::uint64_t>();
            if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
                throw Error(ErrorKind::kCorruptInput, subject,
                            "field \"" + std::string(key) + "\" is out of range: " + value.dump());
            }
            return static_cast<T>(v);
        }
        const auto v = value.get<std::int64_t>();
        if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
            v > static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
            throw Error(ErrorKind::kCorruptInput, subject,
                        "field \"" + std::string(key) + "\" is out of range: " + value.dump());
        }
        return static_cast<T>(v);
    } else {
        return value.get<T>();
    }
}

}  // namespace

template <typename T>
T required_field(const nlohmann::json& object, std::string_view key, const std::string& subject) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        throw Error(ErrorKind::kCorruptInput, subject,
                    "missing required field \"" + std::string(key) + "\"");
    }
    return convert_field<T>(*it, key, subject);
}

template <typename T>
T optional_field(const nlohmann::json& object, std::string_view key, T fallback,
                 const std::string& subject) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    return convert_field<T>(*it, key, subject);
}

#define SARSTEER_INSTANTIATE_FIELD(T)                                                          \
    template T required_field<T>(const nlohmann::json&, std::string_view, const std::string&); \
    template T optional_field<T>(const nlohmann::json&, std::string_view, T, const std::string&);
SARSTEER_INSTANTIATE_FIELD(bool)
SARSTEER_INSTANTIATE_FIELD(int)
SARSTEER_INSTANTIATE_FIELD(std::int64_t)
SARSTEER_INSTANTIATE_FIELD(double)
SARSTEER_INSTANTIATE_FIELD(std::string)
#undef SARSTEER_INSTANTIATE_FIELD

}  // namespace sarsteer::io
