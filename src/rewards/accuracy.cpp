// The `accuracy` reward: open-r1's accuracy_reward. The gold answer is the example's "solution" column (else
// "answer"); the completion scores 1.0 when r1::verify judges its answer equivalent, else 0.0.
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

std::vector<verify::ExtractionTarget> targets_param(const json& value, const std::string& key) {
  if (!value.is_array() || value.empty()) fail_usage("reward 'accuracy': '{}' must be a non-empty list of names", key);
  std::vector<verify::ExtractionTarget> out;
  for (const json& v : value) {
    if (!v.is_string()) fail_usage("reward 'accuracy': '{}' entries must be strings", key);
    try {
      out.push_back(verify::parse_extraction_target(v.get<std::string>()));
    } catch (const UsageError& e) {
      fail_usage("reward 'accuracy': '{}': {}", key, e.what());
    }
  }
  return out;
}

AccuracyParams parse_params(const json& params) {
  static const std::set<std::string> kKnown = {
      "unparseable_gold_is_correct", "timeout_seconds", "float_rounding", "extraction_order",
      "gold_extraction_order",       "threads"};
  std::vector<std::string> unknown;
  for (const auto& [key, value] : params.items())
    if (!kKnown.count(key)) unknown.push_back(key);
  if (!unknown.empty())
    fail("reward 'accuracy': unknown parameter(s) {} (known: {})", fmt::join(unknown, ", "), fmt::join(kKnown, ", "));
  AccuracyParams p;
  try {
    if (params.contains("unparseable_gold_is_correct"))
      p.unparseable_gold_is_correct = params["unparseable_gold_is_correct"].get<bool>();
    if (params.contains("timeout_seconds")) p.options.timeout_seconds = params["timeout_seconds"].get<double>();
    if (params.contains("float_rounding")) p.options.float_rounding = params["float_rounding"].get<int>();
    if (params.contains("threads")) p.threads = params["threads"].get<int>();
  } catch (const json::exception& e) {
    fail_usage("reward 'accuracy': bad parameter type: {}", e.what());
  }
  if (!(p.options.timeout_seconds > 0)) fail_usage("reward 'accuracy': timeout_seconds must be > 0");
  if (p.options.float_rounding < 0 || p.options.float_rounding > 15)
    fail_usage("reward 'accuracy': float_rounding must be in [0, 15]");
  if (p.threads < 0) fail_usage("reward 'accuracy': threads must be >= 0");
  if (params.contains("extraction_order"))
    p.options.answer_extraction.targets = targets_param(params["extraction_order"], "extraction_order");
  if (params.contains("gold_extraction_order"))
    p.options.gold_extraction.targets = targets_param(params["gold_extraction_order"], "gold_extraction_order");
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
