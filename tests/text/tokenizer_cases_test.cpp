// The golden cases of shared/fixtures/qwen2_tokenizer/cases.jsonl: llama.cpp's Qwen2 vectors,
// transformers' Qwen2-Audio prompts and the fixture's own reference-encoder cases.
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <utf8proc.h>

#include "sarsteer/tokenizer.h"
#include "text_test_util.h"

namespace sarsteer::testing {
namespace {

// NFC straight from utf8proc, the oracle for the expected decode.
std::string oracle_nfc(const std::string& text) {
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                static_cast<utf8proc_ssize_t>(text.size()), &out,
                                static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(out, &std::free);
    if (n < 0) throw std::runtime_error("utf8proc_map failed");
    return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::string ids_to_string(const std::vector<int32_t>& ids) {
    std::string s;
    for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
    return s;
}

TEST(TokenizerGolden, FixtureHas86Cases) {
    const auto cases = load_golden_cases();
    EXPECT_EQ(cases.size(), 86u);
    std::size_t llama = 0, transformers = 0;
    for (const auto& c : cases) {
        llama += c.source.find("llama.cpp") != std::string::npos;
        transformers += c.source.find("transformers") != std::string::npos;
    }
    EXPECT_EQ(llama, 46u);
    EXPECT_EQ(transformers, 2u);
}

// One loop over all cases (loading the 150k-token vocabulary once), reporting each failing case
// with its line and text.
TEST(TokenizerGolden, EveryCaseEncodesToItsIds) {
    const Tokenizer& tok = qwen2_tokenizer();
    const auto cases = load_golden_cases();
    ASSERT_FALSE(cases.empty());
    std::size_t failures = 0;
    for (const auto& c : cases) {
        const auto ids = tok.encode(c.text);
        if (ids != c.ids) {
            ++failures;
            ADD_FAILURE() << "cases.jsonl line " << c.line << " (" << c.source << ")\n  text: \""
                          << escape_for_message(c.text) << "\"\n  want: " << ids_to_string(c.ids)
                          << "\n  got:  " << ids_to_string(ids);
        }
    }
    EXPECT_EQ(failures, 0u);
}

TEST(TokenizerGolden, EveryCaseDecodesToNfcText) {
    const Tokenizer& tok = qwen2_tokenizer();
    for (const auto& c : load_golden_cases()) {
        const std::string want = oracle_nfc(c.text);
        const std::string got = tok.decode(c.ids);
        EXPECT_EQ(got, want) << "cases.jsonl line " << c.line << " text: \""
                             << escape_for_message(c.text) << "\"";
    }
}

TEST(TokenizerGolden, SomeCasesChangeUnderNfc) {
    // Guards the decode test against an oracle that does nothing.
    std::size_t changed = 0;
    for (const auto& c : load_golden_cases()) changed += oracle_nfc(c.text) != c.text;
    EXPECT_GE(changed, 3u);
}

TEST(TokenizerGolden, QwenVocabularyShape) {
    const Tokenizer& tok = qwen2_tokenizer();
    EXPECT_EQ(tok.n_vocab(), 151649);
    EXPECT_EQ(tok.n_tokens(), 151649);
    EXPECT_EQ(tok.token_id("<|endoftext|>"), 151643);
    EXPECT_EQ(tok.token_id("<|im_start|>"), 151644);
    EXPECT_EQ(tok.token_id("<|im_end|>"), 151645);
    EXPECT_EQ(tok.token_id(tokens::kAudio), 151646);
    EXPECT_EQ(tok.token_id(tokens::kAudioBos), 151647);
    EXPECT_EQ(tok.token_id(tokens::kAudioEos), 151648);
    EXPECT_EQ(tok.eos_id(), 151645);
    EXPECT_EQ(tok.pad_id(), 151643);
    EXPECT_EQ(tok.token_id("Ġthe"), 279);  // " the" in the cases above
    EXPECT_EQ(tok.token_text(279), "Ġthe");
    EXPECT_EQ(tok.token_bytes(279), " the");
    EXPECT_TRUE(tok.is_special(151645));
    EXPECT_FALSE(tok.is_special(279));
    EXPECT_EQ(tok.added_tokens().size(), 6u);
    // The checkpoint's embedding has 156032 rows; the ids above 151648 have no token.
    EXPECT_FALSE(tok.token_text(151649).has_value());
    EXPECT_FALSE(tok.token_text(156031).has_value());
    EXPECT_FALSE(tok.token_text(-1).has_value());
    EXPECT_EQ(tok.decode(std::vector<int32_t>{9707, 151649, 156031, -5, 1879}), "Hello world");
}

TEST(TokenizerGolden, SkipSpecialDropsOnlySpecialTokens) {
    const Tokenizer& tok = qwen2_tokenizer();
    const auto ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n");
    EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "user\nHi\n");
    EXPECT_EQ(tok.decode(ids), "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(TokenizerGolden, ParseSpecialFalseEncodesMarkersAsText) {
    const Tokenizer& tok = qwen2_tokenizer();
    const auto ids = tok.encode("<|im_end|>", /*parse_special=*/false);
    EXPECT_GT(ids.size(), 1u);
    for (int32_t id : ids) EXPECT_LT(id, 151643);
    EXPECT_EQ(tok.decode(ids), "<|im_end|>");
}

TEST(TokenizerGolden, ArbitraryBytesNeverCrash) {
    const Tokenizer& tok = qwen2_tokenizer();
    uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    for (int round = 0; round < 300; ++round) {
        std::string bytes(next() % 200, '\0');
        for (char& c : bytes) c = static_cast<char>(next() & 0xFF);
        const auto ids = tok.encode(bytes);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
        const std::string text = tok.decode(ids);
        // Re-encoding the (valid, NFC'd) result must round-trip exactly.
        EXPECT_EQ(tok.decode(tok.encode(text)), text);
    }
}

TEST(TokenizerGolden, RandomCodePointsRoundTripAsNfc) {
    // Byte-level BPE is lossless: decode(encode(s)) must be NFC(s) for any valid text, including
    // unassigned code points, noncharacters and controls.
    const Tokenizer& tok = qwen2_tokenizer();
    uint64_t state = 7;
    auto next = [&] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return state >> 33;
    };
    const char32_t pools[] = {0x80, 0x800, 0x3400, 0x10000, 0x110000};
    for (int round = 0; round < 300; ++round) {
        std::string text;
        for (uint64_t n = next() % 40; n > 0; --n) {
            char32_t cp = static_cast<char32_t>(next() % pools[next() % 5]);
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFE;  // surrogates are not text
            if (cp < 0x80) {
                text.push_back(static_cast<char>(cp));
            } else if (cp < 0x800) {
                text +=
                    {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
            } else if (cp < 0x10000) {
                text += {static_cast<char>(0xE0 | (cp >> 12)),
                         static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                         static_cast<char>(0x80 | (cp & 0x3F))};
            } else {
                text += {static_cast<char>(0xF0 | (cp >> 18)),
                         static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                         static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                         static_cast<char>(0x80 | (cp & 0x3F))};
            }
        }
        ASSERT_EQ(tok.decode(tok.encode(text)), oracle_nfc(text)) << escape_for_message(text);
    }
}

TEST(TokenizerGolden, LongInputsUseHeapMergeAndLongRegexRuns) {
    const Tokenizer& tok = qwen2_tokenizer();
    // Long single pieces: letters without spaces, whitespace runs, punctuation runs, CJK.
    const std::string letters(5000, 'a');
    const std::string spaces(100000, ' ');
    std::string cjk;
    for (int i = 0; i < 2000; ++i) cjk += "音频";
    std::string space_newlines, tab_spaces, contractions;
    for (int i = 0; i < 100000; ++i) space_newlines += " \n";
    for (int i = 0; i < 100000; ++i) tab_spaces += "\t ";
    for (int i = 0; i < 50000; ++i) contractions += "'s";
    for (const std::string& text :
         {letters, spaces + "x", std::string(50000, '!') + "\n", cjk, std::string(30000, '\n'),
          space_newlines, tab_spaces + "x", contractions, std::string(200000, '7')}) {
        const auto ids = tok.encode(text);
        EXPECT_EQ(tok.decode(ids), text);
    }
}

TEST(TokenizerGolden, ConcurrentEncodesAgree) {
    const Tokenizer& tok = qwen2_tokenizer();
    const auto cases = load_golden_cases();
    std::vector<std::thread> threads;
    std::vector<std::size_t> mismatches(4, 0);
    for (std::size_t t = 0; t < mismatches.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 5; ++round) {
                for (const auto& c : cases) mismatches[t] += tok.encode(c.text) != c.ids;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (std::size_t m : mismatches) EXPECT_EQ(m, 0u);
}

}  // namespace
}  // namespace sarsteer::testing
