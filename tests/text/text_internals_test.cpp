// Internals with independent expectations: the pre-tokenizer against Python `regex` results
// (computed once, pasted here), UTF-8 repair and BPE strategy agreement.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "text/bpe.h"
#include "text/byte_level.h"
#include "text/pretokenizer.h"
#include "text/utf8.h"
#include "text_test_util.h"

namespace sarsteer::testing {
namespace {

std::vector<std::string> pieces(const std::string& text) {
    static const text::PreTokenizer kPre;
    std::vector<std::string> out;
    text::PreTokenizer::Cursor cursor(kPre, text);
    std::string_view piece;
    while (cursor.next(piece)) out.emplace_back(piece);
    return out;
}

using Pieces = std::vector<std::string>;

// Expected pieces from Python: regex.findall(PAT, text) with regex 2026.5.9.
TEST(PreTokenizer, MatchesPythonRegex) {
    EXPECT_EQ(pieces("Hello  world\n\n"), (Pieces{"Hello", " ", " world", "\n\n"}));
    EXPECT_EQ(pieces("I'M here's 12345"),
              (Pieces{"I", "'M", " here", "'s", " ", "1", "2", "3", "4", "5"}));
    EXPECT_EQ(pieces("  \t\n  x"), (Pieces{"  \t\n", " ", " x"}));
    EXPECT_EQ(pieces("...!!\r\n\r\nok"), (Pieces{"...!!\r\n\r\n", "ok"}));
    EXPECT_EQ(pieces(""), Pieces{});
}

TEST(PreTokenizer, WhiteSpaceIsUnicodeWhiteSpaceProperty) {
    // U+180E is not White_Space, though PCRE2's \s under UCP matches it (as \h): a run of two is
    // punctuation-like, not a space run that gives its last character to the word.
    EXPECT_EQ(pieces("x\xE1\xA0\x8E\xE1\xA0\x8Ey"), (Pieces{"x", "\xE1\xA0\x8E\xE1\xA0\x8E", "y"}));
    EXPECT_EQ(pieces("a\xE1\xA0\x8E"
                     "b"),
              (Pieces{"a",
                      "\xE1\xA0\x8E"
                      "b"}));
    // U+200B and U+FEFF are format characters, not spaces.
    EXPECT_EQ(pieces("a\xE2\x80\x8B b"), (Pieces{"a", "\xE2\x80\x8B", " b"}));
    EXPECT_EQ(pieces("a\xEF\xBB\xBF"
                     "b"),
              (Pieces{"a",
                      "\xEF\xBB\xBF"
                      "b"}));
    // NBSP is White_Space: a run before a letter keeps its last one for the word.
    EXPECT_EQ(pieces("x\xC2\xA0\xC2\xA0y"), (Pieces{"x", "\xC2\xA0", "\xC2\xA0y"}));
    // U+0085 is White_Space but also "not a letter, digit or \r\n", so it prefixes the word.
    EXPECT_EQ(pieces("x\xC2\x85y"), (Pieces{"x", "\xC2\x85y"}));
    EXPECT_EQ(pieces("x\xC2\x85\xC2\x85y"), (Pieces{"x", "\xC2\x85", "\xC2\x85y"}));
    // Ogham space mark U+1680.
    EXPECT_EQ(pieces("x\xE1\x9A\x80\xE1\x9A\x80y"), (Pieces{"x", "\xE1\x9A\x80", "\xE1\x9A\x80y"}));
    // VT and FF are White_Space.
    EXPECT_EQ(pieces("x\x0B\x0Cy"), (Pieces{"x", "\x0B", "\x0Cy"}));
    // U+001C is not White_Space in `regex` (str.isspace() says it is).
    EXPECT_EQ(pieces("x\x1Cy"), (Pieces{"x", "\x1Cy"}));
    // Ideographic space U+3000.
    EXPECT_EQ(pieces("a \xE3\x80\x80"
                     "b"),
              (Pieces{"a", " ",
                      "\xE3\x80\x80"
                      "b"}));
}

TEST(PreTokenizer, ContractionsAreCaseInsensitive) {
    // Python: ['ſ', "'s", " '", 'S'] — the long s is a letter; "'S" after a space is not split.
    EXPECT_EQ(pieces("\xC5\xBF's 'S"), (Pieces{"\xC5\xBF", "'s", " '", "S"}));
    EXPECT_EQ(pieces("WE'LL they'Ve"), (Pieces{"WE", "'LL", " they", "'Ve"}));
}

TEST(Utf8, RepairFollowsMaximalSubparts) {
    auto repair = [](const std::string& s) {
        std::string out;
        text::append_repaired_utf8(out, s);
        return out;
    };
    const std::string r = "\xEF\xBF\xBD";
    EXPECT_EQ(repair("ok"), "ok");
    EXPECT_EQ(repair("\x80"), r);
    EXPECT_EQ(repair("\xF0\x9F\xA6"), r);
    EXPECT_EQ(repair("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
    EXPECT_EQ(repair("\xE0\x80\xAF"), r + r + r);          // overlong
    EXPECT_EQ(repair("\xC2"), r);
    EXPECT_EQ(repair("a\xC2"
                     "b\xC2\xA9"),
              "a" + r + "b\xC2\xA9");
    EXPECT_EQ(text::find_invalid_utf8("abcdefghijklmnop\xC2"), 16u);
    EXPECT_EQ(text::find_invalid_utf8("\xF0\x9F\xA6\x99 llama"), std::string_view::npos);
}

TEST(ByteLevel, TableMatchesGpt2Definition) {
    for (int b = 0; b < 256; ++b) {
        const auto byte = static_cast<uint8_t>(b);
        EXPECT_EQ(text::byte_symbol(byte), gpt2_byte_symbol(byte)) << b;
        EXPECT_EQ(text::code_point_to_byte(text::byte_to_code_point(byte)), b);
    }
    EXPECT_EQ(text::bytes_to_symbols(" hi\n"), "ĠhiĊ");
    EXPECT_EQ(text::symbols_to_bytes("ĠhiĊ"), " hi\n");
    // Code points outside the table pass through.
    EXPECT_EQ(text::symbols_to_bytes("a\xE4\xB8\xAD"), "a\xE4\xB8\xAD");
}

// The definition of rank-BPE, written as plainly as possible.
std::vector<int32_t> reference_bpe(std::vector<int32_t> ids, const std::vector<text::Merge>& m) {
    for (;;) {
        std::size_t best_pos = 0;
        std::size_t best_rank = m.size();
        for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
            for (std::size_t r = m.size(); r-- > 0;) {  // a later duplicate wins
                if (m[r].left == ids[i] && m[r].right == ids[i + 1]) {
                    if (r < best_rank) {
                        best_rank = r;
                        best_pos = i;
                    }
                    break;
                }
            }
        }
        if (best_rank == m.size()) return ids;
        ids[best_pos] = m[best_rank].merged;
        ids.erase(ids.begin() + static_cast<long>(best_pos) + 1);
    }
}

TEST(Bpe, ScanHeapAndReferenceAgree) {
    std::array<int32_t, 256> byte_ids;
    for (int b = 0; b < 256; ++b) byte_ids[static_cast<std::size_t>(b)] = b;
    // Tokens over {a, b, c}: ab=256 bc=257 ca=258 aa=259 abc=260 aab=261 bcbc=262 aaaa=263,
    // ranks deliberately not in length order; (b,c) is listed twice (the later rank counts).
    const std::vector<text::Merge> merges = {{'b', 'c', 257}, {'a', 'a', 259}, {'a', 'b', 256},
                                             {256, 'c', 260}, {'c', 'a', 258}, {259, 'b', 261},
                                             {257, 257, 262}, {259, 259, 263}, {'b', 'c', 257}};
    const text::BpeModel bpe(byte_ids, merges);
    uint64_t state = 12345;
    for (int round = 0; round < 3000; ++round) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const std::size_t len = 1 + (state >> 33) % 70;
        std::string piece;
        std::vector<int32_t> bytes;
        for (std::size_t i = 0; i < len; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            piece.push_back("abc"[(state >> 33) % 3]);
            bytes.push_back(piece.back());
        }
        std::vector<int32_t> scan, heap;
        bpe.encode_by_scan(piece, scan);
        bpe.encode_by_heap(piece, heap);
        const auto want = reference_bpe(bytes, merges);
        ASSERT_EQ(heap, want) << piece;
        ASSERT_EQ(scan, want) << piece;
    }
}

}  // namespace
}  // namespace sarsteer::testing
