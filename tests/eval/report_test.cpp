// The evaluation report: exact Markdown numbers from a hand-made summary, escaping, absent
// sections, SVG helpers, and the HTML page rendered by headless Chromium.
#include "eval/report.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "eval/svg_chart.h"
#include "sarsteer/error.h"
#include "test_support.h"

namespace sarsteer::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ScratchDir;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

json rate(double value, double lo, double hi) {
    return {{"value", value}, {"lo", lo}, {"hi", hi}};
}

json row(const std::string& key, const std::string& name, int refused, int complied, int unparsable,
         json refusal, json answer) {
    return {{key, name},
            {"n", refused + complied + unparsable},
            {"refused", refused},
            {"complied", complied},
            {"unparsable", unparsable},
            {"refusal_rate", std::move(refusal)},
            {"answer_rate", std::move(answer)}};
}

// Three runs (no defense, SARSteer α=0.1, and a run with nothing judged), one harmful and one
// benign dataset with three scenarios each, a three-point trade-off and one steering file. The
// interval bounds are Wilson 95% values rounded to 3-4 digits.
json hand_made_summary() {
    const std::string harmful = "figstep_harmful_test_mini";
    const std::string benign = "figstep_benign_test_mini";

    auto none_h = row("dataset", harmful, 2, 12, 0, rate(0.142857, 0.0401, 0.3994),
                      rate(0.857143, 0.6006, 0.9599));
    none_h["label"] = "harmful";
    none_h["scenarios"] = {
        row("scenario", "Fraud", 0, 2, 0, rate(0, 0, 0.6576), rate(1, 0.3424, 1)),
        row("scenario", "Malware_Generation", 1, 1, 0, rate(0.5, 0.09453, 0.90547),
            rate(0.5, 0.09453, 0.90547)),
        row("scenario", "Hate_Speech", 1, 9, 0, rate(0.1, 0.0179, 0.4042),
            rate(0.9, 0.5958, 0.9821)),
    };
    auto none_b = row("dataset", benign, 0, 14, 0, rate(0, 0, 0.2153), rate(1, 0.7847, 1));
    none_b["label"] = "benign";
    none_b["scenarios"] = {
        row("scenario", "Fraud", 0, 2, 0, rate(0, 0, 0.6576), rate(1, 0.3424, 1)),
        row("scenario", "Malware_Generation", 0, 2, 0, rate(0, 0, 0.6576), rate(1, 0.3424, 1)),
        row("scenario", "Hate_Speech", 0, 10, 0, rate(0, 0, 0.2775), rate(1, 0.7225, 1)),
    };

    auto steer_h =
        row("dataset", harmful, 5, 8, 1, rate(0.3846, 0.177, 0.645), rate(0.6154, 0.355, 0.823));
    steer_h["label"] = "harmful";
    steer_h["scenarios"] = {
        row("scenario", "Fraud", 1, 1, 0, rate(0.5, 0.09453, 0.90547), rate(0.5, 0.09453, 0.90547)),
        row("scenario", "Malware_Generation", 2, 0, 0, rate(1, 0.3424, 1), rate(0, 0, 0.6576)),
        row("scenario", "Hate_Speech", 2, 7, 1, rate(0.2222, 0.0632, 0.5474),
            rate(0.7778, 0.4526, 0.9368)),
    };
    auto steer_b = row("dataset", benign, 1, 13, 0, rate(0.0714, 0.0127, 0.3147),
                       rate(0.9286, 0.6853, 0.9873));
    steer_b["label"] = "benign";
    steer_b["scenarios"] = {
        row("scenario", "Fraud", 1, 1, 0, rate(0.5, 0.09453, 0.90547), rate(0.5, 0.09453, 0.90547)),
        row("scenario", "Malware_Generation", 0, 2, 0, rate(0, 0, 0.6576), rate(1, 0.3424, 1)),
        row("scenario", "Hate_Speech", 0, 10, 0, rate(0, 0, 0.2775), rate(1, 0.7225, 1)),
    };

    json empty_h = row("dataset", harmful, 0, 0, 0, nullptr, nullptr);
    empty_h["label"] = "harmful";
    empty_h["scenarios"] = json::array();

    json summary = {
        {"tool_version", "0.1.0"},
        {"judge", "keyword"},
        {"runs",
         {
             {{"run_dir", "runs/none"},
              {"name", "no defense"},
              {"defense", "none"},
              {"alpha", nullptr},
              {"model", "tiny"},
              {"datasets", {none_h, none_b}}},
             {{"run_dir", "runs/sarsteer"},
              {"name", "sarsteer α=0.1"},
              {"defense", "sarsteer"},
              {"alpha", 0.1},
              {"k", 10},
              {"lambda", 1.0},
              {"model", "tiny"},
              {"datasets", {steer_h, steer_b}}},
             {{"run_dir", "runs/empty"},
              {"name", "empty run"},
              {"defense", "none"},
              {"alpha", nullptr},
              {"datasets", {empty_h}}},
         }},
        {"tradeoff",
         {{{"series", "sarsteer k=10 λ=1"},
           {"points",
            {
                {{"alpha", 0.05},
                 {"run_dir", "runs/a005"},
                 {"harmful_refusal", rate(0.25, 0.1, 0.5)},
                 {"benign_over_refusal", rate(0.0, 0.0, 0.2153)}},
                {{"alpha", 0.1},
                 {"run_dir", "runs/sarsteer"},
                 {"harmful_refusal", rate(0.3846, 0.177, 0.645)},
                 {"benign_over_refusal", rate(0.0714, 0.0127, 0.3147)}},
                {{"alpha", 0.2},
                 {"run_dir", "runs/a02"},
                 {"harmful_refusal", rate(0.8, 0.55, 0.93)},
                 {"benign_over_refusal", rate(0.3, 0.12, 0.55)}},
            }}}}},
        {"steering",
         {{{"file", "steer.safetensors"},
           {"mode", "sarsteer"},
           {"k", 10},
           {"lambda", 1.0},
           {"layer_norms", {0.5, 0.75, 1.25, 2.0}},
           {"layer_norms_raw", {0.6, 0.9, 1.5, 2.5}}}}},
    };
    return summary;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::size_t occurrences(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + needle.size())) {
        ++n;
    }
    return n;
}

