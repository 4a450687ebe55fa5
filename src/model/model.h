// An immutable, loaded model: config, weights on the compute device, tokenizer and generation
// defaults. Loaded once and shared (const) by any number of sessions; all methods are const and
// may be called from several threads as long as each thread uses its own Session.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include <ATen/core/Tensor.h>

#include "model/config.h"
#include "model/generation_config.h"
#include "model/weights.h"
#include "sarsteer/tokenizer.h"

namespace sarsteer::model {

struct ModelOptions {
    std::filesystem::path path;  // Hugging Face checkpoint folder
    std::string device = "cpu";  // "cpu", "cuda", "cuda:1" (CUDA needs a CUDA-enabled LibTorch)
    std::string dtype = "f32";   // compute dtype: "f32", "bf16", "f16"
};

// CPU threads: OpenBLAS (which runs the matmuls) gets `threads` (0: all cores) and LibTorch's
// OpenMP pool one, because the two pools oversubscribe the cores when both are wide
// (bench/bench_runtime: omp 2 x blas 2 prefills at 0.39x and decodes at 0.79x of omp 1 x blas 2).
// Also keeps freed activation memory in glibc's heap (mallopt), so that reusing it does not
// page-fault it in again (batched prefill: 2-4x faster). Process-wide; call once at start-up.
void configure_cpu_threads(int threads);

c10::Device parse_device(const std::string& device);  // throws Error(kInvalidArgument)
c10::ScalarType parse_compute_dtype(const std::string& dtype);

class Model {
public:
    // Stages: config.json -> tokenizer -> tensor table check -> tensors. Throws Error naming the
    // offending file.
    static std::shared_ptr<const Model> load(const ModelOptions& options);
    // For tests: a model from weights in memory.
    static std::shared_ptr<const Model> from_parts(ModelConfig config, ModelWeights weights,
                                                   Tokenizer tokenizer,
                                                   GenerationConfig generation = {});

    const ModelConfig& config() const { return config_; }
    const ModelWeights& weights() const { return weights_; }
    const Tokenizer& tokenizer() const { return tokenizer_; }
    const GenerationConfig& generation_config() const { return generation_; }
    const std::filesystem::path& path() const { return path_; }
    at::TensorOptions options() const { return weights_.decoder.embed_tokens.options(); }
    int64_t n_layer() const { return config_.text.num_hidden_layers; }
    int64_t n_embd() const { return config_.text.hidden_size; }

    // Token embeddings [T, D] of `ids` (ids outside the embedding are an Error).
    at::Tensor embed_tokens(std::span<const int32_t> ids) const;
    // Logits [..., V] of final-norm hidden states [..., D], in float32.
    at::Tensor logits(const at::Tensor& hidden) const;

private:
    Model(std::filesystem::path path, ModelConfig config, ModelWeights weights, Tokenizer tokenizer,
          GenerationConfig generation, std::shared_ptr<const void> keep_alive);

    std::filesystem::path path_;
    ModelConfig config_;
    ModelWeights weights_;
    Tokenizer tokenizer_;
    GenerationConfig generation_;
    std::shared_ptr<const void> keep_alive_;  // the mapped checkpoint behind zero-copy weights
};

}  // namespace sarsteer::model
