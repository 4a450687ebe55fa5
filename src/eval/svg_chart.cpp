#include "eval/svg_chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sarsteer::eval::svg {
namespace {

constexpr std::array<const char*, 7> kPalette = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                 "#CC79A7", "#56B4E9", "#7F7F7F"};
constexpr double kFontSize = 12;
constexpr double kCharWidth = 6.6;  // rough advance of the UI font at 12 px, for layout only
constexpr double kLegendRow = 20;

// Coordinates with one decimal: enough for screens, and stable text for tests.
std::string num(double v) {
    if (!std::isfinite(v)) v = 0;
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", v);
    std::string s = buffer;
    if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
    if (s == "-0") s = "0";
    return s;
}

std::string tick_label(double v, bool percent, double step) {
    char buffer[32];
    if (percent) {
        const int decimals = step * 100 >= 1 ? 0 : 1;
        std::snprintf(buffer, sizeof buffer, "%.*f%%", decimals, v * 100);
    } else if (step >= 1 && std::abs(v) < 1e6) {
        std::snprintf(buffer, sizeof buffer, "%.0f", v);
    } else {
        std::snprintf(buffer, sizeof buffer, "%.3g", v);
    }
    return buffer;
}

double text_width(std::string_view text) {
    // UTF-8 continuation bytes do not advance.
    double n = 0;
    for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) == 0x80 ? 0 : 1;
    return n * kCharWidth;
}

struct Frame {
    double left, top, right, bottom;  // the plot area in SVG coordinates
    double width() const { return right - left; }
    double height() const { return bottom - top; }
};

// Legend entries laid out left to right, wrapping; returns the markup and the rows used.
std::pair<std::string, int> legend(const std::vector<std::string>& names,
                                   const std::vector<std::string>& colors, double x0, double y0,
                                   double max_width, bool markers_as_lines) {
    std::string out = "<g class=\"legend\">";
    double x = x0;
    int row = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const double w = 18 + text_width(names[i]) + 18;
        if (x > x0 && x + w > x0 + max_width) {
            x = x0;
            ++row;
        }
        const double y = y0 + row * kLegendRow;
        const auto& color = colors[i];
        if (markers_as_lines) {
            out += "<line x1=\"" + num(x) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x + 14) +
                   "\" y2=\"" + num(y) + "\" stroke=\"" + color + "\" stroke-width=\"2.5\"/>";
            out += "<circle cx=\"" + num(x + 7) + "\" cy=\"" + num(y) + "\" r=\"3.5\" fill=\"" +
                   color + "\"/>";
        } else {
            out += "<rect x=\"" + num(x) + "\" y=\"" + num(y - 6) +
                   "\" width=\"12\" height=\"12\" rx=\"2\" fill=\"" + color + "\"/>";
        }
        out += "<text x=\"" + num(x + 18) + "\" y=\"" + num(y + 4) + "\">" + escape(names[i]) +
               "</text>";
        x += w;
    }
    out += "</g>";
    return {out, names.empty() ? 0 : row + 1};
}

std::string svg_open(const std::string& id, const std::string& kind, int width, int height,
                     const std::string& title) {
    std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart";
    if (!kind.empty()) out += " " + escape(kind);
    out += "\"";
    if (!id.empty()) out += " id=\"" + escape(id) + "\"";
    out += " viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
           "\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
           "\" role=\"img\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, "
           "'Helvetica Neue', Arial, sans-serif\" font-size=\"" +
           num(kFontSize) + "\">";
    out += "<title>" + escape(title) + "</title>";
    out += "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" +
           std::to_string(height) + "\" fill=\"#ffffff\"/>";
    return out;
}

