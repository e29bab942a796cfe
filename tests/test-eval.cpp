// The evaluation suite: pass@k against hand-computed values (c = 0, c = n, k = n, large n), means with
// standard errors and a bootstrap interval that is deterministic under a seed, majority vote that counts
// 1/2, 0.5 and \frac{1}{2} together, the task formats (GPQA shuffled by seed), letter scoring on a toy model
// whose logits are forced, continuation log-likelihood against a direct forward, results JSON round trip,
// and end to end through the CLI: `r1 eval gen --server` and `r1 eval judge` against scripted test-only
// OpenAI stubs (cpp-httplib), the judge's order swap, `r1 eval mc` and `r1 eval compare`.
#include <httplib.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/error.h"
#include "r1/eval.h"
#include "r1/model.h"
#include "r1/tokenizer.h"
#include "r1/verify.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using nlohmann::json;
using r1::eval::SampleOutcome;
using r1::test::read_jsonl;
using r1::test::run_r1;
using r1::test::TempDir;

namespace {

const fs::path kTasks = fs::path(R1_SOURCE_DIR) / "tests/tasks";

bool verified_equal(const std::string& a, const std::string& b) {
  return r1::verify::verify(a, b).verdict == r1::verify::Verdict::kCorrect;
}

json read_json(const fs::path& p) { return json::parse(r1::test::read_bytes(p)); }

}  // namespace

TEST(EvalMetrics, PassAtKMatchesHandComputedValues) {
  using r1::eval::pass_at_k;
  EXPECT_DOUBLE_EQ(pass_at_k(5, 2, 1), 0.4);
  EXPECT_NEAR(pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12);     // 1 - C(3,2)/C(5,2)
  EXPECT_NEAR(pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12);  // 1 - C(7,5)/C(10,5)
  EXPECT_EQ(pass_at_k(8, 0, 4), 0.0);                           // c = 0
  EXPECT_EQ(pass_at_k(8, 8, 4), 1.0);                           // c = n
  EXPECT_EQ(pass_at_k(8, 1, 8), 1.0);                           // k = n: one correct sample is enough
  EXPECT_EQ(pass_at_k(8, 0, 8), 0.0);
  EXPECT_NEAR(pass_at_k(1000, 1, 1), 0.001, 1e-15);
  const double big = pass_at_k(200, 100, 100);  // C(200,100) ~ 9e58: no overflow
  EXPECT_TRUE(std::isfinite(big));
  EXPECT_NEAR(big, 1.0, 1e-12);
  EXPECT_NEAR(pass_at_k(200, 1, 100), 0.5, 1e-12);  // 1 - C(199,100)/C(200,100) = 100/200
  R1_EXPECT_THROW_WITH(pass_at_k(4, 1, 5), r1::UsageError, "1 <= k <= n");
  R1_EXPECT_THROW_WITH(pass_at_k(4, 5, 1), r1::UsageError, "0 <= c <= n");
}

TEST(EvalMetrics, MeanStandardErrorAndSeededBootstrap) {
  const std::vector<double> v = {1, 0, 1, 1, 0, 1, 0, 1, 1, 1};
  r1::eval::BootstrapOptions b{2000, 0.95, 7};
  const auto e = r1::eval::estimate_mean(v, b);
  EXPECT_DOUBLE_EQ(e.value, 0.7);
  EXPECT_NEAR(e.std_error, std::sqrt(0.7 * 0.3 * 10 / 9) / std::sqrt(10.0), 1e-12);  // sample sd / sqrt(n)
  EXPECT_EQ(e.count, 10);
  EXPECT_LT(e.ci_low, 0.7);
  EXPECT_GT(e.ci_high, 0.7);
  EXPECT_GE(e.ci_low, 0.0);
  EXPECT_LE(e.ci_high, 1.0);
  const auto again = r1::eval::estimate_mean(v, b);  // same seed: the same interval, bit for bit
  EXPECT_EQ(again.ci_low, e.ci_low);
  EXPECT_EQ(again.ci_high, e.ci_high);
  bool differs = false;
  for (uint64_t seed = 8; seed < 12 && !differs; ++seed) {
    const auto other = r1::eval::estimate_mean(v, {2000, 0.95, seed});
    differs = other.ci_low != e.ci_low || other.ci_high != e.ci_high;
  }
  EXPECT_TRUE(differs) << "the seed must drive the resampling";
  const auto wide = r1::eval::estimate_mean(v, {2000, 0.99, 7});
  EXPECT_LE(wide.ci_low, e.ci_low);
  EXPECT_GE(wide.ci_high, e.ci_high);
  const auto constant = r1::eval::estimate_mean({0.25, 0.25, 0.25}, b);
  EXPECT_EQ(constant.ci_low, 0.25);
  EXPECT_EQ(constant.ci_high, 0.25);
  EXPECT_EQ(constant.std_error, 0.0);
  EXPECT_TRUE(std::isnan(r1::eval::estimate_mean(v, {0, 0.95, 7}).ci_low));  // no bootstrap asked for
}

