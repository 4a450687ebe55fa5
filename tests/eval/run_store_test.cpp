// The run folder's files: appending and resuming responses (torn last lines cut off), the
// configuration check, dataset names and judgments.
#include "eval/run_store.h"
#include "eval/runner.h"

#include <gtest/gtest.h>

#include <fstream>

#include "cli_support.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::eval {
namespace {

using testing::ScratchDir;
using testing::slurp;
namespace fs = std::filesystem;

ResponseRecord record(const std::string& dataset, const std::string& id, const std::string& text) {
    ResponseRecord r;
    r.dataset = dataset;
    r.id = id;
    r.label = "harmful";
    r.scenario = "Fraud";
    r.question = "q " + id;
    r.modality = "audio";
    r.response = text;
    r.finish_reason = "stop";
    r.prompt_tokens = 12;
    r.completion_tokens = 3;
    return r;
}

TEST(ResponseLog, AppendsAndReopens) {
    ScratchDir dir("store");
    const auto path = dir / "responses.jsonl";
    {
        ResponseLog log(path);
        EXPECT_TRUE(log.records().empty());
        log.append(record("a", "1", "Sure."));
        log.append(record("a", "2", "No \"quotes\"\nand lines"));
        log.append(record("b", "1", "\xff invalid UTF-8"));
        EXPECT_TRUE(log.contains("a", "2"));
        EXPECT_FALSE(log.contains("b", "2"));
    }
    ResponseLog again(path);
    ASSERT_EQ(again.records().size(), 3u);
    EXPECT_EQ(again.records()[1].response, "No \"quotes\"\nand lines");
    EXPECT_EQ(again.records()[1].prompt_tokens, 12);
    EXPECT_TRUE(again.contains("b", "1"));  // same id, other dataset: a different item
    EXPECT_EQ(read_responses(path).size(), 3u);
    // One line per record.
    const auto text = slurp(path);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
}

TEST(ResponseLog, TornLastLineIsCutOffBeforeAppending) {
    ScratchDir dir("store");
    const auto path = dir / "responses.jsonl";
    {
        ResponseLog log(path);
        log.append(record("a", "1", "x"));
    }
    {
        std::ofstream out(path, std::ios::app);
        out << R"({"dataset":"a","id":"2","resp)";  // a kill in the middle of a write
    }
    {
        ResponseLog log(path);
        ASSERT_EQ(log.records().size(), 1u);
        EXPECT_FALSE(log.contains("a", "2"));
        log.append(record("a", "2", "y"));
    }
    const auto records = read_responses(path);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].response, "y");
}

TEST(ResponseLog, CorruptCompleteLineNamesFileAndLine) {
    ScratchDir dir("store");
    const auto path = dir / "responses.jsonl";
    {
        std::ofstream out(path);
        out << R"({"dataset":"a","id":"1","response":"x"})"
            << "\n{not json}\n";
    }
    try {
        ResponseLog log(path);
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("responses.jsonl:2"), std::string::npos) << e.what();
    }
    {
        std::ofstream out(path);
        out << R"({"dataset":"a","response":"x"})"
            << "\n";  // no id
    }
    EXPECT_THROW(read_responses(path), Error);
}

TEST(RunConfig, WrittenOnceAndCheckedAfterwards) {
    ScratchDir dir("store");
    const nlohmann::json config = {
        {"identity", {{"defense", {{"name", "sarsteer"}, {"alpha", 0.1}}}, {"seed", 0}}},
        {"created", "t0"}};
    write_or_check_run_config(dir.path(), config);
    auto later = config;
    later["created"] = "t1";  // not part of the identity
    EXPECT_NO_THROW(write_or_check_run_config(dir.path(), later));
    EXPECT_EQ(read_run_config(dir.path()).at("created"), "t0");
    auto other = config;
    other["identity"]["defense"]["alpha"] = 0.2;
    try {
        write_or_check_run_config(dir.path(), other);
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("defense.alpha"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
    }
    auto extra = config;
    extra["identity"]["system"] = "Be safe.";
    EXPECT_THROW(write_or_check_run_config(dir.path(), extra), Error);
}

TEST(RunStore, DatasetNames) {
    EXPECT_EQ(dataset_name("data/figstep_harmful_test.jsonl"), "figstep_harmful_test");
    EXPECT_EQ(dataset_name("spoken/figstep_benign/manifest.jsonl"), "figstep_benign");
}

TEST(RunStore, JudgmentsRoundTrip) {
    ScratchDir dir("store");
    write_judgments(dir.path(), "keyword", {{"kind", "keyword"}},
                    {{"a", "1", {Verdict::kRefused, "I cannot"}},
                     {"a", "2", {Verdict::kComplied, ""}},
                     {"b", "1", {Verdict::kUnparsable, "maybe"}}});
    const auto verdicts = read_judgments(dir.path(), "keyword");
    ASSERT_EQ(verdicts.size(), 3u);
    EXPECT_EQ(verdicts.at({"a", "1"}), Verdict::kRefused);
    EXPECT_EQ(verdicts.at({"b", "1"}), Verdict::kUnparsable);
    EXPECT_TRUE(fs::exists(dir / "judgments/keyword.about.json"));
    EXPECT_THROW(read_judgments(dir.path(), "keyword-ci"), Error);
}

TEST(RunStore, ItemSeedsDependOnRunSeedDatasetAndId) {
    const auto base = item_seed(0, "a", "1");
    EXPECT_EQ(item_seed(0, "a", "1"), base);
    EXPECT_NE(item_seed(1, "a", "1"), base);
    EXPECT_NE(item_seed(0, "b", "1"), base);
    EXPECT_NE(item_seed(0, "a", "2"), base);
    EXPECT_NE(item_seed(0, "a1", ""), item_seed(0, "a", "1"));  // fields are separated
}

}  // namespace
}  // namespace sarsteer::eval
