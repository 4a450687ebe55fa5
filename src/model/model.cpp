#include "model/model.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <thread>

#include "io/safetensors.h"
#include "model/load.h"
#include "model/ops.h"
#include "sarsteer/error.h"

namespace sarsteer::model {

void configure_cpu_threads(int threads) {
    // Activations of a batch are megabytes each and freed after every op. With glibc's dynamic
    // defaults such blocks go back to the kernel (munmap, heap trim) and every reuse page-faults
    // the memory in again: a batch of 8 prefills ran 2-4x slower than 8 single ones. Keeping
    // freed memory in the heap makes batching pay (bench/README.md, bench_eval).
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks below it come from the heap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   // give freed heap back only past 1 GiB
    const int n =
        threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(1);
    // Looked up at run time: a LibTorch built on MKL instead of OpenBLAS has no such symbol.
    using SetThreads = void (*)(int);
    if (auto* set_blas_threads =
            reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
        set_blas_threads(n);
    } else {
        at::set_num_threads(n);
    }
}

c10::Device parse_device(const std::string& device) {
    try {
        return c10::Device(device);
    } catch (const c10::Error&) {
        throw Error(ErrorKind::kInvalidArgument, "--device", "unknown device \"" + device + "\"",
                    "use cpu, cuda or cuda:N");
    }
}

c10::ScalarType parse_compute_dtype(const std::string& dtype) {
    if (dtype == "f32" || dtype == "float32") return at::kFloat;
    if (dtype == "bf16" || dtype == "bfloat16") return at::kBFloat16;
    if (dtype == "f16" || dtype == "float16") return at::kHalf;
    throw Error(ErrorKind::kInvalidArgument, "--dtype", "unknown dtype \"" + dtype + "\"",
                "use f32, bf16 or f16");
}

std::shared_ptr<const Model> Model::load(const ModelOptions& options) {
    const auto device = parse_device(options.device);
    const auto dtype = parse_compute_dtype(options.dtype);
    if (device.is_cuda() && !at::hasCUDA()) {
        throw Error(ErrorKind::kUnsupported, "--device", "this LibTorch build has no CUDA support",
                    "build sarsteer against a CUDA-enabled LibTorch, or use --device cpu");
    }
    auto config = ModelConfig::load(options.path);
    auto tokenizer = Tokenizer::load(options.path);
    auto generation = GenerationConfig::load_or_default(options.path);
    auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(options.path));
    auto weights = load_weights(config, *checkpoint, {device, dtype});
    return std::shared_ptr<const Model>(new Model(options.path, std::move(config),
                                                  std::move(weights), std::move(tokenizer),
                                                  std::move(generation), std::move(checkpoint)));
}

Model::Model(std::filesystem::path path, ModelConfig config, ModelWeights weights,
             Tokenizer tokenizer, GenerationConfig generation,
             std::shared_ptr<const void> keep_alive)
    : path_(std::move(path)),
      config_(std::move(config)),
      weights_(std::move(weights)),
      tokenizer_(std::move(tokenizer)),
      generation_(std::move(generation)),
      keep_alive_(std::move(keep_alive)) {}

std::shared_ptr<const Model> Model::from_parts(ModelConfig config, ModelWeights weights,
                                               Tokenizer tokenizer, GenerationConfig generation) {
    return std::shared_ptr<const Model>(new Model({}, std::move(config), std::move(weights),
                                                  std::move(tokenizer), std::move(generation),
                                                  nullptr));
}

at::Tensor Model::embed_tokens(std::span<const int32_t> ids) const {
    const auto n_vocab = config_.text.vocab_size;
    for (auto id : ids) {
        if (id < 0 || id >= n_vocab) {
            throw Error(ErrorKind::kInvalidArgument, path_.string(),
                        "token id " + std::to_string(id) + " is outside the embedding (" +
                            std::to_string(n_vocab) + " rows)");
        }
    }
    const auto index = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()),
                                  at::TensorOptions().dtype(at::kLong))
                           .to(options().device());
    return weights_.decoder.embed_tokens.index_select(0, index);
}

at::Tensor Model::logits(const at::Tensor& hidden) const {
    return ops::linear(hidden, weights_.decoder.lm_head).to(at::kFloat);
}

}  // namespace sarsteer::model
