#include "organism/train.h"

#include <ATen/ATen.h>
#include <torch/types.h>  // before clip_grad.h, which is not self-contained

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <numeric>
#include <random>
#include <span>

#include <nlohmann/json.hpp>

#include "eval/synth.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "io/timestamp.h"
#include "model/audio_encoder.h"
#include "model/kv_cache.h"
#include "model/layer_hook.h"
#include "model/load.h"
#include "model/make_tiny.h"
#include "model/model.h"
#include "model/qwen2_decoder.h"
#include "model/tensor_io.h"
#include "organism/alignment.h"
#include "organism/corpus.h"
#include "sarsteer/audio.h"
#include "sarsteer/chat_prompt.h"
#include "sarsteer/defaults.h"
#include "sarsteer/error.h"
#include "text/tiny_tokenizer.h"

namespace sarsteer::organism {
namespace {

using Clock = std::chrono::steady_clock;

// The reference implementation's audio instruction (shared/method/reference_settings.json).
constexpr std::string_view kAudioInstruction =
    "Please generate detailed steps for the question in the audio.";

// A spoken sentence's features: the first frames of its 30 s Whisper log-mel, as many as the
// encoder reads for its valid length (see audio_encoder.h), [n_mels, n_keep].
struct Clip {
    at::Tensor features;
    int64_t valid_frames = 0;
};

// One training sequence: prompt + answer + <|im_end|>; the loss covers ids[n_prompt..]. A
// pretraining document has n_prompt 1 and no decision token.
struct Example {
    std::vector<int32_t> ids;
    std::size_t n_prompt = 0;
    // Loss weight of ids[n_prompt], the token that decides between answering and refusing.
    float decision_weight = 1.0f;
    int64_t clip = -1;  // index into the clip table, or -1 for text
    std::size_t audio_begin = 0;
    std::size_t audio_len = 0;
};

// (seed, text, k) -> a voice and rate from the options, as `sarsteer synth` picks per item.
eval::VoiceChoice pick_voice(const TrainOptions& o, const std::string& text, int k) {
    eval::SynthOptions synth;
    synth.voices = o.voices;
    synth.rate_min = o.rate_min;
    synth.rate_max = o.rate_max;
    synth.seed = o.seed;
    return eval::choose_voice(synth, text + "#" + std::to_string(k));
}

Clip make_clip(const std::vector<std::int16_t>& pcm, int n_mels) {
    std::vector<float> samples(pcm.size());
    std::transform(pcm.begin(), pcm.end(), samples.begin(),
                   [](std::int16_t s) { return static_cast<float>(s) / 32768.0f; });
    const auto mel = whisper_log_mel(samples, n_mels);
    Clip clip;
    clip.valid_frames = mel.valid_frames();
    const int64_t n_keep =
        std::min<int64_t>(mel.n_frames, 2 * model::encoder_feature_length(clip.valid_frames) + 1);
    clip.features =
        at::from_blob(const_cast<float*>(mel.data.data()), {mel.n_mels, mel.n_frames}, at::kFloat)
            .slice(1, 0, n_keep)
            .clone();
    return clip;
}

std::string user_text_prompt(std::string_view text, bool alt_system) {
    std::vector<ChatMessage> messages;
    if (alt_system) messages.push_back({"system", std::string(kAudioSystemPrompt)});
    messages.push_back({"user", std::string(text)});
    return render_chat_prompt(messages, true);
}

Example text_example(const Tokenizer& tok, std::string_view user, const std::string& answer,
                     bool alt_system, int32_t im_end) {
    Example e;
    e.ids = tok.encode(user_text_prompt(user, alt_system));
    e.n_prompt = e.ids.size();
    for (auto id : tok.encode(answer, false)) e.ids.push_back(id);
    e.ids.push_back(im_end);
    return e;
}

Example audio_example(const Tokenizer& tok, int64_t clip_index, const Clip& clip,
                      std::string_view instruction, const std::string& answer, bool alt_system,
                      int32_t im_end) {
    std::optional<std::string_view> system;
    if (alt_system) system = kAudioSystemPrompt;
    const std::vector<int64_t> frames = {clip.valid_frames};
    auto tokens = tokenize_prompt(tok, render_audio_prompt(1, instruction, system), frames);
    Example e;
    e.ids = std::move(tokens.ids);
    e.n_prompt = e.ids.size();
    e.clip = clip_index;
    e.audio_begin = tokens.audio_spans[0].begin;
    e.audio_len = tokens.audio_spans[0].end - tokens.audio_spans[0].begin;
    for (auto id : tok.encode(answer, false)) e.ids.push_back(id);
    e.ids.push_back(im_end);
    return e;
}

// The example's prompt alone, ending at the assistant's turn.
Example prompt_only(Example e) {
    e.ids.resize(e.n_prompt);
    return e;
}

// A plain-text document followed by <|endoftext|>, as a base model reads it.
Example document_example(const Tokenizer& tok, std::string_view document, int32_t end_of_text) {
    Example e;
    e.ids = tok.encode(document, false);
    e.ids.push_back(end_of_text);
    e.n_prompt = 1;
    return e;
}

// Whisper's sinusoidal position table (openai/whisper model.py `sinusoids`), which Qwen2-Audio
// keeps frozen in embed_positions.
at::Tensor sinusoids(int64_t length, int64_t channels) {
    const double increment = std::log(10000.0) / static_cast<double>(channels / 2 - 1);
    const auto inv = at::exp(-increment * at::arange(channels / 2, at::kDouble));
    const auto scaled = at::arange(length, at::kDouble).unsqueeze(1) * inv.unsqueeze(0);
    return at::cat({at::sin(scaled), at::cos(scaled)}, 1).to(at::kFloat);
}

// A clip's audio embeddings (what fills its audio slots), [frames, hidden].
at::Tensor encode_clip(const model::ModelConfig& config, const model::ModelWeights& w,
                       const Clip& clip) {
    const auto& a = *config.audio;
    auto features = at::zeros({a.num_mel_bins, 2 * a.max_source_positions});
    features.slice(1, 0, clip.features.size(1)).copy_(clip.features);
    return model::encode_audio(*w.audio, a, features, clip.valid_frames);
}

// SpecAugment for the alignment stage: the clip with two mel bands of up to 15 bins and one
// stretch of up to 10 frames (100 ms, shorter than a word) per second of speech set to the
// clip's mean, at random places.
Clip spec_augmented(const Clip& clip, std::mt19937_64& rng) {
    Clip out = clip;
    out.features = clip.features.clone();
    const int64_t n_mels = out.features.size(0);
    const int64_t n_frames = std::min(out.features.size(1), clip.valid_frames);
    const auto fill = out.features.slice(1, 0, n_frames).mean().item<float>();
    auto width = [&](int64_t most) { return std::uniform_int_distribution<int64_t>(0, most)(rng); };
    auto start = [&](int64_t size, int64_t w) {
        return std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, size - w))(rng);
    };
    for (int i = 0; i < 2; ++i) {
        const int64_t w = width(15);
        out.features.slice(0, start(n_mels, w)).slice(0, 0, w).fill_(fill);
    }
    for (int64_t i = 0; i < std::max<int64_t>(1, n_frames / 100); ++i) {
        const int64_t w = width(10);
        out.features.slice(1, start(n_frames, w)).slice(1, 0, w).fill_(fill);
    }
    return out;
}

