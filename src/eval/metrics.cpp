#include "eval/metrics.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

#include "eval/run_store.h"
#include "sarsteer/error.h"
#include "sarsteer/version.h"
#include "steer/steering_file.h"

namespace sarsteer::eval {
namespace {

namespace fs = std::filesystem;

nlohmann::json rate_json(const std::optional<Rate>& rate) {
    if (!rate) return nullptr;
    return {{"value", rate->value}, {"lo", rate->lo}, {"hi", rate->hi}};
}

// Counts of every item with a given label, pooled over a run's datasets.
Counts pooled(const nlohmann::json& run, const std::string& label) {
    Counts c;
    for (const auto& d : run.at("datasets")) {
        if (d.at("label") != label) continue;
        c.n += d.at("n").get<int64_t>();
        c.refused += d.at("refused").get<int64_t>();
        c.complied += d.at("complied").get<int64_t>();
        c.unparsable += d.at("unparsable").get<int64_t>();
    }
    return c;
}

std::string format_number(double value) {
    std::ostringstream s;
    s << value;
    return s.str();
}

nlohmann::json layer_norms(const std::vector<at::Tensor>& vectors) {
    std::vector<double> norms;
    norms.reserve(vectors.size());
    for (const auto& v : vectors) norms.push_back(v.to(at::kDouble).norm().item<double>());
    return norms;
}

}  // namespace

std::optional<Rate> wilson_rate(int64_t successes, int64_t n, double z) {
    if (successes < 0 || successes > n) {
        throw std::invalid_argument("wilson_rate: successes must lie in [0, n]");
    }
    if (n == 0) return std::nullopt;
    const double nn = static_cast<double>(n);
    const double p = static_cast<double>(successes) / nn;
    const double z2 = z * z;
    const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
    // Clamp the rounding error at the ends (k = 0 gives lo = 0 exactly in exact arithmetic).
    return Rate{p, std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

void Counts::add(Verdict verdict) {
    ++n;
    switch (verdict) {
        case Verdict::kRefused: ++refused; break;
        case Verdict::kComplied: ++complied; break;
        case Verdict::kUnparsable: ++unparsable; break;
    }
}

nlohmann::json counts_json(const Counts& c) {
    return {{"n", c.n},
            {"refused", c.refused},
            {"complied", c.complied},
            {"unparsable", c.unparsable},
            {"refusal_rate", rate_json(wilson_rate(c.refused, c.judged()))},
            {"answer_rate", rate_json(wilson_rate(c.complied, c.judged()))}};
}

nlohmann::json dataset_metrics(std::span<const JudgedItem> items) {
    struct Group {
        std::string dataset, label;
        Counts all;
        std::vector<std::pair<std::string, Counts>> scenarios;  // first-seen order
    };
    std::vector<Group> groups;
    for (const auto& item : items) {
        auto group = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
            return g.dataset == item.dataset && g.label == item.label;
        });
        if (group == groups.end()) {
            groups.push_back({item.dataset, item.label, {}, {}});
            group = std::prev(groups.end());
        }
        group->all.add(item.verdict);
        auto scenario = std::find_if(group->scenarios.begin(), group->scenarios.end(),
                                     [&](const auto& s) { return s.first == item.scenario; });
        if (scenario == group->scenarios.end()) {
            group->scenarios.emplace_back(item.scenario, Counts{});
            scenario = std::prev(group->scenarios.end());
        }
        scenario->second.add(item.verdict);
    }
    auto out = nlohmann::json::array();
    for (const auto& g : groups) {
        auto entry = counts_json(g.all);
        entry["dataset"] = g.dataset;
        entry["label"] = g.label;
        auto scenarios = nlohmann::json::array();
        for (const auto& [name, counts] : g.scenarios) {
            auto s = counts_json(counts);
            s["scenario"] = name;
            scenarios.push_back(std::move(s));
        }
        entry["scenarios"] = std::move(scenarios);
        out.push_back(std::move(entry));
    }
    return out;
}

nlohmann::json summarize_run(const fs::path& run_dir, const std::string& judge) {
    const auto config = read_run_config(run_dir);
    const auto responses = read_responses(run_dir / "responses.jsonl");
    const auto verdicts = read_judgments(run_dir, judge);
    std::vector<JudgedItem> items;
    items.reserve(responses.size());
    for (const auto& r : responses) {
        const auto found = verdicts.find({r.dataset, r.id});
        if (found == verdicts.end()) {
            throw Error(ErrorKind::kInvalidArgument, judgments_path(run_dir, judge).string(),
                        "has no verdict for " + r.dataset + "/" + r.id,
                        "judge the run again: `sarsteer judge --run " + run_dir.string() +
                            " --judge " + judge + "`");
        }
        items.push_back({r.dataset, r.label, r.scenario, found->second});
    }
    const auto& identity = config.at("identity");
    const auto& defense = identity.at("defense");
    nlohmann::json run = {
        {"run_dir", run_dir.string()},
        {"name", config.value("name", run_dir.filename().string())},
        {"defense", defense.at("name")},
        {"alpha", defense.value("alpha", nlohmann::json(nullptr))},
        {"k", defense.value("k", nlohmann::json(nullptr))},
        {"lambda", defense.value("lambda", nlohmann::json(nullptr))},
        {"modality", identity.value("modality", "audio")},
        {"model", config.value("model_name", std::string{})},
        {"judge", judge},
        {"datasets", dataset_metrics(items)},
    };
    if (config.contains("steer_file")) run["steer_file"] = config.at("steer_file");
    return run;
}

nlohmann::json build_summary(std::span<const fs::path> run_dirs, const std::string& judge) {
    if (run_dirs.empty()) {
        throw Error(ErrorKind::kInvalidArgument, "report", "no run folders given");
    }
    nlohmann::json summary = {{"tool_version", kVersion}, {"judge", judge}};
    auto runs = nlohmann::json::array();
    for (const auto& dir : run_dirs) runs.push_back(summarize_run(dir, judge));

    // Trade-off: one series per steering setting, one point per α; a "none" run of the same
    // modality is every series' α = 0 point (steering with α = 0 is exactly no defense).
    std::map<std::string, nlohmann::json> series;
    std::vector<std::string> order;
    auto point_of = [](const nlohmann::json& run, double alpha) {
        return nlohmann::json{
            {"alpha", alpha},
            {"run_dir", run.at("run_dir")},
            {"harmful_refusal", counts_json(pooled(run, "harmful")).at("refusal_rate")},
            {"benign_over_refusal", counts_json(pooled(run, "benign")).at("refusal_rate")}};
    };
    for (const auto& run : runs) {
        if (run.at("alpha").is_null()) continue;
        std::string key = run.at("defense").get<std::string>();
        if (!run.at("k").is_null()) key += " k=" + format_number(run.at("k").get<double>());
        if (!run.at("lambda").is_null()) {
            key += " λ=" + format_number(run.at("lambda").get<double>());
        }
        if (run.at("modality") != "audio")
            key += " (" + run.at("modality").get<std::string>() + ")";
        if (!series.contains(key)) {
            order.push_back(key);
            series[key] = {{"series", key},
                           {"modality", run.at("modality")},
                           {"points", nlohmann::json::array()}};
        }
        series[key]["points"].push_back(point_of(run, run.at("alpha").get<double>()));
    }
    auto tradeoff = nlohmann::json::array();
    for (const auto& key : order) {
        auto s = series[key];
        for (const auto& run : runs) {
            if (run.at("defense") == "none" && run.at("modality") == s.at("modality")) {
                s["points"].push_back(point_of(run, 0.0));
                break;
            }
        }
        auto& points = s["points"];
        std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
            return a.at("alpha").template get<double>() < b.at("alpha").template get<double>();
        });
        tradeoff.push_back(std::move(s));
    }

    // Per-layer norms of every distinct steering file the runs used.
    auto steering = nlohmann::json::array();
    std::vector<std::string> seen;
    for (const auto& run : runs) {
        if (!run.contains("steer_file")) continue;
        const auto file = run.at("steer_file").get<std::string>();
        if (std::find(seen.begin(), seen.end(), file) != seen.end()) continue;
        seen.push_back(file);
        if (!fs::exists(file)) continue;  // moved since the run: the report still renders
        const auto vectors = steer::SteeringVectors::load(file);
        steering.push_back({{"file", file},
                            {"mode", vectors.metadata.mode},
                            {"k", vectors.metadata.k},
                            {"lambda", vectors.metadata.lambda},
                            {"layer_norms", layer_norms(vectors.v)},
                            {"layer_norms_raw", layer_norms(vectors.v_raw)}});
    }
    summary["runs"] = std::move(runs);
    summary["tradeoff"] = std::move(tradeoff);
    summary["steering"] = std::move(steering);
    return summary;
}

}  // namespace sarsteer::eval
