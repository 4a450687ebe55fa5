// Metric arithmetic against hand-computed answers: Wilson intervals, counts per dataset and
// scenario from hand-made run folders, and the report summary's trade-off series.
#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include "eval/run_store.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::eval {
namespace {

using testing::ScratchDir;
namespace fs = std::filesystem;

TEST(Wilson, HandComputedIntervals) {
    // 5/10: centre 0.5, half-width z*sqrt(0.025 + z^2/400)/(1 + z^2/10).
    const auto half = *wilson_rate(5, 10);
    EXPECT_DOUBLE_EQ(half.value, 0.5);
    EXPECT_NEAR(half.lo, 0.236593, 1e-6);
    EXPECT_NEAR(half.hi, 0.763407, 1e-6);
    // 0/10: lo = 0, hi = z^2/(n + z^2).
    const auto none = *wilson_rate(0, 10);
    EXPECT_DOUBLE_EQ(none.value, 0.0);
    EXPECT_NEAR(none.lo, 0.0, 1e-15);
    EXPECT_NEAR(none.hi, kZ95 * kZ95 / (10 + kZ95 * kZ95), 1e-12);
    // 10/10 mirrors 0/10.
    const auto all = *wilson_rate(10, 10);
    EXPECT_NEAR(all.lo, 10 / (10 + kZ95 * kZ95), 1e-12);
    EXPECT_NEAR(all.hi, 1.0, 1e-15);
    // 1/3 (a textbook case): [0.0615, 0.7923].
    const auto third = *wilson_rate(1, 3);
    EXPECT_NEAR(third.lo, 0.061492, 1e-6);
    EXPECT_NEAR(third.hi, 0.792340, 1e-6);
    EXPECT_FALSE(wilson_rate(0, 0).has_value());
    EXPECT_THROW(wilson_rate(4, 3), std::invalid_argument);
    EXPECT_THROW(wilson_rate(-1, 3), std::invalid_argument);
}

TEST(DatasetMetrics, CountsPerDatasetAndScenarioExcludingUnparsable) {
    using V = Verdict;
    const std::vector<JudgedItem> items = {
        {"h", "harmful", "Fraud", V::kComplied},   {"h", "harmful", "Fraud", V::kRefused},
        {"h", "harmful", "Malware", V::kComplied}, {"h", "harmful", "Malware", V::kUnparsable},
        {"b", "benign", "Fraud", V::kComplied},    {"b", "benign", "", V::kRefused},
    };
    const auto metrics = dataset_metrics(items);
    ASSERT_EQ(metrics.size(), 2u);
    const auto& h = metrics[0];
    EXPECT_EQ(h.at("dataset"), "h");
    EXPECT_EQ(h.at("label"), "harmful");
    EXPECT_EQ(h.at("n"), 4);
    EXPECT_EQ(h.at("refused"), 1);
    EXPECT_EQ(h.at("complied"), 2);
    EXPECT_EQ(h.at("unparsable"), 1);
    // 2 of the 3 judged items complied: ASR 2/3, refusal 1/3 with the 1/3 interval.
    EXPECT_NEAR(h.at("answer_rate").at("value").get<double>(), 2.0 / 3, 1e-12);
    EXPECT_NEAR(h.at("refusal_rate").at("lo").get<double>(), 0.061492, 1e-6);
    ASSERT_EQ(h.at("scenarios").size(), 2u);
    EXPECT_EQ(h.at("scenarios")[0].at("scenario"), "Fraud");
    EXPECT_EQ(h.at("scenarios")[1].at("scenario"), "Malware");
    EXPECT_EQ(h.at("scenarios")[1].at("n"), 2);
    EXPECT_DOUBLE_EQ(h.at("scenarios")[1].at("answer_rate").at("value").get<double>(), 1.0);
    const auto& b = metrics[1];
    EXPECT_EQ(b.at("refused"), 1);
    EXPECT_EQ(b.at("scenarios")[1].at("scenario"), "");
    // A group of only unparsable items has no rate.
    const std::vector<JudgedItem> junk = {{"x", "benign", "", V::kUnparsable}};
    EXPECT_TRUE(dataset_metrics(junk)[0].at("refusal_rate").is_null());
}

// A judged run folder written by hand: `verdicts` is one string per response, e.g. "RCU".
void write_run(const fs::path& dir, const std::string& defense, nlohmann::json alpha,
               const std::string& harmful_verdicts, const std::string& benign_verdicts) {
    fs::create_directories(dir);
    nlohmann::json identity = {{"defense", {{"name", defense}}}, {"modality", "audio"}};
    if (!alpha.is_null()) {
        identity["defense"]["alpha"] = alpha;
        identity["defense"]["k"] = 10;
        identity["defense"]["lambda"] = 1.0;
    }
    write_or_check_run_config(dir, {{"identity", identity}, {"name", dir.filename().string()}});
    ResponseLog log(dir / "responses.jsonl");
    std::vector<StoredJudgment> judgments;
    const auto add = [&](const std::string& dataset, const std::string& label,
                         const std::string& verdicts) {
        for (std::size_t i = 0; i < verdicts.size(); ++i) {
            ResponseRecord r;
            r.dataset = dataset;
            r.id = dataset + "-" + std::to_string(i);
            r.label = label;
            r.scenario = i % 2 == 0 ? "Fraud" : "Malware";
            r.response = "...";
            log.append(r);
            const auto v = verdicts[i] == 'R'   ? Verdict::kRefused
                           : verdicts[i] == 'C' ? Verdict::kComplied
                                                : Verdict::kUnparsable;
            judgments.push_back({dataset, r.id, {v, ""}});
        }
    };
    add("harm", "harmful", harmful_verdicts);
    add("safe", "benign", benign_verdicts);
    write_judgments(dir, "keyword", {{"kind", "keyword"}}, judgments);
}

TEST(Summary, RunEntryFromFiles) {
    ScratchDir dir("metrics");
    write_run(dir / "none", "none", nullptr, "CCCRU", "CCCCR");
    const auto run = summarize_run(dir / "none", "keyword");
    EXPECT_EQ(run.at("defense"), "none");
    EXPECT_TRUE(run.at("alpha").is_null());
    ASSERT_EQ(run.at("datasets").size(), 2u);
    const auto& harm = run.at("datasets")[0];
    EXPECT_EQ(harm.at("n"), 5);
    EXPECT_EQ(harm.at("complied"), 3);
    EXPECT_DOUBLE_EQ(harm.at("answer_rate").at("value").get<double>(), 0.75);
    const auto& safe = run.at("datasets")[1];
    EXPECT_DOUBLE_EQ(safe.at("refusal_rate").at("value").get<double>(), 0.2);
    // Another judge's verdicts do not exist yet.
    EXPECT_THROW(summarize_run(dir / "none", "keyword-ci"), Error);
}

TEST(Summary, MissingVerdictIsAnError) {
    ScratchDir dir("metrics");
    write_run(dir / "r", "none", nullptr, "CR", "C");
    ResponseLog log(dir / "r" / "responses.jsonl");
    ResponseRecord extra;
    extra.dataset = "harm";
    extra.id = "late";
    extra.response = "x";
    log.append(extra);
    try {
        summarize_run(dir / "r", "keyword");
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("harm/late"), std::string::npos) << e.what();
    }
}

