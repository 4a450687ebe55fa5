#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::io {
namespace {

using sarsteer::testing::ScratchDir;

// Writes a raw safetensors file from a header string and data bytes, bypassing our writer, so
// the reader is tested against files we did not produce with our own code.
void write_raw(const std::filesystem::path& path, const std::string& header,
               const std::string& data, std::optional<std::uint64_t> claimed_size = {}) {
    std::ofstream out(path, std::ios::binary);
    const std::uint64_t n = claimed_size.value_or(header.size());
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
}

std::string f32_bytes(std::initializer_list<float> values) {
    std::string out(values.size() * 4, '\0');
    std::memcpy(out.data(), values.begin(), out.size());
    return out;
}

// Expects `fn` to throw a sarsteer::Error of `kind` whose message contains `needle`.
template <typename Fn>
void expect_error(Fn&& fn, ErrorKind kind, const std::string& needle) {
    try {
        fn();
        FAIL() << "expected an error containing: " << needle;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(Safetensors, ReadsHandWrittenFile) {
    ScratchDir dir("st");
    const auto path = dir / "a.safetensors";
    write_raw(path,
              R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
              R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("__metadata__":{"format":"pt"}})",
              f32_bytes({1.5f, -2.0f, 7.0f}));
    const auto file = SafetensorsFile::open(path);
    ASSERT_EQ(file.tensors().size(), 2u);
    EXPECT_EQ(file.tensors()[0].name, "a");  // sorted by name
    EXPECT_EQ(file.metadata().at("format"), "pt");
    EXPECT_EQ(to_f32(file.at("a")), (std::vector<float>{1.5f, -2.0f}));
    EXPECT_EQ(to_f32(file.at("b")), (std::vector<float>{7.0f}));
    EXPECT_EQ(file.find("c"), nullptr);
    expect_error([&] { file.at("c"); }, ErrorKind::kNotFound, "\"c\"");
}

TEST(Safetensors, HalfAndBFloat16ConvertExactly) {
    ScratchDir dir("st");
    const auto path = dir / "h.safetensors";
    // F16: 1.0, -2.0, smallest subnormal 2^-24, +inf; BF16: 1.0, -0.5.
    const std::uint16_t half[] = {0x3C00, 0xC000, 0x0001, 0x7C00};
    const std::uint16_t bf16[] = {0x3F80, 0xBF00};
    std::string data(reinterpret_cast<const char*>(half), sizeof(half));
    data.append(reinterpret_cast<const char*>(bf16), sizeof(bf16));
    write_raw(path,
              R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})",
              data);
    const auto file = SafetensorsFile::open(path);
    const auto h = to_f32(file.at("h"));
    EXPECT_EQ(h[0], 1.0f);
    EXPECT_EQ(h[1], -2.0f);
    EXPECT_EQ(h[2], std::ldexp(1.0f, -24));
    EXPECT_TRUE(std::isinf(h[3]));
    EXPECT_EQ(to_f32(file.at("b")), (std::vector<float>{1.0f, -0.5f}));
    expect_error([&] { to_i64(file.at("h")); }, ErrorKind::kUnsupported, "integer");
}