TEST(EvalMetrics, MajorityVoteGroupsVerifiedEquivalentAnswers) {
  const std::vector<std::string> answers = {"1/3", "1/3", "\\frac{1}{2}", "", "0.5", "1/2"};
  const auto by_string = r1::eval::majority_vote(answers, [](const auto& a, const auto& b) { return a == b; });
  EXPECT_EQ(by_string.winner, 0);  // "1/3" twice beats three spellings of one half
  EXPECT_EQ(by_string.votes, 2);
  const auto verified = r1::eval::majority_vote(answers, verified_equal);
  EXPECT_EQ(verified.winner, 2);
  EXPECT_EQ(verified.votes, 3);
  EXPECT_EQ(verified.group_of, (std::vector<int64_t>{0, 0, 2, -1, 2, 2}));  // the empty answer does not vote
  const auto tie = r1::eval::majority_vote({"3", "2", "2", "3"}, verified_equal);
  EXPECT_EQ(tie.winner, 0);  // 2 votes each: the group whose first member came first
  EXPECT_EQ(r1::eval::majority_vote({"", ""}, verified_equal).winner, -1);
}

TEST(EvalMetrics, GenerativeMetricsHandComputed) {
  auto s = [](bool c, const char* a) { return SampleOutcome{c, a}; };
  // Problem 1 (gold 1/2): 3 of 5 correct, written three ways; "1/3" is the most frequent string (2), but the
  // verified majority (3 votes for one half) is correct. Problem 2: none correct.
  const std::vector<std::vector<SampleOutcome>> outcomes = {
      {s(false, "1/3"), s(true, "0.5"), s(false, "1/3"), s(true, "\\frac{1}{2}"), s(true, "1/2")},
      {s(false, "7"), s(false, ""), s(false, "8"), s(false, "7"), s(false, "9")}};
  const auto metrics = r1::eval::generative_metrics(outcomes, {1, 2, 5}, verified_equal, {500, 0.95, 1});
  std::map<std::string, r1::eval::Estimate> m;
  for (const auto& x : metrics) m[x.name] = x.estimate;
  ASSERT_EQ(m.size(), 5u);  // pass@1, pass@2, pass@5, maj@2, maj@5
  EXPECT_DOUBLE_EQ(m["pass@1"].value, 0.3);
  EXPECT_NEAR(m["pass@1"].std_error, 0.3, 1e-12);               // values {0.6, 0}: sd 0.4243 / sqrt(2)
  EXPECT_NEAR(m["pass@2"].value, (1 - 1.0 / 10.0) / 2, 1e-12);  // 1 - C(2,2)/C(5,2)
  EXPECT_DOUBLE_EQ(m["pass@5"].value, 0.5);
  EXPECT_DOUBLE_EQ(m["maj@2"].value, 0.0);  // "1/3" vs 0.5: a tie, the earlier "1/3" wins
  EXPECT_DOUBLE_EQ(m["maj@5"].value, 0.5);  // one half, 3 votes
  const auto by_string =
      r1::eval::generative_metrics(outcomes, {5}, [](const auto& a, const auto& b) { return a == b; }, {0, 0.95, 1});
  EXPECT_DOUBLE_EQ(by_string.back().estimate.value, 0.0);  // string voting would have picked "1/3"
  R1_EXPECT_THROW_WITH(r1::eval::generative_metrics(outcomes, {6}, verified_equal, {}), r1::UsageError, "k = 6");
}

