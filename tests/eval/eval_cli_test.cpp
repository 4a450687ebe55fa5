// End-to-end tests of `sarsteer eval`, `judge`, `report` and `sweep` on a tiny checkpoint and
// spoken versions of the bundled FigStep slices: a run killed mid-way resumes with no duplicate
// and no missing item, results do not depend on batching or resuming, and the sweep reuses one
// calibration pass.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "cli_support.h"
#include "eval/run_store.h"
#include "io/json_file.h"
#include "io/manifest.h"
#include "test_support.h"

namespace {

using sarsteer::testing::expect_one_line_error;
using sarsteer::testing::run;
using sarsteer::testing::ScratchDir;
using sarsteer::testing::source_dir;
namespace fs = std::filesystem;

class EvalCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new ScratchDir("evalcli");
        ASSERT_EQ(run({"make-tiny", model().string(), "--seed", "11"}).exit_code, 0);
        for (const char* set : {"figstep_harmful_test_mini", "figstep_benign_test_mini",
                                "figstep_harmful_train_mini", "figstep_benign_train_mini"}) {
            const auto r =
                run({"synth", "--data",
                     (source_dir() / "data/datasets" / (std::string(set) + ".jsonl")).string(),
                     "--out-dir", (dir_->path() / set).string()});
            ASSERT_EQ(r.exit_code, 0) << r.err;
        }
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static fs::path model() { return dir_->path() / "tiny"; }
    static std::string manifest(const std::string& set) {
        return (dir_->path() / set / "manifest.jsonl").string();
    }
    static std::vector<std::string> eval_args(const fs::path& out) {
        return {"eval",
                "--model",
                model().string(),
                "--data",
                manifest("figstep_harmful_test_mini"),
                "--data",
                manifest("figstep_benign_test_mini"),
                "--max-new-tokens",
                "40",
                "--temperature",
                "1",
                "--seed",
                "7",
                "--out",
                out.string()};
    }
    static ScratchDir* dir_;
};

ScratchDir* EvalCli::dir_ = nullptr;

std::size_t count_lines(const fs::path& path) {
    const auto text = sarsteer::testing::slurp(path);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// (dataset, id) -> response of every line, failing on duplicates.
std::map<std::pair<std::string, std::string>, std::string> responses_of(const fs::path& run_dir) {
    std::map<std::pair<std::string, std::string>, std::string> out;
    for (const auto& r : sarsteer::eval::read_responses(run_dir / "responses.jsonl")) {
        EXPECT_TRUE(out.emplace(std::pair(r.dataset, r.id), r.response).second)
            << "duplicate " << r.dataset << "/" << r.id;
    }
    return out;
}

TEST_F(EvalCli, KilledRunResumesWithNoDuplicateOrMissingItem) {
    const auto out = dir_->path() / "killed";
    auto args = eval_args(out);
    for (const char* extra : {"--batch", "1", "--judge", "none"}) args.push_back(extra);

    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::vector<char*> argv;
        std::string binary = sarsteer::testing::sarsteer_binary().string();
        argv.push_back(binary.data());
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int null_fd = open("/dev/null", O_WRONLY);
        dup2(null_fd, STDERR_FILENO);
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
    // Kill it as soon as a few items are on disk.
    const auto responses = out / "responses.jsonl";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline &&
           (!fs::exists(responses) || count_lines(responses) < 3)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
    const auto at_kill = count_lines(responses);
    EXPECT_GE(at_kill, 3u);
    EXPECT_LT(at_kill, 28u);

    const auto resumed = run(args);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.err.find("resuming: " + std::to_string(at_kill) + " of 28"),
              std::string::npos)
        << resumed.err;
    const auto after = responses_of(out);
    std::set<std::pair<std::string, std::string>> expected;
    for (const char* set : {"figstep_harmful_test_mini", "figstep_benign_test_mini"}) {
        for (const auto& item : sarsteer::io::Manifest::load(manifest(set)).items) {
            expected.emplace(set, item.id);
        }
    }
    std::set<std::pair<std::string, std::string>> got;
    for (const auto& [key, text] : after) got.insert(key);
    EXPECT_EQ(got, expected);

    // Sampled answers depend only on the item: an uninterrupted run in batches of 4 agrees.
    const auto whole_dir = dir_->path() / "whole";
    auto whole = eval_args(whole_dir);
    for (const char* extra : {"--batch", "4", "--judge", "none"}) whole.push_back(extra);
    ASSERT_EQ(run(whole).exit_code, 0);
    EXPECT_EQ(responses_of(whole_dir), after);
}

