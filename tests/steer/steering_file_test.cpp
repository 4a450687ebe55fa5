#include "steer/steering_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "model/make_tiny.h"
#include "model/tensor_io.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::steer {
namespace {

using sarsteer::testing::ScratchDir;

model::ModelConfig tiny() {
    return model::tiny_config(800, 770, 768, 769);
}

// A complete, valid set of vectors for the tiny geometry (4 layers, hidden 64), k = 3.
SteeringVectors make_vectors(bool with_safe = true) {
    SteeringVectors s;
    auto& m = s.metadata;
    m.model = ModelFingerprint::of(tiny());
    m.mode = with_safe ? "sarsteer" : "llm";
    m.alpha = 0.1;  // not exactly representable: the JSON must still round-trip it
    m.k = 3;
    m.lambda = 0.75;
    m.instruction = "Answer the question in the audio. — «ünïcödé»";
    m.refusal_prompt = "I'm sorry, but I can't help with that.\n\"quoted\"";
    m.n_harmful = 17;
    m.n_safe = 23;
    m.harmful_manifest_sha256 = std::string(64, 'a');
    m.safe_manifest_sha256 = std::string(64, 'b');
    m.tool_version = "0.1.0";
    m.created = "2025-01-02T03:04:05Z";
    at::manual_seed(5);
    for (int64_t l = 0; l < m.model.n_layer; ++l) {
        s.v.push_back(at::randn({64}));
        s.v_raw.push_back(at::randn({64}));
        if (with_safe) {
            s.safe_basis.push_back(at::randn({64, 3}));
            s.safe_mean.push_back(at::randn({64}));
        }
    }
    return s;
}

// Expects `fn` to throw an Error of `kind` whose message names `path` and contains `needle`.
void expect_error(const std::function<void()>& fn, ErrorKind kind,
                  const std::filesystem::path& path, const std::string& needle) {
    try {
        fn();
        ADD_FAILURE() << "expected an error containing: " << needle;
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.kind(), kind) << what;
        EXPECT_NE(what.find(path.string()), std::string::npos) << what;
        EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
}

void expect_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].scalar_type(), at::kFloat);
        EXPECT_TRUE(a[i].device().is_cpu());
        EXPECT_TRUE(at::equal(a[i], b[i])) << "layer " << i;
    }
}

TEST(SteeringFile, RoundTripsValuesAndMetadataExactly) {
    ScratchDir dir("steer");
    const auto path = dir / "s.safetensors";
    const auto saved = make_vectors();
    saved.save(path);
    auto loaded = SteeringVectors::load(path);

    expect_same(loaded.v, saved.v);
    expect_same(loaded.v_raw, saved.v_raw);
    expect_same(loaded.safe_basis, saved.safe_basis);
    expect_same(loaded.safe_mean, saved.safe_mean);
    const auto& a = loaded.metadata;
    const auto& b = saved.metadata;
    EXPECT_EQ(a.model, b.model);
    EXPECT_EQ(a.mode, b.mode);
    EXPECT_EQ(a.alpha, b.alpha);
    EXPECT_EQ(a.k, b.k);
    EXPECT_EQ(a.lambda, b.lambda);
    EXPECT_EQ(a.instruction, b.instruction);
    EXPECT_EQ(a.refusal_prompt, b.refusal_prompt);
    EXPECT_EQ(a.n_harmful, b.n_harmful);
    EXPECT_EQ(a.n_safe, b.n_safe);
    EXPECT_EQ(a.harmful_manifest_sha256, b.harmful_manifest_sha256);
    EXPECT_EQ(a.safe_manifest_sha256, b.safe_manifest_sha256);
    EXPECT_EQ(a.tool_version, b.tool_version);
    EXPECT_EQ(a.created, b.created);
    EXPECT_EQ(metadata_to_json(a), metadata_to_json(b));

    // The stored metadata is one JSON string with the fingerprint nested under "model".
    const auto file = io::SafetensorsFile::open(path);
    const auto stored = nlohmann::json::parse(file.metadata().at("sarsteer"));
    EXPECT_EQ(stored.at("model").at("n_layer"), 4);
    EXPECT_EQ(stored.at("model").at("hidden_size"), 64);
    EXPECT_EQ(stored.at("model").at("config_sha256"), b.model.config_sha256);
    EXPECT_EQ(file.at("v.0").dtype, io::DType::kF32);

    // Owned memory: writable in place, which a read-only mapping would not be.
    loaded.v[0].add_(1.0f);
    EXPECT_TRUE(at::equal(loaded.v[0], saved.v[0] + 1.0f));
}

