// Evaluation tasks from JSONL with open-r1's prompt functions (src/open_r1/evaluate.py): math
// (problem/solution, MATH_QUERY_TEMPLATE, gold extracted from the solution at scoring time), AIME
// (problem/answer, the same template), GPQA (Question / Correct Answer / Incorrect Answer 1..3 with
// simple-evals' "Answer: $LETTER" template) and generic (prompt/answer, the prompt as written); and
// multiple-choice questions for log-likelihood scoring in MMLU or C-Eval columns with the MMLU prompt.
// Departures:
//  1. GPQA's gold position is drawn per row from (seed, row index) instead of Python's global random state,
//     so a run is reproducible and independent of the row order of other tasks.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/jsonl.h"
#include "engine/sampler.h"
#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/eval.h"

namespace r1::eval {
using nlohmann::json;

TaskType parse_task_type(const std::string& name) {
  if (name == "math") return TaskType::kMath;
  if (name == "aime") return TaskType::kAime;
  if (name == "gpqa") return TaskType::kGpqa;
  if (name == "generic") return TaskType::kGeneric;
  fail_usage("unknown task type '{}' (expected auto, math, aime, gpqa or generic)", name);
}

const char* task_type_name(TaskType type) {
  switch (type) {
    case TaskType::kMath:
      return "math";
    case TaskType::kAime:
      return "aime";
    case TaskType::kGpqa:
      return "gpqa";
    case TaskType::kGeneric:
      return "generic";
  }
  return "?";
}

std::string math_query(const std::string& problem) {
  return "Solve the following math problem efficiently and clearly.  The last line of your response should be of "
         "the following format: 'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct' (without "
         "quotes) where ANSWER is just the final number or expression that solves the problem. Think step by step "
         "before answering.\n\n" +
         problem;
}

std::string gpqa_query(const std::string& question, const std::vector<std::string>& choices) {
  std::string letters, options;
  for (size_t i = 0; i < choices.size(); ++i) {
    letters += char('A' + i);
    options += fmt::format("\n{}) {}", char('A' + i), choices[i]);
  }
  return fmt::format(
      "Answer the following multiple choice question. The last line of your response should be of the following "
      "format: 'Answer: $LETTER' (without quotes) where LETTER is one of {}. Think step by step before "
      "answering.\n\n{}\n{}",
      letters, question, options);
}

namespace {

std::string text_column(const json& row, const char* name, const std::string& where) {
  auto it = row.find(name);
  if (it == row.end()) fail("{}: no column '{}'", where, name);
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();  // AIME answers are often integers
  fail("{}: column '{}' must be a string or a number", where, name);
}

TaskType detect_type(const json& row, const std::string& where) {
  if (row.contains("Correct Answer")) return TaskType::kGpqa;
  if (row.contains("problem") && row.contains("answer")) return TaskType::kAime;
  if (row.contains("problem") && row.contains("solution")) return TaskType::kMath;
  if (row.contains("prompt") && row.contains("answer")) return TaskType::kGeneric;
  fail(
      "{}: cannot tell the task type from the columns (expected problem+solution, problem+answer, GPQA's "
      "'Correct Answer', or prompt+answer); pass --task-type",
      where);
}

}  // namespace

Task load_task(const std::filesystem::path& path, const TaskOptions& options) {
  Task task;
  task.path = path;
  std::optional<TaskType> type;
  if (options.type != "auto") type = parse_task_type(options.type);
  std::unique_ptr<tokenizer::ChatTemplate> custom;
  if (!options.prompt_template.empty()) custom = std::make_unique<tokenizer::ChatTemplate>(options.prompt_template);
  size_t index = 0;
  const std::string source = path.string();
  for_each_jsonl_row(
      path,
      [&](const json& row, size_t line) {
        if (options.limit > 0 && int64_t(task.problems.size()) >= options.limit) return;
        const std::string where = fmt::format("{}:{}", source, line);
        if (!row.is_object()) fail("{}: not a JSON object", where);
        if (!type) type = detect_type(row, where);
        Problem p;
        p.line = line;
        switch (*type) {
          case TaskType::kMath:
            p.problem = text_column(row, "problem", where);
            p.prompt = math_query(p.problem);
            p.gold = text_column(row, "solution", where);
            break;
          case TaskType::kAime:
            p.problem = text_column(row, "problem", where);
            p.prompt = math_query(p.problem);
            p.gold = text_column(row, "answer", where);
            break;
          case TaskType::kGeneric:
            p.problem = p.prompt = text_column(row, "prompt", where);
            p.gold = text_column(row, "answer", where);
            break;
          case TaskType::kGpqa: {
            std::vector<std::string> wrong;
            for (const char* c : {"Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"})
              wrong.push_back(text_column(row, c, where));
            engine::SplitMix64 rng{engine::mix_seed(options.seed, index)};
            const size_t gold = size_t(rng.next() % 4);
            p.choices = wrong;
            p.choices.insert(p.choices.begin() + long(gold), text_column(row, "Correct Answer", where));
            p.gold = std::string(1, char('A' + gold));
            p.problem = text_column(row, "Question", where);
            p.prompt = gpqa_query(p.problem, p.choices);
            break;
          }
        }
        if (custom) p.prompt = custom->render(row).text;
        task.problems.push_back(std::move(p));
        ++index;
      },
      false);
  if (task.problems.empty()) fail("{}: no problems", source);
  task.type = *type;
  return task;
}

std::vector<ChoiceQuestion> load_choice_questions(const std::filesystem::path& path, int64_t limit) {
  std::vector<ChoiceQuestion> out;
  const std::string source = path.string();
  for_each_jsonl_row(
      path,
      [&](const json& row, size_t line) {
        if (limit > 0 && int64_t(out.size()) >= limit) return;
        const std::string where = fmt::format("{}:{}", source, line);
        if (!row.is_object()) fail("{}: not a JSON object", where);
        ChoiceQuestion q;
        q.line = line;
        q.question = text_column(row, "question", where);
        if (row.contains("subject") && row["subject"].is_string()) q.subject = row["subject"].get<std::string>();
        if (row.contains("choices")) {
          if (!row["choices"].is_array()) fail("{}: 'choices' must be a list", where);
          for (const json& c : row["choices"]) q.choices.push_back(c.is_string() ? c.get<std::string>() : c.dump());
        } else {
          for (char c = 'A'; c <= 'Z' && row.contains(std::string(1, c)); ++c)
            q.choices.push_back(text_column(row, std::string(1, c).c_str(), where));
        }
        if (q.choices.size() < 2 || q.choices.size() > 26)
          fail("{}: expected 2..26 choices ('choices' list or columns A, B, ...), found {}", where, q.choices.size());
        auto it = row.find("answer");
        if (it == row.end()) fail("{}: no column 'answer'", where);
        if (it->is_number_integer()) {
          q.answer = it->get<int64_t>();
        } else if (it->is_string() && it->get<std::string>().size() == 1) {
          q.answer = int64_t(it->get<std::string>()[0] - 'A');
        } else {
          fail("{}: 'answer' must be a choice index or a letter, found {}", where, it->dump());
        }
        if (q.answer < 0 || q.answer >= int64_t(q.choices.size()))
          fail("{}: answer {} is not one of the {} choices", where, it->dump(), q.choices.size());
        out.push_back(std::move(q));
      },
      false);
  if (out.empty()) fail("{}: no questions", source);
  return out;
}

namespace {

std::string format_question(const ChoiceQuestion& q) {
  std::string s = q.question;
  for (size_t i = 0; i < q.choices.size(); ++i) s += fmt::format("\n{}. {}", char('A' + i), q.choices[i]);
  return s + "\nAnswer:";
}

}  // namespace

std::string choice_prompt(const std::vector<ChoiceQuestion>& shots, const ChoiceQuestion& question) {
  std::string s;
  if (!question.subject.empty()) {
    std::string subject = question.subject;  // MMLU's "high_school_physics" -> "high school physics"
    std::replace(subject.begin(), subject.end(), '_', ' ');
    s = fmt::format("The following are multiple choice questions (with answers) about {}.\n\n", subject);
  }
  for (const ChoiceQuestion& shot : shots) s += format_question(shot) + fmt::format(" {}\n\n", char('A' + shot.answer));
  return s + format_question(question);
}

}  // namespace r1::eval
