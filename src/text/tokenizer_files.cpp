#include "text/tokenizer_files.h"

#include <fstream>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "sarsteer/error.h"

namespace sarsteer::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Tokenizer files are a few MB; anything far larger is not one.
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{512} << 20;

std::string read_file(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        throw Error(ErrorKind::kNotFound, path.string(), "file not found",
                    "a tokenizer folder needs vocab.json + merges.txt or tokenizer.json");
    }
    const std::uintmax_t size = fs::file_size(path, ec);
    if (!ec && size > kMaxFileBytes) {
        throw Error(ErrorKind::kLimitExceeded, path.string(),
                    "file is " + std::to_string(size) + " bytes, larger than any tokenizer file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::kIo, path.string(), "cannot open file for reading");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw Error(ErrorKind::kIo, path.string(), "read failed");
    return std::move(buffer).str();
}

json read_json(const fs::path& path) {
    const std::string text = read_file(path);
    io::check_json_depth(text, path.string());
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw Error(ErrorKind::kCorruptInput, path.string(),
                    std::string("malformed JSON: ") + e.what());
    }
}

[[noreturn]] void corrupt(const fs::path& path, const std::string& problem) {
    throw Error(ErrorKind::kCorruptInput, path.string(), problem);
}

int32_t parse_id(const json& value, const fs::path& path, const std::string& what) {
    if (!value.is_number_integer()) corrupt(path, what + ": id is not an integer");
    const int64_t id =
        value.is_number_unsigned()
            ? static_cast<int64_t>(std::min<uint64_t>(value.get<uint64_t>(), uint64_t{1} << 62))
            : value.get<int64_t>();
    if (id < 0) corrupt(path, what + ": negative id " + std::to_string(id));
    if (id >= kMaxTokenId) {
        throw Error(
            ErrorKind::kLimitExceeded, path.string(),
            what + ": id " + std::to_string(id) + " is not below " + std::to_string(kMaxTokenId));
    }
    return static_cast<int32_t>(id);
}

void read_vocab_object(const json& vocab, const fs::path& path, TokenizerFiles& out) {
    if (!vocab.is_object()) corrupt(path, "vocabulary is not a JSON object of token → id");
    out.vocab.reserve(vocab.size());
    for (const auto& [token, value] : vocab.items()) {
        out.vocab.emplace_back(token, parse_id(value, path, "token \"" + token + "\""));
    }
}

// "a b" → {a, b}; false unless exactly two non-empty parts separated by spaces/tabs.
bool split_merge(std::string_view line, std::string& left, std::string& right) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    std::vector<std::string_view> parts;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) ++i;
        const std::size_t begin = i;
        while (i < line.size() && !is_space(line[i])) ++i;
        if (i > begin) parts.push_back(line.substr(begin, i - begin));
    }
    if (parts.size() != 2) return false;
    left.assign(parts[0]);
    right.assign(parts[1]);
    return true;
}

std::string excerpt(std::string_view line) {
    constexpr std::size_t kMax = 60;
    return std::string(line.substr(0, kMax)) + (line.size() > kMax ? "..." : "");
}

void read_merges_txt(const fs::path& path, TokenizerFiles& out) {
    const std::string text = read_file(path);
    std::string_view rest = text;
    std::size_t line_no = 0;
    while (!rest.empty()) {
        const std::size_t eol = rest.find('\n');
        std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
        ++line_no;
        // As Qwen2Tokenizer: a "#version" header only on the first line; blank lines skipped.
        if (line_no == 1 && line.starts_with("#version")) continue;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        MergeLine merge;
        if (!split_merge(line, merge.left, merge.right)) {
            corrupt(path, "line " + std::to_string(line_no) +
                              ": expected two space-separated symbols, got \"" + excerpt(line) +
                              "\"");
        }
        merge.line = line_no;
        out.merges.push_back(std::move(merge));
    }
}

// An added token's "special" flag; false when absent, as HF's AddedToken.
bool read_special_flag(const json& entry, const fs::path& path, const std::string& what) {
    if (!entry.contains("special")) return false;
    if (!entry["special"].is_boolean()) corrupt(path, what + ": \"special\" is not a boolean");
    return entry["special"].get<bool>();
}

void read_added_token_list(const json& list, const fs::path& path, TokenizerFiles& out) {
    if (!list.is_array()) corrupt(path, "added_tokens is not an array");
    for (const json& entry : list) {
        if (!entry.is_object() || !entry.contains("id") || !entry.contains("content") ||
            !entry["content"].is_string()) {
            corrupt(path, "added_tokens entry without integer id and string content");
        }
        AddedToken token;
        token.content = entry["content"].get<std::string>();
        token.id = parse_id(entry["id"], path, "added token \"" + token.content + "\"");
        token.special = read_special_flag(entry, path, "added token \"" + token.content + "\"");
        out.added.push_back({std::move(token), path});
    }
}