// Horizontal grid lines and y tick labels, plus the y-axis title.
std::string y_axis(const Frame& f, const std::vector<double>& ticks, double y_min, double y_max,
                   bool percent, const std::string& label) {
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
    std::string out = "<g class=\"axis y-axis\">";
    for (const double t : ticks) {
        const double y = f.bottom - (t - y_min) / (y_max - y_min) * f.height();
        out += "<line x1=\"" + num(f.left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(f.right) +
               "\" y2=\"" + num(y) + "\" stroke=\"" + (t == y_min ? "#9aa0a6" : "#e6e8eb") + "\"/>";
        out += "<text x=\"" + num(f.left - 8) + "\" y=\"" + num(y + 4) +
               "\" text-anchor=\"end\" fill=\"#5f6368\">" + tick_label(t, percent, step) +
               "</text>";
    }
    const double cy = (f.top + f.bottom) / 2;
    out += "<text x=\"" + num(16) + "\" y=\"" + num(cy) + "\" transform=\"rotate(-90 16 " +
           num(cy) + ")\" text-anchor=\"middle\" fill=\"#3c4043\">" + escape(label) + "</text>";
    out += "</g>";
    return out;
}

struct Range {
    double lo, hi;
    std::vector<double> ticks;
};

Range fit_range(double data_lo, double data_hi, std::optional<double> fixed_lo,
                std::optional<double> fixed_hi, bool clamp_unit) {
    double lo = fixed_lo.value_or(data_lo);
    double hi = fixed_hi.value_or(data_hi);
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < 1e-12) {
        const double pad = std::abs(hi) > 0 ? std::abs(hi) * 0.1 : (clamp_unit ? 0.05 : 1.0);
        if (!fixed_lo) lo -= pad;
        if (!fixed_hi) hi += pad;
    }
    if (clamp_unit) {
        lo = std::max(lo, 0.0);
        hi = std::min(hi, 1.0);
        if (hi <= lo) hi = lo + 0.05;
    }
    auto ticks = nice_ticks(lo, hi, 5);
    if (!fixed_lo) lo = ticks.front();
    if (!fixed_hi) hi = ticks.back();
    // Keep only ticks inside a fixed range.
    std::erase_if(ticks, [&](double t) { return t < lo - 1e-9 || t > hi + 1e-9; });
    return {lo, hi, ticks};
}

}  // namespace

std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                    break;  // not allowed in XML 1.0
                }
                out += c;
        }
    }
    return out;
}

std::string series_color(std::size_t i) {
    return kPalette[i % kPalette.size()];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
    if (hi < lo) std::swap(lo, hi);
    if (hi - lo < 1e-12) hi = lo + 1;
    const double raw = (hi - lo) / std::max(1, target);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        step = m * magnitude;
        if (step >= raw) break;
    }
    const double first = std::floor(lo / step + 1e-9) * step;
    std::vector<double> ticks;
    for (double t = first; t < hi + step * 0.999 && ticks.size() < 100; t += step) {
        ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    }
    if (ticks.size() < 2) ticks.push_back(first + step);
    return ticks;
}

