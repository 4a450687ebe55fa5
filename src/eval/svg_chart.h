// Small, dependency-free SVG charts for the evaluation report: a grouped bar chart with error
// bars and a line/scatter chart with labelled points, both with axes, ticks, grid and a legend.
//
// Output is a standalone <svg> element (inline in HTML or saved as .svg). Every piece of text is
// escaped for XML, so names from run folders can never inject markup. Drawn marks carry classes
// the report's render check counts: rect.bar, circle.point, path.line, path.err.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sarsteer::eval::svg {

// &, <, >, " and ' as entities; control characters XML forbids are dropped.
std::string escape(std::string_view text);

// The i-th colour of a colour-blind-safe palette (Okabe-Ito, without yellow), cycling.
std::string series_color(std::size_t i);

// Evenly spaced "nice" ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi], about `target` of
// them; the first tick is <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

struct BarValue {
    double value = 0;
    std::optional<double> lo;  // error bar, e.g. a Wilson interval
    std::optional<double> hi;
    std::string tooltip;  // shown on hover (<title>)
};

struct BarGroup {
    std::string label;                            // x-axis label; '_' is shown as a space
    std::vector<std::optional<BarValue>> values;  // one per series; nullopt -> "n/a"
};

struct BarChartSpec {
    std::string id;                   // the <svg> id
    std::string kind;                 // extra class on the <svg>, e.g. "chart-scenarios"
    std::string title;                // accessible <title> and caption line
    std::string y_label;              // e.g. "refusal rate"
    std::vector<std::string> series;  // legend names, one colour each
    std::vector<std::string> colors;  // per series; empty: series_color(i)
    std::vector<BarGroup> groups;
    double y_max = 1.0;   // the axis runs from 0 to y_max
    bool percent = true;  // tick labels as percentages
    int width = 860;
    int height = 340;
};

std::string bar_chart(const BarChartSpec& spec);

struct Point {
    double x = 0;
    double y = 0;
    std::optional<double> x_lo, x_hi, y_lo, y_hi;  // whiskers, drawn when present
    std::string label;                             // text beside the point (may be empty)
    std::string tooltip;
};

struct LineSeries {
    std::string name;
    std::vector<Point> points;
    bool connect = true;  // draw a line through the points in order
    std::string color;    // empty: series_color(index)
};

struct LineChartSpec {
    std::string id;
    std::string kind;
    std::string title;
    std::string x_label;
    std::string y_label;
    std::vector<LineSeries> series;
    // Axis ranges; unset ends are fitted to the data (and whiskers) with nice ticks.
    std::optional<double> x_min, x_max, y_min, y_max;
    bool x_percent = false;
    bool y_percent = false;
    bool integer_x = false;  // e.g. layer indices
    double point_radius = 4.5;
    int width = 860;
    int height = 420;
};

std::string line_chart(const LineChartSpec& spec);

}  // namespace sarsteer::eval::svg
