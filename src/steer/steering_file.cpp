#include "steer/steering_file.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "model/tensor_io.h"
#include "sarsteer/error.h"

namespace sarsteer::steer {
namespace {

using nlohmann::json;

// The four per-layer tensor families, in the order they are checked and written.
enum class Family { kV, kVRaw, kSafeBasis, kSafeMean };
constexpr std::array<Family, 4> kFamilies = {Family::kV, Family::kVRaw, Family::kSafeBasis,
                                             Family::kSafeMean};

std::string_view family_prefix(Family family) {
    switch (family) {
        case Family::kV: return "v";
        case Family::kVRaw: return "v_raw";
        case Family::kSafeBasis: return "safe_basis";
        case Family::kSafeMean: return "safe_mean";
    }
    return "";
}

std::string tensor_name(Family family, int64_t layer) {
    return std::string(family_prefix(family)) + "." + std::to_string(layer);
}

struct ParsedName {
    Family family;
    int64_t layer;
};

// "<prefix>.<layer>" with a canonical decimal layer (no sign, no leading zeros).
std::optional<ParsedName> parse_name(std::string_view name) {
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const auto prefix = name.substr(0, dot);
    const auto digits = name.substr(dot + 1);
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    int64_t layer = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        layer = layer * 10 + (c - '0');
    }
    for (const auto family : kFamilies) {
        if (prefix == family_prefix(family)) return ParsedName{family, layer};
    }
    return std::nullopt;
}

std::string shape_string(at::IntArrayRef shape) {
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

bool is_hex64(const std::string& text) {
    if (text.size() != 64) return false;
    for (const char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::vector<at::Tensor>& family_tensors(SteeringVectors& s, Family family) {
    switch (family) {
        case Family::kV: return s.v;
        case Family::kVRaw: return s.v_raw;
        case Family::kSafeBasis: return s.safe_basis;
        case Family::kSafeMean: return s.safe_mean;
    }
    throw std::logic_error("unknown tensor family");
}

// Checks the metadata's values (not their JSON types); `kind` distinguishes a bad file from a
// bad argument to save().
void check_metadata(const SteeringMetadata& m, ErrorKind kind, const std::string& subject) {
    const auto fail = [&](const std::string& problem) {
        throw Error(kind, subject, "steering metadata: " + problem);
    };
    if (m.model.model_type.empty()) fail("model.model_type is empty");
    if (m.model.n_layer < 1) fail("model.n_layer must be positive");
    if (m.model.hidden_size < 1) fail("model.hidden_size must be positive");
    if (!is_hex64(m.model.config_sha256)) {
        fail("model.config_sha256 must be 64 lowercase hex digits, got \"" + m.model.config_sha256 +
             "\"");
    }
    if (m.mode != "sarsteer" && m.mode != "llm") {
        fail("mode must be \"sarsteer\" or \"llm\", got \"" + m.mode + "\"");
    }
    if (!std::isfinite(m.alpha)) fail("alpha must be a finite number");
    if (!std::isfinite(m.lambda)) fail("lambda must be a finite number");
    if (m.k < 0) fail("k must not be negative");
    if (m.n_harmful < 0) fail("n_harmful must not be negative");
    if (m.n_safe < 0) fail("n_safe must not be negative");
}

// Checks the tensors against each other and the metadata: what load() guarantees and save()
// refuses to break. Tensors must already be float32.
void check_tensors(const SteeringVectors& s, ErrorKind kind, const std::string& subject) {
    const auto fail = [&](const std::string& problem, const std::string& hint = {}) {
        throw Error(kind, subject, problem, hint);
    };
    const auto n_layer = s.metadata.model.n_layer;
    const auto d = s.metadata.model.hidden_size;
    const auto layers = static_cast<std::size_t>(n_layer);
    const auto count = [&](const char* what, std::size_t n) {
        if (n != layers) {
            fail(std::string(what) + " has " + std::to_string(n) +
                 " layers, but the metadata says " + std::to_string(n_layer));
        }
    };
    count("v", s.v.size());
    count("v_raw", s.v_raw.size());
    if (!s.safe_basis.empty() || !s.safe_mean.empty()) {
        count("safe_basis", s.safe_basis.size());
        count("safe_mean", s.safe_mean.size());
    }
    const auto check = [&](Family family, int64_t layer, const at::Tensor& t,
                           std::vector<int64_t> expected, const char* why) {
        const auto name = tensor_name(family, layer);
        if (!t.defined()) fail("tensor \"" + name + "\" is undefined");
        if (t.sizes() != at::IntArrayRef(expected)) {
            fail("tensor \"" + name + "\" has shape " + shape_string(t.sizes()) + ", expected " +
                 shape_string(expected) + " (" + why + ")");
        }
        if (t.scalar_type() != at::kFloat) fail("tensor \"" + name + "\" is not float32");
        if (!at::isfinite(t).all().item<bool>()) {
            fail("tensor \"" + name + "\" contains NaN or infinite values");
        }
    };
    for (int64_t l = 0; l < n_layer; ++l) {
        const auto i = static_cast<std::size_t>(l);
        check(Family::kV, l, s.v[i], {d}, "hidden_size");
        check(Family::kVRaw, l, s.v_raw[i], {d}, "hidden_size");
        if (s.safe_basis.empty()) continue;
        check(Family::kSafeBasis, l, s.safe_basis[i], {d, s.metadata.k}, "hidden_size × k");
        check(Family::kSafeMean, l, s.safe_mean[i], {d}, "hidden_size");
    }
}

// Removes torch_dtype from every object, so that a bf16 and an f32 copy of one model share a
// fingerprint.
void strip_torch_dtype(json& value) {
    if (!value.is_object()) return;
    value.erase("torch_dtype");
    for (auto& [key, child] : value.items()) strip_torch_dtype(child);
}

}  // namespace

ModelFingerprint ModelFingerprint::of(const model::ModelConfig& config) {
    json canonical = config.to_json();
    strip_torch_dtype(canonical);
    ModelFingerprint out;
    out.model_type = std::string(model::model_type_name(config.model_type));
    out.n_layer = config.text.num_hidden_layers;
    out.hidden_size = config.text.hidden_size;
    out.config_sha256 = io::sha256_hex(canonical.dump());
    return out;
}

std::string ModelFingerprint::describe() const {
    return model_type + ", " + std::to_string(n_layer) + " layers, hidden " +
           std::to_string(hidden_size) + ", config " + config_sha256.substr(0, 8) + "…";
}

json metadata_to_json(const SteeringMetadata& m) {
    return {
        {"model",
         {{"model_type", m.model.model_type},
          {"n_layer", m.model.n_layer},
          {"hidden_size", m.model.hidden_size},
          {"config_sha256", m.model.config_sha256}}},
        {"mode", m.mode},
        {"alpha", m.alpha},
        {"k", m.k},
        {"lambda", m.lambda},
        {"instruction", m.instruction},
        {"refusal_prompt", m.refusal_prompt},
        {"n_harmful", m.n_harmful},
        {"n_safe", m.n_safe},
        {"harmful_manifest_sha256", m.harmful_manifest_sha256},
        {"safe_manifest_sha256", m.safe_manifest_sha256},
        {"tool_version", m.tool_version},
        {"created", m.created},
    };
}

SteeringMetadata metadata_from_json(const json& j, const std::string& subject) {
    // Field errors from json_file name the key; prefix them so the user knows which JSON it was.
    try {
        if (!j.is_object()) {
            throw Error(ErrorKind::kCorruptInput, subject, "must be a JSON object");
        }
        const auto it = j.find("model");
        if (it == j.end() || !it->is_object()) {
            throw Error(ErrorKind::kCorruptInput, subject, "field \"model\" must be an object");
        }
        using io::required_field;
        SteeringMetadata m;
        m.model.model_type = required_field<std::string>(*it, "model_type", subject);
        m.model.n_layer = required_field<int64_t>(*it, "n_layer", subject);
        m.model.hidden_size = required_field<int64_t>(*it, "hidden_size", subject);
        m.model.config_sha256 = required_field<std::string>(*it, "config_sha256", subject);
        m.mode = required_field<std::string>(j, "mode", subject);
        m.alpha = required_field<double>(j, "alpha", subject);
        m.k = required_field<int64_t>(j, "k", subject);
        m.lambda = required_field<double>(j, "lambda", subject);
        m.instruction = required_field<std::string>(j, "instruction", subject);
        m.refusal_prompt = required_field<std::string>(j, "refusal_prompt", subject);
        m.n_harmful = required_field<int64_t>(j, "n_harmful", subject);
        m.n_safe = required_field<int64_t>(j, "n_safe", subject);
        m.harmful_manifest_sha256 =
            required_field<std::string>(j, "harmful_manifest_sha256", subject);
        m.safe_manifest_sha256 = required_field<std::string>(j, "safe_manifest_sha256", subject);
        m.tool_version = required_field<std::string>(j, "tool_version", subject);
        m.created = required_field<std::string>(j, "created", subject);
        check_metadata(m, ErrorKind::kCorruptInput, subject);
        return m;
    } catch (const Error& e) {
        if (e.problem().starts_with("steering metadata: ")) throw;
        throw Error(e.kind(), e.subject(), "steering metadata: " + e.problem(), e.hint());
    }
}

void SteeringVectors::save(const std::filesystem::path& path) const {
    const auto subject = path.string();
    check_metadata(metadata, ErrorKind::kInvalidArgument, subject);
    // Convert first so that the checks see what will be written.
    SteeringVectors f32{metadata, {}, {}, {}, {}};
    const auto convert = [](const std::vector<at::Tensor>& in, std::vector<at::Tensor>& out) {
        for (const auto& t : in) out.push_back(t.defined() ? t.to(at::kCPU, at::kFloat) : t);
    };
    convert(v, f32.v);
    convert(v_raw, f32.v_raw);
    convert(safe_basis, f32.safe_basis);
    convert(safe_mean, f32.safe_mean);
    check_tensors(f32, ErrorKind::kInvalidArgument, subject);

    std::string metadata_text;
    try {
        metadata_text = metadata_to_json(metadata).dump();
    } catch (const json::exception& e) {  // strings that are not UTF-8
        throw Error(ErrorKind::kInvalidArgument, subject,
                    std::string("steering metadata cannot be stored: ") + e.what());
    }
    io::SafetensorsWriter writer;
    writer.set_metadata(kMetadataKey, std::move(metadata_text));
    const auto add_family = [&](Family family, const std::vector<at::Tensor>& tensors) {
        for (std::size_t l = 0; l < tensors.size(); ++l) {
            model::add_tensor(writer, tensor_name(family, static_cast<int64_t>(l)), tensors[l]);
        }
    };
    add_family(Family::kV, f32.v);
    add_family(Family::kVRaw, f32.v_raw);
    add_family(Family::kSafeBasis, f32.safe_basis);
    add_family(Family::kSafeMean, f32.safe_mean);
    writer.write(path);
}

SteeringVectors SteeringVectors::load(const std::filesystem::path& path) {
    const auto subject = path.string();
    const auto file = io::SafetensorsFile::open(path);
    const auto meta = file.metadata().find(kMetadataKey);
    if (meta == file.metadata().end()) {
        throw Error(ErrorKind::kCorruptInput, subject,
                    "not a steering file: __metadata__ has no \"sarsteer\" entry",
                    "steering files are written by `sarsteer steer extract`");
    }
    SteeringVectors out;
    json meta_json;
    try {
        meta_json = io::parse_json(meta->second, subject);
    } catch (const Error& e) {
        throw Error(e.kind(), subject, "steering metadata: " + e.problem());
    }
    out.metadata = metadata_from_json(meta_json, subject);
    const auto n_layer = out.metadata.model.n_layer;

    // Sort every tensor into its family and layer; anything else is refused rather than ignored.
    std::array<std::map<int64_t, const io::TensorView*>, kFamilies.size()> found;
    for (const auto& view : file.tensors()) {
        const auto parsed = parse_name(view.name);
        if (!parsed) {
            throw Error(ErrorKind::kCorruptInput, subject,
                        "unexpected tensor \"" + view.name + "\"",
                        "a steering file holds only v.<l>, v_raw.<l>, safe_basis.<l> and "
                        "safe_mean.<l>");
        }
        if (parsed->layer >= n_layer) {
            throw Error(ErrorKind::kCorruptInput, subject,
                        "tensor \"" + view.name + "\" is beyond the metadata's " +
                            std::to_string(n_layer) + " layers");
        }
        found[static_cast<std::size_t>(parsed->family)][parsed->layer] = &view;
    }
    const auto& safe_basis_found = found[static_cast<std::size_t>(Family::kSafeBasis)];
    const auto& safe_mean_found = found[static_cast<std::size_t>(Family::kSafeMean)];
    const bool has_safe = !safe_basis_found.empty() || !safe_mean_found.empty();

    for (const auto family : kFamilies) {
        const bool safe = family == Family::kSafeBasis || family == Family::kSafeMean;
        if (safe && !has_safe) continue;
        const auto& views = found[static_cast<std::size_t>(family)];
        auto& tensors = family_tensors(out, family);
        // The loop stops at the first gap, so a huge claimed n_layer cannot run long.
        for (int64_t l = 0; l < n_layer; ++l) {
            const auto it = views.find(l);
            if (it == views.end()) {
                throw Error(ErrorKind::kCorruptInput, subject,
                            "missing tensor \"" + tensor_name(family, l) +
                                "\" (the metadata says " + std::to_string(n_layer) + " layers)",
                            safe ? "safe_basis and safe_mean must be present for every layer or "
                                   "for none"
                                 : "");
            }
            const auto& view = *it->second;
            if (view.dtype != io::DType::kF32 && view.dtype != io::DType::kF16 &&
                view.dtype != io::DType::kBF16) {
                throw Error(ErrorKind::kCorruptInput, subject,
                            "tensor \"" + view.name + "\" has dtype " +
                                std::string(io::dtype_name(view.dtype)) + ", expected F32");
            }
            // An owned float32 copy: the mapping is released when `file` goes.
            tensors.push_back(model::tensor_from_view(view).to(at::kFloat, false, true));
        }
    }
    check_tensors(out, ErrorKind::kCorruptInput, subject);
    return out;
}

void SteeringVectors::check_matches(const ModelFingerprint& model,
                                    const std::filesystem::path& path) const {
    if (metadata.model == model) return;
    auto problem = "steering vectors were extracted from " + metadata.model.describe() +
                   ", but the model is " + model.describe();
    // Same geometry and hash prefix: show the full hashes so the difference is visible.
    if (metadata.model.describe() == model.describe()) {
        problem += " (config " + metadata.model.config_sha256 + " vs " + model.config_sha256 + ")";
    }
    throw Error(ErrorKind::kInvalidArgument, path.string(), problem,
                "steering vectors only fit the model they were extracted from; extract them "
                "again for this model with `sarsteer steer extract`");
}

}  // namespace sarsteer::steer