TEST(EvalTasks, OpenR1PromptFunctionsAndColumnDetection) {
  const auto math = r1::eval::load_task(kTasks / "math.jsonl", {});
  EXPECT_EQ(math.type, r1::eval::TaskType::kMath);
  ASSERT_EQ(math.problems.size(), 3u);
  EXPECT_EQ(math.problems[0].prompt.rfind("Solve the following math problem efficiently and clearly.", 0), 0u);
  EXPECT_NE(math.problems[0].prompt.find("'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct'"),
            std::string::npos);
  EXPECT_NE(math.problems[1].prompt.find("\n\nCompute $3 \\times 7$."), std::string::npos);
  EXPECT_EQ(r1::verify::verify(math.problems[0].gold, "so \\boxed{0.5}").verdict, r1::verify::Verdict::kCorrect);
  const auto aime = r1::eval::load_task(kTasks / "aime.jsonl", {});
  EXPECT_EQ(aime.type, r1::eval::TaskType::kAime);
  EXPECT_EQ(aime.problems[1].gold, "24");  // an integer column
  const auto generic = r1::eval::load_task(kTasks / "generic.jsonl", {});
  EXPECT_EQ(generic.type, r1::eval::TaskType::kGeneric);
  EXPECT_EQ(generic.problems[0].prompt, "What is half of one?");
  r1::eval::TaskOptions custom;
  custom.prompt_template = "Q: {{ problem }}";
  custom.limit = 1;
  const auto templated = r1::eval::load_task(kTasks / "aime.jsonl", custom);
  ASSERT_EQ(templated.problems.size(), 1u);
  EXPECT_EQ(templated.problems[0].prompt, "Q: Find the remainder when $7^{100}$ is divided by $10$.");
  TempDir dir;
  r1::test::write_bytes(dir / "bad.jsonl", "{\"problem\": \"x\", \"solution\": \"1\"}\n{\"problem\": \"y\"}\n");
  R1_EXPECT_THROW_WITH(r1::eval::load_task(dir / "bad.jsonl", {}), r1::Error, "bad.jsonl:2: no column 'solution'");
}

TEST(EvalTasks, GpqaShuffledBySeedWithTheLetterInstruction) {
  r1::eval::TaskOptions o;
  o.seed = 1;
  const auto a = r1::eval::load_task(kTasks / "gpqa.jsonl", o);
  EXPECT_EQ(a.type, r1::eval::TaskType::kGpqa);
  ASSERT_EQ(a.problems.size(), 4u);
  const char* correct[] = {"The photon", "-1", "Mitochondrion", "Weber"};
  for (size_t i = 0; i < 4; ++i) {
    const auto& p = a.problems[i];
    ASSERT_EQ(p.choices.size(), 4u);
    EXPECT_EQ(p.choices[size_t(p.gold[0] - 'A')], correct[i]);
    EXPECT_NE(p.prompt.find("'Answer: $LETTER' (without quotes) where LETTER is one of ABCD."), std::string::npos);
    EXPECT_NE(p.prompt.find(std::string("\n") + p.gold + ") " + correct[i]), std::string::npos) << p.prompt;
  }
  EXPECT_EQ(r1::eval::load_task(kTasks / "gpqa.jsonl", o).problems[2].gold, a.problems[2].gold);  // same seed
  bool moved = false;
  for (uint64_t seed = 2; seed < 10 && !moved; ++seed) {
    o.seed = seed;
    const auto b = r1::eval::load_task(kTasks / "gpqa.jsonl", o);
    for (size_t i = 0; i < 4; ++i) moved = moved || b.problems[i].gold != a.problems[i].gold;
  }
  EXPECT_TRUE(moved);
}