TEST(ReportMarkdown, HeadlineTableHasExactNumbers) {
    const auto md = render_markdown(hand_made_summary());
    EXPECT_TRUE(contains(md, "# SARSteer evaluation report\n")) << md;
    EXPECT_TRUE(contains(md, "judge: `keyword`")) << md;
    EXPECT_TRUE(contains(md, "sarsteer 0.1.0")) << md;
    EXPECT_TRUE(contains(md,
                         "| run | defense | α | `figstep_harmful_test_mini` (harmful) | "
                         "`figstep_benign_test_mini` (benign) |\n"))
        << md;
    EXPECT_TRUE(contains(md,
                         "| no defense | none | — | ASR 85.7% [60.1–96.0] (12/14) | "
                         "over-refusal 0.0% [0.0–21.5] (0/14) |\n"))
        << md;
    // 8 complied of 13 judged (one unparsable answer is left out).
    EXPECT_TRUE(contains(md,
                         "| sarsteer α=0.1 | sarsteer | 0.1 | ASR 61.5% [35.5–82.3] (8/13) | "
                         "over-refusal 7.1% [1.3–31.5] (1/14) |\n"))
        << md;
    // Nothing judged: a dash for the rate; no benign dataset: a dash for the cell.
    EXPECT_TRUE(contains(md, "| empty run | none | — | ASR — (0/0) | — |\n")) << md;
}

