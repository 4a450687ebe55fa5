// A small byte-level BPE tokenizer written in the exact Hugging Face file layout of
// Qwen2-Audio's (vocab.json, merges.txt, tokenizer_config.json with the real added tokens and
// chat template). Tiny checkpoints (`make-tiny`) and the embedded demo use it, so that no real
// vocabulary has to ship with the project. Its ids differ from the real ones; its special
// tokens' contents and roles do not.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace sarsteer::text {

// The chat_template string of Qwen2-Audio-7B-Instruct's tokenizer_config.json.
extern const std::string_view kQwen2AudioChatTemplate;

struct TinyTokenizerOptions {
    int32_t n_merges = 512;  // BPE merges learned from the corpus
};

// Learns merges from `corpus` (deterministically: most frequent pair first, ties broken by the
// pair's ids), then writes the three tokenizer files into `dir` (created if needed). Ids: 0..255
// the single bytes, then the merges in rank order, then the six Qwen2-Audio added tokens.
// Returns the total number of ids.
int32_t write_tiny_tokenizer(const std::filesystem::path& dir, std::string_view corpus,
                             const TinyTokenizerOptions& options = {});

// A built-in English corpus (FigStep-style questions and answers, chat phrases) for the above.
std::string_view default_tiny_corpus();

}  // namespace sarsteer::text
