// End-to-end tests of the `sarsteer` binary: outputs, exit codes and one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_support.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace {

using sarsteer::testing::expect_one_line_error;
using sarsteer::testing::fixtures_dir;
using sarsteer::testing::run;
using sarsteer::testing::RunResult;
using sarsteer::testing::ScratchDir;
using sarsteer::testing::slurp;

TEST(Cli, VersionAndHelp) {
    const auto version = run({"--version"});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_NE(version.out.find("sarsteer 0."), std::string::npos) << version.out;
    for (const char* sub : {"features", "tokenize", "demo", "info"}) {
        const auto help = run({sub, "--help"});
        EXPECT_EQ(help.exit_code, 0) << sub;
        EXPECT_NE(help.out.find("--"), std::string::npos) << sub;
    }
    EXPECT_EQ(run({}).exit_code, 2);
    EXPECT_EQ(run({"no-such-command"}).exit_code, 2);
    EXPECT_EQ(run({"features", "--audio"}).exit_code, 2);
}

TEST(Cli, FeaturesWritesQwen2AudioInputs) {
    ScratchDir dir("cli");
    const auto out = dir / "f.safetensors";
    const auto r = run({"features", "--audio", (fixtures_dir() / "jfk.flac").string(), "--out",
                        out.string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto summary = nlohmann::json::parse(r.out);
    EXPECT_EQ(summary["valid_frames"], 1100);
    EXPECT_EQ(summary["source_sample_rate"], 44100);
    EXPECT_EQ(summary["source_channels"], 2);

    const auto file = sarsteer::io::SafetensorsFile::open(out);
    EXPECT_EQ(file.at("input_features").shape, (std::vector<int64_t>{128, 3000}));
    EXPECT_EQ(file.at("input_features").dtype, sarsteer::io::DType::kF32);
    const auto mask = sarsteer::io::to_i64(file.at("feature_attention_mask"));
    ASSERT_EQ(mask.size(), 3000u);
    EXPECT_EQ(std::count(mask.begin(), mask.end(), 1), 1100);
    EXPECT_EQ(mask[1099], 1);
    EXPECT_EQ(mask[1100], 0);

    const auto r80 = run({"features", "--audio", (fixtures_dir() / "jfk.flac").string(), "--out",
                          out.string(), "--mel-bins", "80"});
    ASSERT_EQ(r80.exit_code, 0) << r80.err;
    EXPECT_EQ(sarsteer::io::SafetensorsFile::open(out).at("input_features").shape,
              (std::vector<int64_t>{80, 3000}));
    EXPECT_EQ(
        run({"features", "--audio", "x.wav", "--out", out.string(), "--mel-bins", "64"}).exit_code,
        2);
}

TEST(Cli, BadAudioIsOneLineAndKeepsEarlierOutput) {
    ScratchDir dir("cli");
    const auto out = dir / "f.safetensors";
    ASSERT_EQ(
        run({"features", "--audio", (fixtures_dir() / "jfk.flac").string(), "--out", out.string()})
            .exit_code,
        0);
    const auto before = slurp(out);

    expect_one_line_error(
        run({"features", "--audio", (dir / "missing.wav").string(), "--out", out.string()}),
        "missing.wav");
    std::ofstream(dir / "garbage.wav") << "RIFF....WAVEfmt this is not audio at all";
    expect_one_line_error(
        run({"features", "--audio", (dir / "garbage.wav").string(), "--out", out.string()}),
        "garbage.wav");
    // Truncated FLAC: the first 2000 bytes of a real file.
    {
        const auto flac = slurp(fixtures_dir() / "jfk.flac");
        std::ofstream(dir / "cut.flac", std::ios::binary) << flac.substr(0, 100);
    }
    expect_one_line_error(
        run({"features", "--audio", (dir / "cut.flac").string(), "--out", out.string()}),
        "cut.flac");
    EXPECT_EQ(slurp(out), before);  // nothing already written was lost

    expect_one_line_error(run({"features", "--audio", (fixtures_dir() / "jfk.flac").string(),
                               "--out", (dir / "no-such-dir" / "f.safetensors").string()}),
                          "no-such-dir");
}

TEST(Cli, TokenizeMatchesTheRealVocabulary) {
    const auto model = (fixtures_dir() / "qwen2_tokenizer").string();
    const auto r = run({"tokenize", "--model", model, "--text", "Hello world", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(R"({"ids": [9707, 1879]})"));

    const auto d = run({"tokenize", "--model", model, "--decode", "9707,1879", "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(nlohmann::json::parse(d.out)["text"], "Hello world");

    const auto plain = run({"tokenize", "--model", model, "--text", "<|im_end|>"});
    EXPECT_EQ(plain.out, "151645\n");

    // Chat prompt: an 11 s clip (1100 frames) expands to 275 <|AUDIO|> ids.
    const auto chat = run({"tokenize", "--model", model, "--chat", "--audio-frames", "1100",
                           "--text", "What is said?", "--json"});
    ASSERT_EQ(chat.exit_code, 0) << chat.err;
    const auto ids = nlohmann::json::parse(chat.out)["ids"].get<std::vector<int>>();
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 151646), 275);
    EXPECT_EQ(ids.front(), 151644);  // <|im_start|> of the default system turn

    expect_one_line_error(run({"tokenize", "--model", "/nonexistent", "--text", "x"}),
                          "/nonexistent");
    EXPECT_EQ(run({"tokenize", "--model", model}).exit_code, 2);
    EXPECT_EQ(run({"tokenize", "--model", model, "--decode", "1,x"}).exit_code, 2);
}

// A checkpoint folder with a config and a sharded weight index, for `info`.
class CheckpointCli : public ::testing::Test {
protected:
    void SetUp() override {
        std::ofstream(dir_ / "config.json")
            << R"({"model_type": "qwen2", "hidden_size": 8, "num_attention_heads": 2,
                   "num_hidden_layers": 1, "intermediate_size": 16, "vocab_size": 32})";
        sarsteer::io::SafetensorsWriter a, b;
        const std::vector<float> w(8 * 32, 0.5f);
        a.add_f32("model.embed_tokens.weight", {32, 8}, w);
        b.add_f32("lm_head.weight", {32, 8}, w);
        a.write(dir_ / "model-00001-of-00002.safetensors");
        b.write(dir_ / "model-00002-of-00002.safetensors");
        std::ofstream(dir_ / "model.safetensors.index.json")
            << R"({"weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                                  "lm_head.weight": "model-00002-of-00002.safetensors"}})";
    }
    ScratchDir dir_{"cli-ckpt"};
};

