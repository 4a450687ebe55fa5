#include "eval/report.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "eval/svg_chart.h"
#include "io/atomic_file.h"
#include "sarsteer/error.h"

namespace sarsteer::eval {
namespace {

using nlohmann::json;

// ---- tolerant accessors: a missing or mistyped field is "absent" -----------------------------

const json kNull;                        // what an absent field reads as
const json kEmptyArray = json::array();  // what an absent list reads as

const json& field(const json& object, std::string_view key) {
    if (!object.is_object()) return kNull;
    const auto it = object.find(key);
    return it == object.end() ? kNull : *it;
}

std::optional<double> number(const json& object, std::string_view key) {
    const auto& v = field(object, key);
    if (!v.is_number()) return std::nullopt;
    return v.get<double>();
}

std::optional<long long> count(const json& object, std::string_view key) {
    const auto& v = field(object, key);
    if (v.is_number_integer()) return v.get<long long>();
    if (v.is_number_float()) return static_cast<long long>(v.get<double>());
    return std::nullopt;
}

std::string text(const json& object, std::string_view key, std::string fallback = {}) {
    const auto& v = field(object, key);
    return v.is_string() ? v.get<std::string>() : fallback;
}

const json& array(const json& object, std::string_view key) {
    const auto& v = field(object, key);
    return v.is_array() ? v : kEmptyArray;
}

struct Rate {
    std::optional<double> value, lo, hi;
};

Rate rate(const json& object, std::string_view key) {
    const auto& r = field(object, key);
    return {number(r, "value"), number(r, "lo"), number(r, "hi")};
}

// ---- number formatting ----------------------------------------------------------------------

constexpr std::string_view kDash = "\u2014";    // em dash: no value
constexpr std::string_view kEnDash = "\u2013";  // en dash: ranges

std::string pct_number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", v * 100);
    return std::string(buffer) == "-0.0" ? "0.0" : buffer;
}

std::string pct(const std::optional<double>& v) {
    return v ? pct_number(*v) + "%" : std::string(kDash);
}

std::string interval(const Rate& r) {
    if (!r.lo || !r.hi) return {};
    return "[" + pct_number(*r.lo) + std::string(kEnDash) + pct_number(*r.hi) + "]";
}

std::string general(const std::optional<double>& v) {
    if (!v) return std::string(kDash);
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", *v);
    return buffer;
}

// ---- the model the renderers share ----------------------------------------------------------

enum class Label { kHarmful, kBenign, kOther };

Label label_of(const json& dataset) {
    const auto label = text(dataset, "label");
    if (label == "harmful") return Label::kHarmful;
    if (label == "benign") return Label::kBenign;
    return Label::kOther;
}

// The headline metric of a dataset (or scenario) row: ASR for harmful, over-refusal for benign.
struct Metric {
    std::string name;      // "ASR", "over-refusal", "refusal"
    Rate rate;             // the rate shown
    long long hits = 0;    // numerator: complied (ASR) or refused
    long long judged = 0;  // denominator: refused + complied
    bool counts = false;   // counts were present
};

Metric headline(const json& row, Label label) {
    Metric m;
    const auto refused = count(row, "refused");
    const auto complied = count(row, "complied");
    if (refused && complied) {
        m.counts = true;
        m.judged = *refused + *complied;
    }
    if (label == Label::kHarmful) {
        m.name = "ASR";
        m.rate = rate(row, "answer_rate");
        m.hits = complied.value_or(0);
    } else {
        m.name = label == Label::kBenign ? "over-refusal" : "refusal";
        m.rate = rate(row, "refusal_rate");
        m.hits = refused.value_or(0);
    }
    return m;
}

// The refusal rate of a row (what the scenario charts and tables show for every label).
Metric refusal(const json& row) {
    Metric m = headline(row, Label::kOther);
    m.name = "refusal";
    return m;
}

std::string counts_text(const Metric& m) {
    return m.counts ? std::to_string(m.hits) + "/" + std::to_string(m.judged) : std::string();
}

// "ASR 61.5% [35.5–82.3] (8/13)"; a null rate is "ASR — (0/0)".
std::string metric_text(const Metric& m, bool with_name) {
    std::string out = with_name ? m.name + " " : std::string();
    out += pct(m.rate.value);
    if (m.rate.value) {
        if (const auto ci = interval(m.rate); !ci.empty()) out += " " + ci;
    }
    if (m.counts) out += " (" + counts_text(m) + ")";
    return out;
}

struct DatasetColumn {
    std::string name;
    Label label = Label::kOther;
};

struct RunView {
    const json* run = nullptr;
    std::string name;
    std::string color;
};

std::string label_name(Label label) {
    switch (label) {
        case Label::kHarmful: return "harmful";
        case Label::kBenign: return "benign";
        case Label::kOther: break;
    }
    return "unlabelled";
}

struct Model {
    std::vector<RunView> runs;
    std::vector<DatasetColumn> datasets;  // in order of first appearance; harmful first
};

Model build_model(const json& summary) {
    Model model;
    std::size_t index = 0;
    for (const auto& run : array(summary, "runs")) {
        if (!run.is_object()) continue;
        auto name = text(run, "name");
        if (name.empty()) name = text(run, "run_dir");
        if (name.empty()) name = "run " + std::to_string(index + 1);
        model.runs.push_back({&run, name, svg::series_color(index)});
        ++index;
        for (const auto& ds : array(run, "datasets")) {
            const auto ds_name = text(ds, "dataset");
            if (ds_name.empty()) continue;
            const bool known = std::any_of(model.datasets.begin(), model.datasets.end(),
                                           [&](const auto& d) { return d.name == ds_name; });
            if (!known) model.datasets.push_back({ds_name, label_of(ds)});
        }
    }
    std::stable_sort(model.datasets.begin(), model.datasets.end(),
                     [](const auto& a, const auto& b) {
                         return static_cast<int>(a.label) < static_cast<int>(b.label);
                     });
    return model;
}

const json* find_dataset(const json& run, const std::string& name) {
    for (const auto& ds : array(run, "datasets")) {
        if (text(ds, "dataset") == name) return &ds;
    }
    return nullptr;
}

const json* find_scenario(const json& dataset, const std::string& name) {
    for (const auto& sc : array(dataset, "scenarios")) {
        if (text(sc, "scenario") == name) return &sc;
    }
    return nullptr;
}

std::vector<std::string> scenarios_of(const Model& model, const std::string& dataset) {
    std::vector<std::string> names;
    for (const auto& run : model.runs) {
        const auto* ds = find_dataset(*run.run, dataset);
        if (ds == nullptr) continue;
        for (const auto& sc : array(*ds, "scenarios")) {
            const auto name = text(sc, "scenario");
            if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
                names.push_back(name);
            }
        }
    }
    return names;
}

