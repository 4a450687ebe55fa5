// sarsteer::Tokenizer — Qwen2's byte-level BPE tokenizer, without Python or torch.
//
// Basic usage:
//   auto tok = sarsteer::Tokenizer::load("path/to/Qwen2-Audio-7B-Instruct");
//   std::vector<int32_t> ids = tok.encode("<|im_start|>user\nHello<|im_end|>\n");
//   std::string text = tok.decode(ids);
//
// Encoding follows Hugging Face's Qwen2 tokenizer: added tokens (e.g. <|im_start|>) are cut out of
// the raw text first; every other segment is NFC-normalised, split with Qwen2's pre-tokenizer
// regex, mapped byte-wise through GPT-2's bytes_to_unicode table and merged by BPE rank.
//
// Invalid UTF-8 in encode(): each ill-formed sequence is replaced by U+FFFD before normalisation
// (the maximal-subpart rule, as Python's bytes.decode(errors="replace")), so it encodes to the
// tokens of "\xEF\xBF\xBD". decode() applies the same rule to the concatenated token bytes.
//
// Thread-safety: a loaded Tokenizer is immutable. All const member functions may be called from
// any number of threads at once; encode() keeps its BPE cache per call. Copies are cheap and share
// the loaded tables.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sarsteer {

// Contents of Qwen2 / Qwen2-Audio control tokens (look their ids up with Tokenizer::token_id).
namespace tokens {
inline constexpr std::string_view kEndOfText = "<|endoftext|>";
inline constexpr std::string_view kImStart = "<|im_start|>";
inline constexpr std::string_view kImEnd = "<|im_end|>";
inline constexpr std::string_view kAudio = "<|AUDIO|>";
inline constexpr std::string_view kAudioBos = "<|audio_bos|>";
inline constexpr std::string_view kAudioEos = "<|audio_eos|>";
}  // namespace tokens

// A token matched verbatim in raw text before BPE (tokenizer_config.json added_tokens_decoder,
// tokenizer.json added_tokens).
struct AddedToken {
    int32_t id = 0;
    std::string content;
    bool special = false;  // special tokens are skipped by decode(skip_special=true)
};

class Tokenizer {
public:
    // Loads a tokenizer folder:
    //  - vocab.json + merges.txt (a first line "#version: ..." is skipped), or, when vocab.json is
    //    absent, tokenizer.json (model.vocab, model.merges as "a b" strings or [a, b] pairs,
    //    added_tokens);
    //  - tokenizer_config.json if present: added_tokens_decoder, eos_token, pad_token.
    // The vocabulary must contain all 256 single-byte symbols. Ids must be below 2^24.
    // Added tokens' lstrip/rstrip/single_word/normalized flags are ignored (all false in Qwen2);
    // tokenizer.json's normalizer/pre_tokenizer sections are not read: Qwen2's are built in.
    // Throws Error naming the offending file: kNotFound (missing vocab/merges), kCorruptInput
    // (malformed JSON or merges line, merge parts or result not in the vocabulary, duplicate or
    // conflicting ids, eos_token/pad_token naming no token), kUnsupported (tokenizer.json model
    // type other than BPE), kLimitExceeded (id too large).
    static Tokenizer load(const std::filesystem::path& dir);

    // Text → ids. With parse_special, added tokens in `text` become their ids (leftmost, then
    // longest match; never split or normalised). Without it, added tokens marked special are
    // encoded as ordinary text (non-special added tokens are still matched, as in HF's
    // split_special_tokens). Never throws on any input bytes.
    std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;

    // Ids → UTF-8 text. Added tokens decode to their content (dropped when skip_special and the
    // token is special). Ids without a token (negative, beyond n_vocab(), or holes such as the
    // embedding rows 151649..156031 of Qwen2-Audio) decode to nothing. Ill-formed UTF-8 in the
    // joined bytes becomes U+FFFD.
    std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

    // Id of a token given in vocab.json form (byte-level symbols, e.g. "Ġthe") or an added
    // token's content (e.g. "<|im_end|>").
    std::optional<int32_t> token_id(std::string_view token) const;
    // As token_id, but throws Error(kNotFound) naming the tokenizer folder and the token.
    int32_t required_token_id(std::string_view token) const;

    // The token's string in vocab.json form or the added token's content; nullopt for ids
    // without a token. The view stays valid while this Tokenizer or a copy of it lives.
    std::optional<std::string_view> token_text(int32_t id) const;
    // The raw bytes the token stands for (not necessarily valid UTF-8 on its own).
    std::optional<std::string_view> token_bytes(int32_t id) const;

    // Max id + 1 (151649 for Qwen2). Every id below it has a token unless the files left holes.
    int32_t n_vocab() const;
    // Number of ids that have a token.
    int32_t n_tokens() const;
    bool is_special(int32_t id) const;
    const std::vector<AddedToken>& added_tokens() const;

    // tokenizer_config.json's eos_token / pad_token (string or {"content": ...}); nullopt when
    // absent or null.
    std::optional<int32_t> eos_id() const;
    std::optional<int32_t> pad_id() const;

    const std::filesystem::path& dir() const;

    ~Tokenizer();
    Tokenizer(const Tokenizer&);
    Tokenizer& operator=(const Tokenizer&);
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    // Defined in src/text/tokenizer.cpp. A moved-from Tokenizer may only be assigned or destroyed.
    struct Impl;

private:
    explicit Tokenizer(std::shared_ptr<const Impl> impl);
    std::shared_ptr<const Impl> impl_;
};

}  // namespace sarsteer