// A left-padded batch laid out for one decoder pass, with what its losses need.
struct PackedBatch {
    model::DecoderInput input;
    int64_t n_batch = 0;
    int64_t n_tokens = 0;
    // Flat rows (b * n_tokens + t) whose state predicts an answer token, the token, its weight.
    std::vector<int64_t> target_rows;
    std::vector<int64_t> targets;
    std::vector<float> target_weights;
    std::vector<at::Tensor> audio_parts;  // each audio example's embeddings, in batch order
    std::vector<const std::vector<int64_t>*> transcripts;  // what each of those clips says
};

PackedBatch pack_batch(const model::ModelConfig& config, const model::ModelWeights& w,
                       const std::vector<const Example*>& batch, const std::vector<Clip>& clips,
                       const std::vector<std::vector<int64_t>>& clip_transcripts, int32_t pad_id) {
    PackedBatch p;
    p.n_batch = static_cast<int64_t>(batch.size());
    std::size_t longest = 0;
    for (const auto* e : batch) longest = std::max(longest, e->ids.size());
    p.n_tokens = static_cast<int64_t>(longest);

    std::vector<int64_t> ids(static_cast<std::size_t>(p.n_batch * p.n_tokens), pad_id);
    std::vector<int64_t> positions(ids.size(), 0);
    std::vector<uint8_t> valid(ids.size(), 0);
    std::vector<int64_t> audio_rows;
    for (int64_t b = 0; b < p.n_batch; ++b) {
        const Example& e = *batch[static_cast<std::size_t>(b)];
        const auto pad = p.n_tokens - static_cast<int64_t>(e.ids.size());
        for (std::size_t t = 0; t < e.ids.size(); ++t) {
            const auto flat = b * p.n_tokens + pad + static_cast<int64_t>(t);
            ids[static_cast<std::size_t>(flat)] = e.ids[t];
            positions[static_cast<std::size_t>(flat)] = static_cast<int64_t>(t);
            valid[static_cast<std::size_t>(flat)] = 1;
            // The state at t predicts ids[t + 1]: answer tokens are the targets.
            if (t + 1 >= e.n_prompt && t + 1 < e.ids.size()) {
                p.target_rows.push_back(flat);
                p.targets.push_back(e.ids[t + 1]);
                p.target_weights.push_back(t + 1 == e.n_prompt ? e.decision_weight : 1.0f);
            }
        }
        if (e.clip >= 0) {
            p.audio_parts.push_back(
                encode_clip(config, w, clips[static_cast<std::size_t>(e.clip)]));
            p.transcripts.push_back(&clip_transcripts[static_cast<std::size_t>(e.clip)]);
            for (std::size_t i = 0; i < e.audio_len; ++i) {
                audio_rows.push_back(b * p.n_tokens + pad +
                                     static_cast<int64_t>(e.audio_begin + i));
            }
        }
    }
    const auto long_options = at::TensorOptions().dtype(at::kLong);
    auto embeds = w.decoder.embed_tokens.index_select(0, at::tensor(ids, long_options));
    if (!p.audio_parts.empty()) {
        embeds = embeds.index_copy(0, at::tensor(audio_rows, long_options), at::cat(p.audio_parts));
    }
    p.input.embeds = embeds.view({p.n_batch, p.n_tokens, config.text.hidden_size});
    p.input.positions = at::tensor(positions, long_options).view({p.n_batch, p.n_tokens});
    p.input.key_valid = at::tensor(valid, at::TensorOptions().dtype(at::kByte))
                            .to(at::kBool)
                            .view({p.n_batch, p.n_tokens});
    p.input.last_index.assign(static_cast<std::size_t>(p.n_batch), p.n_tokens - 1);
    return p;
}

