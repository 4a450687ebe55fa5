// sarsteer steer inspect: what a steering file holds, layer by layer, and which model it fits.
#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/steer_commands.h"
#include "model/config.h"
#include "steer/steering_file.h"

namespace sarsteer::cli {
namespace {

struct InspectFlags {
    std::string file;
    std::string model;
    bool json = false;
};

struct LayerStats {
    double v_raw_norm = 0;
    double v_norm = 0;
    std::optional<double> cos;         // undefined when either vector is zero
    std::optional<double> safe_share;  // ‖U_kᵀ v_raw‖² / ‖v_raw‖²; needs a safe basis
};

// In float64: the shares of a tiny ablation should not drown in rounding.
LayerStats layer_stats(const steer::SteeringVectors& s, std::size_t l) {
    const auto v_raw = s.v_raw[l].to(at::kDouble);
    const auto v = s.v[l].to(at::kDouble);
    LayerStats out;
    out.v_raw_norm = v_raw.norm().item<double>();
    out.v_norm = v.norm().item<double>();
    if (out.v_raw_norm > 0 && out.v_norm > 0) {
        out.cos = at::dot(v_raw, v).item<double>() / (out.v_raw_norm * out.v_norm);
    }
    if (!s.safe_basis.empty() && out.v_raw_norm > 0) {
        const auto projected = at::matmul(s.safe_basis[l].to(at::kDouble).t(), v_raw);
        out.safe_share =
            projected.square().sum().item<double>() / (out.v_raw_norm * out.v_raw_norm);
    }
    return out;
}

nlohmann::json optional_json(const std::optional<double>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::string optional_text(const std::optional<double>& value) {
    if (!value) return "-";
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << *value;
    return out.str();
}

void run_inspect(const InspectFlags& flags) {
    const auto s = steer::SteeringVectors::load(flags.file);
    // Only config.json is read: the fingerprint needs no weights.
    if (!flags.model.empty()) {
        s.check_matches(steer::ModelFingerprint::of(model::ModelConfig::load(flags.model)),
                        flags.file);
    }
    std::vector<LayerStats> stats;
    for (std::size_t l = 0; l < s.v.size(); ++l) stats.push_back(layer_stats(s, l));

    const auto& m = s.metadata;
    if (flags.json) {
        nlohmann::json out = {
            {"file", flags.file},
            {"metadata", steer::metadata_to_json(m)},
            {"safe_space", !s.safe_basis.empty()},
            {"layers", nlohmann::json::array()},
        };
        for (std::size_t l = 0; l < stats.size(); ++l) {
            out["layers"].push_back({{"layer", l},
                                     {"v_raw_norm", stats[l].v_raw_norm},
                                     {"v_norm", stats[l].v_norm},
                                     {"cos", optional_json(stats[l].cos)},
                                     {"safe_share", optional_json(stats[l].safe_share)}});
        }
        if (!flags.model.empty()) out["model"] = {{"path", flags.model}, {"matches", true}};
        std::cout << out.dump() << '\n';
        return;
    }
    const auto quoted = [](const std::string& text) { return nlohmann::json(text).dump(); };
    std::cout << flags.file << ": steering vectors, mode " << m.mode << '\n'
              << "model: " << m.model.describe() << '\n';
    if (!flags.model.empty()) std::cout << "fits " << flags.model << ": fingerprint matches\n";
    std::cout << "alpha " << m.alpha << ", k " << m.k << ", lambda " << m.lambda
              << (s.safe_basis.empty() ? ", no safe space stored" : "") << '\n'
              << "instruction: " << quoted(m.instruction) << '\n'
              << "refusal prompt: " << quoted(m.refusal_prompt) << '\n'
              << "harmful: " << m.n_harmful << " samples (manifest sha256 "
              << (m.harmful_manifest_sha256.empty() ? "-" : m.harmful_manifest_sha256) << ")\n"
              << "safe: " << m.n_safe << " samples (manifest sha256 "
              << (m.safe_manifest_sha256.empty() ? "-" : m.safe_manifest_sha256) << ")\n"
              << "created " << (m.created.empty() ? "-" : m.created) << " by sarsteer "
              << (m.tool_version.empty() ? "-" : m.tool_version) << '\n';
    std::cout << "layer     |v_raw|         |v|  cos(v_raw,v)  safe share\n";
    for (std::size_t l = 0; l < stats.size(); ++l) {
        std::cout << std::setw(5) << l << std::scientific << std::setprecision(4) << std::setw(12)
                  << stats[l].v_raw_norm << std::setw(12) << stats[l].v_norm << std::setw(14)
                  << optional_text(stats[l].cos) << std::setw(12)
                  << optional_text(stats[l].safe_share) << '\n'
                  << std::defaultfloat;
    }
}

}  // namespace

void add_steer_inspect_command(CLI::App& steer) {
    auto flags = std::make_shared<InspectFlags>();
    auto* cmd = steer.add_subcommand(
        "inspect", "Summarise a steering file: metadata, per-layer norms and safe-space shares");
    cmd->add_option("FILE", flags->file, "Steering file (.safetensors)")->required();
    cmd->add_option("--model", flags->model,
                    "Checkpoint folder whose config.json the file must fit (weights not read)");
    cmd->add_flag("--json", flags->json, "Print a JSON object");
    cmd->callback([flags] { run_inspect(*flags); });
}

}  // namespace sarsteer::cli