TEST(Safetensors, WriterRoundTripsEveryDTypeAlignedAndAtomic) {
    ScratchDir dir("st");
    const auto path = dir / "w.safetensors";
    SafetensorsWriter writer;
    const std::vector<float> f = {1, 2, 3, 4, 5, 6};
    const std::vector<int64_t> i = {-1, 1LL << 40};
    const std::uint8_t u8[] = {0, 255, 7};
    writer.add("u8", DType::kU8, {3}, std::as_bytes(std::span(u8)));
    writer.add_f32("f", {2, 3}, f);
    writer.add_i64("i", {2}, i);
    writer.add_f32("empty", {0, 4}, {});
    writer.set_metadata("tool", "sarsteer");
    writer.write(path);

    const auto file = SafetensorsFile::open(path);
    EXPECT_EQ(file.metadata().at("tool"), "sarsteer");
    EXPECT_EQ(to_f32(file.at("f")), f);
    EXPECT_EQ(file.at("f").shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(to_i64(file.at("i")), i);
    EXPECT_EQ(to_i64(file.at("u8")), (std::vector<int64_t>{0, 255, 7}));
    EXPECT_EQ(file.at("empty").numel(), 0);
    for (const auto& t : file.tensors()) {
        const auto addr = reinterpret_cast<std::uintptr_t>(t.bytes.data());
        if (!t.bytes.empty()) {
            EXPECT_EQ(addr % dtype_size(t.dtype), 0u) << t.name;
        }
    }
    // No temp files left beside the output.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);

    SafetensorsWriter bad;
    expect_error([&] { bad.add_f32("x", {4}, f); }, ErrorKind::kInvalidArgument, "bytes");
    bad.add_f32("x", {6}, f);
    expect_error([&] { bad.add_f32("x", {6}, f); }, ErrorKind::kInvalidArgument, "twice");
}

TEST(Safetensors, ReadsTheGoldenWhisperFixture) {
    const auto file = SafetensorsFile::open(sarsteer::testing::fixtures_dir() /
                                            "whisper_features_reference.safetensors");
    EXPECT_EQ(file.at("log_mel_128").shape, (std::vector<int64_t>{128, 3000}));
    EXPECT_EQ(file.at("waveform_16k").numel(), 176000);
    EXPECT_EQ(file.metadata().at("n_fft"), "400");
}

struct CorruptCase {
    const char* label;
    std::string header;
    std::string data;
    std::optional<std::uint64_t> claimed;
    const char* needle;
};

class SafetensorsCorrupt : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(SafetensorsCorrupt, FailsWithAClearError) {
    const auto& c = GetParam();
    ScratchDir dir("st");
    const auto path = dir / "bad.safetensors";
    write_raw(path, c.header, c.data, c.claimed);
    try {
        SafetensorsFile::open(path);
        FAIL() << c.label << ": expected an error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(path.string()), std::string::npos) << what;
        EXPECT_NE(what.find(c.needle), std::string::npos) << c.label << ": " << what;
    }
}

const std::string kOne = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

INSTANTIATE_TEST_SUITE_P(
    Cases, SafetensorsCorrupt,
    ::testing::Values(
        CorruptCase{"truncated data", kOne, f32_bytes({1}), {}, "run past"},
        CorruptCase{"header longer than file", kOne, "", 1000, "has only"},
        CorruptCase{"absurd header size", kOne, "", 1ull << 40, "limit"},
        CorruptCase{"not json", "{\"a\": nope}", "", {}, "not valid JSON"},
        CorruptCase{"json array", "[1,2]", "", {}, "not a JSON object"},
        CorruptCase{"unknown dtype",
                    R"({"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})",
                    "x",
                    {},
                    "unsupported dtype"},
        CorruptCase{"shape lies",
                    R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                    f32_bytes({1, 2}),
                    {},
                    "need 12 bytes"},
        CorruptCase{"negative dim",
                    R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                    f32_bytes({1, 2}),
                    {},
                    "non-negative"},
        CorruptCase{"overflowing shape",
                    R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                    f32_bytes({1, 2}),
                    {},
                    "overflows"},
        CorruptCase{"reversed offsets",
                    R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})",
                    f32_bytes({1, 2}),
                    {},
                    "end before"},
        CorruptCase{"overlap",
                    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    f32_bytes({1, 2}),
                    {},
                    "overlap"},
        CorruptCase{"duplicate name",
                    R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    f32_bytes({1, 2}),
                    {},
                    "twice"},
        CorruptCase{
            "missing offsets", R"({"a":{"dtype":"F32","shape":[1]}})", "", {}, "data_offsets"},
        CorruptCase{"unknown field",
                    R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})",
                    f32_bytes({1}),
                    {},
                    "unknown field"},
        CorruptCase{"metadata not strings", R"({"__metadata__":{"n":3}})", "", {}, "not a string"}),
    [](const auto& test_info) {
        std::string name = test_info.param.label;
        for (auto& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
        return name;
    });

