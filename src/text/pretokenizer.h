// Qwen2's pre-tokenizer: the regex that cuts normalised text into pieces before BPE.
#pragma once

#include <memory>
#include <string_view>

namespace sarsteer::text {

// The pattern as written for Python's `regex` / HF tokenizers, where \s is Unicode White_Space.
inline constexpr std::string_view kQwen2PreTokenizerPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class PreTokenizer {
public:
    // Compiles the Qwen2 pattern (JIT when available). Throws Error(kInternal) on failure.
    PreTokenizer();
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    // Per-thread matching state; one per encode call.
    class Cursor {
    public:
        // `text` must be valid UTF-8 and outlive the cursor.
        Cursor(const PreTokenizer& owner, std::string_view text);
        ~Cursor();
        Cursor(const Cursor&) = delete;
        Cursor& operator=(const Cursor&) = delete;

        // Next piece; false at the end. Pieces are consecutive and cover the whole text (a gap
        // the regex does not match, which Qwen2's pattern never leaves, is a piece of its own).
        bool next(std::string_view& piece);

    private:
        struct State;
        std::unique_ptr<State> state_;
    };

    bool jit() const { return jit_; }

private:
    struct Code;
    std::unique_ptr<Code> code_;
    bool jit_ = false;
};

}  // namespace sarsteer::text
