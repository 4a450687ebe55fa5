// Hand-computed cases on tiny hand-written vocabularies: every expected id list below was worked
// out by hand from the merges listed in each test.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"
#include "test_support.h"
#include "text_test_util.h"

namespace sarsteer::testing {
namespace {

using Ids = std::vector<int32_t>;

// Byte ids equal byte values ('a' = 97, ' ' = 32, ...); extra tokens from 256.
constexpr int32_t kAB = 256, kBC = 257, kABC = 258, kSpaceA = 259, kAA = 260, kAAAA = 261;
constexpr int32_t kSpecial = 300, kLonger = 301;

const std::vector<std::string> kExtra = {"ab", "bc", "abc", "Ġa", "aa", "aaaa"};

std::string config_json() {
    // Ids 262..299 are holes; 300 is special, 301 a non-special added token that starts like it.
    return R"({
      "added_tokens_decoder": {
        "300": {"content": "<s>", "special": true},
        "301": {"content": "<s>x", "special": false}
      },
      "eos_token": {"content": "<s>", "lstrip": false},
      "pad_token": null
    })";
}

class SmallTokenizer : public ::testing::Test {
protected:
    static Tokenizer load(const std::vector<std::string>& merges) {
        write_byte_vocab_dir(dir_.path(), kExtra, merges, config_json());
        return Tokenizer::load(dir_.path());
    }
    static inline ScratchDir dir_{"text-small"};
};

TEST_F(SmallTokenizer, LowestRankMergesFirst) {
    // "abc": (a,b) has rank 0, (b,c) rank 1 → ab; then (ab,c) rank 2 → abc.
    auto tok = load({"a b", "b c", "ab c", "Ġ a", "a a", "aa aa"});
    EXPECT_EQ(tok.encode("abc"), (Ids{kABC}));
    // Same vocabulary, b+c ranked first: bc wins, and no merge joins a with bc.
    auto swapped = load({"b c", "a b", "ab c", "Ġ a", "a a", "aa aa"});
    EXPECT_EQ(swapped.encode("abc"), (Ids{'a', kBC}));
}

TEST_F(SmallTokenizer, LeftmostOfEqualPairsFirst) {
    auto tok = load({"a b", "b c", "ab c", "Ġ a", "a a", "aa aa"});
    EXPECT_EQ(tok.encode("aaa"), (Ids{kAA, 'a'}));
    EXPECT_EQ(tok.encode("aaaa"), (Ids{kAAAA}));
    EXPECT_EQ(tok.encode("aaaaa"), (Ids{kAAAA, 'a'}));
    // 33 bytes takes the heap path: 16 aa + a, then 8 aaaa + a.
    Ids want(8, kAAAA);
    want.push_back('a');
    EXPECT_EQ(tok.encode(std::string(33, 'a')), want);
    EXPECT_EQ(tok.encode(std::string(40, 'a')), Ids(10, kAAAA));
}

TEST_F(SmallTokenizer, PreTokenizerBoundsMerges) {
    auto tok = load({"a b", "b c", "ab c", "Ġ a", "a a", "aa aa"});
    // Pieces "ab" and " abc"; in " abc" (a,b) outranks (Ġ,a), so Ġ stays alone.
    EXPECT_EQ(tok.encode("ab abc"), (Ids{kAB, ' ', kABC}));
    // " a" then "," ... digits are single pieces.
    EXPECT_EQ(tok.encode(" a,12"), (Ids{kSpaceA, ',', '1', '2'}));
    // Contraction piece "'s" and newline run piece.
    EXPECT_EQ(tok.encode("a's\n\n"), (Ids{'a', '\'', 's', '\n', '\n'}));
}

TEST_F(SmallTokenizer, AddedTokensAreNeverSplit) {
    auto tok = load({"a b", "b c", "ab c", "Ġ a", "a a", "aa aa"});
    EXPECT_EQ(tok.encode("ab<s>c"), (Ids{kAB, kSpecial, 'c'}));
    // Longest match at a position: "<s>x" beats "<s>".
    EXPECT_EQ(tok.encode("<s>x<s>"), (Ids{kLonger, kSpecial}));
    // A token's text is not normalised or merged with neighbours: " <s> a" keeps the spaces.
    EXPECT_EQ(tok.encode(" <s> a"), (Ids{' ', kSpecial, kSpaceA}));
}

TEST_F(SmallTokenizer, ParseSpecialFalseTreatsSpecialTokensAsText) {
    auto tok = load({"a b", "b c", "ab c", "Ġ a", "a a", "aa aa"});
    EXPECT_EQ(tok.encode("ab<s>c", false), (Ids{kAB, '<', 's', '>', 'c'}));
    // The non-special "<s>x" is still matched; the special "<s>" after it is text.
    EXPECT_EQ(tok.encode("<s>x<s>", false), (Ids{kLonger, '<', 's', '>'}));
}

TEST_F(SmallTokenizer, NfcBeforeBpe) {
    auto tok = load({"a b"});
    // e + U+0301 composes to é = C3 A9.
    EXPECT_EQ(tok.encode("e\xCC\x81"), (Ids{0xC3, 0xA9}));
    // Ohm sign U+2126 → Ω U+03A9 = CE A9.
    EXPECT_EQ(tok.encode("\xE2\x84\xA6"), (Ids{0xCE, 0xA9}));
}

