// Built-in synthetic reasoning tasks with exactly checkable answers, generated from a seed (what `r1 demo` trains
// on; src/data/synthetic-tasks.cpp). Addition: "What is 47 + 38?" with gold answer "85". Worked solutions come in the
// R1 format "<think>\n...\n</think>\n<answer>\n...\n</answer>" in two styles: careful (column addition with
// carries, always right) and a quick guess (a plausible wrong number, sometimes without the newline layout the
// open-r1 format reward asks for). A corpus that mixes them gives a base model that can solve the task but
// often does not: the situation R1-Zero's RL starts from. Bilingual variant (`chinese_fraction` > 0, for the R1
// demo's language-consistency reward): some problems are posed in Chinese ("47 加 38 等于多少？"), and a worked
// solution's chain of thought can be written in either language ("7 + 8 = 15，写 5 进 1").
//
// Usage:
//   r1::data::TaskSplits splits = r1::data::make_addition_task({.seed = 0, .test_problems = 200});
//   std::mt19937_64 rng(0);
//   std::string worked = r1::data::addition_solution(splits.train[0], /*careful=*/true, rng);
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace r1::data {

// ---- Problems and their splits --------------------------------------------------------------------------------------

struct TaskProblem {
  std::string problem;  // the question
  std::string answer;   // the gold answer
  int64_t a = 0, b = 0;
  std::string language = "en";  // the language the problem is posed in: en | zh
};

struct AdditionTaskOptions {
  uint64_t seed = 0;
  int64_t min_operand = 10, max_operand = 99;
  int64_t test_problems = 200;  // held out: never in the training split
  double chinese_fraction = 0;  // share of problems posed in Chinese (0: all English, as the R1-Zero demo)
};

struct TaskSplits {
  std::vector<TaskProblem> train, test;
};

// Every pair (a, b) of the operand range, shuffled by the seed; the first test_problems are held out. With
// chinese_fraction > 0 each problem is posed in Chinese with that probability (drawn from a second generator, so
// the order and the English problems are those of chinese_fraction 0).
TaskSplits make_addition_task(const AdditionTaskOptions& options);

// ---- Worked solutions (the pretraining corpus) ----------------------------------------------------------------------
// A worked solution for the problem: careful (column-by-column with carries, ends with the right answer) or a
// quick guess (wrong by 1..10; with probability 0.3 on one line, which fails the format reward). The chain of thought
// is written in `cot_language` (en | zh), whatever language the problem was posed in.
std::string addition_solution(const TaskProblem& problem, bool careful, std::mt19937_64& rng,
                              const std::string& cot_language = "en");

}  // namespace r1::data
