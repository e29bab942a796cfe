// Format rewards, as open-r1's src/open_r1/rewards.py (format_reward, tag_count_reward, reasoning_steps_reward):
//   format:          1 if re.match(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", c, DOTALL|MULTILINE)
//                    else 0. MULTILINE makes `$` also match before any "\n", so text after "</answer>\n" passes
//                    too; both are open-r1's behaviour, kept so scores agree with it.
//   tag_count:       0.25 for each of "<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>" that occurs exactly
//                    once (non-overlapping count, as str.count).
//   reasoning_steps: min(1, n / 3), n = non-overlapping matches of (Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,
//                    |Finally,) without flags (so ^ is the start of the text only; \d is any Unicode digit, as Python).
#include <string>
#include <string_view>

#include "rewards/families.h"
#include "rewards/params.h"
#include "tokenizer/regex.h"

namespace r1::rewards {

namespace {
using tokenizer::Regex;

// "(*LF)": `$` under (?m) means before "\n" or at the end, as Python's re.
constexpr const char* kFormatPattern = "(*LF)(?sm)\\A<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$";
constexpr const char* kStepsPattern = "(*LF)(Step \\d+:|^\\d+\\.|\\n-|\\n\\*|First,|Second,|Next,|Finally,)";

size_t count_occurrences(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string_view::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

RewardFn make_format(const nlohmann::json& params) {
  Params(std::string("format"), params).finish();
  auto regex = std::make_shared<Regex>(kFormatPattern);
  return [regex](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("format", completions.size(), examples.size());
    std::vector<Score> out;
    for (const std::string& c : completions) {
      auto matches = regex->find_all(c);
      out.push_back(!matches.empty() && matches[0].first == 0 ? 1.0 : 0.0);
    }
    return out;
  };
}

RewardFn make_tag_count(const nlohmann::json& params) {
  Params(std::string("tag_count"), params).finish();
  return [](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("tag_count", completions.size(), examples.size());
    std::vector<Score> out;
    for (const std::string& c : completions) {
      double score = 0;
      for (std::string_view tag : {"<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>"})
        if (count_occurrences(c, tag) == 1) score += 0.25;
      out.push_back(score);
    }
    return out;
  };
}

RewardFn make_reasoning_steps(const nlohmann::json& params) {
  Params(std::string("reasoning_steps"), params).finish();
  auto regex = std::make_shared<Regex>(kStepsPattern);
  return [regex](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("reasoning_steps", completions.size(), examples.size());
    std::vector<Score> out;
    for (const std::string& c : completions) out.push_back(std::min(1.0, double(regex->find_all(c).size()) / 3.0));
    return out;
  };
}
}  // namespace

std::vector<RewardInfo> format_rewards() {
  return {
      {"format", "1 if the completion is <think>\\n...\\n</think>\\n<answer>\\n...\\n</answer> (open-r1), else 0",
       make_format},
      {"tag_count", "0.25 per think/answer tag that appears exactly once, newlines included (open-r1)", make_tag_count},
      {"reasoning_steps", "min(1, step markers / 3): 'Step n:', numbered lines, bullets, First/Next/Finally (open-r1)",
       make_reasoning_steps},
  };
}

}  // namespace r1::rewards