std::string bar_chart(const BarChartSpec& spec) {
    const double w = spec.width;
    const double h = spec.height;
    std::vector<std::string> colors;
    for (std::size_t i = 0; i < spec.series.size(); ++i) {
        colors.push_back(i < spec.colors.size() && !spec.colors[i].empty() ? spec.colors[i]
                                                                           : series_color(i));
    }
    const auto [legend_svg, legend_rows] = legend(spec.series, colors, 64, 16, w - 80, false);
    Frame f{64, 24.0 + legend_rows * kLegendRow, w - 16, h - 56};

    std::string out = svg_open(spec.id, spec.kind, spec.width, spec.height, spec.title);
    out += legend_svg;
    const auto ticks = nice_ticks(0, spec.y_max, 5);
    const double y_max = std::max(ticks.back(), 1e-12);
    out += y_axis(f, ticks, 0, y_max, spec.percent, spec.y_label);
    const auto y_of = [&](double v) {
        return f.bottom - std::clamp(v, 0.0, y_max) / y_max * f.height();
    };

    const std::size_t n_groups = std::max<std::size_t>(spec.groups.size(), 1);
    const std::size_t n_series = std::max<std::size_t>(spec.series.size(), 1);
    const double group_w = f.width() / static_cast<double>(n_groups);
    const double inner = group_w * 0.8;
    const double bar_w = std::min(inner / static_cast<double>(n_series), 48.0);
    out += "<g class=\"bars\">";
    for (std::size_t g = 0; g < spec.groups.size(); ++g) {
        const auto& group = spec.groups[g];
        const double cx = f.left + group_w * (static_cast<double>(g) + 0.5);
        const double x0 = cx - bar_w * static_cast<double>(n_series) / 2;
        for (std::size_t s = 0; s < group.values.size() && s < n_series; ++s) {
            const double x = x0 + bar_w * static_cast<double>(s);
            const auto& value = group.values[s];
            if (!value) {
                out += "<text class=\"na\" x=\"" + num(x + bar_w / 2) + "\" y=\"" +
                       num(f.bottom - 4) +
                       "\" text-anchor=\"middle\" font-size=\"9\" fill=\"#9aa0a6\">n/a</text>";
                continue;
            }
            // A zero still shows as a sliver, so it reads differently from "n/a".
            const double top = std::min(y_of(value->value), f.bottom - 1.5);
            out += "<rect class=\"bar\" x=\"" + num(x + 1) + "\" y=\"" + num(top) + "\" width=\"" +
                   num(std::max(bar_w - 2, 1.0)) + "\" height=\"" +
                   num(std::max(f.bottom - top, 0.0)) + "\" fill=\"" + colors[s] + "\">";
            out += "<title>" + escape(value->tooltip) + "</title></rect>";
            if (value->lo && value->hi) {
                const double xm = x + bar_w / 2;
                const double y_lo = y_of(*value->lo);
                const double y_hi = y_of(*value->hi);
                const double cap = std::min(bar_w * 0.25, 5.0);
                out += "<path class=\"err\" d=\"M" + num(xm) + " " + num(y_lo) + "V" + num(y_hi) +
                       "M" + num(xm - cap) + " " + num(y_lo) + "H" + num(xm + cap) + "M" +
                       num(xm - cap) + " " + num(y_hi) + "H" + num(xm + cap) +
                       "\" stroke=\"#202124\" stroke-width=\"1.2\" fill=\"none\"/>";
            }
        }
        // The label, one word per line (at most three lines), '_' shown as a space.
        std::string label = group.label;
        std::replace(label.begin(), label.end(), '_', ' ');
        std::vector<std::string> words;
        for (std::size_t at = 0; at < label.size();) {
            const auto space = label.find(' ', at);
            const auto word =
                label.substr(at, space == std::string::npos ? label.npos : space - at);
            if (!word.empty()) words.push_back(word);
            if (space == std::string::npos) break;
            at = space + 1;
        }
        if (words.size() > 3) {
            for (std::size_t i = 3; i < words.size(); ++i) words[2] += " " + words[i];
            words.resize(3);
        }
        out += "<text class=\"group-label\" x=\"" + num(cx) + "\" y=\"" + num(f.bottom + 16) +
               "\" text-anchor=\"middle\" fill=\"#3c4043\">";
        for (std::size_t i = 0; i < words.size(); ++i) {
            out += "<tspan x=\"" + num(cx) + "\"" + (i > 0 ? " dy=\"14\"" : "") + ">" +
                   escape(words[i]) + "</tspan>";
        }
        out += "</text>";
    }
    out += "</g></svg>";
    return out;
}

