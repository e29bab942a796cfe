// Rejection sampling (r1/rejection-sample.h): the selection on hand-made sample rows — correctness by reward
// thresholds, R1's filters (language, paragraph length, code blocks), exact and near duplicates, the keep
// policies and the cap, pass rates and their histogram, the pass-rate filter — and `r1 rejection-sample` end to
// end against a test-only OpenAI stub that answers with reasoning_content: SFT-ready rows, a resumed run that
// samples nothing again, and usage errors that name the option.
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/error.h"
#include "r1/rejection-sample.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using r1::pipeline::KeepPolicy;
using r1::pipeline::RejectionSampleOptions;
using r1::pipeline::RejectionSampleReport;

namespace {

Json sample_row(const std::string& question, const std::string& solution, const std::vector<std::string>& responses) {
  return {{"problem", question},
          {"solution", solution},
          {"__prompt", Json::array({{{"role", "user"}, {"content", question}}})},
          {"__completions", responses}};
}

const std::string kThought =
    "Two plus three: count on from two, then three, four, five. Checking again by counting the fingers of one hand "
    "gives the same total, so the sum is five and nothing else.";
const std::string kRight = "<think>\n" + kThought + "\n</think>\nSo $\\boxed{5}$.";
const std::string kLong = "<think>\n" + std::string(3000, 'a') + "\n</think>\n$\\boxed{5}$";

std::vector<Json> rows() {
  return {
      sample_row("What is 2 + 3?", "5",
                 {
                     kRight,                                                                     // kept
                     "  " + kRight + "\n",                                                       // exact duplicate
                     "<think>\n" + kThought + "\n</think>\nSo $\\boxed{5}$ .",                   // a near duplicate
                     "<think>\nTwo and three make six.\n</think>\n$\\boxed{6}$",                 // wrong
                     "<think>\nIn code:\n```python\nprint(2 + 3)\n```\n</think>\n$\\boxed{5}$",  // code block
                     kLong,                                                                      // long paragraph
                     "<think>\n二加三等于五，我们把它们加起来。\n</think>\n$\\boxed{5}$",        // not English
                     "Start from 3 and add 2 more.\n</think>\n$\\boxed{5}$",  // the prompt opened <think>
                 }),
      sample_row("What is 3 + 4?", "7", {"$\\boxed{8}$", "$\\boxed{6}$"}),
      sample_row("What is 0 + 1?", "1",
                 {"$\\boxed{2}$", "First try.\n$\\boxed{1}$", "Second, other words.\n$\\boxed{1}$"}),
  };
}

RejectionSampleOptions filtering() {
  RejectionSampleOptions o;
  o.reward_funcs = {"accuracy"};
  o.filters.language = "en";
  o.filters.max_paragraph_chars = 1000;
  o.filters.no_code_blocks = true;
  o.pass_rate_min = 0.01;
  o.pass_rate_max = 0.99;
  return o;
}

TEST(RejectionSample, SelectionFiltersAndPassRates) {
  RejectionSampleReport report;
  std::vector<Json> pass_rows;
  const std::vector<Json> kept = r1::pipeline::select_samples(rows(), filtering(), report, &pass_rows);
  EXPECT_EQ(report.prompts, 3);
  EXPECT_EQ(report.samples, 13);
  EXPECT_EQ(report.correct, 9);  // 7 of the first prompt's, none of the second's, 2 of the third's
  EXPECT_EQ(report.dropped,
            (std::map<std::string, int64_t>{{"code", 1}, {"duplicate", 2}, {"language", 1}, {"paragraph", 1}}));
  ASSERT_EQ(report.kept, 4);
  ASSERT_EQ(kept.size(), 4u);
  // The first prompt keeps the plain right answer and the one whose <think> the prompt opened (tag restored).
  EXPECT_EQ(kept[0]["messages"], Json::array({{{"role", "user"}, {"content", "What is 2 + 3?"}},
                                              {{"role", "assistant"}, {"content", kRight}}}));
  EXPECT_EQ(kept[0]["sample_index"], 0);
  EXPECT_DOUBLE_EQ(kept[0]["pass_rate"].get<double>(), 7.0 / 8.0);
  EXPECT_EQ(kept[0]["rewards"]["accuracy"], 1.0);
  EXPECT_EQ(kept[0]["source_row"], Json({{"problem", "What is 2 + 3?"}, {"solution", "5"}}));
  EXPECT_EQ(kept[1]["messages"][1]["content"], "<think>\nStart from 3 and add 2 more.\n</think>\n$\\boxed{5}$");
  EXPECT_EQ(kept[1]["sample_index"], 7);
  EXPECT_EQ(kept[2]["sample_index"], 1);
  EXPECT_EQ(kept[3]["sample_index"], 2);
  EXPECT_EQ(report.prompts_with_kept, 2);
  // Pass rates 7/8, 0, 2/3: bins (.8, .9], 0, (.6, .7].
  std::vector<int64_t> histogram(11, 0);
  histogram[9] = 1;
  histogram[0] = 1;
  histogram[7] = 1;
  EXPECT_EQ(report.pass_rate_histogram, histogram);
  // Pass rate in [0.01, 0.99]: the first and third prompts, as they came in.
  ASSERT_EQ(pass_rows.size(), 2u);
  EXPECT_EQ(pass_rows[1], Json({{"problem", "What is 0 + 1?"}, {"solution", "1"}}));
  EXPECT_EQ(report.pass_rate_prompts, 2);
}

// --language row: each prompt's chain of thought is held to the prompt's own `language` column.
TEST(RejectionSample, LanguageOfEachRow) {
  const std::string english = "<think>\n7 + 8 = 15, write 5 carry 1\n</think>\n$\\boxed{15}$";
  const std::string chinese = "<think>\n7 + 8 = 15，写 5 进 1\n</think>\n$\\boxed{15}$";
  std::vector<Json> rows = {sample_row("What is 7 + 8?", "15", {english, chinese}),
                            sample_row("7 加 8 等于多少？", "15", {english, chinese})};
  rows[0]["language"] = "en";
  rows[1]["language"] = "zh";
  RejectionSampleOptions o;
  o.filters.language = "row";
  RejectionSampleReport report;
  std::vector<Json> kept = r1::pipeline::select_samples(rows, o, report);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["messages"][1]["content"], english);
  EXPECT_EQ(kept[1]["messages"][1]["content"], chinese);
  EXPECT_EQ(kept[1]["rewards"]["language_consistency"], 1.0);
  EXPECT_EQ(report.dropped, (std::map<std::string, int64_t>{{"language", 2}}));
  // A row without the column is an error that names the reward and the column.
  rows[1].erase("language");
  try {
    r1::pipeline::select_samples(rows, o, report);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'language' column"), std::string::npos) << e.what();
  }
}