TEST(ReportMarkdown, ScenarioTablesRunsTradeoffSteeringAndLegend) {
    const auto md = render_markdown(hand_made_summary());
    EXPECT_TRUE(contains(md, "### `figstep_harmful_test_mini` (harmful): refusal rate by scenario"))
        << md;
    EXPECT_TRUE(contains(md, "| scenario | no defense | sarsteer α=0.1 | empty run |\n")) << md;
    EXPECT_TRUE(contains(md, "| Fraud | 0.0% [0.0–65.8] (0/2) | 50.0% [9.5–90.5] (1/2) | — |\n"))
        << md;
    EXPECT_TRUE(contains(md,
                         "| Hate\\_Speech | 10.0% [1.8–40.4] (1/10) | "
                         "22.2% [6.3–54.7] (2/9), 1 unparsable | — |\n"))
        << md;
    EXPECT_TRUE(contains(md,
                         "| **all** | 14.3% [4.0–39.9] (2/14) | "
                         "38.5% [17.7–64.5] (5/13), 1 unparsable | — (0/0) |\n"))
        << md;
    EXPECT_TRUE(contains(md,
                         "### `figstep_benign_test_mini` (benign): over-refusal rate by "
                         "scenario\n\n| scenario | no defense | sarsteer α=0.1 |\n"))
        << md;
    EXPECT_TRUE(contains(md,
                         "| sarsteer α=0.1 | `runs/sarsteer` | tiny | sarsteer | 0.1 | 10 | "
                         "1 |\n"))
        << md;
    EXPECT_TRUE(contains(md,
                         "| sarsteer k=10 λ=1 | 0.05 | 25.0% [10.0–50.0] | "
                         "0.0% [0.0–21.5] |\n"))
        << md;
    EXPECT_TRUE(contains(md, "| `steer.safetensors` | sarsteer | 10 | 1 | 4 | 2 (3) | 2.5 (3) |\n"))
        << md;
    EXPECT_TRUE(contains(md, "## Legend")) << md;
    EXPECT_TRUE(contains(md, "Wilson score 95% confidence interval")) << md;
}

TEST(ReportMarkdown, AbsentSectionsAreNotedNotFatal) {
    auto summary = hand_made_summary();
    summary.erase("tradeoff");
    summary.erase("steering");
    summary.erase("judge");
    const auto md = render_markdown(summary);
    EXPECT_TRUE(contains(md, "_No trade-off sweep in this summary._")) << md;
    EXPECT_TRUE(contains(md, "_No steering files in this summary._")) << md;
    EXPECT_TRUE(contains(md, "judge: `unknown`")) << md;

    const auto html = render_html(summary);
    EXPECT_FALSE(contains(html, "chart-tradeoff"));
    EXPECT_FALSE(contains(html, "chart-norms"));
    EXPECT_TRUE(contains(html, "No trade-off sweep in this summary."));
    EXPECT_TRUE(contains(html, "No steering files in this summary."));

    // Wrong types and empty runs render as absent, not as a crash.
    const json odd = {{"runs", {{{"name", 3}, {"datasets", "x"}}, 7}}, {"tradeoff", 1}};
    EXPECT_NO_THROW(render_markdown(odd));
    EXPECT_NO_THROW(render_html(odd));
    EXPECT_TRUE(contains(render_markdown(json::object()), "_No runs in this summary._"));
    EXPECT_THROW(render_markdown(json::array()), Error);
    EXPECT_THROW(render_html("text"), Error);
}

TEST(ReportEscaping, HostileNamesRenderAsText) {
    auto summary = hand_made_summary();
    summary["runs"][1]["name"] = "<script>&\"";
    summary["runs"][1]["datasets"][0]["scenarios"][0]["scenario"] = "a<b>|c";
    summary["steering"][0]["file"] = "x'\"<y>.safetensors";
    const auto html = render_html(summary);
    EXPECT_TRUE(contains(html, "&lt;script&gt;&amp;&quot;"));
    EXPECT_FALSE(contains(html, "<script>&"));
    EXPECT_EQ(occurrences(html, "<script>"), 1u);  // only the page's own render check
    EXPECT_TRUE(contains(html, "a&lt;b&gt;|c"));
    EXPECT_FALSE(contains(html, "<b>"));
    EXPECT_TRUE(contains(html, "x&#39;&quot;&lt;y&gt;.safetensors"));

    const auto md = render_markdown(summary);
    EXPECT_TRUE(contains(md, "| \\<script\\>\\&\" | sarsteer | 0.1 |")) << md;
    EXPECT_TRUE(contains(md, "| a\\<b\\>\\|c |")) << md;
    EXPECT_FALSE(contains(md, "<script>"));
}