TEST(SteeringFile, LlmModeHasNoSafeSpace) {
    ScratchDir dir("steer");
    const auto path = dir / "llm.safetensors";
    make_vectors(false).save(path);
    const auto loaded = SteeringVectors::load(path);
    EXPECT_EQ(loaded.metadata.mode, "llm");
    EXPECT_EQ(loaded.v.size(), 4u);
    EXPECT_TRUE(loaded.safe_basis.empty());
    EXPECT_TRUE(loaded.safe_mean.empty());
}

TEST(SteeringFile, HalfPrecisionTensorsAreConverted) {
    ScratchDir dir("steer");
    const auto path = dir / "bf16.safetensors";
    const auto s = make_vectors(false);
    io::SafetensorsWriter writer;
    writer.set_metadata("sarsteer", metadata_to_json(s.metadata).dump());
    for (std::size_t l = 0; l < s.v.size(); ++l) {
        model::add_tensor(writer, "v." + std::to_string(l), s.v[l].to(at::kBFloat16));
        model::add_tensor(writer, "v_raw." + std::to_string(l), s.v_raw[l].to(at::kHalf));
    }
    writer.write(path);
    const auto loaded = SteeringVectors::load(path);
    EXPECT_EQ(loaded.v[1].scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(loaded.v[1], s.v[1].to(at::kBFloat16).to(at::kFloat)));
    EXPECT_TRUE(at::equal(loaded.v_raw[2], s.v_raw[2].to(at::kHalf).to(at::kFloat)));
}

// Fingerprints compared as text, so that a failure prints something readable.
std::string str(const ModelFingerprint& fp) {
    return fp.describe() + " " + fp.config_sha256;
}

TEST(ModelFingerprint, IgnoresDtypeButNotGeometryOrConfig) {
    auto f32 = tiny();
    auto bf16 = tiny();
    bf16.torch_dtype = "bfloat16";
    const auto fp = ModelFingerprint::of(f32);
    EXPECT_EQ(str(fp), str(ModelFingerprint::of(bf16)));
    EXPECT_TRUE(fp == ModelFingerprint::of(bf16));
    EXPECT_EQ(fp.model_type, "qwen2_audio");
    EXPECT_EQ(fp.n_layer, 4);
    EXPECT_EQ(fp.hidden_size, 64);
    EXPECT_EQ(fp.config_sha256.size(), 64u);
    EXPECT_EQ(fp.describe(),
              "qwen2_audio, 4 layers, hidden 64, config " + fp.config_sha256.substr(0, 8) + "…");

    auto deeper = tiny();
    deeper.text.num_hidden_layers = 6;
    EXPECT_FALSE(ModelFingerprint::of(deeper) == fp);
    EXPECT_EQ(ModelFingerprint::of(deeper).n_layer, 6);
    EXPECT_NE(ModelFingerprint::of(deeper).config_sha256, fp.config_sha256);
    auto wider = tiny();
    wider.text.hidden_size = 128;
    wider.text.head_dim = 32;
    EXPECT_NE(str(ModelFingerprint::of(wider)), str(fp));
    auto other_rope = tiny();  // same geometry, different model
    other_rope.text.rope_theta = 1e6;
    EXPECT_NE(ModelFingerprint::of(other_rope).config_sha256, fp.config_sha256);
}

TEST(ModelFingerprint, SameForF32AndBf16Checkpoints) {
    ScratchDir dir("steer");
    const auto made = model::make_tiny(dir / "f32", {.seed = 1, .dtype = model::TinyDType::kF32});
    model::make_tiny(dir / "bf16", {.seed = 1, .dtype = model::TinyDType::kBF16});
    model::make_tiny(dir / "text", {.seed = 1, .text_only = true});
    const auto f32 = model::ModelConfig::load(dir / "f32");
    const auto bf16 = model::ModelConfig::load(dir / "bf16");
    ASSERT_NE(f32.torch_dtype, bf16.torch_dtype);
    EXPECT_EQ(str(ModelFingerprint::of(f32)), str(ModelFingerprint::of(bf16)));
    // Loading config.json back gives the fingerprint of the config it was written from.
    EXPECT_EQ(str(ModelFingerprint::of(f32)), str(ModelFingerprint::of(made)));
    const auto text = ModelFingerprint::of(model::ModelConfig::load(dir / "text"));
    EXPECT_EQ(text.model_type, "qwen2");
    EXPECT_NE(str(text), str(ModelFingerprint::of(f32)));
}