TEST(RejectionSample, KeepPoliciesCapAndThresholds) {
  RejectionSampleOptions o = filtering();
  o.keep = KeepPolicy::kFirst;
  RejectionSampleReport report;
  std::vector<Json> kept = r1::pipeline::select_samples(rows(), o, report);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["sample_index"], 0);
  EXPECT_EQ(kept[1]["sample_index"], 1);
  EXPECT_EQ(report.dropped.at("cap"), 2);

  // best: the highest weighted total; with accuracy and a length reward the shorter right answer wins.
  o.keep = KeepPolicy::kBest;
  o.reward_funcs = {"accuracy", "cosine"};
  o.reward_kwargs = {{"cosine", {{"cosine_max_len", 200}}}};
  o.thresholds = {{"cosine", -1.0}};
  kept = r1::pipeline::select_samples(rows(), o, report);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1]["sample_index"], 1);  // "First try." is the shorter of the third prompt's right answers
  EXPECT_TRUE(kept[1]["rewards"].contains("cosine"));

  // The cap, without duplicate removal: the first prompt's exact duplicate comes back, then the cap cuts.
  o = filtering();
  o.filters.deduplicate = false;
  o.max_per_prompt = 3;
  kept = r1::pipeline::select_samples(rows(), o, report);
  EXPECT_EQ(kept.size(), 3u + 2u);
  EXPECT_EQ(report.dropped.at("cap"), 1);  // 4 pass the filters for the first prompt

  // A threshold no response meets keeps nothing; the pass-rate histogram then has every prompt at 0.
  o = filtering();
  o.thresholds = {{"accuracy", 2.0}};
  kept = r1::pipeline::select_samples(rows(), o, report);
  EXPECT_TRUE(kept.empty());
  EXPECT_EQ(report.pass_rate_histogram[0], 3);

  o = filtering();
  o.thresholds = {{"format", 1.0}};
  R1_EXPECT_THROW_WITH(r1::pipeline::select_samples(rows(), o, report), r1::UsageError, "--threshold format",
                       "not one of --reward-funcs");
  R1_EXPECT_THROW_WITH(r1::pipeline::parse_keep_policy("most"), r1::UsageError, "--keep", "all-correct");
}

