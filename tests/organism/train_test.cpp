// A miniature organism run: what it writes loads in the runtime, training lowers the loss, and a
// seed reproduces the checkpoint byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/manifest.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "model/model.h"
#include "organism/train.h"
#include "organism_test_support.h"
#include "sarsteer/error.h"

namespace sarsteer::organism {
namespace {

namespace fs = std::filesystem;

TrainOptions small_run(const fs::path& out, int64_t text_steps, int64_t audio_steps) {
    TrainOptions o;
    o.out = out;
    o.seed = 7;
    o.text_steps = text_steps;
    o.align_steps = 3;
    o.audio_steps = audio_steps;
    o.batch = 4;
    o.threads = 1;
    o.renders_per_text = 1;
    o.spoken_limit = 6;
    return o;
}

struct Scratch {
    fs::path dir =
        fs::temp_directory_path() /
        ("sarsteer-organism-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Scratch() { fs::remove_all(dir); }
    ~Scratch() { fs::remove_all(dir); }
};

// sha256 of a run's model.safetensors.
std::string checkpoint_digest(const fs::path& run_dir) {
    return io::sha256_hex(io::read_text_file(run_dir / "model.safetensors", 64u << 20));
}

TEST(OrganismTrain, WritesACheckpointTheRuntimeLoads) {
    Scratch scratch;
    const auto summary = train_organism(small_run(scratch.dir, 30, 10), small_geometry());
    EXPECT_EQ(summary.steps_done, 43);  // 30 text, 3 alignment, 10 audio
    EXPECT_FALSE(summary.stopped_early);
    EXPECT_EQ(summary.n_clips, 6u);
    EXPECT_TRUE(std::isfinite(summary.text_loss));
    EXPECT_TRUE(std::isfinite(summary.audio_loss));
    // Each stage's loss is kept when the next begins (the alignment stage's once read 0).
    EXPECT_GT(summary.align_loss, 0.0);

    const auto model = model::Model::load({.path = scratch.dir});
    EXPECT_EQ(model->config().text.hidden_size, 32);
    EXPECT_EQ(model->config().audio->d_model, 32);
    EXPECT_EQ(model->n_layer(), 2);
    for (const char* set : {"harmful_train", "benign_train", "harmful_test", "benign_test"}) {
        const auto manifest =
            io::Manifest::load(scratch.dir / "data" / (std::string(set) + ".jsonl"),
                               {.require_audio = false, .limit = {}});
        EXPECT_FALSE(manifest.items.empty()) << set;
    }
    const auto record = io::read_json_file(scratch.dir / "training.json");
    EXPECT_EQ(record.at("seed").get<int>(), 7);
    EXPECT_EQ(record.at("steps_done").get<int>(), 43);
    EXPECT_EQ(record.at("align_steps").get<int>(), 3);
    EXPECT_EQ(record.at("n_clips").get<int>(), 6);
    // The limited speech has some of every kind: two benign requests and two guard questions
    // (each transcribed, answered, and refused after the refusal prompt), a statement and a word
    // list (transcribed).
    EXPECT_EQ(record.at("n_audio_examples").get<int>(), 4 * 3 + 2);
    EXPECT_EQ(record.at("ctc_weight").get<double>(), 1.0);
    EXPECT_EQ(record.at("final_align_loss").get<double>(), summary.align_loss);
    EXPECT_EQ(record.at("geometry").at("hidden").get<int>(), 32);
    EXPECT_EQ(record.at("geometry").at("audio_layers").get<int>(), 1);

    // Training flushes denormals to zero (speed); the rest of the process must not inherit that.
    volatile float denormal = 1e-39f;
    volatile float one = 1.0f;
    EXPECT_GT(denormal * one, 0.0f);
}

TEST(OrganismGeometry, ScaledKeepsTheDefaultsProportions) {
    const OrganismGeometry defaults;
    const auto same = OrganismGeometry::scaled(128, 4, 128, 2);
    EXPECT_EQ(same.hidden, defaults.hidden);
    EXPECT_EQ(same.layers, defaults.layers);
    EXPECT_EQ(same.heads, defaults.heads);
    EXPECT_EQ(same.kv_heads, defaults.kv_heads);
    EXPECT_EQ(same.intermediate, defaults.intermediate);
    EXPECT_EQ(same.audio_d_model, defaults.audio_d_model);
    EXPECT_EQ(same.audio_layers, defaults.audio_layers);
    EXPECT_EQ(same.audio_heads, defaults.audio_heads);
    EXPECT_EQ(same.audio_ffn, defaults.audio_ffn);
    EXPECT_EQ(same.n_merges, defaults.n_merges);

    const auto wide = OrganismGeometry::scaled(256, 6, 192, 3);
    EXPECT_EQ(wide.heads, 8);
    EXPECT_EQ(wide.kv_heads, 4);
    EXPECT_EQ(wide.intermediate, 768);
    EXPECT_EQ(wide.audio_heads, 6);
    EXPECT_EQ(wide.audio_ffn, 384);

    // 96 wide: 3 heads, which 2 KV heads would not divide.
    EXPECT_THROW(OrganismGeometry::scaled(96, 4, 128, 2), Error);
    EXPECT_THROW(OrganismGeometry::scaled(128, 0, 128, 2), Error);
    EXPECT_THROW(OrganismGeometry::scaled(128, 4, 100, 2), Error);
}

TEST(OrganismTrain, TrainingLowersTheTextLoss) {
    Scratch scratch;
    // The first stage's mean loss over its last 50 steps: 5 steps (barely moved from the random
    // model's ~log(vocab)) against 120.
    const auto short_run = train_organism(small_run(scratch.dir / "a", 5, 0), small_geometry());
    const auto long_run = train_organism(small_run(scratch.dir / "b", 120, 0), small_geometry());
    EXPECT_GT(short_run.text_loss, 4.0);
    EXPECT_LT(long_run.text_loss, 0.6 * short_run.text_loss);
}

TEST(OrganismTrain, ASeedReproducesTheCheckpoint) {
    Scratch scratch;
    train_organism(small_run(scratch.dir / "a", 6, 6), small_geometry());
    train_organism(small_run(scratch.dir / "b", 6, 6), small_geometry());
    EXPECT_EQ(checkpoint_digest(scratch.dir / "a"), checkpoint_digest(scratch.dir / "b"));
    auto other = small_run(scratch.dir / "c", 6, 6);
    other.seed = 8;
    train_organism(other, small_geometry());
    EXPECT_NE(checkpoint_digest(scratch.dir / "a"), checkpoint_digest(scratch.dir / "c"));
}

TEST(OrganismTrain, SpokenDecisionWeightDefaultsToTheDecisionWeight) {
    Scratch scratch;
    train_organism(small_run(scratch.dir / "default", 4, 6), small_geometry());
    auto same = small_run(scratch.dir / "same", 4, 6);
    same.spoken_decision_weight = same.decision_weight;
    train_organism(same, small_geometry());
    EXPECT_EQ(checkpoint_digest(scratch.dir / "default"), checkpoint_digest(scratch.dir / "same"));
    auto untrained = small_run(scratch.dir / "zero", 4, 6);
    untrained.spoken_decision_weight = 0.0;
    train_organism(untrained, small_geometry());
    EXPECT_NE(checkpoint_digest(scratch.dir / "default"), checkpoint_digest(scratch.dir / "zero"));
    EXPECT_EQ(io::read_json_file(scratch.dir / "zero" / "training.json")
                  .at("spoken_decision_weight")
                  .get<double>(),
              0.0);
    auto negative = small_run(scratch.dir / "negative", 4, 6);
    negative.spoken_decision_weight = -1.0;
    EXPECT_THROW(train_organism(negative, small_geometry()), Error);
    negative.spoken_decision_weight = std::nan("");
    EXPECT_THROW(train_organism(negative, small_geometry()), Error);
}

// Names of the tensors whose bytes differ between two checkpoints (same layout).
std::vector<std::string> changed_tensors(const fs::path& a, const fs::path& b) {
    const auto fa = io::SafetensorsFile::open(a / "model.safetensors");
    const auto fb = io::SafetensorsFile::open(b / "model.safetensors");
    std::vector<std::string> changed;
    for (const auto& view : fa.tensors()) {
        const auto* other = fb.find(view.name);
        if (other == nullptr || view.bytes.size() != other->bytes.size() ||
            !std::equal(view.bytes.begin(), view.bytes.end(), other->bytes.begin())) {
            changed.push_back(view.name);
        }
    }
    return changed;
}

std::ptrdiff_t count_prefix(const std::vector<std::string>& names, std::string_view prefix) {
    return std::count_if(names.begin(), names.end(),
                         [&](const std::string& n) { return n.starts_with(prefix); });
}

TEST(OrganismTrain, StageTwoKeepsTheEncoderFrozenUnlessAsked) {
    Scratch scratch;
    // Stage 2's steps added to the same seed's first two stages: by default only the projector
    // and the decoder move; with train_encoder_in_stage2 the audio tower moves as well.
    train_organism(small_run(scratch.dir / "a", 4, 0), small_geometry());
    train_organism(small_run(scratch.dir / "b", 4, 6), small_geometry());
    auto trained = small_run(scratch.dir / "c", 4, 6);
    trained.train_encoder_in_stage2 = true;
    train_organism(trained, small_geometry());
    const auto frozen = changed_tensors(scratch.dir / "a", scratch.dir / "b");
    EXPECT_EQ(count_prefix(frozen, "audio_tower."), 0);
    EXPECT_GT(count_prefix(frozen, "multi_modal_projector."), 0);
    EXPECT_GT(count_prefix(frozen, "language_model."), 0);
    const auto moved = changed_tensors(scratch.dir / "a", scratch.dir / "c");
    EXPECT_GT(count_prefix(moved, "audio_tower.layers."), 0);
    // A decoder learning-rate scale of 0 leaves the decoder as the first two stages made it.
    auto projector_only = small_run(scratch.dir / "d", 4, 6);
    projector_only.stage2_decoder_lr_scale = 0.0;
    train_organism(projector_only, small_geometry());
    const auto only = changed_tensors(scratch.dir / "a", scratch.dir / "d");
    EXPECT_EQ(count_prefix(only, "language_model."), 0);
    EXPECT_GT(count_prefix(only, "multi_modal_projector."), 0);
}

TEST(OrganismTrain, AlignNormWeightMovesTheAudioSideOnlyAndIsRecorded) {
    Scratch scratch;
    // The same seed's stage 1 and alignment, with and without the norm term: only the audio
    // side differs (the token table it measures against is detached).
    train_organism(small_run(scratch.dir / "a", 4, 0), small_geometry());
    auto normed = small_run(scratch.dir / "b", 4, 0);
    normed.align_norm_weight = 1.0;
    train_organism(normed, small_geometry());
    const auto moved = changed_tensors(scratch.dir / "a", scratch.dir / "b");
    EXPECT_FALSE(moved.empty());
    for (const auto& name : moved) {
        EXPECT_TRUE(name.starts_with("audio_tower.") || name.starts_with("multi_modal_projector."))
            << name;
    }
    EXPECT_EQ(io::read_json_file(scratch.dir / "b" / "training.json")
                  .at("align_norm_weight")
                  .get<double>(),
              1.0);
    normed.align_norm_weight = -1.0;
    EXPECT_THROW(train_organism(normed, small_geometry()), Error);
    normed.align_norm_weight = std::nan("");
    EXPECT_THROW(train_organism(normed, small_geometry()), Error);
}

TEST(OrganismTrain, SpecAugmentChangesWhatTheAlignmentStageHearsAndIsRecorded) {
    Scratch scratch;
    // The same seed with and without masks: the alignment stage (the audio side only) learns
    // from other features, and the data order is the same, so stage 1's decoder is identical.
    train_organism(small_run(scratch.dir / "a", 4, 0), small_geometry());
    auto masked = small_run(scratch.dir / "b", 4, 0);
    masked.spec_augment = true;
    train_organism(masked, small_geometry());
    const auto moved = changed_tensors(scratch.dir / "a", scratch.dir / "b");
    EXPECT_GT(count_prefix(moved, "audio_tower."), 0);
    EXPECT_EQ(count_prefix(moved, "language_model."), 0);
    EXPECT_TRUE(
        io::read_json_file(scratch.dir / "b" / "training.json").at("spec_augment").get<bool>());
}

TEST(OrganismTrain, AlignWordListsAreSpokenOnceForTheAlignmentStageOnly) {
    Scratch scratch;
    auto plain = small_run(scratch.dir / "a", 2, 1);
    plain.renders_per_text = 2;
    train_organism(plain, small_geometry());
    auto more = plain;
    more.out = scratch.dir / "b";
    more.align_word_lists = 5;
    train_organism(more, small_geometry());
    const auto a = io::read_json_file(scratch.dir / "a" / "training.json");
    const auto b = io::read_json_file(scratch.dir / "b" / "training.json");
    // One clip per extra list (not one per render), and no stage-2 example from any of them.
    EXPECT_EQ(b.at("n_clips").get<int>(), a.at("n_clips").get<int>() + 5);
    EXPECT_EQ(b.at("n_audio_examples").get<int>(), a.at("n_audio_examples").get<int>());
    EXPECT_EQ(b.at("align_word_lists").get<int>(), 5);
    more.align_word_lists = -1;
    EXPECT_THROW(train_organism(more, small_geometry()), Error);
}

TEST(OrganismTrain, InitStartsFromACheckpointSoThatStageTwoCanBeTrainedAlone) {
    Scratch scratch;
    const auto first = small_run(scratch.dir / "a", 4, 0);  // stage 1 and alignment
    train_organism(first, small_geometry());
    auto stage_two = small_run(scratch.dir / "b", 0, 3);
    stage_two.align_steps = 0;
    stage_two.init = first.out;
    EXPECT_EQ(train_organism(stage_two, small_geometry()).steps_done, 3);
    // Stage 2 moves the decoder and the projector from where the first run left them; the
    // encoder stays frozen, so it is the first run's exactly.
    const auto moved = changed_tensors(first.out, stage_two.out);
    EXPECT_GT(count_prefix(moved, "language_model."), 0);
    EXPECT_GT(count_prefix(moved, "multi_modal_projector."), 0);
    EXPECT_EQ(count_prefix(moved, "audio_tower."), 0);
    EXPECT_EQ(io::read_json_file(stage_two.out / "training.json").at("init").get<std::string>(),
              first.out.string());
    // No steps at all: the checkpoint comes back unchanged.
    auto none = small_run(scratch.dir / "c", 0, 0);
    none.align_steps = 0;
    none.init = first.out;
    train_organism(none, small_geometry());
    EXPECT_TRUE(changed_tensors(first.out, none.out).empty());
    // Another geometry, a missing folder, or writing over the init are errors.
    auto wider = none;
    auto geometry = small_geometry();
    geometry.hidden = 64;
    geometry.intermediate = 128;
    EXPECT_THROW(train_organism(wider, geometry), Error);
    none.init = scratch.dir / "missing";
    EXPECT_THROW(train_organism(none, small_geometry()), Error);
    none.init = none.out;
    EXPECT_THROW(train_organism(none, small_geometry()), Error);
}

TEST(OrganismTrain, PretrainingComesFirstMovesTheDecoderOnlyAndIsRecorded) {
    Scratch scratch;
    auto untrained = small_run(scratch.dir / "a", 0, 0);
    untrained.align_steps = 0;
    train_organism(untrained, small_geometry());
    auto short_run = untrained;
    short_run.out = scratch.dir / "b";
    short_run.pretrain_steps = 5;
    const auto short_summary = train_organism(short_run, small_geometry());
    EXPECT_EQ(short_summary.steps_done, 5);
    const auto moved = changed_tensors(scratch.dir / "a", scratch.dir / "b");
    EXPECT_FALSE(moved.empty());
    for (const auto& name : moved) EXPECT_TRUE(name.starts_with("language_model.")) << name;

    auto long_run = small_run(scratch.dir / "c", 4, 2);
    long_run.pretrain_steps = 120;
    const auto long_summary = train_organism(long_run, small_geometry());
    EXPECT_EQ(long_summary.steps_done, 129);  // 120 pretraining, 4 text, 3 alignment, 2 audio
    // Language modelling over the training text learns: its loss falls well below 5 steps'.
    EXPECT_LT(long_summary.pretrain_loss, 0.6 * short_summary.pretrain_loss);
    EXPECT_GT(long_summary.text_loss, 0.0);
    const auto record = io::read_json_file(scratch.dir / "c" / "training.json");
    EXPECT_EQ(record.at("pretrain_steps").get<int>(), 120);
    EXPECT_EQ(record.at("n_pretrain_documents").get<int>(), 2 * 672 + 672 + 448);
    EXPECT_EQ(record.at("final_pretrain_loss").get<double>(), long_summary.pretrain_loss);
}

// training.json of a small run with `option` switched on.
nlohmann::json record_with(bool TrainOptions::*option) {
    Scratch scratch;
    auto o = small_run(scratch.dir, 2, 1);
    o.*option = true;
    train_organism(o, small_geometry());
    return io::read_json_file(scratch.dir / "training.json");
}

// Two safety turns per training request and guard question (the default stage 1).
constexpr int kSafetyTurns = 2 * (2 * 672 + 672);

TEST(OrganismTrain, TextCopyAddsRepeatTurnsToTheTextExamples) {
    const auto record = record_with(&TrainOptions::text_copy);
    EXPECT_TRUE(record.at("text_copy").get<bool>());
    // One copy turn per training request, guard question, statement and word list.
    EXPECT_EQ(record.at("n_text_examples").get<int>(), kSafetyTurns + (2 * 672 + 672 + 448 + 672));
}

TEST(OrganismTrain, NovelObjectsAddOneTurnPerTrainingRequest) {
    const auto record = record_with(&TrainOptions::novel_objects);
    EXPECT_TRUE(record.at("novel_objects").get<bool>());
    EXPECT_EQ(record.at("n_text_examples").get<int>(), kSafetyTurns + 2 * 672);
}

TEST(OrganismTrain, SpokenNovelObjectsSpeakTheBenignHalfOfTheNovelObjectRequests) {
    // Spoken by default: benign training requests, guard questions, statements, word lists.
    constexpr int kSpokenSentences = 672 + 672 + 448 + 672;
    Scratch scratch;
    train_organism(small_run(scratch.dir, 2, 1), small_geometry());
    const auto plain = io::read_json_file(scratch.dir / "training.json");
    EXPECT_FALSE(plain.at("spoken_novel_objects").get<bool>());
    EXPECT_EQ(plain.at("n_spoken_sentences").get<int>(), kSpokenSentences);
    const auto record = record_with(&TrainOptions::spoken_novel_objects);
    EXPECT_TRUE(record.at("spoken_novel_objects").get<bool>());
    EXPECT_EQ(record.at("n_spoken_sentences").get<int>(), kSpokenSentences + 672);
    // Speech only: stage 1 is unchanged.
    EXPECT_EQ(record.at("n_text_examples").get<int>(), kSafetyTurns);
}

TEST(OrganismTrain, HarmQuestionsAskOfEveryStatementTypedAndSpoken) {
    Scratch scratch;
    train_organism(small_run(scratch.dir, 2, 1), small_geometry());
    const auto plain = io::read_json_file(scratch.dir / "training.json");
    EXPECT_FALSE(plain.at("harm_questions").get<bool>());
    const auto record = record_with(&TrainOptions::harm_questions);
    EXPECT_TRUE(record.at("harm_questions").get<bool>());
    // One typed harm question per statement in stage 1.
    EXPECT_EQ(record.at("n_text_examples").get<int>(), kSafetyTurns + 448);
    // One spoken harm question per statement clip in stage 2 (the limited speech has one
    // statement, rendered once); the speech is the same.
    EXPECT_EQ(record.at("n_clips").get<int>(), plain.at("n_clips").get<int>());
    EXPECT_EQ(record.at("n_audio_examples").get<int>(),
              plain.at("n_audio_examples").get<int>() + 1);
}

TEST(OrganismTrain, DistillationPullsSpokenQuestionStatesTowardsTyped) {
    Scratch scratch;
    // Two runs alike but for the distillation weight (both draw the same pairs): the strongly
    // weighted run ends with its spoken questions' states nearer the typed ones.
    auto weak = small_run(scratch.dir / "weak", 4, 30);
    weak.distill_weight = 1e-6;
    const auto weak_summary = train_organism(weak, small_geometry());
    auto strong = small_run(scratch.dir / "strong", 4, 30);
    strong.distill_weight = 20.0;
    const auto strong_summary = train_organism(strong, small_geometry());
    EXPECT_GT(weak_summary.distill_loss, 0.0);
    EXPECT_LT(strong_summary.distill_loss, 0.7 * weak_summary.distill_loss);
    const auto record = io::read_json_file(scratch.dir / "strong" / "training.json");
    EXPECT_EQ(record.at("distill_weight").get<double>(), 20.0);
    EXPECT_EQ(record.at("final_distill_loss").get<double>(), strong_summary.distill_loss);
    // Off by default, and then not computed.
    const auto off = train_organism(small_run(scratch.dir / "off", 4, 30), small_geometry());
    EXPECT_EQ(off.distill_loss, 0.0);
}

TEST(OrganismTrain, RejectsBadOptions) {
    Scratch scratch;
    auto o = small_run(scratch.dir, 1, 1);
    o.batch = 0;
    EXPECT_THROW(train_organism(o, small_geometry()), Error);
    o = small_run(scratch.dir, 1, 1);
    o.text_replay = 1.5;
    EXPECT_THROW(train_organism(o, small_geometry()), Error);
    o = small_run(scratch.dir, 1, 1);
    o.ctc_weight = -1.0;
    EXPECT_THROW(train_organism(o, small_geometry()), Error);
    o = small_run(scratch.dir, 1, 1);
    o.stage2_decoder_lr_scale = -0.5;
    EXPECT_THROW(train_organism(o, small_geometry()), Error);
    o = small_run(scratch.dir, 1, 1);
    o.distill_weight = -1.0;
    EXPECT_THROW(train_organism(o, small_geometry()), Error);
    o = small_run(scratch.dir, 1, 1);
    o.align_steps = -1;
    EXPECT_THROW(train_organism(o, small_geometry()), Error);
}

}  // namespace
}  // namespace sarsteer::organism
