// Broken tokenizer folders: every failure is a sarsteer::Error that names the file at fault.
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

const std::vector<std::string> kExtra = {"ab"};
const std::vector<std::string> kMerges = {"a b"};

// Loads `dir` and returns the Error it must throw.
Error load_error(const std::filesystem::path& dir) {
    try {
        Tokenizer::load(dir);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "Tokenizer::load(" << dir << ") did not throw";
    return Error(ErrorKind::kInternal, "", "no error");
}

void expect_error(const std::filesystem::path& dir, ErrorKind kind, const std::string& file,
                  const std::string& detail = {}) {
    const Error e = load_error(dir);
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    if (!detail.empty()) {
        EXPECT_NE(std::string(e.what()).find(detail), std::string::npos) << e.what();
    }
}

TEST(TokenizerFiles, ValidTinyFolderLoads) {
    ScratchDir dir("text-ok");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges, "");
    EXPECT_EQ(Tokenizer::load(dir.path()).encode("ab"), (std::vector<int32_t>{256}));
}

TEST(TokenizerFiles, MissingFolder) {
    ScratchDir dir("text-nofolder");
    expect_error(dir / "nope", ErrorKind::kNotFound, "nope");
}

TEST(TokenizerFiles, MissingVocabJson) {
    ScratchDir dir("text-novocab");
    write_text(dir / "merges.txt", "#version: 0.2\na b\n");
    expect_error(dir.path(), ErrorKind::kNotFound, "vocab.json");
}

TEST(TokenizerFiles, MissingMergesTxt) {
    ScratchDir dir("text-nomerges");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges, "");
    std::filesystem::remove(dir / "merges.txt");
    expect_error(dir.path(), ErrorKind::kNotFound, "merges.txt");
}

TEST(TokenizerFiles, MalformedMergesLine) {
    ScratchDir dir("text-badmerge");
    write_byte_vocab_dir(dir.path(), kExtra, {"a b", "a b c"}, "");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "merges.txt", "line 3");
    write_byte_vocab_dir(dir.path(), kExtra, {"ab"}, "");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "merges.txt", "line 2");
}

TEST(TokenizerFiles, MergePartNotInVocab) {
    ScratchDir dir("text-mergepart");
    write_byte_vocab_dir(dir.path(), kExtra, {"a b", "ab zz"}, "");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "merges.txt", "\"zz\"");
    // Parts known but their concatenation is not a token.
    write_byte_vocab_dir(dir.path(), kExtra, {"a b", "b a"}, "");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "merges.txt", "\"ba\"");
}

TEST(TokenizerFiles, MalformedVocabJson) {
    ScratchDir dir("text-badvocab");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges, "");
    write_text(dir / "vocab.json", "{\"a\": 1,");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "vocab.json", "malformed JSON");
    write_text(dir / "vocab.json", "[1, 2]");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "vocab.json");
    write_text(dir / "vocab.json", "{\"a\": \"one\"}");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "vocab.json", "not an integer");
    write_text(dir / "vocab.json", "{\"a\": -3}");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "vocab.json", "negative");
    write_text(dir / "vocab.json", "{\"a\": 99999999999}");
    expect_error(dir.path(), ErrorKind::kLimitExceeded, "vocab.json");
}

TEST(TokenizerFiles, DuplicateIdInVocab) {
    ScratchDir dir("text-dupid");
    write_byte_vocab_dir(dir.path(), {"ab", "xy"}, kMerges, "");
    std::string vocab = "{";
    for (int b = 0; b < 256; ++b) {
        nlohmann::json key = gpt2_byte_symbol(static_cast<unsigned char>(b));
        vocab += key.dump() + ":" + std::to_string(b) + ",";
    }
    vocab += "\"ab\": 256, \"xy\": 256}";
    write_text(dir / "vocab.json", vocab);
    expect_error(dir.path(), ErrorKind::kCorruptInput, "vocab.json", "256");
}