TEST(SvgChart, EscapeTicksAndMarks) {
    EXPECT_EQ(svg::escape("a<b>&\"c'\x01"), "a&lt;b&gt;&amp;&quot;c&#39;");
    EXPECT_EQ(svg::nice_ticks(0, 1, 5),
              (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
    const auto ticks = svg::nice_ticks(0, 0.3, 5);
    EXPECT_DOUBLE_EQ(ticks.front(), 0);
    EXPECT_GE(ticks.back(), 0.3);
    EXPECT_LE(ticks.size(), 8u);

    svg::BarChartSpec bars;
    bars.id = "b";
    bars.kind = "chart-x";
    bars.series = {"one", "two"};
    bars.groups = {{"G1", {svg::BarValue{0.5, 0.2, 0.8, "t"}, std::nullopt}},
                   {"G2", {svg::BarValue{0.25, {}, {}, "u"}, svg::BarValue{1, 0.5, 1, "v"}}}};
    const auto b = svg::bar_chart(bars);
    EXPECT_EQ(occurrences(b, "class=\"bar\""), 3u);
    EXPECT_EQ(occurrences(b, "class=\"err\""), 2u);
    EXPECT_EQ(occurrences(b, ">n/a<"), 1u);
    EXPECT_TRUE(contains(b, "class=\"chart chart-x\" id=\"b\""));

    const auto point = [](double x, double y, std::string label = {}) {
        svg::Point p;
        p.x = x;
        p.y = y;
        p.label = std::move(label);
        return p;
    };
    svg::LineChartSpec lines;
    svg::LineSeries connected;
    connected.name = "s";
    connected.points = {point(0, 0), point(1, 1, "p")};
    svg::LineSeries single;
    single.name = "q";
    single.connect = false;
    single.points = {point(0.5, 0.5)};
    lines.series = {connected, single};
    const auto l = svg::line_chart(lines);
    EXPECT_EQ(occurrences(l, "class=\"point\""), 3u);
    EXPECT_EQ(occurrences(l, "class=\"line\""), 1u);
    EXPECT_TRUE(contains(l, ">p</text>"));
}

TEST(ReportFiles, WriteReportCreatesTheFolderAndThreeFiles) {
    ScratchDir dir("report-files");
    const auto out = dir / "nested" / "report";
    const auto summary = hand_made_summary();
    write_report(summary, out);
    EXPECT_EQ(json::parse(read_file(out / "summary.json")), summary);
    EXPECT_EQ(read_file(out / "report.md"), render_markdown(summary));
    EXPECT_EQ(read_file(out / "report.html"), render_html(summary));
    std::size_t n_files = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(out)) ++n_files;
    EXPECT_EQ(n_files, 3u);  // no temp files left behind

    // Self-contained: no external resources.
    const auto html = read_file(out / "report.html");
    EXPECT_FALSE(contains(html, "src=\""));
    EXPECT_FALSE(contains(html, "href=\""));
    EXPECT_FALSE(contains(html, "@import"));
    EXPECT_FALSE(contains(html, "url("));
    EXPECT_EQ(occurrences(html, "http"), occurrences(html, "http://www.w3.org/2000/svg"));
}

// ---- headless Chromium ----------------------------------------------------------------------

std::string find_chromium() {
    for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
        for (const char* dir : {"/usr/bin", "/usr/local/bin", "/snap/bin"}) {
            const fs::path candidate = fs::path(dir) / name;
            if (fs::exists(candidate)) return candidate.string();
        }
    }
    return {};
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string html_unescape(std::string s) {
    for (const auto& [from, to] : std::map<std::string, std::string>{
             {"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&#39;", "'"}}) {
        for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
            s.replace(at, from.size(), to);
        }
    }
    for (auto at = s.find("&amp;"); at != std::string::npos; at = s.find("&amp;", at + 1)) {
        s.replace(at, 5, "&");
    }
    return s;
}