TEST(EvalTasks, ChoiceQuestionsInMmluAndCevalColumns) {
  const auto mmlu = r1::eval::load_choice_questions(kTasks / "mmlu.jsonl");
  ASSERT_EQ(mmlu.size(), 3u);
  EXPECT_EQ(mmlu[1].answer, 2);
  const auto ceval = r1::eval::load_choice_questions(kTasks / "ceval.jsonl");
  ASSERT_EQ(ceval.size(), 2u);
  EXPECT_EQ(ceval[1].choices, (std::vector<std::string>{"2", "3", "4", "5"}));
  EXPECT_EQ(ceval[1].answer, 3);
  const auto dev = r1::eval::load_choice_questions(kTasks / "mmlu-dev.jsonl");
  EXPECT_EQ(r1::eval::choice_prompt({dev[0]}, mmlu[0]),
            "The following are multiple choice questions (with answers) about elementary mathematics.\n\n"
            "What is 1 + 1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
            "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:");
}

namespace {

r1::model::ModelConfig tiny_config(int64_t vocab) {
  return r1::model::ModelConfig::parse(
      R"({"model_type": "llama", "vocab_size": )" + std::to_string(vocab) +
          R"(, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "max_position_embeddings": 512, "initializer_range": 0.3,
          "tie_word_embeddings": false})",
      "tiny");
}

const fs::path kTokenizer = fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe";

// A model whose logits at every position depend only on that position's token: attention and MLP outputs are
// zeroed, so the last hidden state is RMSNorm(embedding(token)); `last` embeds as e_0, and the LM head maps
// e_0 to a large logit for `favoured` only.
r1::model::Transformer forced_model(int64_t vocab, int64_t last, int64_t favoured) {
  torch::manual_seed(5);
  r1::model::Transformer m(tiny_config(vocab));
  m->init_weights();
  torch::NoGradGuard no_grad;
  for (auto& p : m->named_parameters()) {
    const std::string& name = p.key();
    if (name.find("o_proj") != std::string::npos || name.find("down_proj") != std::string::npos) p.value().zero_();
    if (name == "model.embed_tokens.weight") {
      p.value()[last].zero_();
      p.value()[last][0] = 1.0;
    }
    if (name == "lm_head.weight") {
      p.value().zero_();
      p.value()[favoured][0] = 2.0;
    }
  }
  return m;
}

}  // namespace

TEST(EvalChoice, LetterScoringOnAModelWithForcedLogits) {
  const auto tok = r1::tokenizer::Tokenizer::load(kTokenizer);
  const auto questions = r1::eval::load_choice_questions(kTasks / "mmlu.jsonl");  // gold: B, C, A
  const auto prompt_ids = tok.encode(r1::eval::choice_prompt({}, questions[0]), true);
  const int64_t last = prompt_ids.back();  // every prompt ends in "Answer:"
  const int64_t letter_c = tok.encode(" C", false).at(0);
  auto model = forced_model(int64_t(tok.vocab_size()), last, letter_c);
  r1::eval::ChoiceEvalOptions o;
  o.batch_size = 2;
  std::vector<r1::eval::ChoiceRecord> recs;
  const auto r = r1::eval::evaluate_choices(*model, tok, questions, {}, o, &recs);
  ASSERT_EQ(recs.size(), 3u);
  for (const auto& rec : recs) {
    ASSERT_EQ(rec.letter_logprobs.size(), 4u);
    EXPECT_EQ(std::max_element(rec.letter_logprobs.begin(), rec.letter_logprobs.end()) - rec.letter_logprobs.begin(),
              2);
    // exp(logit) ratio: C's logit is 2 * sqrt(32) (RMSNorm of e_0) above the others'
    EXPECT_NEAR(rec.letter_logprobs[2] - rec.letter_logprobs[0], 2.0 * std::sqrt(32.0), 1e-3);
  }
  EXPECT_NEAR(r.find("acc")->estimate.value, 1.0 / 3.0, 1e-12);  // only question 2's gold is C
  // Forcing " B" instead: question 1 alone is right.
  const int64_t letter_b = tok.encode(" B", false).at(0);
  auto model_b = forced_model(int64_t(tok.vocab_size()), last, letter_b);
  EXPECT_NEAR(r1::eval::evaluate_choices(*model_b, tok, questions, {}, o).find("acc")->estimate.value, 1.0 / 3.0,
              1e-12);
  EXPECT_EQ(r1::eval::evaluate_choices(*model_b, tok, {questions[0]}, {}, o).find("acc")->estimate.value, 1.0);
}

