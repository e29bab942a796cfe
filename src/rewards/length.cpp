// Length rewards after open-r1's rewards.py: cosine (get_cosine_scaled_reward), length (len_reward, Kimi k1.5
// §2.3.3) and soft_overlong_punishment (DAPO eq. 13); formulas at each factory. Lengths are Unicode code points
// (Python's len(str)) unless tokens are counted. Correct = the "accuracy" reward's score > 0.5, that reward built
// from the parameters these do not use, so all rewards agree on what "correct" means. Departures from open-r1:
// (1) cosine clamps L / max_len at 1 (open-r1's cos keeps oscillating: 2 x max_len scores like an empty answer);
// (2) cosine is nullopt where accuracy is (unparseable gold; open-r1 gives 1.0); length counts those as correct, as
// open-r1; (3) length groups by prompt (equal example rows) as Kimi defines it, group_by: batch = open-r1's whole
// batch; (4) soft_overlong_punishment reads token counts from completion_ids / completion_length, or counts chars.
#include <cmath>
#include <map>
#include <numbers>

#include "rewards/families.h"
#include "rewards/params.h"
#include "tokenizer/unicode.h"

namespace r1::rewards {

namespace {
// The accuracy reward that decides correctness, from the parameters `reward` did not use.
RewardFn make_accuracy_for(const Params& p) {
  try {
    return make_reward("accuracy", p.rest());
  } catch (const Error& e) {
    fail_usage("reward '{}': {} (parameters '{}' does not know go to its accuracy reward)", p.reward(), e.what(),
               p.reward());
  }
}

int64_t code_points(std::string_view s) {
  int64_t n = 0;
  for (size_t pos = 0; pos < s.size(); ++n) tokenizer::next_code_point(s, pos);
  return n;
}

// p = min(L / cosine_max_len, 1); r = lo + (hi - lo)(1 + cos(pi p)) / 2 with (lo, hi) = (min_value_correct,
// max_value_correct) when correct, (max_value_wrong, min_value_wrong) when wrong.
RewardFn make_cosine(const nlohmann::json& params) {
  Params p("cosine", params);
  const double min_wrong = p.number("cosine_min_value_wrong", -1.0);
  const double max_wrong = p.number("cosine_max_value_wrong", -0.5);
  const double min_correct = p.number("cosine_min_value_correct", 0.5);
  const double max_correct = p.number("cosine_max_value_correct", 1.0);
  const double max_len = p.number("cosine_max_len", 1000);
  if (!(max_len > 0)) fail_usage("reward 'cosine': cosine_max_len must be > 0, found {}", max_len);
  RewardFn accuracy = make_accuracy_for(p);
  return [=](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("cosine", completions.size(), examples.size());
    std::vector<Score> correct = accuracy(completions, examples);
    std::vector<Score> out(completions.size());
    for (size_t i = 0; i < completions.size(); ++i) {
      if (!correct[i]) continue;
      double progress = std::min(double(code_points(completions[i])) / max_len, 1.0);
      double cosine = std::cos(progress * std::numbers::pi);
      bool ok = *correct[i] > 0.5;
      double lo = ok ? min_correct : max_wrong, hi = ok ? max_correct : min_wrong;
      out[i] = lo + 0.5 * (hi - lo) * (1.0 + cosine);
    }
    return out;
  };
}

// lambda = 0.5 - (L - min L) / (max L - min L) within the group; correct: lambda, wrong: min(0, lambda); a group
// whose lengths are all equal scores 0.
RewardFn make_length(const nlohmann::json& params) {
  Params p("length", params);
  const std::string group_by = p.string("group_by", "prompt");
  if (group_by != "prompt" && group_by != "batch")
    fail_usage("reward 'length': group_by must be 'prompt' or 'batch', found '{}'", group_by);
  RewardFn accuracy = make_accuracy_for(p);
  const bool by_prompt = group_by == "prompt";
  return [=](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("length", completions.size(), examples.size());
    std::vector<Score> correct = accuracy(completions, examples);
    std::map<std::string, std::vector<size_t>> groups;  // example row (dumped) -> completion indices
    for (size_t i = 0; i < completions.size(); ++i) groups[by_prompt ? examples[i].dump() : ""].push_back(i);
    std::vector<Score> out(completions.size(), 0.0);
    for (const auto& [key, members] : groups) {
      std::vector<int64_t> lengths;
      for (size_t i : members) lengths.push_back(code_points(completions[i]));
      auto [lo, hi] = std::minmax_element(lengths.begin(), lengths.end());
      if (*lo == *hi) continue;
      for (size_t k = 0; k < members.size(); ++k) {
        double lambda = 0.5 - double(lengths[k] - *lo) / double(*hi - *lo);
        bool ok = !correct[members[k]] || *correct[members[k]] > 0.5;
        out[members[k]] = ok ? lambda : std::min(0.0, lambda);
      }
    }
    return out;
  };
}

// 0 if L <= Lmax - C; (Lmax - C - L) / C if L <= Lmax; -1 beyond (Lmax = max_completion_len, C = soft_punish_cache).
RewardFn make_soft_overlong(const nlohmann::json& params) {
  Params p("soft_overlong_punishment", params);
  const int64_t max_len = p.integer("max_completion_len", 16384);
  const int64_t cache = p.integer("soft_punish_cache", 4096);
  const std::string unit = p.string("length_unit", "tokens");
  p.finish();
  if (max_len <= 0) fail_usage("reward 'soft_overlong_punishment': max_completion_len must be > 0, found {}", max_len);
  if (cache < 0 || cache > max_len)
    fail_usage("reward 'soft_overlong_punishment': soft_punish_cache must be in [0, max_completion_len = {}], found {}",
               max_len, cache);
  if (unit != "tokens" && unit != "chars")
    fail_usage("reward 'soft_overlong_punishment': length_unit must be 'tokens' or 'chars', found '{}'", unit);
  const bool tokens = unit == "tokens";
  return [=](const std::vector<std::string>& completions, const std::vector<nlohmann::json>& examples) {
    check_batch("soft_overlong_punishment", completions.size(), examples.size());
    std::vector<Score> out;
    for (size_t i = 0; i < completions.size(); ++i) {
      int64_t length;
      if (!tokens) {
        length = code_points(completions[i]);
      } else if (auto it = examples[i].find("completion_ids"); it != examples[i].end() && it->is_array()) {
        length = int64_t(it->size());
      } else if (auto jt = examples[i].find("completion_length"); jt != examples[i].end() && jt->is_number_integer()) {
        length = jt->get<int64_t>();
      } else {
        fail_usage(
            "reward 'soft_overlong_punishment': length_unit 'tokens' needs a 'completion_ids' array or an integer "
            "'completion_length' in example {} (set length_unit: chars to count characters instead)",
            i);
      }
      if (length <= max_len - cache)
        out.push_back(0.0);
      else if (length <= max_len)
        out.push_back(double(max_len - cache - length) / double(cache));
      else
        out.push_back(-1.0);
    }
    return out;
  };
}
}  // namespace

std::vector<RewardInfo> length_rewards() {
  return {
      {"cosine", "accuracy scaled by length on a cosine schedule: short correct best, short wrong worst (open-r1)",
       make_cosine},
      {"length", "Kimi k1.5 length reward within each prompt's group: 0.5 - (L - min)/(max - min), wrong capped at 0",
       make_length},
      {"soft_overlong_punishment", "DAPO: 0 up to max_completion_len - soft_punish_cache, then linear down to -1",
       make_soft_overlong},
  };
}

}  // namespace r1::rewards