// Runs Chromium on the page and returns the render check's JSON (or fails the test).
json render_check(const std::string& chromium, const fs::path& page, const fs::path& scratch) {
    const auto dom = scratch / "dom.html";
    const auto log = scratch / "chromium.log";
    std::string result;
    // --headless=new first; the old headless mode as a fallback for older builds.
    for (const char* mode : {"--headless=new", "--headless"}) {
        const std::string cmd = "timeout 90 " + shell_quote(chromium) + " " + mode +
                                " --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                                " --user-data-dir=" +
                                shell_quote((scratch / "profile").string()) + " --dump-dom " +
                                shell_quote("file://" + page.string()) + " >" +
                                shell_quote(dom.string()) + " 2>" + shell_quote(log.string());
        const int status = std::system(cmd.c_str());
        result = read_file(dom);
        if (status == 0 && contains(result, "data-render-check=\"done\"")) break;
    }
    const std::regex pre(R"re(<pre id="render-check">([^<]*)</pre>)re");
    std::smatch match;
    if (!std::regex_search(result, match, pre)) {
        ADD_FAILURE() << "no render check in the dumped DOM; chromium log:\n"
                      << read_file(log) << "\nDOM:\n"
                      << result.substr(0, 2000);
        return json::array();
    }
    return json::parse(html_unescape(match[1].str()));
}

TEST(ReportChromium, ChartsRenderWithTheExpectedMarks) {
    const auto chromium = find_chromium();
    if (chromium.empty()) {
        GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it); the "
                        "HTML report was not checked in a browser";
    }
    ScratchDir dir("report-chromium");
    write_report(hand_made_summary(), dir / "out");
    const auto check = render_check(chromium, dir / "out" / "report.html", dir.path());
    ASSERT_TRUE(check.is_array());

    std::map<std::string, json> by_id;
    for (const auto& chart : check) {
        by_id[chart.at("id").get<std::string>()] = chart;
        SCOPED_TRACE(chart.dump());
        // Laid out and visible: the drawing and the element have a real size.
        EXPECT_GT(chart.at("bbox_width").get<double>(), 100);
        EXPECT_GT(chart.at("bbox_height").get<double>(), 100);
        EXPECT_GT(chart.at("width").get<double>(), 100);
        EXPECT_GT(chart.at("height").get<double>(), 100);
    }
    ASSERT_EQ(by_id.size(), 4u) << check.dump();
    // Harmful: 3 scenarios × 2 runs with data (the empty run has none); every bar has whiskers.
    const auto& harmful = by_id.at("chart-scenarios-figstep-harmful-test-mini");
    EXPECT_TRUE(contains(harmful.at("kind"), "chart-scenarios"));
    EXPECT_EQ(harmful.at("bars"), 6);
    EXPECT_EQ(harmful.at("error_bars"), 6);
    // Benign: 3 scenarios × the 2 runs that have the benign set.
    EXPECT_EQ(by_id.at("chart-scenarios-figstep-benign-test-mini").at("bars"), 6);
    // Trade-off: 3 α points on one line, plus the no-defense run as a single point.
    const auto& tradeoff = by_id.at("chart-tradeoff");
    EXPECT_TRUE(contains(tradeoff.at("kind"), "chart-tradeoff"));
    EXPECT_EQ(tradeoff.at("points"), 4);
    EXPECT_EQ(tradeoff.at("lines"), 1);
    // Norms: ‖v‖ and ‖v⊥‖ over 4 layers.
    const auto& norms = by_id.at("chart-norms-0");
    EXPECT_TRUE(contains(norms.at("kind"), "chart-norms"));
    EXPECT_EQ(norms.at("points"), 8);
    EXPECT_EQ(norms.at("lines"), 2);
}

}  // namespace
}  // namespace sarsteer::eval