TEST(SteeringFile, MismatchedModelIsRefused) {
    const auto s = make_vectors();
    const std::filesystem::path path = "vectors.safetensors";
    EXPECT_NO_THROW(s.check_matches(ModelFingerprint::of(tiny()), path));
    auto other = tiny();
    other.text.num_hidden_layers = 6;
    const auto fp = ModelFingerprint::of(other);
    expect_error([&] { s.check_matches(fp, path); }, ErrorKind::kInvalidArgument, path,
                 "steering vectors were extracted from " + s.metadata.model.describe() +
                     ", but the model is " + fp.describe());
    // Same geometry, different config: the full hashes make the difference visible.
    auto rope = tiny();
    rope.text.rope_theta = 1e6;
    const auto rope_fp = ModelFingerprint::of(rope);
    expect_error([&] { s.check_matches(rope_fp, path); }, ErrorKind::kInvalidArgument, path,
                 "config ");
}

// Writes a steering file by hand: the vectors of make_vectors() minus `drop`, plus `extra`,
// with `metadata` (nullopt: no "sarsteer" entry).
struct Corruption {
    std::vector<std::string> drop = {};
    std::vector<std::pair<std::string, at::Tensor>> extra = {};
    std::optional<std::string> metadata = {};
};

std::filesystem::path write_corrupt(const ScratchDir& dir, const Corruption& c) {
    const auto path = dir / "bad.safetensors";
    const auto s = make_vectors();
    io::SafetensorsWriter writer;
    if (c.metadata) writer.set_metadata("sarsteer", *c.metadata);
    const auto add = [&](const std::string& name, const at::Tensor& t) {
        if (std::find(c.drop.begin(), c.drop.end(), name) == c.drop.end()) {
            model::add_tensor(writer, name, t);
        }
    };
    for (std::size_t l = 0; l < s.v.size(); ++l) {
        const auto i = std::to_string(l);
        add("v." + i, s.v[l]);
        add("v_raw." + i, s.v_raw[l]);
        add("safe_basis." + i, s.safe_basis[l]);
        add("safe_mean." + i, s.safe_mean[l]);
    }
    for (const auto& [name, t] : c.extra) model::add_tensor(writer, name, t);
    writer.write(path);
    return path;
}

std::string good_metadata() {
    return metadata_to_json(make_vectors().metadata).dump();
}

std::string edited_metadata(const std::function<void(nlohmann::json&)>& edit) {
    auto j = metadata_to_json(make_vectors().metadata);
    edit(j);
    return j.dump();
}

void expect_corrupt(const Corruption& c, const std::string& needle) {
    ScratchDir dir("steer");
    const auto path = write_corrupt(dir, c);
    expect_error([&] { SteeringVectors::load(path); }, ErrorKind::kCorruptInput, path, needle);
}

TEST(SteeringFile, ValidFileFromTheCorruptionHelperLoads) {
    ScratchDir dir("steer");
    EXPECT_NO_THROW(SteeringVectors::load(write_corrupt(dir, {.metadata = good_metadata()})));
}

TEST(SteeringFile, RefusesMissingLayer) {
    expect_corrupt({.drop = {"v_raw.2"}, .metadata = good_metadata()},
                   "missing tensor \"v_raw.2\"");
}

TEST(SteeringFile, RefusesWrongHiddenSize) {
    expect_corrupt(
        {.drop = {"v.1"}, .extra = {{"v.1", at::zeros({65})}}, .metadata = good_metadata()},
        "tensor \"v.1\" has shape [65], expected [64]");
    expect_corrupt({.drop = {"safe_basis.0"},
                    .extra = {{"safe_basis.0", at::zeros({64, 4})}},
                    .metadata = good_metadata()},
                   "tensor \"safe_basis.0\" has shape [64, 4], expected [64, 3]");
    // A consistent file for another geometry than its own metadata claims.
    expect_corrupt({.metadata = edited_metadata([](auto& j) { j["model"]["hidden_size"] = 32; })},
                   "expected [32]");
}

TEST(SteeringFile, RefusesExtraTensors) {
    expect_corrupt({.extra = {{"bias", at::zeros({64})}}, .metadata = good_metadata()},
                   "unexpected tensor \"bias\"");
    expect_corrupt({.extra = {{"v.4", at::zeros({64})}}, .metadata = good_metadata()},
                   "tensor \"v.4\" is beyond the metadata's 4 layers");
    expect_corrupt({.extra = {{"v.01", at::zeros({64})}}, .metadata = good_metadata()},
                   "unexpected tensor \"v.01\"");
}

