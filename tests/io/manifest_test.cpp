#include "io/manifest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "io/sha256.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::io {
namespace {

namespace fs = std::filesystem;
using sarsteer::testing::ScratchDir;

void write_file(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    ASSERT_TRUE(out.good()) << path;
}

// Loads and expects an Error of `kind` whose message contains every one of `parts`.
void expect_error(const fs::path& path, const ManifestOptions& options, ErrorKind kind,
                  std::initializer_list<std::string> parts) {
    try {
        Manifest::load(path, options);
        ADD_FAILURE() << "expected an Error loading " << path;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        for (const auto& part : parts) {
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
                << "missing \"" << part << "\" in: " << e.what();
        }
    }
}

TEST(Manifest, HappyPathResolvesAudioAndKeepsFields) {
    ScratchDir dir("manifest");
    write_file(dir / "audio" / "a.wav", "RIFF");
    write_file(dir / "elsewhere" / "b.wav", "RIFF");
    const auto absolute = (dir / "elsewhere" / "b.wav").string();
    write_file(dir / "set.jsonl",
               "{\"id\": \"figstep-1\", \"question\": \"How?\", \"label\": \"harmful\", "
               "\"audio\": \"audio/a.wav\", \"scenario\": \"Fraud\", \"split\": \"train\"}\r\n"
               "\r\n"
               "   \n"
               "{\"id\": 42, \"question\": \"Why?\", \"audio\": \"" +
                   absolute + "\", \"extra\": [1, 2]}\r\n");
    const auto m = Manifest::load(dir / "set.jsonl");
    EXPECT_EQ(m.path, dir / "set.jsonl");
    ASSERT_EQ(m.items.size(), 2u);

    EXPECT_EQ(m.items[0].id, "figstep-1");
    EXPECT_EQ(m.items[0].question, "How?");
    EXPECT_EQ(m.items[0].label, "harmful");
    ASSERT_TRUE(m.items[0].audio);
    EXPECT_TRUE(fs::equivalent(*m.items[0].audio, dir / "audio" / "a.wav"));
    EXPECT_EQ(*m.items[0].audio, (dir / "audio" / "a.wav").lexically_normal());
    EXPECT_EQ(m.items[0].fields.at("scenario"), "Fraud");
    EXPECT_EQ(m.items[0].fields.at("split"), "train");

    EXPECT_EQ(m.items[1].id, "42");
    EXPECT_EQ(m.items[1].question, "Why?");
    EXPECT_EQ(m.items[1].label, "");  // absent label
    ASSERT_TRUE(m.items[1].audio);
    EXPECT_EQ(*m.items[1].audio, fs::path(absolute).lexically_normal());
    EXPECT_EQ(m.items[1].fields.at("extra"), nlohmann::json::array({1, 2}));
    EXPECT_EQ(m.items[1].fields.at("id"), 42);  // fields keep the line as read
}

TEST(Manifest, ToleratesBomNoTrailingNewlineAndDotDotPaths) {
    ScratchDir dir("manifest");
    write_file(dir / "wav" / "x.wav", "RIFF");
    write_file(dir / "lists" / "m.jsonl",
               "\xEF\xBB\xBF{\"id\": \"-7\", \"question\": \"q\", \"audio\": \"../wav/x.wav\"}");
    const auto m = Manifest::load(dir / "lists" / "m.jsonl");
    ASSERT_EQ(m.items.size(), 1u);
    EXPECT_EQ(*m.items[0].audio, (dir / "wav" / "x.wav").lexically_normal());
}

TEST(Manifest, Sha256IsOfTheFileBytes) {
    ScratchDir dir("manifest");
    const std::string text = "{\"id\": 1, \"question\": \"q\"}\n";
    write_file(dir / "m.jsonl", text);
    ManifestOptions options;
    options.require_audio = false;
    const auto m = Manifest::load(dir / "m.jsonl", options);
    EXPECT_EQ(m.sha256, sha256_hex(std::string_view(text)));
    EXPECT_EQ(m.sha256.size(), 64u);
}

TEST(Manifest, TextOnlyWithoutRequireAudio) {
    ScratchDir dir("manifest");
    write_file(dir / "t.jsonl",
               "{\"id\": 1, \"question\": \"a\"}\n"
               "{\"id\": 2, \"question\": \"b\", \"audio\": \"not/synthesized/yet.wav\"}\n");
    ManifestOptions options;
    options.require_audio = false;
    const auto m = Manifest::load(dir / "t.jsonl", options);
    ASSERT_EQ(m.items.size(), 2u);
    EXPECT_FALSE(m.items[0].audio);
    ASSERT_TRUE(m.items[1].audio);  // resolved, but not checked
    EXPECT_EQ(*m.items[1].audio, dir / "not/synthesized/yet.wav");

    // The same file with audio required names the line of the item without audio.
    expect_error(dir / "t.jsonl", {}, ErrorKind::kCorruptInput,
                 {"t.jsonl", "line 1:", "\"audio\""});
}

TEST(Manifest, LoadsTheSharedFigstepQuestionsTextOnly) {
    const auto path = sarsteer::testing::shared_dir() / "datasets" / "figstep_harmful_train.jsonl";
    if (!fs::exists(path)) GTEST_SKIP() << "no " << path;
    ManifestOptions options;
    options.require_audio = false;
    const auto m = Manifest::load(path, options);
    ASSERT_EQ(m.items.size(), 100u);
    EXPECT_EQ(m.items[0].id, "figstep-harmful-train-0001");
    EXPECT_EQ(m.items[0].label, "harmful");
    EXPECT_FALSE(m.items[0].audio);  // those files carry `audio_file`, not `audio`
    EXPECT_TRUE(m.items[0].fields.contains("audio_file"));
    EXPECT_EQ(m.sha256, sha256_file_hex(path));
}

TEST(Manifest, LimitKeepsTheFirstItems) {
    ScratchDir dir("manifest");
    std::string text;
    for (int i = 0; i < 5; ++i) {
        text += "{\"id\": \"q" + std::to_string(i) + "\", \"question\": \"x\"}\n";
    }
    write_file(dir / "five.jsonl", text);
    ManifestOptions options;
    options.require_audio = false;

    options.limit = 3;
    auto m = Manifest::load(dir / "five.jsonl", options);
    ASSERT_EQ(m.items.size(), 3u);
    EXPECT_EQ(m.items[0].id, "q0");
    EXPECT_EQ(m.items[2].id, "q2");

    options.limit = 5;
    EXPECT_EQ(Manifest::load(dir / "five.jsonl", options).items.size(), 5u);

    options.limit = 6;
    expect_error(dir / "five.jsonl", options, ErrorKind::kInvalidArgument,
                 {"five.jsonl", "limit 6", "5 items"});

    options.limit = 0;
    expect_error(dir / "five.jsonl", options, ErrorKind::kInvalidArgument, {"five.jsonl", "0"});
}

TEST(Manifest, AudioIsCheckedOnlyForKeptItems) {
    ScratchDir dir("manifest");
    write_file(dir / "a.wav", "RIFF");
    write_file(dir / "m.jsonl",
               "{\"id\": \"a\", \"question\": \"x\", \"audio\": \"a.wav\"}\n"
               "{\"id\": \"b\", \"question\": \"x\", \"audio\": \"missing.wav\"}\n");
    ManifestOptions options;
    options.limit = 1;
    EXPECT_EQ(Manifest::load(dir / "m.jsonl", options).items.size(), 1u);
    expect_error(dir / "m.jsonl", {}, ErrorKind::kNotFound,
                 {"m.jsonl", "line 2:", (dir / "missing.wav").string()});
}

TEST(Manifest, AudioThatIsNotARegularFile) {
    ScratchDir dir("manifest");
    fs::create_directories(dir / "clips");
    write_file(dir / "m.jsonl", "\n{\"id\": \"a\", \"question\": \"x\", \"audio\": \"clips\"}\n");
    expect_error(dir / "m.jsonl", {}, ErrorKind::kNotFound,
                 {"m.jsonl", "line 2:", "not a regular file", (dir / "clips").string()});
}

struct BadLine {
    const char* name;
    std::string text;  // the manifest; the bad line is `line`
    int line;
    ErrorKind kind;
    std::string detail;
};

TEST(Manifest, ErrorsNameFileAndLine) {
    const std::string ok = "{\"id\": \"ok\", \"question\": \"q\"}\n";
    const BadLine cases[] = {
        {"bad_json", ok + "\n{\"id\": \"x\", \"question\": \n", 3, ErrorKind::kCorruptInput,
         "invalid JSON"},
        {"not_object", ok + "[1, 2]\n", 2, ErrorKind::kCorruptInput, "expected a JSON object"},
        {"no_id", ok + "{\"question\": \"q\"}\n", 2, ErrorKind::kCorruptInput, "\"id\""},
        {"empty_id", ok + "{\"id\": \"\", \"question\": \"q\"}\n", 2, ErrorKind::kCorruptInput,
         "\"id\" is empty"},
        {"float_id", ok + "{\"id\": 1.5, \"question\": \"q\"}\n", 2, ErrorKind::kCorruptInput,
         "\"id\" must be"},
        {"no_question", ok + "{\"id\": \"a\"}\n", 2, ErrorKind::kCorruptInput, "\"question\""},
        {"blank_question", ok + "{\"id\": \"a\", \"question\": \"  \"}\n", 2,
         ErrorKind::kCorruptInput, "\"question\" is empty"},
        {"number_question", ok + "{\"id\": \"a\", \"question\": 3}\n", 2, ErrorKind::kCorruptInput,
         "\"question\" must be a string"},
        {"number_label", ok + "{\"id\": \"a\", \"question\": \"q\", \"label\": 1}\n", 2,
         ErrorKind::kCorruptInput, "\"label\""},
        {"number_audio", ok + "{\"id\": \"a\", \"question\": \"q\", \"audio\": 1}\n", 2,
         ErrorKind::kCorruptInput, "\"audio\""},
        {"duplicate", ok + "\r\n" + ok, 3, ErrorKind::kCorruptInput,
         "duplicate id \"ok\" (first on line 1)"},
        {"duplicate_int_vs_string",
         "{\"id\": 3, \"question\": \"q\"}\n{\"id\": \"3\", \"question\": \"q\"}\n", 2,
         ErrorKind::kCorruptInput, "duplicate id \"3\""},
        {"bad_utf8", ok + "{\"id\": \"a\", \"question\": \"\xFF\"}\n", 2, ErrorKind::kCorruptInput,
         "invalid JSON"},
        {"long_line",
         ok + "\n" + "{\"id\": \"a\", \"question\": \"" + std::string((1u << 20) + 1, 'x') +
             "\"}\n",
         3, ErrorKind::kLimitExceeded, "limit"},
    };
    ScratchDir dir("manifest");
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto path = dir / (std::string(c.name) + ".jsonl");
        write_file(path, c.text);
        ManifestOptions options;
        options.require_audio = false;
        expect_error(
            path, options, c.kind,
            {std::string(c.name) + ".jsonl: line " + std::to_string(c.line) + ": ", c.detail});
    }
}

TEST(Manifest, InvalidJsonReportsColumnNotInnerLine) {
    ScratchDir dir("manifest");
    write_file(dir / "m.jsonl", "{\"id\": \"a\", \"question\": \"q\"}\n{\"id\": x}\n");
    try {
        ManifestOptions options;
        options.require_audio = false;
        Manifest::load(dir / "m.jsonl", options);
        FAIL();
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("m.jsonl: line 2: invalid JSON"), std::string::npos) << what;
        EXPECT_EQ(what.find("line 1"), std::string::npos) << what;
    }
}

TEST(Manifest, EmptyAndMissingFiles) {
    ScratchDir dir("manifest");
    write_file(dir / "empty.jsonl", "");
    write_file(dir / "blank.jsonl", "\n\r\n  \n");
    ManifestOptions options;
    options.require_audio = false;
    expect_error(dir / "empty.jsonl", options, ErrorKind::kCorruptInput,
                 {"empty.jsonl", "no items"});
    expect_error(dir / "blank.jsonl", options, ErrorKind::kCorruptInput,
                 {"blank.jsonl", "no items"});
    expect_error(dir / "absent.jsonl", options, ErrorKind::kNotFound, {"absent.jsonl"});
}

}  // namespace
}  // namespace sarsteer::io