TEST_F(CheckpointCli, InfoSummarises) {
    const auto r = run({"info", "--model", dir_.path().string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["model_type"], "qwen2");
    EXPECT_EQ(j["shards"], 2);
    EXPECT_EQ(j["parameters"], 2 * 32 * 8);
}

TEST_F(CheckpointCli, MissingShard) {
    std::filesystem::remove(dir_ / "model-00002-of-00002.safetensors");
    expect_one_line_error(run({"info", "--model", dir_.path().string()}),
                          "model-00002-of-00002.safetensors");
}

TEST_F(CheckpointCli, LyingHeader) {
    // Claim a bigger shape than the bytes present.
    auto bytes = slurp(dir_ / "model-00001-of-00002.safetensors");
    const auto pos = bytes.find("[32,8]");
    ASSERT_NE(pos, std::string::npos);
    bytes.replace(pos, 6, "[33,8]");
    std::ofstream(dir_ / "model-00001-of-00002.safetensors", std::ios::binary) << bytes;
    expect_one_line_error(run({"info", "--model", dir_.path().string()}),
                          "model-00001-of-00002.safetensors");
}

TEST_F(CheckpointCli, UnknownModelType) {
    std::ofstream(dir_ / "config.json") << R"({"model_type": "mamba"})";
    const auto r = run({"info", "--model", dir_.path().string()});
    expect_one_line_error(r, "config.json");
    EXPECT_NE(r.err.find("unsupported model_type \"mamba\""), std::string::npos) << r.err;
}

TEST(Cli, DemoRunsTheWholePipelineOnBundledData) {
    ScratchDir dir("demo");
    const auto r = run({"demo", "--out", dir.path().string(), "--json", "--max-new-tokens", "8"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto summary = nlohmann::json::parse(r.out);
    ASSERT_EQ(summary["runs"].size(), 2u);
    EXPECT_EQ(summary["runs"][0]["defense"], "none");
    EXPECT_EQ(summary["runs"][1]["defense"], "sarsteer");
    for (const auto& run : summary["runs"]) {
        ASSERT_EQ(run["datasets"].size(), 2u);
        EXPECT_EQ(run["datasets"][0]["n"], 14);  // the bundled test slices
        EXPECT_EQ(run["datasets"][1]["label"], "benign");
    }
    EXPECT_EQ(summary["steering"].size(), 1u);
    EXPECT_TRUE(std::filesystem::exists(dir / "report/report.html"));
    EXPECT_TRUE(std::filesystem::exists(dir / "audio/figstep_harmful_test_mini/manifest.jsonl"));
    // A second run reuses everything and reports the same numbers.
    const auto again =
        run({"demo", "--out", dir.path().string(), "--json", "--max-new-tokens", "8"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(nlohmann::json::parse(again.out)["runs"], summary["runs"]);
}

}  // namespace

namespace {

// A tiny checkpoint made once through the CLI for the runtime commands below.
class TinyCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new ScratchDir("tiny-cli");
        const auto r = run({"make-tiny", (dir_->path() / "tiny").string(), "--seed", "3"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    static void TearDownTestSuite() { delete dir_; }
    static std::string model() { return (dir_->path() / "tiny").string(); }
    static ScratchDir* dir_;
};
ScratchDir* TinyCli::dir_ = nullptr;

TEST_F(TinyCli, MakeTinyWritesAValidCheckpoint) {
    const auto r = run({"info", "--model", model(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["model_type"], "qwen2_audio");
    EXPECT_EQ(j["num_hidden_layers"], 4);
    EXPECT_GT(j["vocab_size"].get<int>(), j["tokenizer_ids"].get<int>());
}

TEST_F(TinyCli, GenerateJsonIsDeterministicWhenGreedy) {
    const std::vector<std::string> args = {
        "generate", "--model",       model(),  "--audio", (fixtures_dir() / "jfk.flac").string(),
        "--prompt", "What is said?", "--temp", "0",       "-n",
        "6",        "--json"};
    const auto a = run(args), b = run(args);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    const auto j = nlohmann::json::parse(a.out);
    EXPECT_EQ(j, nlohmann::json::parse(b.out));
    const auto n_out = j["token_ids"].size();
    EXPECT_LE(n_out, 6u);
    EXPECT_TRUE(j["finish_reason"] == "length" || j["finish_reason"] == "stop");
    EXPECT_EQ(j["usage"]["completion_tokens"], n_out);
    // 11 s of audio -> 275 placeholders, plus the chat template's text.
    EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 275);
    EXPECT_EQ(j["usage"]["total_tokens"].get<std::size_t>(),
              j["usage"]["prompt_tokens"].get<std::size_t>() + n_out);

    const auto streamed = run({"generate", "--model", model(), "--prompt", "List the steps",
                               "--temp", "0.8", "--seed", "4", "-n", "5"});
    ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
    EXPECT_EQ(streamed.out.back(), '\n');
}

TEST_F(TinyCli, ForwardDumpsEveryLayer) {
    const auto dump = dir_->path() / "dump.safetensors";
    const auto r =
        run({"forward", "--model", model(), "--audio", (fixtures_dir() / "jfk.flac").string(),
             "--prompt", "What is said?", "--dump", dump.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto file = sarsteer::io::SafetensorsFile::open(dump);
    const auto ids = sarsteer::io::to_i64(file.at("input_ids"));
    const auto n = static_cast<int64_t>(ids.size());
    for (int l = 0; l < 4; ++l) {
        EXPECT_EQ(file.at("hidden." + std::to_string(l)).shape, (std::vector<int64_t>{n, 64}));
    }
    EXPECT_EQ(file.find("hidden.4"), nullptr);
    EXPECT_EQ(file.at("final_hidden").shape, (std::vector<int64_t>{n, 64}));
    EXPECT_EQ(file.at("logits").shape[0], n);
    EXPECT_EQ(file.at("input_features").shape, (std::vector<int64_t>{1, 128, 3000}));
    const auto mask = sarsteer::io::to_i64(file.at("feature_attention_mask"));
    EXPECT_EQ(std::count(mask.begin(), mask.end(), 1), 1100);
    EXPECT_EQ(file.at("audio_embeds").shape, (std::vector<int64_t>{275, 64}));
}

TEST_F(TinyCli, RuntimeErrorsAreOneLine) {
    expect_one_line_error(run({"generate", "--model", "/no/such/model", "--prompt", "x"}),
                          "/no/such/model");
    expect_one_line_error(
        run({"generate", "--model", model(), "--audio", "/no/such.wav", "--prompt", "x"}),
        "/no/such.wav");
    EXPECT_EQ(run({"generate", "--model", model(), "--prompt", "x", "--dtype", "f64"}).exit_code,
              2);
    EXPECT_EQ(run({"generate", "--model", model()}).exit_code, 2);
    expect_one_line_error(run({"generate", "--model", model(), "--prompt", "x", "--device", "tpu"}),
                          "tpu", 2);
}

}  // namespace

namespace {

TEST_F(TinyCli, SteerExtractInspectAndApply) {
    const auto harmful = dir_->path() / "harmful.jsonl", safe = dir_->path() / "safe.jsonl";
    sarsteer::testing::write_recording_manifest(harmful, "h", 3);
    sarsteer::testing::write_recording_manifest(safe, "s", 4);
    const auto steer = (dir_->path() / "steer.safetensors").string();
    const auto r = run({"steer", "extract", "--model", model(), "--harmful", harmful.string(),
                        "--safe", safe.string(), "--n", "3", "--k", "2", "--out", steer});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(std::filesystem::exists(steer + ".acts.safetensors"));

    const auto inspect = run({"steer", "inspect", steer, "--model", model(), "--json"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    EXPECT_NE(inspect.out.find("qwen2_audio"), std::string::npos);

    const std::vector<std::string> base = {
        "generate", "--model", model(), "--prompt", "List the steps",
        "--temp",   "0",       "-n",    "8",        "--json"};
    auto with = [&](std::vector<std::string> extra) {
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        const auto out = run(args);
        EXPECT_EQ(out.exit_code, 0) << out.err;
        return out.exit_code == 0 ? nlohmann::json::parse(out.out)["token_ids"] : nlohmann::json();
    };
    const auto plain = with({});
    EXPECT_EQ(with({"--steer", steer, "--alpha", "0"}), plain);
    EXPECT_NE(with({"--steer", steer, "--alpha", "400"}), plain);
    EXPECT_NE(with({"--defense", "refusal-steer", "--steer", steer, "--alpha", "400"}), plain);
    EXPECT_EQ(with({"--steer", steer, "--alpha", "400", "--layers", "1", "--beta", "0"}), plain);

    // The file refuses a model of another geometry.
    const auto text_model = (dir_->path() / "text").string();
    ASSERT_EQ(run({"make-tiny", text_model, "--text-only"}).exit_code, 0);
    const auto refused =
        run({"generate", "--model", text_model, "--prompt", "x", "--steer", steer});
    expect_one_line_error(refused, "steer.safetensors", 2);
    EXPECT_EQ(
        run({"generate", "--model", model(), "--prompt", "x", "--defense", "prompt:9"}).exit_code,
        2);
    EXPECT_EQ(run({"generate", "--model", model(), "--prompt", "x", "--defense", "llm-steer",
                   "--steer", steer})
                  .exit_code,
              2);
    EXPECT_EQ(
        run({"generate", "--model", model(), "--prompt", "x", "-n", "2", "--defense", "prompt:1"})
            .exit_code,
        0);
}

}  // namespace

namespace {

TEST(Cli, MakeTinyTextOnlyWritesPlainQwen2) {
    ScratchDir dir("tiny-text");
    ASSERT_EQ(run({"make-tiny", (dir / "m").string(), "--text-only"}).exit_code, 0);
    const auto info = run({"info", "--model", (dir / "m").string(), "--json"});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    EXPECT_EQ(nlohmann::json::parse(info.out)["model_type"], "qwen2");
}

}  // namespace