TEST(TokenizerFiles, VocabWithoutAllBytes) {
    ScratchDir dir("text-nobytes");
    write_text(dir / "vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
    write_text(dir / "merges.txt", "a b\n");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "vocab.json", "byte");
}

TEST(TokenizerFiles, BadTokenizerConfig) {
    ScratchDir dir("text-badconfig");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges, "{\"added_tokens_decoder\": {");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "malformed JSON");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges,
                         R"({"added_tokens_decoder": {"x1": {"content": "<s>"}}})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "x1");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges,
                         R"({"added_tokens_decoder": {"300": {"special": true}}})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "content");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges, R"({"eos_token": 5})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "eos_token");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges, R"({"eos_token": "<nope>"})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "<nope>");
}

TEST(TokenizerFiles, AddedTokenIdConflicts) {
    ScratchDir dir("text-conflict");
    // Id 256 is "ab" in vocab.json.
    write_byte_vocab_dir(dir.path(), kExtra, kMerges,
                         R"({"added_tokens_decoder": {"256": {"content": "<s>"}}})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "256");
    // "ab" is 256 in vocab.json, not 300.
    write_byte_vocab_dir(dir.path(), kExtra, kMerges,
                         R"({"added_tokens_decoder": {"300": {"content": "ab"}}})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "\"ab\"");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges,
                         R"({"added_tokens_decoder": {"300": {"content": ""}}})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "empty");
}

TEST(TokenizerFiles, SparseIdsAreALimitNotAGigabyteTable) {
    // Found by fuzz_tokenizer_files: one added token at id 16 M made the loader allocate a
    // 16 M-entry table (over 1 GB) for a 300-token vocabulary.
    ScratchDir dir("text-sparse");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges,
                         R"({"added_tokens_decoder": {"16000000": {"content": "<s>"}}})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer_config.json", "sparse");
    // A gap of the size real checkpoints have (Qwen2-Audio's embedding rows past its ids) loads.
    write_byte_vocab_dir(dir.path(), kExtra, kMerges,
                         R"({"added_tokens_decoder": {"60000": {"content": "<s>"}}})");
    EXPECT_EQ(Tokenizer::load(dir.path()).encode("<s>"), (std::vector<int32_t>{60000}));
}

TEST(TokenizerFiles, BadTokenizerJson) {
    ScratchDir dir("text-badtokjson");
    write_text(dir / "tokenizer.json", "{\"model\": ");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer.json", "malformed JSON");
    write_text(dir / "tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
    expect_error(dir.path(), ErrorKind::kUnsupported, "tokenizer.json", "WordPiece");
    write_text(dir / "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}, "merges": [7]}})");
    expect_error(dir.path(), ErrorKind::kCorruptInput, "tokenizer.json", "merges[0]");
}

TEST(TokenizerFiles, MergesHeaderOnlyOnFirstLineAndBlankLinesSkipped) {
    ScratchDir dir("text-header");
    write_byte_vocab_dir(dir.path(), {"ab", "##"}, {"", "a b", "# #", ""}, "");
    const auto tok = Tokenizer::load(dir.path());
    // "# #" on a later line is a merge, not a comment.
    EXPECT_EQ(tok.encode("##ab"), (std::vector<int32_t>{257, 256}));
}

// Hardening (issue 7): nesting deep enough to overflow nlohmann's recursive dump/copy is refused
// before parsing, for every tokenizer file, with the file named.
TEST(TokenizerFiles, DeeplyNestedJsonIsALimit) {
    ScratchDir dir("text-deep");
    write_byte_vocab_dir(dir.path(), kExtra, kMerges, "");
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    write_text(dir / "tokenizer_config.json", "{\"added_tokens_decoder\": " + deep + "}");
    expect_error(dir.path(), ErrorKind::kLimitExceeded, "tokenizer_config.json", "deeper");
}

}  // namespace
}  // namespace sarsteer::testing
