#include "text/pretokenizer.h"

#include <string>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "sarsteer/error.h"
#include "text/utf8.h"

namespace sarsteer::text {
namespace {

// Unicode White_Space, which is what \s means in HF tokenizers (Oniguruma) and Python's `regex`.
// PCRE2's \s under PCRE2_UCP differs: it also matches U+180E (via \h), so the class is spelled
// out. U+200B, U+FEFF and U+180E are not White_Space; U+0085, U+00A0, VT and FF are.
constexpr std::string_view kWhiteSpace =
    R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// kQwen2PreTokenizerPattern with \s → [WS] and \S → [^WS].
std::string pcre2_pattern() {
    const std::string ws(kWhiteSpace);
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^)" + ws +
           R"(\p{L}\p{N}]+[\r\n]*|[)" + ws + R"(]*[\r\n]+|[)" + ws + R"(]+(?![^)" + ws + R"(])|[)" +
           ws + "]+";
}

}  // namespace

struct PreTokenizer::Code {
    pcre2_code* code = nullptr;
    ~Code() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer() : code_(std::make_unique<Code>()) {
    const std::string pattern = pcre2_pattern();
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (code_->code == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof(message));
        throw Error(ErrorKind::kInternal, "pre-tokenizer regex",
                    "PCRE2 compile failed at offset " + std::to_string(error_offset) + ": " +
                        reinterpret_cast<const char*>(message));
    }
    // JIT is an optimisation only: without it the interpreter gives the same matches.
    jit_ = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

PreTokenizer::~PreTokenizer() = default;

struct PreTokenizer::Cursor::State {
    const pcre2_code* code = nullptr;
    pcre2_match_data* match_data = nullptr;
    std::string_view text;
    std::size_t pos = 0;
    // A match found after an unmatched gap, returned on the following call.
    std::size_t pending_begin = std::string_view::npos;
    std::size_t pending_end = 0;

    ~State() { pcre2_match_data_free(match_data); }

    // Finds the next match at or after pos. Returns false when there is none.
    bool match(std::size_t& begin, std::size_t& end) {
        // The text was validated by the caller, so PCRE2 need not rescan it on every call.
        int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos,
                             PCRE2_NO_UTF_CHECK, match_data, nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
            // E.g. a JIT stack limit on pathological input: the interpreter uses the heap.
            rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos,
                             PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match_data, nullptr);
        }
        if (rc < 0) return false;
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data);
        begin = ovector[0];
        end = ovector[1];
        return true;
    }
};

PreTokenizer::Cursor::Cursor(const PreTokenizer& owner, std::string_view text)
    : state_(std::make_unique<State>()) {
    state_->code = owner.code_->code;
    state_->match_data = pcre2_match_data_create_from_pattern(owner.code_->code, nullptr);
    if (state_->match_data == nullptr) {
        throw Error(ErrorKind::kInternal, "pre-tokenizer regex", "out of memory");
    }
    state_->text = text;
}

PreTokenizer::Cursor::~Cursor() = default;

bool PreTokenizer::Cursor::next(std::string_view& piece) {
    State& s = *state_;
    if (s.pos >= s.text.size()) return false;
    std::size_t begin = 0;
    std::size_t end = 0;
    if (s.pending_begin != std::string_view::npos) {
        begin = s.pending_begin;
        end = s.pending_end;
        s.pending_begin = std::string_view::npos;
    } else if (!s.match(begin, end)) {
        // No further match (or a matcher failure): the rest is one piece.
        begin = s.pos;
        end = s.text.size();
    }
    if (begin > s.pos) {
        // Unmatched gap before the match: return it first, keep the match for the next call.
        s.pending_begin = begin;
        s.pending_end = end;
        piece = s.text.substr(s.pos, begin - s.pos);
        s.pos = begin;
        return true;
    }
    if (end <= begin) {
        // An empty match would loop forever; take one code point instead.
        std::size_t len = utf8_sequence_length(s.text, begin, nullptr);
        end = begin + (len == 0 ? 1 : len);
    }
    piece = s.text.substr(begin, end - begin);
    s.pos = end;
    return true;
}

}  // namespace sarsteer::text
