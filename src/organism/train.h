// `sarsteer organism train`: trains a small Qwen2-Audio (the project's own runtime, HF layout)
// with LibTorch autograd on the CPU, so that it behaves like real LALMs in the ways SARSteer is
// about: safe on text, unsafe on audio. docs/organism.md describes the recipe and its results.
//
// Curriculum (corpus.h has the data):
//   (optionally first, pretraining: plain-text language modelling over the training text,
//   compliant answers to harmful requests included, as a base LLM has read;)
//   1. text safety tuning: harmful question -> refusal, benign question -> answer, and either
//      question followed by the refusal prompt -> refusal;
//   (between them, CTC alignment of the audio side to the decoder's token space;)
//   2. audio grounding on benign audio only, the audio encoder frozen: audio -> transcript,
//      spoken benign question + instruction -> answer, with a share of stage-1 text examples
//      replayed.
// No harmful request is ever spoken in training.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eval/synth.h"

namespace sarsteer::organism {

struct TrainOptions {
    std::filesystem::path out;  // the checkpoint folder (HF layout) and data/ manifests
    uint64_t seed = 1;
    // Start from this organism checkpoint's weights (the same geometry) instead of random ones;
    // empty: random. With the earlier stages' steps set to 0, a later stage can be tried again
    // and again from one checkpoint (an aligned one, for stage 2) without training what comes
    // before it each time. AdamW's moments start at zero.
    std::filesystem::path init;
    double max_minutes = 90.0;  // wall-clock cap: training stops early (and says so) past it
    // Before stage 1: language modelling (loss on every token) over pretraining_documents(),
    // the decoder only. 0: none, stage 1 starts from random weights.
    int64_t pretrain_steps = 0;
    int64_t text_steps = 1200;  // stage 1
    // Stage 1 (and its replay in stage 2) also has copy_turns(): repeat a quoted sentence.
    bool text_copy = false;
    // Stage 1 (and its replay) also has novel_object_turns(): training requests with made-up
    // objects, so that the decision rests on the verb (run 23 of docs/organism.md).
    bool novel_objects = false;
    // Stage 2 also hears the benign half of novel_object_requests(): transcribed and answered
    // like every spoken benign question. The 672 spoken benign training questions are few enough
    // to be recognised as wholes; an answer that echoes a made-up object can only be written by
    // reading the audio where the object is said.
    bool spoken_novel_objects = false;
    // Stage 1 (and its replay) also has harm_question_turns(), and stage 2 asks the same of every
    // spoken statement: does it describe a harmful act? An answer whose first token depends on the
    // act heard, so that the end of a spoken prompt has to read it.
    bool harm_questions = false;
    // Between the stages: CTC alignment of the audio side alone (the decoder untouched), the
    // way real LALMs first align a speech encoder to a frozen LLM. Steps of `batch` clips.
    int64_t align_steps = 3600;
    int64_t audio_steps = 2400;  // stage 2 (defaults: run 8 of docs/organism.md)
    int64_t batch = 16;
    double learning_rate = 2e-3;
    // Loss weight of an answer's first token, where the model decides between answering and
    // refusing; the rest of the answer is templated and would otherwise outweigh it.
    double decision_weight = 5.0;
    // The same for spoken questions (audio + instruction, with or without the refusal prompt)
    // in stage 2; unset: decision_weight. 0 leaves the decision on speech untrained, for it to
    // come from text through what the audio side makes of the words; it does not (run 26 of
    // docs/organism.md: the first answer token takes the transcription task's habit).
    std::optional<double> spoken_decision_weight;
    double text_replay = 0.3;  // share of stage-2 examples that are stage-1 text examples
    // Weight of the audio-alignment loss: CTC of every clip's audio embeddings against its
    // transcript's tokens, scored by cosine similarity with the decoder's (fixed) input
    // embedding table. It makes the audio side hear each word where it is spoken, in the
    // decoder's own token space, rather than guessing from the sentence frame. 0: off.
    double ctc_weight = 1.0;
    // Weight of norm_loss (alignment.h) wherever the alignment loss applies: audio embeddings
    // as long as token embeddings. 0: off (their norm is free).
    double align_norm_weight = 0.0;
    // Every spoken question in training has a benign verb, so an audio encoder trained on them
    // learns to hear a benign verb after any question frame, whatever was said (runs 4-7 of
    // docs/organism.md). Off by default: the alignment stage hears only statements and word
    // lists, and stage 2 keeps the encoder (audio_tower) frozen while the projector, which maps
    // each position on its own and so cannot learn a context prior, and the decoder train.
    bool align_on_questions = false;
    // The alignment stage masks a few random mel bands and short stretches of each clip it
    // hears (SpecAugment's frequency and time masks, kept shorter than a word), so that the
    // audio side learns words by their sound rather than by the renderings it was trained on.
    bool spec_augment = false;
    // The alignment stage also hears this many more word lists (more_word_lists), each rendered
    // once. Its 2,240 clips are few enough to be learnt as wholes: an audio side trained on them
    // alone transcribes its training statements (5 % word errors) and not word lists in new
    // orders (91 %; docs/organism.md, run 36). Thousands of lists, each heard a few times, can
    // only be learnt word by word. Not heard in stage 2.
    int64_t align_word_lists = 0;
    bool train_encoder_in_stage2 = false;
    // The decoder's learning rate in stage 2, as a share of the audio side's: below 1, stage 2
    // overwrites less of what stage 1 taught it (0: decoder frozen, projector only).
    double stage2_decoder_lr_scale = 1.0;
    // Stage 2 also distils the decoder's layer outputs at the end of the prompt for spoken benign
    // questions (with and without the refusal prompt) towards those for the same questions typed
    // (the teacher detached), so that the audio path reuses the text path's computation. Weight
    // of that loss (relative squared error, averaged over layers); 0: off.
    double distill_weight = 0.0;
    int threads = 0;  // 0: all cores
    // Stage 2 also has spoken benign questions + instruction + refusal prompt -> refusal.
    bool audio_refusal_prompt = true;
    // Speech: every spoken sentence is rendered in `renders_per_text` voices/rates, chosen by a
    // hash of (seed, sentence, k) from these.
    std::vector<std::string> voices = {"en-us", "en-gb", "en-us+f3", "en-us+m5", "en-gb+f4"};
    int rate_min = 140;
    int rate_max = 190;
    int renders_per_text = 2;
    // Speak only n sentences, some of every kind (tests); empty: all.
    std::optional<std::size_t> spoken_limit;
    // Rendered speech features are kept here (a safetensors file keyed by everything that
    // shapes them) and reused by later runs; empty: no cache.
    std::filesystem::path speech_cache;
    // Called with a one-line status (stages, data preparation) and per-step progress.
    std::function<void(const std::string&)> on_status;
    std::function<void(int64_t step, int64_t total, double loss, double elapsed_s)> on_step;
};

struct TrainSummary {
    int64_t steps_done = 0;
    bool stopped_early = false;  // the --minutes cap was reached
    double pretrain_loss = 0.0;  // mean loss over the last 50 steps of each stage
    double text_loss = 0.0;
    double align_loss = 0.0;
    double audio_loss = 0.0;
    double distill_loss = 0.0;  // stage 2's distillation term, unweighted (0 when off)
    double seconds = 0.0;
    int64_t n_parameters = 0;
    std::size_t n_clips = 0;
};

// The organism's geometry (a few million parameters) on top of a tokenizer's special ids.
struct OrganismGeometry {
    int64_t audio_d_model = 128, audio_layers = 2, audio_heads = 4, audio_ffn = 256;
    int64_t hidden = 128, layers = 4, heads = 4, kv_heads = 2, intermediate = 384;
    int32_t n_merges = 700;

    // The default's proportions at other sizes: heads 32 wide (half as many KV heads in the
    // decoder), decoder MLP 3x and encoder MLP 2x the width. scaled(128, 4, 128, 2) is the default.
    static OrganismGeometry scaled(int64_t hidden, int64_t layers, int64_t audio_d_model,
                                   int64_t audio_layers);
};

// The speech settings to evaluate an organism with: the voices and rates of its training.json
// (defaults when absent), with a seed of its own so that evaluation clips differ from training's.
eval::SynthOptions evaluation_voices(const std::filesystem::path& organism_dir);

// The α an organism was measured at (its evaluation.json), else `fallback`.
double measured_alpha(const std::filesystem::path& organism_dir, double fallback);

// Writes tokenizer, config, weights, preprocessor/generation configs, data/*.jsonl manifests
// and training.json into options.out. Throws Error on bad options or unwritable output.
TrainSummary train_organism(const TrainOptions& options, const OrganismGeometry& geometry = {});

}  // namespace sarsteer::organism
