// JSONL manifests of spoken prompts: one object per line with `id`, `audio` (a path relative to
// the manifest's folder; optional for text-only use), `question`, `label`, and any other fields
// kept verbatim.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sarsteer::io {

struct ManifestItem {
    std::string id;
    std::optional<std::filesystem::path> audio;  // resolved against the manifest's folder
    std::string question;
    std::string label;
    nlohmann::json fields;  // the whole line as read
};

struct ManifestOptions {
    bool require_audio = true;         // every item needs an existing audio file
    std::optional<std::size_t> limit;  // keep the first n items; more than available is an Error
};

struct Manifest {
    std::filesystem::path path;
    std::string sha256;  // of the file's bytes
    std::vector<ManifestItem> items;

    // Throws Error naming the file and line: bad JSON, missing/empty id or question, duplicate
    // id, audio missing (when required) or not a file, empty manifest, limit larger than the
    // number of items.
    static Manifest load(const std::filesystem::path& path, const ManifestOptions& options = {});
    // load() on text already read: `path` names the manifest in errors and is the folder audio
    // paths resolve against. load() is read_text_file + parse.
    static Manifest parse(std::string_view text, const std::filesystem::path& path,
                          const ManifestOptions& options = {});
};

}  // namespace sarsteer::io