std::string line_chart(const LineChartSpec& spec) {
    const double w = spec.width;
    const double h = spec.height;
    std::vector<std::string> names;
    std::vector<std::string> colors;
    for (std::size_t i = 0; i < spec.series.size(); ++i) {
        names.push_back(spec.series[i].name);
        colors.push_back(spec.series[i].color.empty() ? series_color(i) : spec.series[i].color);
    }
    const auto [legend_svg, legend_rows] = legend(names, colors, 64, 16, w - 80, true);
    Frame f{64, 28.0 + legend_rows * kLegendRow, w - 24, h - 48};

    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
    double y_lo = x_lo, y_hi = -x_lo;
    for (const auto& s : spec.series) {
        for (const auto& p : s.points) {
            x_lo = std::min({x_lo, p.x, p.x_lo.value_or(p.x)});
            x_hi = std::max({x_hi, p.x, p.x_hi.value_or(p.x)});
            y_lo = std::min({y_lo, p.y, p.y_lo.value_or(p.y)});
            y_hi = std::max({y_hi, p.y, p.y_hi.value_or(p.y)});
        }
    }
    const auto xr = fit_range(x_lo, x_hi, spec.x_min, spec.x_max, spec.x_percent);
    const auto yr = fit_range(y_lo, y_hi, spec.y_min, spec.y_max, spec.y_percent);
    const auto x_of = [&](double v) { return f.left + (v - xr.lo) / (xr.hi - xr.lo) * f.width(); };
    const auto y_of = [&](double v) {
        return f.bottom - (v - yr.lo) / (yr.hi - yr.lo) * f.height();
    };

    std::string out = svg_open(spec.id, spec.kind, spec.width, spec.height, spec.title);
    out += legend_svg;
    out += y_axis(f, yr.ticks, yr.lo, yr.hi, spec.y_percent, spec.y_label);

    // x axis: ticks (every integer tick when integer_x and few enough), labels and title.
    std::vector<double> x_ticks = xr.ticks;
    if (spec.integer_x) {
        std::erase_if(x_ticks, [](double t) { return std::abs(t - std::round(t)) > 1e-9; });
    }
    const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
    out += "<g class=\"axis x-axis\">";
    for (const double t : x_ticks) {
        const double x = x_of(t);
        out += "<line x1=\"" + num(x) + "\" y1=\"" + num(f.top) + "\" x2=\"" + num(x) + "\" y2=\"" +
               num(f.bottom) + "\" stroke=\"#f1f3f4\"/>";
        out += "<line x1=\"" + num(x) + "\" y1=\"" + num(f.bottom) + "\" x2=\"" + num(x) +
               "\" y2=\"" + num(f.bottom + 5) + "\" stroke=\"#9aa0a6\"/>";
        out += "<text x=\"" + num(x) + "\" y=\"" + num(f.bottom + 18) +
               "\" text-anchor=\"middle\" fill=\"#5f6368\">" +
               tick_label(t, spec.x_percent, x_step) + "</text>";
    }
    out += "<line x1=\"" + num(f.left) + "\" y1=\"" + num(f.top) + "\" x2=\"" + num(f.left) +
           "\" y2=\"" + num(f.bottom) + "\" stroke=\"#9aa0a6\"/>";
    out += "<text x=\"" + num((f.left + f.right) / 2) + "\" y=\"" + num(h - 8) +
           "\" text-anchor=\"middle\" fill=\"#3c4043\">" + escape(spec.x_label) + "</text>";
    out += "</g>";

    for (std::size_t si = 0; si < spec.series.size(); ++si) {
        const auto& series = spec.series[si];
        const auto& color = colors[si];
        out += "<g class=\"series\" data-series=\"" + escape(series.name) + "\">";
        if (series.connect && series.points.size() > 1) {
            std::string d;
            for (std::size_t i = 0; i < series.points.size(); ++i) {
                d += (i == 0 ? "M" : "L") + num(x_of(series.points[i].x)) + " " +
                     num(y_of(series.points[i].y));
            }
            out += "<path class=\"line\" d=\"" + d + "\" fill=\"none\" stroke=\"" + color +
                   "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>";
        }
        for (const auto& p : series.points) {
            const double px = x_of(p.x);
            const double py = y_of(p.y);
            std::string whiskers;
            if (p.y_lo && p.y_hi) {
                whiskers += "M" + num(px) + " " + num(y_of(*p.y_lo)) + "V" + num(y_of(*p.y_hi));
            }
            if (p.x_lo && p.x_hi) {
                whiskers += "M" + num(x_of(*p.x_lo)) + " " + num(py) + "H" + num(x_of(*p.x_hi));
            }
            if (!whiskers.empty()) {
                out += "<path class=\"err\" d=\"" + whiskers + "\" stroke=\"" + color +
                       "\" stroke-opacity=\"0.3\" stroke-width=\"1\" fill=\"none\"/>";
            }
            out += "<circle class=\"point\" cx=\"" + num(px) + "\" cy=\"" + num(py) + "\" r=\"" +
                   num(spec.point_radius) + "\" fill=\"" + color +
                   "\" stroke=\"#ffffff\" stroke-width=\"1.5\">";
            out +=
                "<title>" + escape(p.tooltip.empty() ? p.label : p.tooltip) + "</title></circle>";
            if (!p.label.empty()) {
                // Right of the point, or left when it would leave the plot.
                const bool left = px + 8 + text_width(p.label) > f.right;
                out += "<text class=\"point-label\" x=\"" + num(left ? px - 7 : px + 7) +
                       "\" y=\"" + num(py - 7) + "\" text-anchor=\"" + (left ? "end" : "start") +
                       "\" font-size=\"11\" fill=\"#3c4043\">" + escape(p.label) + "</text>";
            }
        }
        out += "</g>";
    }
    out += "</svg>";
    return out;
}

}  // namespace sarsteer::eval::svg
