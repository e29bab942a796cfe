// `r1 verify`: check a model's math answer against a gold answer (r1/verify.h, Math-Verify's rules), once
// (--gold G --pred P: prints the verdict and both extracted answers; exit 0 correct, 1 any other verdict) or
// over a JSONL file (--input: one result per row to --out, a summary with verifications per second; exit 0).
// --preset picks Math-Verify's defaults (math-verify) or open-r1's accuracy_reward (open-r1); every option of
// r1::verify::verify_option_list() is also a flag (--float-rounding 4, --gold-extraction-mode first_match),
// applied after the preset. The global --threads sets the batch's threads. Usage errors exit 2.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"
#include "r1/verify.h"

namespace r1::cli {
using nlohmann::json;

namespace {

struct VerifyCommandOptions {
  std::string gold, pred, input, out, gold_column, pred_column = "completion", preset = "math-verify";
  bool overwrite = false;
  std::map<std::string, std::string> values;  // what CLI11 parsed, by option name
};

std::string flag_of(std::string_view name) {
  std::string flag = "--" + std::string(name);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

// A cell as text: strings as they are, numbers printed, a chat completion's last message content.
std::string cell_text(const json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  if (value.is_array() && !value.empty() && value.back().is_object() && value.back().contains("content") &&
      value.back()["content"].is_string())
    return value.back()["content"].get<std::string>();
  fail("{}: expected a string, a number or a list of messages, found {}", where, value.type_name());
}

int run_single(const VerifyCommandOptions& o, const verify::VerifyOptions& options) {
  auto r = verify::verify(o.gold, o.pred, options);
  fmt::print("verdict  {}\ngold     {}\nanswer   {}\ndetail   {}\ntime     {:.2f} ms\n",
             verify::verdict_name(r.verdict), r.gold, r.answer, r.detail, r.seconds * 1e3);
  return r.verdict == verify::Verdict::kCorrect ? 0 : 1;
}

int run_batch(const Invocation& ctx, const VerifyCommandOptions& o, const verify::VerifyOptions& options) {
  if (!o.out.empty() && std::filesystem::exists(o.out) && !std::filesystem::is_regular_file(o.out))
    fail_usage("--out {}: exists and is not a regular file", o.out);
  if (!o.out.empty() && std::filesystem::exists(o.out) && !o.overwrite)
    fail_usage("--out {} exists (add --overwrite to replace it)", o.out);
  require_regular_file(o.input);
  std::ifstream in(o.input);
  if (!in) fail("{}: cannot open", o.input);
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = fmt::format("{}:{}", o.input, number);
    const json row = parse_json(line, where);
    if (!row.is_object()) fail("{}: expected a JSON object", where);
    std::string gold_column =
        o.gold_column.empty() ? (row.contains("solution") ? "solution" : "answer") : o.gold_column;
    for (const std::string& column : {gold_column, o.pred_column})
      if (!row.contains(column)) fail("{}: no column '{}'", where, column);
    pairs.emplace_back(cell_text(row[gold_column], where + " " + gold_column),
                       cell_text(row[o.pred_column], where + " " + o.pred_column));
  }
  if (pairs.empty()) fail("{}: no rows (the input is empty)", o.input);
  auto start = std::chrono::steady_clock::now();
  auto results = verify::verify_batch(pairs, options, ctx.runtime.threads);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t counts[5] = {0, 0, 0, 0, 0};
  std::string lines;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    ++counts[int(r.verdict)];
    lines += json{{"row", i},           {"verdict", verify::verdict_name(r.verdict)},
                  {"gold", r.gold},     {"answer", r.answer},
                  {"detail", r.detail}, {"seconds", r.seconds}}
                 .dump(-1, ' ', false, json::error_handler_t::replace) +  // texts cut mid-character stay one row
             "\n";
  }
  if (!o.out.empty()) write_file_atomic(o.out, lines);
  fmt::print("rows {}: correct {}, wrong {}, no answer {}, unparseable gold {}, timeout {}\n", results.size(),
             counts[int(verify::Verdict::kCorrect)], counts[int(verify::Verdict::kWrong)],
             counts[int(verify::Verdict::kNoAnswer)], counts[int(verify::Verdict::kUnparseableGold)],
             counts[int(verify::Verdict::kTimeout)]);
  fmt::print("{:.1f} verifications/s ({:.3f} s, {} threads)\n", seconds > 0 ? results.size() / seconds : 0.0, seconds,
             parallel_workers(results.size(), ctx.runtime.threads));
  return 0;
}

}  // namespace