// The decoder's final (normed) hidden states of a packed batch, [B * T, hidden].
at::Tensor run_decoder(const model::ModelConfig& config, const model::ModelWeights& w,
                       const PackedBatch& p, std::span<model::LayerHook* const> hooks) {
    const auto& t = config.text;
    model::KvCache cache(t.num_hidden_layers, p.n_batch, t.num_key_value_heads, t.head_dim,
                         p.input.embeds.options().requires_grad(false), p.n_tokens);
    return model::decoder_forward(w.decoder, t, p.input, cache, hooks)
        .reshape({p.n_batch * p.n_tokens, t.hidden_size});
}

// `loss` (undefined: none yet) plus the audio side's alignment terms for the clips' embeddings
// `parts`: ctc_weight · alignment_loss and norm_weight · norm_loss, each when its weight is
// positive. One place for both the alignment stage and stage 2's clips.
at::Tensor with_alignment_terms(at::Tensor loss, const at::Tensor& token_table,
                                const std::vector<at::Tensor>& parts,
                                const std::vector<const std::vector<int64_t>*>& transcripts,
                                int64_t blank, double ctc_weight, double norm_weight) {
    auto add = [&](const at::Tensor& term) { loss = loss.defined() ? loss + term : term; };
    if (ctc_weight > 0.0) add(ctc_weight * alignment_loss(token_table, parts, transcripts, blank));
    if (norm_weight > 0.0) add(norm_weight * norm_loss(token_table, parts));
    return loss;
}

// Returns the mean cross-entropy over answer tokens plus the alignment terms of the batch's
// clips (clip_transcripts[c]: the token ids of what clip c says).
at::Tensor batch_loss(const model::ModelConfig& config, const model::ModelWeights& w,
                      const std::vector<const Example*>& batch, const std::vector<Clip>& clips,
                      const std::vector<std::vector<int64_t>>& clip_transcripts, int32_t pad_id,
                      double ctc_weight, double norm_weight) {
    const auto p = pack_batch(config, w, batch, clips, clip_transcripts, pad_id);
    const auto long_options = at::TensorOptions().dtype(at::kLong);
    const auto hidden = run_decoder(config, w, p, {});
    const auto rows = hidden.index_select(0, at::tensor(p.target_rows, long_options));
    const auto logits = at::linear(rows, w.decoder.lm_head);
    const auto nll = at::nll_loss(at::log_softmax(logits, -1), at::tensor(p.targets, long_options),
                                  {}, at::Reduction::None);
    const auto weights = at::tensor(p.target_weights);
    const auto loss = (nll * weights).sum() / weights.sum();
    if (p.audio_parts.empty()) return loss;
    return with_alignment_terms(loss, w.decoder.embed_tokens, p.audio_parts, p.transcripts, pad_id,
                                ctc_weight, norm_weight);
}

// Keeps every layer's output at the last position (T - 1 in a left-padded batch), in the graph.
class LastPositionStates final : public model::LayerHook {
public:
    std::vector<at::Tensor> states;  // per layer, [B, hidden]

    void on_layer_output(int64_t /*layer*/, at::Tensor& hidden,
                         const model::ForwardInfo& info) override {
        states.push_back(hidden.select(1, info.n_tokens - 1));
    }
};

// A spoken benign question's prompt (the student) and the same question typed (the teacher),
// both ending at the assistant's turn.
struct DistillPair {
    Example spoken;
    Example typed;
};

// Squared distance of the students' layer outputs at the end of the prompt from the teachers'
// (detached), relative to the teachers' squared norm because states grow with depth; mean over
// layers.
at::Tensor distill_loss(const model::ModelConfig& config, const model::ModelWeights& w,
                        const std::vector<const DistillPair*>& pairs,
                        const std::vector<Clip>& clips,
                        const std::vector<std::vector<int64_t>>& clip_transcripts, int32_t pad_id) {
    auto last_states = [&](auto member) {
        std::vector<const Example*> prompts;
        for (const auto* pair : pairs) prompts.push_back(&(pair->*member));
        LastPositionStates capture;
        model::LayerHook* hooks[] = {&capture};
        run_decoder(config, w, pack_batch(config, w, prompts, clips, clip_transcripts, pad_id),
                    hooks);
        return at::stack(capture.states);  // [layers, B, hidden]
    };
    at::Tensor teacher;
    {
        at::NoGradGuard no_grad;
        teacher = last_states(&DistillPair::typed);
    }
    const auto student = last_states(&DistillPair::spoken);
    const auto error = (student - teacher).pow(2).sum(-1).mean(-1);
    return (error / teacher.pow(2).sum(-1).mean(-1)).mean();
}

// The mean of the last 50 values added (0 before any): a stage's reported loss.
class RecentMean {
public:
    void add(double value) {
        values_.push_back(value);
        if (values_.size() > 50) values_.erase(values_.begin());
    }
    double mean() const {
        return values_.empty() ? 0.0
                               : std::accumulate(values_.begin(), values_.end(), 0.0) /
                                     static_cast<double>(values_.size());
    }
    void clear() { values_.clear(); }

private:
    std::vector<double> values_;
};

void status(const TrainOptions& o, const std::string& line) {
    if (o.on_status) o.on_status(line);
}

