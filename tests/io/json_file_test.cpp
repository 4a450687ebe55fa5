#include "io/json_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::io {
namespace {

TEST(JsonFile, ParseErrorsNameTheFile) {
    sarsteer::testing::ScratchDir dir("json");
    std::ofstream(dir / "bad.json") << "{\"a\": 1,";
    try {
        read_json_file(dir / "bad.json");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kCorruptInput);
        EXPECT_NE(std::string(e.what()).find("bad.json: invalid JSON"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(read_json_file(dir / "missing.json"), Error);
}

TEST(JsonFile, TypedFields) {
    const auto j = nlohmann::json::parse(R"({"n": 3, "big": 5000000000, "x": 0.5, "s": "hi",
                                             "b": true, "null": null})");
    EXPECT_EQ(required_field<int>(j, "n", "f"), 3);
    EXPECT_EQ(required_field<std::int64_t>(j, "big", "f"), 5000000000LL);
    EXPECT_EQ(required_field<double>(j, "n", "f"), 3.0);  // integers are numbers
    EXPECT_EQ(optional_field<std::string>(j, "missing", "d", "f"), "d");
    EXPECT_EQ(optional_field<int>(j, "null", 7, "f"), 7);
    EXPECT_TRUE(required_field<bool>(j, "b", "f"));
    EXPECT_THROW(required_field<int>(j, "big", "f"), Error);  // out of range, not wrapped
    EXPECT_THROW(required_field<int>(j, "x", "f"), Error);    // 0.5 is not an integer
    EXPECT_THROW(required_field<std::string>(j, "n", "f"), Error);
    try {
        required_field<int>(j, "missing", "config.json");
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "config.json: missing required field \"missing\"");
    }
}

}  // namespace
}  // namespace sarsteer::io
