// The built-in addition task (see r1/synthetic-tasks.h): problem generation with a held-out split and the two solution
// styles of the demo's pretraining corpus. A careful solution spells out each column, least significant first:
//   <think>\n7 + 8 = 15, write 5 carry 1\n4 + 3 + 1 = 8, write 8\n</think>\n<answer>\n85\n</answer>
// The answer is the written digits read bottom-up; there is no restating line ("so 47 + 38 = 85"): a small model
// miscopies the operands there, and the shorter solution (~35 tokens) leaves more pretraining tokens for the columns.
// In Chinese the same columns read "7 + 8 = 15，写 5 进 1" (write 5, carry 1) and a guess "直接猜" (just guess).
#include "r1/synthetic-tasks.h"

#include <fmt/format.h>

#include <algorithm>

#include "r1/error.h"

namespace r1::data {

TaskSplits make_addition_task(const AdditionTaskOptions& o) {
  if (o.min_operand < 0 || o.max_operand < o.min_operand)
    fail_usage("addition task: operand range [{}, {}] is empty", o.min_operand, o.max_operand);
  std::vector<TaskProblem> all;
  for (int64_t a = o.min_operand; a <= o.max_operand; ++a)
    for (int64_t b = o.min_operand; b <= o.max_operand; ++b)
      all.push_back({fmt::format("What is {} + {}?", a, b), std::to_string(a + b), a, b});
  if (!(o.chinese_fraction >= 0 && o.chinese_fraction <= 1))
    fail_usage("addition task: chinese_fraction must be in [0, 1], got {}", o.chinese_fraction);
  if (o.test_problems < 0 || o.test_problems >= int64_t(all.size()))
    fail_usage("addition task: {} held-out problems out of {} leaves none to train on", o.test_problems, all.size());
  std::mt19937_64 rng(o.seed);
  std::shuffle(all.begin(), all.end(), rng);
  if (o.chinese_fraction > 0) {
    std::mt19937_64 language_rng(o.seed ^ 0x7a68'0000'0000ULL);
    std::bernoulli_distribution chinese(o.chinese_fraction);
    for (TaskProblem& p : all)
      if (chinese(language_rng)) {
        p.problem = fmt::format("{} 加 {} 等于多少？", p.a, p.b);
        p.language = "zh";
      }
  }
  TaskSplits s;
  s.test.assign(all.begin(), all.begin() + o.test_problems);
  s.train.assign(all.begin() + o.test_problems, all.end());
  return s;
}

std::string addition_solution(const TaskProblem& p, bool careful, std::mt19937_64& rng,
                              const std::string& cot_language) {
  if (cot_language != "en" && cot_language != "zh")
    fail_usage("addition task: a chain of thought is written in en or zh, not '{}'", cot_language);
  const bool zh = cot_language == "zh";
  const int64_t sum = p.a + p.b;
  if (!careful) {
    std::uniform_int_distribution<int64_t> offset(1, 10), sign(0, 1), layout(0, 9);
    const int64_t guess = std::max<int64_t>(0, sum + (sign(rng) ? offset(rng) : -offset(rng)));
    const char* words = zh ? "直接猜" : "quick guess";
    if (layout(rng) < 3) return fmt::format("<think> {} </think> <answer>{}</answer>", words, guess);
    return fmt::format("<think>\n{}\n</think>\n<answer>\n{}\n</answer>", words, guess);
  }
  const char* write = zh ? "，写 " : ", write ";
  const char* carry_one = zh ? " 进 1" : " carry 1";
  std::string steps;
  int64_t a = p.a, b = p.b, carry = 0;
  while (a > 0 || b > 0) {
    const int64_t da = a % 10, db = b % 10, column = da + db + carry;
    a /= 10;
    b /= 10;
    const bool last = a == 0 && b == 0;
    steps +=
        carry ? fmt::format("{} + {} + {} = {}", da, db, carry, column) : fmt::format("{} + {} = {}", da, db, column);
    if (last)
      steps += fmt::format("{}{}\n", write, column);
    else if (column >= 10)
      steps += fmt::format("{}{}{}\n", write, column % 10, carry_one);
    else
      steps += fmt::format("{}{}\n", write, column);
    carry = column >= 10 ? 1 : 0;
  }
  return fmt::format("<think>\n{}</think>\n<answer>\n{}\n</answer>", steps, sum);
}

}  // namespace r1::data