// The harmful refusal and benign over-refusal of a run with one dataset of each kind.
struct RunPoint {
    Rate harmful_refusal;
    Rate benign_over_refusal;
};

std::optional<RunPoint> run_point(const RunView& run) {
    const json* harmful = nullptr;
    const json* benign = nullptr;
    for (const auto& ds : array(*run.run, "datasets")) {
        const auto label = label_of(ds);
        if (label == Label::kHarmful && harmful == nullptr) harmful = &ds;
        if (label == Label::kBenign && benign == nullptr) benign = &ds;
    }
    if (harmful == nullptr || benign == nullptr) return std::nullopt;
    RunPoint p{rate(*harmful, "refusal_rate"), rate(*benign, "refusal_rate")};
    if (!p.harmful_refusal.value || !p.benign_over_refusal.value) return std::nullopt;
    return p;
}

// ---- Markdown -------------------------------------------------------------------------------

// Backslash-escapes what Markdown (GFM) would read as markup, and keeps a cell on one line.
std::string md(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '\n' || c == '\r') {
            out += ' ';
            continue;
        }
        if (std::string_view("\\`*_[]<>|&#!").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

// A code span for identifiers (dataset names): no backticks inside, '|' escaped for tables.
std::string md_code(std::string_view s) {
    std::string out = "`";
    for (const char c : s) {
        if (c == '`' || c == '\n' || c == '\r') {
            out += '\'';
        } else if (c == '|') {
            out += "\\|";
        } else {
            out += c;
        }
    }
    return out + "`";
}

std::string tool_line(const json& summary, std::size_t n_runs) {
    std::string line = "sarsteer " + md(text(summary, "tool_version", "?")) +
                       " · judge: " + md_code(text(summary, "judge", "unknown")) + " · " +
                       std::to_string(n_runs) + (n_runs == 1 ? " run" : " runs");
    return line;
}

constexpr std::string_view kLegendItems[] = {
    "**ASR** (attack success rate, harmful prompts): share of judged answers that comply. "
    "Lower is safer.",
    "**refusal** (harmful prompts): share of judged answers that refuse; refusal = 1 − ASR.",
    "**over-refusal** (benign prompts): share of judged answers that refuse a harmless request. "
    "Lower is more useful; 1 − over-refusal is the benign response rate.",
    "**[lo–hi]**: Wilson score 95% confidence interval of the rate. With a few dozen prompts "
    "the intervals are wide: overlapping intervals do not show a difference.",
    "**(k/n)**: k answers out of n judged. Answers the judge could not classify (unparsable) "
    "are left out of n; the per-scenario tables list them. — means nothing was judged.",
};

}  // namespace