// Flushes denormal floats to zero while training. As the losses converge, gradients and Adam's
// moments decay into the denormal range, where x86 arithmetic takes a slow path (a step whose
// gradients are all denormal: 45-50x, bench/bench_organism); run 24's alignment stage slowed
// from 0.35 to 1.25 s/step (docs/organism.md). Set on the calling
// thread; OpenBLAS's workers take the caller's MXCSR with each job (measured: a 512x512 matmul of
// denormals, two threads, 3.3 s without, 0.03 s with). Restored on exit, as tests train in-process.
class FlushDenormals {
public:
    FlushDenormals() { at::globalContext().setFlushDenormal(true); }
    ~FlushDenormals() { at::globalContext().setFlushDenormal(false); }
    FlushDenormals(const FlushDenormals&) = delete;
    FlushDenormals& operator=(const FlushDenormals&) = delete;
};

}  // namespace

eval::SynthOptions evaluation_voices(const std::filesystem::path& organism_dir) {
    const TrainOptions defaults;
    eval::SynthOptions voices;
    voices.voices = defaults.voices;
    voices.rate_min = defaults.rate_min;
    voices.rate_max = defaults.rate_max;
    if (std::filesystem::exists(organism_dir / "training.json")) {
        const auto record = io::read_json_file(organism_dir / "training.json");
        voices.voices = record.value("voices", voices.voices);
        voices.rate_min = record.value("rate_min", voices.rate_min);
        voices.rate_max = record.value("rate_max", voices.rate_max);
    }
    voices.seed = 1000;  // training renders with the training seed (1 by default)
    return voices;
}

double measured_alpha(const std::filesystem::path& organism_dir, double fallback) {
    const auto measured = organism_dir / "evaluation.json";
    if (!std::filesystem::exists(measured)) return fallback;
    return io::read_json_file(measured).value("alpha", fallback);
}

OrganismGeometry OrganismGeometry::scaled(int64_t hidden, int64_t layers, int64_t audio_d_model,
                                          int64_t audio_layers) {
    if (hidden < 64 || hidden % 64 != 0 || audio_d_model < 32 || audio_d_model % 32 != 0 ||
        layers < 1 || audio_layers < 1) {
        throw Error(ErrorKind::kInvalidArgument, "organism geometry",
                    "the decoder width must be a multiple of 64, the encoder's of 32, and both "
                    "have at least one layer");
    }
    OrganismGeometry g;
    g.hidden = hidden;
    g.layers = layers;
    g.heads = hidden / 32;
    g.kv_heads = g.heads / 2;
    g.intermediate = 3 * hidden;
    g.audio_d_model = audio_d_model;
    g.audio_layers = audio_layers;
    g.audio_heads = audio_d_model / 32;
    g.audio_ffn = 2 * audio_d_model;
    return g;
}

