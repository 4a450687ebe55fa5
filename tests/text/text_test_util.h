// Helpers for the text tests: the golden cases and tiny hand-written tokenizer folders.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "sarsteer/tokenizer.h"

namespace sarsteer::testing {

// The real Qwen2 tokenizer fixture folder.
std::filesystem::path qwen2_tokenizer_dir();
// Loaded once per test process.
const Tokenizer& qwen2_tokenizer();

struct GoldenCase {
    std::size_t line = 0;  // 1-based line in cases.jsonl
    std::string text;
    std::vector<int32_t> ids;
    std::string source;
};
// Every case of cases.jsonl; throws std::runtime_error when the file cannot be read.
std::vector<GoldenCase> load_golden_cases();

// GPT-2's bytes_to_unicode, derived here from its definition (independently of the library):
// the vocab.json spelling of byte b, as UTF-8.
std::string gpt2_byte_symbol(unsigned char b);

// A tokenizer folder with ids 0..255 for the 256 byte symbols (id == byte value), then `extra`
// tokens (vocab.json spelling) with consecutive ids from 256, merges.txt from `merges` ("a b"
// lines, after a #version header) and, unless empty, tokenizer_config.json with `config_json`.
void write_byte_vocab_dir(const std::filesystem::path& dir, const std::vector<std::string>& extra,
                          const std::vector<std::string>& merges, const std::string& config_json);

void write_text(const std::filesystem::path& path, const std::string& text);

std::string escape_for_message(const std::string& text);

}  // namespace sarsteer::testing