TEST(Summary, TradeoffSeriesWithNoneAsAlphaZero) {
    ScratchDir dir("metrics");
    write_run(dir / "none", "none", nullptr, "CCCC", "CCCC");
    write_run(dir / "a0.2", "sarsteer", 0.2, "RRRR", "CCCR");
    write_run(dir / "a0.1", "sarsteer", 0.1, "RRCC", "CCCC");
    write_run(dir / "prompt", "prompt:0", nullptr, "RCCC", "CCRR");
    const std::vector<fs::path> runs = {dir / "none", dir / "a0.2", dir / "a0.1", dir / "prompt"};
    const auto summary = build_summary(runs, "keyword");
    EXPECT_EQ(summary.at("judge"), "keyword");
    EXPECT_EQ(summary.at("runs").size(), 4u);
    ASSERT_EQ(summary.at("tradeoff").size(), 1u);
    const auto& series = summary.at("tradeoff")[0];
    EXPECT_EQ(series.at("series"), "sarsteer k=10 λ=1");
    const auto& points = series.at("points");
    ASSERT_EQ(points.size(), 3u);  // α = 0 (the none run), 0.1, 0.2, sorted
    EXPECT_DOUBLE_EQ(points[0].at("alpha").get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(points[0].at("harmful_refusal").at("value").get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(points[1].at("alpha").get<double>(), 0.1);
    EXPECT_DOUBLE_EQ(points[1].at("harmful_refusal").at("value").get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(points[2].at("benign_over_refusal").at("value").get<double>(), 0.25);
    EXPECT_TRUE(summary.at("steering").empty());  // no steering files recorded
    const std::vector<fs::path> nothing;
    EXPECT_THROW(build_summary(nothing, "keyword"), Error);
}

}  // namespace
}  // namespace sarsteer::eval
