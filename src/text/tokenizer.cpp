#include "sarsteer/tokenizer.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>

#include "sarsteer/error.h"
#include "text/added_tokens.h"
#include "text/bpe.h"
#include "text/byte_level.h"
#include "text/normalizer.h"
#include "text/pretokenizer.h"
#include "text/tokenizer_files.h"
#include "text/utf8.h"

namespace sarsteer {
namespace {

namespace fs = std::filesystem;

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct TokenInfo {
    std::string text;   // vocab.json spelling, or an added token's content
    std::string bytes;  // what the token decodes to
    bool present = false;
    bool special = false;
};

// Pieces longer than this are rarely repeated; caching them would only cost memory.
constexpr std::size_t kMaxCachedPieceBytes = 64;

// Unused ids tolerated beyond twice the token count (padding rows, reserved ranges).
constexpr std::size_t kMaxIdGap = 65536;

}  // namespace

struct Tokenizer::Impl {
    fs::path dir;
    std::vector<TokenInfo> tokens;  // indexed by id
    StringMap<int32_t> ids_by_text;
    std::vector<AddedToken> added;
    text::AddedTokenMatcher matcher;
    std::array<int32_t, 256> byte_ids{};
    text::BpeModel bpe;
    text::PreTokenizer pretokenizer;
    std::optional<int32_t> eos;
    std::optional<int32_t> pad;
    int32_t n_tokens = 0;

