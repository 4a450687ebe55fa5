#include "steer/steer_hook.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "sarsteer/error.h"

namespace sarsteer::steer {
namespace {

int64_t parse_int(std::string_view text, const std::string& flag) {
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        throw Error(ErrorKind::kInvalidArgument, flag,
                    "not an integer: \"" + std::string(text) + "\"");
    }
    return value;
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto pos = text.find(sep, start);
        parts.push_back(text.substr(start, pos - start));
        if (pos == std::string::npos) return parts;
        start = pos + 1;
    }
}

}  // namespace

std::vector<int64_t> parse_layer_list(const std::string& text, int64_t n_layer) {
    std::set<int64_t> layers;
    for (const auto& part : split(text, ',')) {
        const auto dash = part.find('-');
        const auto first = parse_int(part.substr(0, dash), "--layers");
        const auto last =
            dash == std::string::npos ? first : parse_int(part.substr(dash + 1), "--layers");
        if (first < 0 || last >= n_layer || first > last) {
            throw Error(ErrorKind::kInvalidArgument, "--layers",
                        "\"" + part + "\" is not a range within 0-" + std::to_string(n_layer - 1));
        }
        for (auto l = first; l <= last; ++l) layers.insert(l);
    }
    return {layers.begin(), layers.end()};
}

std::vector<double> parse_beta_list(const std::string& text, int64_t n_layer) {
    std::vector<double> beta;
    for (const auto& part : split(text, ',')) {
        try {
            std::size_t used = 0;
            beta.push_back(std::stod(part, &used));
            if (used != part.size()) throw std::invalid_argument(part);
        } catch (const std::exception&) {
            throw Error(ErrorKind::kInvalidArgument, "--beta", "not a number: \"" + part + "\"");
        }
    }
    if (beta.size() != 1 && static_cast<int64_t>(beta.size()) != n_layer) {
        throw Error(ErrorKind::kInvalidArgument, "--beta",
                    "give one value or " + std::to_string(n_layer) + " (one per layer), got " +
                        std::to_string(beta.size()));
    }
    return beta;
}

SteerHook::SteerHook(at::Tensor directions, std::vector<double> alpha)
    : directions_(std::move(directions)), alpha_(std::move(alpha)) {
    if (alpha_.empty()) alpha_.push_back(0.0);
}

SteerHook SteerHook::from_file(const SteeringVectors& vectors, const SteerParams& params,
                               const at::TensorOptions& options) {
    const auto& source = params.use_raw ? vectors.v_raw : vectors.v;
    const auto n_layer = static_cast<int64_t>(source.size());
    auto table = at::stack(source);  // [L, D] float32
    auto scale = at::zeros({n_layer, 1}, at::kFloat);
    const auto layers = params.layers;
    for (int64_t l = 0; l < n_layer; ++l) {
        const bool on = layers.empty() || std::binary_search(layers.begin(), layers.end(), l);
        const double beta = params.beta.empty()       ? 1.0
                            : params.beta.size() == 1 ? params.beta[0]
                                                      : params.beta[static_cast<std::size_t>(l)];
        scale[l][0] = on ? beta : 0.0;
    }
    return SteerHook((table * scale).to(options), {params.alpha});
}

double SteerHook::alpha_for(int64_t seq) const {
    return alpha_.size() == 1 ? alpha_[0] : alpha_[static_cast<std::size_t>(seq)];
}

void SteerHook::on_layer_output(int64_t layer, at::Tensor& hidden, const model::ForwardInfo& info) {
    const auto direction = directions_[layer];
    for (int64_t b = 0; b < info.n_seq; ++b) {
        const double alpha = alpha_for(info.seq_index[static_cast<std::size_t>(b)]);
        // α = 0 must leave the output bit-identical, so such rows are not touched at all.
        if (alpha == 0.0) continue;
        hidden[b][info.last_index[static_cast<std::size_t>(b)]].add_(direction, alpha);
    }
}

}  // namespace sarsteer::steer
