// The reward library (src/rewards): every reward on hand-computed examples from its formula (format, tag_count and
// reasoning_steps values were also checked against open-r1's Python regexes), parameter errors, TRL's weighted
// combination, and the sandbox behind the `code` reward: correct and partly correct Python and C++ programs, and
// containment of fork bombs, endless loops, memory hogs, network access, writes outside the sandbox and huge output.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <numbers>
#include <random>

#include "r1/error.h"
#include "r1/rewards.h"
#include "rewards/sandbox.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using nlohmann::json;
using r1::rewards::make_reward;
using r1::rewards::Score;

namespace {

std::vector<Score> score(const std::string& name, const std::vector<std::string>& completions,
                         const json& params = json::object(), std::vector<json> examples = {}) {
  if (examples.empty()) examples.assign(completions.size(), json::object());
  return make_reward(name, params)(completions, examples);
}

double one(const std::string& name, const std::string& completion, const json& params = json::object(),
           const json& example = json::object()) {
  Score s = score(name, {completion}, params, {example})[0];
  EXPECT_TRUE(s.has_value()) << name << " gave nullopt for " << json(completion).dump();
  return s.value_or(NAN);
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// ---------------------------------------------------------------- format family

TEST(FormatReward, MatchesOpenR1Regex) {
  struct Case {
    std::string text;
    double want;
  };
  const std::vector<Case> cases = {
      {"<think>\nabc\n</think>\n<answer>\n42\n</answer>", 1},
      {"<think>\nl1\nl2\n\n</think>\n<answer>\nx\ny\n</answer>", 1},  // multi-line content (DOTALL)
      {"<think>\na\n</think>\n<answer>\nb\n</answer>\ntrailing", 1},  // MULTILINE: $ before any "\n"
      {"<think>\na\n</think>\n<answer>\nb\n</answer>\n", 1},
      {"<think>\n\n</think>\n<answer>\n\n</answer>", 1},
      {"<think>\na\n</think>\n<answer>\nb\n</answer> ", 0},  // trailing space
      {"<think>a\n</think>\n<answer>\nb\n</answer>", 0},     // no newline after <think>
      {" <think>\na\n</think>\n<answer>\nb\n</answer>", 0},  // leading space
      {"<think>\n</think>\n<answer>\n4\n</answer>", 0},      // the "\n" before </think> is missing
      {"<think>\na\n</think>\n\n<answer>\nb\n</answer>", 0},
      {"<think>\na\n</think>\n<answer>\nb\n</answer>\r\n", 0},
      {"", 0},
  };
  for (const Case& c : cases) EXPECT_EQ(one("format", c.text), c.want) << json(c.text).dump();
}

TEST(FormatReward, TagCount) {
  EXPECT_EQ(one("tag_count", "<think>\na\n</think>\n<answer>\nb\n</answer>"), 1.0);
  EXPECT_EQ(one("tag_count", "<think>\nA\n</think>\n<answer>\nB</answer>"), 0.75);  // "\n</answer>" missing
  // Two think blocks: both think tags count twice (0), the answer tags once (0.5).
  EXPECT_EQ(one("tag_count", "<think>\na\n</think>\n<think>\nb\n</think>\n<answer>\nc\n</answer>"), 0.5);
  EXPECT_EQ(one("tag_count", "<think>a</think><answer>b</answer>"), 0.0);
  EXPECT_EQ(one("tag_count", "<think>\nx</think>"), 0.25);
  EXPECT_EQ(one("tag_count", ""), 0.0);
}

TEST(FormatReward, ReasoningSteps) {
  EXPECT_EQ(one("reasoning_steps", "Step 1: a\nStep 2: b\nStep 3: c"), 1.0);
  EXPECT_DOUBLE_EQ(one("reasoning_steps", "1. first\n2. second"), 1.0 / 3);  // ^ is the text's start only
  EXPECT_DOUBLE_EQ(one("reasoning_steps", "First, x. Next, y."), 2.0 / 3);
  EXPECT_EQ(one("reasoning_steps", "\n- a\n* b\n- c"), 1.0);
  EXPECT_DOUBLE_EQ(one("reasoning_steps", "\n- a\n* b"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(one("reasoning_steps", "Step \u0663: x"), 1.0 / 3);  // \d is any Unicode digit, as Python
  EXPECT_DOUBLE_EQ(one("reasoning_steps", "12. a\nFinally, b"), 2.0 / 3);
  EXPECT_EQ(one("reasoning_steps", "Step 1: a Step 2: b Step 3: c Step 4: d"), 1.0);  // capped at 1
  EXPECT_EQ(one("reasoning_steps", "no steps"), 0.0);
}

// ---------------------------------------------------------------- length family

// A completion of exactly `length` code points ending in \boxed{answer}; padding "é" is two bytes per code point.
std::string boxed(int answer, size_t length) {
  std::string tail = " \\boxed{" + std::to_string(answer) + "}";
  return repeat("\xc3\xa9", length - tail.size()) + tail;
}

TEST(LengthRewards, CosineAtHandComputedPoints) {
  const json params = {{"cosine_max_len", 100}};
  const json gold = {{"solution", "$4$"}};
  // p = L / 100; correct: 0.5 + 0.25 (1 + cos(pi p)); wrong: -0.5 - 0.25 (1 + cos(pi p)).
  EXPECT_DOUBLE_EQ(one("cosine", boxed(4, 50), params, gold), 0.75);
  EXPECT_DOUBLE_EQ(one("cosine", boxed(5, 50), params, gold), -0.75);
  EXPECT_DOUBLE_EQ(one("cosine", boxed(4, 100), params, gold), 0.5);
  EXPECT_DOUBLE_EQ(one("cosine", boxed(5, 100), params, gold), -0.5);
  EXPECT_DOUBLE_EQ(one("cosine", boxed(4, 200), params, gold), 0.5);  // past max_len: clamped
  EXPECT_DOUBLE_EQ(one("cosine", boxed(5, 200), params, gold), -0.5);
  for (size_t len : {12, 25, 80}) {
    double c = std::cos(double(len) / 100 * std::numbers::pi);
    EXPECT_NEAR(one("cosine", boxed(4, len), params, gold), 0.5 + 0.5 * (1.0 - 0.5) * (1 + c), 1e-12) << len;
    EXPECT_NEAR(one("cosine", boxed(5, len), params, gold), -0.5 + 0.5 * (-1.0 + 0.5) * (1 + c), 1e-12) << len;
  }
  // Short correct beats long correct; long wrong beats short wrong.
  EXPECT_GT(one("cosine", boxed(4, 12), params, gold), one("cosine", boxed(4, 80), params, gold));
  EXPECT_GT(one("cosine", boxed(5, 80), params, gold), one("cosine", boxed(5, 12), params, gold));
  const json custom = {{"cosine_max_len", 10},
                       {"cosine_min_value_wrong", -2},
                       {"cosine_max_value_wrong", 0},
                       {"cosine_min_value_correct", 1},
                       {"cosine_max_value_correct", 3}};
  EXPECT_DOUBLE_EQ(one("cosine", boxed(4, 10), custom, gold), 1.0);
  EXPECT_DOUBLE_EQ(one("cosine", boxed(5, 10), custom, gold), 0.0);
}

TEST(LengthRewards, CosineAgreesWithAccuracyOnApplicability) {
  const std::vector<std::string> completions = {"\\boxed{4}", "\\boxed{4}"};
  const std::vector<json> examples = {{{"solution", "$4$"}}, {{"solution", "no answer in here"}}};
  auto accuracy = make_reward("accuracy")(completions, examples);
  auto cosine = make_reward("cosine")(completions, examples);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(accuracy[i].has_value(), cosine[i].has_value()) << i;
  EXPECT_TRUE(cosine[0].has_value());
}

TEST(LengthRewards, KimiLengthPerPromptGroup) {
  const json a = {{"solution", "$4$"}, {"problem", "A"}}, b = {{"solution", "$4$"}, {"problem", "B"}};
  const std::vector<std::string> completions = {boxed(4, 10), boxed(5, 20), boxed(4, 30), boxed(5, 40), boxed(5, 40)};
  const std::vector<json> examples = {a, a, a, b, b};
  // Group A: min 10, max 30 -> lambda 0.5, 0, -0.5 (the wrong one capped at 0); group B: equal lengths -> 0.
  auto by_prompt = make_reward("length")(completions, examples);
  std::vector<double> want = {0.5, 0.0, -0.5, 0.0, 0.0};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(by_prompt[i].value(), want[i]) << i;
  // Whole batch (open-r1): min 10, max 40 -> lambda 0.5, 1/6, -1/6, -0.5, -0.5; wrong ones min(0, lambda).
  auto batch = make_reward("length", {{"group_by", "batch"}})(completions, examples);
  want = {0.5, 0.0, -1.0 / 6, -0.5, -0.5};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(batch[i].value(), want[i], 1e-12) << i;
  // A short wrong answer gets min(0, 0.5) = 0; all lengths equal -> all zero.
  auto wrong_short = make_reward("length")({boxed(5, 10), boxed(4, 20)}, {a, a});
  EXPECT_DOUBLE_EQ(wrong_short[0].value(), 0.0);
  EXPECT_DOUBLE_EQ(wrong_short[1].value(), -0.5);
  auto equal = make_reward("length")({boxed(4, 15), boxed(5, 15)}, {a, a});
  EXPECT_EQ(equal[0].value(), 0.0);
  EXPECT_EQ(equal[1].value(), 0.0);
  R1_EXPECT_THROW_WITH(make_reward("length", {{"group_by", "dataset"}}), r1::UsageError, "group_by", "dataset");
}

TEST(LengthRewards, SoftOverlongPunishmentThresholds) {
  const json params = {{"max_completion_len", 100}, {"soft_punish_cache", 20}};
  auto with_tokens = [&](int64_t n) {
    return score("soft_overlong_punishment", {"x"}, params, {{{"completion_ids", std::vector<int>(size_t(n), 7)}}})[0]
        .value();
  };
  EXPECT_EQ(with_tokens(0), 0.0);
  EXPECT_EQ(with_tokens(80), 0.0);  // L <= Lmax - C
  EXPECT_DOUBLE_EQ(with_tokens(81), -0.05);
  EXPECT_DOUBLE_EQ(with_tokens(90), -0.5);
  EXPECT_DOUBLE_EQ(with_tokens(100), -1.0);
  EXPECT_EQ(with_tokens(101), -1.0);
  EXPECT_EQ(with_tokens(5000), -1.0);
  EXPECT_DOUBLE_EQ(score("soft_overlong_punishment", {"x"}, params, {{{"completion_length", 95}}})[0].value(), -0.75);
  json chars = params;
  chars["length_unit"] = "chars";
  EXPECT_DOUBLE_EQ(one("soft_overlong_punishment", repeat("\xc3\xa9", 90), chars), -0.5);  // code points, not bytes
  EXPECT_EQ(one("soft_overlong_punishment", repeat("a", 80), chars), 0.0);
  json no_cache = {{"max_completion_len", 10}, {"soft_punish_cache", 0}, {"length_unit", "chars"}};
  EXPECT_EQ(one("soft_overlong_punishment", "0123456789", no_cache), 0.0);
  EXPECT_EQ(one("soft_overlong_punishment", "0123456789a", no_cache), -1.0);
  R1_EXPECT_THROW_WITH(score("soft_overlong_punishment", {"x"}, params), r1::UsageError, "completion_ids",
                       "length_unit");
  R1_EXPECT_THROW_WITH(make_reward("soft_overlong_punishment", {{"max_completion_len", 10}, {"soft_punish_cache", 11}}),
                       r1::UsageError, "soft_punish_cache");
  R1_EXPECT_THROW_WITH(make_reward("soft_overlong_punishment", {{"length_unit", "words"}}), r1::UsageError, "words");
}

// ---------------------------------------------------------------- repetition

TEST(RepetitionPenalty, NGramCountsByHand) {
  const json bigrams = {{"repetition_n_grams", 2}, {"repetition_max_penalty", -1.0}};
  // [a b a b]: bigrams ab ba ab -> 2 distinct of 3 -> (1 - 2/3) * -1.
  EXPECT_DOUBLE_EQ(one("repetition_penalty", "a b a b", bigrams), -1.0 / 3);
  EXPECT_DOUBLE_EQ(one("repetition_penalty", "a\tb\n\na  b ", bigrams), -1.0 / 3);  // any whitespace splits
  // Lower-cased: [the the the the] -> 1 distinct of 3.
  EXPECT_DOUBLE_EQ(one("repetition_penalty", "The the THE the", bigrams), -2.0 / 3);
  EXPECT_DOUBLE_EQ(one("repetition_penalty", "\xc3\x84 b \xc3\xa4 b", bigrams), -1.0 / 3);  // Ä lower-cases to ä
  EXPECT_EQ(one("repetition_penalty", "a b c d", bigrams), 0.0);
  EXPECT_EQ(one("repetition_penalty", "one", bigrams), 0.0);  // fewer words than n
  EXPECT_EQ(one("repetition_penalty", "", bigrams), 0.0);
  EXPECT_EQ(one("repetition_penalty", "   ", bigrams), 0.0);
  EXPECT_DOUBLE_EQ(
      one("repetition_penalty", "The the THE the", {{"repetition_n_grams", 2}, {"repetition_max_penalty", -0.5}}),
      -1.0 / 3);
  EXPECT_DOUBLE_EQ(one("repetition_penalty", "x x y", {{"repetition_n_grams", 1}}), -1.0 / 3);
  // Defaults n = 3, max_penalty = -1: [a b c a b c a b c] has 7 trigrams, 3 distinct.
  EXPECT_DOUBLE_EQ(one("repetition_penalty", "a b c a b c a b c"), -(1.0 - 3.0 / 7));
  EXPECT_EQ(one("repetition_penalty", "x", {{"repetition_max_penalty", 0.0}}), 0.0);
}

TEST(RepetitionPenalty, ChineseWordSegmentation) {
  // ICU segments 我喜欢猫 as 我|喜欢|猫 (as jieba): bigrams 我喜欢 喜欢猫 猫我 我喜欢 喜欢猫 -> 3 distinct of 5.
  const json zh = {{"repetition_n_grams", 2}, {"language", "zh"}};
  EXPECT_NEAR(one("repetition_penalty", "我喜欢猫我喜欢猫", zh), -0.4, 1e-12);
  EXPECT_EQ(one("repetition_penalty", "我喜欢猫", zh), 0.0);
  EXPECT_EQ(one("repetition_penalty", "", zh), 0.0);
}

TEST(RepetitionPenalty, ParameterErrors) {
  R1_EXPECT_THROW_WITH(make_reward("repetition_penalty", {{"repetition_max_penalty", 0.5}}), r1::Error,
                       "repetition_max_penalty", "0.5", "positive");
  R1_EXPECT_THROW_WITH(make_reward("repetition_penalty", {{"repetition_n_grams", 0}}), r1::Error, "repetition_n_grams");
  R1_EXPECT_THROW_WITH(make_reward("repetition_penalty", {{"repetition_ngrams", 3}}), r1::UsageError,
                       "repetition_penalty", "unknown parameter", "repetition_ngrams");
  R1_EXPECT_THROW_WITH(make_reward("repetition_penalty", {{"repetition_n_grams", "three"}}), r1::UsageError,
                       "repetition_n_grams", "integer");
  R1_EXPECT_THROW_WITH(make_reward("repetition_penalty", {{"language", "fr"}}), r1::UsageError, "fr");
}

// ---------------------------------------------------------------- language consistency

TEST(LanguageConsistency, ChineseCountsHanLetters) {
  const json zh = {{"language", "zh"}};
  // CoT "我认为答案是42 because": 6 Han letters of 13 letters (digits are not letters).
  EXPECT_DOUBLE_EQ(one("language_consistency", "<think>我认为答案是42 because</think>答案 is 42", zh), 6.0 / 13);
  EXPECT_EQ(one("language_consistency", "<think>全部中文。</think>but the answer is English", zh), 1.0);
  EXPECT_EQ(one("language_consistency", "<think>all English</think>中文", zh), 0.0);
  // No <think>: everything before </think> (template opened it); no tags at all: the whole text.
  EXPECT_DOUBLE_EQ(one("language_consistency", "abc 中文</think>final", zh), 2.0 / 5);
  EXPECT_DOUBLE_EQ(one("language_consistency", "中文 ab", zh), 2.0 / 4);
  EXPECT_DOUBLE_EQ(one("language_consistency", "これは日本語です", zh), 3.0 / 8);  // kana are not Han
  EXPECT_EQ(one("language_consistency", "これは日本語です", {{"language", "ja"}}), 1.0);
  EXPECT_EQ(one("language_consistency", "<think>123 + 456 = 579</think>", zh), 0.0);  // no letters
}

TEST(LanguageConsistency, EnglishCountsAsciiWords) {
  const json en = {{"language", "en"}};
  EXPECT_EQ(one("language_consistency", "<think>Let me think step by step.</think>", en), 1.0);
  // Words: The, answer, 是 (each Han letter is a word) -> 2 of 3.
  EXPECT_DOUBLE_EQ(one("language_consistency", "<think>The answer 是 42.</think>", en), 2.0 / 3);
  // This, is, 中, 文 -> 2 of 4; "café" is not ASCII -> 2 of 3; "don't" is two ASCII words.
  EXPECT_DOUBLE_EQ(one("language_consistency", "This is中文", en), 2.0 / 4);
  EXPECT_DOUBLE_EQ(one("language_consistency", "I like café", en), 2.0 / 3);
  EXPECT_EQ(one("language_consistency", "don't stop", en), 1.0);
  EXPECT_EQ(one("language_consistency", "Привет мир", en), 0.0);
  EXPECT_EQ(one("language_consistency", "Привет мир", {{"language", "ru"}}), 1.0);
  EXPECT_DOUBLE_EQ(one("language_consistency", "Привет world", {{"language", "ru"}}), 0.5);
}

TEST(LanguageConsistency, TargetFromExampleColumn) {
  auto r = make_reward("language_consistency");
  auto s = r({"中文 ab", "中文 ab"}, {{{"language", "zh"}}, {{"language", "en"}}});
  EXPECT_DOUBLE_EQ(s[0].value(), 0.5);      // 2 Han letters of 4 letters
  EXPECT_DOUBLE_EQ(s[1].value(), 1.0 / 3);  // words 中, 文, ab
  R1_EXPECT_THROW_WITH(r({"x"}, {json::object()}), r1::UsageError, "language", "example 0");
  R1_EXPECT_THROW_WITH(r({"x"}, {{{"language", "tlh"}}}), r1::UsageError, "tlh", "zh");
  R1_EXPECT_THROW_WITH(make_reward("language_consistency", {{"language", "xx"}}), r1::UsageError, "xx");
}

// ---------------------------------------------------------------- registry and combination

TEST(RewardRegistry, FamiliesAndErrors) {
  std::set<std::string> names;
  for (const auto& info : r1::rewards::registered_rewards()) names.insert(info.name);
  for (const char* n : {"format", "tag_count", "reasoning_steps", "cosine", "length", "soft_overlong_punishment",
                        "repetition_penalty", "language_consistency", "code", "accuracy"})
    EXPECT_TRUE(names.count(n)) << n;
  R1_EXPECT_THROW_WITH(make_reward("format", {{"strict", true}}), r1::UsageError, "format", "strict");
  R1_EXPECT_THROW_WITH(make_reward("cosine", {{"cosine_max_len", 0}}), r1::UsageError, "cosine_max_len");
  R1_EXPECT_THROW_WITH(make_reward("cosine", {{"cosine_maxlen", 10}}), r1::UsageError, "cosine_maxlen");
  R1_EXPECT_THROW_WITH(make_reward("code", {{"timeout", 3}}), r1::UsageError, "code", "timeout");
  R1_EXPECT_THROW_WITH(make_reward("code", {{"code_language", "rust"}}), r1::UsageError, "rust");
  R1_EXPECT_THROW_WITH(make_reward("format")({"a", "b"}, {json::object()}), r1::Error, "2 completions", "1 examples");
}

// What a reward needs of a row, checked when a dataset loads: accuracy a gold answer, code a well-formed
// verification_info (a row without one is not scored, so it passes); the rest take any row.
TEST(RewardRegistry, ExampleChecksSayWhatARowLacks) {
  using r1::rewards::check_reward_example;
  check_reward_example("accuracy", {{"solution", "2"}});
  check_reward_example("accuracy", {{"answer", 2}});
  R1_EXPECT_THROW_WITH(check_reward_example("accuracy", {{"prompt", "1+1"}}), r1::Error,
                       "reward 'accuracy' needs a 'solution' or 'answer' column");
  R1_EXPECT_THROW_WITH(check_reward_example("accuracy", {{"solution", json::array()}}), r1::Error, "'solution'");
  check_reward_example("code", {{"prompt", "x"}});
  check_reward_example("code",
                       json::parse(R"({"verification_info": {"test_cases": [{"input": "1", "output": "1"}]}})"));
  check_reward_example("code", {{"verification_info", R"({"language": "cpp", "test_cases": []})"}});
  R1_EXPECT_THROW_WITH(
      check_reward_example("code", json::parse(R"({"verification_info": {"test_cases": [{"input": "1"}]}})")),
      r1::Error, "reward 'code': each test case needs string 'input' and 'output'");
  R1_EXPECT_THROW_WITH(
      check_reward_example("code", {{"verification_info", R"({"language": "rust", "test_cases": []})"}}), r1::Error,
      "language 'rust' is not supported");
  R1_EXPECT_THROW_WITH(check_reward_example("code", {{"verification_info", "{"}}), r1::Error,
                       "reward 'code': verification_info");
  check_reward_example("format", json::object());
  R1_EXPECT_THROW_WITH(check_reward_example("nope", json::object()), r1::UsageError, "unknown reward 'nope'");
}

TEST(RewardRegistry, CombineWithWeightsAndNullopt) {
  using r1::rewards::combine_rewards;
  std::vector<std::vector<Score>> per = {{1.0, std::nullopt, 0.5}, {0.5, std::nullopt, std::nullopt}};
  auto total = combine_rewards(per, {1.0, 2.0});
  EXPECT_DOUBLE_EQ(total[0].value(), 2.0);
  EXPECT_FALSE(total[1].has_value());
  EXPECT_DOUBLE_EQ(total[2].value(), 0.5);
  auto unweighted = combine_rewards(per, {});
  EXPECT_DOUBLE_EQ(unweighted[0].value(), 1.5);
  R1_EXPECT_THROW_WITH(combine_rewards(per, {1.0}), r1::UsageError, "reward_weights", "1", "2");
  // Two real rewards combined: format 1 + 0.5 * tag_count 1.
  std::vector<std::string> c = {"<think>\na\n</think>\n<answer>\nb\n</answer>"};
  auto mixed = combine_rewards({score("format", c), score("tag_count", c)}, {1.0, 0.5});
  EXPECT_DOUBLE_EQ(mixed[0].value(), 1.5);
}

// ---------------------------------------------------------------- sandbox

using r1::rewards::Sandbox;
using r1::rewards::SandboxLimits;
using r1::rewards::SandboxResult;

const std::string kPython = "/usr/bin/python3";

SandboxLimits quick_limits() {
  SandboxLimits l;
  l.timeout_seconds = 2;
  l.memory_bytes = int64_t(256) << 20;
  l.max_output_bytes = 100000;
  l.max_processes = 8;
  return l;
}

SandboxResult run_python(const Sandbox& box, const std::string& code, const SandboxLimits& limits,
                         const std::string& input = "", bool writable = false) {
  box.write_file("prog.py", code);
  return box.run({kPython, "-I", (box.dir() / "prog.py").string()}, input, limits, writable);
}

// Processes whose real uid is `uid`, from /proc.
int processes_of(unsigned uid) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream status(entry.path() / "status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("Uid:", 0) == 0) {
        if (std::stoul(line.substr(4)) == uid) ++n;
        break;
      }
  }
  return n;
}

TEST(Sandbox, RunsProgramsWithStdinAndExitCodes) {
  Sandbox box;
  SandboxResult r = run_python(box, "import sys\nprint(sys.stdin.read().upper(), end='')\nsys.exit(3)", quick_limits(),
                               "hello\nworld");
  EXPECT_EQ(r.out, "HELLO\nWORLD");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.timed_out);
  SandboxResult e = run_python(box, "import sys\nsys.stderr.write('oops')\nraise SystemExit(0)", quick_limits());
  EXPECT_EQ(e.err, "oops");
  EXPECT_TRUE(e.ok());
  // It runs as an unprivileged uid, not as r1's.
  SandboxResult id = run_python(box, "import os\nprint(os.getuid(), os.geteuid())", quick_limits());
  if (geteuid() == 0) {
    EXPECT_EQ(id.out, fmt::format("{} {}\n", box.uid(), box.uid()));
  }
  // As root on a machine with a pids cgroup hierarchy, each run gets a pids cgroup of its own.
  SandboxResult cg = run_python(box, "print(open('/proc/self/cgroup').read())", quick_limits());
  if (geteuid() == 0 && fs::exists("/sys/fs/cgroup/pids/cgroup.procs")) {
    EXPECT_NE(cg.out.find("pids:/r1-sandbox-"), std::string::npos) << cg.out;
  }
  R1_EXPECT_THROW_WITH(box.run({"python3"}, "", quick_limits()), r1::Error, "absolute path");
  R1_EXPECT_THROW_WITH(box.run({"/nonexistent/program"}, "", quick_limits()), r1::Error, "execve",
                       "/nonexistent/program");
}

TEST(Sandbox, InfiniteLoopIsKilledAtTheDeadline) {
  Sandbox box;
  SandboxLimits l = quick_limits();
  l.timeout_seconds = 1;
  l.cpu_seconds = 30;
  SandboxResult r = run_python(box, "while True:\n    pass\n", l);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(r.wall_seconds, l.timeout_seconds + 2);
  // RLIMIT_CPU ends a busy program before a longer wall-clock deadline.
  l.timeout_seconds = 10;
  l.cpu_seconds = 1;
  SandboxResult cpu = run_python(box, "while True:\n    pass\n", l);
  EXPECT_FALSE(cpu.timed_out);
  EXPECT_TRUE(cpu.signal == SIGXCPU || cpu.signal == SIGKILL) << cpu.signal;
  EXPECT_LT(cpu.wall_seconds, 5);
}

TEST(Sandbox, ForkBombIsCappedAndLeavesNothingBehind) {
  Sandbox box;
  SandboxLimits l = quick_limits();
  // Children that would sleep 60 s: the number that could be started is below the cap, and they die with the run.
  SandboxResult counted =
      run_python(box,
                 "import os, time\nn = 0\nfor i in range(1000):\n    try:\n"
                 "        pid = os.fork()\n    except OSError:\n        break\n"
                 "    if pid == 0:\n        os.setsid()\n        time.sleep(60)\n        os._exit(0)\n"
                 "    n += 1\nprint(n)\n",
                 l);
  ASSERT_TRUE(counted.ok()) << counted.err;
  EXPECT_GT(std::stoi(counted.out), 0);
  EXPECT_LT(std::stoi(counted.out), l.max_processes);
  // A real fork bomb: every process forks forever; it ends at the deadline with no process left.
  SandboxResult bomb = run_python(box,
                                  "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                                  "        pass\n",
                                  l);
  EXPECT_TRUE(bomb.timed_out);
  EXPECT_LT(bomb.wall_seconds, l.timeout_seconds + 1.5);
  if (geteuid() == 0) {
    EXPECT_EQ(processes_of(box.uid()), 0);
  }
}

TEST(Sandbox, MemoryHogFails) {
  Sandbox box;
  SandboxResult r = run_python(box, "x = bytearray(1 << 30)\nprint('allocated')", quick_limits());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("MemoryError"), std::string::npos) << r.err;
  EXPECT_FALSE(r.timed_out);
}