    const TokenInfo* info(int32_t id) const {
        if (id < 0 || static_cast<std::size_t>(id) >= tokens.size()) return nullptr;
        const TokenInfo& t = tokens[static_cast<std::size_t>(id)];
        return t.present ? &t : nullptr;
    }
};

namespace {

// Per-call encoding state: scratch buffers and the piece → ids cache.
struct EncodeState {
    std::string repaired;
    std::string normalized;
    StringMap<std::pair<uint32_t, uint32_t>> cache;  // piece → (offset, count) in `arena`
    std::vector<int32_t> arena;
};

void encode_piece(const Tokenizer::Impl& im, std::string_view piece, EncodeState& st,
                  std::vector<int32_t>& out) {
    if (piece.size() == 1) {
        out.push_back(im.byte_ids[static_cast<uint8_t>(piece[0])]);
        return;
    }
    if (piece.size() > kMaxCachedPieceBytes) {
        im.bpe.encode(piece, out);
        return;
    }
    if (auto it = st.cache.find(piece); it != st.cache.end()) {
        const auto [offset, count] = it->second;
        out.insert(out.end(), st.arena.begin() + offset, st.arena.begin() + offset + count);
        return;
    }
    const std::size_t before = out.size();
    im.bpe.encode(piece, out);
    const auto offset = static_cast<uint32_t>(st.arena.size());
    st.arena.insert(st.arena.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
    st.cache.emplace(std::string(piece),
                     std::pair{offset, static_cast<uint32_t>(out.size() - before)});
}

// A run of text between added tokens: repair UTF-8, NFC, regex split, BPE.
void encode_segment(const Tokenizer::Impl& im, std::string_view segment, EncodeState& st,
                    std::vector<int32_t>& out) {
    if (text::find_invalid_utf8(segment) != std::string_view::npos) {
        st.repaired.clear();
        text::append_repaired_utf8(st.repaired, segment);
        segment = st.repaired;
    }
    const std::string_view normalized = text::nfc(segment, st.normalized);
    text::PreTokenizer::Cursor cursor(im.pretokenizer, normalized);
    std::string_view piece;
    while (cursor.next(piece)) encode_piece(im, piece, st, out);
}

std::string in_quotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

// Cross-file checks and table building. Errors name the file that introduced the conflict.
std::shared_ptr<Tokenizer::Impl> build(const fs::path& dir, text::TokenizerFiles files) {
    auto im = std::make_shared<Tokenizer::Impl>();
    im->dir = dir;
    const std::string vocab_file = files.vocab_file.string();

    int32_t max_id = -1;
    std::string max_id_file = vocab_file;
    for (const auto& [text, id] : files.vocab) max_id = std::max(max_id, id);
    for (const auto& source : files.added) {
        if (source.token.id > max_id) {
            max_id = source.token.id;
            max_id_file = source.file.string();
        }
    }
    // The table is indexed by id. Real vocabularies are dense (Qwen2: 151665 tokens, ids
    // 0..151664); a few bytes claiming id 16 M must not cost a gigabyte of table.
    const auto n_tokens = files.vocab.size() + files.added.size();
    if (static_cast<std::size_t>(max_id) >= 2 * n_tokens + kMaxIdGap) {
        throw Error(ErrorKind::kCorruptInput, max_id_file,
                    "token ids are sparse: the largest id is " + std::to_string(max_id) + " for " +
                        std::to_string(n_tokens) + " tokens",
                    "ids must be below twice the token count plus " + std::to_string(kMaxIdGap));
    }
    im->tokens.resize(static_cast<std::size_t>(max_id + 1));
    im->ids_by_text.reserve(files.vocab.size() + files.added.size());

    for (auto& [text, id] : files.vocab) {
        TokenInfo& t = im->tokens[static_cast<std::size_t>(id)];
        if (t.present) {
            throw Error(ErrorKind::kCorruptInput, vocab_file,
                        "id " + std::to_string(id) + " is used by both " + in_quotes(t.text) +
                            " and " + in_quotes(text));
        }
        t.present = true;
        t.bytes = text::symbols_to_bytes(text);
        t.text = std::move(text);
        im->ids_by_text.emplace(t.text, id);
    }

    for (auto& source : files.added) {
        AddedToken& a = source.token;
        const std::string file = source.file.string();
        if (a.content.empty()) {
            throw Error(ErrorKind::kCorruptInput, file,
                        "added token " + std::to_string(a.id) + " has empty content");
        }
        TokenInfo& t = im->tokens[static_cast<std::size_t>(a.id)];
        if (auto it = im->ids_by_text.find(a.content);
            it != im->ids_by_text.end() && it->second != a.id) {
            throw Error(ErrorKind::kCorruptInput, file,
                        "added token " + in_quotes(a.content) + " has id " + std::to_string(a.id) +
                            " but the vocabulary gives it id " + std::to_string(it->second));
        }
        if (t.present && t.text != a.content) {
            throw Error(ErrorKind::kCorruptInput, file,
                        "id " + std::to_string(a.id) + " is used by both " + in_quotes(t.text) +
                            " and added token " + in_quotes(a.content));
        }
        // The same token listed twice (tokenizer.json and tokenizer_config.json) is one token.
        auto existing = std::find_if(im->added.begin(), im->added.end(),
                                     [&](const AddedToken& b) { return b.id == a.id; });
        if (existing != im->added.end()) {
            existing->special = existing->special || a.special;
        } else {
            im->added.push_back(a);
        }
        t.present = true;
        t.special = t.special || a.special;
        t.text = a.content;
        t.bytes = a.content;  // added tokens are raw text, not byte-level spelling
        im->ids_by_text.emplace(a.content, a.id);
    }
    for (AddedToken& a : im->added) a.special = im->tokens[static_cast<std::size_t>(a.id)].special;
    im->matcher = text::AddedTokenMatcher(im->added);

    for (int b = 0; b < 256; ++b) {
        const std::string_view symbol = text::byte_symbol(static_cast<uint8_t>(b));
        auto it = im->ids_by_text.find(symbol);
        if (it == im->ids_by_text.end()) {
            throw Error(ErrorKind::kCorruptInput, vocab_file,
                        "byte-level vocabulary lacks the symbol " + in_quotes(symbol) +
                            " for byte " + std::to_string(b),
                        "every one of the 256 byte symbols must be a token");
        }
        im->byte_ids[static_cast<std::size_t>(b)] = it->second;
    }

    std::vector<text::Merge> merges;
    merges.reserve(files.merges.size());
    const std::string merges_file = files.merges_file.string();
    std::string joined;
    for (const text::MergeLine& m : files.merges) {
        auto lookup = [&](const std::string& symbol) {
            auto it = im->ids_by_text.find(symbol);
            if (it == im->ids_by_text.end()) {
                throw Error(ErrorKind::kCorruptInput, merges_file,
                            "merge " + std::to_string(m.line) + " (" + in_quotes(m.left) + " " +
                                in_quotes(m.right) + "): " + in_quotes(symbol) +
                                " is not in the vocabulary");
            }
            return it->second;
        };
        joined = m.left + m.right;
        merges.push_back({lookup(m.left), lookup(m.right), lookup(joined)});
    }
    im->bpe = text::BpeModel(im->byte_ids, merges);

    auto resolve = [&](const std::optional<std::string>& content,
                       const char* key) -> std::optional<int32_t> {
        if (!content) return std::nullopt;
        auto it = im->ids_by_text.find(*content);
        if (it == im->ids_by_text.end()) {
            throw Error(ErrorKind::kCorruptInput, files.config_file.string(),
                        std::string(key) + " " + in_quotes(*content) + " is not a known token");
        }
        return it->second;
    };
    im->eos = resolve(files.eos_token, "eos_token");
    im->pad = resolve(files.pad_token, "pad_token");

    for (const TokenInfo& t : im->tokens) im->n_tokens += t.present ? 1 : 0;
    return im;
}

}  // namespace

Tokenizer Tokenizer::load(const fs::path& dir) {
    return Tokenizer(build(dir, text::read_tokenizer_files(dir)));
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(const Tokenizer&) = default;
Tokenizer& Tokenizer::operator=(const Tokenizer&) = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
    const Impl& im = *impl_;
    std::vector<int32_t> out;
    out.reserve(text.size() / 4 + 8);
    EncodeState st;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto match = im.matcher.find(text, pos, parse_special);
        const std::size_t segment_end = match ? match->pos : text.size();
        if (segment_end > pos) encode_segment(im, text.substr(pos, segment_end - pos), st, out);
        if (!match) break;
        out.push_back(match->id);
        pos = match->pos + match->len;
    }
    return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    std::string bytes;
    for (int32_t id : ids) {
        const TokenInfo* t = impl_->info(id);
        if (t == nullptr || (skip_special && t->special)) continue;
        bytes += t->bytes;
    }
    if (text::find_invalid_utf8(bytes) == std::string_view::npos) return bytes;
    std::string repaired;
    repaired.reserve(bytes.size() + 16);
    text::append_repaired_utf8(repaired, bytes);
    return repaired;
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
    auto it = impl_->ids_by_text.find(token);
    if (it == impl_->ids_by_text.end()) return std::nullopt;
    return it->second;
}

int32_t Tokenizer::required_token_id(std::string_view token) const {
    if (auto id = token_id(token)) return *id;
    throw Error(ErrorKind::kNotFound, impl_->dir.string(),
                "token " + in_quotes(token) + " is not in the vocabulary",
                "is this a Qwen2-Audio tokenizer folder?");
}

std::optional<std::string_view> Tokenizer::token_text(int32_t id) const {
    const TokenInfo* t = impl_->info(id);
    if (t == nullptr) return std::nullopt;
    return std::string_view(t->text);
}

std::optional<std::string_view> Tokenizer::token_bytes(int32_t id) const {
    const TokenInfo* t = impl_->info(id);
    if (t == nullptr) return std::nullopt;
    return std::string_view(t->bytes);
}

int32_t Tokenizer::n_vocab() const {
    return static_cast<int32_t>(impl_->tokens.size());
}
int32_t Tokenizer::n_tokens() const {
    return impl_->n_tokens;
}

bool Tokenizer::is_special(int32_t id) const {
    const TokenInfo* t = impl_->info(id);
    return t != nullptr && t->special;
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const {
    return impl_->added;
}
std::optional<int32_t> Tokenizer::eos_id() const {
    return impl_->eos;
}
std::optional<int32_t> Tokenizer::pad_id() const {
    return impl_->pad;
}
const fs::path& Tokenizer::dir() const {
    return impl_->dir;
}

}  // namespace sarsteer
