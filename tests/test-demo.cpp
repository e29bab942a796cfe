// The R1 demo (src/pipeline/demo-r1.cpp) and its bilingual task (src/data/synthetic-tasks.cpp): problems posed in
// Chinese without changing the English ones, worked solutions thinking in either language, and the whole recipe at
// toy sizes (single-digit sums, so even a model trained for seconds gets some right and rejection sampling keeps
// something): every stage runs, summary.json holds every stage's numbers, a second run skips everything and
// reports the same, and a stage whose output is removed runs again to the same numbers.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/demo.h"
#include "r1/error.h"
#include "r1/synthetic-tasks.h"
#include "test-helpers.h"

namespace fs = std::filesystem;

namespace {

TEST(BilingualTask, ChineseProblemsLeaveTheEnglishOnesAlone) {
  r1::data::TaskSplits english = r1::data::make_addition_task({.seed = 3, .test_problems = 50});
  r1::data::TaskSplits mixed = r1::data::make_addition_task({.seed = 3, .test_problems = 50, .chinese_fraction = 0.3});
  ASSERT_EQ(mixed.train.size(), english.train.size());
  size_t chinese = 0;
  for (size_t i = 0; i < mixed.train.size(); ++i) {
    const auto &m = mixed.train[i], &e = english.train[i];
    EXPECT_EQ(m.answer, e.answer);
    if (m.language == "zh") {
      ++chinese;
      EXPECT_EQ(m.problem, fmt::format("{} 加 {} 等于多少？", m.a, m.b));
    } else {
      EXPECT_EQ(m.problem, e.problem);
      EXPECT_EQ(m.language, "en");
    }
  }
  EXPECT_NEAR(double(chinese) / double(mixed.train.size()), 0.3, 0.03);
  R1_EXPECT_THROW_WITH(r1::data::make_addition_task({.chinese_fraction = 1.5}), r1::UsageError, "chinese_fraction");

  std::mt19937_64 rng(0);
  r1::data::TaskProblem p{"47 加 38 等于多少？", "85", 47, 38, "zh"};
  EXPECT_EQ(r1::data::addition_solution(p, true, rng, "zh"),
            "<think>\n7 + 8 = 15，写 5 进 1\n4 + 3 + 1 = 8，写 8\n</think>\n<answer>\n85\n</answer>");
  EXPECT_EQ(r1::data::addition_solution(p, true, rng),  // the problem's language does not choose the thinking's
            "<think>\n7 + 8 = 15, write 5 carry 1\n4 + 3 + 1 = 8, write 8\n</think>\n<answer>\n85\n</answer>");
  for (int i = 0; i < 10; ++i)
    EXPECT_NE(r1::data::addition_solution(p, false, rng, "zh").find("直接猜"), std::string::npos);
  R1_EXPECT_THROW_WITH(r1::data::addition_solution(p, true, rng, "fr"), r1::UsageError, "en or zh");
}

r1::demo::R1DemoOptions toy_options(const fs::path& out) {
  r1::demo::R1DemoOptions o;
  r1::demo::DemoOptions& z = o.zero;
  z.out_dir = out;
  z.min_operand = 1;
  z.max_operand = 4;  // 16 problems, sums 2..8
  z.test_problems = 4;
  z.chinese_fraction = 0.5;
  z.careful_fraction = 0.9;
  z.chinese_cot_fraction = 0.8;
  z.corpus_documents = 2000;
  z.vocab_size = 300;
  z.model_config.update({{"hidden_size", 32},
                         {"intermediate_size", 64},
                         {"num_hidden_layers", 1},
                         {"num_attention_heads", 2},
                         {"num_key_value_heads", 2},
                         {"max_position_embeddings", 128}});
  z.pretrain_steps = 1500;
  z.pretrain_batch = 16;
  z.pretrain_length = 64;
  z.eval_samples = 2;
  z.max_completion_length = 40;
  z.grpo_steps = 2;
  z.num_generations = 4;
  z.grpo_batch = 8;
  z.grpo_accumulation = 1;
  z.progress = false;
  o.samples_per_prompt = 16;
  o.cold_start_prompts = 4;
  o.rejection_prompts = 4;
  o.distill_prompts = 4;
  o.sft_batch = 4;
  o.student_config = z.model_config;
  o.student_config["hidden_size"] = 16;
  o.student_config["intermediate_size"] = 32;
  o.student_pretrain_steps = 100;
  o.student_rl_steps = 2;
  o.rl_steps = 2;
  return o;
}

TEST(R1Demo, EveryStageThenSkippedThenRedoneToTheSameNumbers) {
  r1::test::TempDir dir;
  const r1::demo::R1DemoOptions o = toy_options(dir / "r1");
  const r1::demo::R1DemoResult first = r1::demo::run_r1_demo(o);
  ASSERT_FALSE(first.interrupted);
  for (const auto& s : first.work) EXPECT_FALSE(s.skipped) << s.stage;
  const nlohmann::json summary = nlohmann::json::parse(r1::test::read_bytes(dir / "r1" / "summary.json"));
  ASSERT_EQ(summary["stages"].size(), 9u);
  const std::vector<std::string> names = {
      "base",     "R1-Zero",      "cold-start SFT",    "reasoning RL", "rejection-sampling SFT",
      "final RL", "student base", "student distilled", "student RL"};
  for (size_t i = 0; i < names.size(); ++i) {
    const nlohmann::json& s = summary["stages"][i];
    EXPECT_EQ(s["name"], names[i]);
    for (const char* key : {"pass@1", "format_rate", "language_consistency", "mean_length", "seconds"})
      EXPECT_TRUE(s[key].is_number()) << names[i] << " " << key;
    EXPECT_TRUE(s["language_consistency_zh"].is_number()) << names[i];  // half the problems are posed in Chinese
    EXPECT_GT(s["seconds"].get<double>(), 0) << names[i];
    EXPECT_EQ(s["pass@1"], first.stages[i].eval.pass_at_1);
  }
  EXPECT_EQ(summary["student_distilled_pass@1"], summary["stages"][7]["pass@1"]);
  EXPECT_EQ(summary["student_rl_pass@1"], summary["stages"][8]["pass@1"]);
  // The data stages wrote SFT-ready rows whose chains of thought are in their problems' languages.
  for (const char* file : {"cold-start.jsonl", "rejection-sampling.jsonl", "distill.jsonl"}) {
    const std::string rows = r1::test::read_bytes(dir / "r1" / file);
    ASSERT_FALSE(rows.empty()) << file;
    const nlohmann::json row = nlohmann::json::parse(rows.substr(0, rows.find('\n')));
    EXPECT_TRUE(row["prompt"].is_array()) << file;
    EXPECT_EQ(row["rewards"]["accuracy"], 1.0) << file;
    EXPECT_GE(row["rewards"]["language_consistency"].get<double>(), 0.95) << file;
  }
  const std::string report = r1::test::read_bytes(first.report);
  EXPECT_NE(report.find("<svg"), std::string::npos);
  EXPECT_NE(report.find("Distillation vs RL"), std::string::npos);
  EXPECT_NE(first.table().find("student RL"), std::string::npos);

  const r1::demo::R1DemoResult again = r1::demo::run_r1_demo(o);
  for (const auto& s : again.work) EXPECT_TRUE(s.skipped) << s.stage;
  EXPECT_EQ(again.summary, first.summary);

  // The student's RL stage again, from scratch: the same model, the same numbers.
  fs::remove_all(dir / "r1" / "student-rl");
  fs::remove(dir / "r1" / "eval-student-rl.json");
  const r1::demo::R1DemoResult redone = r1::demo::run_r1_demo(o);
  for (const auto& s : redone.work)
    EXPECT_EQ(s.skipped, s.stage != "student RL" && s.stage != "evaluate student RL") << s.stage;
  EXPECT_EQ(redone.summary["student_rl_pass@1"], first.summary["student_rl_pass@1"]);
  EXPECT_EQ(redone.summary["stages"][8]["mean_length"], first.summary["stages"][8]["mean_length"]);
}

// Stopped (Ctrl-C) once the cold-start data exists, so in the cold-start SFT or just after, then run again: the
// stopped stage resumes from its checkpoint and the run ends with the numbers of a run never stopped.
TEST(R1Demo, StoppedThenResumedEndsWithTheSameNumbers) {
  r1::test::TempDir dir;
  r1::demo::R1DemoOptions o = toy_options(dir / "whole");
  const r1::demo::R1DemoResult whole = r1::demo::run_r1_demo(o);
  o.zero.out_dir = dir / "stopped";
  std::atomic<bool> stop{false}, done{false};
  std::thread watcher([&] {
    while (!done && !fs::exists(dir / "stopped" / "cold-start.jsonl"))
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    stop = true;
  });
  const r1::demo::R1DemoResult stopped = r1::demo::run_r1_demo(o, &stop);
  done = true;
  watcher.join();
  ASSERT_TRUE(stopped.interrupted);
  EXPECT_FALSE(fs::exists(dir / "stopped" / "summary.json"));
  const r1::demo::R1DemoResult resumed = r1::demo::run_r1_demo(o);
  ASSERT_FALSE(resumed.interrupted);
  ASSERT_EQ(resumed.stages.size(), whole.stages.size());
  for (size_t i = 0; i < whole.stages.size(); ++i) {
    nlohmann::json a = whole.stages[i].eval.to_json(), b = resumed.stages[i].eval.to_json();
    a.erase("seconds");
    b.erase("seconds");
    EXPECT_EQ(a, b) << whole.stages[i].name;
  }
}

}  // namespace
