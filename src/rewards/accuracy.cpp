// The `accuracy` reward: open-r1's accuracy_reward. The gold answer is the example's "solution" column (else
// "answer"); the completion scores 1.0 when r1::verify judges its answer equivalent, else 0.0. It verifies as
// open-r1 does by default (r1::verify preset "open-r1": the answer only from LaTeX, boxes first, so a
// plain-text "The answer is 6" scores 0), so a ported open-r1 recipe gets open-r1's rewards; {"preset":
// "math-verify"} reads answers as Math-Verify's defaults, and every verify option is a parameter of its own
// ({"float_rounding": 4, "targets": ["latex", "expr"]}), applied after the preset.
// Departures from open-r1:
//   1. An unparseable gold answer makes the reward not applicable (nullopt) instead of 1.0, which would pay a
//      completion for anything (reward hacking); {"unparseable_gold_is_correct": true} restores open-r1's 1.0.
//   2. A verification that times out scores 0.0 (open-r1 also gives 0.0 when math_verify raises).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "r1/error.h"
#include "r1/verify.h"
#include "rewards/families.h"

namespace r1::rewards {
using nlohmann::json;

namespace {

struct AccuracyParams {
  verify::VerifyOptions options;
  bool unparseable_gold_is_correct = false;
  int threads = 0;  // verify_batch threads (0: one per hardware thread)
};

// A parameter's value as the text set_verify_option takes: strings as they are, lists joined by commas.
std::string option_text(const json& value, const std::string& key) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean() || value.is_number()) return value.dump();  // true / false, 4, 0.5
  if (value.is_array()) {
    std::string out;
    for (const json& v : value) {
      if (!v.is_string()) fail_usage("reward 'accuracy': '{}' entries must be strings", key);
      if (!out.empty()) out += ',';
      out += v.get<std::string>();
    }
    return out;
  }
  fail_usage("reward 'accuracy': '{}' must be a string, number, boolean or list of strings", key);
}

AccuracyParams parse_params(const json& params) {
  std::set<std::string> known = {"unparseable_gold_is_correct", "threads", "preset"};
  for (const verify::VerifyOptionInfo& o : verify::verify_option_list()) known.insert(std::string(o.name));
  std::vector<std::string> unknown;
  for (const auto& [key, value] : params.items())
    if (!known.count(key)) unknown.push_back(key);
  if (!unknown.empty())
    fail_usage("reward 'accuracy': unknown parameter(s) {} (known: {})", fmt::join(unknown, ", "),
               fmt::join(known, ", "));
  AccuracyParams p;
  std::string preset = "open-r1";
  try {
    if (params.contains("unparseable_gold_is_correct"))
      p.unparseable_gold_is_correct = params["unparseable_gold_is_correct"].get<bool>();
    if (params.contains("threads")) p.threads = params["threads"].get<int>();
    if (params.contains("preset")) preset = params["preset"].get<std::string>();
  } catch (const json::exception& e) {
    fail_usage("reward 'accuracy': bad parameter type: {}", e.what());
  }
  if (p.threads < 0) fail_usage("reward 'accuracy': threads must be >= 0");
  try {
    p.options = verify::verify_preset(preset);
    // targets first: the other extraction options act on the targets there are
    for (const char* first : {"targets", "gold_targets"})
      if (params.contains(first)) verify::set_verify_option(p.options, first, option_text(params[first], first));
    for (const auto& [key, value] : params.items()) {
      if (key == "targets" || key == "gold_targets" || key == "preset" || key == "threads" ||
          key == "unparseable_gold_is_correct")
        continue;
      verify::set_verify_option(p.options, key, option_text(value, key));
    }
  } catch (const UsageError& e) {
    fail_usage("reward 'accuracy': {}", e.what());
  }
  return p;
}

std::optional<std::string> gold_of(const json& example) {
  for (const char* column : {"solution", "answer"})
    if (example.is_object() && example.contains(column)) {
      const json& v = example[column];
      if (v.is_string()) return v.get<std::string>();
      if (v.is_number()) return v.dump();
    }
  return std::nullopt;
}

RewardFn make_accuracy(const json& params) {
  AccuracyParams p = parse_params(params);
  return [p](const std::vector<std::string>& completions, const std::vector<json>& examples) {
    if (completions.size() != examples.size())
      fail("reward 'accuracy': {} completions but {} examples", completions.size(), examples.size());
    std::vector<std::pair<std::string, std::string>> pairs;
    std::vector<size_t> index;
    std::vector<Score> scores(completions.size());
    for (size_t i = 0; i < completions.size(); ++i) {
      auto gold = gold_of(examples[i]);
      if (!gold) fail("reward 'accuracy': example {} has no 'solution' or 'answer' column (a string or a number)", i);
      pairs.emplace_back(std::move(*gold), completions[i]);
      index.push_back(i);
    }
    auto results = verify::verify_batch(pairs, p.options, p.threads);
    for (size_t k = 0; k < results.size(); ++k) {
      switch (results[k].verdict) {
        case verify::Verdict::kCorrect:
          scores[index[k]] = 1.0;
          break;
        case verify::Verdict::kUnparseableGold:
          if (p.unparseable_gold_is_correct) scores[index[k]] = 1.0;
          break;
        default:
          scores[index[k]] = 0.0;
      }
    }
    return scores;
  };
}

}  // namespace

std::vector<RewardInfo> accuracy_rewards() {
  return {{"accuracy",
           "1 if the completion's final answer is mathematically equivalent to the gold solution (Math-Verify rules)",
           make_accuracy, [](const json& example) {
             if (!gold_of(example))
               fail("reward 'accuracy' needs a 'solution' or 'answer' column (a string or a number)");
           }}};
}

}  // namespace r1::rewards