TEST(Safetensors, TooShortAndMissingFiles) {
    ScratchDir dir("st");
    std::ofstream(dir / "short.safetensors") << "abc";
    expect_error([&] { SafetensorsFile::open(dir / "short.safetensors"); },
                 ErrorKind::kCorruptInput, "too short");
    std::ofstream(dir / "empty.safetensors").close();
    expect_error([&] { SafetensorsFile::open(dir / "empty.safetensors"); },
                 ErrorKind::kCorruptInput, "too short");
    expect_error([&] { SafetensorsFile::open(dir / "none.safetensors"); }, ErrorKind::kNotFound,
                 "none.safetensors");
}

TEST(Safetensors, TensorCountLimit) {
    ScratchDir dir("st");
    write_raw(dir / "a.safetensors",
              R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
              R"("b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
              "xy");
    SafetensorsLimits limits;
    limits.max_tensors = 1;
    expect_error([&] { SafetensorsFile::open(dir / "a.safetensors", limits); },
                 ErrorKind::kLimitExceeded, "limit");
}

// A sharded checkpoint written by hand: index + two shards.
class ShardedCheckpoint : public ::testing::Test {
protected:
    void SetUp() override {
        SafetensorsWriter w1, w2;
        const std::vector<float> a = {1, 2}, b = {3};
        w1.add_f32("layer.0.weight", {2}, a);
        w2.add_f32("layer.1.weight", {1}, b);
        w1.write(dir_ / "model-00001-of-00002.safetensors");
        w2.write(dir_ / "model-00002-of-00002.safetensors");
        write_index(R"({"metadata":{"total_size":12},"weight_map":{
            "layer.0.weight":"model-00001-of-00002.safetensors",
            "layer.1.weight":"model-00002-of-00002.safetensors"}})");
    }
    void write_index(const std::string& text) {
        std::ofstream(dir_ / "model.safetensors.index.json") << text;
    }
    ScratchDir dir_{"ckpt"};
};

TEST_F(ShardedCheckpoint, IndexesEveryShard) {
    const auto ckpt = Checkpoint::open(dir_.path());
    EXPECT_EQ(ckpt.shards().size(), 2u);
    EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"layer.0.weight", "layer.1.weight"}));
    EXPECT_EQ(to_f32(ckpt.at("layer.1.weight")), (std::vector<float>{3}));
    expect_error([&] { ckpt.at("nope"); }, ErrorKind::kNotFound, "nope");
}

TEST_F(ShardedCheckpoint, MissingShardIsNamed) {
    std::filesystem::remove(dir_ / "model-00002-of-00002.safetensors");
    expect_error([&] { Checkpoint::open(dir_.path()); }, ErrorKind::kNotFound,
                 "model-00002-of-00002.safetensors");
}

TEST_F(ShardedCheckpoint, IndexThatLiesAboutAShard) {
    write_index(R"({"weight_map":{"layer.9.weight":"model-00001-of-00002.safetensors"}})");
    expect_error([&] { Checkpoint::open(dir_.path()); }, ErrorKind::kCorruptInput,
                 "layer.9.weight");
}

TEST_F(ShardedCheckpoint, ShardPathsMayNotLeaveTheFolder) {
    write_index(R"({"weight_map":{"layer.0.weight":"../model-00001-of-00002.safetensors"}})");
    expect_error([&] { Checkpoint::open(dir_.path()); }, ErrorKind::kCorruptInput,
                 "plain file name");
}

TEST_F(ShardedCheckpoint, DuplicateTensorAcrossShards) {
    SafetensorsWriter w;
    const std::vector<float> a = {9, 9};
    w.add_f32("layer.0.weight", {2}, a);
    w.write(dir_ / "model-00002-of-00002.safetensors");
    write_index(R"({"weight_map":{"layer.0.weight":"model-00002-of-00002.safetensors",
                                  "x":"model-00001-of-00002.safetensors"}})");
    expect_error([&] { Checkpoint::open(dir_.path()); }, ErrorKind::kCorruptInput, "x");
}

TEST(Checkpoint, FolderWithoutWeights) {
    ScratchDir dir("ckpt");
    expect_error([&] { Checkpoint::open(dir.path()); }, ErrorKind::kNotFound, "model.safetensors");
}

}  // namespace
}  // namespace sarsteer::io