TEST(Sandbox, NoNetwork) {
  // A listener of r1's on loopback: the sandboxed program must not reach it (nor anything else).
  int server = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(server, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(server, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  Sandbox box;
  SandboxResult r = run_python(box,
                               fmt::format("import socket\nfor host in ['127.0.0.1', '1.1.1.1', '8.8.8.8']:\n"
                                           "    try:\n        socket.create_connection((host, {}), timeout=1)\n"
                                           "        print('connected', host)\n    except OSError as e:\n"
                                           "        print('blocked', host)\n",
                                           port),
                               quick_limits());
  EXPECT_EQ(r.out, "blocked 127.0.0.1\nblocked 1.1.1.1\nblocked 8.8.8.8\n") << r.err;
  EXPECT_LT(accept(server, nullptr, nullptr), 0);  // nobody knocked
  close(server);
}

TEST(Sandbox, WritesOnlyToItsScratchSpace) {
  Sandbox box;
  r1::test::TempDir outside;
  const fs::path escape_tmp = outside / "escape.txt";
  const fs::path escape_dir = box.dir() / "escape.txt";
  std::random_device rd;
  const fs::path escape_world = fs::temp_directory_path() / fmt::format("r1-escape-{}", rd());  // /tmp is 1777
  const std::string code = fmt::format(
      "import os\nfor path in [{}, {}, {}, '/etc/r1-escape', 'local.txt', os.environ['TMPDIR'] + '/t']:\n"
      "    try:\n        open(path, 'w').write('x')\n        print('wrote', os.path.basename(path))\n"
      "    except OSError as e:\n        print('refused', os.path.basename(path))\n",
      json(escape_tmp.string()).dump(), json(escape_dir.string()).dump(), json(escape_world.string()).dump());
  SandboxResult r = run_python(box, code, quick_limits());
  const std::string world = escape_world.filename().string();
  EXPECT_EQ(r.out, "refused escape.txt\nrefused escape.txt\nrefused " + world +
                       "\nrefused r1-escape\nwrote local.txt\nwrote t\n")
      << r.err;
  EXPECT_FALSE(fs::exists(escape_world));
  EXPECT_FALSE(fs::exists(escape_tmp));
  EXPECT_FALSE(fs::exists(escape_dir));
  EXPECT_FALSE(fs::exists("/etc/r1-escape"));
  EXPECT_TRUE(fs::is_empty(box.dir() / "scratch"));  // the scratch tmpfs went away with the run
  // writable_dir: the sandbox directory takes writes, the rest of the machine still does not.
  SandboxResult w = run_python(box, code, quick_limits(), "", true);
  EXPECT_EQ(w.out, "refused escape.txt\nwrote escape.txt\nrefused " + world +
                       "\nrefused r1-escape\nwrote local.txt\nwrote t\n")
      << w.err;
  EXPECT_FALSE(fs::exists(escape_world));
  EXPECT_TRUE(fs::exists(escape_dir));
  EXPECT_FALSE(fs::exists(escape_tmp));
  // RLIMIT_FSIZE: a file past max_file_bytes is cut off.
  SandboxLimits small = quick_limits();
  small.max_file_bytes = 1 << 20;
  SandboxResult big = run_python(box, "open('big', 'wb').write(b'x' * (4 << 20))", small);
  EXPECT_NE(big.exit_code, 0);
}

// The program's file-system view holds no host /tmp, /run, home or project directory: a unix socket a host
// process listens on and files a user left readable are not reachable by path; system files still are.
TEST(Sandbox, SeesNoHostSocketOrUserFile) {
  std::random_device rd;
  const fs::path socket_path = fs::temp_directory_path() / fmt::format("r1-host-{}.sock", rd());
  int server = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(server, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(server, 4), 0);
  fs::permissions(socket_path, fs::perms::all);  // world-connectable, as the issue's planted listener was
  const fs::path planted_tmp = fs::temp_directory_path() / fmt::format("r1-planted-{}.txt", rd());
  const fs::path planted_here = fs::current_path() / fmt::format("r1-planted-{}.txt", rd());
  for (const fs::path& p : {planted_tmp, planted_here}) {
    r1::test::write_bytes(p, "secret");
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  }
  Sandbox box;
  const std::string code = fmt::format(
      "import os, socket\n"
      "s = socket.socket(socket.AF_UNIX)\n"
      "try:\n    s.connect({})\n    print('connected')\nexcept OSError:\n    print('no socket')\n"
      "for path in [{}, {}, '/run', '/home', '/root', '/var', '/usr/bin/python3', '/etc/passwd']:\n"
      "    print(os.path.basename(path) if path.startswith('/usr') or path.startswith('/etc') else path[:4],"
      " os.path.exists(path))\n",
      json(socket_path.string()).dump(), json(planted_tmp.string()).dump(), json(planted_here.string()).dump());
  SandboxResult r = run_python(box, code, quick_limits());
  const std::string tmp4 = planted_tmp.string().substr(0, 4), here4 = planted_here.string().substr(0, 4);
  EXPECT_EQ(r.out, "no socket\n" + tmp4 + " False\n" + here4 +
                       " False\n/run False\n/hom False\n/roo False\n/var False\npython3 True\npasswd True\n")
      << r.err;
  EXPECT_LT(accept(server, nullptr, nullptr), 0);  // nobody connected
  close(server);
  for (const fs::path& p : {socket_path, planted_tmp, planted_here}) fs::remove(p);
}

// Memory is capped for all of a run's processes together (a memory cgroup, swap off): six children holding
// 100 MB each cannot all live under a 256 MB limit, though each is under the per-process RLIMIT_AS (the issue's
// hog reached 2,158 MB in 15 processes against 512 MB).
TEST(Sandbox, MemoryOfAllProcessesTogetherIsCapped) {
  const std::string unavailable = Sandbox::unavailable_cgroup_limits();
  if (unavailable.find("memory") != std::string::npos)
    GTEST_SKIP() << "no memory cgroup can be made here (not root, or no delegation): memory is capped per process";
  Sandbox box;
  SandboxLimits l = quick_limits();
  l.timeout_seconds = 20;
  l.cpu_seconds = 20;
  l.max_processes = 32;
  const std::string code =
      "import os, time\nkids = []\nfor i in range(6):\n    pid = os.fork()\n    if pid == 0:\n"
      "        x = b'x' * (100 << 20)\n        time.sleep(2)\n        os._exit(0)\n    kids.append(pid)\n"
      "alive = sum(1 for pid in kids if os.waitpid(pid, 0)[1] == 0)\nprint(alive)\n";
  SandboxResult r = run_python(box, code, l);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.ok() && r.out == "6\n") << "six 100 MB processes lived under a 256 MB limit";
  // Under a 1 GB cap the same six live: what is capped is their sum.
  l.memory_bytes = int64_t(1) << 30;
  SandboxResult roomy = run_python(box, code, l);
  EXPECT_EQ(roomy.out, "6\n") << roomy.err;
}

TEST(Sandbox, HugeOutputIsTruncated) {
  Sandbox box;
  SandboxLimits l = quick_limits();
  l.timeout_seconds = 5;
  SandboxResult r = run_python(box, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", l);
  EXPECT_TRUE(r.output_truncated);
  EXPECT_EQ(r.out.size(), size_t(l.max_output_bytes));
  EXPECT_FALSE(r.timed_out);  // killed at the cap, long before the deadline
}

TEST(Sandbox, DirectoryIsRemoved) {
  fs::path dir;
  {
    Sandbox box;
    dir = box.dir();
    box.write_file("a.txt", "x");
    ASSERT_TRUE(fs::exists(dir / "a.txt"));
  }
  EXPECT_FALSE(fs::exists(dir));
}

// ---------------------------------------------------------------- the code reward

json stdin_tests(const std::string& language, const std::vector<std::pair<std::string, std::string>>& cases) {
  json tests = json::array();
  for (const auto& [in, out] : cases) tests.push_back({{"input", in}, {"output", out}, {"type", "stdin_stdout"}});
  return {{"verification_info", {{"language", language}, {"test_cases", tests}}}};
}

const std::vector<std::pair<std::string, std::string>> kSumTests = {{"2 2\n", "4\n"}, {"2 3\n", "5"}};

TEST(CodeReward, PythonCorrectAndPartlyCorrect) {
  const json example = stdin_tests("python", kSumTests);
  const std::string right = "Here:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```\n";
  const std::string half = "```python\na, b = map(int, input().split())\nprint(a * 2)   \n```";  // right when a == b
  const std::string earlier_wrong_block = "```python\nprint(0)\n```\nthen fixed:\n" + right;
  const std::string cpp_only = "```cpp\nint main() {}\n```";
  auto scores = score("code", {right, half, earlier_wrong_block, cpp_only, "no code at all"}, json::object(),
                      {example, example, example, example, example});
  EXPECT_EQ(scores[0].value(), 1.0);
  EXPECT_EQ(scores[1].value(), 0.5);
  EXPECT_EQ(scores[2].value(), 1.0);  // the last block counts
  EXPECT_EQ(scores[3].value(), 0.0);  // no python block
  EXPECT_EQ(scores[4].value(), 0.0);
  // verification_info as a JSON string; rows without it are not applicable; untagged fences are taken.
  json as_string = {{"verification_info", example["verification_info"].dump()}};
  auto more = score("code", {"```\nprint(sum(map(int, input().split())))\n```", right}, json::object(),
                    {as_string, {{"problem", "no tests"}}});
  EXPECT_EQ(more[0].value(), 1.0);
  EXPECT_FALSE(more[1].has_value());
}

TEST(CodeReward, OutputComparison) {
  // Trailing spaces and newlines are ignored; leading spaces and extra lines are not.
  const json example = stdin_tests("python", {{"", "1\n2\n"}});
  auto scores = score("code",
                      {"```python\nprint('1   ')\nprint('2')\nprint()\n```", "```python\nprint(' 1')\nprint('2')\n```",
                       "```python\nprint(1)\nprint(2)\nprint(3)\n```", "```python\nprint(1)\n```"},
                      json::object(), std::vector<json>(4, example));
  EXPECT_EQ(scores[0].value(), 1.0);
  EXPECT_EQ(scores[1].value(), 0.0);
  EXPECT_EQ(scores[2].value(), 0.0);
  EXPECT_EQ(scores[3].value(), 0.0);
}

TEST(CodeReward, CppCorrectPartlyCorrectAndBroken) {
  {  // the toolchain in the sandbox first, so that a failure below says whether g++ or the reward is at fault
    Sandbox box;
    box.write_file("hello.cpp", "#include <cstdio>\nint main() { std::puts(\"hello\"); }\n");
    SandboxLimits l;
    l.timeout_seconds = 60, l.memory_bytes = int64_t(2048) << 20, l.max_file_bytes = int64_t(256) << 20;
    const std::string binary = (box.dir() / "hello").string();
    SandboxResult built =
        box.run({"/usr/bin/g++", "-O2", "-pipe", "-o", binary, (box.dir() / "hello.cpp").string()}, "", l, true);
    ASSERT_TRUE(built.ok()) << "exit " << built.exit_code << " signal " << built.signal << " timed out "
                            << built.timed_out << " after " << built.wall_seconds << " s: " << built.err;
    SandboxResult ran = box.run({binary}, "", l);
    ASSERT_TRUE(ran.ok()) << "exit " << ran.exit_code << " signal " << ran.signal << ": " << ran.err;
    EXPECT_EQ(ran.out, "hello\n");
  }
  const json example = stdin_tests("cpp", kSumTests);
  const std::string right =
      "```cpp\n#include <cstdio>\nint main() { long a, b; std::scanf(\"%ld %ld\", &a, &b); std::printf(\"%ld\\n\", a + "
      "b); }\n```";
  const std::string half =
      "```c++\n#include <iostream>\nint main() { int a, b; std::cin >> a >> b; std::cout << 2 * a << '\\n'; }\n```";
  const std::string broken = "```cpp\nint main() { return x; }\n```";
  auto scores = score("code", {right, half, broken}, {{"num_parallel", 3}}, {example, example, example});
  EXPECT_EQ(scores[0].value(), 1.0);
  EXPECT_EQ(scores[1].value(), 0.5);
  EXPECT_EQ(scores[2].value(), 0.0);
}

TEST(CodeReward, HostileProgramsStillGetAScore) {
  const json example = stdin_tests("python", {{"1\n", "1\n"}});
  const std::vector<std::string> hostile = {
      "```python\nwhile True:\n    pass\n```",
      "```python\nimport os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n```",
      "```python\nx = bytearray(1 << 32)\nprint(1)\n```",
      "```python\nimport socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)\nprint(1)\n```",
      "```python\nopen('/tmp/r1-code-reward-escape', 'w').write('x')\nprint(1)\n```",
      "```python\nwhile True:\n    print('y' * 10000)\n```",
      "```python\nprint(input())\n```",
  };
  const json params = {{"timeout_seconds", 1}, {"memory_mb", 256}, {"max_output_bytes", 4096}, {"num_parallel", 2}};
  auto start = std::chrono::steady_clock::now();
  auto scores = score("code", hostile, params, std::vector<json>(hostile.size(), example));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i + 1 < hostile.size(); ++i) EXPECT_EQ(scores[i].value(), 0.0) << hostile[i];
  EXPECT_EQ(scores.back().value(), 1.0);
  EXPECT_FALSE(fs::exists("/tmp/r1-code-reward-escape"));
  EXPECT_LT(seconds, 8);
}

}  // namespace