void read_tokenizer_json(const fs::path& path, TokenizerFiles& out) {
    const json root = read_json(path);
    if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
        corrupt(path, "no \"model\" object");
    }
    const json& model = root["model"];
    if (model.contains("type") && model["type"] != "BPE") {
        throw Error(ErrorKind::kUnsupported, path.string(),
                    "model type " + model["type"].dump() + " is not BPE");
    }
    if (!model.contains("vocab")) corrupt(path, "model has no \"vocab\"");
    read_vocab_object(model["vocab"], path, out);
    out.vocab_file = path;
    out.merges_file = path;
    const json& merges = model.contains("merges") ? model["merges"] : json::array();
    if (!merges.is_array()) corrupt(path, "model.merges is not an array");
    std::size_t index = 0;
    for (const json& entry : merges) {
        ++index;
        MergeLine merge;
        merge.line = index;
        bool ok = false;
        if (entry.is_string()) {
            ok = split_merge(entry.get_ref<const std::string&>(), merge.left, merge.right);
        } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
                   entry[1].is_string()) {
            merge.left = entry[0].get<std::string>();
            merge.right = entry[1].get<std::string>();
            ok = !merge.left.empty() && !merge.right.empty();
        }
        if (!ok) {
            corrupt(path, "model.merges[" + std::to_string(index - 1) +
                              "]: expected \"a b\" or [\"a\", \"b\"], got " +
                              excerpt(entry.dump()));
        }
        out.merges.push_back(std::move(merge));
    }
    if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
        read_added_token_list(root["added_tokens"], path, out);
    }
}

// eos_token / pad_token: a string, {"content": string}, null or absent.
std::optional<std::string> special_token_field(const json& config, const char* key,
                                               const fs::path& path) {
    if (!config.contains(key) || config[key].is_null()) return std::nullopt;
    const json& value = config[key];
    if (value.is_string()) return value.get<std::string>();
    if (value.is_object() && value.contains("content") && value["content"].is_string()) {
        return value["content"].get<std::string>();
    }
    corrupt(path, std::string(key) + " is neither a string nor an object with string content");
}

void read_tokenizer_config(const fs::path& path, TokenizerFiles& out) {
    const json config = read_json(path);
    if (!config.is_object()) corrupt(path, "not a JSON object");
    out.config_file = path;
    if (config.contains("added_tokens_decoder") && !config["added_tokens_decoder"].is_null()) {
        const json& decoder = config["added_tokens_decoder"];
        if (!decoder.is_object()) corrupt(path, "added_tokens_decoder is not an object");
        for (const auto& [key, entry] : decoder.items()) {
            int64_t id = 0;
            const bool numeric = !key.empty() && key.size() <= 9 &&
                                 key.find_first_not_of("0123456789") == std::string::npos;
            if (numeric) id = std::stoll(key);
            if (!numeric || id >= kMaxTokenId) {
                corrupt(path, "added_tokens_decoder key \"" + key + "\" is not a token id below " +
                                  std::to_string(kMaxTokenId));
            }
            if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string()) {
                corrupt(path, "added_tokens_decoder[" + key + "] has no string content");
            }
            AddedToken token;
            token.id = static_cast<int32_t>(id);
            token.content = entry["content"].get<std::string>();
            token.special = read_special_flag(entry, path, "added_tokens_decoder[" + key + "]");
            out.added.push_back({std::move(token), path});
        }
    }
    out.eos_token = special_token_field(config, "eos_token", path);
    out.pad_token = special_token_field(config, "pad_token", path);
}

}  // namespace

TokenizerFiles read_tokenizer_files(const fs::path& dir) {
    TokenizerFiles out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw Error(ErrorKind::kNotFound, dir.string(), "tokenizer folder not found");
    }
    const fs::path vocab_json = dir / "vocab.json";
    const fs::path tokenizer_json = dir / "tokenizer.json";
    if (!fs::exists(vocab_json, ec) && fs::exists(tokenizer_json, ec)) {
        read_tokenizer_json(tokenizer_json, out);
    } else {
        read_vocab_object(read_json(vocab_json), vocab_json, out);
        out.vocab_file = vocab_json;
        out.merges_file = dir / "merges.txt";
        read_merges_txt(out.merges_file, out);
    }
    const fs::path config = dir / "tokenizer_config.json";
    if (fs::exists(config, ec)) read_tokenizer_config(config, out);
    return out;
}

}  // namespace sarsteer::text
