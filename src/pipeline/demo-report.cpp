// The demo's HTML report: one self-contained page (no scripts, no network) with the before/after table, the stage
// times and one inline SVG line chart per GRPO metric (reward, accuracy, format rate, completion length) over
// the RL steps, read from the GRPO run's metrics.jsonl rows.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "r1/demo.h"

namespace r1::demo {
namespace {

std::string svg_chart(const std::string& title, const std::vector<nlohmann::json>& rows, const std::string& key) {
  std::vector<std::pair<double, double>> points;
  for (const auto& r : rows)
    if (r.contains(key) && r[key].is_number() && r.contains("step"))
      points.emplace_back(r["step"].get<double>(), r[key].get<double>());
  const double W = 420, H = 220, left = 48, right = 12, top = 28, bottom = 32;
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' viewBox='0 0 {} {}'>"
      "<text x='{}' y='18' font-size='14' font-weight='bold'>{}</text>",
      W, H, W, H, left, title);
  if (points.empty()) return svg + "<text x='60' y='110'>no data</text></svg>";
  double x0 = points.front().first, x1 = points.back().first, y0 = 1e300, y1 = -1e300;
  for (const auto& [x, y] : points) y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (y1 - y0 < 1e-9) y0 -= 0.5, y1 += 0.5;
  if (x1 - x0 < 1e-9) x1 = x0 + 1;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  auto py = [&](double y) { return H - bottom - (y - y0) / (y1 - y0) * (H - top - bottom); };
  svg += fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='none' stroke='#999'/>", left, top,
                     W - left - right, H - top - bottom);
  for (int i = 0; i <= 4; ++i) {
    const double y = y0 + (y1 - y0) * i / 4;
    svg +=
        fmt::format("<text x='{}' y='{:.1f}' font-size='10' text-anchor='end'>{:.3g}</text>", left - 4, py(y) + 3, y);
  }
  svg += fmt::format(
      "<text x='{}' y='{}' font-size='10'>step {:.0f}</text><text x='{}' y='{}' font-size='10' "
      "text-anchor='end'>step {:.0f}</text>",
      left, H - 12, x0, W - right, H - 12, x1);
  std::string path;
  for (const auto& [x, y] : points) path += fmt::format("{}{:.1f},{:.1f} ", path.empty() ? "M" : "L", px(x), py(y));
  svg += fmt::format("<path d='{}' fill='none' stroke='#1f77b4' stroke-width='2'/></svg>", path);
  return svg;
}

}  // namespace

std::string demo_report_html(const DemoResult& r, const std::vector<nlohmann::json>& metrics, const DemoOptions& o) {
  std::string html =
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>r1 demo: R1-Zero on addition</title><style>"
      "body{font-family:sans-serif;max-width:900px;margin:2em auto}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}svg{margin:6px}</style></head><body>"
      "<h1>r1 demo: GRPO (R1-Zero) on held-out addition problems</h1>";
  html += fmt::format(
      "<p>{} held-out problems, {} samples each at temperature {} (pass@1 = mean accuracy over "
      "all samples). Seed {}.</p>",
      r.before.problems, o.eval_samples, o.eval_temperature, o.seed);
  html += "<table><tr><th></th><th>pass@1</th><th>format rate</th><th>mean length (tokens)</th></tr>";
  for (const auto& [name, e] : {std::pair<std::string, EvalSummary>{"base model", r.before}, {"after GRPO", r.after}})
    html += fmt::format("<tr><th>{}</th><td>{:.3f}</td><td>{:.3f}</td><td>{:.1f}</td></tr>", name, e.pass_at_1,
                        e.format_rate, e.mean_length);
  html += "</table><h2>GRPO, per step (training prompts)</h2><div>";
  html += svg_chart("reward (accuracy + format)", metrics, "reward");
  html += svg_chart("accuracy", metrics, "rewards/accuracy/mean");
  html += svg_chart("format rate", metrics, "rewards/format/mean");
  html += svg_chart("completion length (tokens)", metrics, "completions/mean_length");
  html += "</div><h2>Stages</h2><table><tr><th>stage</th><th>seconds</th></tr>";
  for (const auto& s : r.stages)
    html += fmt::format("<tr><th>{}</th><td>{}</td></tr>", s.stage,
                        s.skipped ? "done earlier" : fmt::format("{:.1f}", s.seconds));
  html += "</table></body></html>\n";
  return html;
}

}  // namespace r1::demo