TEST_F(SmallTokenizer, DecodeSkipsUnknownIdsAndRepairsUtf8) {
    auto tok = load({"a b"});
    EXPECT_EQ(tok.decode(Ids{5000, -1, 'a', 280, kSpecial, kLonger}), "a<s><s>x");
    EXPECT_EQ(tok.decode(Ids{'a', kSpecial, kLonger}, /*skip_special=*/true), "a<s>x");
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(tok.decode(Ids{0xC3}), fffd);
    EXPECT_EQ(tok.decode(Ids{0xE2, 0x82}), fffd);  // one truncated sequence → one U+FFFD
    EXPECT_EQ(tok.decode(Ids{0xE2, 0x82, 0xAC}), "\xE2\x82\xAC");  // €
    EXPECT_EQ(tok.decode(Ids{0xE2, 0x82, 'a'}), fffd + "a");
    EXPECT_EQ(tok.decode(Ids{0xFF, 0xC0, 0x80}), fffd + fffd + fffd);
    // A surrogate (ED A0 80) is three maximal subparts, as in Python.
    EXPECT_EQ(tok.decode(Ids{0xED, 0xA0, 0x80}), fffd + fffd + fffd);
    // A dangling lead byte before a special token.
    EXPECT_EQ(tok.decode(Ids{0xE4, kSpecial}), fffd + "<s>");
}

TEST_F(SmallTokenizer, InvalidUtf8EncodesAsReplacementCharacter) {
    auto tok = load({"a b"});
    const Ids fffd = {0xEF, 0xBF, 0xBD};
    EXPECT_EQ(tok.encode("\xFF"), fffd);
    // "a", then U+FFFD (a symbol, its own piece), then "b".
    EXPECT_EQ(tok.encode("a\xC3"), (Ids{'a', 0xEF, 0xBF, 0xBD}));
    EXPECT_EQ(tok.encode("\xE2\x82z"), (Ids{0xEF, 0xBF, 0xBD, 'z'}));
    // Truncated input at every length of a 4-byte sequence.
    const std::string emoji = "\xF0\x9F\xA6\x99";
    for (std::size_t n = 1; n < 4; ++n) EXPECT_EQ(tok.encode(emoji.substr(0, n)), fffd);
    EXPECT_EQ(tok.encode(emoji), (Ids{0xF0, 0x9F, 0xA6, 0x99}));
    // Embedded NUL is ordinary text.
    EXPECT_EQ(tok.encode(std::string("a\0b", 3)), (Ids{'a', 0, 'b'}));
}

TEST_F(SmallTokenizer, Accessors) {
    auto tok = load({"a b", "b c", "ab c", "Ġ a", "a a", "aa aa"});
    EXPECT_EQ(tok.n_vocab(), 302);
    EXPECT_EQ(tok.n_tokens(), 256 + 6 + 2);
    EXPECT_EQ(tok.token_id("Ġa"), kSpaceA);
    EXPECT_EQ(tok.token_id("<s>"), kSpecial);
    EXPECT_EQ(tok.token_id(" a"), std::nullopt);  // vocab.json spelling, not raw bytes
    EXPECT_EQ(tok.token_text(kSpaceA), "Ġa");
    EXPECT_EQ(tok.token_bytes(kSpaceA), " a");
    EXPECT_EQ(tok.token_bytes(10), "\n");
    EXPECT_EQ(tok.token_text(10), "Ċ");
    EXPECT_FALSE(tok.token_text(280).has_value());  // a hole
    EXPECT_EQ(tok.eos_id(), kSpecial);
    EXPECT_EQ(tok.pad_id(), std::nullopt);
    EXPECT_TRUE(tok.is_special(kSpecial));
    EXPECT_FALSE(tok.is_special(kLonger));
    EXPECT_EQ(tok.required_token_id("<s>"), kSpecial);
    EXPECT_THROW(tok.required_token_id("<|AUDIO|>"), Error);
    // Copies share the tables and behave the same.
    const Tokenizer copy = tok;
    EXPECT_EQ(copy.encode("abc"), tok.encode("abc"));
}

TEST_F(SmallTokenizer, TokenizerJsonMatchesVocabJson) {
    auto tok = load({"a b", "b c", "ab c", "Ġ a", "a a", "aa aa"});
    ScratchDir other("text-tokjson");
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) vocab[gpt2_byte_symbol(static_cast<unsigned char>(b))] = b;
    for (std::size_t i = 0; i < kExtra.size(); ++i) vocab[kExtra[i]] = 256 + i;
    // Merges mix both spellings HF has used: "a b" strings and [a, b] pairs.
    nlohmann::json merges =
        nlohmann::json::array({"a b", nlohmann::json::array({"b", "c"}), "ab c",
                               nlohmann::json::array({"Ġ", "a"}), "a a", "aa aa"});
    nlohmann::json root = {
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
        {"added_tokens",
         nlohmann::json::array({{{"id", 300}, {"content", "<s>"}, {"special", true}},
                                {{"id", 301}, {"content", "<s>x"}, {"special", false}}})}};
    write_text(other / "tokenizer.json", root.dump());
    const auto from_json = Tokenizer::load(other.path());
    for (const std::string& text :
         std::vector<std::string>{"abc", "ab abc", "aaaaa <s>x<s> a's", std::string(40, 'a')}) {
        EXPECT_EQ(from_json.encode(text), tok.encode(text)) << text;
    }
    EXPECT_EQ(from_json.n_vocab(), 302);
    EXPECT_TRUE(from_json.is_special(kSpecial));
    EXPECT_EQ(from_json.eos_id(), std::nullopt);  // no tokenizer_config.json there
}

}  // namespace
}  // namespace sarsteer::testing