TEST(EvalChoice, ContinuationLogLikelihoodEqualsADirectForward) {
  torch::manual_seed(11);
  r1::model::Transformer m(tiny_config(300));
  m->init_weights();
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> pairs = {
      {{5, 9, 13, 2}, {7, 8}}, {{4}, {100, 101, 102}}, {{1, 2, 3, 4, 5, 6, 7}, {9}}};
  const auto got = r1::eval::continuation_logprobs(*m, pairs, 2);  // batches of different lengths, padded
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < pairs.size(); ++i) {
    std::vector<int64_t> all = pairs[i].first;
    all.insert(all.end(), pairs[i].second.begin(), pairs[i].second.end());
    auto logp = torch::log_softmax(m->forward(torch::tensor(all).unsqueeze(0)), -1)[0];  // (T, V)
    double want = 0;
    for (size_t t = pairs[i].first.size(); t < all.size(); ++t) want += logp[int64_t(t) - 1][all[t]].item<double>();
    EXPECT_NEAR(got[i], want, 1e-4) << i;
  }
  const auto next = r1::eval::next_token_logprobs(*m, {pairs[0].first, pairs[2].first}, {7, 9}, 1);
  auto logp = torch::log_softmax(m->forward(torch::tensor(pairs[0].first).unsqueeze(0)), -1)[0][3];
  EXPECT_NEAR(next[0][0], logp[7].item<double>(), 1e-5);
  EXPECT_NEAR(next[0][1], logp[9].item<double>(), 1e-5);
}