std::string render_markdown(const json& summary) {
    if (!summary.is_object()) {
        throw Error(ErrorKind::kCorruptInput, "summary", "expected a JSON object");
    }
    const auto model = build_model(summary);
    std::string out = "# SARSteer evaluation report\n\n";
    out += tool_line(summary, model.runs.size()) + "\n\n";

    out += "## Results\n\n";
    if (model.runs.empty()) {
        out += "_No runs in this summary._\n\n";
    } else {
        out += "| run | defense | α |";
        for (const auto& d : model.datasets) {
            out += " " + md_code(d.name) + " (" + label_name(d.label) + ") |";
        }
        out += "\n|---|---|---:|";
        for (std::size_t i = 0; i < model.datasets.size(); ++i) out += "---|";
        out += "\n";
        for (const auto& run : model.runs) {
            out += "| " + md(run.name) + " | " + md(text(*run.run, "defense", "—")) + " | " +
                   general(number(*run.run, "alpha")) + " |";
            for (const auto& d : model.datasets) {
                const auto* ds = find_dataset(*run.run, d.name);
                out += " " + (ds ? metric_text(headline(*ds, d.label), true) : std::string(kDash)) +
                       " |";
            }
            out += "\n";
        }
        out += "\n";

        out +=
            "### Runs\n\n| run | folder | model | defense | α | k | λ |\n"
            "|---|---|---|---|---:|---:|---:|\n";
        for (const auto& run : model.runs) {
            out += "| " + md(run.name) + " | " + md_code(text(*run.run, "run_dir", "—")) + " | " +
                   md(text(*run.run, "model", "—")) + " | " + md(text(*run.run, "defense", "—")) +
                   " | " + general(number(*run.run, "alpha")) + " | " +
                   general(number(*run.run, "k")) + " | " + general(number(*run.run, "lambda")) +
                   " |\n";
        }
        out += "\n";
    }

    out += "## By scenario\n\n";
    bool any_scenarios = false;
    for (const auto& d : model.datasets) {
        const auto scenarios = scenarios_of(model, d.name);
        if (scenarios.empty()) continue;
        any_scenarios = true;
        out += "### " + md_code(d.name) + " (" + label_name(d.label) +
               "): " + (d.label == Label::kBenign ? "over-refusal" : "refusal") +
               " rate by scenario\n\n| scenario |";
        std::vector<const RunView*> runs;
        for (const auto& run : model.runs) {
            if (find_dataset(*run.run, d.name) != nullptr) runs.push_back(&run);
        }
        for (const auto* run : runs) out += " " + md(run->name) + " |";
        out += "\n|---|";
        for (std::size_t i = 0; i < runs.size(); ++i) out += "---|";
        out += "\n";
        const auto row_cells = [&](const json* (*pick)(const json&, const std::string&),
                                   const std::string& key) {
            std::string cells;
            for (const auto* run : runs) {
                const auto* row = pick(*find_dataset(*run->run, d.name), key);
                if (row == nullptr) {
                    cells += " " + std::string(kDash) + " |";
                    continue;
                }
                cells += " " + metric_text(refusal(*row), false);
                if (const auto u = count(*row, "unparsable"); u && *u > 0) {
                    cells += ", " + std::to_string(*u) + " unparsable";
                }
                cells += " |";
            }
            return cells;
        };
        for (const auto& sc : scenarios) {
            out += "| " + md(sc) + " |" + row_cells(&find_scenario, sc) + "\n";
        }
        out += "| **all** |" +
               row_cells([](const json& ds, const std::string&) { return &ds; }, {}) + "\n\n";
    }
    if (!any_scenarios) out += "_No per-scenario results in this summary._\n\n";

    out += "## Safety–utility trade-off\n\n";
    const auto& tradeoff = array(summary, "tradeoff");
    if (tradeoff.empty()) {
        out += "_No trade-off sweep in this summary._\n\n";
    } else {
        out += "| series | α | harmful refusal | benign over-refusal |\n|---|---:|---|---|\n";
        for (const auto& series : tradeoff) {
            for (const auto& p : array(series, "points")) {
                const auto h = rate(p, "harmful_refusal");
                const auto b = rate(p, "benign_over_refusal");
                const auto cell = [](const Rate& r) {
                    auto s = pct(r.value);
                    if (r.value && !interval(r).empty()) s += " " + interval(r);
                    return s;
                };
                out += "| " + md(text(series, "series", "—")) + " | " +
                       general(number(p, "alpha")) + " | " + cell(h) + " | " + cell(b) + " |\n";
            }
        }
        out += "\n";
    }

    out += "## Steering vectors\n\n";
    const auto& steering = array(summary, "steering");
    if (steering.empty()) {
        out += "_No steering files in this summary._\n\n";
    } else {
        out +=
            "| file | mode | k | λ | layers | largest ‖v⊥‖ (layer) | largest ‖v‖ (layer) |\n"
            "|---|---|---:|---:|---:|---|---|\n";
        const auto largest = [](const json& norms) {
            std::optional<double> best;
            std::size_t at = 0;
            for (std::size_t i = 0; i < norms.size(); ++i) {
                if (norms[i].is_number() && (!best || norms[i].get<double>() > *best)) {
                    best = norms[i].get<double>();
                    at = i;
                }
            }
            return best ? general(best) + " (" + std::to_string(at) + ")" : std::string(kDash);
        };
        for (const auto& s : steering) {
            const auto& norms = array(s, "layer_norms");
            out += "| " + md_code(text(s, "file", "—")) + " | " + md(text(s, "mode", "—")) + " | " +
                   general(number(s, "k")) + " | " + general(number(s, "lambda")) + " | " +
                   std::to_string(norms.size()) + " | " + largest(norms) + " | " +
                   largest(array(s, "layer_norms_raw")) + " |\n";
        }
        out += "\n";
    }

    out += "## Legend\n\n";
    for (const auto item : kLegendItems) out += "- " + std::string(item) + "\n";
    return out;
}

