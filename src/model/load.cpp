#include "model/load.h"

#include <ATen/CPUGeneratorImpl.h>

#include <set>

#include "model/tensor_io.h"
#include "sarsteer/error.h"

namespace sarsteer::model {
namespace {

std::string shape_string(c10::IntArrayRef shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_norm_weight(std::string_view name) {
    return ends_with(name, "norm.weight") || ends_with(name, "layernorm.weight");
}

}  // namespace

ModelWeights load_weights(const ModelConfig& config, const io::Checkpoint& checkpoint,
                          const LoadOptions& options) {
    ModelWeights weights;
    std::set<std::string, std::less<>> expected;
    const auto subject = checkpoint.path().string();
    for_each_tensor(config, &weights, [&](const TensorSpec& spec) {
        expected.insert(spec.name);
        const auto* view = checkpoint.find(spec.name);
        if (view == nullptr) {
            throw Error(ErrorKind::kCorruptInput, subject, "missing tensor \"" + spec.name + "\"",
                        "is this a " + std::string(model_type_name(config.model_type)) +
                            " checkpoint matching its config.json?");
        }
        if (view->shape != spec.shape) {
            throw Error(ErrorKind::kCorruptInput, subject,
                        "tensor \"" + spec.name + "\" has shape " + shape_string(view->shape) +
                            ", config.json implies " + shape_string(spec.shape));
        }
        if (view->dtype != io::DType::kF32 && view->dtype != io::DType::kF16 &&
            view->dtype != io::DType::kBF16) {
            throw Error(ErrorKind::kCorruptInput, subject,
                        "tensor \"" + spec.name + "\" has dtype " +
                            std::string(io::dtype_name(view->dtype)) + ", expected a float type");
        }
        // A no-op for F32 weights computed in f32 on the CPU: they stay views of the mapping.
        *spec.slot = tensor_from_view(*view).to(options.device, options.dtype);
    });
    for (const auto& name : checkpoint.names()) {
        if (expected.contains(name) || ends_with(name, "rotary_emb.inv_freq")) continue;
        if (config.text.tie_word_embeddings && ends_with(name, "lm_head.weight")) continue;
        throw Error(ErrorKind::kCorruptInput, subject, "unexpected tensor \"" + name + "\"",
                    "the checkpoint does not match its config.json");
    }
    if (config.text.tie_word_embeddings) weights.decoder.lm_head = weights.decoder.embed_tokens;
    return weights;
}

ModelWeights random_weights(const ModelConfig& config, uint64_t seed, c10::ScalarType dtype) {
    ModelWeights weights;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    for_each_tensor(config, &weights, [&](const TensorSpec& spec) {
        at::Tensor t;
        t = at::normal(0.0, 0.02, spec.shape, generator);
        if (is_norm_weight(spec.name)) t += 1.0;
        *spec.slot = t.to(dtype);
    });
    if (config.text.tie_word_embeddings) weights.decoder.lm_head = weights.decoder.embed_tokens;
    return weights;
}

}  // namespace sarsteer::model