TEST_F(EvalCli, JudgeReportAndConfigChecks) {
    const auto out = dir_->path() / "judged";
    auto args = eval_args(out);
    for (const char* extra : {"--batch", "8", "-n", "5", "--json"}) args.push_back(extra);
    const auto first = run(args);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const auto metrics = nlohmann::json::parse(first.out);
    ASSERT_EQ(metrics.at("datasets").size(), 2u);
    EXPECT_EQ(metrics.at("datasets")[0].at("n"), 5);
    EXPECT_EQ(metrics.at("datasets")[0].at("label"), "harmful");
    EXPECT_EQ(metrics.at("judge"), "keyword");
    const auto config = sarsteer::io::read_json_file(out / "config.json");
    EXPECT_EQ(config.at("identity").at("defense").at("name"), "none");
    EXPECT_EQ(config.at("identity").at("generation").at("seed"), 7);
    EXPECT_EQ(config.at("identity").at("model").at("model_type"), "qwen2_audio");
    EXPECT_FALSE(config.at("tool_version").get<std::string>().empty());

    // Re-judging rewrites verdicts for every stored response, without generating.
    const auto judged = run({"judge", "--run", out.string(), "--judge", "keyword-ci", "--json"});
    ASSERT_EQ(judged.exit_code, 0) << judged.err;
    EXPECT_EQ(count_lines(out / "judgments/keyword-ci.jsonl"), 10u);
    EXPECT_EQ(count_lines(out / "responses.jsonl"), 10u);
    EXPECT_TRUE(fs::exists(out / "metrics/keyword-ci.json"));

    // Another defense into the same folder is refused before any work; the results stay.
    auto other = eval_args(out);
    for (const char* extra : {"--defense", "prompt:0"}) other.push_back(extra);
    expect_one_line_error(run(other), "config.json", 2);
    EXPECT_EQ(count_lines(out / "responses.jsonl"), 10u);

    // Bad inputs: one line naming the problem.
    auto missing = eval_args(dir_->path() / "missing");
    missing[4] = (dir_->path() / "no-such.jsonl").string();
    expect_one_line_error(run(missing), "no-such.jsonl", 1);
    auto bad_judge = eval_args(dir_->path() / "badjudge");
    for (const char* extra : {"--judge", "regex"}) bad_judge.push_back(extra);
    expect_one_line_error(run(bad_judge), "regex", 2);
    EXPECT_FALSE(fs::exists(dir_->path() / "badjudge/responses.jsonl"));

    const auto report = dir_->path() / "report";
    const auto r = run({"report", out.string(), "--out", report.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto summary = sarsteer::io::read_json_file(report / "summary.json");
    EXPECT_EQ(summary.at("runs").size(), 1u);
    EXPECT_TRUE(fs::exists(report / "report.md"));
    EXPECT_TRUE(fs::exists(report / "report.html"));
    EXPECT_NE(r.out.find("figstep_harmful_test_mini"), std::string::npos) << r.out;
}

TEST_F(EvalCli, SweepReusesOneCalibrationAndSteeringChangesAnswers) {
    const auto out = dir_->path() / "sweep";
    const std::vector<std::string> args = {"sweep",
                                           "--model",
                                           model().string(),
                                           "--harmful",
                                           manifest("figstep_harmful_train_mini"),
                                           "--safe",
                                           manifest("figstep_benign_train_mini"),
                                           "--n-calibration",
                                           "6",
                                           "--data",
                                           manifest("figstep_harmful_test_mini"),
                                           "--data",
                                           manifest("figstep_benign_test_mini"),
                                           "-n",
                                           "4",
                                           "--alphas",
                                           "1,50",
                                           "--ks",
                                           "2",
                                           "--max-new-tokens",
                                           "12",
                                           "--out",
                                           out.string()};
    const auto& sweep = args;
    const auto first = run(sweep);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_TRUE(fs::exists(out / "activations.safetensors"));
    EXPECT_TRUE(fs::exists(out / "steer-k2-l1.safetensors"));
    for (const char* r : {"none", "k2-l1-a1", "k2-l1-a50"}) {
        EXPECT_EQ(count_lines(out / "runs" / r / "responses.jsonl"), 8u) << r;
    }
    const auto summary = sarsteer::io::read_json_file(out / "report/summary.json");
    ASSERT_EQ(summary.at("tradeoff").size(), 1u);
    EXPECT_EQ(summary.at("tradeoff")[0].at("points").size(), 3u);
    ASSERT_EQ(summary.at("steering").size(), 1u);
    EXPECT_EQ(summary.at("steering")[0].at("layer_norms").size(), 4u);  // tiny: 4 layers
    EXPECT_TRUE(fs::exists(out / "report/report.html"));
    // A large α changes what the model says.
    EXPECT_NE(responses_of(out / "runs/none"), responses_of(out / "runs/k2-l1-a50"));

    // Everything is reused on a second invocation: no new calibration or generation.
    const auto again = run(sweep);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.err.find("resuming: 8 of 8"), std::string::npos) << again.err;
    EXPECT_EQ(count_lines(out / "runs/none/responses.jsonl"), 8u);
}

}  // namespace