// End to end: the stub answers each prompt with n responses, the chain of thought apart (reasoning_content), the
// first right, the second wrong.
TEST(RejectionSample, CommandAgainstAReasoningServer) {
  r1::test::TempDir dir;
  r1::test::write_bytes(dir / "in.jsonl",
                        "{\"problem\": \"What is 2 + 3?\", \"solution\": \"5\"}\n"
                        "{\"problem\": \"What is 1 + 1?\", \"solution\": \"2\"}\n"
                        "{\"problem\": \"What is 4 + 4?\", \"solution\": \"8\"}\n");
  httplib::Server server;
  std::mutex mutex;
  int calls = 0;
  server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex);
    ++calls;
    const Json body = Json::parse(req.body);
    const std::string q = body["messages"].back()["content"];
    const std::string right = q == "What is 2 + 3?" ? "5" : q == "What is 1 + 1?" ? "2" : "9";  // the third: wrong
    Json choices = Json::array();
    for (int k = 0; k < body["n"].get<int>(); ++k)
      choices.push_back({{"index", k},
                         {"message",
                          {{"role", "assistant"},
                           {"reasoning_content", "Adding the two numbers, try " + std::to_string(k) + "."},
                           {"content", k == 0 ? "$\\boxed{" + right + "}$" : "$\\boxed{0}$"}}},
                         {"finish_reason", "stop"}});
    res.set_content(Json{{"choices", choices}}.dump(), "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  const std::string base = "rejection-sample --server http://127.0.0.1:" + std::to_string(port) + " --input " +
                           (dir / "in.jsonl").string() + " --prompt-column problem -n 2 --quiet --output " +
                           (dir / "sft.jsonl").string() + " --pass-rate-output " + (dir / "rl.jsonl").string() +
                           " --pass-rate-max 0.5";
  auto first = r1::test::run_r1(base);
  const int calls_after_first = calls;
  auto again = r1::test::run_r1(base);  // the outputs exist: refused, nothing sampled
  auto resumed = r1::test::run_r1(base + " --resume --max-per-prompt 1");
  auto bad_reward = r1::test::run_r1(base + " --overwrite --reward-funcs accuracy,nonesuch");
  auto bad_threshold = r1::test::run_r1(base + " --overwrite --threshold accuracy");
  server.stop();
  thread.join();
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("3 prompts, 6 samples, 2 correct, 2 kept for 2 prompts"), std::string::npos)
      << first.output;
  EXPECT_EQ(calls_after_first, 3);
  const auto kept = r1::test::read_jsonl(dir / "sft.jsonl");
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["messages"][1]["content"],
            "<think>\nAdding the two numbers, try 0.\n</think>\n\n$\\boxed{5}$");  // the reasoning inside the tags
  EXPECT_EQ(kept[1]["source_row"]["problem"], "What is 1 + 1?");
  const auto samples = r1::test::read_jsonl(dir / "sft.samples.jsonl");
  EXPECT_EQ(samples.size(), 3u);
  const auto rl = r1::test::read_jsonl(dir / "rl.jsonl");  // pass rates 0.5, 0.5, 0: all in [0, 0.5]
  EXPECT_EQ(rl.size(), 3u);
  EXPECT_EQ(again.status, 2) << again.output;
  EXPECT_NE(again.output.find("exists: pass --resume"), std::string::npos) << again.output;
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(calls, calls_after_first);  // every prompt was sampled already
  EXPECT_EQ(bad_reward.status, 2) << bad_reward.output;
  EXPECT_NE(bad_reward.output.find("unknown reward 'nonesuch'"), std::string::npos) << bad_reward.output;
  EXPECT_EQ(bad_threshold.status, 2) << bad_threshold.output;
  EXPECT_NE(bad_threshold.output.find("--threshold: expected NAME=VALUE"), std::string::npos) << bad_threshold.output;
}

}  // namespace