TEST(SteeringFile, RefusesPartialSafeSpace) {
    expect_corrupt({.drop = {"safe_mean.1"}, .metadata = good_metadata()},
                   "missing tensor \"safe_mean.1\"");
    expect_corrupt({.drop = {"safe_basis.0", "safe_basis.1", "safe_basis.2", "safe_basis.3"},
                    .metadata = good_metadata()},
                   "missing tensor \"safe_basis.0\"");
}

TEST(SteeringFile, RefusesBadTensorContents) {
    expect_corrupt({.drop = {"v.3"},
                    .extra = {{"v.3", at::zeros({64}, at::kLong)}},
                    .metadata = good_metadata()},
                   "tensor \"v.3\" has dtype I64, expected F32");
    auto nan = at::zeros({64});
    nan[5] = std::numeric_limits<float>::quiet_NaN();
    expect_corrupt({.drop = {"v.3"}, .extra = {{"v.3", nan}}, .metadata = good_metadata()},
                   "tensor \"v.3\" contains NaN");
}

TEST(SteeringFile, RefusesBadMetadata) {
    expect_corrupt({}, "no \"sarsteer\" entry");
    expect_corrupt({.metadata = "{\"model\": "}, "steering metadata: invalid JSON");
    expect_corrupt({.metadata = "[1, 2]"}, "steering metadata: must be a JSON object");
    expect_corrupt({.metadata = edited_metadata([](auto& j) { j.erase("alpha"); })},
                   "missing required field \"alpha\"");
    expect_corrupt(
        {.metadata = edited_metadata([](auto& j) { j["model"].erase("config_sha256"); })},
        "missing required field \"config_sha256\"");
    expect_corrupt({.metadata = edited_metadata([](auto& j) { j["k"] = "three"; })},
                   "field \"k\" must be an integer");
    expect_corrupt({.metadata = edited_metadata([](auto& j) { j["mode"] = "both"; })},
                   "mode must be \"sarsteer\" or \"llm\"");
    expect_corrupt(
        {.metadata = edited_metadata([](auto& j) { j["model"]["config_sha256"] = "x"; })},
        "config_sha256 must be 64 lowercase hex digits");
    expect_corrupt({.metadata = edited_metadata([](auto& j) { j["model"] = 4; })},
                   "field \"model\" must be an object");
    // Fewer layers in the metadata than in the file: layer 2 and 3 tensors are extra.
    expect_corrupt({.metadata = edited_metadata([](auto& j) { j["model"]["n_layer"] = 2; })},
                   "beyond the metadata's 2 layers");
    expect_corrupt({.metadata = edited_metadata([](auto& j) { j["model"]["n_layer"] = 0; })},
                   "n_layer must be positive");
}

TEST(SteeringFile, MissingFileIsNamed) {
    ScratchDir dir("steer");
    const auto path = dir / "absent.safetensors";
    expect_error([&] { SteeringVectors::load(path); }, ErrorKind::kNotFound, path, "");
}

TEST(SteeringFile, SaveRefusesInconsistentVectors) {
    ScratchDir dir("steer");
    const auto path = dir / "s.safetensors";
    auto s = make_vectors();
    s.v.pop_back();
    expect_error([&] { s.save(path); }, ErrorKind::kInvalidArgument, path,
                 "v has 3 layers, but the metadata says 4");
    s = make_vectors();
    s.safe_mean.clear();
    expect_error([&] { s.save(path); }, ErrorKind::kInvalidArgument, path,
                 "safe_mean has 0 layers");
    s = make_vectors();
    s.metadata.k = 2;
    expect_error([&] { s.save(path); }, ErrorKind::kInvalidArgument, path, "expected [64, 2]");
    s = make_vectors();
    s.metadata.alpha = std::nan("");
    expect_error([&] { s.save(path); }, ErrorKind::kInvalidArgument, path, "alpha");
    EXPECT_FALSE(std::filesystem::exists(path));

    // Other float dtypes are stored as F32.
    s = make_vectors();
    s.v[0] = s.v[0].to(at::kDouble);
    s.save(path);
    EXPECT_EQ(io::SafetensorsFile::open(path).at("v.0").dtype, io::DType::kF32);
}

}  // namespace
}  // namespace sarsteer::steer