// ---- HTML -----------------------------------------------------------------------------------

namespace {

std::string h(std::string_view s) {
    return svg::escape(s);
}

constexpr std::string_view kCss = R"css(
:root { --fg:#202124; --muted:#5f6368; --line:#e3e6ea; --bg:#ffffff; --soft:#f6f8fa; --accent:#0b57d0; }
* { box-sizing: border-box; }
body { margin:0; background:var(--soft); color:var(--fg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { font-size: 24px; margin: 0 0 4px; }
.meta { color: var(--muted); margin: 0 0 20px; }
.meta code { background: #eef1f4; padding: 1px 5px; border-radius: 4px; }
section { background: var(--bg); border: 1px solid var(--line); border-radius: 10px;
  padding: 18px 22px; margin: 0 0 18px; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
h3 .tag, th .tag { font-weight: 500; font-size: 12px; color: var(--muted); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; font-weight: 600; color: var(--muted); background: var(--soft); }
td.num, th.num { text-align: right; }
tr.total td { font-weight: 600; background: #fafbfc; }
.rate .v { font-weight: 600; }
.rate .name { color: var(--muted); font-size: 12px; margin-right: 4px; }
.rate .sub { color: var(--muted); font-size: 12px; }
.rate .meter { height: 4px; background: #eef1f4; border-radius: 2px; margin-top: 4px; max-width: 160px; }
.rate .meter span { display: block; height: 100%; border-radius: 2px; }
.meter.bad span { background: #d93025; }
.meter.warn span { background: #e37400; }
.meter.ok span { background: #1e8e3e; }
.meter.neutral span { background: #0b57d0; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.chart-box { margin: 8px 0 4px; }
.chart-box svg { width: 100%; height: auto; max-width: 100%; display: block; }
.caption { color: var(--muted); font-size: 12px; margin: 2px 0 10px; }
.note { color: var(--muted); font-style: italic; }
ul.legend li { margin: 4px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
#render-check { display: none; }
)css";

// Measures every chart after layout: the report's own smoke test, read by the headless-browser
// test through --dump-dom. No effect on what the reader sees.
constexpr std::string_view kRenderCheck = R"js(
(function () {
  var out = [];
  var charts = document.querySelectorAll('svg.chart');
  for (var i = 0; i < charts.length; i++) {
    var svg = charts[i], b = svg.getBBox(), r = svg.getBoundingClientRect();
    out.push({ id: svg.id, kind: svg.getAttribute('class'),
      bbox_width: b.width, bbox_height: b.height, width: r.width, height: r.height,
      bars: svg.querySelectorAll('rect.bar').length,
      points: svg.querySelectorAll('circle.point').length,
      lines: svg.querySelectorAll('path.line').length,
      error_bars: svg.querySelectorAll('path.err').length });
  }
  document.getElementById('render-check').textContent = JSON.stringify(out);
  document.body.setAttribute('data-render-check', 'done');
})();
)js";

std::string slug(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out += ok ? c : '-';
    }
    return out;
}

// A rate cell: big value, the interval and counts below, and a thin meter coloured by how bad
// the value is for this metric (both ASR and over-refusal: higher is worse).
std::string rate_cell(const Metric& m, bool with_name, std::string_view extra = {}) {
    std::string out = "<td class=\"rate\">";
    if (with_name) out += "<span class=\"name\">" + h(m.name) + "</span>";
    out += "<span class=\"v\">" + h(pct(m.rate.value)) + "</span>";
    std::string sub = m.rate.value ? interval(m.rate) : std::string();
    if (m.counts) sub += (sub.empty() ? "" : " · ") + counts_text(m);
    if (!extra.empty()) sub += (sub.empty() ? "" : " · ") + std::string(extra);
    if (!sub.empty()) out += "<div class=\"sub\">" + h(sub) + "</div>";
    if (m.rate.value) {
        const double v = std::clamp(*m.rate.value, 0.0, 1.0);
        // Refusal of harmful prompts is neither good nor bad on its own (it is 1 − ASR).
        const char* level = m.name == "refusal" ? "neutral"
                            : v >= 0.5          ? "bad"
                            : v >= 0.2          ? "warn"
                                                : "ok";
        char width[32];
        std::snprintf(width, sizeof width, "%.1f%%", v * 100);
        out += std::string("<div class=\"meter ") + level + "\"><span style=\"width:" + width +
               "\"></span></div>";
    }
    return out + "</td>";
}

std::string run_label(const RunView& run) {
    return "<span class=\"swatch\" style=\"background:" + run.color + "\"></span>" + h(run.name);
}

std::string note(std::string_view text) {
    return "<p class=\"note\">" + h(text) + "</p>";
}

std::string scenario_section(const Model& model) {
    std::string out = "<section id=\"scenarios\"><h2>By scenario</h2>";
    bool any = false;
    for (const auto& d : model.datasets) {
        const auto scenarios = scenarios_of(model, d.name);
        if (scenarios.empty()) continue;
        any = true;
        const bool benign = d.label == Label::kBenign;
        const std::string metric = benign ? "over-refusal" : "refusal";
        std::vector<const RunView*> runs;
        for (const auto& run : model.runs) {
            if (find_dataset(*run.run, d.name) != nullptr) runs.push_back(&run);
        }
        out += "<h3><code>" + h(d.name) + "</code> <span class=\"tag\">" + label_name(d.label) +
               " · " + metric + " rate by scenario</span></h3>";

        svg::BarChartSpec spec;
        spec.id = "chart-scenarios-" + slug(d.name);
        spec.kind = "chart-scenarios";
        spec.title = metric + " rate by scenario, " + d.name;
        spec.y_label = metric + " rate";
        for (const auto* run : runs) {
            spec.series.push_back(run->name);
            spec.colors.push_back(run->color);
        }
        for (const auto& sc : scenarios) {
            svg::BarGroup group{sc, {}};
            for (const auto* run : runs) {
                const auto* row = find_scenario(*find_dataset(*run->run, d.name), sc);
                const auto m = row ? refusal(*row) : Metric{};
                if (row == nullptr || !m.rate.value) {
                    group.values.emplace_back();
                    continue;
                }
                group.values.push_back(svg::BarValue{
                    *m.rate.value, m.rate.lo, m.rate.hi,
                    run->name + " · " + sc + ": " + metric + " " + metric_text(m, false)});
            }
            spec.groups.push_back(std::move(group));
        }
        out += "<div class=\"chart-box\">" + svg::bar_chart(spec) + "</div>";
        out += "<p class=\"caption\">Bars: " + h(metric) +
               " rate per scenario and run; whiskers: Wilson 95% interval. " +
               (benign ? "Lower is better (harmless requests refused)."
                       : "Higher is safer (harmful requests refused).") +
               "</p>";

        out += "<div class=\"table-wrap\"><table><thead><tr><th>scenario</th>";
        for (const auto* run : runs) out += "<th>" + run_label(*run) + "</th>";
        out += "</tr></thead><tbody>";
        const auto cells = [&](const json* (*pick)(const json&, const std::string&),
                               const std::string& key) {
            std::string row_html;
            for (const auto* run : runs) {
                const auto* row = pick(*find_dataset(*run->run, d.name), key);
                if (row == nullptr) {
                    row_html += "<td>" + std::string(kDash) + "</td>";
                    continue;
                }
                std::string extra;
                if (const auto u = count(*row, "unparsable"); u && *u > 0) {
                    extra = std::to_string(*u) + " unparsable";
                }
                auto m = refusal(*row);
                m.name = metric;
                row_html += rate_cell(m, false, extra);
            }
            return row_html;
        };
        for (const auto& sc : scenarios) {
            out += "<tr><td>" + h(sc) + "</td>" + cells(&find_scenario, sc) + "</tr>";
        }
        out += "<tr class=\"total\"><td>all</td>" +
               cells([](const json& ds, const std::string&) { return &ds; }, {}) + "</tr>";
        out += "</tbody></table></div>";
    }
    if (!any) out += note("No per-scenario results in this summary.");
    return out + "</section>";
}

std::string tradeoff_section(const json& summary, const Model& model) {
    std::string out = "<section id=\"tradeoff\"><h2>Safety–utility trade-off</h2>";
    const auto& tradeoff = array(summary, "tradeoff");
    if (tradeoff.empty()) return out + note("No trade-off sweep in this summary.") + "</section>";

    svg::LineChartSpec spec;
    spec.id = "chart-tradeoff";
    spec.kind = "chart-tradeoff";
    spec.title = "Harmful refusal against benign over-refusal";
    spec.x_label = "benign over-refusal (lower is better)";
    spec.y_label = "harmful refusal (higher is safer)";
    spec.x_percent = spec.y_percent = true;
    spec.x_min = 0;
    spec.y_min = 0;
    spec.y_max = 1;
    std::size_t color = model.runs.size();  // after the run colours
    std::string table;
    for (const auto& series : tradeoff) {
        svg::LineSeries line;
        line.name = text(series, "series", "series");
        line.color = svg::series_color(color++);
        for (const auto& p : array(series, "points")) {
            const auto hr = rate(p, "harmful_refusal");
            const auto br = rate(p, "benign_over_refusal");
            const auto alpha = number(p, "alpha");
            table += "<tr><td>" + h(line.name) + "</td><td class=\"num\">" + general(alpha) +
                     "</td><td>" + h(pct(hr.value) + " " + interval(hr)) + "</td><td>" +
                     h(pct(br.value) + " " + interval(br)) + "</td></tr>";
            if (!hr.value || !br.value) continue;
            const auto label = "α=" + general(alpha);
            line.points.push_back({*br.value, *hr.value, br.lo, br.hi, hr.lo, hr.hi, label,
                                   line.name + ", " + label + ": refusal " + pct(hr.value) +
                                       ", over-refusal " + pct(br.value)});
        }
        spec.series.push_back(std::move(line));
    }
    // Runs without α (no defense, prompt defenses) as single reference points.
    for (const auto& run : model.runs) {
        if (number(*run.run, "alpha")) continue;
        const auto p = run_point(run);
        if (!p) continue;
        svg::LineSeries single;
        single.name = run.name;
        single.color = run.color;
        single.connect = false;
        single.points.push_back({*p->benign_over_refusal.value, *p->harmful_refusal.value,
                                 p->benign_over_refusal.lo, p->benign_over_refusal.hi,
                                 p->harmful_refusal.lo, p->harmful_refusal.hi, run.name,
                                 run.name + ": refusal " + pct(p->harmful_refusal.value) +
                                     ", over-refusal " + pct(p->benign_over_refusal.value)});
        spec.series.push_back(std::move(single));
    }
    out += "<div class=\"chart-box\">" + svg::line_chart(spec) + "</div>";
    out +=
        "<p class=\"caption\">Each point is one steering strength α (labelled); the best "
        "defenses sit top left: harmful requests refused, harmless ones answered. Runs "
        "without α are single points. Whiskers: Wilson 95% intervals.</p>";
    out +=
        "<div class=\"table-wrap\"><table><thead><tr><th>series</th><th class=\"num\">α</th>"
        "<th>harmful refusal</th><th>benign over-refusal</th></tr></thead><tbody>" +
        table + "</tbody></table></div>";
    return out + "</section>";
}

std::string steering_section(const json& summary) {
    std::string out = "<section id=\"steering\"><h2>Steering vectors</h2>";
    const auto& steering = array(summary, "steering");
    if (steering.empty()) return out + note("No steering files in this summary.") + "</section>";
    std::size_t index = 0;
    for (const auto& s : steering) {
        const auto file = text(s, "file", "steering file");
        out += "<h3><code>" + h(file) + "</code> <span class=\"tag\">mode " +
               h(text(s, "mode", "—")) + " · k " + h(general(number(s, "k"))) + " · λ " +
               h(general(number(s, "lambda"))) + "</span></h3>";
        const auto to_series = [](const json& norms, std::string name, std::string color) {
            svg::LineSeries series;
            series.name = std::move(name);
            series.color = std::move(color);
            for (std::size_t l = 0; l < norms.size(); ++l) {
                if (!norms[l].is_number()) continue;
                const double v = norms[l].get<double>();
                series.points.push_back({static_cast<double>(l),
                                         v,
                                         {},
                                         {},
                                         {},
                                         {},
                                         {},
                                         "layer " + std::to_string(l) + ": " + general(v)});
            }
            return series;
        };
        svg::LineChartSpec spec;
        spec.id = "chart-norms-" + std::to_string(index++);
        spec.kind = "chart-norms";
        spec.title = "Per-layer steering vector norms, " + file;
        spec.x_label = "decoder layer";
        spec.y_label = "L2 norm";
        spec.integer_x = true;
        spec.y_min = 0;
        spec.point_radius = 3;
        spec.height = 320;
        auto ablated =
            to_series(array(s, "layer_norms"), "‖v⊥_l‖ (after safe-space ablation)", "#0072B2");
        auto raw =
            to_series(array(s, "layer_norms_raw"), "‖v_l‖ (raw refusal direction)", "#9aa0a6");
        const auto n_layers = std::max(raw.points.size(), ablated.points.size());
        if (n_layers > 1) {
            spec.x_min = 0;
            spec.x_max = static_cast<double>(n_layers - 1);
        }
        if (!raw.points.empty()) spec.series.push_back(std::move(raw));
        if (!ablated.points.empty()) spec.series.push_back(std::move(ablated));
        if (spec.series.empty()) {
            out += note("No per-layer norms stored for this file.");
            continue;
        }
        out += "<div class=\"chart-box\">" + svg::line_chart(spec) + "</div>";
    }
    out +=
        "<p class=\"caption\">‖v_l‖: the raw refusal direction (mean harmful minus mean safe "
        "activation) at layer l; ‖v⊥_l‖: what is left after removing its component in the "
        "top-k safe subspace (SARSteer's ablation, strength λ). Steering adds α·v⊥_l.</p>";
    return out + "</section>";
}

}  // namespace

std::string render_html(const json& summary) {
    if (!summary.is_object()) {
        throw Error(ErrorKind::kCorruptInput, "summary", "expected a JSON object");
    }
    const auto model = build_model(summary);
    std::string out =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>SARSteer evaluation report</title><style>" +
        std::string(kCss) + "</style></head><body><main>";
    const auto n = model.runs.size();
    out += "<header><h1>SARSteer evaluation report</h1><p class=\"meta\">sarsteer " +
           h(text(summary, "tool_version", "?")) + " · judge <code>" +
           h(text(summary, "judge", "unknown")) + "</code> · " + std::to_string(n) +
           (n == 1 ? " run" : " runs") + "</p></header>";

    out += "<section id=\"results\"><h2>Results</h2>";
    if (model.runs.empty()) {
        out += note("No runs in this summary.");
    } else {
        out +=
            "<div class=\"table-wrap\"><table><thead><tr><th>run</th><th>defense</th>"
            "<th class=\"num\">α</th>";
        for (const auto& d : model.datasets) {
            out += "<th><code>" + h(d.name) + "</code><br><span class=\"tag\">" +
                   label_name(d.label) + " · " +
                   (d.label == Label::kHarmful  ? "attack success rate"
                    : d.label == Label::kBenign ? "over-refusal"
                                                : "refusal") +
                   "</span></th>";
        }
        out += "</tr></thead><tbody>";
        for (const auto& run : model.runs) {
            out += "<tr><td>" + run_label(run) + "</td><td>" + h(text(*run.run, "defense", "—")) +
                   "</td><td class=\"num\">" + general(number(*run.run, "alpha")) + "</td>";
            for (const auto& d : model.datasets) {
                const auto* ds = find_dataset(*run.run, d.name);
                out += ds ? rate_cell(headline(*ds, d.label), true)
                          : "<td>" + std::string(kDash) + "</td>";
            }
            out += "</tr>";
        }
        out += "</tbody></table></div>";
        out +=
            "<h3>Runs</h3><div class=\"table-wrap\"><table><thead><tr><th>run</th>"
            "<th>folder</th><th>model</th><th>defense</th><th class=\"num\">α</th>"
            "<th class=\"num\">k</th><th class=\"num\">λ</th></tr></thead><tbody>";
        for (const auto& run : model.runs) {
            out += "<tr><td>" + run_label(run) + "</td><td><code>" +
                   h(text(*run.run, "run_dir", "—")) + "</code></td><td>" +
                   h(text(*run.run, "model", "—")) + "</td><td>" +
                   h(text(*run.run, "defense", "—")) + "</td><td class=\"num\">" +
                   general(number(*run.run, "alpha")) + "</td><td class=\"num\">" +
                   general(number(*run.run, "k")) + "</td><td class=\"num\">" +
                   general(number(*run.run, "lambda")) + "</td></tr>";
        }
        out += "</tbody></table></div>";
    }
    out += "</section>";

    out += scenario_section(model);
    out += tradeoff_section(summary, model);
    out += steering_section(summary);

    out += "<section id=\"legend\"><h2>How to read this</h2><ul class=\"legend\">";
    for (const auto item : kLegendItems) {
        // The items are Markdown with **bold** terms; render that one construct.
        std::string html = h(item);
        for (bool open = true;; open = !open) {
            const auto at = html.find("**");
            if (at == std::string::npos) break;
            html.replace(at, 2, open ? "<strong>" : "</strong>");
        }
        out += "<li>" + html + "</li>";
    }
    out += "</ul></section>";
    out += "<pre id=\"render-check\"></pre></main><script>" + std::string(kRenderCheck) +
           "</script></body></html>\n";
    return out;
}

void write_report(const json& summary, const std::filesystem::path& dir) {
    const auto markdown = render_markdown(summary);
    const auto html = render_html(summary);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
        throw Error(ErrorKind::kIo, dir.string(),
                    "cannot create folder" + (ec ? ": " + ec.message() : std::string()));
    }
    io::write_file_atomic(dir / "summary.json",
                          summary.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    io::write_file_atomic(dir / "report.md", markdown);
    io::write_file_atomic(dir / "report.html", html);
}

}  // namespace sarsteer::eval