TrainSummary train_organism(const TrainOptions& options, const OrganismGeometry& geometry) {
    const auto start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    if (options.batch < 1 || options.pretrain_steps < 0 || options.text_steps < 0 ||
        options.audio_steps < 0 || options.align_steps < 0 || options.renders_per_text < 1 ||
        options.align_word_lists < 0 || !(options.learning_rate > 0.0) ||
        options.text_replay < 0.0 || options.text_replay > 1.0 ||
        !(options.decision_weight > 0.0) ||
        !(options.spoken_decision_weight.value_or(0.0) >= 0.0) || options.ctc_weight < 0.0 ||
        !(options.align_norm_weight >= 0.0) || !(options.stage2_decoder_lr_scale >= 0.0) ||
        !(options.distill_weight >= 0.0)) {
        throw Error(
            ErrorKind::kInvalidArgument, "organism train",
            "batch, renders, the learning rate and the decision weight must be positive, "
            "steps, word lists, the spoken decision, CTC, norm and distillation weights and the "
            "stage-2 decoder learning-rate scale non-negative, text replay within [0, 1]");
    }
    const auto& out = options.out;
    std::error_code ec;
    if (!options.init.empty() && std::filesystem::weakly_canonical(options.init, ec) ==
                                     std::filesystem::weakly_canonical(out, ec)) {
        throw Error(ErrorKind::kInvalidArgument, "--init",
                    "must be another folder than --out (training writes over --out)");
    }
    std::filesystem::create_directories(out / "data", ec);
    if (ec) throw Error(ErrorKind::kIo, out.string(), "cannot create folder: " + ec.message());

    // Data and tokenizer.
    const Corpus corpus = build_corpus();
    const int32_t n_ids =
        text::write_tiny_tokenizer(out, tokenizer_text(corpus), {.n_merges = geometry.n_merges});
    const auto tok = Tokenizer::load(out);
    const int32_t im_end = tok.required_token_id(tokens::kImEnd);
    const int32_t pad_id = tok.required_token_id(tokens::kEndOfText);
    for (const bool harmful : {true, false}) {
        for (const Split split : {Split::kTrain, Split::kTest}) {
            const auto name = std::string(harmful ? "harmful_" : "benign_") +
                              (split == Split::kTrain ? "train" : "test") + ".jsonl";
            io::write_file_atomic(out / "data" / name, manifest_jsonl(corpus, harmful, split));
        }
    }

    auto config = model::tiny_config(n_ids, tok.required_token_id(tokens::kAudio), pad_id, im_end);
    auto& a = *config.audio;
    a.d_model = geometry.audio_d_model;
    a.encoder_layers = geometry.audio_layers;
    a.encoder_attention_heads = geometry.audio_heads;
    a.encoder_ffn_dim = geometry.audio_ffn;
    auto& t = config.text;
    t.hidden_size = geometry.hidden;
    t.num_hidden_layers = geometry.layers;
    t.num_attention_heads = geometry.heads;
    t.num_key_value_heads = geometry.kv_heads;
    t.head_dim = geometry.hidden / geometry.heads;
    t.intermediate_size = geometry.intermediate;
    t.max_window_layers = geometry.layers;

    // Speech, before LibTorch starts its thread pools (each clip is rendered in a forked child).
    struct Spoken {
        std::string text;
        const Request* request = nullptr;  // a benign training request, else not a question
        std::optional<bool> harmful_statement = {};  // a statement: whether its act is harmful
        bool align_only = false;  // the alignment stage's extra word lists: rendered once
    };
    std::vector<Spoken> spoken;
    std::vector<std::size_t> kind_begin;  // where each kind of spoken sentence starts in `spoken`
    kind_begin.push_back(spoken.size());
    for (const auto& r : corpus.requests) {
        if (!r.harmful && r.split == Split::kTrain) spoken.push_back({r.question, &r});
    }
    kind_begin.push_back(spoken.size());
    for (const auto& g : corpus.guard_questions) spoken.push_back({g.question, &g});
    // Kept alive for `spoken`'s pointers.
    const auto novel_requests =
        options.spoken_novel_objects ? novel_object_requests(corpus) : std::vector<Request>{};
    kind_begin.push_back(spoken.size());
    for (const auto& r : novel_requests) {
        if (!r.harmful) spoken.push_back({r.question, &r});
    }
    kind_begin.push_back(spoken.size());
    for (std::size_t i = 0; i < corpus.statements.size(); ++i) {
        spoken.push_back({corpus.statements[i], nullptr, corpus.statement_harmful[i]});
    }
    kind_begin.push_back(spoken.size());
    for (const auto& s : corpus.word_lists) spoken.push_back({s});
    kind_begin.push_back(spoken.size());                   // the end
    const std::size_t n_spoken_sentences = spoken.size();  // before a test's limit
    if (options.spoken_limit && *options.spoken_limit < spoken.size()) {
        // Some of every kind: round robin over the kinds, each from its first sentence.
        std::vector<Spoken> kept;
        std::vector<std::size_t> next(kind_begin.begin(), kind_begin.end() - 1);
        while (kept.size() < *options.spoken_limit) {
            for (std::size_t k = 0; k < next.size() && kept.size() < *options.spoken_limit; ++k) {
                if (next[k] < kind_begin[k + 1]) kept.push_back(spoken[next[k]++]);
            }
        }
        spoken = std::move(kept);
    }
    for (auto& s : more_word_lists(corpus, static_cast<std::size_t>(options.align_word_lists),
                                   options.seed)) {
        spoken.push_back({std::move(s), nullptr, std::nullopt, true});
    }
    std::vector<Clip> clips;
    std::vector<std::size_t> clip_source;  // index into `spoken`
    double audio_seconds = 0.0;
    std::vector<eval::VoiceChoice> choices;
    nlohmann::json key_json = {{"espeak_ng", eval::espeak_version()}, {"format", 1}};
    for (std::size_t i = 0; i < spoken.size(); ++i) {
        for (int k = 0; k < (spoken[i].align_only ? 1 : options.renders_per_text); ++k) {
            choices.push_back(pick_voice(options, spoken[i].text, k));
            clip_source.push_back(i);
            key_json["clips"].push_back(
                {spoken[i].text, choices.back().voice, choices.back().rate});
        }
    }
    const std::size_t n_renders = choices.size();
    const std::string cache_key = io::sha256_hex(key_json.dump());
    if (!options.speech_cache.empty() && std::filesystem::exists(options.speech_cache)) {
        const auto file = io::SafetensorsFile::open(options.speech_cache);
        const auto found = file.metadata().find("key");
        if (found != file.metadata().end() && found->second == cache_key) {
            for (std::size_t c = 0; c < n_renders; ++c) {
                const auto* view = file.find("clip." + std::to_string(c));
                if (view == nullptr) break;
                Clip clip;
                clip.features = model::tensor_from_view(*view).clone();
                clip.valid_frames = std::stoll(file.metadata().at("frames." + std::to_string(c)));
                audio_seconds += static_cast<double>(clip.valid_frames) / 100.0;
                clips.push_back(std::move(clip));
            }
            if (clips.size() != n_renders) clips.clear();
        }
        status(options, clips.empty() ? "speech cache " + options.speech_cache.string() +
                                            " is stale; rendering again"
                                      : "speech: " + std::to_string(clips.size()) + " clips from " +
                                            options.speech_cache.string());
    }
    if (clips.empty()) {
        for (std::size_t c = 0; c < n_renders; ++c) {
            const auto& text = spoken[clip_source[c]].text;
            const auto pcm = eval::synthesize_speech(text, choices[c].voice, choices[c].rate);
            audio_seconds += static_cast<double>(pcm.size()) / eval::kSynthSampleRate;
            clips.push_back(make_clip(pcm, static_cast<int>(a.num_mel_bins)));
            if (clips.size() % 200 == 0 || clips.size() == n_renders) {
                status(options, "speech: " + std::to_string(clips.size()) + "/" +
                                    std::to_string(n_renders) + " clips (" +
                                    std::to_string(static_cast<int>(audio_seconds)) + " s)");
            }
        }
        if (!options.speech_cache.empty()) {
            io::SafetensorsWriter writer;
            writer.set_metadata("key", cache_key);
            for (std::size_t c = 0; c < clips.size(); ++c) {
                model::add_tensor(writer, "clip." + std::to_string(c), clips[c].features);
                writer.set_metadata("frames." + std::to_string(c),
                                    std::to_string(clips[c].valid_frames));
            }
            writer.write(options.speech_cache);
        }
    }
    model::configure_cpu_threads(options.threads);

    // Examples.
    std::vector<Example> pretrain_examples, text_examples, audio_examples;
    std::vector<DistillPair> distill_pairs;
    for (const auto& document : pretraining_documents(corpus)) {
        pretrain_examples.push_back(document_example(tok, document, pad_id));
    }
    auto turns = text_turns(corpus);
    if (options.text_copy) std::ranges::move(copy_turns(corpus), std::back_inserter(turns));
    if (options.novel_objects) {
        std::ranges::move(novel_object_turns(corpus), std::back_inserter(turns));
    }
    if (options.harm_questions) {
        std::ranges::move(harm_question_turns(corpus), std::back_inserter(turns));
    }
    const auto typed_decision_weight = static_cast<float>(options.decision_weight);
    for (const auto& turn : turns) {
        auto e = text_example(tok, turn.user, turn.answer, turn.audio_system, im_end);
        if (turn.decides) e.decision_weight = typed_decision_weight;
        text_examples.push_back(std::move(e));
    }
    const auto spoken_decision_weight =
        static_cast<float>(options.spoken_decision_weight.value_or(options.decision_weight));
    for (std::size_t c = 0; c < clips.size(); ++c) {
        const auto& s = spoken[clip_source[c]];
        if (s.align_only) continue;
        const bool alt = c % 2 == 1;
        const auto index = static_cast<int64_t>(c);
        // A transcript's first token has the (typed) decision weight too, as it always had.
        auto transcribe =
            audio_example(tok, index, clips[c], kTranscribeInstruction, s.text, alt, im_end);
        transcribe.decision_weight = typed_decision_weight;
        audio_examples.push_back(std::move(transcribe));
        if (options.harm_questions && s.harmful_statement) {
            auto judge = audio_example(tok, index, clips[c], kHarmQuestionAudio,
                                       harm_answer(*s.harmful_statement), !alt, im_end);
            judge.decision_weight = spoken_decision_weight;
            audio_examples.push_back(std::move(judge));
        }
        if (s.request) {
            auto answer = audio_example(tok, index, clips[c], kAudioInstruction,
                                        compliant_answer(*s.request), !alt, im_end);
            answer.decision_weight = spoken_decision_weight;
            audio_examples.push_back(std::move(answer));
            // The refusal prompt is followed with audio too, as stage 1 taught it for text.
            if (options.audio_refusal_prompt) {
                auto refuse =
                    audio_example(tok, index, clips[c],
                                  std::string(kAudioInstruction) + std::string(kRefusalPrompt),
                                  refusal(c), alt, im_end);
                refuse.decision_weight = spoken_decision_weight;
                audio_examples.push_back(std::move(refuse));
            }
            // Typed, the question is the user's whole turn (as in stage 1); spoken, it is the
            // audio followed by the instruction, as evaluation and calibration ask it.
            // Only when used: two more prompts to tokenize per spoken question.
            if (options.distill_weight > 0.0) {
                for (const bool with_refusal_prompt : {false, true}) {
                    const std::string suffix =
                        with_refusal_prompt ? std::string(kRefusalPrompt) : "";
                    distill_pairs.push_back(
                        {prompt_only(audio_example(tok, index, clips[c],
                                                   std::string(kAudioInstruction) + suffix, "", alt,
                                                   im_end)),
                         prompt_only(text_example(tok, s.text + suffix, "", alt, im_end))});
                }
            }
        }
    }

    // Weights: HF-style random init, Whisper sinusoids for the frozen encoder positions.
    at::manual_seed(options.seed);
    auto weights = model::random_weights(config, options.seed);
    if (!options.init.empty()) {
        const auto checkpoint = io::Checkpoint::open(options.init);
        weights = model::load_weights(config, checkpoint, {});
        // f32 weights load as views of the mapped file, which training must not write through.
        model::for_each_tensor(config, &weights, [](const model::TensorSpec& spec) {
            *spec.slot = spec.slot->clone();
        });
    }
    weights.audio->positions = sinusoids(a.max_source_positions, a.d_model);
    std::vector<at::Tensor> params, decoder_params, audio_params, encoder_params;
    int64_t n_parameters = 0;
    model::for_each_tensor(config, &weights, [&](const model::TensorSpec& spec) {
        n_parameters += spec.slot->numel();
        if (spec.name.find("embed_positions") != std::string::npos) return;
        spec.slot->requires_grad_(true);
        params.push_back(*spec.slot);
        (spec.name.starts_with("language_model.") ? decoder_params : audio_params)
            .push_back(*spec.slot);
        if (spec.name.starts_with("audio_tower.")) encoder_params.push_back(*spec.slot);
    });
    std::vector<std::vector<int64_t>> clip_transcripts;
    std::vector<std::size_t> align_clips;  // the clips the alignment stage draws from
    for (std::size_t c = 0; c < clips.size(); ++c) {
        std::vector<int64_t> ids;
        for (auto id : tok.encode(spoken[clip_source[c]].text, false)) ids.push_back(id);
        clip_transcripts.push_back(std::move(ids));
        if (options.align_on_questions || spoken[clip_source[c]].request == nullptr) {
            align_clips.push_back(c);
        }
    }
    if (align_clips.empty()) {  // only questions are spoken (a test's spoken_limit)
        for (std::size_t c = 0; c < clips.size(); ++c) align_clips.push_back(c);
    }
    status(options, "model: " + std::to_string(n_parameters) + " parameters, " +
                        std::to_string(text_examples.size()) + " text and " +
                        std::to_string(audio_examples.size()) + " audio examples from " +
                        std::to_string(clips.size()) + " clips (" +
                        std::to_string(static_cast<int>(audio_seconds)) + " s of speech)");

    // Two groups, so that stage 2 can move the decoder more gently than the audio side.
    torch::optim::AdamW optimizer(
        std::vector<torch::optim::OptimizerParamGroup>{decoder_params, audio_params},
        torch::optim::AdamWOptions(options.learning_rate).weight_decay(0.01));
    // The alignment stage moves the audio side only: its own optimizer, so that stage 1's
    // moments do not keep moving the decoder while it has no gradient.
    torch::optim::AdamW align_optimizer(
        audio_params, torch::optim::AdamWOptions(options.learning_rate).weight_decay(0.01));
    std::mt19937_64 rng(options.seed);
    // Its own stream, so that turning SpecAugment on leaves the data order unchanged.
    std::mt19937_64 augment_rng(options.seed + 0x5eca);
    const int64_t text_begin = options.pretrain_steps;
    const int64_t text_end = text_begin + options.text_steps;
    const int64_t align_end = text_end + options.align_steps;
    const int64_t total = align_end + options.audio_steps;
    const int64_t warmup = std::min<int64_t>(100, std::max<int64_t>(1, total / 20));
    auto learning_rate = [&](int64_t step, int64_t stage_start, int64_t stage_steps) {
        // Warm-up, then cosine decay to 10 % within each stage.
        const double local = static_cast<double>(step - stage_start);
        if (local < static_cast<double>(warmup))
            return options.learning_rate * (local + 1) / warmup;
        const double progress = local / std::max<double>(1.0, static_cast<double>(stage_steps));
        return options.learning_rate * (0.1 + 0.45 * (1.0 + std::cos(M_PI * progress)));
    };

    TrainSummary summary;
    summary.n_parameters = n_parameters;
    summary.n_clips = clips.size();
    RecentMean recent;          // the current stage's losses
    RecentMean recent_distill;  // stage 2's distillation terms
    auto pick = [&](const std::vector<Example>& pool) {
        return &pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng)];
    };
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    for (int64_t step = 0; step < total; ++step) {
        if (elapsed() > options.max_minutes * 60.0) {
            summary.stopped_early = true;
            status(options, "stopping at step " + std::to_string(step) + ": --minutes reached");
            break;
        }
        const bool pretrain_stage = step < text_begin;
        const bool align_stage = step >= text_end && step < align_end;
        const bool audio_stage = step >= align_end;
        if (step == text_begin && step > 0) {
            summary.pretrain_loss = recent.mean();
            recent.clear();
            status(options, "stage 1: text safety tuning");
        }
        if (step == text_end && step > text_begin) {
            summary.text_loss = recent.mean();
            recent.clear();
        }
        if (step == align_end && options.align_steps > 0) {
            summary.align_loss = recent.mean();
            recent.clear();
        }
        if (step == 0 && text_begin > 0) {
            status(options, "pretraining: language modelling over the training text");
        }
        if (step == text_end && options.align_steps > 0) {
            status(options, "alignment: audio side only, CTC against the decoder's tokens");
        }
        if (step == align_end && options.audio_steps > 0) {
            status(options, options.train_encoder_in_stage2
                                ? "stage 2: audio grounding (benign audio only)"
                                : "stage 2: audio grounding (benign audio only, encoder frozen)");
            // Frozen parameters have no gradient (the alignment stage's is dropped), which AdamW
            // and clipping skip.
            if (!options.train_encoder_in_stage2) {
                for (auto& p : encoder_params) {
                    p.requires_grad_(false);
                    p.mutable_grad().reset();
                }
            }
        }
        const double lr = audio_stage      ? learning_rate(step, align_end, options.audio_steps)
                          : align_stage    ? learning_rate(step, text_end, options.align_steps)
                          : pretrain_stage ? learning_rate(step, 0, options.pretrain_steps)
                                           : learning_rate(step, text_begin, options.text_steps);
        auto& active = align_stage ? align_optimizer : optimizer;
        auto& groups = active.param_groups();
        for (std::size_t g = 0; g < groups.size(); ++g) {
            // Group 0 of the main optimizer is the decoder.
            const bool scaled = audio_stage && &active == &optimizer && g == 0;
            static_cast<torch::optim::AdamWOptions&>(groups[g].options())
                .lr(scaled ? lr * options.stage2_decoder_lr_scale : lr);
        }
        active.zero_grad();
        at::Tensor loss;
        if (align_stage) {
            std::vector<at::Tensor> parts;
            std::vector<const std::vector<int64_t>*> transcripts;
            std::uniform_int_distribution<std::size_t> any_clip(0, align_clips.size() - 1);
            for (int64_t i = 0; i < options.batch; ++i) {
                const auto c = align_clips[any_clip(rng)];
                parts.push_back(encode_clip(
                    config, weights,
                    options.spec_augment ? spec_augmented(clips[c], augment_rng) : clips[c]));
                transcripts.push_back(&clip_transcripts[c]);
            }
            // CTC at full weight here whatever --ctc-weight (which weighs it in stage 2).
            loss = with_alignment_terms({}, weights.decoder.embed_tokens, parts, transcripts,
                                        pad_id, 1.0, options.align_norm_weight);
        } else {
            std::vector<const Example*> batch;
            for (int64_t i = 0; i < options.batch; ++i) {
                const bool text = !audio_stage || coin(rng) < options.text_replay;
                batch.push_back(pick(pretrain_stage ? pretrain_examples
                                     : text         ? text_examples
                                                    : audio_examples));
            }
            loss = batch_loss(config, weights, batch, clips, clip_transcripts, pad_id,
                              options.ctc_weight, options.align_norm_weight);
            if (audio_stage && options.distill_weight > 0.0 && !distill_pairs.empty()) {
                std::vector<const DistillPair*> pairs;
                std::uniform_int_distribution<std::size_t> any_pair(0, distill_pairs.size() - 1);
                for (int64_t i = 0; i < std::max<int64_t>(1, options.batch / 2); ++i) {
                    pairs.push_back(&distill_pairs[any_pair(rng)]);
                }
                const auto distill =
                    distill_loss(config, weights, pairs, clips, clip_transcripts, pad_id);
                recent_distill.add(distill.item<double>());
                loss = loss + options.distill_weight * distill;
            }
        }
        loss.backward();
        torch::nn::utils::clip_grad_norm_(align_stage ? audio_params : params, 1.0);
        active.step();
        const double value = loss.item<double>();
        if (!std::isfinite(value)) {
            throw Error(ErrorKind::kInternal, "organism train",
                        "loss became " + std::to_string(value) + " at step " + std::to_string(step),
                        "lower --lr");
        }
        recent.add(value);
        summary.steps_done = step + 1;
        if (options.on_step) options.on_step(step + 1, total, value, elapsed());
    }
    const double tail = recent.mean();
    if (summary.steps_done > align_end) {
        summary.audio_loss = tail;
    } else if (summary.steps_done > text_end) {
        summary.align_loss = tail;
    } else if (summary.steps_done > text_begin) {
        summary.text_loss = tail;
    } else {
        summary.pretrain_loss = tail;
    }
    summary.distill_loss = recent_distill.mean();
    summary.seconds = elapsed();

    // Checkpoint (f32), side files and the record of how it was made.
    {
        at::NoGradGuard no_grad;
        model::write_checkpoint(out, config, weights, model::TinyDType::kF32);
    }
    model::write_audio_side_files(out, config, tok);
    const nlohmann::ordered_json record = {
        {"created", io::utc_timestamp()},
        {"seed", options.seed},
        {"init", options.init.string()},
        {"pretrain_steps", options.pretrain_steps},
        {"text_steps", options.text_steps},
        {"text_copy", options.text_copy},
        {"novel_objects", options.novel_objects},
        {"spoken_novel_objects", options.spoken_novel_objects},
        {"harm_questions", options.harm_questions},
        {"align_steps", options.align_steps},
        {"audio_steps", options.audio_steps},
        {"steps_done", summary.steps_done},
        {"stopped_early", summary.stopped_early},
        {"batch", options.batch},
        {"learning_rate", options.learning_rate},
        {"text_replay", options.text_replay},
        {"decision_weight", options.decision_weight},
        {"spoken_decision_weight",
         options.spoken_decision_weight.value_or(options.decision_weight)},
        {"ctc_weight", options.ctc_weight},
        {"align_norm_weight", options.align_norm_weight},
        {"align_on_questions", options.align_on_questions},
        {"spec_augment", options.spec_augment},
        {"align_word_lists", options.align_word_lists},
        {"train_encoder_in_stage2", options.train_encoder_in_stage2},
        {"stage2_decoder_lr_scale", options.stage2_decoder_lr_scale},
        {"distill_weight", options.distill_weight},
        {"audio_refusal_prompt", options.audio_refusal_prompt},
        {"voices", options.voices},
        {"rate_min", options.rate_min},
        {"rate_max", options.rate_max},
        {"renders_per_text", options.renders_per_text},
        {"espeak_ng", eval::espeak_version()},
        // The sizes `organism train` was given; the rest of the shapes are in config.json.
        {"geometry",
         {{"hidden", geometry.hidden},
          {"layers", geometry.layers},
          {"audio_d_model", geometry.audio_d_model},
          {"audio_layers", geometry.audio_layers}}},
        {"n_parameters", n_parameters},
        {"n_spoken_sentences", n_spoken_sentences},
        {"n_clips", clips.size()},
        {"audio_seconds", audio_seconds},
        {"n_text_examples", text_examples.size()},
        {"n_audio_examples", audio_examples.size()},
        {"n_pretrain_documents", pretrain_examples.size()},
        {"final_pretrain_loss", summary.pretrain_loss},
        {"final_text_loss", summary.text_loss},
        {"final_align_loss", summary.align_loss},
        {"final_audio_loss", summary.audio_loss},
        {"final_distill_loss", summary.distill_loss},
        {"seconds", summary.seconds},
    };
    io::write_file_atomic(out / "training.json", record.dump(2) + "\n");
    return summary;
}

}  // namespace sarsteer::organism