void add_verify_command(CLI::App& app, Invocation& ctx) {
  auto opts = std::make_shared<VerifyCommandOptions>();
  CLI::App* cmd = app.add_subcommand("verify", "check math answers against gold answers (Math-Verify rules)");
  cmd->add_option("--gold", opts->gold, "gold answer or solution text (single check)");
  cmd->add_option("--pred", opts->pred, "model output to check (single check)");
  cmd->add_option("--input", opts->input, "JSONL rows to check (batch)")->check(CLI::ExistingFile);
  cmd->add_option("--gold-column", opts->gold_column, "gold column (default: solution, else answer)");
  cmd->add_option("--pred-column", opts->pred_column, "model output column")->capture_default_str();
  cmd->add_option("--out", opts->out, "JSONL results, one per input row (batch)");
  cmd->add_flag("--overwrite", opts->overwrite, "replace an existing --out");
  cmd->add_option("--preset", opts->preset, "math-verify (Math-Verify's defaults) or open-r1 (its accuracy_reward)")
      ->capture_default_str()
      ->check(CLI::IsMember({"math-verify", "open-r1"}));
  cmd->add_option("--timeout", opts->values["timeout_seconds"], "seconds allowed per verification (default 5)")
      ->type_name("SECONDS");
  for (const verify::VerifyOptionInfo& o : verify::verify_option_list()) {
    if (o.name == "timeout_seconds") continue;
    cmd->add_option(flag_of(o.name), opts->values[std::string(o.name)], std::string(o.help))
        ->type_name(std::string(o.value));
  }
  cmd->footer(
      "\nThe preset is applied first, then each option given. Extraction options without gold- set how the\n"
      "model output is read; with gold- how the gold answer is. Targets: latex (\\boxed{}, $...$, \\(...\\),\n"
      "\\[...\\]), expr (plain numbers and arithmetic), string (--strings A,B,C,D). Batch threads: the global\n"
      "--threads N (before or after `verify`; 0 = one per physical core).\n");
  cmd->callback([&ctx, opts, cmd] {
    ctx.run = [&ctx, opts, cmd] {
      verify::VerifyOptions options = verify::verify_preset(opts->preset);
      // targets first (the other extraction options act on the targets there are), then the rest
      for (std::string_view first : {"targets", "gold_targets", ""})
        for (const auto& [name, value] : opts->values) {
          const bool is_first = name == "targets" || name == "gold_targets";
          if ((first.empty() ? is_first : name != first) ||
              cmd->count(name == "timeout_seconds" ? "--timeout" : flag_of(name)) == 0)
            continue;
          try {
            verify::set_verify_option(options, name, value);
          } catch (const UsageError& e) {  // name the flag, not the option
            std::string message = e.what();
            const std::string prefix = "verify option '" + name + "': ";
            if (message.compare(0, prefix.size(), prefix) == 0) message.erase(0, prefix.size());
            fail_usage("{}: {}", name == "timeout_seconds" ? "--timeout" : flag_of(name), message);
          }
        }
      bool single = !opts->gold.empty() || !opts->pred.empty();
      if (single && !opts->input.empty()) fail_usage("give either --gold and --pred, or --input, not both");
      if (!opts->input.empty()) return run_batch(ctx, *opts, options);
      if (opts->gold.empty() || opts->pred.empty()) fail_usage("give --gold and --pred (or --input rows.jsonl)");
      return run_single(*opts, options);
    };
  });
}

}  // namespace r1::cli