TEST(EvalReport, ResultsJsonRoundTripAndComparison) {
  r1::eval::Results r;
  r.kind = "generative";
  r.task = "tasks/aime.jsonl";
  r.model = "m";
  r.config = {{"temperature", "0.6"}};
  r.counts = {{"problems", 30}};
  r.metrics = {{"pass@1", r1::eval::estimate_mean({1, 0, 0, 1}, {100, 0.9, 3})},
               {"maj@4", r1::eval::estimate_mean({1, 1, 0, 1}, {0, 0.95, 3})}};
  const auto back = r1::eval::results_from_json(r1::eval::results_to_json(r), "x.json");
  EXPECT_EQ(back.kind, "generative");
  EXPECT_EQ(back.counts, r.counts);
  ASSERT_EQ(back.metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(back.find("pass@1")->estimate.value, 0.5);
  EXPECT_DOUBLE_EQ(back.find("pass@1")->estimate.ci_low, r.metrics[0].estimate.ci_low);
  EXPECT_TRUE(std::isnan(back.find("maj@4")->estimate.ci_low));  // written as null
  const std::string md = r1::eval::results_markdown(r);
  EXPECT_NE(md.find("| aime.jsonl | pass@1 | 0.5000 | 0.2887 |"), std::string::npos) << md;
  r1::eval::Results other = r;
  other.metrics = {{"pass@1", r1::eval::estimate_mean({1, 1, 1, 0}, {0, 0.95, 3})}};
  const std::string cmp = r1::eval::compare_markdown(r, other, "a", "b");
  EXPECT_NE(cmp.find("| pass@1 | 0.5000 ± 0.2887 | 0.7500 ± 0.2500 | +0.2500 ± 0.3819 |"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("| maj@4 | 0.7500 ± 0.2500 | - | - |"), std::string::npos) << cmp;
  R1_EXPECT_THROW_WITH(r1::eval::results_from_json("[1]", "y.json"), r1::Error, "y.json",
                       "not an r1 eval results file");
}

TEST(EvalJudge, VerdictAndRatingParsing) {
  using r1::eval::PairVerdict;
  EXPECT_EQ(r1::eval::parse_pair_verdict("B is weak. [[A]]"), PairVerdict::kFirst);
  EXPECT_EQ(r1::eval::parse_pair_verdict("maybe [[A]]... final: [[B]]"), PairVerdict::kSecond);
  EXPECT_EQ(r1::eval::parse_pair_verdict("[[C]]"), PairVerdict::kTie);
  EXPECT_EQ(r1::eval::parse_pair_verdict("A is better"), PairVerdict::kInvalid);
  EXPECT_EQ(r1::eval::parse_rating("Good. Rating: [[8]]"), 8.0);
  EXPECT_EQ(r1::eval::parse_rating("Rating: 7.5"), 7.5);
  EXPECT_FALSE(r1::eval::parse_rating("Rating: [[11]]"));
  EXPECT_FALSE(r1::eval::parse_rating("no score"));
}

namespace {

// A scripted judge: prefers the answer that contains "good" (whichever position it is in); when neither or
// both do, it always says "[[A]]" (pure position bias, which the order swap must expose). Single grading:
// "[[9]]" for a good answer, "[[3]]" otherwise, and no rating at all for an answer containing "mute".
struct StubJudge {
  httplib::Server server;
  std::mutex mutex;
  std::vector<json> requests;
  int port = 0;
  std::thread thread;
  StubJudge() {
    server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      json body = json::parse(req.body);
      const std::string user = body["messages"][1]["content"];
      std::string reply;
      if (user.find("[The Start of Assistant A's Answer]") != std::string::npos) {
        const size_t b_at = user.find("[The Start of Assistant B's Answer]");
        const bool a_good = user.substr(0, b_at).find("good") != std::string::npos;
        const bool b_good = user.substr(b_at).find("good") != std::string::npos;
        reply = a_good && !b_good ? "A is better. [[A]]" : b_good && !a_good ? "B is better. [[B]]" : "[[A]]";
      } else {
        reply = user.find("mute") != std::string::npos   ? "no opinion"
                : user.find("good") != std::string::npos ? "Rating: [[9]]"
                                                         : "Rating: [[3]]";
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        requests.push_back(body);
      }
      json choice = {{"index", 0}, {"message", {{"role", "assistant"}, {"content", reply}}}, {"finish_reason", "stop"}};
      res.set_content(json{{"choices", json::array({choice})}}.dump(), "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~StubJudge() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

void write_answers(const fs::path& p, const std::vector<std::string>& answers) {
  std::ofstream out(p);
  for (size_t i = 0; i < answers.size(); ++i)
    out << json{{"prompt", "question " + std::to_string(i)}, {"generation", answers[i]}}.dump() << "\n";
}

}  // namespace

TEST(EvalJudge, PairwiseJudgesBothOrdersAndCountsInconsistency) {
  TempDir dir;
  // Pairs: A good (win), A good (win), B good (loss), neither (position bias -> inconsistent -> tie).
  write_answers(dir / "a.jsonl", {"a good answer", "good", "meh", "meh"});
  write_answers(dir / "b.jsonl", {"poor", "bad", "good stuff", "also meh"});
  StubJudge stub;
  auto r = run_r1("eval judge --server " + stub.url() + " --judge-model judge --answers-a " +
                  (dir / "a.jsonl").string() + " --answers-b " + (dir / "b.jsonl").string() + " --output-dir " +
                  (dir / "out").string() + " --concurrency 3 --seed 3");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(stub.requests.size(), 8u);  // every pair in both orders
  for (const json& body : stub.requests) {
    EXPECT_EQ(body["model"], "judge");
    EXPECT_EQ(body["temperature"], 0.0);
    EXPECT_NE(body["messages"][0]["content"].get<std::string>().find("[[A]]"), std::string::npos);
  }
  for (int i = 0; i < 4; ++i) {  // question i was sent once with a.jsonl's answer first, once with b.jsonl's
    int ab = 0, ba = 0;
    for (const json& body : stub.requests) {
      const std::string user = body["messages"][1]["content"];
      if (user.find("question " + std::to_string(i) + "\n") == std::string::npos) continue;
      const std::string a = read_jsonl(dir / "a.jsonl")[size_t(i)]["generation"];
      (user.find("Answer]\n" + a + "\n[The End of Assistant A's") != std::string::npos ? ab : ba)++;
    }
    EXPECT_EQ(ab, 1) << i;
    EXPECT_EQ(ba, 1) << i;
  }
  const json res = read_json(dir / "out/results.json");
  EXPECT_EQ(res["kind"], "judge_pairwise");
  EXPECT_EQ(res["counts"]["wins"], 2);
  EXPECT_EQ(res["counts"]["losses"], 1);
  EXPECT_EQ(res["counts"]["ties"], 1);
  EXPECT_EQ(res["counts"]["inconsistent"], 1);
  EXPECT_DOUBLE_EQ(res["metrics"]["win_rate"]["value"].get<double>(), (2 + 0.5) / 4);
  EXPECT_DOUBLE_EQ(res["metrics"]["order_inconsistency"]["value"].get<double>(), 0.25);
  const auto judgments = read_jsonl(dir / "out/judgments.jsonl");
  ASSERT_EQ(judgments.size(), 4u);
  EXPECT_EQ(judgments[2]["verdict_ab"], "B");
  EXPECT_EQ(judgments[2]["verdict_ba"], "A");
  EXPECT_EQ(judgments[2]["outcome"], "loss");
  EXPECT_EQ(judgments[3]["consistent"], false);
  EXPECT_EQ(judgments[3]["outcome"], "tie");
  // Results are not overwritten without --overwrite.
  r = run_r1("eval judge --server " + stub.url() + " --answers-a " + (dir / "a.jsonl").string() + " --answers-b " +
             (dir / "b.jsonl").string() + " --output-dir " + (dir / "out").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;

  write_answers(dir / "s.jsonl", {"good", "bad", "mute"});
  r = run_r1("eval judge --single --server " + stub.url() + " --answers-a " + (dir / "s.jsonl").string() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const json single = json::parse(r.output);
  EXPECT_DOUBLE_EQ(single["metrics"]["score"]["value"].get<double>(), 6.0);  // (9 + 3) / 2
  EXPECT_EQ(single["counts"]["invalid"], 1);
}

namespace {

// A scripted model for `r1 eval gen --server`: answers for each question, by its text, n choices in order.
struct StubModel {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::map<std::string, std::vector<std::string>> answers;
  StubModel() {
    server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      json body = json::parse(req.body);
      const std::string prompt = body["messages"].back()["content"];
      json choices = json::array();
      for (const auto& [key, texts] : answers)
        if (prompt.find(key) != std::string::npos)
          for (int k = 0; k < body["n"].get<int>(); ++k)
            choices.push_back({{"index", k},
                               {"message", {{"role", "assistant"}, {"content", texts[size_t(k) % texts.size()]}}},
                               {"finish_reason", "stop"}});
      res.set_content(json{{"choices", choices}}.dump(), "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~StubModel() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

}  // namespace

TEST(EvalGenerate, ServerRunScoresVerifiedAnswersAndVotes) {
  TempDir dir;
  StubModel stub;
  // Gold 1/2: 3 of 4 correct in three spellings, maj correct. Gold 42: 1 of 4, the majority (41) wrong.
  stub.answers["half of one"] = {"It is \\boxed{1/3}.", "\\boxed{0.5}", "So \\boxed{\\frac{1}{2}}",
                                 "The answer is 1/2"};
  stub.answers["6 * 7"] = {"\\boxed{41}", "\\boxed{42}", "\\boxed{41}", "no idea"};
  auto r = run_r1("eval gen --server " + stub.url() + " --task " + (kTasks / "generic.jsonl").string() +
                  " -n 4 --pass-at 1,2,4 --output-dir " + (dir / "out").string() + " --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| generative | metric | value | stderr | 95% CI |"), std::string::npos) << r.output;
  const json res = read_json(dir / "out/results.json");
  EXPECT_DOUBLE_EQ(res["metrics"]["pass@1"]["value"].get<double>(), (0.75 + 0.25) / 2);
  EXPECT_NEAR(res["metrics"]["pass@2"]["value"].get<double>(), (1.0 + 0.5) / 2, 1e-12);  // 1 - C(3,2)/C(4,2) = 0.5
  EXPECT_DOUBLE_EQ(res["metrics"]["pass@4"]["value"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(res["metrics"]["maj@4"]["value"].get<double>(), 0.5);
  EXPECT_EQ(res["config"]["temperature"], "0.6");
  EXPECT_EQ(res["config"]["top_p"], "0.95");
  EXPECT_EQ(res["counts"]["no_answer"], 1);  // "no idea"
  const auto samples = read_jsonl(dir / "out/samples.jsonl");
  ASSERT_EQ(samples.size(), 8u);
  EXPECT_EQ(samples[1]["verdict"], "correct");
  EXPECT_EQ(samples[0]["verdict"], "wrong");
  EXPECT_EQ(samples[4]["answer"], "41");

  // The same run again gives the same numbers (intervals included); compare shows them side by side.
  r = run_r1("eval gen --server " + stub.url() + " --task " + (kTasks / "generic.jsonl").string() +
             " -n 4 --pass-at 1,2,4 --output-dir " + (dir / "again").string() + " --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_json(dir / "again/results.json")["metrics"], res["metrics"]);
  r = run_r1("eval compare " + (dir / "out/results.json").string() + " " + (dir / "again/results.json").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| maj@4 | 0.5000 ± 0.5000 | 0.5000 ± 0.5000 | +0.0000 ± 0.7071 |"), std::string::npos)
      << r.output;

  // GPQA through the same path: letters, not math.
  stub.answers.clear();
  for (const char* q : {"electromagnetic", "oxidation", "organelle", "magnetic flux"}) stub.answers[q] = {"Answer: A"};
  r = run_r1("eval gen --server " + stub.url() + " --task " + (kTasks / "gpqa.jsonl").string() +
             " -n 1 --json --quiet --seed 1");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto gpqa = r1::eval::load_task(kTasks / "gpqa.jsonl", {.seed = 1});
  double expected = 0;
  for (const auto& p : gpqa.problems) expected += p.gold == "A" ? 0.25 : 0.0;
  EXPECT_DOUBLE_EQ(json::parse(r.output)["metrics"]["pass@1"]["value"].get<double>(), expected);
}

TEST(EvalGenerate, LocalModelEndToEndAndMultipleChoiceCli) {
  TempDir dir;
  torch::manual_seed(3);
  const auto tok = r1::tokenizer::Tokenizer::load(kTokenizer);
  r1::model::Transformer m(tiny_config(int64_t(tok.vocab_size())));
  m->init_weights();
  r1::model::save_pretrained(*m, dir / "model");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(kTokenizer / f, dir / "model" / f);
  const std::string model = (dir / "model").string();
  auto r = run_r1("eval gen --model " + model + " --task " + (kTasks / "math.jsonl").string() +
                  " -n 3 --max-new-tokens 6 --chat-template none --output-dir " + (dir / "gen").string() + " --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  const json res = read_json(dir / "gen/results.json");
  for (const char* metric : {"pass@1", "pass@2", "pass@3", "maj@2", "maj@3"})
    EXPECT_TRUE(res["metrics"].contains(metric)) << metric;
  EXPECT_EQ(res["counts"]["samples"], 9);
  EXPECT_EQ(read_jsonl(dir / "gen/samples.jsonl").size(), 9u);

  r = run_r1("eval mc --model " + model + " --task " + (kTasks / "mmlu.jsonl").string() + " --dev " +
             (kTasks / "mmlu-dev.jsonl").string() + " --num-fewshot 2 --output-dir " + (dir / "mc").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const json mc = read_json(dir / "mc/results.json");
  EXPECT_EQ(mc["counts"]["num_fewshot"], 2);
  for (const char* metric : {"acc", "acc_ll", "acc_ll_norm"}) EXPECT_TRUE(mc["metrics"].contains(metric)) << metric;
  const auto questions = read_jsonl(dir / "mc/questions.jsonl");
  ASSERT_EQ(questions.size(), 3u);
  EXPECT_EQ(questions[0]["letter_logprobs"].size(), 4u);
  r = run_r1("eval mc --model " + model + " --task " + (kTasks / "mmlu.jsonl").string() + " --num-fewshot 2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--dev"), std::string::npos) << r.output;
}
