// The evaluation report: one summary (JSON, made from run folders by the eval runner) rendered
// as Markdown and as a self-contained HTML page (inline CSS and SVG charts, no external URLs or
// script libraries).
//
// Summary schema (every part but `runs` optional; rates may be null when nothing was judged):
//   { "tool_version", "judge",
//     "runs": [ { "run_dir", "name", "defense", "alpha", "k", "lambda", "model",
//                 "datasets": [ { "dataset", "label": "harmful"|"benign", "n", "refused",
//                                 "complied", "unparsable",
//                                 "refusal_rate": {"value","lo","hi"}, "answer_rate": {...},
//                                 "scenarios": [ { "scenario", same counts and rates } ] } ] } ],
//     "tradeoff": [ { "series", "points": [ { "alpha", "run_dir",
//                     "harmful_refusal": {...}, "benign_over_refusal": {...} } ] } ],
//     "steering": [ { "file", "mode", "k", "lambda", "layer_norms", "layer_norms_raw" } ] }
//
// Harmful datasets report the attack success rate (ASR = answer_rate) and refusal; benign ones the
// over-refusal (refusal_rate). Rates leave unparsable answers out of the denominator.
//
// The HTML page ends with a small inline script that measures each chart after layout and writes
// the result into <pre id="render-check"> (used by the headless-browser test).
//
// Values of the wrong type are treated as absent; the renderers never throw on a summary that
// parsed as JSON, except when `summary` is not an object (Error kCorruptInput).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace sarsteer::eval {

std::string render_markdown(const nlohmann::json& summary);
std::string render_html(const nlohmann::json& summary);

// Creates `dir` and writes DIR/summary.json, DIR/report.md and DIR/report.html, each atomically.
// Throws Error (kIo) naming the path that could not be written.
void write_report(const nlohmann::json& summary, const std::filesystem::path& dir);

}  // namespace sarsteer::eval
