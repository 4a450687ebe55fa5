// Regression tests for what fuzzing and the hardening review (issue 7, docs/hardening.md) found
// in the io parsers, and the limits that bound what input can make them allocate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/manifest.h"
#include "io/safetensors.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::io {
namespace {

using sarsteer::testing::ScratchDir;
namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

std::string safetensors_bytes(const std::string& header, std::size_t data_bytes = 0) {
    std::string out(8, '\0');
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
    return out + header + std::string(data_bytes, '\0');
}

template <typename Fn>
Error error_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no sarsteer::Error";
    return Error(ErrorKind::kInternal, "", "");
}

// fuzz_safetensors, first minute: a number too large for a double made nlohmann throw
// out_of_range (not parse_error), which escaped as an uncaught exception.
TEST(Hardening, NumberOverflowIsCorruptInputNotACrash) {
    EXPECT_EQ(error_of([] { (void)parse_json("[1E400]", "x.json"); }).kind(),
              ErrorKind::kCorruptInput);
    EXPECT_EQ(error_of([] { (void)parse_json("{\"a\": -1e999}", "x.json"); }).kind(),
              ErrorKind::kCorruptInput);
    ScratchDir dir("hardening-406");
    const auto path = dir / "a.safetensors";
    write_bytes(path, safetensors_bytes(
                          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,2E96000]}})", 4));
    const auto e = error_of([&] { (void)SafetensorsFile::open(path); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorruptInput);
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
}

// Every crashing input the fuzzers found, as saved under fuzz/regressions/safetensors/.
TEST(Hardening, FuzzRegressionInputsAreErrors) {
    const auto folder = sarsteer::testing::source_dir() / "fuzz" / "regressions" / "safetensors";
    std::size_t n = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
        ++n;
        EXPECT_THROW((void)SafetensorsFile::open(entry.path()), Error) << entry.path();
    }
    EXPECT_GE(n, 1u);
}

// nlohmann's dump(), copy and comparison recurse once per nesting level: a 1 MiB manifest line
// of '[' overflowed the stack when the error message dumped the value. Depth is now refused
// before parsing.
TEST(Hardening, DeepNestingIsALimitNotAStackOverflow) {
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    EXPECT_EQ(error_of([&] { (void)parse_json(deep, "deep.json"); }).kind(),
              ErrorKind::kLimitExceeded);
    EXPECT_NO_THROW((void)parse_json(
        std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']'), "ok.json"));
    // Brackets inside strings (escaped quotes too) do not count.
    EXPECT_NO_THROW((void)parse_json("[\"" + std::string(1000, '[') + "\\\"{{{\"]", "s.json"));

    ScratchDir dir("hardening-deep");
    const auto manifest = dir / "m.jsonl";
    write_bytes(manifest, "{\"id\": " + deep.substr(0, 100000) + deep.substr(300000) +
                              ", \"question\": \"q\"}\n");
    const auto e =
        error_of([&] { (void)Manifest::load(manifest, {.require_audio = false, .limit = {}}); });
    EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
    EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();

    const auto st = dir / "deep.safetensors";
    write_bytes(st, safetensors_bytes("{\"a\":" + deep + "}"));
    EXPECT_EQ(error_of([&] { (void)SafetensorsFile::open(st); }).kind(), ErrorKind::kLimitExceeded);
}

// The tensor count and the size of each header entry are bounded while the header is parsed,
// so a 100 MB header cannot make the reader build a multi-GB JSON tree first.
TEST(Hardening, SafetensorsHeaderBoundsAllocationWhileParsing) {
    ScratchDir dir("hardening-header");
    const auto path = dir / "a.safetensors";
    std::string many = "{";
    for (int i = 0; i < 5; ++i) {
        many += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
                R"(":{"dtype":"U8","shape":[0],"data_offsets":[0,0]})";
    }
    write_bytes(path, safetensors_bytes(many + "}"));
    SafetensorsLimits limits;
    limits.max_tensors = 4;
    const auto e = error_of([&] { (void)SafetensorsFile::open(path, limits); });
    EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
    EXPECT_NE(std::string(e.what()).find("limit of 4 tensors"), std::string::npos) << e.what();
    limits.max_tensors = 5;
    EXPECT_EQ(SafetensorsFile::open(path, limits).tensors().size(), 5u);

    // One entry with a huge array (here 10^5 zeros in the shape).
    std::string zeros;
    for (int i = 0; i < 100000; ++i) zeros += i ? ",0" : "0";
    write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"U8","shape":[)" + zeros +
                                        R"(],"data_offsets":[0,0]}})"));
    EXPECT_EQ(error_of([&] { (void)SafetensorsFile::open(path); }).kind(),
              ErrorKind::kCorruptInput);

    // __metadata__ with more entries than any real file has.
    std::string meta = R"({"__metadata__":{)";
    for (int i = 0; i < 40000; ++i) meta += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
    write_bytes(path, safetensors_bytes(meta + "}}"));
    EXPECT_EQ(error_of([&] { (void)SafetensorsFile::open(path); }).kind(),
              ErrorKind::kCorruptInput);
}

// Manifest::parse is Manifest::load without the read: same items, same errors.
TEST(Hardening, ManifestParseMatchesLoad) {
    ScratchDir dir("hardening-parse");
    const std::string text = "{\"id\": 7, \"question\": \"q\", \"audio\": \"a.wav\"}\n";
    write_bytes(dir / "m.jsonl", text);
    const auto loaded = Manifest::load(dir / "m.jsonl", {.require_audio = false, .limit = {}});
    const auto parsed =
        Manifest::parse(text, dir / "m.jsonl", {.require_audio = false, .limit = {}});
    EXPECT_EQ(parsed.sha256, loaded.sha256);
    ASSERT_EQ(parsed.items.size(), 1u);
    EXPECT_EQ(parsed.items[0].id, "7");
    EXPECT_EQ(parsed.items[0].audio, loaded.items[0].audio);
}

}  // namespace
}  // namespace sarsteer::io
