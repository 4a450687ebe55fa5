// Reading a tokenizer folder's files into plain tables; no cross-file checks yet (those are in
// tokenizer.cpp, which knows which file to blame).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sarsteer/tokenizer.h"

namespace sarsteer::text {

// Ids at or above this are rejected: tables are indexed by id.
inline constexpr int64_t kMaxTokenId = int64_t{1} << 24;

struct MergeLine {
    std::string left;
    std::string right;
    std::size_t line = 0;  // 1-based line in merges.txt, or 1-based index in tokenizer.json
};

struct AddedTokenSource {
    AddedToken token;
    std::filesystem::path file;
};

struct TokenizerFiles {
    std::filesystem::path vocab_file;                    // vocab.json or tokenizer.json
    std::vector<std::pair<std::string, int32_t>> vocab;  // vocab.json spelling → id
    std::filesystem::path merges_file;                   // merges.txt or tokenizer.json
    std::vector<MergeLine> merges;                       // in rank order
    std::vector<AddedTokenSource> added;
    std::filesystem::path config_file;  // tokenizer_config.json; empty when absent
    std::optional<std::string> eos_token;
    std::optional<std::string> pad_token;
};

// Reads vocab.json + merges.txt, or tokenizer.json, plus tokenizer_config.json when present.
// Throws Error (kNotFound, kIo, kCorruptInput, kUnsupported, kLimitExceeded) naming the file.
TokenizerFiles read_tokenizer_files(const std::filesystem::path& dir);

}  // namespace sarsteer::text
