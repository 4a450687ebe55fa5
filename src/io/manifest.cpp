#include "io/manifest.h"

#include <cstdint>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "io/json_file.h"
#include "io/sha256.h"
#include "sarsteer/error.h"

namespace sarsteer::io {
namespace {

constexpr std::size_t kMaxLineBytes = std::size_t{1} << 20;  // 1 MiB per JSONL line

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

// Errors name the manifest (subject) and the 1-based line (start of the problem).
[[noreturn]] void fail(ErrorKind kind, const std::string& subject, std::size_t line,
                       const std::string& problem, std::string hint = {}) {
    throw Error(kind, subject, "line " + std::to_string(line) + ": " + problem, std::move(hint));
}

// A field that must be a non-empty string (whitespace only counts as empty).
std::string nonempty_string(const nlohmann::json& object, std::string_view key,
                            const std::string& subject, std::size_t line) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        fail(ErrorKind::kCorruptInput, subject, line,
             "missing required field \"" + std::string(key) + "\"");
    }
    if (!it->is_string()) {
        fail(ErrorKind::kCorruptInput, subject, line,
             "field \"" + std::string(key) + "\" must be a string, got " + it->dump());
    }
    auto value = it->get<std::string>();
    if (is_blank(value)) {
        fail(ErrorKind::kCorruptInput, subject, line,
             "field \"" + std::string(key) + "\" is empty");
    }
    return value;
}

// `id` is a non-empty string, or an integer written as its decimal string.
std::string read_id(const nlohmann::json& object, const std::string& subject, std::size_t line) {
    auto it = object.find("id");
    if (it != object.end() && it->is_number_unsigned()) {
        return std::to_string(it->get<std::uint64_t>());
    }
    if (it != object.end() && it->is_number_integer()) {
        return std::to_string(it->get<std::int64_t>());
    }
    if (it != object.end() && !it->is_null() && !it->is_string()) {
        fail(ErrorKind::kCorruptInput, subject, line,
             "field \"id\" must be a string or an integer, got " + it->dump());
    }
    return nonempty_string(object, "id", subject, line);
}

// nlohmann reports positions inside the one-line text it parsed ("at line 1, column 9"); the
// line number we prefix is the useful one, so keep only the column.
std::string strip_inner_line(std::string problem) {
    constexpr std::string_view kInner = "at line 1, column ";
    if (auto pos = problem.find(kInner); pos != std::string::npos) {
        problem.replace(pos, kInner.size(), "at column ");
    }
    return problem;
}

}  // namespace

Manifest Manifest::load(const std::filesystem::path& path, const ManifestOptions& options) {
    if (options.limit && *options.limit == 0) {
        throw Error(ErrorKind::kInvalidArgument, path.string(), "limit must be at least 1, got 0");
    }
    return parse(read_text_file(path), path, options);  // refuses files over 256 MB
}

Manifest Manifest::parse(std::string_view text, const std::filesystem::path& path,
                         const ManifestOptions& options) {
    const std::string subject = path.string();
    if (options.limit && *options.limit == 0) {
        throw Error(ErrorKind::kInvalidArgument, subject, "limit must be at least 1, got 0");
    }

    const std::filesystem::path folder = path.parent_path();

    Manifest manifest;
    manifest.path = path;
    manifest.sha256 = sha256_hex(text);  // of the bytes as read, BOM included

    std::vector<std::size_t> line_of;  // 1-based line of each item, for audio errors below
    std::unordered_map<std::string, std::size_t> first_line_of_id;

    std::string_view rest(text);
    if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 BOM
    std::size_t line_number = 0;
    while (!rest.empty()) {
        ++line_number;
        const auto newline = rest.find('\n');
        std::string_view line = rest.substr(0, newline);
        rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > kMaxLineBytes) {
            fail(ErrorKind::kLimitExceeded, subject, line_number,
                 "line is " + std::to_string(line.size()) + " bytes, more than the limit of " +
                     std::to_string(kMaxLineBytes));
        }
        if (is_blank(line)) continue;

        nlohmann::json object;
        try {
            object = parse_json(line, subject);
        } catch (const Error& e) {
            fail(e.kind(), subject, line_number, strip_inner_line(e.problem()));
        }
        if (!object.is_object()) {
            fail(ErrorKind::kCorruptInput, subject, line_number,
                 std::string("expected a JSON object, got ") + object.type_name());
        }

        ManifestItem item;
        item.id = read_id(object, subject, line_number);
        item.question = nonempty_string(object, "question", subject, line_number);
        if (auto it = object.find("label"); it != object.end() && !it->is_null()) {
            if (!it->is_string()) {
                fail(ErrorKind::kCorruptInput, subject, line_number,
                     "field \"label\" must be a string, got " + it->dump());
            }
            item.label = it->get<std::string>();
        }
        if (auto it = object.find("audio"); it != object.end() && !it->is_null()) {
            if (!it->is_string()) {
                fail(ErrorKind::kCorruptInput, subject, line_number,
                     "field \"audio\" must be a string path, got " + it->dump());
            }
            const auto audio = it->get<std::string>();
            if (audio.empty()) {
                fail(ErrorKind::kCorruptInput, subject, line_number, "field \"audio\" is empty");
            }
            // operator/ keeps an absolute `audio` as it is.
            item.audio = (folder / std::filesystem::path(audio)).lexically_normal();
        }

        auto [seen, inserted] = first_line_of_id.emplace(item.id, line_number);
        if (!inserted) {
            fail(ErrorKind::kCorruptInput, subject, line_number,
                 "duplicate id \"" + item.id + "\" (first on line " + std::to_string(seen->second) +
                     ")");
        }
        item.fields = std::move(object);
        manifest.items.push_back(std::move(item));
        line_of.push_back(line_number);
    }

    if (manifest.items.empty()) {
        throw Error(ErrorKind::kCorruptInput, subject,
                    "no items (" + std::to_string(line_number) + " lines, all blank)");
    }
    if (options.limit) {
        if (*options.limit > manifest.items.size()) {
            throw Error(ErrorKind::kInvalidArgument, subject,
                        "limit " + std::to_string(*options.limit) + " is more than the " +
                            std::to_string(manifest.items.size()) + " items in the manifest");
        }
        manifest.items.resize(*options.limit);
    }

    // Audio is checked only for the items kept, so a limit can run on a partly synthesized set.
    if (options.require_audio) {
        for (std::size_t i = 0; i < manifest.items.size(); ++i) {
            const auto& item = manifest.items[i];
            if (!item.audio) {
                fail(ErrorKind::kCorruptInput, subject, line_of[i],
                     "item \"" + item.id + "\" has no \"audio\" field",
                     "audio is required; add an \"audio\" path relative to the manifest");
            }
            std::error_code ec;
            const auto status = std::filesystem::status(*item.audio, ec);
            if (!std::filesystem::exists(status)) {
                fail(ErrorKind::kNotFound, subject, line_of[i],
                     "audio file not found: " + item.audio->string());
            }
            if (!std::filesystem::is_regular_file(status)) {
                fail(ErrorKind::kNotFound, subject, line_of[i],
                     "audio path is not a regular file: " + item.audio->string());
            }
        }
    }
    return manifest;
}

}  // namespace sarsteer::io
