// The demos' HTML reports: one self-contained page (no scripts, no network) each. The R1-Zero demo's: the
// before/after table, the stage times and one inline SVG line chart per GRPO metric (reward, accuracy, format
// rate, completion length) over the RL steps, read from the GRPO run's metrics.jsonl rows. The R1 demo's: the
// table of every evaluated model, the student comparison, and accuracy / language consistency per step of each RL
// stage.
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

// The table of stage times that ends both reports, and the end of the page.
std::string stage_times(const std::string& title, const std::vector<StageTime>& stages) {
  std::string html = fmt::format("<h2>{}</h2><table><tr><th>stage</th><th>seconds</th></tr>", title);
  for (const auto& s : stages)
    html += fmt::format("<tr><th>{}</th><td>{}</td></tr>", s.stage,
                        s.skipped ? "done earlier" : fmt::format("{:.1f}", s.seconds));
  return html + "</table></body></html>\n";
}

}  // namespace

std::string r1_demo_report_html(const R1DemoResult& r,
                                const std::vector<std::pair<std::string, std::vector<nlohmann::json>>>& rl_metrics,
                                const R1DemoOptions& o) {
  const DemoOptions& z = o.zero;
  std::string html =
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>r1 demo: the DeepSeek-R1 recipe</title><style>"
      "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}svg{margin:6px}</style></head><body>"
      "<h1>r1 demo --recipe r1: DeepSeek-R1's stages on bilingual addition</h1>";
  html += fmt::format(
      "<p>{} held-out problems ({:.0f}% posed in Chinese), {} samples each at temperature {}; pass@1 = mean accuracy "
      "over all samples; language = share of the chain of thought in the problem's language (zh: over the problems "
      "posed in Chinese). Seconds: the stages that made the model (sampling included, evaluation not). Seed {}.</p>",
      z.test_problems, 100 * z.chinese_fraction, z.eval_samples, z.eval_temperature, z.seed);
  html +=
      "<table><tr><th>stage</th><th>pass@1</th><th>format rate</th><th>language</th><th>language (zh)</th>"
      "<th>mean length (tokens)</th><th>seconds</th></tr>";
  for (const R1StageSummary& s : r.stages) {
    const EvalSummary& e = s.eval;
    html += fmt::format(
        "<tr><th>{}</th><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td><td>{}</td><td>{:.1f}</td>"
        "<td>{:.1f}</td></tr>",
        s.name, e.pass_at_1, e.format_rate, e.language_consistency,
        e.language_consistency_zh ? fmt::format("{:.3f}", *e.language_consistency_zh) : "-", e.mean_length, s.seconds);
  }
  html += "</table>";
  if (r.summary.contains("student_distilled_pass@1"))
    html += fmt::format(
        "<h2>Distillation vs RL on the student</h2><p>distilled from the final model: pass@1 <b>{:.3f}</b> in {:.0f} s "
        "(sampling the teacher + SFT); RL on the student: pass@1 <b>{:.3f}</b> in {:.0f} s.</p>",
        r.summary["student_distilled_pass@1"].get<double>(), r.summary["student_distilled_seconds"].get<double>(),
        r.summary["student_rl_pass@1"].get<double>(), r.summary["student_rl_seconds"].get<double>());
  for (const auto& [stage, rows] : rl_metrics) {
    html += fmt::format("<h2>{}, per step (training prompts)</h2><div>", stage);
    html += svg_chart("accuracy", rows, "rewards/accuracy/mean");
    html += svg_chart("language consistency", rows, "rewards/language_consistency/mean");
    html += "</div>";
  }
  return html + stage_times("Steps", r.work);
}

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
  return html + "</div>" + stage_times("Stages", r.stages);
}

}  // namespace r1::demo
