#include "model/make_tiny.h"

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "model/load.h"
#include "model/tensor_io.h"
#include "sarsteer/audio.h"
#include "sarsteer/error.h"
#include "sarsteer/tokenizer.h"
#include "text/tiny_tokenizer.h"

namespace sarsteer::model {

ModelConfig tiny_config(int64_t n_token_ids, int64_t audio_token_id, int64_t endoftext_id,
                        int64_t im_end_id) {
    ModelConfig c;
    c.model_type = ModelType::kQwen2Audio;
    c.torch_dtype = "float32";
    c.audio_token_index = audio_token_id;
    AudioConfig a;
    a.num_mel_bins = 128;
    a.encoder_layers = 2;
    a.encoder_attention_heads = 4;
    a.encoder_ffn_dim = 64;
    a.d_model = 32;
    a.max_source_positions = 1500;
    c.audio = a;
    TextConfig& t = c.text;
    // Round the embedding up past the tokenizer's ids, as Qwen2-Audio's 156032 rows exceed its
    // 151649 ids: generated ids without a token string must be handled.
    t.vocab_size = (n_token_ids + 127) / 128 * 128 + 128;
    t.hidden_size = 64;
    t.intermediate_size = 128;
    t.num_hidden_layers = 4;
    t.num_attention_heads = 4;
    t.num_key_value_heads = 2;
    t.head_dim = 16;
    t.max_position_embeddings = 8192;
    t.rms_norm_eps = 1e-6;
    t.rope_theta = 10000.0;
    t.bos_token_id = endoftext_id;
    t.eos_token_id = im_end_id;
    t.sliding_window = 32768;
    return c;
}

void set_qwen2_0_5b_geometry(TextConfig& t) {
    t.hidden_size = 896;
    t.intermediate_size = 4864;
    t.num_hidden_layers = 24;
    t.num_attention_heads = 14;
    t.num_key_value_heads = 2;
    t.head_dim = 64;
    t.max_position_embeddings = 32768;
    t.rms_norm_eps = 1e-6;
    t.rope_theta = 1000000.0;
    t.tie_word_embeddings = true;
    t.max_window_layers = 24;
}

TinyParts write_tiny_tokenizer_and_config(const std::filesystem::path& dir) {
    const auto n_ids = text::write_tiny_tokenizer(dir, text::default_tiny_corpus());
    auto tokenizer = Tokenizer::load(dir);
    auto config = tiny_config(n_ids, tokenizer.required_token_id(tokens::kAudio),
                              tokenizer.required_token_id(tokens::kEndOfText),
                              tokenizer.required_token_id(tokens::kImEnd));
    return {std::move(config), std::move(tokenizer)};
}

ModelConfig make_tiny(const std::filesystem::path& dir, const TinyOptions& options) {
    auto [config, tokenizer] = write_tiny_tokenizer_and_config(dir);
    if (options.text_only) {
        config.model_type = ModelType::kQwen2;
        config.audio.reset();
    }
    write_random_checkpoint(dir, config, options.seed, options.dtype);
    if (options.text_only) return ModelConfig::load(dir);
    write_audio_side_files(dir, config, tokenizer);
    return ModelConfig::load(dir);
}

void write_audio_side_files(const std::filesystem::path& dir, const ModelConfig& config,
                            const Tokenizer& tokenizer) {
    const auto endoftext = tokenizer.required_token_id(tokens::kEndOfText);
    const auto im_end = tokenizer.required_token_id(tokens::kImEnd);
    // ref: Qwen2-Audio-7B-Instruct preprocessor_config.json (WhisperFeatureExtractor).
    const nlohmann::ordered_json preprocessor = {
        {"chunk_length", kWhisperChunkSeconds},
        {"feature_extractor_type", "WhisperFeatureExtractor"},
        {"feature_size", config.audio->num_mel_bins},
        {"hop_length", kWhisperHopLength},
        {"n_fft", kWhisperNFft},
        {"n_samples", kWhisperNSamples},
        {"nb_max_frames", kWhisperNFrames},
        {"padding_side", "right"},
        {"padding_value", 0.0},
        {"processor_class", "Qwen2AudioProcessor"},
        {"return_attention_mask", true},
        {"sampling_rate", kWhisperSampleRate},
    };
    io::write_file_atomic(dir / "preprocessor_config.json", preprocessor.dump(2) + "\n");
    // The real file's sampling defaults, with this tokenizer's ids.
    const nlohmann::ordered_json generation = {
        {"chat_format", "chatml"},
        {"do_sample", true},
        {"eos_token_id", {endoftext, im_end}},
        {"pad_token_id", endoftext},
        {"repetition_penalty", 1.1},
        {"temperature", 0.7},
        {"top_k", 20},
        {"top_p", 0.5},
    };
    io::write_file_atomic(dir / "generation_config.json", generation.dump(2) + "\n");
}

void write_random_checkpoint(const std::filesystem::path& dir, const ModelConfig& config,
                             uint64_t seed, TinyDType dtype) {
    write_checkpoint(dir, config, random_weights(config, seed), dtype);
}

void write_checkpoint(const std::filesystem::path& dir, const ModelConfig& config,
                      ModelWeights weights, TinyDType dtype) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(ErrorKind::kIo, dir.string(), "cannot create folder: " + ec.message());
    auto stored = config;
    const bool bf16 = dtype == TinyDType::kBF16;
    stored.torch_dtype = bf16 ? "bfloat16" : "float32";
    io::SafetensorsWriter writer;
    writer.set_metadata("format", "pt");
    for_each_tensor(stored, &weights, [&](const TensorSpec& spec) {
        const auto t = spec.slot->detach();
        add_tensor(writer, spec.name, bf16 ? t.to(at::kBFloat16) : t.to(at::kFloat));
    });
    writer.write(dir / "model.safetensors");
    io::write_file_atomic(dir / "config.json", stored.to_json().dump(2) + "\n");
}

}  // namespace sarsteer::model
